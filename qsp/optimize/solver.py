"""The optimisation loop: BFGS (optimistix) on the unconstrained reparameterisation, multistart.

Why BFGS on a reparameterisation (measured by ``benchmarks/bench_optimize.py``): every
objective evaluation is an ODE solve, so the number of evaluations decides the cost. On the
steady-state dose problem BFGS with forward-mode gradients reaches the optimum in 9 steps;
Adam (optax) on the same loss and gradient needs 64–107 steps for 1e-4 relative accuracy and
144–164 for 1e-6 (learning rates 0.1 and 0.05, cosine decay). The reparameterisation
(:mod:`.feasible`) makes every iterate feasible, so no projection or penalty enters the line
search.

The loop runs in Python around one jitted BFGS step, so the objective trace is recorded,
and every start — and every later call with the same model, regimen shape, decision and
objective type — reuses one compilation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx

from ..analysis.dose_numbers import DoseNumbers
from ..compile import CompiledModel
from ..errors import SolverError
from ..simulate import simulate
from .decision import Decision
from .feasible import FeasibleMap
from .objectives import Objective

_OPTIONS = {"autodiff_mode": "fwd"}  # few decision variables, many ODE steps: forward mode is cheaper
_TAGS = frozenset()


class Problem(eqx.Module):
    """Everything the loss needs, as one pytree: arrays are data, the rest is structure.

    ``compiled`` is the model with the objective's integral states added
    (:func:`qsp.optimize.augment.with_integrals`), ``p`` its parameter vector.
    """

    compiled: CompiledModel
    p: jax.Array
    times: jax.Array
    doses: DoseNumbers
    decision: Decision = eqx.field(static=True)
    feasible: FeasibleMap
    objective: Objective
    options: tuple = eqx.field(static=True)  # qsp.simulate options as sorted (name, value) pairs

    def solution(self, x, adjoint="forward"):
        """The regimen and its simulation for the decision vector ``x``."""
        regimen = self.decision.apply(x, self.doses).regimen()
        sol = simulate(self.compiled, self.times, params=self.p, regimen=regimen, adjoint=adjoint,
                       **dict(self.options))
        return regimen, sol

    def loss_x(self, x):
        """The objective at the decision vector ``x``."""
        regimen, sol = self.solution(x)
        return self.objective(sol, regimen)


def _fn(z, problem: Problem):
    return problem.loss_x(problem.feasible(z)), None


@eqx.filter_jit
def _step(solver, problem, y, state):
    y, state, _ = solver.step(_fn, y, problem, _OPTIONS, state, _TAGS)
    done, result = solver.terminate(_fn, y, problem, _OPTIONS, state, _TAGS)
    return y, state, done, result == optx.RESULTS.successful


@eqx.filter_jit
def _init(solver, problem, y):
    return solver.init(_fn, y, problem, _OPTIONS, jax.ShapeDtypeStruct((), jnp.float64), None, _TAGS)


@eqx.filter_jit
def feasible_point(feasible: FeasibleMap, z):
    """x = feasible(z), compiled (the map unrolls over the variables)."""
    return feasible(z)


@eqx.filter_jit
def loss_at(problem: Problem, x):
    """The objective at a decision vector (no derivative)."""
    return problem.loss_x(x)


@dataclass
class Run:
    """One start: final z, its objective, the trace of accepted objective values, steps, convergence."""

    z: np.ndarray
    value: float
    trace: np.ndarray
    steps: int
    converged: bool


def _stalled(trace, tol, window=5) -> bool:
    """The objective improved by less than ``tol`` (relative, absolute below 1) over the last ``window`` accepted steps.

    BFGS's own test also asks the *variables* to stop moving; on the reparameterisation an
    optimum on a constraint lies at z → ±∞, where z keeps moving while the objective has
    settled, so the objective decides here.
    """
    if len(trace) <= window:
        return False
    return trace[-window - 1] - trace[-1] <= tol * max(abs(trace[-1]), 1.0)


def _record(trace: list, f, done, ok, y_eval, tol: float) -> tuple[bool, bool]:
    """Book one BFGS step of one start: append a new objective value to ``trace``; ``(stop, ok)``.

    ``stop``: BFGS's own test or a stalled objective (:func:`_stalled`). ``ok`` is false when
    the line search failed or the next trial point is not finite (the start keeps its best).
    """
    stop = bool(done)
    if np.isfinite(f) and (not trace or f != trace[-1]):
        trace.append(float(f))
        stop = stop or _stalled(trace, tol)
    return stop, bool(ok) and bool(np.all(np.isfinite(y_eval)))


def _solve_failed(err, where: str) -> SolverError:
    """The error for an ODE solve that failed inside an optimisation step (eqx.error_if in simulate)."""
    return SolverError(f"the simulation failed during optimisation, {where}: {err}. Narrow the bounds, or pass "
                       "simulate options (rtol=, solver_max_steps=) to qsp.optimize_regimen.")


def bfgs(problem: Problem, z0, *, tol: float, max_steps: int) -> Run:
    """Minimise the loss over z from ``z0`` with optimistix's BFGS (backtracking Armijo line search)."""
    solver = optx.BFGS(rtol=tol, atol=tol)
    y = jnp.asarray(z0, jnp.float64)
    state = _init(solver, problem, y)
    trace, done, ok, steps = [], False, True, 0
    while steps < max_steps and not done:
        try:
            y, state, done, ok = _step(solver, problem, y, state)
        except eqx.EquinoxRuntimeError as err:
            raise _solve_failed(err, f"at step {steps + 1} from start {np.asarray(z0).round(3).tolist()}") from None
        steps += 1
        done, ok = _record(trace, float(state.f_info.f), done, ok, np.asarray(state.y_eval), tol)
        if not ok:
            break
    value = trace[-1] if trace else float("nan")
    return Run(np.asarray(y), value, np.asarray(trace), steps, done and ok)


@eqx.filter_jit
def _init_batched(solver, problem, y):
    return eqx.filter_vmap(lambda v: solver.init(_fn, v, problem, _OPTIONS, jax.ShapeDtypeStruct((), jnp.float64),
                                                 None, _TAGS))(y)


@eqx.filter_jit
def _step_batched(solver, problem, y, state, frozen):
    """One BFGS step of every start at once (``vmap``); starts already ``frozen`` keep their state."""
    def one(v, s):
        v, s, _ = solver.step(_fn, v, problem, _OPTIONS, s, _TAGS)
        done, result = solver.terminate(_fn, v, problem, _OPTIONS, s, _TAGS)
        return v, s, done, result == optx.RESULTS.successful

    y_new, state_new, done, ok = eqx.filter_vmap(one)(y, state)

    def keep(new, old):
        return jnp.where(frozen.reshape(frozen.shape + (1,) * (new.ndim - 1)), old, new)

    new_arrays, static = eqx.partition((y_new, state_new), eqx.is_array)
    old_arrays, _ = eqx.partition((y, state), eqx.is_array)
    y_new, state_new = eqx.combine(jax.tree.map(keep, new_arrays, old_arrays), static)
    return y_new, state_new, done, ok


def bfgs_batched(problem: Problem, z_starts, *, tol: float, max_steps: int) -> list[Run]:
    """:func:`bfgs` from every row of ``z_starts`` at once: one vmapped step for all starts.

    The starts step in lockstep (a finished start is frozen) until every one has finished or
    hit ``max_steps``, so the ODE solves of all starts share each compiled call (and XLA can
    use both cores). Measured on a week of twice-daily doses with the window objective
    (``benchmarks/bench_optimize.py``'s problem, four starts, interleaved A/B in one process on
    a noisy 2-core machine): 19-25 s wall against 24-31 s one start after another.
    """
    solver = optx.BFGS(rtol=tol, atol=tol)
    starts = np.asarray(z_starts, np.float64)
    n = starts.shape[0]
    y = jnp.asarray(starts)
    state = _init_batched(solver, problem, y)
    traces = [[] for _ in range(n)]
    finished, converged = np.zeros(n, bool), np.zeros(n, bool)
    steps = np.zeros(n, int)
    while not finished.all():
        try:
            y, state, done, ok = _step_batched(solver, problem, y, state, jnp.asarray(finished))
        except eqx.EquinoxRuntimeError as err:
            raise _solve_failed(err, f"at step {int(steps.max()) + 1} of {n} starts") from None
        done, ok = np.asarray(done), np.asarray(ok)
        f, y_eval = np.asarray(state.f_info.f), np.asarray(state.y_eval)
        for i in np.flatnonzero(~finished):
            steps[i] += 1
            stop, lane_ok = _record(traces[i], f[i], done[i], ok[i], y_eval[i], tol)
            if not lane_ok:
                finished[i] = True
            elif stop:
                finished[i] = converged[i] = True
            elif steps[i] >= max_steps:
                finished[i] = True
    y = np.asarray(y)
    return [Run(y[i], traces[i][-1] if traces[i] else float("nan"), np.asarray(traces[i]), int(steps[i]),
                bool(converged[i])) for i in range(n)]


def run_starts(problem: Problem, z_starts, *, tol: float, max_steps: int) -> tuple[list[Run], float]:
    """BFGS from every start (rows of ``z_starts``; several at once, batched); the runs and the wall time."""
    begin = time.perf_counter()
    starts = np.atleast_2d(z_starts)
    if starts.shape[0] == 1:
        runs = [bfgs(problem, starts[0], tol=tol, max_steps=max_steps)]
    else:
        runs = bfgs_batched(problem, starts, tol=tol, max_steps=max_steps)
    return runs, time.perf_counter() - begin
