"""The result of a regimen optimisation: the regimen, objective values, traces, a table and a plot."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..dosing import Regimen


@dataclass(frozen=True, eq=False)
class RegimenOptimum:
    """What :func:`qsp.optimize_regimen` found.

    Attributes:
        regimen: the optimised :class:`~qsp.Regimen` (amounts rounded to the strengths, if given).
        objective: the objective at ``regimen`` (re-evaluated after rounding).
        initial_regimen, initial_objective: the starting regimen (moved inside the constraints
            if it was outside) and its objective.
        continuous_regimen, continuous_objective: the optimum before rounding (the same as
            ``regimen``/``objective`` without ``strengths``).
        x: the decision variables at the optimum (before rounding), named by ``variables``.
        trace: the objective after each accepted BFGS step of the best start.
        traces, start_objectives: the trace and final objective of every start.
        converged: whether the best start met the tolerance (else it stopped at ``max_steps``).
        steps: BFGS steps of the best start. seconds: wall time of all starts.

    ``to_pandas()`` lists each dose before and after; ``plot(output)`` draws both profiles and
    the trace.
    """

    regimen: Regimen
    objective: float
    initial_regimen: Regimen
    initial_objective: float
    continuous_regimen: Regimen
    continuous_objective: float
    x: np.ndarray
    variables: tuple
    trace: np.ndarray
    traces: tuple
    start_objectives: np.ndarray
    converged: bool
    steps: int
    seconds: float
    _problem: object = field(repr=False, default=None)

    def to_pandas(self):
        """One row per single dose: target, kind, and time/amount/duration before and after."""
        import pandas as pd

        rows = []
        for i, (a, b) in enumerate(zip(self.initial_regimen.doses(), self.regimen.doses())):
            row = dict(dose=i + 1, target=getattr(b, "target", None), kind=type(b).__name__.lower(),
                       time_before=float(a.time), time_after=float(b.time))
            if hasattr(b, "amount"):
                row.update(amount_before=float(a.amount), amount_after=float(b.amount))
            if getattr(b, "duration", None) is not None and not hasattr(b.duration, "free_symbols"):
                row.update(duration_before=float(a.duration), duration_after=float(b.duration))
            rows.append(row)
        return pd.DataFrame(rows)

    def plot(self, output: str, times=None, ax=None):
        """Before/after profiles of ``output`` and the objective trace (two panels). Needs matplotlib.

        ``times`` defaults to 400 points over the optimisation's output span. Simulates both regimens
        (compiling the plain simulation on first use). Returns the two axes.

        Example:
            >>> result.plot("C")                 # doctest: +SKIP
        """
        from ..analysis.plots import _pyplot
        from ..simulate import simulate

        plt = _pyplot()
        problem = self._problem
        span = np.asarray(problem.times)
        ts = np.linspace(span[0], span[-1], 400) if times is None else np.asarray(times, np.float64)
        options = dict(problem.options)
        if ax is None:
            _, ax = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [2.2, 1]})
        profile, trace_ax = ax
        for regimen, label, style in ((self.initial_regimen, "before", "--"), (self.regimen, "after", "-")):
            sol = simulate(problem.compiled, ts, params=problem.p, regimen=regimen, **options)
            profile.plot(ts, np.asarray(sol[output]), style, label=f"{label} (objective {self._value(label):.4g})")
        for d in self.regimen.doses():
            profile.axvline(float(d.time), color="grey", alpha=0.25, linewidth=0.8)
        profile.set_xlabel("time")
        profile.set_ylabel(output)
        profile.legend()
        trace_ax.plot(np.arange(len(self.trace)), self.trace, marker=".")
        trace_ax.set_xlabel("accepted BFGS step")
        trace_ax.set_ylabel("objective")
        trace_ax.set_title(f"best of {len(self.traces)} starts")
        return profile, trace_ax

    def _value(self, label):
        return self.initial_objective if label == "before" else self.objective

    def __repr__(self) -> str:
        return (f"RegimenOptimum(objective {self.initial_objective:.6g} -> {self.objective:.6g}, "
                f"{len(self.variables)} variables, {len(self.traces)} starts, converged={self.converged}, "
                f"{self.seconds:.2f} s)")
