"""Assemble a :class:`~qsp.inference.problem.Problem` and its :class:`~qsp.inference.problem.Batch`
from what the user gives ``qsp.fit`` / ``Likelihood``: data, outputs, error models, fixed values,
covariates, free parameters, transforms and prior. Everything here is host-side checking and
bookkeeping; every bad input raises a typed error that names it.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import jax.numpy as jnp
import numpy as np

from ..compile import CompiledModel
from ..errors import DataError, ModelError
from . import error_models as em
from ._simulator import solver_options, split_regimens
from .data import as_subjects
from .priors import PopulationPrior
from .problem import Batch, Problem
from .transforms import Bounded, Identity, Log, Transform, as_transform

__all__ = ["build"]


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


def _prior_arrays(prior, free, defaults):
    """Slots of the prior's parameters in θ, their log typical values, L⁻¹ (Ω = L Lᵀ) and ½ log det 2πΩ."""
    if prior is None:
        return (), np.zeros(0), np.zeros((0, 0)), 0.0
    if not isinstance(prior, PopulationPrior):
        raise ModelError(f"prior= is {prior!r}; give a qsp.inference.PopulationPrior.")
    missing = [n for n in prior.names if n not in free]
    if missing:
        raise ModelError(f"the prior has a random effect on {missing[0]!r}, which is not estimated; add it to "
                         "estimate= (MAP estimates every parameter with a random effect).")
    slots = tuple(free.index(n) for n in prior.names)
    whiten = np.linalg.inv(np.linalg.cholesky(prior.omega))
    constant = 0.5 * np.linalg.slogdet(2 * np.pi * prior.omega)[1]
    return slots, np.log(prior.typical_values(defaults)), whiten, constant


def _transforms(compiled, free, transforms, error_values, defaults, prior_slots):
    """Per free parameter: the given transform, else Log for error parameters and parameters with
    a random effect, else the parameter's bounds, else Log for a positive value."""
    unknown = [n for n in transforms if n not in free]
    if unknown:
        raise ModelError(f"transforms= names {unknown[0]!r}, which is not estimated; estimated: {list(free)}.")
    resolved = []
    for k, n in enumerate(free):
        if n in transforms:
            t = as_transform(transforms[n], n)
            if k in prior_slots and not (isinstance(t, Log) and t.lower == 0.0):
                raise ModelError(f"{n!r} has a log-normal random effect, so it is estimated on the log scale; "
                                 f"leave its transform out (it is {t!r}).")
        elif n in error_values or k in prior_slots:
            t = Log()
        else:
            bounds = compiled.model.symbol(n).bounds
            t = Bounded(*bounds) if bounds is not None else (Log() if defaults[n] > 0 else Identity())
        resolved.append(t)
    return tuple(resolved)


def _error_indices(outputs, per_output, error_names):
    """Per output: the family code and where its a and b sit in [error values..., 0]."""
    E = len(error_names)
    families, a_index, b_index = [], [], []
    for o in outputs:
        m = per_output[o]
        names_o = list(m.parameters)
        families.append(m.family)
        if isinstance(m, em.Proportional):
            a_index.append(E), b_index.append(error_names.index(names_o[0]))
        elif isinstance(m, em.Combined):
            a_index.append(error_names.index(names_o[0])), b_index.append(error_names.index(names_o[1]))
        else:
            a_index.append(error_names.index(names_o[0])), b_index.append(E)
    return np.asarray(families, int), np.asarray(a_index), np.asarray(b_index)


def _stack(compiled, subjects, outputs, default_output, per_output, defaults):
    """The subjects padded to one number of samples (padding rows are not observed), as numpy:
    slicing one subject out for its own fit then costs no device work."""
    n_t = max(s.times.size for s in subjects)
    S = len(subjects)
    times = np.zeros((S, n_t))
    before = np.zeros((S, n_t), bool)
    dv = np.ones((S, n_t))  # 1.0 where unused: keeps every branch finite for gradients
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
        t0s.append(min([0.0, float(s.times[0]), *(float(d.time) for d in s.regimen.doses())]))
        for j in np.flatnonzero(s.observed & (s.censored == 0)):
            if per_output[outputs[out_index[i, j]]].family == em.LOG_NORMAL and not s.dv[j] > 0:
                raise DataError(f"subject {s.id}: observation {s.dv[j]:g} at time {s.times[j]:g} is not positive; "
                                "a log-normal error model needs positive values (censor it with cens=1 if it is "
                                "below the limit of quantification).")
    structure, numbers = split_regimens(compiled, [s.regimen for s in subjects], t0s)
    batch = Batch(times=times, before=before, t0=np.asarray(t0s, float), dv=dv, limit=limit, censored=censored,
                  observed=observed, out_index=out_index, base_p=base_p, numbers=dict(numbers))
    return structure, batch


def build(compiled: CompiledModel, data, *, output=None, error=None, params=None, regimen=None,
          covariates="auto", free: Sequence[str] = (), transforms: Mapping[str, Transform] | None = None,
          prior: PopulationPrior | None = None, solver=None, rtol=None, atol=None, max_steps=None):
    """Assemble ``(problem, batch, subjects, info)`` from user inputs; ``free`` names the parameters of θ.

    ``info`` holds the host-side names: ``names`` (θ's order), ``error_names``, ``defaults``
    (model values with ``params=``), ``error_values`` and ``per_output`` (error model per output).
    """
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
    defaults = dict(zip(compiled.parameter_names, np.asarray(compiled.default_parameters).tolist()))
    defaults.update({k: float(v) for k, v in params.items() if k in defaults})

    free = tuple(free)
    for n in free:
        if n not in compiled.parameter_names and n not in error_values:
            raise ModelError(f"cannot estimate {n!r}: it is neither a parameter of model {compiled.model.name!r} "
                             f"({', '.join(compiled.parameter_names)}) nor an error parameter "
                             f"({', '.join(error_names)}).")
    if len(set(free)) != len(free):
        raise ModelError(f"estimate= repeats a name: {list(free)}.")
    prior_slots, prior_mean, whiten, constant = _prior_arrays(prior, free, defaults)
    structure, batch = _stack(compiled, subjects, outputs, default_output, per_output, defaults)
    families, a_index, b_index = _error_indices(outputs, per_output, error_names)
    problem = Problem(
        compiled=compiled, structure=structure, options=solver_options(solver, rtol, atol, max_steps, "forward"),
        outputs=outputs, transforms=_transforms(compiled, free, dict(transforms or {}), error_values, defaults,
                                                prior_slots),
        model_slots=tuple((k, compiled.parameter_index(n)) for k, n in enumerate(free) if n in defaults),
        error_slots=tuple((k, error_names.index(n)) for k, n in enumerate(free) if n in error_values),
        prior_slots=prior_slots, error_fixed=jnp.asarray([error_values[n] for n in error_names], float),
        family=jnp.asarray(families), a_index=jnp.asarray(a_index), b_index=jnp.asarray(b_index),
        prior_mean=jnp.asarray(prior_mean, float), prior_whiten=jnp.asarray(whiten, float),
        prior_constant=jnp.asarray(constant, float),
    )
    info = dict(defaults=defaults, error_values=error_values, per_output=per_output, names=free,
                error_names=tuple(error_names))
    return problem, batch, subjects, info
