"""A regimen's numbers as arrays, and the regimen rebuilt from (possibly traced) arrays.

Sensitivity analysis and dose optimisation differentiate through :func:`qsp.simulate` with
respect to dose amounts, dose times and infusion durations. ``qsp.simulate`` accepts a
:class:`~qsp.Regimen` whose records hold JAX tracers, so the only work here is bookkeeping:
split a regimen into its *shape* (which records, which species, which expressions — static,
hashable, part of a compilation key) and its *numbers* (arrays, one entry per single dose
after expanding ``additional``), and put them back together.

The static records are stored with every number replaced by a placeholder, so two regimens
that differ only in their numbers share one compiled computation.
"""

from __future__ import annotations

from dataclasses import replace

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from ..dosing import Infusion, Regimen, Reset, as_regimen

#: The numeric fields of a dose record and the placeholder each takes in the static shape.
FIELDS = {"time": 0.0, "amount": 0.0, "duration": 1.0, "rate": 1.0, "interval": 1.0, "lag": 0.0,
          "bioavailability": 1.0}


def _is_number(value) -> bool:
    return value is not None and not isinstance(value, sp.Basic)


class DoseNumbers(eqx.Module):
    """The single doses of a regimen: static records plus one array per numeric field.

    ``numbers["amount"][i]`` is the amount of single dose ``i`` (in the order of
    :meth:`qsp.Regimen.doses`, i.e. with ``additional`` repeats expanded); a field a record
    does not have as a number (a bolus' duration, an expression-valued lag) holds 0 there and
    is ignored by :meth:`regimen`.

    Example:
        >>> import qsp
        >>> A = qsp.Species("A", qsp.Compartment("c", volume=1.0))
        >>> d = DoseNumbers.from_regimen(qsp.Regimen([qsp.Bolus(A, amount=5.0, time=0.0, interval=12.0, additional=1)]))
        >>> [float(t) for t in d.numbers["time"]]
        [0.0, 12.0]
        >>> [float(x.amount) for x in d.with_numbers(amount=[5.0, 7.0]).regimen().doses()]
        [5.0, 7.0]
    """

    records: tuple = eqx.field(static=True)  # placeholder records (numbers replaced)
    numeric: tuple = eqx.field(static=True)  # per record: the fields that are numbers
    numbers: dict

    @classmethod
    def from_regimen(cls, regimen) -> "DoseNumbers":
        """Split a :class:`~qsp.Regimen` (or a record, or a list of records) into shape and numbers."""
        doses = as_regimen(regimen).doses()
        records, numeric = [], []
        numbers = {f: [] for f in FIELDS}
        for d in doses:
            fields = tuple(f for f in FIELDS if hasattr(d, f) and _is_number(getattr(d, f)))
            for f in FIELDS:
                numbers[f].append(getattr(d, f) if f in fields else 0.0)
            records.append(replace(d, **{f: FIELDS[f] for f in fields}))
            numeric.append(fields)
        stacked = {f: _stack(v) for f, v in numbers.items()}
        return cls(tuple(records), tuple(numeric), stacked)

    @property
    def n_doses(self) -> int:
        """Number of single doses (and resets)."""
        return len(self.records)

    def kinds(self) -> tuple[str, ...]:
        """Per single dose: ``"bolus"``, ``"infusion"`` or ``"reset"``."""
        return tuple("reset" if isinstance(r, Reset) else "infusion" if isinstance(r, Infusion) else "bolus"
                     for r in self.records)

    def targets(self) -> tuple[str | None, ...]:
        """Per single dose: the dosed species' name (``None`` for a reset)."""
        return tuple(None if isinstance(r, Reset) else r.target for r in self.records)

    def has(self, field: str, i: int) -> bool:
        """Whether single dose ``i`` has ``field`` as a number (so it can vary)."""
        return field in self.numeric[i]

    def with_numbers(self, **arrays) -> "DoseNumbers":
        """A copy with some fields replaced, e.g. ``with_numbers(amount=a, time=t)`` (arrays of n_doses)."""
        unknown = set(arrays) - set(FIELDS)
        if unknown:
            raise ValueError(f"unknown dose fields {sorted(unknown)}; choose among {list(FIELDS)}.")
        numbers = dict(self.numbers)
        for f, v in arrays.items():
            v = jnp.asarray(v, jnp.float64) if _traced(v) else np.asarray(v, np.float64)
            if v.shape != (self.n_doses,):
                raise ValueError(f"{f} has shape {v.shape}; give one value per single dose ({self.n_doses},).")
            numbers[f] = v
        return DoseNumbers(self.records, self.numeric, numbers)

    def regimen(self) -> Regimen:
        """The regimen with these numbers (JAX tracers allowed: differentiable in them)."""
        out = []
        for i, (record, fields) in enumerate(zip(self.records, self.numeric)):
            out.append(replace(record, **{f: self.numbers[f][i] for f in fields}) if fields else record)
        return Regimen(out)


def _traced(x) -> bool:
    return any(isinstance(leaf, (jax.core.Tracer, jax.Array)) for leaf in jax.tree_util.tree_leaves(x))


def _stack(values):
    if any(_traced(v) for v in values):
        return jnp.stack([jnp.asarray(v, jnp.float64) for v in values]) if values else jnp.zeros((0,))
    return np.asarray([float(v) for v in values], np.float64)
