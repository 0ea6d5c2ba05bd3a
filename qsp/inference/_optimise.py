"""The compiled fitting kernel: multistart minimisation, then the Hessian at the optimum.

One ``equinox.filter_jit`` function serves every fit of one problem structure (model,
regimen structure, outputs, error families, free parameters, method): data, starting
values and fixed values are array arguments, so a new patient or new levels never
recompile. Groups of subjects that share θ (one subject each for individual fits, all of
them for a pooled fit) and starting points are batched with ``vmap``.

Optimisers (measured in ``benchmarks/bench_fit.py``, see ``docs/estimation.md``):

* ``"bfgs"`` (default): ``optimistix.BFGS`` on the objective, gradients by forward-mode
  autodiff through the simulator (a handful of parameters: forward mode is cheaper to
  compile and to run than reverse mode through the stiff solver's loop). Works for every
  objective (estimated error parameters, BLQ terms, priors).
* ``"lm"``: ``optimistix.LevenbergMarquardt`` on the residual vector (standardised residuals
  and whitened random effects). Fewer iterations, but valid only when the objective is a sum
  of squares: error standard deviations fixed and independent of the prediction (additive or
  log-normal error), no censored samples.

The Hessian is ``jacfwd(jacfwd(objective))`` on the transformed scale, at the optimum.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import optimistix as optx

from .problem import Batch, Problem


def _minimise(problem: Problem, rows: Batch, u0, method: str, max_steps: int, rtol: float, atol: float):
    if method == "bfgs":
        solver = optx.BFGS(rtol=rtol, atol=atol)
        sol = optx.minimise(lambda u, _: problem.objective(rows, u), solver, u0, max_steps=max_steps, throw=False,
                            options=dict(autodiff_mode="fwd"))
    else:
        solver = optx.LevenbergMarquardt(rtol=rtol, atol=atol)
        sol = optx.least_squares(lambda u, _: problem.residuals(rows, u), solver, u0, max_steps=max_steps,
                                 throw=False, options=dict(jac="fwd"))
    return sol.value, sol.result == optx.RESULTS.successful, sol.stats["num_steps"]


def _value_gradient_hessian(problem: Problem, rows: Batch, u):
    """Objective, gradient, Hessian and per-sample terms at ``u`` in one forward-over-forward pass
    (one copy of the simulator in the compiled program, not one per derivative order)."""

    def gradient_with_value(x):
        basis = jnp.eye(x.shape[0], dtype=x.dtype)
        (value, terms), (tangents, _) = jax.vmap(
            lambda v: jax.jvp(lambda y: problem.objective_and_terms(rows, y), (x,), (v,)),
            out_axes=((None, None), (0, 0)))(basis)
        return tangents, (tangents, value, terms)

    hessian, (gradient, value, terms) = jax.jacfwd(gradient_with_value, has_aux=True)(u)
    return dict(objective=value, gradient=gradient, hessian=hessian, **terms)


@eqx.filter_jit
def fit_group(problem: Problem, rows: Batch, starts, method: str, max_steps: int, rtol: float, atol: float):
    """Fit one group of subjects sharing θ (``rows`` has a leading subject axis: one subject for an
    individual fit, all of them for a pooled fit) from ``starts`` (M, K).

    Returns the best optimum ``u`` with its objective, gradient, Hessian (transformed scale)
    and per-sample terms, whether that start converged and its step count, every start's
    optimum (``all_objectives``, (M,)), and the objective and terms at the first start (to
    diagnose a bad start).

    Starts run one after the other (``lax.map``): batching them with ``vmap`` would batch the
    solver's adaptive loops, which costs more compile time than it saves at run time. The
    caller fits the subjects of an individual fit one call each, so one compilation serves any
    number of subjects.
    """
    us, ok, steps = jax.lax.map(lambda u0: _minimise(problem, rows, u0, method, max_steps, rtol, atol), starts)
    points = jnp.concatenate([starts[:1], us])
    finals = jax.lax.map(lambda u: _value_gradient_hessian(problem, rows, u), points)
    values = finals["objective"][1:]
    finite = jnp.where(jnp.isnan(values), jnp.inf, values)
    # the first start among those tied at the minimum: equal optima (flip-flop ka <-> k, say) resolve
    # to the one reached from the user's own starting values
    lowest = jnp.min(finite)
    best = jnp.argmax(finite <= lowest + 1e-9 * (1.0 + jnp.abs(lowest)))
    out = {k: v[best + 1] for k, v in finals.items()}
    out.update(u=us[best], converged=ok[best], steps=steps[best], all_objectives=values,
               start_objective=finals["objective"][0], start_pred=finals["pred"][0], start_sd=finals["sd"][0],
               start_term=finals["term"][0], start_failed=finals["failed"][0])
    return out
