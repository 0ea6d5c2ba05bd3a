"""Fit results: estimates, standard errors, diagnostics, predictions, plots.

Standard errors: with :math:`H` the Hessian of the objective on the optimiser's scale u
(autodiff, at the optimum) and :math:`J = \\mathrm{diag}(d\\theta/du)`,

.. math:: \\mathrm{Cov}(u) = H^{-1}, \\qquad \\mathrm{Cov}(\\theta) = J\\,H^{-1} J^\\top,

so ``se[k]`` is :math:`\\sqrt{\\mathrm{Cov}(\\theta)_{kk}}` and the 95 % interval is
:math:`g(u_k \\pm 1.96\\sqrt{\\mathrm{Cov}(u)_{kk}})` (asymmetric for log parameters, never
negative). For a MAP fit :math:`H^{-1}` is the Laplace approximation of the posterior
covariance of u (of log θ for parameters with random effects).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import jax.numpy as jnp
import numpy as np

__all__ = ["FitResult", "FitResults"]

_Z95 = 1.959963984540054


@dataclass(frozen=True, eq=False)
class FitResult:
    """The result of :func:`qsp.fit` for one subject (or one pooled group of subjects).

    Attributes:
        names: the estimated parameters, in order.
        estimates: name -> estimate.
        standard_errors: name -> standard error (delta method through the transform).
        covariance: (K, K) covariance of the estimates; ``correlation`` its correlation matrix.
        internal, internal_covariance: the optimum and :math:`H^{-1}` on the optimiser's scale
            (log θ for log-transformed parameters): for MAP, the Laplace posterior.
        objective: the minimised value: -log L, plus -log prior for MAP (with all constants).
        log_likelihood: log L at the optimum (with constants); ``ofv`` = -2 log L - N log 2π
            (NONMEM's objective function value).
        n_observations: samples in the likelihood (BLQ included).
        converged: the optimiser met its tolerances; ``n_steps``, ``gradient`` (on u),
            ``hessian_ok`` (positive definite), ``start_objectives`` (every start's optimum).
        predictions: a table per sample: ``ID, time, output, dv, censored, limit, observed,
            pred, res = dv - pred, sd, iwres`` (standardised residual).
        params: the full parameter values of each subject (fixed, covariates, estimates).
        ids: the subjects' ids.

    See :func:`qsp.fit` for an example; ``res.to_pandas()`` is the parameter table,
    ``res.predictions`` the per-sample table, ``res.plot()`` observed vs predicted.
    """

    names: tuple
    estimates: dict
    standard_errors: dict
    covariance: np.ndarray
    internal: np.ndarray
    internal_covariance: np.ndarray
    objective: float
    log_likelihood: float
    neg_log_prior: float
    n_observations: int
    converged: bool
    n_steps: int
    gradient: np.ndarray
    hessian: np.ndarray
    hessian_ok: bool
    start_objectives: np.ndarray
    predictions: Any
    params: list
    ids: tuple
    method: str
    context: dict = field(repr=False)
    subjects: list = field(repr=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(cls, subjects: Sequence, out: dict, context: dict) -> "FitResult":
        import pandas as pd

        problem = context["problem"]
        names = context["names"]
        u = np.asarray(out["u"], float)
        theta = np.asarray(problem.natural(jnp.asarray(u)), float).reshape(-1)
        H = np.asarray(out["hessian"], float)
        H = 0.5 * (H + H.T)
        try:
            np.linalg.cholesky(H)
            hessian_ok = bool(np.all(np.isfinite(H)))
        except np.linalg.LinAlgError:
            hessian_ok = False
        cov_u = np.linalg.inv(H) if hessian_ok else np.full(H.shape, np.nan)
        J = np.asarray([float(t.derivative(jnp.asarray(u[k]))) for k, t in enumerate(problem.transforms)])
        cov = J[:, None] * cov_u * J[None, :]
        se = np.sqrt(np.clip(np.diag(cov), 0.0, None)) if hessian_ok else np.full(len(names), np.nan)

        tables, params = [], []
        terms = out["term"]
        n_obs = 0
        for s, subject in enumerate(subjects):
            n = subject.times.size
            pred = out["pred"][s, :n]
            dv = np.where(subject.censored != 0, np.nan, subject.dv)
            tables.append(pd.DataFrame({
                "ID": [subject.id] * n, "time": subject.times,
                "output": [o if o is not None else problem.outputs[0] for o in subject.output],
                "dv": dv, "censored": subject.censored, "limit": subject.limit, "observed": subject.observed,
                "pred": pred, "res": dv - pred, "sd": out["sd"][s, :n],
                "iwres": np.where(subject.observed, out["z"][s, :n], np.nan),
            }))
            n_obs += int(subject.observed.sum())
            p = dict(context["defaults"])
            p.update(subject.covariates)
            p.update({n_: float(v) for n_, v in zip(names, theta) if n_ in p})
            params.append(p)
        log_lik = float(np.sum(terms))
        return cls(
            names=tuple(names), estimates=dict(zip(names, theta.tolist())),
            standard_errors=dict(zip(names, se.tolist())),
            covariance=cov, internal=u, internal_covariance=cov_u, objective=float(out["objective"]),
            log_likelihood=log_lik, neg_log_prior=float(out["prior"]), n_observations=n_obs,
            converged=bool(out["converged"]), n_steps=int(out["steps"]), gradient=np.asarray(out["gradient"]),
            hessian=H, hessian_ok=hessian_ok, start_objectives=np.asarray(out["all_objectives"]),
            predictions=pd.concat(tables, ignore_index=True), params=params, ids=tuple(s.id for s in subjects),
            method=context["method"], context=context, subjects=list(subjects),
        )

    # ------------------------------------------------------------------ derived numbers
    @property
    def correlation(self) -> np.ndarray:
        """Correlation matrix of the estimates."""
        sd = np.sqrt(np.diag(self.covariance))
        return self.covariance / np.outer(sd, sd)

    @property
    def rse(self) -> dict:
        """Relative standard errors in percent, 100·se/|estimate|."""
        return {n: 100.0 * self.standard_errors[n] / abs(self.estimates[n]) if self.estimates[n] else math.nan
                for n in self.names}

    @property
    def ofv(self) -> float:
        """NONMEM's objective function value: -2 log L without the N·log(2π) constant."""
        return -2.0 * self.log_likelihood - self.n_observations * math.log(2.0 * math.pi)

    @property
    def aic(self) -> float:
        """Akaike's information criterion, -2 log L + 2K."""
        return -2.0 * self.log_likelihood + 2 * len(self.names)

    @property
    def bic(self) -> float:
        """Bayesian information criterion, -2 log L + K log N."""
        return -2.0 * self.log_likelihood + len(self.names) * math.log(max(self.n_observations, 1))

    @property
    def message(self) -> str:
        """A one-line convergence diagnosis."""
        parts = [f"{'converged' if self.converged else 'NOT converged'} in {self.n_steps} steps",
                 f"max |gradient| {np.max(np.abs(self.gradient)):.2g}"]
        if not self.hessian_ok:
            parts.append("Hessian not positive definite (standard errors unavailable: a parameter may be "
                         "unidentifiable, or the optimum is a saddle)")
        if self.start_objectives.size > 1:
            spread = np.ptp(self.start_objectives[np.isfinite(self.start_objectives)])
            parts.append(f"{self.start_objectives.size} starts, objectives within {spread:.3g}")
        return "; ".join(parts)

    def confidence_intervals(self, level: float = 0.95) -> dict:
        """name -> (lower, upper): :math:`g(u \\pm z\\,\\mathrm{se}_u)`, inside each parameter's range."""
        from scipy.stats import norm

        z = float(norm.ppf(0.5 + level / 2))
        sd_u = np.sqrt(np.clip(np.diag(self.internal_covariance), 0.0, None))
        out = {}
        for k, (n, t) in enumerate(zip(self.names, self.context["problem"].transforms)):
            lo = float(t.to_natural(jnp.asarray(self.internal[k] - z * sd_u[k])))
            hi = float(t.to_natural(jnp.asarray(self.internal[k] + z * sd_u[k])))
            out[n] = (min(lo, hi), max(lo, hi))
        return out

    def to_pandas(self):
        """The parameter table: estimate, se, rse (%), 95 % interval and transform per parameter."""
        import pandas as pd

        ci = self.confidence_intervals()
        transforms = self.context["problem"].transforms
        return pd.DataFrame({
            "estimate": [self.estimates[n] for n in self.names],
            "se": [self.standard_errors[n] for n in self.names],
            "rse_percent": [self.rse[n] for n in self.names],
            "lower95": [ci[n][0] for n in self.names], "upper95": [ci[n][1] for n in self.names],
            "transform": [type(t).__name__ for t in transforms],
        }, index=pd.Index(self.names, name="parameter"))

    # ------------------------------------------------------------------ simulation
    def _subject_index(self, subject) -> int:
        if subject is None:
            return 0
        if subject in self.ids:
            return self.ids.index(subject)
        raise KeyError(f"no subject {subject!r} in this fit; ids: {list(self.ids)}.")

    def simulate(self, times, regimen=None, *, subject=None, params=None):
        """Simulate the fitted subject (its covariates, the estimates) at ``times``; default
        regimen: the subject's own. Returns a :class:`qsp.Solution`.
        """
        import qsp

        i = self._subject_index(subject)
        p = {**self.params[i], **(params or {})}
        c = self.context
        return qsp.simulate(c["compiled"], np.asarray(times, float),
                            params={k: v for k, v in p.items() if k in c["compiled"].parameter_names},
                            regimen=self.subjects[i].regimen if regimen is None else regimen, solver=c["solver"],
                            rtol=c["sim_rtol"], atol=c["sim_atol"], max_steps=c["sim_max_steps"])

    def forecast(self, times, regimen=None, *, output=None, level: float = 0.9, n_samples: int = 1000,
                 method: str = "sample", seed: int = 0, subject=None):
        """Individual prediction with a credible band from the fit's uncertainty.

        ``method="sample"``: draw u from :math:`N(\\hat u, H^{-1})` (for MAP, the Laplace
        posterior), map to θ, simulate every draw (one batched ``simulate_population`` call)
        and take quantiles. ``method="delta"``: :math:`\\mathrm{Var} f = \\nabla_u f\\,H^{-1}
        \\nabla_u f^\\top` by forward-mode autodiff, band :math:`f \\pm z\\sqrt{\\mathrm{Var} f}`.
        Returns a :class:`~qsp.inference.Forecast`.
        """
        from .bayes import forecast_from_fit

        return forecast_from_fit(self, times, regimen, output=output, level=level, n_samples=n_samples,
                                 method=method, seed=seed, subject=self._subject_index(subject))

    def plot(self, ax=None, *, n_points: int = 200):
        """Observed (dots; BLQ samples as open triangles at their limit) and predicted (line,
        simulated on a fine grid) over time, one colour per subject and output."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        table = self.predictions
        for i, subject in enumerate(self.subjects):
            t_end = float(np.max(subject.times))
            t0 = min(0.0, float(np.min(subject.times)))
            grid = np.linspace(t0, t_end, n_points)
            sol = self.simulate(grid, subject=subject.id)
            rows = table[table["ID"] == subject.id]
            for output in dict.fromkeys(rows["output"]):
                mine = rows[(rows["output"] == output) & rows["observed"]]
                label = f"{subject.id}: {output}" if len(self.subjects) > 1 else output
                line, = ax.plot(grid, np.asarray(sol[output]), label=f"{label} predicted")
                plain = mine[mine["censored"] == 0]
                ax.plot(plain["time"], plain["dv"], "o", color=line.get_color(), label=f"{label} observed")
                blq = mine[mine["censored"] != 0]
                if len(blq):
                    ax.plot(blq["time"], blq["limit"], "v", mfc="none", color=line.get_color(),
                            label=f"{label} censored (limit)")
        ax.set_xlabel("time")
        ax.set_ylabel("observed / predicted")
        ax.legend(fontsize="small")
        return ax

    def __repr__(self):
        est = ", ".join(f"{n}={self.estimates[n]:.4g} (se {self.standard_errors[n]:.2g})" for n in self.names)
        who = self.ids[0] if len(self.ids) == 1 else f"{len(self.ids)} subjects pooled"
        return f"FitResult({who}: {est}; objective {self.objective:.6g}; {self.message})"


class FitResults(Sequence):
    """Independent fits of several subjects: a sequence of :class:`FitResult`, indexable by
    position, and by id with :meth:`by_id`.

    :meth:`to_pandas` gives one row per subject (estimates, standard errors, objective,
    convergence); :attr:`predictions` stacks every subject's prediction table.
    """

    def __init__(self, results: Sequence[FitResult]):
        self._results = list(results)

    def __len__(self):
        return len(self._results)

    def __getitem__(self, i):
        return self._results[i]

    def by_id(self, id) -> FitResult:
        for r in self._results:
            if id in r.ids:
                return r
        raise KeyError(f"no subject {id!r}; ids: {[r.ids[0] for r in self._results]}.")

    @property
    def ids(self) -> tuple:
        return tuple(r.ids[0] for r in self._results)

    @property
    def predictions(self):
        import pandas as pd

        return pd.concat([r.predictions for r in self._results], ignore_index=True)

    def to_pandas(self):
        """One row per subject: ``ID``, each estimate, ``se_<name>``, objective, converged."""
        import pandas as pd

        rows = []
        for r in self._results:
            row = {"ID": r.ids[0], **r.estimates, **{f"se_{n}": r.standard_errors[n] for n in r.names},
                   "objective": r.objective, "converged": r.converged, "n_steps": r.n_steps}
            rows.append(row)
        return pd.DataFrame(rows)

    def __repr__(self):
        ok = sum(r.converged for r in self._results)
        return f"FitResults({len(self)} subjects, {ok} converged)"
