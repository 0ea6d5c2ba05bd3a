"""``qsp.fit``: maximum likelihood or MAP estimates of model parameters.

The objective is the negative log-likelihood of the data (:mod:`qsp.inference.likelihood`),
plus, for MAP, the population prior's negative log-density (:mod:`qsp.inference.priors`).
Parameters are estimated on a transformed scale (log by default, :mod:`qsp.inference.transforms`),
from one or several starting points, by a compiled optimiser (:mod:`qsp.inference._optimise`);
standard errors come from the autodiff Hessian at the optimum.
"""

from __future__ import annotations

import warnings
from typing import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import ModelError, QSPError
from . import _optimise
from ._assemble import build
from .problem import take
from .priors import PopulationPrior
from .result import FitResult, FitResults

__all__ = ["fit"]


def _free_parameters(estimate, prior) -> tuple[tuple, dict]:
    if estimate is None:
        if prior is None:
            raise ModelError("say which parameters to estimate: qsp.fit(..., estimate=['CL', 'V']) (or give a "
                             "prior=, whose parameters are then estimated).")
        estimate = list(prior.names)
    if isinstance(estimate, str):
        estimate = [estimate]
    initial = dict(estimate) if isinstance(estimate, Mapping) else {}
    names = tuple(estimate)
    if prior is not None:
        names = names + tuple(n for n in prior.names if n not in names)
    return names, {k: float(v) for k, v in initial.items()}


def fit(compiled, data, estimate: Sequence[str] | Mapping[str, float] | None = None, *, output=None, error=None,
        prior: PopulationPrior | None = None, params: Mapping[str, float] | None = None, regimen=None,
        covariates="auto", transforms: Mapping | None = None, pooled: bool = False, method: str = "bfgs",
        n_starts: int = 1, start_spread: float = 0.5, seed: int = 0, max_steps: int = 500, rtol: float = 1e-8,
        atol: float = 1e-8, solver=None, sim_rtol=None, sim_atol=None, sim_max_steps=None):
    """Fit model parameters to observations: maximum likelihood, or MAP with a ``prior``.

    The objective, minimised over the free parameters θ on their transformed scale u
    (θ = g(u), log for positive parameters), is

    .. math:: \\mathrm{obj}(\\theta) = -\\log L(\\theta) - \\log p(\\theta)

    with :math:`-\\log L` the negative log-likelihood (residual error model, BLQ samples by
    M3) and :math:`-\\log p` the population prior's term (absent for maximum likelihood).
    Standard errors are from the inverse Hessian of the objective on the u scale, taken by
    forward-over-forward autodiff at the optimum, carried to θ by the delta method
    (:math:`\\mathrm{Cov}(\\theta) = J H^{-1} J^\\top`, :math:`J = \\mathrm{diag}(g'(u))`). For
    MAP, :math:`H^{-1}` is the Laplace approximation of the posterior covariance of log θ.

    Args:
        compiled: from :func:`qsp.compile`.
        data: a pandas table (``time``, ``dv``, optional ``id``, ``output``, ``cens``, ``lloq``),
            a NONMEM dataset or subject from :func:`qsp.io.read_nonmem`, or
            :class:`~qsp.inference.Observations` (or a list of them).
        estimate: names of the parameters to estimate (model parameters and error parameters
            such as ``"sigma_add"``), or a mapping name -> starting value. With a ``prior``
            its parameters are estimated (and start from their typical values).
        output: the model output the observations measure (``"C"``), or observation
            compartment -> output for NONMEM data with several ``CMT``.
        error: the residual error model (default ``Additive(1.0)``), or output -> error model.
        prior: a :class:`~qsp.inference.PopulationPrior` for MAP (Bayesian) estimation.
        params: fixed values for other parameters (and error parameters).
        regimen: doses for a table without dose rows: a Regimen, or id -> Regimen.
        covariates: data columns that set model parameters per subject (default: those named
            like a model parameter), or their names, or column -> parameter.
        transforms: name -> ``"log"``, ``"logit"``, ``"identity"``, ``(lower, upper)`` or a
            transform; default: the parameter's bounds, else log when positive.
        pooled: with several subjects, ``False`` (default) fits each subject on its own and
            returns :class:`~qsp.inference.FitResults`; ``True`` fits one θ to all of them.
        method: ``"bfgs"`` (default, any objective) or ``"lm"`` (Levenberg–Marquardt, for
            sum-of-squares objectives: fixed additive or log-normal error, no BLQ).
        n_starts: starting points: the initial values, plus ``n_starts - 1`` draws around them
            (normal on the u scale with sd ``start_spread``); the best optimum wins.
        max_steps, rtol, atol: optimiser limits and tolerances (on u and on the objective).
        solver, sim_rtol, sim_atol, sim_max_steps: passed to the simulator.

    Returns:
        a :class:`~qsp.inference.FitResult` (one subject, or ``pooled=True``), else
        :class:`~qsp.inference.FitResults` (one result per subject).

    Example:
        >>> import qsp, numpy as np
        >>> from qsp.inference import Observations, Additive
        >>> V, CL = qsp.Parameter("V", 10.0), qsp.Parameter("CL", 1.0)
        >>> A = qsp.Species("A", qsp.Compartment("c", volume=V))
        >>> cm = qsp.compile(qsp.Model("iv", reactions=[qsp.Reaction([A], [], rate=CL * A)], observables={"C": A}))
        >>> t = np.array([0.5, 1.0, 2.0, 4.0, 8.0])
        >>> obs = Observations(t, 10 * np.exp(-0.2 * t), output="C", regimen=qsp.Regimen([qsp.Bolus(A, 100.0)]))
        >>> res = qsp.fit(cm, obs, ["CL", "V"], error=Additive(0.1))
        >>> round(res.estimates["CL"], 6), round(res.estimates["V"], 6)   # exact data: CL = 2, V = 10
        (2.0, 10.0)
    """
    if method not in ("bfgs", "lm"):
        raise ModelError(f"method={method!r}; use 'bfgs' or 'lm'.")
    if int(n_starts) < 1:
        raise ModelError(f"n_starts={n_starts}; give at least 1.")
    names, initial = _free_parameters(estimate, prior)
    problem, batch, subjects, info = build(
        compiled, data, output=output, error=error, params=params, regimen=regimen, covariates=covariates,
        free=names, transforms=transforms, prior=prior, solver=solver, rtol=sim_rtol, atol=sim_atol,
        max_steps=sim_max_steps)
    defaults, error_values = info["defaults"], info["error_values"]
    if method == "lm":
        _check_least_squares(problem, names, batch, info)

    # starting values: given, else the prior's typical value, else the model's / error model's value
    typical = dict(zip(prior.names, prior.typical_values(defaults))) if prior is not None else {}
    theta0 = []
    for n in names:
        if n in initial:
            v = initial[n]
        elif n in typical:
            v = typical[n]
        elif n in error_values:
            v = error_values[n]
        else:
            v = defaults[n]
        theta0.append(v)
    for n, v, t in zip(names, theta0, problem.transforms):
        if not t.contains(v):
            raise ModelError(f"the starting value of {n!r} is {v}, outside the range of its transform {t!r}; give "
                             f"a start inside it (estimate={{{n!r}: ...}}) or another transform.")
    u0 = np.asarray(problem.internal(jnp.asarray(theta0, float)))

    S = len(subjects)
    if pooled or S == 1:
        groups, group_subjects = [batch], [subjects]
    else:  # one kernel call per subject: the same compilation serves any number of subjects
        groups = [take(batch, slice(i, i + 1)) for i in range(S)]
        group_subjects = [[s] for s in subjects]
    rng = np.random.default_rng(seed)
    outs = []
    for g, rows in enumerate(groups):
        starts = np.tile(u0, (int(n_starts), 1))
        if n_starts > 1:
            starts[1:, :] += start_spread * rng.standard_normal((int(n_starts) - 1, len(names)))
        out = _optimise.fit_group(problem, rows, jnp.asarray(starts), method, int(max_steps), float(rtol),
                                  float(atol))
        out = jax.tree_util.tree_map(np.asarray, out)
        _check_start(problem, names, starts, group_subjects[g], out)
        outs.append(out)
    context = dict(compiled=compiled, problem=problem, names=names, defaults=defaults, error_values=error_values,
                   per_output=info["per_output"], method=method, prior=prior, solver=solver, sim_rtol=sim_rtol,
                   sim_atol=sim_atol, sim_max_steps=sim_max_steps)
    results = [FitResult.from_arrays(group_subjects[g], outs[g], context) for g in range(len(groups))]
    for r in results:
        if not (r.converged and r.hessian_ok):
            who = r.ids[0] if len(r.ids) == 1 else f"{len(r.ids)} pooled subjects"
            warnings.warn(f"qsp.fit, subject {who}: {r.message}. Check the starting values, n_starts=, max_steps= "
                          "or whether the data identify every estimated parameter.", RuntimeWarning, stacklevel=2)
    return results[0] if len(results) == 1 else FitResults(results)


def _check_start(problem, names, starts, subjects, out):
    """Name the sample whose likelihood is not finite at the starting values (a common setup error)."""
    if np.isfinite(out["start_objective"]):
        return
    theta = dict(zip(names, np.round(np.asarray(problem.natural(jnp.asarray(starts[0]))), 6).tolist()))
    for s, subject in enumerate(subjects):
        if out["start_failed"][s]:
            raise QSPError(f"subject {subject.id}: the simulation fails at the starting values {theta}; give "
                           "other starting values (estimate={name: value}).")
        term = out["start_term"][s]
        if not np.all(np.isfinite(term)):
            j = int(np.flatnonzero(~np.isfinite(term))[0])
            value = subject.dv[j] if subject.censored[j] == 0 else subject.limit[j]
            raise QSPError(f"subject {subject.id}: the sample at time {subject.times[j]:g} (value {value:g}) has no "
                           f"finite likelihood at the starting values {theta}: prediction {out['start_pred'][s, j]:g}, "
                           f"standard deviation {out['start_sd'][s, j]:g}. A proportional error model gives zero "
                           "spread where the prediction is zero (e.g. before absorption): use Combined error, or "
                           "leave such samples out.")
    raise QSPError(f"the objective is not finite at the starting values {theta}; give other starting values.")


def _check_least_squares(problem, names, batch, info):
    from . import error_models as em

    free_errors = [names[k] for k, _ in problem.error_slots]
    if free_errors:
        raise ModelError(f"method='lm' needs fixed error parameters (the objective must be a sum of squares); "
                         f"{free_errors[0]!r} is estimated. Use method='bfgs'.")
    for o, m in info["per_output"].items():
        if not isinstance(m, (em.Additive, em.LogNormal)):
            raise ModelError(f"method='lm' needs an error whose spread does not depend on the prediction; output "
                             f"{o!r} has {type(m).__name__}. Use method='bfgs'.")
    if bool(np.any(np.asarray(batch.censored) != 0)):
        raise ModelError("method='lm' cannot use censored (BLQ) samples; use method='bfgs'.")
