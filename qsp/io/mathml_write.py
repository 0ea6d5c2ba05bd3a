"""sympy -> SBML MathML: sympy trees to libsbml ``ASTNode`` trees, by a table of node types.

The inverse of :class:`qsp.io.mathml.MathReader`; no formula text is produced or parsed.
Functions without a MathML counterpart raise :class:`~qsp.io.mathml.UnsupportedSBMLError`.
"""

from __future__ import annotations

import math

import sympy as sp

from ..model.symbols import ModelSymbol, Time
from .mathml import UnsupportedSBMLError, libsbml

def _writing_table(lib) -> dict:
    table = {sp.exp: lib.AST_FUNCTION_EXP, sp.log: lib.AST_FUNCTION_LN, sp.Abs: lib.AST_FUNCTION_ABS,
             sp.floor: lib.AST_FUNCTION_FLOOR, sp.ceiling: lib.AST_FUNCTION_CEILING,
             sp.factorial: lib.AST_FUNCTION_FACTORIAL, sp.Max: lib.AST_FUNCTION_MAX, sp.Min: lib.AST_FUNCTION_MIN,
             sp.Add: lib.AST_PLUS, sp.Eq: lib.AST_RELATIONAL_EQ, sp.Ne: lib.AST_RELATIONAL_NEQ,
             sp.Gt: lib.AST_RELATIONAL_GT, sp.Ge: lib.AST_RELATIONAL_GEQ, sp.Lt: lib.AST_RELATIONAL_LT,
             sp.Le: lib.AST_RELATIONAL_LEQ, sp.And: lib.AST_LOGICAL_AND, sp.Or: lib.AST_LOGICAL_OR,
             sp.Xor: lib.AST_LOGICAL_XOR, sp.Not: lib.AST_LOGICAL_NOT}
    for f in (sp.sin, sp.cos, sp.tan, sp.sec, sp.csc, sp.cot, sp.sinh, sp.cosh, sp.tanh, sp.sech, sp.csch, sp.coth):
        table[f] = getattr(lib, f"AST_FUNCTION_{f.__name__.upper()}")
    for f in (sp.asin, sp.acos, sp.atan, sp.asec, sp.acsc, sp.acot, sp.asinh, sp.acosh, sp.atanh, sp.asech,
              sp.acsch, sp.acoth):
        table[f] = getattr(lib, f"AST_FUNCTION_ARC{f.__name__[1:].upper()}")
    return table


class MathWriter:
    """Converts sympy expressions of model symbols to libsbml ``ASTNode`` trees.

    Symbols are written as SBML identifiers (their names); :data:`qsp.time` as the time
    csymbol. Functions without an MathML counterpart raise :class:`UnsupportedSBMLError`.

    Example:
        >>> lib = libsbml()
        >>> x = sp.Symbol("x")
        >>> lib.formulaToL3String(MathWriter().node(sp.exp(-x) / 2, "example"))
        'exp(-x) / 2'
    """

    def __init__(self):
        self.lib = libsbml()
        self.table = _writing_table(self.lib)

    def _new(self, kind, *children):
        node = self.lib.ASTNode(kind)
        for c in children:
            node.addChild(c)
        return node

    def _number(self, value):
        lib = self.lib
        if isinstance(value, sp.Integer) or (isinstance(value, int) and not isinstance(value, bool)):
            node = lib.ASTNode(lib.AST_INTEGER)
            node.setValue(int(value))
            return node
        node = lib.ASTNode(lib.AST_REAL)
        node.setValue(float(value))
        return node

    def node(self, expr: sp.Basic, where: str):
        """The ASTNode of ``expr``; ``where`` names the element for error messages."""
        lib = self.lib
        e = expr
        if isinstance(e, Time):
            node = lib.ASTNode(lib.AST_NAME_TIME)
            node.setName("time")
            return node
        if isinstance(e, (ModelSymbol, sp.Symbol)):
            node = lib.ASTNode(lib.AST_NAME)
            node.setName(e.name)
            return node
        if e is sp.true or e is sp.false:
            return lib.ASTNode(lib.AST_CONSTANT_TRUE if e is sp.true else lib.AST_CONSTANT_FALSE)
        if e == sp.pi:
            return lib.ASTNode(lib.AST_CONSTANT_PI)
        if e == sp.E:
            return lib.ASTNode(lib.AST_CONSTANT_E)
        if e in (sp.oo, -sp.oo, sp.nan):
            return self._number({sp.oo: math.inf, -sp.oo: -math.inf}.get(e, math.nan))
        if e.is_Integer:
            return self._number(sp.Integer(e)) if e >= 0 else self._new(lib.AST_MINUS, self._number(-e))
        if e.is_Rational:
            return self._new(lib.AST_DIVIDE, self.node(sp.Integer(e.p), where), self._number(sp.Integer(e.q)))
        if e.is_Float:
            return self._number(float(e)) if e >= 0 else self._new(lib.AST_MINUS, self._number(-float(e)))
        if e.is_Mul:
            return self._mul(e, where)
        if e.is_Pow:
            if e.base == sp.E:
                return self._new(lib.AST_FUNCTION_EXP, self.node(e.exp, where))
            if e.exp.is_number and e.exp < 0:
                return self._new(lib.AST_DIVIDE, self._number(sp.Integer(1)), self.node(e.base ** -e.exp, where))
            return self._new(lib.AST_POWER, self.node(e.base, where), self.node(e.exp, where))
        if isinstance(e, sp.Piecewise):
            node = lib.ASTNode(lib.AST_FUNCTION_PIECEWISE)
            for value, cond in e.args:
                node.addChild(self.node(value, where))
                if cond is not sp.true:
                    node.addChild(self.node(cond, where))
            return node
        rewrites = {sp.sign: lambda x: sp.Piecewise((1, x > 0), (-1, x < 0), (0, True)),
                    sp.Heaviside: lambda x, h=sp.S.Half: sp.Piecewise((1, x > 0), (0, x < 0), (h, True)),
                    sp.Mod: lambda a, b: a - b * sp.floor(a / b)}
        if e.func in rewrites:
            return self.node(rewrites[e.func](*e.args), where)
        kind = self.table.get(e.func)
        if kind is None:
            raise UnsupportedSBMLError(f"{where}: sympy function {e.func.__name__} in {expr} has no SBML MathML "
                                       "counterpart in qsp's writer.")
        return self._new(kind, *[self.node(a, where) for a in e.args])

    def _mul(self, e, where):
        lib = self.lib
        coefficient, factors = e.as_coeff_mul()
        if coefficient < 0:
            return self._new(lib.AST_MINUS, self.node(-e, where))
        top, bottom = [], []
        for f in factors:
            if f.is_Pow and f.exp.is_number and f.exp < 0:
                bottom.append(f.base ** (-f.exp))
            else:
                top.append(f)
        if coefficient != 1:
            if coefficient.is_Rational and not coefficient.is_Integer:
                if coefficient.p != 1:
                    top.insert(0, sp.Integer(coefficient.p))
                bottom.insert(0, sp.Integer(coefficient.q))
            else:
                top.insert(0, coefficient)

        def product(items):
            if not items:
                return self._number(sp.Integer(1))
            if len(items) == 1:
                return self.node(items[0], where)
            return self._new(lib.AST_TIMES, *[self.node(x, where) for x in items])

        if bottom:
            return self._new(lib.AST_DIVIDE, product(top), product(bottom))
        return product(top)
