"""sympy → JAX by a table-driven tree walk.

No source text is generated and nothing is evaluated as code: each sympy node type
maps, through the tables below, to a ``jax.numpy`` function that is applied to the
already-translated arguments. The walk runs while JAX traces, once per compilation.
"""

from __future__ import annotations

import functools
from typing import Callable, Mapping

import jax.numpy as jnp
import jax.scipy.special as jsp_special
import sympy as sp

from ..errors import CompileError


def _piecewise(*pairs):
    # pairs: (value, condition) in order; the first true condition wins.
    result = jnp.nan
    for value, condition in reversed(pairs):
        result = jnp.where(condition, value, result)
    return result


def _log(x, base=None):
    return jnp.log(x) if base is None else jnp.log(x) / jnp.log(base)


def _reduce(op):
    return lambda *args: functools.reduce(op, args)


#: sympy function/operator class → JAX function of the translated arguments.
FUNCTIONS: dict[type, Callable] = {
    sp.Add: _reduce(jnp.add),
    sp.Mul: _reduce(jnp.multiply),
    sp.exp: jnp.exp,
    sp.log: _log,
    sp.sin: jnp.sin, sp.cos: jnp.cos, sp.tan: jnp.tan,
    sp.asin: jnp.arcsin, sp.acos: jnp.arccos, sp.atan: jnp.arctan, sp.atan2: jnp.arctan2,
    sp.sinh: jnp.sinh, sp.cosh: jnp.cosh, sp.tanh: jnp.tanh,
    sp.asinh: jnp.arcsinh, sp.acosh: jnp.arccosh, sp.atanh: jnp.arctanh,
    sp.sec: lambda x: 1 / jnp.cos(x), sp.csc: lambda x: 1 / jnp.sin(x), sp.cot: lambda x: 1 / jnp.tan(x),
    sp.asec: lambda x: jnp.arccos(1 / x), sp.acsc: lambda x: jnp.arcsin(1 / x),
    sp.acot: lambda x: jnp.arctan(1 / x),
    sp.sech: lambda x: 1 / jnp.cosh(x), sp.csch: lambda x: 1 / jnp.sinh(x), sp.coth: lambda x: 1 / jnp.tanh(x),
    sp.asech: lambda x: jnp.arccosh(1 / x), sp.acsch: lambda x: jnp.arcsinh(1 / x),
    sp.acoth: lambda x: jnp.arctanh(1 / x),
    sp.Abs: jnp.abs, sp.sign: jnp.sign,
    sp.floor: jnp.floor, sp.ceiling: jnp.ceil,
    sp.Min: _reduce(jnp.minimum), sp.Max: _reduce(jnp.maximum),
    sp.Mod: jnp.mod,
    sp.erf: jsp_special.erf, sp.erfc: jsp_special.erfc,
    sp.gamma: lambda x: jnp.exp(jsp_special.gammaln(x)) * jnp.sign(jsp_special.gamma(x)),
    sp.loggamma: jsp_special.gammaln,
    sp.factorial: lambda x: jnp.exp(jsp_special.gammaln(x + 1)),
    sp.Heaviside: lambda x, h0=0.5: jnp.where(x > 0, 1.0, jnp.where(x < 0, 0.0, h0)),
    sp.Piecewise: _piecewise,
    sp.Lt: jnp.less, sp.Le: jnp.less_equal, sp.Gt: jnp.greater, sp.Ge: jnp.greater_equal,
    sp.Eq: jnp.equal, sp.Ne: jnp.not_equal,
    sp.And: _reduce(jnp.logical_and), sp.Or: _reduce(jnp.logical_or), sp.Not: jnp.logical_not,
    sp.Xor: _reduce(jnp.logical_xor),
}

#: sympy constants (singletons) → numbers.
CONSTANTS = {
    sp.S.Pi: jnp.pi, sp.S.Exp1: jnp.e, sp.S.Infinity: jnp.inf, sp.S.NegativeInfinity: -jnp.inf,
    sp.S.NaN: jnp.nan, sp.S.true: True, sp.S.false: False, sp.S.Half: 0.5,
    sp.S.ImaginaryUnit: None,
}


def _pow(base, exponent: sp.Expr, value_of):
    if exponent.is_Integer:
        n = int(exponent)
        b = value_of(base)
        return b**n if n >= 0 else 1.0 / b ** (-n)  # integer powers stay exact and differentiable at 0
    if exponent == sp.S.Half:
        return jnp.sqrt(value_of(base))
    if exponent == -sp.S.Half:
        return 1.0 / jnp.sqrt(value_of(base))
    if base == sp.S.Exp1:
        return jnp.exp(value_of(exponent))
    return jnp.power(value_of(base), value_of(exponent))


def evaluate(expr: sp.Basic, env: Mapping[sp.Basic, object], memo: dict | None = None):
    """Translate ``expr`` to a JAX value, reading symbols from ``env``.

    Raises :class:`~qsp.errors.CompileError` for a symbol missing from ``env`` or an
    unsupported function, naming it.

    Example:
        >>> import sympy as sp
        >>> x = sp.Symbol("x")
        >>> float(evaluate(sp.exp(x) + x**2, {x: 0.0}))
        1.0
    """
    memo = {} if memo is None else memo

    def value_of(node):
        try:
            return memo[node]
        except KeyError:
            pass
        result = _translate(node)
        memo[node] = result
        return result

    def _translate(node):
        if node in env:
            return env[node]
        if node.is_Symbol:
            raise CompileError(f"the compiler has no value for symbol {node.name!r} in {expr}.")
        if node.is_Integer or node.is_Float or node.is_Rational:
            return float(node)
        if node in CONSTANTS:
            value = CONSTANTS[node]
            if value is None:
                raise CompileError(f"complex number {node} in {expr} is not supported.")
            return value
        if node.is_Pow:
            return _pow(node.base, node.exp, value_of)
        if isinstance(node, sp.Piecewise):
            return _piecewise(*[(value_of(e), value_of(c)) for e, c in node.args])
        if isinstance(node, sp.Mul) and node.args[0] == -1 and len(node.args) == 2:
            return -value_of(node.args[1])
        func = FUNCTIONS.get(type(node)) or FUNCTIONS.get(node.func)
        if func is None:
            raise CompileError(
                f"function {type(node).__name__} in {expr} has no JAX translation; supported: "
                f"{', '.join(sorted(t.__name__ for t in FUNCTIONS))}."
            )
        return func(*[value_of(a) for a in node.args])

    return value_of(expr)


def evaluate_many(exprs, env, memo=None) -> list:
    """Evaluate several expressions sharing one memo (common subtrees computed once)."""
    memo = {} if memo is None else memo
    return [evaluate(e, env, memo) for e in exprs]


class CSEProgram:
    """A list of expressions, reduced by ``sympy.cse`` into shared temporaries.

    ``run(env)`` evaluates the temporaries in order, then the outputs, and returns a
    list of JAX values. Hashing is by identity, so a program can be a static field of a
    jitted module.

    Example:
        >>> import sympy as sp
        >>> x = sp.Symbol("x")
        >>> prog = CSEProgram([sp.exp(x) * 2, sp.exp(x) + 1])
        >>> [float(v) for v in prog.run({x: 0.0})]
        [2.0, 2.0]
    """

    def __init__(self, exprs, optimize: bool = True):
        exprs = [sp.sympify(e) for e in exprs]
        if optimize and exprs:
            self.temporaries, self.outputs = sp.cse(exprs, symbols=sp.numbered_symbols("_cse"), order="none")
        else:
            self.temporaries, self.outputs = [], exprs

    def run(self, env: Mapping) -> list:
        env = dict(env)
        memo: dict = {}
        for sym, expr in self.temporaries:
            env[sym] = evaluate(expr, env, memo)
        return [evaluate(e, env, memo) for e in self.outputs]

    __hash__ = object.__hash__

    def __eq__(self, other):
        return self is other
