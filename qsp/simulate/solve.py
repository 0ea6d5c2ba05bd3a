"""The segment solver: integrate between event and output times, apply events exactly.

Events (bolus jumps, infusion edges, resets, steady-state records) happen at known times.
Output times and event times are merged into one sorted grid (outputs flagged "before"
first at equal times, then events in record order, then other outputs); a ``lax.scan``
walks the grid, integrating from one grid time to the next (qsp's Rodas5P by default,
carrying its step size across intervals, or a diffrax solver), recording outputs and
changing the state exactly at events. Compile time does not grow with the number of
doses, and every output is hit exactly (no interpolation). An output exactly at an event
time reports the state *after* the event unless it is flagged "before" (a pre-dose sample).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import diffrax
import jax
import jax.numpy as jnp
import optimistix as optx

from ..compile import Args, CompiledModel
from .events import BOLUS, RESET, SS1, SS2, START, STOP, RegimenStructure, event_table


@dataclass(frozen=True)
class SolverOptions:
    """Static integration settings (part of the compilation key).

    Attributes:
        solver: a diffrax solver instance.
        rtol, atol: local error tolerances of the adaptive step-size controller.
        max_steps: the most steps allowed between two consecutive output or event times.
        adjoint: a diffrax adjoint: ``RecursiveCheckpointAdjoint`` (reverse mode, the
            default) or ``ForwardMode`` (for ``jax.jacfwd``/``jvp``).
    """

    solver: Any
    rtol: float
    atol: float
    max_steps: int
    adjoint: Any


def _term(compiled: CompiledModel):
    def vector_field(t, y, a):
        args, u = a
        return compiled.rhs(t, y, args) + u
    return diffrax.ODETerm(vector_field)


@dataclass(frozen=True)
class NativeSolver:
    """One of qsp's own integrators (:mod:`qsp.simulate.rosenbrock`): ``"rodas5p"`` (default;
    stiff, L-stable, exact Jacobian), ``"rodas5"``, or ``"tsit5"`` (explicit, non-stiff). Their
    step size carries from one interval to the next, so short intervals between doses and
    outputs cost no restart."""

    name: str

    @property
    def label(self) -> str:
        """Display name, e.g. ``Rodas5P``."""
        return {"rodas5p": "Rodas5P", "rodas5": "Rodas5", "tsit5": "Tsit5"}.get(self.name, self.name)


def solver_label(solver) -> str:
    """Display name of a native or diffrax solver, for messages."""
    return solver.label if isinstance(solver, NativeSolver) else type(solver).__name__


def _differentiable(adjoint) -> str:
    return "forward" if isinstance(adjoint, diffrax.ForwardMode) else "reverse"


def integrate_segment(compiled: CompiledModel, t0, t1, y0, args: Args, u, ts, options: SolverOptions, dt0=None):
    """Integrate from ``t0`` to ``t1`` with constant input ``u``.

    Returns ``(ys at ts, y(t1), failed, dt_next)``; ``ts`` must lie in [t0, t1] (callers clip
    them; native solvers take no ``ts``). ``dt_next`` is the step proposal for the next interval
    (native solvers; NaN for diffrax, which restarts each call).
    """
    if isinstance(options.solver, NativeSolver):
        from . import rosenbrock

        def f(t, y, a):
            return compiled.rhs(t, y, a) + u

        def jac(t, y, a):
            return compiled.jacobian(t, y, a)

        dt0 = jnp.asarray(-1.0 if dt0 is None else dt0, y0.dtype)
        kwargs = dict(rtol=options.rtol, atol=options.atol, dt0=dt0, max_steps=options.max_steps,
                      differentiable=_differentiable(options.adjoint))
        if options.solver.name == "tsit5":
            y1, dt_next, _, ok = rosenbrock.integrate_explicit(f, jac, t0, t1, y0, args, **kwargs)
        else:
            y1, dt_next, _, ok = rosenbrock.integrate(f, jac, t0, t1, y0, args, method=options.solver.name,
                                                      **kwargs)
        return jnp.zeros((0,) + y0.shape, y0.dtype), y1, ~ok, dt_next
    controller = diffrax.PIDController(rtol=options.rtol, atol=options.atol)
    saveat = diffrax.SaveAt(ts=ts, t1=True) if ts.shape[0] else diffrax.SaveAt(t1=True)
    sol = diffrax.diffeqsolve(
        _term(compiled), options.solver, t0, t1, None, y0, args=(args, u),
        saveat=saveat, stepsize_controller=controller,
        max_steps=options.max_steps, adjoint=options.adjoint, throw=False,
    )
    return sol.ys[:-1], sol.ys[-1], sol.result != diffrax.RESULTS.successful, jnp.asarray(jnp.nan, y0.dtype)


def _apply_event(k, table, y, active, y_init, ss_states, ss_row):
    """The state and active-infusion flags just after event ``k``."""
    kind, dose = table["kind"][k], table["dose"][k]
    if ss_states.shape[0]:
        y_ss = ss_states[jnp.maximum(ss_row[dose], 0)]
        y = jnp.where(kind == SS1, y_ss, y) + jnp.where(kind == SS2, y_ss, 0.0)
    resets = (kind == RESET) | (kind == SS1)
    y = jnp.where(kind == RESET, y_init, y)
    active = jnp.where(resets, jnp.zeros_like(active), active)
    y = y.at[table["target"][k]].add(jnp.where(kind == BOLUS, table["amount"][k], 0.0))
    if active.size:
        slot = table["infusion"][k]
        flag = jnp.where(kind == START, 1.0, jnp.where(kind == STOP, 0.0, active[slot]))
        active = active.at[slot].set(flag)
    return y, active


def simulate_core(compiled: CompiledModel, ts, before, p, structure: RegimenStructure, numbers: dict,
                  options: SolverOptions, t0):
    """States at ``ts`` (shape (T, N)), the first failed segment ``[a, b]`` (or ``[-1, -1]``) and
    the prepared :class:`~qsp.compile.Args`.

    Pure JAX: differentiable in ``p`` and in every number of the regimen. ``before`` flags the
    output times that report the state just before events at that time (pre-dose samples).
    """
    args = compiled.prepare(p)
    y_init = compiled.initial_state(args)
    dtype = y_init.dtype
    n = y_init.shape[0]
    table, info = event_table(compiled, structure, numbers, args)
    ss_states = steady_states(compiled, structure, numbers, info, args, options)
    ss_row = jnp.full((max(len(structure.doses), 1),), -1, jnp.int32)
    for row, i in enumerate(structure.steady_state_doses):
        ss_row = ss_row.at[i].set(row)
    n_events = table["time"].shape[0]
    n_out = ts.shape[0]
    # One grid of output times and event times, sorted by (time, priority): outputs flagged
    # "before" come first at equal times, then events in record order, then other outputs.
    grid_t = jnp.concatenate([ts.astype(dtype), jnp.maximum(table["time"], t0).astype(dtype)])
    priority = jnp.concatenate([jnp.where(before, 0, 2), jnp.ones((n_events,), jnp.int32)])
    order = jnp.lexsort((jnp.arange(n_out + n_events), priority, grid_t))
    grid_t = grid_t[order]
    is_output = order < n_out

    def step(carry, k):
        y, t, dt, active, out, failed = carry
        target = grid_t[k]
        u = jnp.zeros((n,), dtype)
        if active.size:
            u = u.at[info["slot_target"]].add(info["slot_rate"] * active)

        def advance(y):
            _, y_end, seg_failed, dt_next = integrate_segment(compiled, t, target, y, args, u,
                                                              jnp.zeros((0,), dtype), options, dt)
            return y_end, seg_failed, dt_next

        # after a failure nothing more is integrated (the caller raises anyway)
        y, seg_failed, dt = jax.lax.cond((target > t) & (failed[0] < 0), advance,
                                         lambda y: (y, jnp.asarray(False), dt), y)
        failed = jnp.where((failed[0] < 0) & seg_failed, jnp.stack([t, target]), failed)
        index = order[k]
        slot = jnp.minimum(index, n_out - 1)
        out = out.at[slot].set(jnp.where(is_output[k], y, out[slot]))
        if n_events:
            event = jnp.clip(index - n_out, 0, n_events - 1)
            y_new, active_new = _apply_event(event, table, y, active, y_init, ss_states, ss_row)
            y = jnp.where(is_output[k], y, y_new)
            active = jnp.where(is_output[k], active, active_new)
        # An output at the time just reached keeps the current time value: when an event (whose
        # time may be a traced dose time) put us there, its time must flow on into later segments.
        t_next = jnp.where(is_output[k] & (target <= t), t, target)
        return (y, t_next, dt, active, out, failed), None

    carry0 = (y_init, jnp.asarray(t0, dtype), jnp.asarray(-1.0, dtype), jnp.zeros((structure.n_infusions,), dtype),
              jnp.zeros((n_out, n), dtype), -jnp.ones((2,), dtype))
    (_, _, _, _, out, failed), _ = jax.lax.scan(step, carry0, jnp.arange(n_out + n_events))
    return out, failed, args


def steady_states(compiled, structure: RegimenStructure, numbers, info, args, options):
    """For each steady-state dose (rows, in dose order): the state at its record time at steady state.

    The state at a dose's record time at steady state is the fixed point y* = Φ(y*) of the
    one-interval map Φ (start at the record time with state y, give the dose — after its
    lag, as a bolus or an infusion, with the infusions of earlier intervals that overlap —
    and integrate for one interval). It is found by Newton's method on Φ(y) − y with an
    implicit-function gradient (optimistix), falling back to repeated integration of Φ if
    Newton does not converge. For a linear model Newton is exact in one step. All
    steady-state doses share one vmapped computation (one compilation).
    """
    index = structure.steady_state_doses
    n = compiled.n_states
    if not index:
        return jnp.zeros((0, n), args.p.dtype)
    pick = lambda values: jnp.stack([jnp.asarray(values[i], args.p.dtype) for i in index])  # noqa: E731
    is_bolus = jnp.asarray([structure.doses[i].kind == "bolus" for i in index])
    t_rec, tau = pick(numbers["time"]), pick(numbers["interval"])
    lag = pick(info["start"]) - t_rec
    jump = jnp.where(is_bolus, pick(info["amount"]), 0.0)
    rate = jnp.where(is_bolus, 0.0, pick(info["rate"]))
    duration = jnp.where(is_bolus, 0.0, pick(info["duration"]))
    target = jnp.asarray([structure.doses[i].target for i in index], jnp.int32)

    def one(t_rec, tau, lag, jump, rate, duration, target):
        return _steady_state(compiled, args, options, t_rec, tau, lag, jump, rate, duration, target)

    return jax.vmap(one)(t_rec, tau, lag, jump, rate, duration, target)


STEADY_STATE_SOLVER = diffrax.Kvaerno5(root_finder=optx.Newton(rtol=1e-10, atol=1e-12))


def _one_interval_map(compiled, args, options, t_rec, tau, lag, jump, rate, duration, target):
    """Φ: one dosing interval from the record time, for a bolus (``jump``) or an infusion
    (``rate`` for ``duration``), given at ``lag`` (modulo the interval) after the record time."""
    n = compiled.n_states
    dtype = args.p.dtype
    # Newton needs forward mode through Φ and the implicit gradient reverse mode: diffrax with
    # DirectAdjoint supports both (qsp's native loops support one or the other).
    solver = STEADY_STATE_SOLVER if isinstance(options.solver, NativeSolver) else options.solver
    inner = SolverOptions(solver, options.rtol, options.atol, options.max_steps, diffrax.DirectAdjoint())
    nothing = jnp.zeros((0,), dtype)
    unit = jax.nn.one_hot(target, n, dtype=dtype)

    def run(y, a, b, u):
        _, y_end, _, _ = integrate_segment(compiled, a, b, y, args, u, nothing, inner)
        return y_end

    shift = jnp.mod(lag, tau)
    # Over one interval n_full = floor(D / tau) earlier infusions run throughout and one more
    # runs over [shift, shift + rest) modulo tau (D the duration; D = 0 for a bolus).
    n_full = jnp.floor(duration / tau)
    base = n_full * rate * unit
    extra = rate * unit
    end = shift + (duration - n_full * tau)
    wrap = jnp.maximum(end - tau, 0.0)  # the part of [shift, end) that wraps to [0, wrap)
    stop = jnp.minimum(end, tau)

    def phi(y):
        y = run(y, t_rec, t_rec + wrap, base + extra)
        y = run(y, t_rec + wrap, t_rec + shift, base)
        y = y + jump * unit
        y = run(y, t_rec + shift, t_rec + stop, base + extra)
        return run(y, t_rec + stop, t_rec + tau, base)
    return phi


def _steady_state(compiled, args, options, *dose):
    phi = _one_interval_map(compiled, args, options, *dose)
    y0 = jnp.zeros((compiled.n_states,), args.p.dtype)

    def residual(y, _):
        return phi(y) - y

    solver = optx.Newton(rtol=1e-10, atol=1e-12)
    sol = optx.root_find(residual, solver, y0, max_steps=20, throw=False)
    converged = sol.result == optx.RESULTS.successful

    # Fallback: repeat the dose interval until the state stops moving. A while loop, so that
    # it costs nothing when Newton converged (also under vmap, where a cond would run both).
    def keep_going(carry):
        y, y_prev, k = carry
        scale = 1e-10 * jnp.maximum(jnp.abs(y), 1e-12)
        return (k < 10_000) & ~converged & jnp.any(jnp.abs(y - y_prev) > scale)

    def repeat(carry):
        y, _, k = carry
        return phi(y), y, k + 1

    # (gradients flow through the Newton solution only: reverse mode cannot cross a while loop)
    y_start = jax.lax.stop_gradient(sol.value)
    y, _, _ = jax.lax.while_loop(keep_going, repeat,
                                 (jax.lax.stop_gradient(phi(y_start)), y_start, 0))
    return jnp.where(converged, sol.value, jax.lax.stop_gradient(y))
