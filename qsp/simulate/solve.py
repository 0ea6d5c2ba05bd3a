"""The segment solver: integrate between events, fill outputs from dense output, apply events exactly.

Events (bolus jumps, infusion edges, resets, steady-state records) happen at known times and
are sorted into one table; a ``lax.scan`` walks it, integrating each segment between two
consecutive events (qsp's own solvers by default — ``"auto"``: Rodas5P for small models,
Tsit5/ROCK4/Rodas5P switching for large ones — carrying their step size across segments, or a
diffrax solver) and then changing the state exactly at the event. Output times inside a
segment end a step each, or, when there are many of them, are filled from the integrator's
continuous extension so that outputs cost no extra steps; compile time grows with neither
the number of doses nor of outputs. An output exactly at an event time reports the state
*after* the event unless it is flagged "before" (a pre-dose sample).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp

from ..compile import Args, CompiledModel
from .. import _small_loops
from ..errors import SolverError
from .events import BOLUS, RESET, SS1, SS2, START, STOP, RegimenStructure, event_table


@dataclass(frozen=True)
class SolverOptions:
    """Static integration settings (part of the compilation key).

    Attributes:
        solver: a :class:`NativeSolver` or a diffrax solver instance.
        rtol, atol: local error tolerances of the adaptive step-size controller.
        max_steps: the most steps allowed between two consecutive output or event times.
        adjoint: ``"reverse"`` (the default; ``jax.grad``), ``"forward"`` (``jax.jacfwd``/``jvp``),
            ``"direct"`` (both; diffrax solvers), ``"none"`` (set by :func:`qsp.simulate` for
            concrete inputs, which nothing can differentiate; native solvers), or a diffrax
            adjoint instance.
        batched: the simulation runs under ``vmap`` over many subjects (set by
            :func:`qsp.simulate_population`); native solvers then pick the linear algebra that
            vectorises best. Results are the same either way.
    """

    solver: Any
    rtol: float
    atol: float
    max_steps: int
    adjoint: Any
    batched: bool = False


def _term(compiled: CompiledModel):
    """The RHS for diffrax's solvers, in the index-array form: with the straight-line form of a
    small model (qsp.compile), nmtest's batched steady states (Kvaerno5 stages inside Newton,
    under vmap) met a non-finite input in diffrax's stage solve, not yet understood; qsp's own
    solvers, which use the straight-line form and its symbolic Jacobian, pass."""
    import diffrax

    def vector_field(t, y, a):
        args, u = a
        return compiled.rhs(t, y, args, straight_line=False) + u
    return diffrax.ODETerm(vector_field)


#: Up to this many states ``"auto"`` means Rodas5P: a stiff step costs only 2-5 explicit ones
#: there (unrolled or small LAPACK LU, see ``rosenbrock.stiff_step_cost``), so switching could
#: gain little and costs its decisions; above it the dense LU grows as n^3.
AUTO_STIFF_ONLY_MAX_STATES = 16
#: From this many states ``"auto"`` has ROCK4 between Tsit5 and Rodas5P: a problem that limits
#: Tsit5's steps by stability moves to ROCK4 (:mod:`qsp.simulate.rock4`), which lengthens its
#: stability interval with more stages instead of an LU of n x n, and on to Rodas5P only when
#: even ROCK4's longest member is limited and a stiff step is predicted cheaper.
AUTO_ROCK4_MIN_STATES = 17
#: From this many states ``"auto"`` leaves Tsit5 out and starts in ROCK4: one method fewer to
#: compile (measured on a random 500-state network: tracing and XLA 4.2 -> 3.4 s, the same 14 ms per
#: simulation), at the price of ROCK4's lower order on a model that is not stiff at all.
AUTO_ROCK4_ONLY_MIN_STATES = 200


@dataclass(frozen=True)
class NativeSolver:
    """One of qsp's own integrators (:mod:`qsp.simulate.rosenbrock`): ``"auto"`` (default),
    ``"rodas5p"`` (stiff, L-stable, exact Jacobian), ``"rodas5"``, ``"tsit5"`` (explicit,
    non-stiff), or ``"rock4"`` (stabilized explicit: :mod:`qsp.simulate.rock4`). Their step size carries from one interval to the next, so short intervals
    between doses and outputs cost no restart.

    ``"auto"`` is Rodas5P for models of up to ``AUTO_STIFF_ONLY_MAX_STATES`` states and for
    batched (population) runs; for larger models it starts with Tsit5 and moves to ROCK4 and
    Rodas5P and back as stiffness and the cost of a stiff step's LU dictate
    (:func:`qsp.simulate.rosenbrock.integrate_auto`), and its mode carries across intervals too.
    """

    name: str

    @property
    def label(self) -> str:
        """Display name, e.g. ``Rodas5P``."""
        return {"rodas5p": "Rodas5P", "rodas5": "Rodas5", "tsit5": "Tsit5", "rock4": "ROCK4",
                "auto": "Auto(Tsit5/ROCK4/Rodas5P)"}.get(self.name, self.name)


def native_method(compiled: CompiledModel, options: SolverOptions) -> str | None:
    """The native method a simulation runs (``"auto"`` resolved by model size and batching), or
    ``None`` for a diffrax solver."""
    if not isinstance(options.solver, NativeSolver):
        return None
    if options.solver.name == "auto":
        small = compiled.n_states <= AUTO_STIFF_ONLY_MAX_STATES
        return "rodas5p" if small or options.batched else "auto"
    return options.solver.name


def initial_step_state(compiled: CompiledModel, options: SolverOptions, dtype):
    """What ``integrate_segment`` carries from one interval to the next before the first: a step
    proposal of -1 (choose one), with the switching state of the automatic method."""
    dt = jnp.asarray(-1.0, dtype)
    if native_method(compiled, options) == "auto":
        from .rosenbrock import AutoState
        return dt, AutoState.initial(compiled.n_states, dtype)
    return dt


def solver_label(solver) -> str:
    """Display name of a native or diffrax solver, for messages."""
    return solver.label if isinstance(solver, NativeSolver) else type(solver).__name__


def _differentiable(adjoint) -> str:
    """The AD mode a native solver's loop must support for ``adjoint``."""
    if isinstance(adjoint, str):
        return adjoint if adjoint in ("forward", "none") else "reverse"
    import diffrax
    return "forward" if isinstance(adjoint, diffrax.ForwardMode) else "reverse"


#: diffrax's solvers by the names ``qsp.simulate`` accepts.
DIFFRAX_SOLVERS = ("kvaerno5", "diffrax-tsit5", "kvaerno4", "kvaerno3", "dopri5", "dopri8")


def diffrax_solver(name: str):
    """diffrax's solver of that name, one of ``DIFFRAX_SOLVERS`` (diffrax is imported only when
    one is asked for: its import takes 0.4 s of ``import qsp`` otherwise)."""
    import diffrax
    import optimistix as optx
    if name == "kvaerno5":
        # Newton rather than diffrax's default VeryChord: the chord iteration reported spurious
        # failures on plain linear decay between closely spaced events.
        return diffrax.Kvaerno5(root_finder=optx.Newton(rtol=1e-10, atol=1e-12))
    return {"diffrax-tsit5": diffrax.Tsit5, "kvaerno4": diffrax.Kvaerno4, "kvaerno3": diffrax.Kvaerno3,
            "dopri5": diffrax.Dopri5, "dopri8": diffrax.Dopri8}[name]()


def diffrax_adjoint(adjoint):
    """The diffrax adjoint for ``adjoint`` (a name, or already a diffrax adjoint)."""
    if not isinstance(adjoint, str):
        return adjoint
    import diffrax
    return {"reverse": diffrax.RecursiveCheckpointAdjoint, "forward": diffrax.ForwardMode,
            "direct": diffrax.DirectAdjoint}[adjoint]()


# With many outputs, evaluating the integrator's continuous extension beats ending a step at
# each output; with few, the extension's per-step cost (its coefficients must be formed at every
# step) loses. Measured on TMDD (4 states, 84 days, 2-core CPU): 100 outputs at rtol 1e-8,
# 651 dense steps 3.4 ms vs 712 exact steps 1.9 ms; 1000 outputs at rtol 1e-6, 185 dense steps
# 1.4 ms vs 1040 exact steps 3.8 ms.
DENSE_OUTPUT_MIN_OUTPUTS = 200


def integrate_segment(compiled: CompiledModel, t0, t1, y0, args: Args, u, options: SolverOptions, dt0=None,
                      outputs=None, out=None, dense_output=False, event_active=None):
    """Integrate from ``t0`` to ``t1`` (``t1 >= t0``) with constant input ``u``.

    Returns ``(y(t1), failed, dt_next, out, n_steps)`` (``n_steps``: attempted steps, int32).
    With ``outputs = (ts, lo, hi)`` (see :func:`output_plan`), rows ``lo..hi-1`` of ``out``
    receive the solution at ``ts[lo:hi]``, which lie in ``[t0, t1]``: native solvers end a
    step at each of them, or with ``dense_output`` evaluate their continuous extension (no step
    ends at an output); diffrax
    solvers save at those times. With ``event_active`` (the model events' trigger values at
    ``t0``) model events are located and applied on the way (native solvers, dense output),
    and their trigger values at ``t1`` are appended to the result. ``dt_next`` is the step proposal
    for the next interval (native solvers; with ``"auto"`` a pair of it and the switching state,
    :func:`initial_step_state`; NaN for diffrax, which restarts each call).
    """
    with_outputs = outputs is not None
    if isinstance(options.solver, NativeSolver):
        from . import rosenbrock

        def f(t, y, a):
            return compiled.rhs(t, y, a) + u

        def jac(t, y, a):
            return compiled.jacobian(t, y, a)

        events = None
        if event_active is not None:
            events = rosenbrock.StateEvents(trigger=lambda t, y: compiled.event_triggers(t, y, args),
                                            apply=lambda t, y, fired: compiled.apply_events(t, y, args, fired),
                                            active=event_active)
        method = native_method(compiled, options)
        if dt0 is None:
            dt0 = initial_step_state(compiled, options, y0.dtype)
        state = None
        if method == "auto":
            dt0, state = dt0
        dt0 = jnp.asarray(dt0, y0.dtype)
        kwargs = dict(rtol=options.rtol, atol=options.atol, dt0=dt0, max_steps=options.max_steps,
                      differentiable=_differentiable(options.adjoint), outputs=outputs, out=out,
                      dense_output=dense_output, events=events)
        if method == "tsit5":
            result = rosenbrock.integrate_explicit(f, jac, t0, t1, y0, args, **kwargs)
        elif method == "rock4":
            from . import rock4
            result = rock4.integrate(f, jac, t0, t1, y0, args, **kwargs)
        elif method == "auto":
            n = compiled.n_states
            rock4 = "only" if n >= AUTO_ROCK4_ONLY_MIN_STATES else n >= AUTO_ROCK4_MIN_STATES
            result = rosenbrock.integrate_auto(f, jac, t0, t1, y0, args, state=state, rock4=rock4, **kwargs)
        else:
            # a straight-line right-hand side and Jacobian hold no gather, scatter or dot, so the
            # step loop of an unbatched run can compile into one native function (qsp._small_loops)
            native_loop = _small_loops.active() and compiled.structure.straight is not None and not options.batched
            result = rosenbrock.integrate(f, jac, t0, t1, y0, args, method=method, batched=options.batched,
                                          native_loop=native_loop, **kwargs)
        y1, dt_next, n_steps, ok = result[:4]
        tail = (result[5],) if events is not None else ()
        return (y1, ~ok, dt_next, (result[4] if with_outputs else out), n_steps) + tail
    if event_active is not None:
        raise SolverError(f"model {compiled.model.name!r} has events; they are located by qsp's own solvers "
                          "only: use solver='auto' (the default), 'rodas5p', 'rodas5' or 'tsit5'.")

    import diffrax  # (imported here: only diffrax solvers need it, and it takes 0.4 s to import)

    def solve(y0):
        controller = diffrax.PIDController(rtol=options.rtol, atol=options.atol)
        saveat = diffrax.SaveAt(ts=jnp.clip(outputs[0], t0, t1), t1=True) if with_outputs else diffrax.SaveAt(t1=True)
        sol = diffrax.diffeqsolve(
            _term(compiled), options.solver, t0, t1, None, y0, args=(args, u),
            saveat=saveat, stepsize_controller=controller,
            max_steps=options.max_steps, adjoint=diffrax_adjoint(options.adjoint), throw=False,
        )
        return sol.ys, sol.result != diffrax.RESULTS.successful, jnp.asarray(sol.stats["num_steps"], jnp.int32)

    def stay(y0):  # a zero-length interval (diffrax wants t1 > t0)
        count = outputs[0].shape[0] + 1 if with_outputs else 1
        return jnp.broadcast_to(y0, (count,) + y0.shape), jnp.asarray(False), jnp.zeros((), jnp.int32)

    ys, failed, n_steps = jax.lax.cond(t1 > t0, solve, stay, y0)
    if with_outputs:
        ts, lo, hi = outputs
        index = jnp.arange(ts.shape[0])
        out = jnp.where(((index >= lo) & (index < hi))[:, None], ys[:-1], out)
    return ys[-1], failed, jnp.asarray(jnp.nan, y0.dtype), out, n_steps


def output_plan(ts, before, event_times, t0):
    """Where each output time is computed, for the segment loop of :func:`simulate_core`.

    Segment ``k`` runs from event ``k - 1`` to event ``k`` (segment 0 from ``t0``; the last one
    after the last event). An output belongs to the segment whose trajectory it samples: one
    at an event's time is taken before the event if flagged ``before`` (a pre-dose sample),
    else after it (events are applied in table order, so after all events at that time).
    Outputs before ``t0`` report the state at ``t0``.

    Returns ``(unique_t, lo, hi, unique_index, t_last)``: the distinct (segment, time) pairs in
    order as a time array padded with +inf to at least ``OUTPUT_WINDOW`` entries; for each
    segment the range ``[lo, hi)`` of its rows; for each output (in the caller's order) its row;
    and the last output time. Duplicated times share one row, so rows of a segment are
    strictly increasing in time, as the integrators' dense output requires.
    """
    from .rosenbrock import OUTPUT_WINDOW

    n_out = ts.shape[0]
    n_events = event_times.shape[0]
    dtype = event_times.dtype if n_events else jnp.result_type(float)
    tc = jnp.maximum(ts.astype(dtype), t0)
    segment = jnp.where(before, jnp.searchsorted(event_times, tc, side="left"),
                        jnp.searchsorted(event_times, tc, side="right")).astype(jnp.int32)
    order = jnp.lexsort((jnp.arange(n_out), tc, segment))
    sorted_t, sorted_segment = tc[order], segment[order]
    first = jnp.concatenate([jnp.ones((1,), bool),
                             (sorted_t[1:] != sorted_t[:-1]) | (sorted_segment[1:] != sorted_segment[:-1])])
    row_sorted = jnp.cumsum(first) - 1
    n_rows = max(n_out, OUTPUT_WINDOW)
    unique_t = jnp.full((n_rows,), jnp.inf, dtype).at[row_sorted].set(sorted_t)
    unique_segment = jnp.full((n_rows,), n_events + 1, jnp.int32).at[row_sorted].set(sorted_segment)
    segments = jnp.arange(n_events + 1, dtype=jnp.int32)
    lo = jnp.searchsorted(unique_segment, segments, side="left").astype(jnp.int32)
    hi = jnp.searchsorted(unique_segment, segments, side="right").astype(jnp.int32)
    unique_index = jnp.zeros((n_out,), jnp.int32).at[order].set(row_sorted.astype(jnp.int32))
    return unique_t, lo, hi, unique_index, jnp.max(tc)


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
    """States at ``ts`` (shape (T, N)), the first failed segment ``[a, b]`` (or ``[-1, -1]``),
    the prepared :class:`~qsp.compile.Args` and the number of solver steps attempted (int32,
    accepted and rejected, over all segments; steady-state solves not counted).

    Pure JAX: differentiable in ``p`` and in every number of the regimen. ``before`` flags the
    output times that report the state just before events at that time (pre-dose samples).

    A ``lax.scan`` walks the sorted event table: each step integrates one segment (from the
    previous event to this one and filling the outputs that fall in it: a step ends at each
    output, or, with ``DENSE_OUTPUT_MIN_OUTPUTS`` outputs or more, they come from the integrator's
    continuous extension), then applies the event exactly. Nothing is integrated past the last output time.
    """
    args = compiled.prepare(p)
    y_init = compiled.initial_state(args)
    dtype = y_init.dtype
    n = y_init.shape[0]
    if n == 0:  # no states (outputs are functions of parameters and time): nothing to integrate
        return jnp.zeros((ts.shape[0], 0), dtype), -jnp.ones((2,), dtype), args, jnp.zeros((), jnp.int32)
    table, info = event_table(compiled, structure, numbers, args)
    ss_states = steady_states(compiled, structure, numbers, info, args, options)
    ss_row = jnp.full((max(len(structure.doses), 1),), -1, jnp.int32)
    for row, i in enumerate(structure.steady_state_doses):
        ss_row = ss_row.at[i].set(row)
    n_events = table["time"].shape[0]
    t0 = jnp.asarray(t0, dtype)
    # (not jnp.maximum: at a tie it would give a dose at t0 only half its time derivative)
    event_times = jnp.where(table["time"] >= t0, table["time"].astype(dtype), t0)
    unique_t, lo, hi, unique_index, t_last = output_plan(ts, before, event_times, t0)
    segment_end = jnp.concatenate([event_times, t_last[None]])  # (t_last >= t0: outputs are clamped)
    with_events = compiled.n_events > 0
    # model events are located on the continuous extension, so they need dense output
    dense_output = ts.shape[0] >= DENSE_OUTPUT_MIN_OUTPUTS or with_events
    if with_events:
        if structure.steady_state_doses:
            raise SolverError(f"model {compiled.model.name!r} has events; steady-state dose records are not "
                              "supported with model events (the steady-state cycle ignores them).")
        # SBML: a trigger whose initial value is false but which is true at t0 fires at t0
        active_init = jnp.asarray(compiled.structure.event_initial_values)
        now = compiled.event_triggers(t0, y_init, args)
        fire_at_start = ~active_init & now
        y_init = compiled.apply_events(t0, y_init, args, fire_at_start)  # (unfired events change nothing)
        active0 = compiled.event_triggers(t0, y_init, args)
    else:
        active0 = jnp.zeros((0,), bool)

    def segment(carry, k):
        y, t, dt, active, out, failed, event_active, steps = carry
        u = jnp.zeros((n,), dtype)
        if active.size:
            u = u.at[info["slot_target"]].add(info["slot_rate"] * active)
        # nothing to integrate past the last output, or after a failure (the caller raises)
        end = jnp.minimum(segment_end[k], t_last)
        # (where, not maximum: at a tie the time derivative must follow the event time, not split)
        target = jnp.where((failed[0] < 0) & (end >= t), end, t)
        result = integrate_segment(compiled, t, target, y, args, u, options, dt,
                                   outputs=(unique_t, lo[k], hi[k]), out=out, dense_output=dense_output,
                                   event_active=event_active if with_events else None)
        y_end, seg_failed, dt_next, out, n_steps = result[:5]
        steps = steps + n_steps
        if with_events:
            event_active = result[5]
        failed = jnp.where((failed[0] < 0) & seg_failed, jnp.stack([t, target]), failed)
        y = jnp.where(target > t, y_end, y)
        dt = jax.tree_util.tree_map(lambda a, b: jnp.where(target > t, a, b), dt_next, dt)
        if n_events:
            event = jnp.minimum(k, n_events - 1)
            y_new, active_new = _apply_event(event, table, y, active, y_init, ss_states, ss_row)
            is_event = k < n_events
            y = jnp.where(is_event, y_new, y)
            active = jnp.where(is_event, active_new, active)
        return (y, target, dt, active, out, failed, event_active, steps), None

    carry0 = (y_init, t0, initial_step_state(compiled, options, dtype), jnp.zeros((structure.n_infusions,), dtype),
              jnp.zeros((unique_t.shape[0], n), dtype), -jnp.ones((2,), dtype), active0, jnp.zeros((), jnp.int32))
    (_, _, _, _, out, failed, _, steps), _ = jax.lax.scan(segment, carry0, jnp.arange(n_events + 1))
    return out[unique_index], failed, args, steps


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


#: Most solver steps per piece of one dosing interval in the steady-state map (see
#: _one_interval_map): its loop costs this many steps under vmap whatever it needs (measured on
#: nmtest's steady-state infusions: 14 s per simulation at 10,000, 0.09 s at 256); a PK interval
#: takes tens. Exceeding it stops the simulation with an error from inside the solve (with the
#: bound forced to 2: an equinox runtime error, not yet a qsp.SolverError; docs/dosing.md).
STEADY_STATE_MAX_STEPS = 256


@functools.cache
def steady_state_solver():
    """diffrax's Kvaerno5 with a Newton root finder (:func:`diffrax_solver`): the solver of the
    steady-state map (one instance, so that its simulations share compilations)."""
    return diffrax_solver("kvaerno5")


def _one_interval_map(compiled, args, options, t_rec, tau, lag, jump, rate, duration, target):
    """Φ: one dosing interval from the record time, for a bolus (``jump``) or an infusion
    (``rate`` for ``duration``), given at ``lag`` (modulo the interval) after the record time."""
    n = compiled.n_states
    dtype = args.p.dtype
    # Newton needs forward mode through Φ and the implicit gradient reverse mode: diffrax with
    # DirectAdjoint supports both (qsp's native loops support one or the other).
    solver = steady_state_solver() if isinstance(options.solver, NativeSolver) else options.solver
    # DirectAdjoint's loop costs O(max_steps) per solve however few steps are taken (a bounded
    # while loop of nested scans), so one interval gets a bound of its own
    inner = SolverOptions(solver, options.rtol, options.atol, min(options.max_steps, STEADY_STATE_MAX_STEPS),
                          "direct")
    unit = jax.nn.one_hot(target, n, dtype=dtype)

    def run(y, a, b, u):
        return integrate_segment(compiled, a, b, y, args, u, inner)[0]

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
    import optimistix as optx

    phi = _one_interval_map(compiled, args, options, *dose)
    y0 = jnp.zeros((compiled.n_states,), args.p.dtype)

    def residual(y, _):
        return phi(y) - y

    # Φ carries the integrator's error (~rtol |y| + atol), so Newton's steps cannot shrink below
    # that: ask for convergence a little above it, never tighter than 1e-10 / 1e-12
    rtol = jnp.maximum(10.0 * options.rtol, 1e-10)
    atol = jnp.maximum(10.0 * options.atol, 1e-12)
    solver = optx.Newton(rtol=rtol, atol=atol)
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
