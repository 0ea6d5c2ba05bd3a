"""The negative log-likelihood of a model, its regimens and observations.

For subject *i* with parameters θ, the simulator gives the predictions
:math:`f_{ij}(\\theta)` at the sample times (one solve per subject), and

.. math::

    -\\log L(\\theta) = -\\sum_i \\Big[ \\sum_{j \\,\\in\\, \\text{observed}} \\log p(y_{ij} \\mid f_{ij})
    + \\sum_{j \\,\\in\\, \\text{BLQ}} \\log \\Phi\\!\\Big(\\frac{L_{ij} - f_{ij}}{s_{ij}}\\Big) \\Big]

with ``p`` the residual error model's density (:mod:`qsp.inference.error_models`) and the
second sum the M3 term of samples below their limit of quantification ``L``. A MAP
objective adds the population prior's negative log-density (:mod:`qsp.inference.priors`).

:class:`Likelihood` is an ``equinox.Module``: ``lik(params)`` is a pure JAX function of the
parameter values, so ``jax.jit``, ``jax.grad`` and ``jax.hessian``-style ``jacfwd`` work, and
new parameter values (or new data of the same shape) never recompile. Subjects are padded to
one shape and simulated under ``vmap``.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..compile import CompiledModel
from ..errors import DataError, ModelError
from . import error_models as em
from ._simulator import simulate_states, solver_options, split_regimens
from .data import Observations, as_subjects
from .priors import PopulationPrior
from .transforms import Transform

__all__ = ["Likelihood"]

#: How often the objective body has been traced (a test checks that new values never retrace).
TRACE_COUNT = {"objective": 0}


# ----------------------------------------------------------------------------- stacked data
class Batch(eqx.Module):
    """Subjects padded to one shape (leading axis: subjects). Padding rows have observed=False."""

    times: jax.Array  # (S, T)
    before: jax.Array  # (S, T) bool
    t0: jax.Array  # (S,)
    dv: jax.Array  # (S, T), 1.0 where unused (keeps gradients finite)
    limit: jax.Array  # (S, T), 1.0 where not censored
    censored: jax.Array  # (S, T) int: 0, 1 (below), -1 (above)
    observed: jax.Array  # (S, T) bool: enters the likelihood
    out_index: jax.Array  # (S, T) int: which output
    base_p: jax.Array  # (S, P) full parameter vectors (defaults, params=, covariates)
    numbers: dict  # regimen numbers, each (S, D)


def take(batch: Batch, index) -> Batch:
    """Rows ``index`` of every array (an int keeps no subject axis)."""
    return jax.tree_util.tree_map(lambda a: a[index], batch)


# ----------------------------------------------------------------------------- problem
class Problem(eqx.Module):
    """Everything static about a likelihood, plus the few arrays that describe the error model
    and prior. θ holds the free parameters in the order of ``info["names"]`` from :func:`build`;
    the names themselves stay outside (so fits that differ only in names share a compilation)."""

    compiled: CompiledModel
    structure: object = eqx.field(static=True)
    options: object = eqx.field(static=True)
    outputs: tuple = eqx.field(static=True)
    transforms: tuple = eqx.field(static=True)
    model_slots: tuple = eqx.field(static=True)  # (k, parameter index) per free model parameter
    error_slots: tuple = eqx.field(static=True)  # (k, error index) per free error parameter
    prior_slots: tuple = eqx.field(static=True)  # k per prior parameter (Ω order)
    error_fixed: jax.Array  # (E,)
    family: jax.Array  # (O,) per output
    a_index: jax.Array  # (O,) into [errors..., 0]
    b_index: jax.Array  # (O,)
    prior_mean: jax.Array  # (k,) log typical values
    prior_whiten: jax.Array  # (k, k): L⁻¹ with Ω = L Lᵀ
    prior_constant: jax.Array  # ½ log det(2πΩ)

    # -- parameter vectors
    def natural(self, u):
        """θ = g(u), transform by transform."""
        return jnp.stack([t.to_natural(u[k]) for k, t in enumerate(self.transforms)]) if self.transforms else u

    def internal(self, theta):
        return jnp.stack([t.to_internal(theta[k]) for k, t in enumerate(self.transforms)]) if self.transforms else theta

    def parameter_vector(self, base_p, theta):
        if not self.model_slots:
            return base_p
        ks = jnp.asarray([k for k, _ in self.model_slots])
        idx = jnp.asarray([i for _, i in self.model_slots])
        return jnp.asarray(base_p).at[idx].set(theta[ks])

    def error_values(self, theta):
        sig = self.error_fixed
        if self.error_slots:
            ks = jnp.asarray([k for k, _ in self.error_slots])
            idx = jnp.asarray([i for _, i in self.error_slots])
            sig = sig.at[idx].set(theta[ks])
        return jnp.concatenate([sig, jnp.zeros((1,), sig.dtype)])

    # -- one subject
    def predict(self, row: Batch, theta):
        """Predictions at the subject's sample times, (T,), and whether the solve failed."""
        p = self.parameter_vector(row.base_p, theta)
        ys, failed, args = simulate_states(self.compiled, row.times, row.before, p, self.structure, row.numbers,
                                           self.options, row.t0)
        per_output = [jax.vmap(lambda t, y, name=name: self.compiled.output(name, t, y, args))(row.times, ys)
                      for name in self.outputs]
        stacked = jnp.stack(per_output)  # (O, T)
        f = jnp.take_along_axis(stacked, row.out_index[None, :], axis=0)[0]
        return f, failed[0] >= 0

    def row_terms(self, row: Batch, theta):
        """Per sample: log-likelihood term (0 where unused), prediction, standard deviation and
        standardised residual; and the failure flag."""
        f, failed = self.predict(row, theta)
        sig = self.error_values(theta)
        family = self.family[row.out_index]
        a, b = sig[self.a_index[row.out_index]], sig[self.b_index[row.out_index]]
        used = row.observed
        f_safe = jnp.where(used, f, 1.0)
        plain = row.censored == 0
        observed_term = em.log_density(family, a, b, row.dv, f_safe)
        censored_term = em.log_censored(family, a, b, row.limit, f_safe, jnp.where(row.censored < 0, -1, 1))
        term = jnp.where(used, jnp.where(plain, observed_term, censored_term), 0.0)
        sd = em.standard_deviation(family, a, b, f_safe)
        z = em.standardised_residual(family, a, b, jnp.where(plain, row.dv, row.limit), f_safe)
        return term, f, sd, z, failed

    def subject_nll(self, row: Batch, theta):
        term, f, _, _, failed = self.row_terms(row, theta)
        value = -jnp.sum(term)
        bad = failed | ~jnp.isfinite(value) | ~jnp.all(jnp.where(row.observed, jnp.isfinite(f), True))
        return jnp.where(bad, jnp.inf, value)

    # -- prior and objective
    def neg_log_prior(self, theta):
        if not self.prior_slots:
            return jnp.zeros((), theta.dtype)
        eta = jnp.log(theta[jnp.asarray(self.prior_slots)]) - self.prior_mean
        w = self.prior_whiten @ eta
        return 0.5 * jnp.dot(w, w) + self.prior_constant

    def group_terms(self, rows: Batch, theta):
        """:meth:`row_terms` of a group of subjects sharing θ (leading subject axis)."""
        if rows.times.shape[0] == 1:  # one subject: no vmap (batching the solver's loops costs compile time)
            return jax.tree_util.tree_map(lambda a: a[None], self.row_terms(take(rows, 0), theta))
        return jax.vmap(self.row_terms, in_axes=(0, None))(rows, theta)

    def objective_and_terms(self, rows: Batch, u):
        """Negative log-posterior (or log-likelihood without a prior) of a group of subjects that
        share θ = g(u) (``rows`` has a leading subject axis), and the per-sample terms."""
        TRACE_COUNT["objective"] += 1
        theta = self.natural(u)
        term, f, sd, z, failed = self.group_terms(rows, theta)
        value = -jnp.sum(term)
        bad = jnp.any(failed) | ~jnp.isfinite(value) | ~jnp.all(jnp.where(rows.observed, jnp.isfinite(f), True))
        prior = self.neg_log_prior(theta)
        value = jnp.where(bad, jnp.inf, value + prior)
        return value, dict(term=term, pred=f, sd=sd, z=z, failed=failed, prior=prior)

    def objective(self, rows: Batch, u):
        """The objective alone (see :meth:`objective_and_terms`)."""
        return self.objective_and_terms(rows, u)[0]

    def residuals(self, rows: Batch, u):
        """Residual vector whose half squared norm is the objective up to a constant (only for
        error models whose standard deviation does not depend on θ; see ``fit(method="lm")``)."""
        theta = self.natural(u)
        z = self.group_terms(rows, theta)[3]
        z = jnp.where(rows.observed, z, 0.0).reshape(-1)
        if self.prior_slots:
            eta = jnp.log(theta[jnp.asarray(self.prior_slots)]) - self.prior_mean
            z = jnp.concatenate([z, self.prior_whiten @ eta])
        return z


# ----------------------------------------------------------------------------- assembly
def _error_table(outputs, error, compiled):
    """Per output its error model; every error parameter name once."""
    if isinstance(error, em.ErrorModel):
        per_output = {o: error for o in outputs}
    elif isinstance(error, Mapping):
        missing = [o for o in outputs if o not in error]
        if missing:
            raise ModelError(f"error= has no error model for output {missing[0]!r}; give one per observed output "
                             f"({list(outputs)}).")
        per_output = {o: error[o] for o in outputs}
    else:
        raise ModelError(f"error= is {error!r}; give an error model such as qsp.inference.Additive(1.0), or a "
                         "mapping output -> error model.")
    names, values, owner = [], {}, {}
    for o, m in per_output.items():
        if not isinstance(m, em.ErrorModel):
            raise ModelError(f"error model for output {o!r} is {m!r}; use Additive, Proportional, Combined or "
                             "LogNormal from qsp.inference.")
        for n, v in m.parameters.items():
            if n in compiled.parameter_names:
                raise ModelError(f"error parameter {n!r} has the name of a model parameter; rename it (name=...).")
            if n in owner and owner[n] is not m:
                raise ModelError(f"two error models use the parameter name {n!r}; give each output's error model "
                                 "its own names (name=... or names=(...)), or pass the same object to share it.")
            if n not in values:
                names.append(n)
                values[n] = v
                owner[n] = m
    return per_output, names, values


def _check_outputs(compiled, subjects, default_output):
    outputs = []
    for s in subjects:
        for o in s.output[s.observed]:
            if o is None:
                o = default_output
            if o is None:
                raise DataError(f"subject {s.id}: say which model output the observations measure "
                                "(output='C').")
            if o not in outputs:
                outputs.append(o)
    if not outputs and default_output is not None:
        outputs.append(default_output)
    for o in outputs:
        compiled.output_expression(o)  # raises ModelError naming the available outputs
    return tuple(outputs)


def build(compiled: CompiledModel, data, *, output=None, error=None, params=None, regimen=None,
          covariates="auto", free: Sequence[str] = (), transforms: Mapping[str, Transform] | None = None,
          prior: PopulationPrior | None = None, solver=None, rtol=None, atol=None, max_steps=None):
    """Assemble (Problem, Batch, subjects, info) from user inputs; ``free`` names the parameters of θ."""
    if not isinstance(compiled, CompiledModel):
        raise TypeError(f"needs a CompiledModel from qsp.compile(model), got {type(compiled).__name__}.")
    subjects = as_subjects(data, output=output, regimen=regimen, covariates=covariates,
                           parameter_names=compiled.parameter_names)
    if not subjects:
        raise DataError("the data hold no subjects.")
    default_output = output if isinstance(output, str) else None
    outputs = _check_outputs(compiled, subjects, default_output)
    per_output, error_names, error_values = _error_table(outputs, error if error is not None else em.Additive(1.0),
                                                         compiled)

    params = dict(params or {})
    compiled.parameter_vector({k: v for k, v in params.items() if k in compiled.parameter_names})
    unknown = [k for k in params if k not in compiled.parameter_names and k not in error_values]
    if unknown:
        raise ModelError(f"params= names {unknown[0]!r}, which is neither a parameter of model "
                         f"{compiled.model.name!r} nor an error parameter ({', '.join(error_names)}).")
    error_values.update({k: float(v) for k, v in params.items() if k in error_values})

    # -- free parameters
    free = tuple(free)
    for n in free:
        if n not in compiled.parameter_names and n not in error_values:
            raise ModelError(f"cannot estimate {n!r}: it is neither a parameter of model {compiled.model.name!r} "
                             f"({', '.join(compiled.parameter_names)}) nor an error parameter "
                             f"({', '.join(error_names)}).")
    if len(set(free)) != len(free):
        raise ModelError(f"estimate= repeats a name: {list(free)}.")
    transforms = dict(transforms or {})
    model_slots = tuple((k, compiled.parameter_index(n)) for k, n in enumerate(free) if n in compiled.parameter_names)
    error_slots = tuple((k, error_names.index(n)) for k, n in enumerate(free) if n in error_values)
    prior_slots = ()
    prior_mean = np.zeros(0)
    whiten = np.zeros((0, 0))
    constant = 0.0
    defaults = dict(zip(compiled.parameter_names, np.asarray(compiled.default_parameters).tolist()))
    defaults.update({k: float(v) for k, v in params.items() if k in defaults})
    if prior is not None:
        if not isinstance(prior, PopulationPrior):
            raise ModelError(f"prior= is {prior!r}; give a qsp.inference.PopulationPrior.")
        missing = [n for n in prior.names if n not in free]
        if missing:
            raise ModelError(f"the prior has a random effect on {missing[0]!r}, which is not estimated; add it to "
                             "estimate= (MAP estimates every parameter with a random effect).")
        prior_slots = tuple(free.index(n) for n in prior.names)
        prior_mean = np.log(prior.typical_values(defaults))
        chol = np.linalg.cholesky(prior.omega)
        whiten = np.linalg.inv(chol)
        constant = 0.5 * np.linalg.slogdet(2 * np.pi * prior.omega)[1]

    # -- stacked data
    n_t = max(max(s.times.size for s in subjects), 1)
    S = len(subjects)
    times = np.zeros((S, n_t))
    before = np.zeros((S, n_t), bool)
    dv = np.ones((S, n_t))
    limit = np.ones((S, n_t))
    censored = np.zeros((S, n_t), int)
    observed = np.zeros((S, n_t), bool)
    out_index = np.zeros((S, n_t), int)
    base_p = np.tile(np.asarray([defaults[n] for n in compiled.parameter_names]), (S, 1))
    t0s = []
    for i, s in enumerate(subjects):
        n = s.times.size
        if n == 0:
            raise DataError(f"subject {s.id} has no sample times.")
        times[i, :n], times[i, n:] = s.times, s.times[-1]
        before[i, :n] = s.before
        dv[i, :n] = np.where(np.isnan(s.dv), 1.0, s.dv)
        limit[i, :n] = np.where(np.isnan(s.limit), 1.0, s.limit)
        censored[i, :n] = s.censored
        observed[i, :n] = s.observed
        out_index[i, :n] = [outputs.index(o if o is not None else default_output) if s.observed[j] else 0
                            for j, o in enumerate(s.output)]
        for name, value in s.covariates.items():
            base_p[i, compiled.parameter_index(name)] = value
        dose_times = [float(d.time) for d in s.regimen.doses()]
        t0s.append(min([0.0, float(s.times[0]), *dose_times]))
        for j in np.flatnonzero(s.observed & (s.censored == 0)):
            fam = per_output[outputs[out_index[i, j]]].family
            if fam == em.LOG_NORMAL and not s.dv[j] > 0:
                raise DataError(f"subject {s.id}: observation {s.dv[j]:g} at time {s.times[j]:g} is not positive; "
                                "a log-normal error model needs positive values (censor it with cens=1 if it is "
                                "below the limit of quantification).")
    structure, numbers = split_regimens(compiled, [s.regimen for s in subjects], t0s)
    families = np.asarray([per_output[o].family for o in outputs], int)
    a_index, b_index = [], []
    E = len(error_names)
    for o in outputs:
        m = per_output[o]
        names_o = list(m.parameters)
        if isinstance(m, em.Proportional):
            a_index.append(E), b_index.append(error_names.index(names_o[0]))
        elif isinstance(m, em.Combined):
            a_index.append(error_names.index(names_o[0])), b_index.append(error_names.index(names_o[1]))
        else:
            a_index.append(error_names.index(names_o[0])), b_index.append(E)

    from .transforms import Bounded, Log

    resolved = []
    for k, n in enumerate(free):
        if n in transforms:
            from .transforms import as_transform
            t = as_transform(transforms[n], n)
        elif n in error_values:
            t = Log()
        else:
            bounds = compiled.model.symbol(n).bounds
            t = Bounded(*bounds) if bounds is not None else (Log() if defaults[n] > 0 else Bounded())
        if k in prior_slots and not (isinstance(t, Log) and t.lower == 0.0):
            raise ModelError(f"{n!r} has a log-normal random effect, so it is estimated on the log scale; leave "
                             f"its transform out (it is {t!r}).")
        resolved.append(t)
    unknown_t = [n for n in transforms if n not in free]
    if unknown_t:
        raise ModelError(f"transforms= names {unknown_t[0]!r}, which is not estimated; estimated: {list(free)}.")

    problem = Problem(
        compiled=compiled, structure=structure,
        options=solver_options(solver, rtol, atol, max_steps, "forward"),
        outputs=outputs, transforms=tuple(resolved), model_slots=model_slots,
        error_slots=error_slots, prior_slots=prior_slots,
        error_fixed=jnp.asarray([error_values[n] for n in error_names], float),
        family=jnp.asarray(families), a_index=jnp.asarray(a_index), b_index=jnp.asarray(b_index),
        prior_mean=jnp.asarray(prior_mean, float), prior_whiten=jnp.asarray(whiten, float),
        prior_constant=jnp.asarray(constant, float),
    )
    # host (numpy) arrays: slicing one subject out for its own fit costs no device work
    batch = Batch(times=times, before=before, t0=np.asarray(t0s, float), dv=dv, limit=limit, censored=censored,
                  observed=observed, out_index=out_index, base_p=base_p, numbers=dict(numbers))
    info = dict(defaults=defaults, error_values=error_values, per_output=per_output, names=free,
                error_names=tuple(error_names))
    return problem, batch, subjects, info


# ----------------------------------------------------------------------------- public
class Likelihood(eqx.Module):
    """The negative log-likelihood of observations as a function of parameter values.

    ``lik(params)`` takes a mapping name -> value over model parameters and error
    parameters (any subset: the others keep the model's values, ``params=`` and each
    subject's covariates) and returns :math:`-\\log L`, summed over subjects, with every
    constant (:math:`\\tfrac12\\log 2\\pi` per observation). It is pure JAX: jit it, take
    ``jax.grad`` (reverse mode works only with ``adjoint``-capable solvers; ``jax.jacfwd`` is
    the natural choice for a handful of parameters) and evaluate it at new values without
    recompiling. :meth:`per_subject` and :meth:`terms` give the pieces.

    Args:
        compiled: from :func:`qsp.compile`.
        data: observations (see :func:`qsp.inference.data.as_subjects`): a pandas table,
            a NONMEM dataset, or :class:`~qsp.inference.Observations`.
        output: the observed model output (a name), or observation compartment -> output.
        error: an error model (:class:`~qsp.inference.Additive` by default), or output -> model.
        params: fixed parameter values overriding the model's.
        regimen: the doses, for a table without dose rows (one regimen, or id -> regimen).
        covariates: which data columns set model parameters per subject (default: every column
            named like a model parameter).
        solver, rtol, atol, max_steps: as in :func:`qsp.simulate` (forward-mode differentiable).

    Example:
        >>> import qsp, jax, numpy as np
        >>> from qsp.inference import Likelihood, Observations, Additive
        >>> V, CL = qsp.Parameter("V", 10.0), qsp.Parameter("CL", 2.0)
        >>> A = qsp.Species("A", qsp.Compartment("c", volume=V))
        >>> cm = qsp.compile(qsp.Model("iv", reactions=[qsp.Reaction([A], [], rate=CL * A)], observables={"C": A}))
        >>> obs = Observations(times=[1.0, 4.0], dv=[8.0, 4.6], output="C",
        ...                    regimen=qsp.Regimen([qsp.Bolus(A, amount=100.0)]))
        >>> lik = Likelihood(cm, obs, error=Additive(0.5))
        >>> from scipy.stats import norm   # C = 10 exp(-0.2 t)
        >>> expected = -sum(norm.logpdf(y, 10 * np.exp(-0.2 * t), 0.5) for t, y in [(1, 8.0), (4, 4.6)])
        >>> bool(abs(float(lik({"CL": 2.0})) - expected) < 1e-6)
        True
    """

    problem: Problem
    batch: Batch
    names: tuple = eqx.field(static=True)
    error_names: tuple = eqx.field(static=True)

    def __init__(self, compiled, data, *, output=None, error=None, params=None, regimen=None, covariates="auto",
                 solver=None, rtol=None, atol=None, max_steps=None):
        error_model = error if error is not None else em.Additive(1.0)
        probe_names = list(compiled.parameter_names)
        err_models = error_model.values() if isinstance(error_model, Mapping) else [error_model]
        for m in err_models:
            probe_names += [n for n in m.parameters if n not in probe_names]
        problem, batch, _, info = build(compiled, data, output=output, error=error_model, params=params,
                                     regimen=regimen, covariates=covariates, free=tuple(probe_names),
                                     transforms={n: "identity" for n in probe_names}, solver=solver, rtol=rtol,
                                     atol=atol, max_steps=max_steps)
        self.problem, self.batch, self.names = problem, batch, tuple(probe_names)
        self.error_names = info["error_names"]

    def _theta(self, params: Mapping):
        unknown = [k for k in params if k not in self.names]
        if unknown:
            raise ModelError(f"no parameter {unknown[0]!r}; model and error parameters: {', '.join(self.names)}.")
        # start from each subject's own values (covariates) for model parameters not given
        return {k: jnp.asarray(v, float) for k, v in params.items()}

    def _rows_theta(self, params):
        given = self._theta(params)
        base = self.batch.base_p
        sig = self.problem.error_fixed
        p_names = self.problem.compiled.parameter_names

        def theta_for(base_row):
            values = []
            for n in self.names:
                if n in given:
                    values.append(given[n])
                elif n in p_names:
                    values.append(base_row[p_names.index(n)])
                else:
                    values.append(sig[self.error_names.index(n)])
            return jnp.stack(values)
        return jax.vmap(theta_for)(base)

    def per_subject(self, params: Mapping):
        """-log L of each subject, shape (subjects,)."""
        thetas = self._rows_theta(params)
        if self.batch.times.shape[0] == 1:  # no vmap for one subject: cheaper to compile
            return self.problem.subject_nll(take(self.batch, 0), thetas[0])[None]
        return jax.vmap(self.problem.subject_nll)(self.batch, thetas)

    def terms(self, params: Mapping):
        """Per subject and sample: log-likelihood term (0 where unused), prediction, standard
        deviation, standardised residual; each (subjects, samples)."""
        thetas = self._rows_theta(params)
        term, f, sd, z, _ = jax.vmap(self.problem.row_terms)(self.batch, thetas)
        return term, f, sd, z

    def __call__(self, params: Mapping):
        TRACE_COUNT["objective"] += 1
        return jnp.sum(self.per_subject(params))
