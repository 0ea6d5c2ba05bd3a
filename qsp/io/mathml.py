"""SBML MathML -> sympy, by walking libsbml's ``ASTNode`` trees with a table of node types.

No formula text is ever parsed or evaluated: each node type maps to a sympy constructor
applied to the converted children (the inverse, sympy -> MathML, is
:mod:`qsp.io.mathml_write`). User functions (SBML ``functionDefinition`` lambdas) are inlined by
converting their body with the bound variables replaced by the converted arguments.
A construct outside the tables raises :class:`UnsupportedSBMLError` naming it and the
SBML element it appears in.

MathML is loose about truth values: a number may stand for a condition (non-zero is
true) and a condition for a number (1 or 0). :func:`as_condition` and :func:`as_number`
make those conversions explicit in sympy.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping

import sympy as sp
from sympy.logic.boolalg import Boolean

from .._optional import optional_import
from ..errors import ModelError
from ..model.symbols import time


class SBMLError(ModelError):
    """An SBML document is invalid or inconsistent (libsbml's own messages included)."""


class UnsupportedSBMLError(SBMLError):
    """An SBML construct that qsp does not support; names the construct and the element id."""


def libsbml():
    """The ``libsbml`` module, or an ImportError that says how to install it."""
    return optional_import("libsbml", "reading or writing SBML", "io", "python-libsbml")


def is_condition(expr) -> bool:
    """True for sympy booleans (relationals, ``And``..., ``true``); a plain Symbol is not one.

    Example:
        >>> is_condition(sp.Gt(sp.Symbol("x"), 1)), is_condition(sp.Symbol("x"))
        (True, False)
    """
    return isinstance(expr, Boolean) and not isinstance(expr, sp.Expr)


def as_number(expr: sp.Basic) -> sp.Expr:
    """A condition used as a number becomes 1 where true, 0 where false.

    Example:
        >>> x = sp.Symbol("x")
        >>> as_number(sp.Gt(x, 1))
        Piecewise((1, x > 1), (0, True))
    """
    if is_condition(expr):
        return sp.Piecewise((sp.Integer(1), expr), (sp.Integer(0), True))
    return expr


def as_condition(expr: sp.Basic) -> sp.Basic:
    """A number used as a condition is true where it is non-zero.

    Example:
        >>> as_condition(sp.Symbol("x"))
        Ne(x, 0)
    """
    if is_condition(expr):
        return expr
    return sp.Ne(expr, 0)


def _truncate(x):  # toward zero, as MathML's quotient and rem use
    return sp.sign(x) * sp.floor(sp.Abs(x))


def _chain(relation):
    # MathML relations are n-ary: a < b < c means a < b and b < c
    return lambda *a: sp.And(*[relation(as_number(a[i]), as_number(a[i + 1])) for i in range(len(a) - 1)])


def _minus(*a):
    return -as_number(a[0]) if len(a) == 1 else as_number(a[0]) - as_number(a[1])


def _log(*a):
    # libsbml puts <logbase> first; without it the base is 10
    return sp.log(as_number(a[-1]), as_number(a[0]) if len(a) == 2 else 10)


def _root(*a):
    return as_number(a[-1]) ** (sp.Integer(1) / as_number(a[0]) if len(a) == 2 else sp.Rational(1, 2))


def _numbers(f):
    return lambda *a: f(*[as_number(x) for x in a])


def _conditions(f):
    return lambda *a: f(*[as_condition(x) for x in a])


def _reading_table(lib) -> dict[int, Callable]:
    table = {
        lib.AST_PLUS: _numbers(lambda *a: sp.Add(*a)),
        lib.AST_TIMES: _numbers(lambda *a: sp.Mul(*a)),
        lib.AST_MINUS: _minus,
        lib.AST_DIVIDE: _numbers(lambda a, b: a / b),
        lib.AST_POWER: _numbers(lambda a, b: a**b),
        lib.AST_FUNCTION_POWER: _numbers(lambda a, b: a**b),
        lib.AST_FUNCTION_ROOT: _root,
        lib.AST_FUNCTION_EXP: _numbers(sp.exp),
        lib.AST_FUNCTION_LN: _numbers(sp.log),
        lib.AST_FUNCTION_LOG: _log,
        lib.AST_FUNCTION_ABS: _numbers(sp.Abs),
        lib.AST_FUNCTION_FLOOR: _numbers(sp.floor),
        lib.AST_FUNCTION_CEILING: _numbers(sp.ceiling),
        lib.AST_FUNCTION_FACTORIAL: _numbers(sp.factorial),
        lib.AST_FUNCTION_MAX: _numbers(sp.Max),
        lib.AST_FUNCTION_MIN: _numbers(sp.Min),
        lib.AST_FUNCTION_QUOTIENT: _numbers(lambda a, b: _truncate(a / b)),
        lib.AST_FUNCTION_REM: _numbers(lambda a, b: a - b * _truncate(a / b)),
        lib.AST_RELATIONAL_EQ: _chain(sp.Eq),
        lib.AST_RELATIONAL_NEQ: _numbers(sp.Ne),
        lib.AST_RELATIONAL_GT: _chain(sp.Gt),
        lib.AST_RELATIONAL_GEQ: _chain(sp.Ge),
        lib.AST_RELATIONAL_LT: _chain(sp.Lt),
        lib.AST_RELATIONAL_LEQ: _chain(sp.Le),
        lib.AST_LOGICAL_AND: _conditions(sp.And),
        lib.AST_LOGICAL_OR: _conditions(sp.Or),
        lib.AST_LOGICAL_XOR: _conditions(sp.Xor),
        lib.AST_LOGICAL_NOT: _conditions(sp.Not),
        lib.AST_LOGICAL_IMPLIES: _conditions(lambda a, b: sp.Or(sp.Not(a), b)),
    }
    trig = {"SIN": sp.sin, "COS": sp.cos, "TAN": sp.tan, "SEC": sp.sec, "CSC": sp.csc, "COT": sp.cot,
            "SINH": sp.sinh, "COSH": sp.cosh, "TANH": sp.tanh, "SECH": sp.sech, "CSCH": sp.csch, "COTH": sp.coth,
            "ARCSIN": sp.asin, "ARCCOS": sp.acos, "ARCTAN": sp.atan, "ARCSEC": sp.asec, "ARCCSC": sp.acsc,
            "ARCCOT": sp.acot, "ARCSINH": sp.asinh, "ARCCOSH": sp.acosh, "ARCTANH": sp.atanh,
            "ARCSECH": sp.asech, "ARCCSCH": sp.acsch, "ARCCOTH": sp.acoth}
    for name, f in trig.items():
        table[getattr(lib, f"AST_FUNCTION_{name}")] = _numbers(f)
    return table


def _type_name(lib, node_type: int) -> str:
    names = [n for n in dir(lib) if n.startswith("AST_") and getattr(lib, n) == node_type]
    return names[0] if names else f"node type {node_type}"


class MathReader:
    """Converts libsbml ``ASTNode`` trees to sympy.

    Args:
        resolve: ``resolve(sbml_id, where)`` returns the sympy expression an identifier
            stands for (a model symbol, a local parameter, a reaction's rate...).
        functions: SBML function id → its ``lambda`` ASTNode (inlined at each call).

    Example:
        >>> from qsp.io.mathml_write import MathWriter
        >>> x = sp.Symbol("x")
        >>> node = MathWriter().node(sp.Piecewise((1, x > 2), (x**2, True)), "example")
        >>> MathReader(lambda name, where: {"x": x}[name]).expression(node, "example")
        Piecewise((1, x > 2), (x**2, True))
    """

    def __init__(self, resolve: Callable[[str, str], sp.Basic], functions: Mapping | None = None):
        self.lib = libsbml()
        self.resolve = resolve
        self.functions = dict(functions or {})
        self.table = _reading_table(self.lib)

    def expression(self, node, where: str) -> sp.Expr:
        """A numeric sympy expression (a condition becomes 1 or 0)."""
        return as_number(self._convert(node, where, {}, ()))

    def condition(self, node, where: str) -> sp.Basic:
        """A sympy boolean (a number becomes ``!= 0``)."""
        return as_condition(self._convert(node, where, {}, ()))

    def _convert(self, node, where: str, scope: dict, calls: tuple):
        lib = self.lib
        if node is None:
            raise SBMLError(f"{where}: the math element is missing or could not be read.")
        kind = node.getType()
        if kind == lib.AST_INTEGER:
            return sp.Integer(node.getInteger())
        if kind in (lib.AST_REAL, lib.AST_REAL_E):
            value = node.getReal()
            if math.isnan(value):
                return sp.nan
            if math.isinf(value):
                return sp.oo if value > 0 else -sp.oo
            return sp.Float(value)
        if kind == lib.AST_RATIONAL:
            return sp.Rational(node.getNumerator(), node.getDenominator())
        if kind == lib.AST_NAME:
            name = node.getName()
            return scope[name] if name in scope else self.resolve(name, where)
        if kind == lib.AST_NAME_TIME:
            return time
        constants = {lib.AST_CONSTANT_E: sp.E, lib.AST_CONSTANT_PI: sp.pi,
                     lib.AST_CONSTANT_TRUE: sp.true, lib.AST_CONSTANT_FALSE: sp.false}
        if kind in constants:
            return constants[kind]
        children = [node.getChild(i) for i in range(node.getNumChildren())]
        if kind == lib.AST_FUNCTION:
            return self._call(node.getName(), children, where, scope, calls)
        if kind == lib.AST_FUNCTION_PIECEWISE:
            return self._piecewise(children, where, scope, calls)
        if kind == lib.AST_TIMES and not children:
            return sp.Integer(1)
        if kind == lib.AST_PLUS and not children:
            return sp.Integer(0)
        if kind in self.table:
            args = [self._convert(c, where, scope, calls) for c in children]
            try:
                return self.table[kind](*args)
            except TypeError as exc:
                raise SBMLError(f"{where}: {_type_name(lib, kind)} with {len(args)} argument(s) is malformed "
                                f"({exc}).") from None
        refused = {lib.AST_FUNCTION_DELAY: "the delay csymbol (delay differential equations)",
                   lib.AST_FUNCTION_RATE_OF: "the rateOf csymbol",
                   lib.AST_NAME_AVOGADRO: "the avogadro csymbol",
                   lib.AST_LAMBDA: "a lambda outside a function definition"}
        construct = refused.get(kind, f"MathML {_type_name(lib, kind)} ({node.getName() or 'unnamed'})")
        raise UnsupportedSBMLError(f"{where}: {construct} is not supported by qsp.")

    def _piecewise(self, children, where, scope, calls):
        values = [self._convert(c, where, scope, calls) for c in children]
        pieces = [(as_number(values[i]), as_condition(values[i + 1])) for i in range(0, len(values) - 1, 2)]
        # an odd child is <otherwise>; without one the value is undefined where no piece holds
        otherwise = as_number(values[-1]) if len(values) % 2 else sp.nan
        return sp.Piecewise(*pieces, (otherwise, True))

    def _call(self, name, children, where, scope, calls):
        if name not in self.functions:
            raise SBMLError(f"{where}: calls {name!r}, which is not a function definition of the model.")
        if name in calls:
            raise SBMLError(f"{where}: function definitions call each other in a cycle: "
                            f"{' -> '.join([*calls, name])}.")
        definition = self.functions[name]
        n_bound = definition.getNumBvars()
        if len(children) != n_bound:
            raise SBMLError(f"{where}: function {name!r} takes {n_bound} argument(s), got {len(children)}.")
        args = [self._convert(c, where, scope, calls) for c in children]
        local = {definition.getChild(i).getName(): a for i, a in enumerate(args)}
        body = definition.getChild(definition.getNumChildren() - 1)
        return self._convert(body, f"{where} (in function {name!r})", local, (*calls, name))
