"""Observations: what was measured, when, on which output, and whether it was censored.

:class:`Observations` holds one subject's data (host-side numpy, one row per sample);
:func:`as_subjects` turns a pandas table, a NONMEM dataset (``qsp.io.read_nonmem``), a
single NONMEM subject or ``Observations`` into a list of them, each with its regimen and
covariates. :func:`stack` pads them to one shape so one compiled likelihood serves all.

Censoring follows the nlmixr2/Monolix ``CENS`` convention: ``1`` means the value is below
the limit of quantification (the limit is in ``LLOQ`` if that column exists, else in
``DV``), ``-1`` above an upper limit; ``0`` an ordinary observation. Censored values are
kept and enter the likelihood by the M3 method, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from ..dosing import Regimen, as_regimen
from ..errors import DataError

__all__ = ["Observations", "as_subjects"]


@dataclass(frozen=True, eq=False)
class Observations:
    """One subject's observations, sorted by time, with the regimen that produced them.

    Args:
        times: sample times.
        dv: observed values (for a censored sample: the limit, or NaN with ``lloq``).
        output: the model output each row observes (one name for all, or one per row).
        censored: per row 0 (observed), 1 (below ``lloq``: BLQ) or -1 (above an upper limit).
        lloq: the quantification limit per row (default: ``dv`` on censored rows).
        regimen: the doses given.
        before: per row, True for a sample taken just before a dose at the same time.
        covariates: model parameter name -> this subject's value (weight, CrCL...).
        id: the subject's identifier.

    Example:
        >>> obs = Observations(times=[2.0, 1.0, 8.0], dv=[3.1, 4.0, 0.05], censored=[0, 0, 1], output="C")
        >>> obs.times.tolist(), obs.limit.tolist()
        ([1.0, 2.0, 8.0], [nan, nan, 0.05])
    """

    times: Any
    dv: Any
    output: Any = None
    censored: Any = None
    lloq: Any = None
    regimen: Regimen = field(default_factory=Regimen)
    before: Any = None
    covariates: Mapping[str, float] = field(default_factory=dict)
    id: Any = 1

    def __post_init__(self):
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        times = np.atleast_1d(np.asarray(self.times, dtype=float))
        n = times.size
        who = f"subject {self.id}"

        def per_row(values, what, dtype, default):
            if values is None:
                return np.full(n, default, dtype=dtype)
            arr = np.asarray(values, dtype=dtype)
            if arr.ndim == 0:
                return np.full(n, arr.item(), dtype=dtype)
            arr = arr.reshape(-1)
            if arr.size != n:
                raise DataError(f"{who}: {what} has {arr.size} entries for {n} times; give one per time.")
            return arr

        dv = per_row(self.dv, "dv", float, np.nan)
        output = per_row(self.output, "output", object, None)
        censored = per_row(self.censored, "censored", float, 0.0)
        lloq = per_row(self.lloq, "lloq", float, np.nan)
        before = per_row(self.before, "before", bool, False)
        if not np.all(np.isfinite(times)):
            raise DataError(f"{who}: time {times[~np.isfinite(times)][0]} is not finite.")
        bad = ~np.isin(censored, (-1.0, 0.0, 1.0))
        if bad.any():
            raise DataError(f"{who}: censored is {censored[bad][0]} at time {times[bad][0]:g}; use 1 (below the "
                            "limit of quantification), -1 (above an upper limit) or 0.")
        censored = censored.astype(int)
        limit = np.where(censored != 0, np.where(np.isnan(lloq), dv, lloq), np.nan)
        for i in np.flatnonzero(censored != 0):
            if not np.isfinite(limit[i]):
                raise DataError(f"{who}: the censored sample at time {times[i]:g} has no limit; give it in lloq "
                                "(or as the DV of the censored row).")
        order = np.argsort(times, kind="stable")
        set_("times", times[order])
        set_("dv", np.where(censored != 0, np.nan, dv)[order])
        set_("output", output[order])
        set_("censored", censored[order])
        set_("limit", limit[order])
        set_("before", before[order])
        set_("regimen", as_regimen(self.regimen))
        set_("covariates", {str(k): float(v) for k, v in dict(self.covariates).items()})
        missing = np.isnan(self.dv) & (self.censored == 0)
        set_("observed", ~missing)

    @property
    def n_observations(self) -> int:
        """Rows that enter the likelihood (observed or censored)."""
        return int(self.observed.sum())

    def with_regimen(self, regimen) -> "Observations":
        """The same samples under another regimen."""
        return Observations(self.times, self._dv_for_copy(), self.output, self.censored, self.limit, regimen,
                            self.before, self.covariates, self.id)

    def _dv_for_copy(self):
        return np.where(self.censored != 0, self.limit, self.dv)

    def __repr__(self):
        n_cens = int((self.censored != 0).sum())
        return (f"Observations(id={self.id!r}, {self.n_observations} observations ({n_cens} censored), "
                f"{len(self.regimen.records)} dose records)")


# ----------------------------------------------------------------------------- conversion
_ALIASES = {
    "id": ("id",), "time": ("time",), "dv": ("dv", "value", "conc", "y"), "output": ("output", "name", "dvid"),
    "cens": ("cens", "censored", "blq"), "lloq": ("lloq", "limit"), "mdv": ("mdv",),
}


def _columns(df) -> dict[str, str]:
    lower = {str(c).strip().lower(): c for c in df.columns}
    found = {}
    for key, names in _ALIASES.items():
        for n in names:
            if n in lower:
                found[key] = lower[n]
                break
    return found


def _resolve_output(cmt, output, who):
    """Output name for one row: a mapping from compartment names, or the single name."""
    if isinstance(output, Mapping):
        if cmt is None and len(output) == 1:
            return next(iter(output.values()))
        if cmt not in output:
            raise DataError(f"{who}: the observation compartment {cmt!r} is not in output= {dict(output)}; "
                            "map every observed CMT to a model output.")
        return output[cmt]
    return output


def _covariates_for(subject_covs: Mapping[str, np.ndarray], observed: np.ndarray, mapping: Mapping[str, str],
                    who: str) -> dict[str, float]:
    out = {}
    for column, parameter in mapping.items():
        values = np.asarray(subject_covs[column], dtype=float)
        chosen = values[observed] if observed.any() else values
        chosen = chosen[np.isfinite(chosen)]
        if chosen.size == 0:
            raise DataError(f"{who}: covariate {column!r} is missing on every observation row.")
        if np.ptp(chosen) > 1e-12 * max(1.0, abs(chosen[0])):
            raise DataError(f"{who}: covariate {column!r} changes between observations ({chosen.min():g} to "
                            f"{chosen.max():g}); qsp.fit takes covariates as constant per subject. Split the "
                            "subject into occasions (separate IDs) or pass the value with params=.")
        out[parameter] = float(chosen[0])
    return out


def _covariate_mapping(available: Sequence[str], parameter_names: Sequence[str], covariates) -> dict[str, str]:
    if covariates is None or covariates is True or covariates == "auto":
        return {c: c for c in available if c in parameter_names}
    if covariates is False:
        return {}
    if isinstance(covariates, str):
        covariates = [covariates]
    mapping = dict(covariates) if isinstance(covariates, Mapping) else {c: c for c in covariates}
    for column, parameter in mapping.items():
        if column not in available:
            raise DataError(f"covariate column {column!r} is not in the data (columns: {list(available)}).")
        if parameter not in parameter_names:
            raise DataError(f"covariate {column!r} maps to {parameter!r}, which is not a model parameter; "
                            f"parameters: {', '.join(parameter_names)}.")
    return mapping


def _from_nonmem_subject(subject, output, mapping) -> Observations:
    who = f"subject {subject.id}"
    observed = (subject.mdv == 0) & (subject.evid == 0)
    covs = {k.lower(): k for k in subject.covariates}
    cens = np.zeros(subject.times.size)
    if "cens" in covs or "blq" in covs:
        raw = np.asarray(subject.covariates[covs.get("cens", covs.get("blq"))], dtype=float)
        cens = np.where(np.isnan(raw), 0.0, raw)
    lloq = None
    if "lloq" in covs:
        lloq = np.asarray(subject.covariates[covs["lloq"]], dtype=float)
    dv = np.where(observed, subject.dv, np.nan)
    outputs = np.array([_resolve_output(c, output, who) if observed[i] else None
                        for i, c in enumerate(subject.cmt)], dtype=object)
    if any(o is None for o in outputs[observed]):
        raise DataError(f"{who}: say which model output the observations measure: output='C' (or a mapping "
                        "from observation compartment to output).")
    return Observations(times=subject.times, dv=dv, output=outputs, censored=np.where(observed, cens, 0.0),
                        lloq=lloq, regimen=subject.substitute_covariates(), before=subject.before_dose,
                        covariates=_covariates_for(subject.covariates, observed, mapping, who), id=subject.id)


def as_subjects(data, *, output=None, regimen=None, covariates="auto", parameter_names=()) -> list[Observations]:
    """Normalise the data argument of ``qsp.fit`` into a list of :class:`Observations`.

    ``data`` may be :class:`Observations` (or a list of them), a NONMEM dataset or subject
    from :func:`qsp.io.read_nonmem`, or a pandas table with columns ``time`` and ``dv``
    (also spelled ``value``/``conc``) and optionally ``id``, ``output``, ``cens`` (``blq``),
    ``lloq`` and ``mdv``; column names are matched case-insensitively. A table holds no
    doses: give ``regimen=`` (one for everyone, or a mapping id -> regimen).

    ``covariates``: ``"auto"`` takes every data column named like a model parameter as that
    subject's value of the parameter; or give the column names (or column -> parameter).
    """
    from ..io.nonmem import NonmemDataset, Subject

    if isinstance(data, Observations):
        return [data]
    if isinstance(data, (list, tuple)) and data and all(isinstance(d, Observations) for d in data):
        ids = [d.id for d in data]
        if len(set(ids)) != len(ids):
            raise DataError(f"two Observations share an id ({ids}); give each subject its own id=.")
        return list(data)
    if isinstance(data, Subject):
        data = [data]
    if isinstance(data, NonmemDataset) or (isinstance(data, list) and data and isinstance(data[0], Subject)):
        subjects = list(data)
        if regimen is not None:
            raise DataError("the NONMEM dataset carries its own doses; leave regimen= out.")
        available = sorted({k for s in subjects for k in s.covariates})
        mapping = _covariate_mapping(available, parameter_names, covariates)
        out = [_from_nonmem_subject(s, output, mapping) for s in subjects]
        return out
    if hasattr(data, "columns") and hasattr(data, "groupby"):
        return _from_table(data, output=output, regimen=regimen, covariates=covariates,
                           parameter_names=parameter_names)
    raise DataError(f"qsp.fit cannot read data of type {type(data).__name__}; give a pandas table, a NONMEM "
                    "dataset (qsp.io.read_nonmem) or qsp.inference.Observations.")


def _from_table(df, *, output, regimen, covariates, parameter_names) -> list[Observations]:
    cols = _columns(df)
    for key in ("time", "dv"):
        if key not in cols:
            raise DataError(f"the observation table has no {key!r} column (columns: {list(map(str, df.columns))}).")
    if "amt" in {str(c).strip().lower() for c in df.columns}:
        raise DataError("the table has an AMT column: it looks like a NONMEM dataset. Read it with "
                        "qsp.io.read_nonmem(table, compartments=[...]) and pass the result.")
    id_col = cols.get("id")
    groups = [(1, df)] if id_col is None else list(df.groupby(id_col, sort=False))
    standard = set(cols.values())
    available = [c for c in df.columns if c not in standard]
    mapping = _covariate_mapping(available, parameter_names, covariates)
    out = []
    for sid, g in groups:
        sid = sid.item() if hasattr(sid, "item") else sid
        who = f"subject {sid}"
        if isinstance(regimen, Mapping):
            if sid not in regimen:
                raise DataError(f"{who}: regimen= has no entry for this id; ids given: {list(regimen)[:10]}.")
            reg = regimen[sid]
        else:
            reg = regimen
        if reg is None:
            raise DataError("an observation table holds no doses: pass regimen= (a qsp.Regimen, or a mapping "
                            "id -> Regimen).")
        dv = np.asarray(g[cols["dv"]], dtype=float)
        observed = np.ones(len(g), dtype=bool)
        if "mdv" in cols:
            observed = np.asarray(g[cols["mdv"]], dtype=float) == 0
        cens = np.asarray(g[cols["cens"]], dtype=float) if "cens" in cols else np.zeros(len(g))
        cens = np.where(np.isnan(cens), 0.0, cens)
        lloq = np.asarray(g[cols["lloq"]], dtype=float) if "lloq" in cols else None
        if "output" in cols:
            outs = np.asarray(g[cols["output"]], dtype=object)
            if isinstance(output, Mapping):
                outs = np.array([_resolve_output(o, output, who) for o in outs], dtype=object)
        else:
            if isinstance(output, Mapping):
                raise DataError(f"{who}: output= is a mapping but the table has no output column to look up.")
            outs = output
        covs = {c: np.asarray(g[c], dtype=float) for c in mapping}
        out.append(Observations(times=np.asarray(g[cols["time"]], dtype=float),
                                dv=np.where(observed, dv, np.nan), output=outs,
                                censored=np.where(observed, cens, 0.0), lloq=lloq, regimen=reg,
                                covariates=_covariates_for(covs, observed, mapping, who), id=sid))
    return out
