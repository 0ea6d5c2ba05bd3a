"""Typed errors of qsp.

Every error names the offending item and says how to fix it. The hierarchy lets a
caller catch broadly (``QSPError``) or narrowly (``UndeclaredSymbolError``)::

    QSPError
    ├── ModelError          a model that cannot be built or validated
    │   ├── UndeclaredSymbolError
    │   └── DuplicateNameError
    ├── UnitError           inconsistent or unconvertible units
    ├── CompileError        a model expression the compiler cannot translate
    ├── DosingError         an impossible dose record or regimen
    ├── SolverError         an integration that failed
    └── DataError           a malformed dataset (names row and column)

Example:
    >>> import qsp
    >>> try:
    ...     qsp.Compartment("central", volume=-1.0)
    ... except qsp.errors.ModelError as err:
    ...     print(type(err).__name__)
    ModelError
"""

from __future__ import annotations


class QSPError(Exception):
    """Base class of every error raised by qsp."""


class ModelError(QSPError, ValueError):
    """A model, or a piece of one, is malformed."""


class UndeclaredSymbolError(ModelError):
    """An expression uses a symbol that the model does not declare."""


class DuplicateNameError(ModelError):
    """Two different objects in a model share one name."""


class UnitError(QSPError, ValueError):
    """Units are inconsistent or cannot be converted."""


class CompileError(QSPError, ValueError):
    """The compiler met an expression it cannot translate to JAX."""


class DosingError(QSPError, ValueError):
    """A dose record or regimen is impossible (negative amount, missing target...)."""


class SolverError(QSPError, RuntimeError):
    """Numerical integration failed."""


class DataError(QSPError, ValueError):
    """A dataset is malformed; the message names the row and the column."""


__all__ = [
    "QSPError",
    "ModelError",
    "UndeclaredSymbolError",
    "DuplicateNameError",
    "UnitError",
    "CompileError",
    "DosingError",
    "SolverError",
    "DataError",
]
