"""The objective's pieces as JAX: stacked subject data (:class:`Batch`) and the static
description of a likelihood (:class:`Problem`): parameter layout, error model, prior.

For subject *i* with parameters θ, the simulator gives the predictions
:math:`f_{ij}(\\theta)` at the sample times (one solve per subject), and each sample adds
:math:`\\log p(y_{ij} \\mid f_{ij})` (observed) or the M3 term
:math:`\\log \\Phi((L_{ij} - f_{ij})/s_{ij})` (below its quantification limit ``L``) to the
log-likelihood; a MAP objective adds the prior's negative log-density.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from ..compile import CompiledModel
from . import error_models as em
from ._simulator import simulate_states

__all__ = ["Batch", "Problem", "take", "TRACE_COUNT"]

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
