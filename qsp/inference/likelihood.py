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
parameter values, so ``jax.jit``, ``jax.jacfwd`` and ``jacfwd(jacfwd(...))`` Hessians work, and
new parameter values (or new data of the same shape) never recompile. Subjects are padded to
one shape and simulated under ``vmap`` (one subject: no ``vmap``, which compiles faster).
"""

from __future__ import annotations

from typing import Mapping

import equinox as eqx
import jax
import jax.numpy as jnp

from ..errors import ModelError
from . import error_models as em
from ._assemble import build
from .problem import TRACE_COUNT, Batch, Problem, take

__all__ = ["Likelihood", "TRACE_COUNT"]


class Likelihood(eqx.Module):
    """The negative log-likelihood of observations as a function of parameter values.

    ``lik(params)`` takes a mapping name -> value over model parameters and error
    parameters (any subset: the others keep the model's values, ``params=`` and each
    subject's covariates) and returns :math:`-\\log L`, summed over subjects, with every
    constant (:math:`\\tfrac12\\log 2\\pi` per observation). It is pure JAX: jit it
    (``jax.jit(lambda lik, p: lik(p))`` traces the data and the values, so new values and new
    data of the same shapes never recompile), differentiate it with ``jax.jacfwd`` (its
    simulations are set up for forward mode, the cheaper mode for a handful of parameters;
    ``jax.grad`` is not available), and evaluate it eagerly too. :meth:`per_subject` and
    :meth:`terms` give the pieces.

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
