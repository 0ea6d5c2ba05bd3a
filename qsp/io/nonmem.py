"""Read and write NONMEM-style datasets (one row per event record).

:func:`read_nonmem` turns a NONMEM data file (or a pandas DataFrame) into a
:class:`NonmemDataset`: one :class:`Subject` per individual, each with a
:class:`~qsp.dosing.Regimen` of :class:`~qsp.dosing.Bolus`, :class:`~qsp.dosing.Infusion`
and :class:`~qsp.dosing.Reset` records, the output times to simulate at, the observed
values and the covariates. :func:`write_nonmem` writes such subjects back.

Columns (matched case-insensitively): ``ID``, ``TIME`` (required), ``AMT``, ``CMT``,
``EVID``, ``MDV``, ``RATE``, ``II``, ``ADDL``, ``SS``, ``DV`` (optional) and covariates
(every other column, unless ``covariates=`` names them). ``.`` (or an empty cell, ``NA``)
means missing; missing ``AMT``, ``RATE``, ``II``, ``ADDL``, ``SS`` mean 0.

Record semantics follow NONMEM (PREDPP):

* ``EVID`` 0 observation, 1 dose, 2 other-type event (an output time, nothing observed),
  3 reset (every state back to its initial value), 4 reset then dose. Without an ``EVID``
  column: ``AMT > 0`` is a dose, ``MDV = 1`` without a dose is EVID 2, the rest EVID 0.
* ``MDV`` without an ``MDV`` column is 0 for an observation row with a ``DV`` and 1
  otherwise (a row with nothing measured is never an observation).
* ``RATE`` 0 bolus, > 0 infusion at that rate, -1 rate modelled (``modeled_rate``,
  NONMEM's Rn), -2 duration modelled (``modeled_duration``, NONMEM's Dn).
* ``II``/``ADDL``: ``additional`` more doses every ``interval``; ``SS`` 1 resets the
  state to the steady state of the dose repeated every ``II``, 2 adds it.
* ``SS`` 1 or 2 with ``AMT = 0``, ``RATE > 0``, ``II = 0`` is NONMEM's steady-state
  *constant* infusion. qsp's records have no endless infusion, so it is read as an
  :class:`~qsp.dosing.Infusion` at ``RATE`` whose duration equals its ``interval`` ``D``
  (a periodic infusion that never pauses has exactly the constant infusion's steady
  state), lasting until the subject's next reset (EVID 3/4) or SS=1 dose, else its last
  record (``D = 1`` when there is no later time). ``lag`` and ``bioavailability`` do not
  apply to it (as in NONMEM, where F scales an amount and this dose has none).
  :func:`write_nonmem` recognises the form and writes it back as ``AMT = 0, II = 0``.
* Each dose gets the ``lag`` (ALAGn) and ``bioavailability`` (Fn) of its compartment;
  these may be sympy expressions of model parameters. NONMEM evaluates them with the
  dose record's data items: :attr:`Subject.dose_covariates` keeps those values and
  :meth:`Subject.substitute_covariates` puts them into the records.
* A record's time is never before the previous record's time in the same subject.
  NONMEM lets time restart at an EVID 3/4 reset; qsp simulates a subject on one time
  axis, so that is an error here too (shift the later times, or give the occasion its own
  ``ID``).
* Rows of one ``ID`` must be contiguous (NONMEM would read a repeated ``ID`` as a new
  individual).

Every problem raises :class:`~qsp.errors.DataError` naming the data row (1-based, header
not counted), the ``ID``, the column, and the fix. Nothing is dropped silently.
"""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import sympy as sp

from ..dosing import Bolus, Infusion, Regimen, Reset
from ..errors import DataError, DosingError
from ..model.symbols import Species

__all__ = ["NonmemDataset", "Subject", "read_nonmem", "write_nonmem"]

STANDARD_COLUMNS = ("ID", "TIME", "AMT", "CMT", "EVID", "MDV", "RATE", "II", "ADDL", "SS", "DV")
_MISSING_TEXT = {"", ".", "na", "nan"}
_DOSE_EVIDS = (1, 4)
_STATE_EVENT_EVIDS = (1, 3, 4)  # rows that change the state at their time


# ----------------------------------------------------------------------------- records


def _float_array(values, n=None, fill=np.nan) -> np.ndarray:
    if values is None:
        return np.full(n, fill, dtype=float)
    return np.asarray(values, dtype=float).reshape(-1)


@dataclass(frozen=True, eq=False)
class Subject:
    """One individual of a NONMEM dataset: a regimen, output times and observations.

    Arrays ``times``, ``dv``, ``mdv``, ``cmt``, ``before_dose``, ``evid``, ``rows`` and
    each array of ``covariates`` have one entry per output row (EVID 0 and 2 rows, in
    file order); ``dose_covariates`` and ``dose_rows`` have one entry per record of
    ``regimen.records``.

    Attributes:
        id: the NONMEM ``ID`` (an int when integral).
        regimen: the dose and reset records, in file order.
        times: output times to simulate at (EVID 0 and 2 rows).
        dv: observed values, NaN where missing.
        mdv: 1 where no value was observed (``MDV``), else 0.
        cmt: observed compartment name per row, or None (object array).
        before_dose: True for a row at the same time as a dose or reset row that comes
            *after* it in the file: the observation is taken before that event (a trough).
        evid: 0 (observation) or 2 (other-type event) per row.
        rows: 0-based data row number of each output row, for messages.
        covariates: name -> value per output row.
        baseline_covariates: name -> value on the subject's first row.
        dose_covariates: name -> value on the data row of each regimen record (NONMEM
            evaluates ALAG, F, R and D with these).
        dose_rows: 0-based data row number of each regimen record.

    Missing fields get defaults, so a subject can be built by hand for
    :func:`write_nonmem`.

    Example:
        >>> from qsp.dosing import Bolus, Regimen
        >>> s = Subject(id=1, regimen=Regimen([Bolus("central", 100.0)]), times=[1.0, 2.0], dv=[5.1, 4.2])
        >>> s.n_observations, s.mdv.tolist()
        (2, [0, 0])
    """

    id: Any
    regimen: Regimen = field(default_factory=Regimen)
    times: Any = None
    dv: Any = None
    mdv: Any = None
    cmt: Any = None
    before_dose: Any = None
    covariates: Mapping[str, Any] = field(default_factory=dict)
    baseline_covariates: Mapping[str, float] = field(default_factory=dict)
    rows: Any = None
    evid: Any = None
    dose_covariates: Mapping[str, Any] = field(default_factory=dict)
    dose_rows: Any = None

    def __post_init__(self):
        regimen = self.regimen
        if not isinstance(regimen, Regimen):
            from ..dosing import as_regimen
            regimen = as_regimen(regimen)
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        set_("regimen", regimen)
        times = np.asarray([] if self.times is None else self.times, dtype=float).reshape(-1)
        n = times.size
        set_("times", times)
        dv = _float_array(self.dv, n)
        set_("dv", dv)
        mdv = (np.where(np.isnan(dv), 1, 0) if self.mdv is None else np.asarray(self.mdv)).astype(int).reshape(-1)
        set_("mdv", mdv)
        cmt = np.empty(n, dtype=object)
        if self.cmt is not None:
            cmt[:] = [None if c is None else (c.name if isinstance(c, Species) else str(c)) for c in self.cmt]
        set_("cmt", cmt)
        set_("before_dose", np.zeros(n, dtype=bool) if self.before_dose is None
             else np.asarray(self.before_dose, dtype=bool).reshape(-1))
        set_("evid", np.zeros(n, dtype=int) if self.evid is None else np.asarray(self.evid, dtype=int).reshape(-1))
        set_("rows", np.arange(n) if self.rows is None else np.asarray(self.rows, dtype=int).reshape(-1))
        n_rec = len(regimen.records)
        set_("dose_rows", np.arange(n_rec) if self.dose_rows is None
             else np.asarray(self.dose_rows, dtype=int).reshape(-1))
        set_("covariates", {str(k): np.asarray(v).reshape(-1) for k, v in dict(self.covariates).items()})
        set_("dose_covariates", {str(k): np.asarray(v).reshape(-1) for k, v in dict(self.dose_covariates).items()})
        set_("baseline_covariates", dict(self.baseline_covariates))
        for name in ("dv", "mdv", "cmt", "before_dose", "evid", "rows"):
            if getattr(self, name).size != n:
                raise DataError(f"Subject {self.id}: {name} has {getattr(self, name).size} entries but there are "
                                f"{n} times; give one per output time.")
        if not set(np.unique(self.evid)) <= {0, 2}:
            raise DataError(f"Subject {self.id}: evid must be 0 (observation) or 2 (other event) per output time.")
        for key, values in self.covariates.items():
            if values.size != n:
                raise DataError(f"Subject {self.id}: covariate {key!r} has {values.size} values but there are "
                                f"{n} times; give one per output time.")
        if self.dose_rows.size != n_rec:
            raise DataError(f"Subject {self.id}: dose_rows has {self.dose_rows.size} entries for {n_rec} records.")
        for key, values in self.dose_covariates.items():
            if values.size != n_rec:
                raise DataError(f"Subject {self.id}: dose covariate {key!r} has {values.size} values for "
                                f"{n_rec} regimen records; give one per record.")

    @property
    def n_observations(self) -> int:
        """Number of output rows with an observed value (MDV = 0)."""
        return int(np.sum(self.mdv == 0))

    @property
    def observed(self) -> np.ndarray:
        """Boolean mask of the output rows with an observed value (MDV = 0)."""
        return self.mdv == 0

    def substitute_covariates(self) -> Regimen:
        """The regimen with covariate symbols in lag, F, rate and duration replaced by the dose rows' values.

        NONMEM evaluates ALAGn, Fn, Rn and Dn with the data items of the dose record.
        A symbol whose name is a covariate column (e.g. ``qsp.Parameter("lagt", 0.0)``
        with a ``lagt`` column) is replaced by that column's value on the record's row;
        other symbols (model parameters) stay.

        Example:
            >>> import pandas as pd, qsp
            >>> df = pd.DataFrame({"ID": [1, 1], "TIME": [0.0, 1.0], "AMT": [100, 0], "EVID": [1, 0],
            ...                    "DV": [".", 3.2], "LAGT": [0.5, 0.0]})
            >>> s = read_nonmem(df, ["central"], lag={1: qsp.Parameter("LAGT", 0.0)})[1]
            >>> s.regimen.records[0].lag, s.substitute_covariates().records[0].lag
            (LAGT, 0.5)
        """
        from dataclasses import replace

        out = []
        for i, rec in enumerate(self.regimen.records):
            if isinstance(rec, Reset):
                out.append(rec)
                continue
            changes = {}
            for attr in ("lag", "bioavailability", "rate", "duration"):
                value = getattr(rec, attr, None)
                if isinstance(value, sp.Basic) and not value.is_number:
                    subs = {s: float(self.dose_covariates[s.name][i]) for s in value.free_symbols
                            if getattr(s, "name", None) in self.dose_covariates}
                    if subs:
                        new = value.xreplace({k: sp.Float(v) for k, v in subs.items()})
                        changes[attr] = float(new) if new.is_number else new
            out.append(replace(rec, **changes) if changes else rec)
        return Regimen(out)

    def __repr__(self):
        return (f"Subject(id={self.id!r}, records={len(self.regimen.records)}, times={self.times.size}, "
                f"observations={self.n_observations})")


@dataclass(frozen=True, eq=False)
class NonmemDataset:
    """The subjects of a NONMEM dataset, in file order.

    Attributes:
        subjects: one :class:`Subject` per ``ID``.
        compartments: NONMEM compartment number -> name used to read ``CMT`` (None when
            ``CMT`` held names).
        covariate_names: the covariate columns read.

    Index it by ``ID`` (``dataset[12]``), iterate over subjects, ``len()`` counts them.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"ID": [1, 1, 2, 2], "TIME": [0, 2, 0, 2], "AMT": [100, 0, 50, 0],
        ...                    "EVID": [1, 0, 1, 0], "DV": [".", 4.1, ".", 2.0]})
        >>> data = read_nonmem(df, ["central"])
        >>> len(data), data.ids, data[2].regimen.records[0].amount
        (2, (1, 2), 50.0)
    """

    subjects: tuple
    compartments: Mapping[int, str] | None = None
    covariate_names: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "subjects", tuple(self.subjects))
        index = {}
        for s in self.subjects:
            if s.id in index:
                raise DataError(f"two subjects have ID {s.id!r}; IDs must be unique.")
            index[s.id] = s
        object.__setattr__(self, "_index", index)

    @property
    def ids(self) -> tuple:
        """The subjects' IDs, in order."""
        return tuple(s.id for s in self.subjects)

    def __len__(self) -> int:
        return len(self.subjects)

    def __iter__(self):
        return iter(self.subjects)

    def __getitem__(self, id) -> Subject:
        index = self._index
        if id in index:
            return index[id]
        raise KeyError(f"no subject with ID {id!r}; IDs are {', '.join(map(repr, self.ids[:20]))}"
                       f"{' ...' if len(self.ids) > 20 else ''}.")

    def __contains__(self, id) -> bool:
        return id in self._index

    def to_pandas(self):
        """The dataset as a NONMEM-format pandas DataFrame (see :func:`write_nonmem`).

        Example:
            >>> import pandas as pd
            >>> df = pd.DataFrame({"ID": [1, 1], "TIME": [0, 2], "AMT": [100, 0], "EVID": [1, 0], "DV": [".", 4.1]})
            >>> list(read_nonmem(df, ["central"]).to_pandas()["EVID"])
            [1, 0]
        """
        return write_nonmem(self)

    def __repr__(self):
        return f"NonmemDataset({len(self)} subjects, covariates={list(self.covariate_names)})"


# ----------------------------------------------------------------------------- reading helpers


def _is_missing(v) -> bool:
    if v is None:
        return True
    if isinstance(v, str):
        return v.strip().lower() in _MISSING_TEXT
    if isinstance(v, (float, np.floating)):
        return math.isnan(v)
    try:
        import pandas as pd
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _fmt(v) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return repr(v) if isinstance(v, str) else str(v)


class _Table:
    """Column access with row-naming errors."""

    def __init__(self, df, source: str | None):
        self.df = df
        self.n = len(df)
        self.prefix = f"{source}: " if source else ""
        self.columns: dict[str, str] = {}
        for c in df.columns:
            key = str(c).strip().upper()
            if key in self.columns:
                raise DataError(f"{self.prefix}columns {self.columns[key]!r} and {c!r} are the same NONMEM column "
                                "(names are case-insensitive); rename or drop one.")
            self.columns[key] = c
        self.ids: list | None = None

    def where(self, r: int) -> str:
        who = f" (ID {_fmt(self.ids[r])})" if self.ids is not None else ""
        return f"data row {r + 1}{who}"

    def error(self, r: int, column: str, message: str) -> DataError:
        return DataError(f"{self.prefix}{self.where(r)}, column {column!r}: {message}")

    def name(self, key: str) -> str:
        return str(self.columns.get(key, key))

    def raw(self, key: str) -> np.ndarray | None:
        c = self.columns.get(key)
        return None if c is None else self.df[c].to_numpy(dtype=object)

    def numeric(self, key: str, *, default: float | None = None, covariate=False) -> np.ndarray | None:
        """Floats with NaN for missing (or ``default``); DataError on text or infinity."""
        raw = self.raw(key)
        if raw is None:
            return None if default is None else np.full(self.n, default, dtype=float)
        return self._parse(raw, self.name(key), default=default, covariate=covariate)

    def _parse(self, raw, column, *, default=None, covariate=False):
        import pandas as pd

        raw = np.asarray(raw, dtype=object)
        values = pd.to_numeric(pd.Series(raw, dtype=object), errors="coerce").to_numpy(dtype=float, copy=True)
        missing = np.zeros(values.size, dtype=bool)
        for r in np.flatnonzero(~np.isfinite(values)):  # few cells: check them one by one
            v = raw[r]
            if _is_missing(v):
                missing[r] = True
                values[r] = np.nan
            else:
                hint = ("NONMEM data are numeric: encode it as a number, or leave the column out with "
                        "covariates=[...]" if covariate else "give a number, or '.' for missing")
                raise self.error(int(r), column, f"value {v!r} is not a finite number; {hint}.")
        if default is not None:
            values = np.where(missing, default, values)
        return values

    def whole(self, values: np.ndarray, key: str, r: int) -> int:
        v = values[r]
        if not float(v).is_integer():
            raise self.error(r, self.name(key), f"value {_fmt(float(v))} must be a whole number.")
        return int(v)


def _compartment_table(compartments):
    """number -> name, name -> target (Species or name)."""
    if compartments is None:
        return None, {}
    if isinstance(compartments, (str, Species)):
        compartments = [compartments]
    if isinstance(compartments, Mapping):
        items = list(compartments.items())
    else:
        items = list(enumerate(compartments, start=1))
    numbers_, targets = {}, {}
    for num, c in items:
        if isinstance(num, bool) or not isinstance(num, numbers.Integral) or num < 1:
            raise DataError(f"compartments: key {num!r} must be a NONMEM compartment number (an int ≥ 1).")
        if isinstance(c, Species):
            name = c.name
        elif isinstance(c, str) and c.isidentifier():
            name = c
        else:
            raise DataError(f"compartments: entry {num} is {c!r}; give a qsp.Species or a species name.")
        if name in targets and numbers_.get(num) != name:
            raise DataError(f"compartments: {name!r} appears twice; each compartment needs its own number.")
        numbers_[int(num)] = name
        targets[name] = c
    return numbers_, targets


def _per_compartment(mapping, what, numbers_, targets) -> dict[str, Any]:
    if not mapping:
        return {}
    out = {}
    for key, value in dict(mapping).items():
        if isinstance(key, Species):
            name = key.name
        elif isinstance(key, str):
            name = key
        elif isinstance(key, numbers.Integral) and not isinstance(key, bool):
            if numbers_ is None or int(key) not in numbers_:
                known = "none given" if numbers_ is None else ", ".join(f"{k}={v!r}" for k, v in numbers_.items())
                raise DataError(f"{what}: compartment number {key} is unknown (compartments: {known}); "
                                "pass compartments=[...] naming them in NONMEM order, or key by name.")
            name = numbers_[int(key)]
        else:
            raise DataError(f"{what}: key {key!r} must be a compartment number, name or qsp.Species.")
        if targets and name not in targets:
            raise DataError(f"{what}: compartment {name!r} is not among compartments {list(targets)}.")
        if isinstance(value, sp.Basic):
            if value.is_number:
                value = float(value)
        elif isinstance(value, numbers.Real) and not isinstance(value, bool):
            value = float(value)
        else:
            raise DataError(f"{what}[{key!r}] is {value!r}; give a number or a sympy expression of model "
                            "parameters (e.g. qsp.Parameter('ALAG1', 0.5)).")
        out[name] = value
    return out


def _describe_compartments(numbers_) -> str:
    return ", ".join(f"{k} = {v!r}" for k, v in sorted(numbers_.items()))


# ----------------------------------------------------------------------------- read


def read_nonmem(
    data,
    compartments: Sequence[str | Species] | Mapping[int, str | Species] | None = None,
    *,
    lag: Mapping | None = None,
    bioavailability: Mapping | None = None,
    modeled_rate: Mapping | None = None,
    modeled_duration: Mapping | None = None,
    covariates: Sequence[str] | None = None,
) -> NonmemDataset:
    """Read a NONMEM dataset (CSV path or pandas DataFrame) into subjects with regimens.

    Args:
        data: a CSV file path, or a pandas DataFrame.
        compartments: the model's compartments in NONMEM order (``CMT = 1`` is the first),
            as species or names, or a mapping number -> species/name. Needed when ``CMT``
            holds numbers; with a single compartment a missing ``CMT`` means it.
        lag: compartment (number, name or species) -> absorption lag, a number or a sympy
            expression of model parameters (NONMEM ALAGn).
        bioavailability: compartment -> fraction absorbed F (NONMEM Fn).
        modeled_rate: compartment -> infusion rate for ``RATE = -1`` rows (NONMEM Rn).
        modeled_duration: compartment -> infusion duration for ``RATE = -2`` rows (NONMEM Dn).
        covariates: the covariate columns to keep (default: every non-NONMEM column).

    Returns:
        a :class:`NonmemDataset`.

    Raises:
        DataError: naming the data row, the ``ID`` and the column, for a malformed file.

    Example:
        >>> import pandas as pd, qsp
        >>> df = pd.DataFrame({
        ...     "ID":   [1, 1, 1, 1],
        ...     "TIME": [0.0, 0.0, 1.0, 12.0],
        ...     "AMT":  [".", 100, ".", "."],
        ...     "CMT":  [2, 1, 2, 2],
        ...     "EVID": [0, 1, 0, 0],
        ...     "II":   [0, 12, 0, 0],
        ...     "ADDL": [0, 3, 0, 0],
        ...     "DV":   [".", ".", 3.1, 1.2],
        ...     "WT":   [70, 70, 70, 70]})
        >>> s = read_nonmem(df, ["depot", "central"], lag={"depot": qsp.Parameter("ALAG1", 0.5)})[1]
        >>> dose = s.regimen.records[0]
        >>> type(dose).__name__, dose.target, dose.amount, dose.interval, dose.additional, dose.lag
        ('Bolus', 'depot', 100.0, 12.0, 3, ALAG1)
        >>> s.times.tolist(), s.mdv.tolist(), s.before_dose.tolist(), s.baseline_covariates
        ([0.0, 1.0, 12.0], [1, 0, 0], [True, False, False], {'WT': 70.0})
    """
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        df, source = data, None
    elif isinstance(data, (str, os.PathLike)):
        source = os.fspath(data)
        try:
            df = pd.read_csv(source, dtype=str, keep_default_na=False, skipinitialspace=True)
        except FileNotFoundError:
            raise DataError(f"{source}: no such file.") from None
    else:
        raise DataError(f"read_nonmem needs a CSV path or a pandas DataFrame, not {type(data).__name__}.")

    tab = _Table(df, source)
    for key in ("ID", "TIME"):
        if key not in tab.columns:
            raise DataError(f"{tab.prefix}the dataset has no {key} column (columns: {list(map(str, df.columns))}); "
                            f"NONMEM datasets need ID and TIME.")
    if tab.n == 0:
        raise DataError(f"{tab.prefix}the dataset has no data rows.")

    numbers_, targets = _compartment_table(compartments)
    lag_ = _per_compartment(lag, "lag", numbers_, targets)
    f_ = _per_compartment(bioavailability, "bioavailability", numbers_, targets)
    rate_ = _per_compartment(modeled_rate, "modeled_rate", numbers_, targets)
    dur_ = _per_compartment(modeled_duration, "modeled_duration", numbers_, targets)
    name_to_number = {v: k for k, v in (numbers_ or {}).items()}

    # --- ID first, so that later messages can name it
    id_raw = tab.raw("ID")
    id_vals = tab._parse(id_raw, tab.name("ID"))
    for r in np.flatnonzero(np.isnan(id_vals)):
        raise tab.error(int(r), tab.name("ID"), "ID is missing; every row needs the subject's ID.")
    tab.ids = [int(v) if float(v).is_integer() else float(v) for v in id_vals]

    time = tab.numeric("TIME")
    amt_given = tab.numeric("AMT")
    amt_missing = np.isnan(amt_given) if amt_given is not None else np.ones(tab.n, dtype=bool)
    amt = np.where(amt_missing, 0.0, amt_given) if amt_given is not None else np.zeros(tab.n)
    rate = tab.numeric("RATE", default=0.0)
    ii = tab.numeric("II", default=0.0)
    addl = tab.numeric("ADDL", default=0.0)
    ss = tab.numeric("SS", default=0.0)
    evid_col = tab.numeric("EVID")
    mdv_col = tab.numeric("MDV")
    dv = tab.numeric("DV")
    if dv is None:
        dv = np.full(tab.n, np.nan)
    cmt_raw = tab.raw("CMT")
    cmt_num = None
    if cmt_raw is not None:
        cmt_num = pd.to_numeric(pd.Series(cmt_raw, dtype=object), errors="coerce").to_numpy(dtype=float)
        cmt_raw = np.array([v.strip() if isinstance(v, str) else v for v in cmt_raw], dtype=object)

    # --- covariates
    if covariates is None:
        cov_cols = [c for key, c in tab.columns.items() if key not in STANDARD_COLUMNS]
    else:
        if isinstance(covariates, str):
            covariates = [covariates]
        cov_cols = []
        for name in covariates:
            if name in df.columns:
                cov_cols.append(name)
            elif str(name).strip().upper() in tab.columns:
                cov_cols.append(tab.columns[str(name).strip().upper()])
            else:
                raise DataError(f"{tab.prefix}covariate column {name!r} is not in the dataset "
                                f"(columns: {list(map(str, df.columns))}).")
    cov_values = {str(c): tab._parse(df[c].to_numpy(dtype=object), str(c), covariate=covariates is None)
                  for c in cov_cols}

    # --- per-row checks that need no subject context
    evid = np.zeros(tab.n, dtype=int)
    mdv = np.zeros(tab.n, dtype=int)
    cmt_name: list[str | None] = [None] * tab.n
    C = tab.name  # original column names for messages

    def resolve_cmt(r: int) -> str | None:
        if cmt_raw is None or _is_missing(cmt_raw[r]):
            return None
        if not math.isnan(cmt_num[r]):
            v = cmt_num[r]
            if not float(v).is_integer():
                raise tab.error(r, C("CMT"), f"CMT {_fmt(float(v))} must be a whole compartment number.")
            v = int(v)
            if v == 0:
                return None  # NONMEM: the default compartment
            if v < 0:
                raise tab.error(r, C("CMT"), f"CMT {v} (NONMEM: turn compartment {-v} off) is not supported; "
                                "model the switch explicitly, or use a positive CMT.")
            if numbers_ is None:
                raise tab.error(r, C("CMT"), f"CMT is the number {v}, but no compartments were given; pass "
                                "compartments=['depot', 'central', ...] naming the model's compartments in "
                                "NONMEM order (CMT 1 is the first).")
            if v not in numbers_:
                raise tab.error(r, C("CMT"), f"CMT {v} is not a known compartment ({_describe_compartments(numbers_)});"
                                " fix the CMT value or add the compartment to compartments=.")
            return numbers_[v]
        name = str(cmt_raw[r])
        if targets:
            if name not in targets:
                raise tab.error(r, C("CMT"), f"CMT {name!r} is not a known compartment ({list(targets)}); use one of "
                                "them or add it to compartments=.")
        elif not name.isidentifier():
            raise tab.error(r, C("CMT"), f"CMT {name!r} is neither a compartment number nor a species name.")
        return name

    for r in range(tab.n):
        t = time[r]
        if math.isnan(t):
            raise tab.error(r, C("TIME"), "TIME is missing; every record needs a time.")
        if t < 0:
            raise tab.error(r, C("TIME"), f"TIME {_fmt(float(t))} is negative; times must be ≥ 0.")
        has_dv = not math.isnan(dv[r])
        m = None
        if mdv_col is not None and not math.isnan(mdv_col[r]):
            m = tab.whole(mdv_col, "MDV", r)
            if m not in (0, 1):
                raise tab.error(r, C("MDV"), f"MDV {m} must be 0 (DV observed) or 1 (no DV).")
        for key, values in (("AMT", amt), ("II", ii), ("ADDL", addl), ("SS", ss)):
            if values[r] < 0:
                raise tab.error(r, C(key), f"{key} {_fmt(float(values[r]))} is negative; it must be ≥ 0.")
        if evid_col is not None and not math.isnan(evid_col[r]):
            e = tab.whole(evid_col, "EVID", r)
            if e not in (0, 1, 2, 3, 4):
                raise tab.error(r, C("EVID"), f"EVID {e} is unknown; use 0 (observation), 1 (dose), 2 (other event), "
                                "3 (reset) or 4 (reset and dose).")
        else:
            if evid_col is not None:
                raise tab.error(r, C("EVID"), "EVID is missing; give 0 (observation), 1 (dose), 2, 3 or 4.")
            # NONMEM without an EVID column
            is_dose = amt[r] > 0 or (ss[r] > 0 and rate[r] > 0)
            if is_dose and m == 0:
                raise tab.error(r, C("AMT"), f"AMT {_fmt(float(amt[r]))} on a row with MDV=0 (an observation); "
                                "put the dose on its own row with MDV=1, or add an EVID column.")
            e = 1 if is_dose else (2 if m == 1 else 0)
        evid[r] = e
        if e in (0, 2, 3):
            what = {0: "an observation (EVID 0)", 2: "an other-type event (EVID 2)", 3: "a reset (EVID 3)"}[e]
            fix = {0: "put the dose on its own row with EVID=1", 2: "use EVID=1 for a dose",
                   3: "use EVID=4 to reset and then dose"}[e]
            if amt[r] != 0:
                raise tab.error(r, C("AMT"), f"AMT {_fmt(float(amt[r]))} on {what}; NONMEM requires AMT=0 (or '.') "
                                f"on non-dose rows: {fix}.")
            for key, values in (("RATE", rate), ("II", ii), ("ADDL", addl), ("SS", ss)):
                if values[r] != 0:
                    raise tab.error(r, C(key), f"{key} {_fmt(float(values[r]))} on {what}; {key} belongs to dose rows "
                                    f"only: set it to 0 (or '.') here, or {fix}.")
        # MDV
        if m is None:
            m = 0 if (e == 0 and has_dv) else 1
        elif m == 0:
            if e != 0:
                raise tab.error(r, C("MDV"), f"MDV=0 on an EVID {e} row; only observation rows (EVID 0) carry a DV: "
                                "set MDV=1.")
            if not has_dv:
                col = C("DV") if "DV" in tab.columns else C("MDV")
                what = "DV is missing" if "DV" in tab.columns else "there is no DV column"
                raise tab.error(r, col, f"{what} but MDV=0 says a value was observed; give the DV or set MDV=1.")
        mdv[r] = m
        cmt_name[r] = resolve_cmt(r)

    # --- subjects: contiguous ID blocks
    blocks: list[tuple[int, int]] = []
    seen: dict = {}
    start = 0
    for r in range(1, tab.n + 1):
        if r == tab.n or tab.ids[r] != tab.ids[start]:
            sid = tab.ids[start]
            if sid in seen:
                raise tab.error(start, C("ID"), f"ID {_fmt(sid)} appears again after other IDs (first block ends at "
                                f"data row {seen[sid]}); NONMEM would read it as a new individual. Keep each "
                                "subject's rows together (sort by ID, keeping time order) or give it a new ID.")
            seen[sid] = r
            blocks.append((start, r))
            start = r

    subjects = []
    for lo, hi in blocks:
        subjects.append(_read_subject(
            tab, lo, hi, time=time, amt=amt, amt_missing=amt_missing, rate=rate, ii=ii, addl=addl, ss=ss, evid=evid,
            mdv=mdv, dv=dv, cmt_name=cmt_name, cov_values=cov_values, numbers_=numbers_, targets=targets,
            name_to_number=name_to_number, lag_=lag_, f_=f_, rate_=rate_, dur_=dur_))
    return NonmemDataset(tuple(subjects), compartments=dict(numbers_) if numbers_ is not None else None,
                         covariate_names=tuple(cov_values))


def _read_subject(tab, lo, hi, *, time, amt, amt_missing, rate, ii, addl, ss, evid, mdv, dv, cmt_name, cov_values,
                  numbers_, targets, name_to_number, lag_, f_, rate_, dur_) -> Subject:
    C = tab.name
    sid = tab.ids[lo]
    # time order
    for r in range(lo + 1, hi):
        if time[r] < time[r - 1]:
            back = f"TIME goes back from {_fmt(float(time[r - 1]))} to {_fmt(float(time[r]))}"
            if evid[r] in (3, 4):
                raise tab.error(r, C("TIME"), f"{back} at a reset (EVID {evid[r]}) row. NONMEM lets time restart "
                                "there, but qsp simulates a subject on one time axis: add a constant to this and the "
                                "later times of this ID (the reset makes that equivalent unless the model depends "
                                "on time itself), or give the occasion its own ID.")
            raise tab.error(r, C("TIME"), f"{back}; the records of a subject must be in time order: sort them by "
                            "TIME (keeping the file order of rows at equal times).")
    last_time = float(time[hi - 1])
    later_event_times: set = set()
    before = np.zeros(hi - lo, dtype=bool)
    for r in range(hi - 1, lo - 1, -1):
        if evid[r] in _STATE_EVENT_EVIDS:
            later_event_times.add(float(time[r]))
        elif float(time[r]) in later_event_times:
            before[r - lo] = True

    records, dose_rows = [], []
    out_rows = []
    single = next(iter(targets)) if len(targets) == 1 else None
    for r in range(lo, hi):
        e = int(evid[r])
        t = float(time[r])
        if e in (0, 2):
            out_rows.append(r)
            continue
        if e in (3, 4):
            records.append(Reset(t))
            dose_rows.append(r)
            if e == 3:
                continue
        # a dose (EVID 1 or 4)
        name = cmt_name[r]
        if name is None:
            if single is None:
                known = (_describe_compartments(numbers_) if numbers_ else
                         (", ".join(map(repr, targets)) if targets else "pass compartments=[...]"))
                raise tab.error(r, C("CMT"), f"CMT is missing on a dose row; give the dosed compartment ({known}).")
            name = single
        target = targets.get(name, name)
        number = name_to_number.get(name)
        cmt_label = f"compartment {number} ({name!r})" if number is not None else f"compartment {name!r}"
        a, rt, ival, ssv = float(amt[r]), float(rate[r]), float(ii[r]), tab.whole(ss, "SS", r)
        n_add = tab.whole(addl, "ADDL", r)
        if ssv not in (0, 1, 2):
            raise tab.error(r, C("SS"), f"SS {ssv} is not supported; use 0, 1 (reset to steady state) or 2 (add "
                            "steady state).")
        constant = ssv > 0 and a == 0 and rt > 0 and ival == 0
        if amt_missing[r] or (a == 0 and not constant):
            shown = "missing" if amt_missing[r] else _fmt(a)
            raise tab.error(r, C("AMT"), f"AMT is {shown} on a dose row (EVID {e}); NONMEM requires AMT > 0 (only a "
                            "steady-state constant infusion, SS=1 with RATE>0 and II=0, has AMT=0). Give the amount"
                            + (", or use EVID=3 for a reset alone." if e == 4 else ", or make it EVID=2."))
        if rt < 0 and rt not in (-1.0, -2.0):
            raise tab.error(r, C("RATE"), f"RATE {_fmt(rt)} is invalid; use 0 (bolus), a positive rate (infusion), "
                            "-1 (rate from the model) or -2 (duration from the model).")
        if n_add > 0 and ival <= 0:
            raise tab.error(r, C("II"), f"ADDL={n_add} needs the dosing interval: II must be > 0 (it is {_fmt(ival)}).")
        if ssv > 0 and ival <= 0 and not constant:
            raise tab.error(r, C("II"), f"SS={ssv} needs the dosing interval: II must be > 0 (it is {_fmt(ival)}). "
                            "(II=0 is allowed only for a steady-state constant infusion: AMT=0 and RATE>0.)")
        kw = dict(amount=a, time=t, interval=ival if ival > 0 else None, additional=n_add, steady_state=ssv,
                  lag=lag_.get(name, 0.0), bioavailability=f_.get(name, 1.0))
        try:
            if constant:
                if n_add:
                    raise tab.error(r, C("ADDL"), "a steady-state constant infusion (AMT=0, RATE>0, II=0) cannot "
                                    f"have ADDL={n_add}; set ADDL=0.")
                stop = None
                for q in range(r + 1, hi):
                    if evid[q] in (3, 4) or (evid[q] == 1 and ss[q] == 1):
                        stop = float(time[q])
                        break
                if stop is None:
                    stop = last_time
                length = stop - t
                if length <= 0:
                    if stop == last_time and all(float(time[q]) == t for q in range(r, hi)):
                        length = 1.0
                    else:
                        raise tab.error(r, C("RATE"), "this steady-state constant infusion is cancelled at once by "
                                        "the reset or SS=1 dose that follows it at the same time; remove one of them.")
                kw.update(amount=rt * length, interval=length, lag=0.0, bioavailability=1.0)
                records.append(Infusion(target, rate=rt, **kw))
            elif rt == 0:
                records.append(Bolus(target, **kw))
            elif rt > 0:
                records.append(Infusion(target, rate=rt, **kw))
            elif rt == -1:
                if name not in rate_:
                    key = number if number is not None else name
                    raise tab.error(r, C("RATE"), f"RATE=-1 asks for a modelled infusion rate into {cmt_label}, but "
                                    f"modeled_rate has none for it; pass modeled_rate={{{key!r}: <rate expression>}} "
                                    f"(NONMEM's R{number if number is not None else 'n'}).")
                records.append(Infusion(target, rate=rate_[name], **kw))
            else:
                if name not in dur_:
                    key = number if number is not None else name
                    raise tab.error(r, C("RATE"), f"RATE=-2 asks for a modelled infusion duration into {cmt_label}, "
                                    f"but modeled_duration has none for it; pass modeled_duration={{{key!r}: "
                                    f"<duration expression>}} (NONMEM's D{number if number is not None else 'n'}).")
                records.append(Infusion(target, duration=dur_[name], **kw))
        except DosingError as err:
            raise tab.error(r, C("AMT"), f"this dose record is impossible: {err}") from err
        dose_rows.append(r)

    out = np.asarray(out_rows, dtype=int)
    dose = np.asarray(dose_rows, dtype=int)
    return Subject(
        id=sid,
        regimen=Regimen(records),
        times=time[out],
        dv=dv[out],
        mdv=mdv[out],
        cmt=[cmt_name[r] for r in out_rows],
        before_dose=before[out - lo] if out.size else np.zeros(0, dtype=bool),
        covariates={k: v[out] for k, v in cov_values.items()},
        baseline_covariates={k: float(v[lo]) for k, v in cov_values.items()},
        rows=out,
        evid=evid[out],
        dose_covariates={k: v[dose] for k, v in cov_values.items()},
        dose_rows=dose,
    )


# ----------------------------------------------------------------------------- write


def _value(x) -> float:
    return float(x)


def _is_expr(x) -> bool:
    return isinstance(x, sp.Basic) and not x.is_number


def _constant_infusion_stop(records, idx, all_times) -> float:
    for later in records[idx + 1:]:
        if isinstance(later, Reset) or getattr(later, "steady_state", 0) == 1:
            return _value(later.time)
    return max(all_times)


def _is_constant_infusion(rec, records, idx, all_times) -> bool:
    if not (isinstance(rec, Infusion) and rec.steady_state in (1, 2) and rec.additional == 0
            and rec.duration is None and rec.interval is not None):
        return False
    if _is_expr(rec.rate) or _is_expr(rec.lag) or _is_expr(rec.bioavailability) or _is_expr(rec.amount):
        return False
    if _value(rec.lag) != 0 or _value(rec.bioavailability) != 1:
        return False
    rate, interval, amount = _value(rec.rate), _value(rec.interval), _value(rec.amount)
    if not math.isclose(amount, rate * interval, rel_tol=1e-12, abs_tol=0.0):
        return False
    length = _constant_infusion_stop(records, idx, all_times) - _value(rec.time)
    if length <= 0:
        length = 1.0 if max(all_times) <= _value(rec.time) else length
    return math.isclose(interval, length, rel_tol=1e-12, abs_tol=0.0)


def write_nonmem(data, path=None, compartments=None):
    """Write subjects as a NONMEM dataset; return it as a pandas DataFrame.

    Columns: ``ID, TIME, AMT, CMT, EVID, MDV, RATE, II, ADDL, SS, DV`` and the covariates.
    Rows of a subject are in time order; at equal times a pre-dose observation
    (``before_dose``) comes before the dose and reset rows, other observations after
    them. A reset directly followed by a dose at its time becomes one EVID 4 row.

    * An infusion whose rate is an expression is written ``RATE=-1``, one whose duration
      is an expression ``RATE=-2`` (pass the same ``modeled_rate`` / ``modeled_duration``
      to :func:`read_nonmem`); a numeric duration is written as the rate
      ``AMT·F/duration``.
    * ``lag`` and ``bioavailability`` are model properties in NONMEM (ALAGn, Fn) and have
      no column: they are not written; pass the same mappings to :func:`read_nonmem`.
    * Covariates on dose rows come from ``dose_covariates`` when the subject has them,
      else from the previous row (or the baseline).
    * ``DV`` is NaN (``.`` in the file) where nothing was observed.

    Args:
        data: a :class:`NonmemDataset`, a :class:`Subject` or an iterable of subjects.
        path: if given, the CSV file to write (missing values as ``.``).
        compartments: compartments in NONMEM order (or number -> name) to write ``CMT`` as
            numbers; default: those the dataset was read with, else ``CMT`` holds names.

    Example:
        >>> from qsp.dosing import Bolus, Regimen
        >>> s = Subject(id=1, regimen=Regimen([Bolus("central", 100.0, time=0.0)]), times=[0.0, 4.0],
        ...             dv=[float("nan"), 3.5], cmt=["central", "central"], before_dose=[True, False])
        >>> df = write_nonmem([s], compartments=["central"])
        >>> df["TIME"].tolist(), df["EVID"].tolist(), df["AMT"].tolist(), df["CMT"].tolist()
        ([0.0, 0.0, 4.0], [0, 1, 0], [0.0, 100.0, 0.0], [1, 1, 1])
    """
    import pandas as pd

    if isinstance(data, NonmemDataset):
        subjects = list(data.subjects)
        default_numbers = data.compartments
    elif isinstance(data, Subject):
        subjects, default_numbers = [data], None
    else:
        subjects, default_numbers = list(data), None
        for s in subjects:
            if not isinstance(s, Subject):
                raise DataError(f"write_nonmem needs a NonmemDataset or Subjects, got {type(s).__name__}.")
    if compartments is not None:
        numbers_, _ = _compartment_table(compartments)
    else:
        numbers_ = dict(default_numbers) if default_numbers else None
    name_to_number = {v: k for k, v in numbers_.items()} if numbers_ else None

    def cmt_value(name, sid, what):
        if name is None:
            return np.nan
        if name_to_number is None:
            return name
        if name not in name_to_number:
            raise DataError(f"subject {sid}: {what} names compartment {name!r}, which is not among compartments "
                            f"({_describe_compartments(numbers_)}); add it to compartments=.")
        return name_to_number[name]

    cov_names: list[str] = []
    for s in subjects:
        for k in [*s.covariates, *s.dose_covariates, *s.baseline_covariates]:
            if k not in cov_names and k.strip().upper() not in STANDARD_COLUMNS:
                cov_names.append(k)

    out_rows: list[dict] = []
    for s in subjects:
        recs = s.regimen.records
        all_times = [*map(float, s.times), *(_value(r.time) for r in recs)] or [0.0]
        entries = []  # (time, class, seq, row, covariate source)
        seq = 0
        i = 0
        while i < len(recs):
            rec = recs[i]
            evid, dose, cov_index = 1, rec, i
            if isinstance(rec, Reset):
                nxt = recs[i + 1] if i + 1 < len(recs) else None
                if nxt is not None and not isinstance(nxt, Reset) and _value(nxt.time) == _value(rec.time):
                    evid, dose, cov_index = 4, nxt, i + 1
                    i += 1
                else:
                    evid, dose = 3, None
            row = {"ID": s.id, "TIME": _value(rec.time), "AMT": 0.0, "CMT": np.nan, "EVID": evid, "MDV": 1,
                   "RATE": 0.0, "II": 0.0, "ADDL": 0, "SS": 0, "DV": np.nan}
            if dose is not None:
                idx = i
                row["CMT"] = cmt_value(dose.target, s.id, f"the dose at time {_fmt(_value(dose.time))}")
                row["AMT"] = _value(dose.amount) if not _is_expr(dose.amount) else _bad(s, dose, "amount")
                row["II"] = 0.0 if dose.interval is None else _value(dose.interval)
                row["ADDL"] = int(dose.additional)
                row["SS"] = int(dose.steady_state)
                if isinstance(dose, Infusion):
                    if _is_constant_infusion(dose, recs, idx, all_times):
                        row.update(AMT=0.0, RATE=_value(dose.rate), II=0.0)
                    elif dose.rate is not None:
                        row["RATE"] = -1.0 if _is_expr(dose.rate) else _value(dose.rate)
                    elif _is_expr(dose.duration):
                        row["RATE"] = -2.0
                    elif _is_expr(dose.bioavailability):
                        raise DataError(f"subject {s.id}: the infusion at time {_fmt(_value(dose.time))} has the "
                                        f"numeric duration {_value(dose.duration)} but the bioavailability "
                                        f"{dose.bioavailability}: NONMEM cannot express that (RATE = AMT·F/duration). "
                                        "Give the infusion a rate=, or a duration expression (written as RATE=-2).")
                    else:
                        row["RATE"] = row["AMT"] * _value(dose.bioavailability) / _value(dose.duration)
            entries.append((_value(rec.time), 1, seq, row, ("dose", cov_index)))
            seq += 1
            i += 1
        for k in range(s.times.size):
            row = {"ID": s.id, "TIME": float(s.times[k]), "AMT": 0.0,
                   "CMT": cmt_value(s.cmt[k], s.id, f"the observation at time {_fmt(float(s.times[k]))}"),
                   "EVID": int(s.evid[k]), "MDV": int(s.mdv[k]), "RATE": 0.0, "II": 0.0, "ADDL": 0, "SS": 0,
                   "DV": float(s.dv[k])}
            if row["MDV"] == 0 and math.isnan(row["DV"]):
                raise DataError(f"subject {s.id}: the observation at time {_fmt(row['TIME'])} has MDV=0 but no DV.")
            entries.append((float(s.times[k]), 0 if s.before_dose[k] else 2, seq, row, ("obs", k)))
            seq += 1
        entries.sort(key=lambda e: (e[0], e[1], e[2]))
        previous = dict(s.baseline_covariates)
        for _, _, _, row, (kind, j) in entries:
            for name in cov_names:
                if kind == "obs" and name in s.covariates:
                    value = s.covariates[name][j]
                elif kind == "dose" and name in s.dose_covariates:
                    value = s.dose_covariates[name][j]
                else:
                    value = previous.get(name, np.nan)
                row[name] = value
                previous[name] = value
            out_rows.append(row)

    columns = [*STANDARD_COLUMNS, *cov_names]
    df = pd.DataFrame(out_rows, columns=columns)
    if len(df):
        if all(isinstance(v, numbers.Integral) for v in df["ID"]):
            df["ID"] = df["ID"].astype("int64")
        for key in ("EVID", "MDV", "ADDL", "SS"):
            df[key] = df[key].astype("int64")
        cmt = df["CMT"]
        if name_to_number is not None and cmt.notna().all():
            df["CMT"] = cmt.astype("int64")
        elif name_to_number is not None:
            df["CMT"] = cmt.astype("Int64")
    if path is not None:
        df.to_csv(path, index=False, na_rep=".")
    return df


def _bad(subject, dose, attr):
    raise DataError(f"subject {subject.id}: the dose at time {dose.time} has the {attr} {getattr(dose, attr)!r}, an "
                    "expression; a NONMEM dataset holds numbers. Substitute values first.")
