"""The unit of one expression: a bottom-up walk over the sympy tree (see :mod:`qsp.model.units`).

Each expression is walked once, bottom-up, to the unit it has:

* a number is dimensionless (exactly zero fits any unit, so ``Piecewise((k*A, c), (0, True))``
  and ``t > 0`` are fine); ``pi`` and ``E`` are numbers too;
* a parameter has its ``unit``; a compartment its volume unit; a species its concentration
  unit (its amount unit when ``amount_based``); a variable its ``unit`` or, for an
  assignment rule without one, the unit of its expression; ``qsp.time`` the model's time unit;
* ``a + b``, ``Min``, ``Max``, ``Mod``, ``Piecewise`` branches and both sides of a comparison
  must agree in dimension *and* size (``mg/L + ng/mL`` is an error: nothing is rescaled silently);
* ``exp``, ``log``, trigonometric and similar functions need a dimensionless argument of size 1;
* ``x**n`` multiplies the exponents by ``n``, even a symbolic one, so a Hill term
  ``C**n/(EC50**n + C**n)`` comes out dimensionless.

A symbol without a unit makes every expression that uses it *unknown*: it is reported in
:attr:`UnitReport.unchecked`, never guessed.
"""

from __future__ import annotations

from typing import Callable, Mapping

import sympy as sp
from sympy.core.relational import Relational
from sympy.logic.boolalg import Boolean

from ..errors import UnitError
from .symbols import ModelSymbol, Time
from .unit_grammar import Unit, parse_unit

ANY = "any"  # the unit of an exact zero: it fits every unit
BOOLEAN = "boolean"  # the "unit" of a condition
ONE = parse_unit("1")

_DIMENSIONLESS_FUNCTIONS = (sp.exp, sp.log, sp.sin, sp.cos, sp.tan, sp.asin, sp.acos, sp.atan, sp.sinh, sp.cosh,
                            sp.tanh, sp.asinh, sp.acosh, sp.atanh, sp.sec, sp.csc, sp.cot, sp.sech, sp.csch, sp.coth,
                            sp.erf, sp.erfc, sp.gamma, sp.loggamma, sp.factorial)
_SAME_AS_ARGUMENT = (sp.Abs, sp.floor, sp.ceiling)
_AGREEING = (sp.Min, sp.Max, sp.Mod)


def nearly_equal(a: float, b: float) -> bool:
    """|a - b| <= 1e-12 max(|a|, |b|): equality of a float written in a model with an exact factor.

    Example:
        >>> nearly_equal(0.06, 3 / 50)
        True
    """
    return abs(a - b) <= 1e-12 * max(abs(a), abs(b))


def number_text(x) -> str:
    """A sympy number for messages (6 significant digits), or a symbolic one as it is."""
    return f"{float(x):.6g}" if x.is_number else str(x)


class Walker:
    """The bottom-up unit of one expression: a :class:`Unit`, ``ANY`` (an exact zero),
    ``BOOLEAN`` (a condition) or None (unknown: it uses a symbol without a unit).

    Args:
        units: symbol → unit of its meaning in expressions (None: unknown).
        time: the unit of :data:`qsp.time` (None: unknown).
        where: names the expression's owner in error messages.
        fmt: writes a unit for messages.

    Example:
        >>> import qsp
        >>> CL, V = qsp.Parameter("CL", 3.0), qsp.Parameter("V", 30.0)
        >>> units = {CL: parse_unit("L/h"), V: parse_unit("L")}
        >>> Walker(units, None, "example", str).walk(CL / V)
        Unit('1/h': 1/time)
    """

    def __init__(self, units: Mapping, time: Unit | None, where: str, fmt: Callable[[Unit], str]):
        self.units, self.time, self.where, self.fmt = units, time, where, fmt

    def walk(self, e: sp.Basic):
        if isinstance(e, Time):
            return self.time
        if isinstance(e, ModelSymbol):
            return self.units.get(e)
        if e in (sp.true, sp.false):
            return BOOLEAN
        if e.is_number and not isinstance(e, Boolean):
            return ANY if e == 0 else ONE
        if e.is_Add:
            return self.agree(e, e.args, "the terms of")
        if e.is_Mul:
            if any(isinstance(a, ModelSymbol) and not isinstance(a, Time) and self.units.get(a) is None
                   for a in e.args):
                return None  # an unknown factor: the product is unknown (cheap exit for unannotated rates)
            result = ONE
            for arg in e.args:
                u = self.walk(arg)
                if u is None or u is ANY:
                    return u
                result = result * u
            return result
        if e.is_Pow:
            return self.power(e)
        if isinstance(e, sp.Piecewise):
            for _, condition in e.args:
                self.walk(condition)
            return self.agree(e, [value for value, _ in e.args], "the branches of")
        if isinstance(e, Relational):
            self.agree(e, e.args, "the two sides of")
            return BOOLEAN
        if isinstance(e, Boolean):
            for arg in e.args:
                self.walk(arg)
            return BOOLEAN
        if isinstance(e, _DIMENSIONLESS_FUNCTIONS) or isinstance(e, sp.atan2):
            if isinstance(e, sp.atan2):
                self.agree(e, e.args, "the arguments of")
                return ONE
            for arg in e.args:
                self.dimensionless(e, arg)
            return ONE
        if isinstance(e, _SAME_AS_ARGUMENT):
            return self.walk(e.args[0])
        if isinstance(e, (sp.sign, sp.Heaviside)):
            self.walk(e.args[0])
            return ONE
        if isinstance(e, _AGREEING):
            return self.agree(e, e.args, "the arguments of")
        return None  # a construct without a unit rule: unknown, never guessed

    def power(self, e: sp.Pow):
        base, exponent = e.args
        if exponent.free_symbols:
            self.dimensionless(e, exponent)
        u = self.walk(base)
        if u is None or u is ANY:
            return u
        if u.is_dimensionless and u.scale == 1:
            return ONE
        return u**exponent

    def dimensionless(self, node, arg) -> None:
        u = self.walk(arg)
        if not isinstance(u, Unit):
            return
        if not u.is_dimensionless:
            raise UnitError(f"{self.where}: in {node}, {arg} has dimension {u.dimension} ({self.fmt(u)}), "
                            "but it must be dimensionless (divide it by a quantity in the same unit).")
        if u.scale != 1 and not (u.scale.is_number and nearly_equal(float(u.scale), 1.0)):
            raise UnitError(f"{self.where}: in {node}, {arg} is dimensionless only up to a factor "
                            f"{number_text(u.scale)}: its symbols are in units of different size (e.g. 1/min with h). "
                            "Annotate consistent units, or convert with qsp.model.units.to_base_units(model).")

    def agree(self, node, args, what: str):
        known: list[tuple[sp.Basic, Unit]] = []
        unknown = False
        for arg in args:
            u = self.walk(arg)
            if u is None:
                unknown = True
            elif isinstance(u, Unit):
                known.append((arg, u))
            elif u is BOOLEAN:
                raise UnitError(f"{self.where}: {what} {node} mix a condition ({arg}) with numbers.")
        for arg, u in known[1:]:
            first, u0 = known[0]
            if not u.same_dimension(u0):
                hint = ""
                if any(x.is_number for x in (first, arg)):
                    hint = (" A plain number has no unit: make it a parameter with one, e.g. "
                            "qsp.Parameter('t_switch', 5.0, unit='h') for a time threshold.")
                raise UnitError(f"{self.where}: {what} {node} disagree: {first} has dimension {u0.dimension} "
                                f"({self.fmt(u0)}) but {arg} has dimension {u.dimension} ({self.fmt(u)})."
                                + hint)
            if not u.same_scale(u0):
                raise UnitError(
                    f"{self.where}: {what} {node} are in units of different size: {first} in {self.fmt(u0)}, "
                    f"{arg} in {self.fmt(u)} (same dimension {u.dimension}). qsp never rescales silently: "
                    "annotate consistent units, or convert with qsp.model.units.to_base_units(model)."
                )
        if unknown:
            return None
        return known[0][1] if known else ANY
