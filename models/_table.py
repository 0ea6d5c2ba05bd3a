"""Parameter tables: the one source of truth each shelf model is built from.

A model module lists its quantities as :class:`Entry` rows (name, value, unit, meaning,
source); :func:`build_parameters` turns the rows into :class:`qsp.Parameter` objects,
applying the caller's overrides, and the catalogue page (``docs/models.md``) is generated
from the same rows. So the documented value, the default of the model and the value a
test compares against a publication can never drift apart.

Covariates (body weight, creatinine clearance, albumin...) are rows of kind
``"covariate"``: they become ordinary parameters of the model, so a virtual population can
give each subject its own value without recompiling, and their table value is the
reference (or default) patient.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Iterable, Mapping

import qsp

KINDS = ("parameter", "covariate", "constant")


@dataclass(frozen=True)
class Entry:
    """One row of a model's parameter table.

    Attributes:
        name: the parameter's name in the model (an identifier).
        value: the default value (published estimate, or the reference patient's covariate).
        unit: conventional unit text (``"L/h"``, ``"1/h"``, ``"mg"``, ``"nM"``; ``"1"`` for
            dimensionless), read by the units checker.
        meaning: what it is, in words.
        source: where the value comes from: the file under ``shared/reference/`` and the
            publication, or why it is illustrative.
        kind: ``"parameter"`` (a model parameter), ``"covariate"`` (a patient property,
            also a model parameter) or ``"constant"`` (a fixed physical constant such as a
            molecular weight).

    Example:
        >>> Entry("CL", 2.99, "L/h", "clearance", "Thomson 2009").kind
        'parameter'
    """

    name: str
    value: float
    unit: str
    meaning: str
    source: str
    kind: str = "parameter"

    def __post_init__(self):
        if not self.name.isidentifier():
            raise qsp.ModelError(f"table entry name {self.name!r} is not an identifier.")
        if self.kind not in KINDS:
            raise qsp.ModelError(f"table entry {self.name!r} has kind {self.kind!r}; use one of {KINDS}.")
        if not isinstance(self.value, numbers.Real) or isinstance(self.value, bool):
            raise qsp.ModelError(f"table entry {self.name!r} has value {self.value!r}; it must be a number.")

    def parameter(self, value: float | None = None) -> qsp.Parameter:
        """The :class:`qsp.Parameter` for this row (``value`` overrides the default)."""
        return qsp.Parameter(self.name, self.value if value is None else value, unit=self.unit,
                             description=self.meaning)


def table_values(table: Iterable[Entry]) -> dict[str, float]:
    """Name → default value of every row.

    Example:
        >>> table_values([Entry("V", 30.0, "L", "volume", "x")])
        {'V': 30.0}
    """
    return {e.name: float(e.value) for e in table}


def build_parameters(table: Iterable[Entry], overrides: Mapping[str, float] | None = None,
                     model_name: str = "model") -> dict[str, qsp.Parameter]:
    """Name → :class:`qsp.Parameter` for every row, with ``overrides`` as new defaults.

    Raises:
        ModelError: an override names no row of the table (the message lists the rows).

    Example:
        >>> p = build_parameters([Entry("WT", 70.0, "kg", "body weight", "x", "covariate")], {"WT": 82.0})
        >>> p["WT"].value, p["WT"].unit
        (82.0, 'kg')
    """
    table = tuple(table)
    names = [e.name for e in table]
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise qsp.ModelError(
            f"{model_name}: no parameter or covariate named {', '.join(map(repr, unknown))}; "
            f"the table has {', '.join(names)}."
        )
    return {e.name: e.parameter(overrides.get(e.name)) for e in table}


def entry(table: Iterable[Entry], name: str) -> Entry:
    """The row called ``name``.

    Example:
        >>> entry([Entry("V", 30.0, "L", "volume", "x")], "V").unit
        'L'
    """
    for e in table:
        if e.name == name:
            return e
    raise KeyError(name)
