"""PEtab formula text -> sympy, by a small tokenizer and a precedence-climbing parser.

PEtab's ``observableFormula`` and ``noiseFormula`` (and numbers or names in other
columns) are plain text. They are never handed to ``sympify``, ``parse_expr`` or
``eval``: this module reads them token by token and builds sympy nodes from an
allow-list of operators and functions; every name is looked up through a ``resolve``
callback (model symbols, parameter-table parameters, placeholders). Anything else is
refused with a :class:`PetabFormulaError` that names the file, row and column and points
at the offending character.

Grammar (lowest precedence first; PEtab's math)::

    expr    := or
    or      := and ( "||" and )*
    and     := compare ( "&&" compare )*
    compare := sum ( ("<" | "<=" | ">" | ">=" | "==" | "!=") sum )?
    sum     := product ( ("+" | "-") product )*
    product := unary ( ("*" | "/") unary )*
    unary   := ("-" | "+" | "!") unary | power
    power   := atom ( ("^" | "**") unary )?          right-associative: 2^3^2 = 2^9
    atom    := number | name | name "(" expr ("," expr)* ")" | "(" expr ")"

so ``-x^2`` is ``-(x^2)`` and ``2^-1`` is ``0.5``. Functions: see :data:`FUNCTIONS`;
``log(x)`` is the natural logarithm and ``log(x, b)`` the logarithm to base ``b``
(PEtab's convention); constants ``pi``, ``inf`` and ``true``/``false`` (unless a model
symbol has that name).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import sympy as sp

from ..errors import DataError


class PetabError(DataError):
    """A PEtab problem is malformed or uses something qsp does not support.

    Attributes:
        file: the file the problem was found in (or None).
        row: the 1-based line number in that file (the header is line 1), or None.
        column: the column name, or None.
    """

    def __init__(self, message: str, file=None, row=None, column=None):
        where = ", ".join(x for x in (f"{file}" if file else "", f"line {row}" if row else "",
                                      f"column {column!r}" if column else "") if x)
        super().__init__(f"{where}: {message}" if where else message)
        self.file, self.row, self.column = file, row, column


class PetabFormulaError(PetabError):
    """A formula cannot be parsed, or uses a name or function that is not allowed."""


def _piecewise(*args):
    # PEtab/SBML order: value1, condition1, value2, condition2, ..., [otherwise]
    pieces = [(args[i], _condition(args[i + 1])) for i in range(0, len(args) - 1, 2)]
    otherwise = args[-1] if len(args) % 2 else sp.nan
    return sp.Piecewise(*pieces, (otherwise, True))


def _condition(x):
    if isinstance(x, sp.logic.boolalg.Boolean) and not isinstance(x, sp.Expr):
        return x
    return sp.Ne(x, 0)


def _number(x):
    if isinstance(x, sp.logic.boolalg.Boolean) and not isinstance(x, sp.Expr):
        return sp.Piecewise((sp.Integer(1), x), (sp.Integer(0), True))
    return x


def _log(x, base=None):
    return sp.log(x) if base is None else sp.log(x, base)


#: the allowed functions: name -> (sympy constructor, allowed argument counts)
FUNCTIONS: dict[str, tuple[Callable, tuple[int, ...]]] = {
    "exp": (sp.exp, (1,)), "log": (_log, (1, 2)), "ln": (sp.log, (1,)),
    "log10": (lambda x: sp.log(x, 10), (1,)), "log2": (lambda x: sp.log(x, 2), (1,)),
    "sqrt": (sp.sqrt, (1,)), "abs": (sp.Abs, (1,)), "sign": (sp.sign, (1,)),
    "pow": (lambda a, b: a**b, (2,)), "floor": (sp.floor, (1,)), "ceil": (sp.ceiling, (1,)),
    "min": (sp.Min, (2, 3, 4, 5, 6, 7, 8)), "max": (sp.Max, (2, 3, 4, 5, 6, 7, 8)),
    "sin": (sp.sin, (1,)), "cos": (sp.cos, (1,)), "tan": (sp.tan, (1,)),
    "sec": (sp.sec, (1,)), "csc": (sp.csc, (1,)), "cot": (sp.cot, (1,)),
    "arcsin": (sp.asin, (1,)), "arccos": (sp.acos, (1,)), "arctan": (sp.atan, (1,)),
    "sinh": (sp.sinh, (1,)), "cosh": (sp.cosh, (1,)), "tanh": (sp.tanh, (1,)),
    "arcsinh": (sp.asinh, (1,)), "arccosh": (sp.acosh, (1,)), "arctanh": (sp.atanh, (1,)),
    "piecewise": (_piecewise, tuple(range(1, 32))),
}
#: constants, used only where no model symbol or parameter has the name
CONSTANTS = {"pi": sp.pi, "inf": sp.oo, "INF": sp.oo, "Inf": sp.oo, "true": sp.true, "false": sp.false}

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\*\*|<=|>=|==|!=|&&|\|\||[-+*/^(),<>!])
""", re.VERBOSE)

_COMPARE = {"<": sp.Lt, "<=": sp.Le, ">": sp.Gt, ">=": sp.Ge, "==": sp.Eq, "!=": sp.Ne}


@dataclass(frozen=True)
class _Token:
    kind: str  # number, name, op, end
    text: str
    position: int


def tokenize(text: str, error: Callable[[str, int], Exception]) -> list[_Token]:
    """Split ``text`` into tokens; an unknown character raises ``error(message, position)``.

    Example:
        >>> [t.text for t in tokenize("2*x^-1", ValueError)]
        ['2', '*', 'x', '^', '-', '1', '']
    """
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise error(f"unexpected character {text[position]!r}", position)
        if match.lastgroup != "space":
            tokens.append(_Token(match.lastgroup, match.group(), position))
        position = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text, resolve, where):
        self.text, self.resolve, self.where = text, resolve, where
        self.tokens = tokenize(text, self.error)
        self.i = 0

    def error(self, message: str, position: int) -> PetabFormulaError:
        file, row, column = self.where
        caret = f"\n    {self.text}\n    {' ' * position}^"
        return PetabFormulaError(f"formula {self.text!r}: {message} at character {position + 1}.{caret}",
                                 file, row, column)

    @property
    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self, *ops) -> _Token | None:
        token = self.peek
        if token.kind == "op" and token.text in ops:
            self.i += 1
            return token
        return None

    def expect(self, op):
        if self.take(op) is None:
            token = self.peek
            found = "the end of the formula" if token.kind == "end" else repr(token.text)
            raise self.error(f"expected {op!r}, found {found}", token.position)

    def parse(self) -> sp.Basic:
        if self.peek.kind == "end":
            raise self.error("the formula is empty", 0)
        value = self.logical_or()
        if self.peek.kind != "end":
            raise self.error(f"unexpected {self.peek.text!r}", self.peek.position)
        return value

    def logical_or(self):
        value = self.logical_and()
        while self.take("||"):
            value = sp.Or(_condition(value), _condition(self.logical_and()))
        return value

    def logical_and(self):
        value = self.compare()
        while self.take("&&"):
            value = sp.And(_condition(value), _condition(self.compare()))
        return value

    def compare(self):
        value = self.sum()
        token = self.take(*_COMPARE)
        if token:
            value = _COMPARE[token.text](_number(value), _number(self.sum()))
        return value

    def sum(self):
        value = self.product()
        while True:
            token = self.take("+", "-")
            if token is None:
                return value
            other = _number(self.product())
            value = _number(value) + other if token.text == "+" else _number(value) - other

    def product(self):
        value = self.unary()
        while True:
            token = self.take("*", "/")
            if token is None:
                return value
            other = _number(self.unary())
            value = _number(value) * other if token.text == "*" else _number(value) / other

    def unary(self):
        if self.take("-"):
            return -_number(self.unary())
        if self.take("+"):
            return _number(self.unary())
        if self.take("!"):
            return sp.Not(_condition(self.unary()))
        return self.power()

    def power(self):
        base = self.atom()
        if self.take("^", "**"):
            return _number(base) ** _number(self.unary())  # the exponent may carry a sign
        return base

    def atom(self):
        token = self.peek
        if token.kind == "number":
            self.i += 1
            text = token.text
            return sp.Integer(int(text)) if text.isdigit() else sp.Float(float(text))
        if token.kind == "name":
            self.i += 1
            if self.peek.kind == "op" and self.peek.text == "(":
                return self.call(token)
            return self.name(token)
        if self.take("("):
            value = self.logical_or()
            self.expect(")")
            return value
        found = "the end of the formula" if token.kind == "end" else repr(token.text)
        raise self.error(f"expected a number, a name or '(', found {found}", token.position)

    def name(self, token):
        value = self.resolve(token.text)
        if value is not None:
            return value
        if token.text in CONSTANTS:
            return CONSTANTS[token.text]
        raise self.error(f"{token.text!r} is not a model symbol, a parameter of the parameter table or a "
                         "placeholder of this observable", token.position)

    def call(self, token):
        if token.text not in FUNCTIONS:
            raise self.error(f"function {token.text!r} is not allowed; allowed functions: "
                             f"{', '.join(sorted(FUNCTIONS))}", token.position)
        self.expect("(")
        args = [self.logical_or()]
        while self.take(","):
            args.append(self.logical_or())
        self.expect(")")
        function, counts = FUNCTIONS[token.text]
        if len(args) not in counts:
            raise self.error(f"{token.text}() takes {' or '.join(map(str, counts[:3]))}"
                             f"{' ...' if len(counts) > 3 else ''} argument(s), got {len(args)}", token.position)
        if token.text == "piecewise":
            return function(*[_number(a) if i % 2 == 0 else a for i, a in enumerate(args)])
        return function(*[_number(a) for a in args])


def parse_formula(text: str, resolve: Callable[[str], sp.Basic | None], file=None, row=None,
                  column=None) -> sp.Expr:
    """Parse a PEtab formula into a sympy expression.

    Args:
        text: the formula text.
        resolve: ``resolve(name)`` returns the sympy expression a name stands for, or None
            when the name is unknown (then it is refused, unless it is a constant).
        file, row, column: where the text comes from, for error messages.

    Raises:
        PetabFormulaError: a syntax error, an unknown name, or a function outside
            :data:`FUNCTIONS` (the message points at the character).

    Example:
        >>> x, k = sp.Symbol("x"), sp.Symbol("k")
        >>> parse_formula("k * x^2 / (1 + x) - log10(100)", {"x": x, "k": k}.get)
        k*x**2/(x + 1) - 2
        >>> parse_formula("-x^2 + 2^-1", {"x": x}.get)
        1/2 - x**2
    """
    text = str(text).strip()
    return _number(_Parser(text, resolve, (file, row, column)).parse())


def parse_number_or_name(text, file=None, row=None, column=None) -> float | str:
    """A table cell that holds a number or an identifier: the float, or the name (checked).

    Example:
        >>> parse_number_or_name("1e-3"), parse_number_or_name(" k_1 ")
        (0.001, 'k_1')
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    text = str(text).strip()
    try:
        return float(text)
    except ValueError:
        pass
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text):
        return text
    raise PetabError(f"{text!r} is neither a number nor a parameter identifier.", file, row, column)
