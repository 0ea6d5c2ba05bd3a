"""Decision variables: which dose numbers vary, and which doses share one variable.

The user names, per dose number (``"amount"``, ``"time"``, ``"duration"``), how it varies:

* ``"each"``: every single dose has its own variable;
* ``"tied"``: one variable for all of them (one amount for every dose; one *shift* that
  moves every dose time together, keeping the intervals; one infusion duration);
* a sequence with one label per single dose (in :meth:`qsp.Regimen.doses` order): doses
  with equal labels share a variable, ``None`` keeps a dose fixed — e.g. ``[0, 1] * 7`` for
  one morning and one evening clock time over a week of twice-daily doses.

Amount and duration variables are the values themselves; a time variable is a shift added
to each member dose's initial time (so tied doses keep their spacing). The decision vector
``x`` holds the time shifts, then the amounts, then the durations, group by group.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import jax.numpy as jnp
import numpy as np

from ..analysis.dose_numbers import DoseNumbers
from ..errors import DosingError

FIELDS = ("time", "amount", "duration")


def _eligible(doses: DoseNumbers, field: str) -> list[bool]:
    kinds = doses.kinds()
    return [kinds[i] != "reset" and doses.has(field, i) for i in range(doses.n_doses)]


def _labels(spec, field: str, doses: DoseNumbers) -> np.ndarray:
    """Group index per single dose (-1: fixed), groups numbered by first appearance."""
    eligible = _eligible(doses, field)
    n = doses.n_doses
    if isinstance(spec, str):
        if spec not in ("each", "tied"):
            raise DosingError(f"decision[{field!r}] = {spec!r}; use 'each', 'tied' or one label per single dose.")
        raw = [(i if spec == "each" else 0) if ok else None for i, ok in enumerate(eligible)]
    else:
        raw = list(spec)
        if len(raw) != n:
            raise DosingError(f"decision[{field!r}] has {len(raw)} labels; the regimen has {n} single doses "
                              "(after expanding additional=): give one label (or None) per dose.")
        for i, (label, ok) in enumerate(zip(raw, eligible)):
            if label is not None and not ok:
                what = "a reset" if doses.kinds()[i] == "reset" else f"a {doses.kinds()[i]}"
                raise DosingError(f"decision[{field!r}]: single dose {i + 1} is {what} without a numeric {field}; "
                                  "label it None.")
    groups: dict = {}
    labels = np.full(n, -1, dtype=np.int64)
    for i, label in enumerate(raw):
        if label is not None:
            labels[i] = groups.setdefault(label, len(groups))
    if not groups:
        raise DosingError(f"decision[{field!r}]: no dose of this regimen has a {field} that can vary "
                          f"({'infusions given by duration' if field == 'duration' else 'doses'} only).")
    return labels


@dataclass(frozen=True)
class Decision:
    """Group labels per field: ``labels[field][i]`` is dose ``i``'s variable (or -1 if fixed).

    Hashable (it is part of a compilation key: the decision's *structure*).

    Example:
        >>> import qsp
        >>> A = qsp.Species("A", qsp.Compartment("c", volume=1.0))
        >>> doses = DoseNumbers.from_regimen(qsp.Bolus(A, amount=1.0, time=0.0, interval=12.0, additional=3))
        >>> d = Decision.parse({"time": [0, 1, 0, 1], "amount": "tied"}, doses)
        >>> d.sizes, d.labels["time"].tolist()
        ({'time': 2, 'amount': 1, 'duration': 0}, [0, 1, 0, 1])
    """

    groups: tuple  # per field (FIELDS order): tuple of group index per single dose (-1 fixed)

    @property
    def labels(self) -> dict:
        """field -> array of group index per single dose (-1: fixed)."""
        return {f: np.asarray(g, np.int64) for f, g in zip(FIELDS, self.groups)}

    @classmethod
    def parse(cls, spec: Mapping | str | None, doses: DoseNumbers) -> "Decision":
        """From ``{"amount": "tied", "time": "each", ...}`` (a bare ``"amount"`` means ``{"amount": "each"}``)."""
        if spec is None:
            spec = {"amount": "tied"}
        if isinstance(spec, str):
            spec = {spec: "each"}
        unknown = [f for f in spec if f not in FIELDS]
        if unknown:
            raise DosingError(f"decision has {unknown[0]!r}; decision variables are among {FIELDS}.")
        if not spec:
            raise DosingError("decision is empty; say what varies, e.g. decision={'amount': 'tied'}.")
        n = doses.n_doses
        labels = [(_labels(spec[f], f, doses) if f in spec else np.full(n, -1, np.int64)) for f in FIELDS]
        return cls(tuple(tuple(int(v) for v in g) for g in labels))

    @property
    def sizes(self) -> dict:
        """Number of variables per field."""
        return {f: max(g, default=-1) + 1 for f, g in zip(FIELDS, self.groups)}

    @property
    def n(self) -> int:
        """Length of the decision vector."""
        return sum(self.sizes.values())

    def slices(self) -> dict:
        """Where each field's variables sit in the decision vector."""
        out, start = {}, 0
        for f in FIELDS:
            out[f] = slice(start, start + self.sizes[f])
            start += self.sizes[f]
        return out

    def members(self, field: str, group: int) -> np.ndarray:
        """Indices of the single doses that share variable ``group`` of ``field``."""
        return np.nonzero(self.labels[field] == group)[0]

    def initial(self, doses: DoseNumbers) -> np.ndarray:
        """The decision vector of the regimen as given: shifts 0, each group's mean amount/duration."""
        x = []
        for f in FIELDS:
            for g in range(self.sizes[f]):
                x.append(0.0 if f == "time" else float(np.mean(np.asarray(doses.numbers[f])[self.members(f, g)])))
        return np.asarray(x, np.float64)

    def apply(self, x, doses: DoseNumbers) -> DoseNumbers:
        """Dose numbers with the decision ``x`` put in (pure JAX; differentiable in ``x``)."""
        out = {}
        for f, where in self.slices().items():
            if where.start == where.stop:
                continue
            labels = self.labels[f]
            varies = labels >= 0
            picked = x[where][np.maximum(labels, 0)]
            base = jnp.asarray(doses.numbers[f], jnp.float64)
            out[f] = base + jnp.where(varies, picked, 0.0) if f == "time" else jnp.where(varies, picked, base)
        return doses.with_numbers(**out)

    def names(self) -> list[str]:
        """Readable names of the variables, e.g. ``time shift of doses 1, 3, 5`` or ``amount of dose 2``."""
        out = []
        for f in FIELDS:
            for g in range(self.sizes[f]):
                idx = self.members(f, g) + 1
                doses = f"dose {idx[0]}" if len(idx) == 1 else f"doses {', '.join(map(str, idx))}"
                out.append(f"{'time shift' if f == 'time' else f} of {doses}")
        return out
