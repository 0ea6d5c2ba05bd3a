"""Bayesian individualisation: a priori prediction, MAP update, forecast with a credible band.

The a posteriori dosing loop of therapeutic drug monitoring:

1. **A priori** (:func:`a_priori`): before any level is measured, the patient's parameters
   are the population's typical values for their covariates; the band comes from the
   population prior, :math:`\\log\\theta \\sim N(\\log\\theta_{typ}, \\Omega)`.
2. **MAP** (``qsp.fit(..., prior=prior)``): one or a few measured levels update the
   parameters to the mode of the posterior, :math:`\\arg\\min_\\theta -\\log L(\\theta) -
   \\log p(\\theta)`; the Laplace approximation gives the posterior covariance of
   :math:`\\log\\theta`, :math:`H^{-1}` (the inverse Hessian of that objective).
3. **Forecast** (:meth:`FitResult.forecast <qsp.inference.FitResult.forecast>`): the
   individual prediction under any regimen with a credible band, by sampling the
   posterior through the simulator (default) or by the delta method.

Sampling draws :math:`u^{(m)} \\sim N(\\hat u, H^{-1})`, simulates every draw in one
batched :func:`qsp.simulate_population` call and reports quantiles: it keeps the
nonlinearity of the model (a band that is asymmetric, never negative). The delta method
linearises, :math:`\\mathrm{Var} f(t) \\approx \\nabla_u f\\, H^{-1} \\nabla_u f^\\top`: one
forward-mode pass, symmetric band; good when the band is narrow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import ModelError
from .priors import PopulationPrior

__all__ = ["Forecast", "a_priori"]


@dataclass(frozen=True, eq=False)
class Forecast:
    """A prediction over time with a credible band.

    Attributes:
        times: the output times.
        output: the predicted output's name.
        pred: the point prediction (at the MAP estimate, or at the typical values a priori).
        median, lower, upper: the band's median and limits (``level`` central probability).
        level: e.g. 0.9 for a 90 % band.
        method: ``"sample"`` or ``"delta"``.
        samples: the simulated draws (n, T) for ``"sample"``, else None.
        parameter_samples: name -> draws of the parameters, for ``"sample"``.
    """

    times: np.ndarray
    output: str
    pred: np.ndarray
    median: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    level: float
    method: str
    samples: Any = None
    parameter_samples: Any = None

    def to_pandas(self):
        """Columns ``time, pred, median, lower, upper``."""
        import pandas as pd

        return pd.DataFrame({"time": self.times, "pred": self.pred, "median": self.median, "lower": self.lower,
                             "upper": self.upper})

    def plot(self, ax=None, *, label: str = "forecast", observations=None):
        """The prediction and its band; optionally observations as (time, value) pairs."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        line, = ax.plot(self.times, self.pred, label=label)
        ax.fill_between(self.times, self.lower, self.upper, alpha=0.25, color=line.get_color(),
                        label=f"{round(100 * self.level)} % band")
        if observations is not None:
            t, y = observations
            ax.plot(t, y, "o", color="k", label="observed")
        ax.set_xlabel("time")
        ax.set_ylabel(self.output)
        ax.legend(fontsize="small")
        return ax


def _band(samples, level):
    lo, hi = 0.5 - level / 2, 0.5 + level / 2
    q = np.nanquantile(samples, [lo, 0.5, hi], axis=0)
    return q[1], q[0], q[2]


def _simulate_draws(compiled, times, draws: Mapping[str, np.ndarray], fixed: Mapping[str, float], regimen, output,
                    options):
    import qsp

    params = {k: float(v) for k, v in fixed.items() if k in compiled.parameter_names and k not in draws}
    params.update({k: np.asarray(v, float) for k, v in draws.items()})
    pop = qsp.simulate_population(compiled, np.asarray(times, float), params=params, regimen=regimen,
                                  progress=False, **options)
    return np.asarray(pop[output])


def _sim_options(context):
    return {k: v for k, v in dict(solver=context.get("solver"), rtol=context.get("sim_rtol"),
                                  atol=context.get("sim_atol"), max_steps=context.get("sim_max_steps")).items()
            if v is not None}


def forecast_from_fit(result, times, regimen=None, *, output=None, level=0.9, n_samples=1000, method="sample",
                      seed=0, subject=0) -> Forecast:
    """See :meth:`qsp.inference.FitResult.forecast`."""
    if not 0 < level < 1:
        raise ModelError(f"level={level}; give a probability between 0 and 1 (0.9 for a 90 % band).")
    c = result.context
    compiled, problem = c["compiled"], c["problem"]
    output = output or problem.outputs[0]
    compiled.output_expression(output)
    regimen = result.subjects[subject].regimen if regimen is None else regimen
    times = np.asarray(times, float)
    params = result.params[subject]
    pred = np.asarray(result.simulate(times, regimen, subject=result.ids[subject])[output])
    model_k = [k for k, n in enumerate(result.names) if n in compiled.parameter_names]
    if not result.hessian_ok:
        raise ModelError("the fit's Hessian is not positive definite, so it has no posterior covariance to "
                         "draw from; check result.message.")
    if method == "sample":
        rng = np.random.default_rng(seed)
        u = rng.multivariate_normal(result.internal, result.internal_covariance, size=int(n_samples))
        theta = np.stack([np.asarray(problem.transforms[k].to_natural(jnp.asarray(u[:, k]))) for k in model_k], 1)
        draws = {result.names[k]: theta[:, j] for j, k in enumerate(model_k)}
        samples = _simulate_draws(compiled, times, draws, params, regimen, output, _sim_options(c))
        median, lower, upper = _band(samples, level)
        return Forecast(times, output, pred, median, lower, upper, level, "sample", samples, draws)
    if method == "delta":
        from scipy.stats import norm

        import qsp

        names = [result.names[k] for k in model_k]
        fixed = {k: v for k, v in params.items() if k in compiled.parameter_names and k not in names}
        transforms = [problem.transforms[k] for k in model_k]

        def f(u):
            p = dict(fixed)
            p.update({n: t.to_natural(u[j]) for j, (n, t) in enumerate(zip(names, transforms))})
            return qsp.simulate(compiled, times, params=p, regimen=regimen, adjoint="forward",
                                **_sim_options(c))[output]

        u_hat = jnp.asarray(result.internal[model_k])
        jac = np.asarray(jax.jit(jax.jacfwd(f))(u_hat))
        cov = result.internal_covariance[np.ix_(model_k, model_k)]
        sd = np.sqrt(np.clip(np.einsum("ti,ij,tj->t", jac, cov, jac), 0.0, None))
        z = float(norm.ppf(0.5 + level / 2))
        return Forecast(times, output, pred, pred, pred - z * sd, pred + z * sd, level, "delta")
    raise ModelError(f"method={method!r}; use 'sample' (posterior draws through the simulator) or 'delta'.")


def a_priori(compiled, prior: PopulationPrior, regimen, times, *, output: str, params: Mapping | None = None,
             level: float = 0.9, n_samples: int = 1000, seed: int = 0, solver=None, rtol=None, atol=None,
             max_steps=None) -> Forecast:
    """The population prediction for a patient before any level is measured.

    ``params`` holds the patient's covariates (model parameters such as ``WT``, ``CRCL``) and
    any other fixed values. The point prediction uses the typical values (η = 0); the band
    draws :math:`\\eta \\sim N(0, \\Omega)` and simulates every draw (one batched call).

    Example:
        >>> import qsp
        >>> V, CL = qsp.Parameter("V", 10.0), qsp.Parameter("CL", 1.0)
        >>> A = qsp.Species("A", qsp.Compartment("c", volume=V))
        >>> cm = qsp.compile(qsp.Model("iv", reactions=[qsp.Reaction([A], [], rate=CL * A)], observables={"C": A}))
        >>> prior = PopulationPrior({"CL": 0.09, "V": 0.04})
        >>> fc = a_priori(cm, prior, qsp.Regimen([qsp.Bolus(A, 100.0)]), [1.0, 6.0], output="C", n_samples=200)
        >>> [round(float(x), 3) for x in fc.pred]            # 10 exp(-0.1 t)
        [9.048, 5.488]
        >>> bool(fc.lower[1] < fc.pred[1] < fc.upper[1])
        True
    """
    import qsp

    if not isinstance(prior, PopulationPrior):
        raise ModelError(f"prior is {prior!r}; give a qsp.inference.PopulationPrior.")
    if not 0 < level < 1:
        raise ModelError(f"level={level}; give a probability between 0 and 1.")
    compiled.output_expression(output)
    params = dict(params or {})
    compiled.parameter_vector(params)  # names checked
    defaults = dict(zip(compiled.parameter_names, np.asarray(compiled.default_parameters).tolist()))
    defaults.update({k: float(v) for k, v in params.items()})
    typical = dict(zip(prior.names, prior.typical_values(defaults)))
    options = {k: v for k, v in dict(solver=solver, rtol=rtol, atol=atol, max_steps=max_steps).items()
               if v is not None}
    times = np.asarray(times, float)
    pred = np.asarray(qsp.simulate(compiled, times, params={**params, **typical}, regimen=regimen, **options)[output])
    draws = prior.sample(int(n_samples), seed=seed, defaults=defaults)
    samples = _simulate_draws(compiled, times, draws, defaults, regimen, output, options)
    median, lower, upper = _band(samples, level)
    return Forecast(times, output, pred, median, lower, upper, level, "sample", samples, draws)
