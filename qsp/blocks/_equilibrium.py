"""Shared by binding and TMDD: the free concentration of a rapid binding equilibrium, and the
rewrite that makes a host model's processes act on free rather than total drug."""

from __future__ import annotations

import sympy as sp

from ..errors import ModelError
from ..model import Model, Reaction, Species, compose
from ._block import Block


def free_concentration(total, target_total, K) -> sp.Expr:
    """The free ligand concentration C solving C + Rtot·C/(K + C) = Ctot (C ≥ 0).

    With b = Ctot − Rtot − K, the root is C = ½·(b + √(b² + 4·K·Ctot)). Evaluated as
    written it loses all digits when b < 0 and Ctot is small (the usual terminal phase:
    b + √(...) cancels), so for b < 0 the algebraically equal form 2·K·Ctot/(√(...) − b)
    is used.

    Each branch is also kept finite, with a finite derivative, where it is *not* selected:
    the Jacobian is taken by forward-mode autodiff through ``jnp.where``, which multiplies
    the unselected branch's derivative by zero, and 0·inf is NaN. So the b ≥ 0 branch sees
    b⁺ = b and Ctot⁺ = Ctot where it is selected, 0 and Rtot + K elsewhere; the b < 0 branch
    sees b⁻ = b where selected, 0 elsewhere. (Not max/min: their derivative at a tie is ½,
    which would halve the Jacobian exactly at b = 0.)

    Example:
        >>> import sympy as sp
        >>> C = free_concentration(sp.Float(10.0), sp.Float(5.0), sp.Float(1.0))
        >>> round(float(C), 6)        # C + 5C/(1+C) = 10
        5.741657
    """
    b, high_side = _split(total, target_total, K)
    b_pos, b_neg, total_pos = _guarded(b, high_side, total, target_total, K)
    high = sp.Rational(1, 2) * (b_pos + sp.sqrt(b_pos ** 2 + 4 * K * total_pos))
    low = 2 * K * total / (sp.sqrt(b_neg ** 2 + 4 * K * total) - b_neg)
    return sp.Piecewise((high, high_side), (low, True))


def _split(total, target_total, K):
    b = total - target_total - K
    return b, b >= 0


def _guarded(b, high_side, total, target_total, K):
    """b⁺, b⁻ and Ctot⁺ of :func:`free_concentration`: the true values where their branch is used."""
    return (sp.Piecewise((b, high_side), (0, True)), sp.Piecewise((0, high_side), (b, True)),
            sp.Piecewise((total, high_side), (target_total + K, True)))


def free_fraction(total, target_total, K) -> sp.Expr:
    """C/Ctot for the equilibrium of :func:`free_concentration`, finite also at Ctot = 0.

    For b < 0 it is 2·K/(√(b² + 4·K·Ctot) − b), whose value at Ctot = 0 is the limit
    K/(K + Rtot); for b ≥ 0 (so Ctot ≥ Rtot + K > 0) it is ½·(b + √(...))/Ctot. Both
    branches are guarded as in :func:`free_concentration`.

    Example:
        >>> import sympy as sp
        >>> round(float(free_fraction(sp.Float(0.0), sp.Float(3.0), sp.Float(1.0))), 6)   # K/(K + Rtot)
        0.25
    """
    b, high_side = _split(total, target_total, K)
    b_pos, b_neg, total_pos = _guarded(b, high_side, total, target_total, K)
    high = sp.Rational(1, 2) * (b_pos + sp.sqrt(b_pos ** 2 + 4 * K * total_pos)) / total_pos
    low = 2 * K / (sp.sqrt(b_neg ** 2 + 4 * K * total) - b_neg)
    return sp.Piecewise((high, high_side), (low, True))


def host_model(host: Model | Block | None, drug: Species, kind: str) -> Model | None:
    """The host as a :class:`Model` (None stays None), checked to contain ``drug``."""
    if host is None:
        return None
    if isinstance(host, Block):
        host = host.model
    if not isinstance(host, Model):
        raise ModelError(f"{kind}: host must be a qsp.Model or a qsp.blocks.Block, got {host!r}.")
    if drug not in host.species:
        raise ModelError(f"{kind}: the host model {host.name!r} has no species {drug.name!r}; pass the model whose "
                         "reactions act on the drug (e.g. the disposition block).")
    return host


def with_free_drug(host: Model | None, drug: Species, free: sp.Expr) -> Model | None:
    """``host`` with every use of ``drug`` (its concentration) in rates, rules and observables
    replaced by ``free``: under a rapid-equilibrium assumption the species holds total drug,
    while elimination, distribution and effects see free drug.

    Reactions whose rate changes are rebuilt without the mass-action flag (the rate is no
    longer mass action); the others are kept as the same objects.
    """
    if host is None:
        return None
    mapping = {drug: free}
    reactions = []
    for r in host.reactions:
        if drug in r.rate.free_symbols:
            r = Reaction(r.reactants, r.products, rate=r.rate.xreplace(mapping), name=r.name)
        reactions.append(r)
    rules = [rule.renamed(mapping) if drug in rule.expression.free_symbols else rule for rule in host.rules]
    observables = {k: e.xreplace(mapping) for k, e in host.observables.items()}
    return Model(host.name, reactions=reactions, observables=observables, rules=rules,
                 parameters=host.parameters, species=host.species, compartments=host.compartments,
                 description=host.description)


def merged(fragment: Block, host: Model | None) -> Block:
    """The fragment alone, or the host (already rewritten where needed) composed with it."""
    if host is None:
        return fragment
    return Block(compose(host, fragment.model, name=fragment.model.name), fragment.handles, fragment.names)
