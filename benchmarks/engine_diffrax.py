"""The "plain diffrax" peer of the engine benchmark: issue 5's model written by hand in JAX.

What a modeller would write without qsp: the four ODEs of ``engine_problem`` as a ``jnp``
right-hand side, one ``diffrax.diffeqsolve`` per dose interval (a Python loop over the six
intervals, unrolled under ``jax.jit``) with a ``PIDController`` and diffrax's default
options otherwise, the dose added to Lc between intervals, and each interval saving the
output times that fall in it. Parameters are a vector in ``engine_problem.NAMES`` order.
"""

from __future__ import annotations

import diffrax
import jax
import jax.numpy as jnp
import numpy as np

import engine_problem as ep

SOLVERS = {"Tsit5": diffrax.Tsit5, "Kvaerno5": diffrax.Kvaerno5}
MAX_STEPS = 10_000  # per dose interval, as qsp's default


def _vector_field(t, y, p):
    cl, v1, q, v2, kon, koff, kint, ksyn, kdeg = (p[i] for i in range(9))
    lc, lp, r, rl = y[0], y[1], y[2], y[3]
    bind = kon * lc * r - koff * rl
    return jnp.stack([-cl / v1 * lc - q / v1 * (lc - lp) - bind, q / v2 * (lc - lp), ksyn - kdeg * r - bind,
                      bind - kint * rl])


def simulator(ts, solver: str, rtol: float, atol: float, adjoint=None):
    """``f(p) -> (len(ts), 4)`` concentrations at ``ts`` (numpy, sorted, within [0, 84]); pure JAX
    in ``p`` (jit/vmap/jacfwd it). ``adjoint`` is a diffrax adjoint (default: diffrax's)."""
    f = dose_time_simulator(ts, solver, rtol, atol, adjoint)
    return lambda p: f(p, None)


def dose_time_simulator(ts, solver: str, rtol: float, atol: float, adjoint=None):
    """``f(p, dose_times)``: as ``simulator``, with the six dose times as a JAX argument (T6): each
    segment runs from one dose time to the next, so its ends are traced. Which output times fall
    in which segment is fixed by the nominal dose times (static shapes), so ``dose_times`` may move
    only as far as no output time crosses a dose: enough for derivatives at the nominal times.
    ``dose_times=None`` integrates between the nominal times as Python floats (T1-T4)."""
    ts = np.asarray(ts, float)
    edges = [*ep.DOSE_TIMES, ep.HORIZON]
    n = len(ep.DOSE_TIMES)
    masks = [(ts >= edges[k]) & ((ts <= edges[k + 1]) if k == n - 1 else (ts < edges[k + 1])) for k in range(n)]
    term = diffrax.ODETerm(_vector_field)
    controller = diffrax.PIDController(rtol=rtol, atol=atol)
    kwargs = {} if adjoint is None else {"adjoint": adjoint}

    def simulate(p, dose_times):
        ends = edges if dose_times is None else [*(dose_times[k] for k in range(n)), ep.HORIZON]
        y = jnp.stack([0.0, 0.0, p[7] / p[8], 0.0])
        out = jnp.zeros((ts.size, 4))
        for k in range(n):
            y = y.at[0].add(ep.DOSE / p[1])
            saved = jnp.concatenate([jnp.asarray(ts[masks[k]]), jnp.reshape(jnp.asarray(ends[k + 1]), (1,))])
            sol = diffrax.diffeqsolve(term, SOLVERS[solver](), ends[k], ends[k + 1], None, y, args=p,
                                      saveat=diffrax.SaveAt(ts=saved),
                                      stepsize_controller=controller, max_steps=MAX_STEPS, **kwargs)
            out = out.at[np.nonzero(masks[k])[0]].set(sol.ys[:-1])
            y = sol.ys[-1]
        return out

    return simulate


def params_vector(p=None) -> jnp.ndarray:
    p = {**ep.PARAMS, **(p or {})}
    return jnp.asarray([p[k] for k in ep.NAMES], jnp.float64)


def single(ts, solver, rtol, atol, p=None):
    """A jitted no-argument-change simulation and its parameter vector (T1, T4)."""
    return jax.jit(simulator(ts, solver, rtol, atol)), params_vector(p)


def population(ts, solver, rtol, atol):
    """``f(P) -> (subjects, len(ts), 4)`` for a (subjects, 9) parameter matrix: ``jax.vmap`` (T2)."""
    return jax.jit(jax.vmap(simulator(ts, solver, rtol, atol)))


def population_matrix(pop: dict) -> np.ndarray:
    return np.stack([pop[k] for k in ep.NAMES], axis=1)


def gradient(obs, solver, rtol, atol):
    """T3: ``jax.jacfwd`` of the sum of squared errors of Lc at the observation times, with
    ``diffrax.ForwardMode()`` (reverse mode through diffrax's checkpointed loop is slower at 9
    parameters, and jacfwd needs the forward-mode adjoint)."""
    f = simulator(ep.observation_times(), solver, rtol, atol, adjoint=diffrax.ForwardMode())
    obs = jnp.asarray(obs)

    def loss(p):
        return jnp.sum((f(p)[:, 0] - obs) ** 2)
    return jax.jit(jax.jacfwd(loss)), params_vector()


def dose_time_gradient(obs, solver, rtol, atol):
    """T6: ``jax.jacfwd`` (``diffrax.ForwardMode()``) of T3's loss w.r.t. the times of doses 2-6,
    through the segments of ``dose_time_simulator``; returns the jitted function and the
    nominal times."""
    f = dose_time_simulator(ep.observation_times(), solver, rtol, atol, adjoint=diffrax.ForwardMode())
    obs, p = jnp.asarray(obs), params_vector()

    def loss(tau):
        return jnp.sum((f(p, jnp.concatenate([jnp.zeros(1), tau]))[:, 0] - obs) ** 2)
    return jax.jit(jax.jacfwd(loss)), jnp.asarray(ep.DOSE_TIMES[1:], jnp.float64)
