"""Ready-made, cited models: the shelf.

Each model is one module exposing

* ``model(**values)`` → a :class:`qsp.Model` (keyword arguments set new defaults, e.g. a
  patient's covariates; some take a structural option first, such as ``approximation``);
* ``default_regimen()`` → a :class:`qsp.Regimen` and ``default_times()`` → an output grid;
* ``PARAMETERS``: the table the model is built from, one :class:`~models._table.Entry` per
  quantity (name, value, unit, meaning, source);
* ``REFERENCE``: the citation, and a module docstring with the equations.

:data:`MODELS` lists them; :func:`load` imports one by name; :func:`catalogue` gathers every
table into rows (the page ``docs/models.md`` is generated from it).

Example:
    >>> import models
    >>> theo = models.load("theophylline")
    >>> theo.model().name
    'theophylline'
    >>> rows = models.catalogue(["warfarin"])
    >>> [(r["name"], r["unit"]) for r in rows]
    [('KA', '1/h'), ('CL', 'L/h'), ('V', 'L')]
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Iterable

#: The shelf, in catalogue order (module names under ``models``).
MODELS = (
    "theophylline",
    "warfarin",
    "phenobarbital",
    "vancomycin_thomson2009",
    "mab_tmdd",
    "alirocumab_djebli2017",
    "protein_binding_albumin",
    "ra_circadian_glucocorticoid",
)


def load(name: str) -> ModuleType:
    """The model module called ``name`` (one of :data:`MODELS`).

    Raises:
        ModelError: ``name`` is not on the shelf (the message lists the shelf).

    Example:
        >>> load("warfarin").REFERENCE.startswith("O'Reilly")
        True
    """
    if name not in MODELS:
        from qsp import ModelError

        raise ModelError(f"no model {name!r} on the shelf; choose one of {', '.join(MODELS)}.")
    return importlib.import_module(f"{__name__}.{name}")


def catalogue(names: Iterable[str] = MODELS) -> list[dict]:
    """One row per table entry of each model: model, name, value, unit, kind, meaning, source.

    ``pandas.DataFrame(models.catalogue())`` gives the whole shelf as a table.

    Example:
        >>> row = catalogue(["vancomycin_thomson2009"])[0]
        >>> row["model"], row["name"], row["value"], row["unit"]
        ('vancomycin_thomson2009', 'CL', 2.99, 'L/h')
    """
    rows = []
    for name in names:
        for e in load(name).PARAMETERS:
            rows.append({"model": name, "name": e.name, "value": e.value, "unit": e.unit, "kind": e.kind,
                         "meaning": e.meaning, "source": e.source})
    return rows


__all__ = ["MODELS", "catalogue", "load"]
