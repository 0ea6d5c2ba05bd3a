"""Unit strings: a small hand-written grammar and exact unit algebra.

A unit is a scale times a product of powers of five base dimensions::

    mass (g)   substance (mol)   length (m; volume is length^3)   time (s)   activity (U)

The scale is exact (a sympy ``Rational``: ``mL`` is ``1/1000000`` m^3, ``day`` is
``86400`` s), so conversion factors are exact rationals and ``mg/L`` equals ``ug/mL``
exactly, not to rounding.

Why a grammar of our own rather than ``sympy.physics.units``: that package has no text
parser (only ``sympify``, which evaluates text as code, which qsp never does), lacks
nanomoles and molar concentrations, and converts into unsimplified products
(``convert_to(mg/L, ug/mL)`` returns ``microgram/milliliter``, not ``1``). Here a unit
string is read by a recursive-descent parser over a fixed table of names:

.. code-block:: text

    unit    := product
    product := factor (("*" | "·" | "/") factor)*       left to right: a/b/c = a/(b·c)
    factor  := number [atom [power]]                    "1", "1.73m^2", "1000 mL"
             | atom [power]                             "h^-1", "m²"
             | "(" product ")" [power]                  "1/(nM*h)"
    power   := ("^" | "**") ["-" | "+"] integer  |  superscript digits ("⁻¹", "²")
             | ["-"] integer written right after the name   "m2", "h-1" (the clinical "1.73m2")

A number is a pure scale (``1.73m^2`` is 1.73 square metres, the body-surface-area
normalisation of ``mL/min/1.73m^2``). Whitespace is allowed around symbols, but two
units side by side without an operator are an error (write ``mg*h``, not ``mg h``).
Names are case-sensitive: ``nM`` is nanomolar, ``nm`` nanometre, ``min`` a minute.

Example:
    >>> u = parse_unit("mL/min")
    >>> u.dimension
    'volume/time'
    >>> conversion_factor("mL/min", "L/h")
    3/50
    >>> conversion_factor("mg/L", "nmol/L", molecular_weight=500.0)   # 1 mg/L of a 500 g/mol drug
    2000
"""

from __future__ import annotations

import numbers
import re
from dataclasses import dataclass
from typing import Any

import sympy as sp

from ..errors import UnitError

#: the base dimensions, in the order of ``Unit.dims``
DIMENSIONS = ("mass", "substance", "length", "time", "activity")
MASS, SUBSTANCE, LENGTH, TIME, ACTIVITY = range(5)

_ONE = sp.Integer(1)
_ZERO_DIMS = (sp.Integer(0),) * 5


def _same(a: sp.Expr, b: sp.Expr) -> bool:
    """Exact equality of two exponents or scales (symbolic ones, as in ``x**n``, simplified)."""
    if a == b:
        return True
    if a.is_number and b.is_number:
        return False
    return sp.simplify(a - b) == 0


@dataclass(frozen=True)
class Unit:
    """An exact unit: ``scale`` × Π base^dims, with the base g, mol, m, s, U.

    ``dims`` holds five exponents (sympy numbers; a symbolic exponent appears when a
    quantity is raised to a parameter, as in a Hill term ``C**n``). Units multiply,
    divide and take powers; ``a.factor_to(b)`` is the number that converts a value in
    ``a`` into ``b``.

    Example:
        >>> day, h = parse_unit("day"), parse_unit("h")
        >>> day.factor_to(h)
        24
        >>> (parse_unit("L/h") * parse_unit("mg/L")).dimension
        'mass/time'
    """

    dims: tuple
    scale: sp.Expr

    # -------------------------------------------------------------- algebra
    def __mul__(self, other: "Unit") -> "Unit":
        return Unit(tuple(a + b for a, b in zip(self.dims, other.dims)), self.scale * other.scale)

    def __truediv__(self, other: "Unit") -> "Unit":
        return Unit(tuple(a - b for a, b in zip(self.dims, other.dims)), self.scale / other.scale)

    def __pow__(self, exponent) -> "Unit":
        exponent = sp.sympify(exponent)
        return Unit(tuple(a * exponent for a in self.dims), self.scale**exponent)

    def scaled(self, factor) -> "Unit":
        """This unit with its scale multiplied by ``factor`` (a number)."""
        return Unit(self.dims, self.scale * sp.sympify(factor))

    # -------------------------------------------------------------- questions
    @property
    def is_dimensionless(self) -> bool:
        """True when every exponent is zero (the scale may differ from 1, as for ``%``)."""
        return all(d == 0 for d in self.dims)

    def same_dimension(self, other: "Unit") -> bool:
        """True when both have the same exponents (they differ at most by a scale)."""
        return all(_same(a, b) for a, b in zip(self.dims, other.dims))

    def same_scale(self, other: "Unit") -> bool:
        return _same(self.scale, other.scale)

    def __eq__(self, other) -> bool:
        return isinstance(other, Unit) and self.same_dimension(other) and self.same_scale(other)

    def __hash__(self):
        return hash(self.dims)

    def factor_to(self, other: "Unit") -> sp.Expr:
        """The exact number f with ``value_in_self * f == value_in_other``.

        Raises:
            UnitError: the dimensions differ.
        """
        if not self.same_dimension(other):
            raise UnitError(f"cannot convert {self} ({self.dimension}) into {other} ({other.dimension}): "
                            "the dimensions differ.")
        return sp.simplify(self.scale / other.scale)

    # -------------------------------------------------------------- text
    @property
    def dimension(self) -> str:
        """The dimension in words, e.g. ``'mass/(volume·time)'`` (``'dimensionless'``)."""
        names = {MASS: "mass", SUBSTANCE: "substance", TIME: "time", ACTIVITY: "activity"}
        return _render(self.dims, names, length=("volume", "length")) or "dimensionless"

    def format(self, time: str = "h") -> str:
        """The unit written with mg, nmol, L (or m), ``time`` and U, e.g. ``'0.06 mg/h'``."""
        time_unit = parse_unit(time)
        names = {MASS: "mg", SUBSTANCE: "nmol", TIME: time, ACTIVITY: "U"}
        reference = Unit(_ZERO_DIMS, _ONE)
        pieces = {MASS: "mg", SUBSTANCE: "nmol", ACTIVITY: "U"}
        for axis, name in pieces.items():
            reference = reference * parse_unit(name) ** self.dims[axis]
        reference = reference * time_unit ** self.dims[TIME]
        length = self.dims[LENGTH]
        volume_power = length / 3 if (length / 3).is_integer or not length.is_number else None
        reference = reference * (parse_unit("L") ** volume_power if volume_power is not None
                                 else parse_unit("m") ** length)
        body = _render(self.dims, names, length=("L", "m")) or "1"
        factor = sp.simplify(self.scale / reference.scale)
        if factor == 1:
            return body
        number = f"{float(factor):.6g}" if factor.is_number else f"({factor})"
        return number if body == "1" else f"{number} {body}"

    def __str__(self) -> str:
        return self.format()

    def __repr__(self) -> str:
        return f"Unit({self.format()!r}: {self.dimension})"


def _render(dims, names: dict, length: tuple[str, str]) -> str:
    """'a·b/(c·d)' from exponents; length^(3k) is written as volume^k."""
    num, den = [], []

    def put(name, exponent):
        if exponent == 0:
            return
        negative = exponent.could_extract_minus_sign() if not exponent.is_number else exponent < 0
        e = -exponent if negative else exponent
        text = name if e == 1 else (f"{name}^{e}" if e.is_Integer else f"{name}^({e})")
        (den if negative else num).append(text)

    order = (MASS, SUBSTANCE, ACTIVITY, LENGTH, TIME)
    for axis in order:
        e = dims[axis]
        if axis == LENGTH:
            third = e / 3
            if not e.is_number or third.is_integer:
                put(length[0], third)
            else:
                put(length[1], e)
        else:
            put(names[axis], e)
    if not num and not den:
        return ""
    top = "·".join(num) or "1"
    if not den:
        return top
    bottom = den[0] if len(den) == 1 else "(" + "·".join(den) + ")"
    return f"{top}/{bottom}"


# ------------------------------------------------------------------ the table of names
def _base(axis: int, scale) -> Unit:
    dims = [sp.Integer(0)] * 5
    dims[axis] = sp.Integer(1)
    return Unit(tuple(dims), sp.Rational(scale))


_PREFIXES = {"k": 1000, "d": sp.Rational(1, 10), "c": sp.Rational(1, 100), "m": sp.Rational(1, 1000),
             "u": sp.Rational(1, 10**6), "µ": sp.Rational(1, 10**6), "μ": sp.Rational(1, 10**6),
             "n": sp.Rational(1, 10**9), "p": sp.Rational(1, 10**12), "f": sp.Rational(1, 10**15)}


def _with_prefixes(symbol: str, unit: Unit, allowed: str) -> dict[str, Unit]:
    out = {symbol: unit}
    for p in allowed:
        out[p + symbol] = unit.scaled(_PREFIXES[p])
    return out


def _table() -> dict[str, Unit]:
    gram = _base(MASS, 1)
    mole = _base(SUBSTANCE, 1)
    metre = _base(LENGTH, 1)
    second = _base(TIME, 1)
    activity = _base(ACTIVITY, 1)
    litre = Unit(tuple(sp.Integer(d) for d in (0, 0, 3, 0, 0)), sp.Rational(1, 1000))  # 1 L = 1 dm^3
    table: dict[str, Unit] = {}
    table.update(_with_prefixes("g", gram, "kmuµμnp"))
    table["mcg"] = table["ug"]
    table.update(_with_prefixes("mol", mole, "muµμnpf"))
    table.update(_with_prefixes("M", mole / litre, "muµμnpf"))  # molar: mol/L
    table.update(_with_prefixes("L", litre, "dcmuµμnp"))
    table.update(_with_prefixes("l", litre, "dcmuµμnp"))
    table["cc"] = table["mL"]
    table.update(_with_prefixes("m", metre, "kdcmuµμn"))
    for names, seconds in ((("s", "sec", "secs", "second", "seconds"), 1), (("ms",), sp.Rational(1, 1000)),
                           (("min", "mins", "minute", "minutes"), 60), (("h", "hr", "hrs", "hour", "hours"), 3600),
                           (("d", "day", "days"), 86400), (("wk", "week", "weeks"), 604800),
                           (("yr", "year", "years"), 31557600)):  # Julian year, 365.25 d
        for n in names:
            table[n] = second.scaled(seconds)
    table.update(_with_prefixes("U", activity, "kmuµμ"))
    table.update(_with_prefixes("IU", activity, "kmuµμ"))
    table["dimensionless"] = Unit(_ZERO_DIMS, _ONE)
    table["%"] = Unit(_ZERO_DIMS, sp.Rational(1, 100))
    return table


UNITS: dict[str, Unit] = _table()
"""Every unit name the parser knows (prefixed forms included), name → :class:`Unit`."""

#: the canonical name of each time unit, by its length in seconds
TIME_NAMES = {UNITS[n].scale: n for n in ("ms", "s", "min", "h", "day", "week", "year")}

ACCEPTED = (
    "accepted units: mass g, kg, mg, ug/µg/mcg, ng, pg; substance mol, mmol, umol/µmol, nmol, pmol; "
    "molar concentration M, mM, uM/µM, nM, pM; volume L (or l), dL, mL, uL/µL, nL, cc; length m, cm, mm, um; "
    "time s, ms, min, h (hr, hour), day (d), week (wk), year (yr, 365.25 days); activity U, IU (kU, mU, uU, mIU...); "
    "dimensionless 1, %, dimensionless. Combine them with * (or ·), / and ^ (or **), parentheses and numbers, "
    "e.g. 'mg', 'mg/L', 'L/h', '1/h', 'h^-1', 'mg*h/L', 'L/(nmol*h)', 'nM', 'mL/min/1.73m^2' (or 1.73m2)"
)


# ------------------------------------------------------------------ the parser
_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<number>\d+(?:\.\d+)?)"
    r"|(?P<word>[A-Za-zµμ%]+)"
    r"|(?P<power>\*\*|\^)"
    r"|(?P<op>[*·⋅/])"
    r"|(?P<sign>[-+])"
    r"|(?P<open>\()|(?P<close>\))"
    r"|(?P<sup>[⁻⁺]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+)"
    r")"
)
_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")


class _Parser:
    def __init__(self, text: str, item: str):
        self.text, self.item = text, item
        self.tokens: list[tuple[str, str, int]] = []
        pos = 0
        stripped = text.rstrip()
        while pos < len(stripped):
            m = _TOKEN.match(stripped, pos)
            if not m or m.end() == pos:
                self.fail(f"unexpected character {stripped[pos:].lstrip()[:1]!r} at position {pos}")
            kind = m.lastgroup
            self.tokens.append((kind, m.group(kind), m.start(kind)))
            pos = m.end()
        self.i = 0

    def fail(self, why: str):
        raise UnitError(f"{self.item}: unit {self.text!r} does not parse ({why}). {ACCEPTED}.")

    def peek(self, kind=None):
        if self.i < len(self.tokens) and (kind is None or self.tokens[self.i][0] == kind):
            return self.tokens[self.i]
        return None

    def take(self):
        token = self.tokens[self.i]
        self.i += 1
        return token

    def parse(self) -> Unit:
        if not self.tokens:
            self.fail("it is empty; a dimensionless quantity is written '1'")
        unit = self.product()
        if self.i < len(self.tokens):
            kind, value, pos = self.tokens[self.i]
            hint = {"word": "; write an operator between units, e.g. 'mg*h'", "open": "; write an operator before it",
                    "number": "; write powers with ^, e.g. 'm^2'", "sign": "; write negative powers as 'h^-1'"}
            hint = hint.get(kind, "")
            self.fail(f"unexpected {value!r} at position {pos}{hint}")
        return unit

    def product(self) -> Unit:
        unit = self.factor()
        while self.peek("op"):
            _, op, _ = self.take()
            right = self.factor()
            unit = unit / right if op == "/" else unit * right
        return unit

    def factor(self) -> Unit:
        token = self.peek()
        if token is None:
            self.fail("it ends where a unit was expected")
        kind, value, pos = token
        if kind == "number":
            self.take()
            number = Unit(_ZERO_DIMS, sp.Rational(value))
            if self.peek("word"):
                return number * self.atom()
            return number
        if kind == "word":
            return self.atom()
        if kind == "open":
            self.take()
            inner = self.product()
            if not self.peek("close"):
                self.fail(f"the parenthesis at position {pos} is not closed")
            self.take()
            return inner ** self.power()
        self.fail(f"unexpected {value!r} at position {pos}")

    def atom(self) -> Unit:
        _, name, pos = self.take()
        unit = UNITS.get(name)
        if unit is None:
            self.fail(f"unknown unit {name!r} at position {pos}")
        attached = self.attached_power(pos + len(name))
        return unit ** (attached if attached is not None else self.power())

    def attached_power(self, end: int) -> sp.Integer | None:
        """An integer written right after a unit name, without ^ ("m2", "h-1"), as in UCUM."""
        sign = 1
        first = self.i
        if self.peek("sign") and self.tokens[self.i][2] == end:
            sign = -1 if self.tokens[self.i][1] == "-" else 1
            end += 1
            self.i += 1
        token = self.peek("number")
        if token is None or token[2] != end or "." in token[1]:
            self.i = first
            return None
        self.take()
        return sp.Integer(sign * int(token[1]))

    def power(self) -> sp.Integer:
        if self.peek("sup"):
            return sp.Integer(int(self.take()[1].translate(_SUPERSCRIPTS)))
        if not self.peek("power"):
            return sp.Integer(1)
        self.take()
        sign = 1
        if self.peek("sign"):
            sign = -1 if self.take()[1] == "-" else 1
        token = self.peek("number")
        if token is None or "." in token[1]:
            self.fail("an exponent must be an integer, e.g. 'h^-1' or 'm^2'")
        self.take()
        return sp.Integer(sign * int(token[1]))


_PARSED: dict[str, Unit] = {}  # text -> Unit, successful parses only (annotations repeat a lot)


def parse_unit(text: str, item: str = "unit") -> Unit:
    """Parse a unit string into an exact :class:`Unit`; ``item`` names its owner in errors.

    Raises:
        UnitError: the text does not parse; the message names ``item``, shows the text
            and lists the accepted forms.

    Example:
        >>> parse_unit("mL/min/1.73m^2").dimension
        'length/time'
        >>> parse_unit("h^-1") == parse_unit("1/h")
        True
        >>> parse_unit("nM") == parse_unit("nmol/L")
        True
    """
    if isinstance(text, Unit):
        return text
    if not isinstance(text, str):
        raise UnitError(f"{item}: unit {text!r} is a {type(text).__name__}, not a string. {ACCEPTED}.")
    unit = _PARSED.get(text)
    if unit is None:
        unit = _PARSED[text] = _Parser(text, item).parse()
    return unit


def _molecular_weight(value: Any, item: str) -> sp.Expr:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise UnitError(f"{item}: molecular weight {value!r} must be a positive number in g/mol.")
    return sp.nsimplify(value, rational=True) if isinstance(value, float) else sp.Rational(value)


def conversion_factor(source, target, molecular_weight=None) -> sp.Expr:
    """The exact number f with ``value_in_source * f == value_in_target``.

    Mass and amount of substance convert into each other through a ``molecular_weight``
    in g/mol: with w = mass exponent moved to substance, ``f = scale_ratio / MW^w``.

    Raises:
        UnitError: the dimensions differ (and no molecular weight bridges them).

    Example:
        >>> conversion_factor("day", "h")
        24
        >>> conversion_factor("ug/mL", "mg/L")
        1
        >>> conversion_factor("nmol/L", "ng/mL", molecular_weight=300)   # 300 ng/L
        3/10
    """
    a, b = parse_unit(source, "source"), parse_unit(target, "target")
    moved = a.dims[MASS] - b.dims[MASS]
    if moved != 0 and molecular_weight is not None and _same(a.dims[MASS] + a.dims[SUBSTANCE],
                                                             b.dims[MASS] + b.dims[SUBSTANCE]):
        mw = _molecular_weight(molecular_weight, f"conversion from {source!r} to {target!r}")
        dims = list(a.dims)
        dims[MASS], dims[SUBSTANCE] = b.dims[MASS], b.dims[SUBSTANCE]
        a = Unit(tuple(dims), a.scale / mw**moved)
    if not a.same_dimension(b):
        hint = (" Mass and amount of substance convert only with molecular_weight=<g/mol>."
                if a.dims[MASS] != b.dims[MASS] else "")
        raise UnitError(f"cannot convert {source!r} ({a.dimension}) into {target!r} ({b.dimension}).{hint}")
    return a.factor_to(b)


def convert(value, source, target, molecular_weight=None):
    """``value`` (a number or an array) expressed in ``source``, converted into ``target``.

    Example:
        >>> convert(100.0, "mL/min", "L/h")
        6.0
        >>> convert(2.0, "mg/L", "nmol/L", molecular_weight=250.0)
        8000.0
    """
    return value * float(conversion_factor(source, target, molecular_weight))
