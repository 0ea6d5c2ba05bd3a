"""Rules: assignment rules (derived quantities) and rate rules (non-species states)."""

from __future__ import annotations

import sympy as sp

from ..errors import ModelError
from .symbols import Variable, as_expression


class _Rule:
    __slots__ = ("variable", "expression")
    kind = "rule"

    def __init__(self, variable: Variable, expression):
        if not isinstance(variable, Variable):
            raise ModelError(
                f"{type(self).__name__} target {variable!r} is a {type(variable).__name__}; "
                f"rules define a qsp.Variable, e.g. Ce = qsp.Variable('Ce'); qsp.{type(self).__name__}(Ce, ...)."
            )
        self.variable = variable
        self.expression = as_expression(expression, f"{type(self).__name__} for {variable.name!r}")

    def renamed(self, mapping: dict) -> "_Rule":
        """A copy with symbols replaced by ``mapping``."""
        return type(self)(mapping.get(self.variable, self.variable), self.expression.xreplace(mapping))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.variable.name} = {self.expression})"


class AssignmentRule(_Rule):
    """A derived quantity: ``variable = expression`` at every instant.

    The variable can be used in rate laws, observables and other rules (no cycles).

    Example:
        >>> from qsp import Parameter, Compartment, Species, Variable
        >>> c = Compartment("plasma", volume=3.0)
        >>> D = Species("D", c)
        >>> fu = Parameter("fu", 0.1)
        >>> Cfree = Variable("Cfree")
        >>> AssignmentRule(Cfree, fu * D).expression
        fu*D
    """

    kind = "assignment"


class RateRule(_Rule):
    """A state that is not a species: ``d variable / dt = expression``.

    The variable starts at its ``initial`` value. Typical uses: an effect compartment
    ``dCe/dt = ke0 (C - Ce)`` or a disease-activity score.

    Example:
        >>> from qsp import Parameter, Compartment, Species, Variable
        >>> c = Compartment("plasma", volume=3.0)
        >>> D = Species("D", c)
        >>> ke0 = Parameter("ke0", 0.5)
        >>> Ce = Variable("Ce", initial=0.0)
        >>> RateRule(Ce, ke0 * (D - Ce)).expression
        ke0*(D - Ce)
    """

    kind = "rate"


def assignment_order(rules: list[AssignmentRule]) -> list[AssignmentRule]:
    """Sort assignment rules so each comes after those it uses; a cycle is an error."""
    by_var = {r.variable: r for r in rules}
    order: list[AssignmentRule] = []
    state: dict[Variable, int] = {}

    def visit(var, path):
        mark = state.get(var)
        if mark == 2:
            return
        if mark == 1:
            cycle = " -> ".join(v.name for v in [*path, var])
            raise ModelError(f"assignment rules form a cycle: {cycle}; break it by making one a rate rule or a parameter.")
        state[var] = 1
        for dep in sorted(by_var[var].expression.free_symbols, key=lambda s: s.name):
            if dep in by_var:
                visit(dep, [*path, var])
        state[var] = 2
        order.append(by_var[var])

    for r in rules:
        visit(r.variable, [])
    return order


def inline_assignments(expr: sp.Expr, rules: list[AssignmentRule]) -> sp.Expr:
    """Replace assignment-rule variables in ``expr`` by their (recursively inlined) definitions."""
    mapping: dict = {}
    for rule in assignment_order(rules):
        mapping[rule.variable] = rule.expression.xreplace(mapping)
    return expr.xreplace(mapping) if mapping else expr
