"""The model with an objective's integrals added as rate-rule states (compiled once, cached)."""

from __future__ import annotations

from collections import OrderedDict

import sympy as sp

from ..compile import CompiledModel, compile
from ..model import RateRule, Variable
from .objectives import Objective

_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 16


def with_integrals(compiled: CompiledModel, objective: Objective) -> CompiledModel:
    r"""``compiled``'s model plus one state :math:`dI/dt = g` (from 0 at the start) per integrand of ``objective``.

    The same model and the same integrands give the same compiled object (so the optimiser's
    compiled step is reused); new *values* of the objective's parameters are data.

    Example:
        >>> import qsp
        >>> from qsp.optimize import target_auc
        >>> from qsp.optimize.objectives import with_keys
        >>> A = qsp.Species("A", qsp.Compartment("c", volume=2.0))
        >>> cm = qsp.compile(qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=qsp.Parameter("k", 1.0) * A)]))
        >>> with_integrals(cm, with_keys(target_auc("A", 10.0))).state_names
        ('A', 'qsp_objective0_auc')
    """
    integrands = {}
    for leaf in objective.leaves():
        integrands.update(leaf.integrands(compiled))
    if not integrands:
        return compiled
    signature = (id(compiled.structure), tuple((name, sp.srepr(expr)) for name, expr in sorted(integrands.items())))
    hit = _CACHE.get(signature)
    if hit is not None and hit[0] is compiled.structure:
        _CACHE.move_to_end(signature)
        return hit[1]
    rules = [RateRule(Variable(name, initial=0.0), expr) for name, expr in integrands.items()]
    augmented = compile(compiled.model.extended(rules=rules))
    _CACHE[signature] = (compiled.structure, augmented)
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return augmented
