"""``qsp.simulate``: the one front door to integration (segments between events and outputs)."""

from __future__ import annotations

import dataclasses
from typing import Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..compile import CompiledModel
from ..dosing import Regimen, as_regimen
from ..errors import DosingError, SolverError
from .events import TAIL_SLOTS, RegimenStructure, split_regimen
from .solution import Solution
from .solve import DIFFRAX_SOLVERS, NativeSolver, SolverOptions, diffrax_solver, simulate_core, solver_label

#: Default tolerances: accurate to about 1e-6 relative on the reference problems.
DEFAULT_RTOL = 1e-8
DEFAULT_ATOL = 1e-10
DEFAULT_MAX_STEPS = 10_000

#: qsp's own integrators (carry the step size across intervals) and the default among them.
_NATIVE = ("auto", "rodas5p", "rodas5", "tsit5", "rock4")
DEFAULT_SOLVER = "auto"
_ADJOINTS = ("reverse", "forward", "direct")


def solver_options(solver=None, rtol=None, atol=None, max_steps=None, adjoint=None) -> SolverOptions:
    """Resolve user options into a :class:`SolverOptions` (defaults: ``"auto"``, rtol 1e-8).

    ``solver`` may be a name — qsp's own ``"auto"`` (default: Rodas5P for models of up to 16
    states and for populations, Tsit5/ROCK4/Rodas5P switching by stiffness above), ``"rodas5p"``,
    ``"rodas5"``, ``"tsit5"``, ``"rock4"`` (stabilized explicit, for large mildly stiff models), or
    diffrax's ``"kvaerno5"``, ``"diffrax-tsit5"``, ``"dopri5"``... — or a diffrax solver instance;
    ``adjoint`` ``"reverse"`` (default, for ``jax.grad``), ``"forward"`` (for ``jax.jacfwd``),
    ``"direct"`` (both), or a diffrax adjoint instance.
    """
    if solver is None:
        solver = NativeSolver(DEFAULT_SOLVER)
    elif isinstance(solver, str):
        name = solver.lower()
        if name in _NATIVE:
            solver = NativeSolver(name)
        elif name in DIFFRAX_SOLVERS:  # ("diffrax-tsit5" etc. to pick diffrax's over qsp's own)
            solver = diffrax_solver(name)
        else:
            raise SolverError(f"unknown solver {solver!r}; choose one of {sorted([*_NATIVE, *DIFFRAX_SOLVERS])} "
                              "or pass a diffrax solver instance.")
    if adjoint is None:
        adjoint = "reverse"
    elif isinstance(adjoint, str) and adjoint not in _ADJOINTS:
        raise SolverError(f"unknown adjoint {adjoint!r}; use 'reverse', 'forward' or 'direct'.")
    rtol = DEFAULT_RTOL if rtol is None else float(rtol)
    atol = DEFAULT_ATOL if atol is None else float(atol)
    max_steps = DEFAULT_MAX_STEPS if max_steps is None else int(max_steps)
    if not (rtol > 0 and atol > 0 and max_steps > 0):
        raise SolverError(f"rtol={rtol}, atol={atol} and max_steps={max_steps} must all be positive.")
    return SolverOptions(solver, rtol, atol, max_steps, adjoint)


_core = eqx.filter_jit(simulate_core)


def _is_traced(*trees) -> bool:
    return any(isinstance(leaf, jax.core.Tracer) for tree in trees for leaf in jax.tree_util.tree_leaves(tree))


def _for_concrete_inputs(options: SolverOptions) -> SolverOptions:
    """The options for a call on concrete inputs, which nothing can differentiate: qsp's own
    solvers then need no reverse-differentiable loop (``adjoint="none"``: a plain loop without
    checkpoints, and for up to 4 states the unrolled inverse). Measured on the engine
    benchmark's TMDD (1000 outputs, rtol 1e-6 / 100 outputs, 1e-8): 1.50 vs 1.62 ms and 3.21 vs
    3.61 ms per simulation; tracing 0.45 instead of 0.70 s, XLA 1.9 instead of 1.5 s (the
    unrolled inverse)."""
    if options.adjoint == "reverse" and isinstance(options.solver, NativeSolver):
        return dataclasses.replace(options, adjoint="none")
    return options


def _check_regimen_numbers(structure: RegimenStructure, numbers: dict, t0) -> None:
    """Checks that need concrete numbers (skipped under jit/grad/vmap)."""
    t0 = float(t0)
    for i, d in enumerate(structure.doses):
        t = float(numbers["time"][i])
        what = f"dose {i + 1} ({d.kind} at time {t:g})" if d.kind != "reset" else f"reset at time {t:g}"
        if t < t0:
            raise DosingError(f"{what} is before the start of the simulation t0={t0:g}; "
                              f"pass t0={t:g} (or earlier) to qsp.simulate.")
        if d.steady_state:
            tau = float(numbers["interval"][i])
            lag = float(numbers["lag"][i]) if d.lag is None else 0.0
            if lag >= TAIL_SLOTS * tau:
                raise DosingError(f"{what}: a steady-state dose whose lag ({lag:g}) spans more than {TAIL_SLOTS} "
                                  f"intervals ({tau:g}) is not supported.")
            if d.kind == "infusion":
                if d.by_rate and d.rate is None and d.bioavailability is None:
                    duration = float(numbers["amount"][i]) * float(numbers["bioavailability"][i]) / float(
                        numbers["rate"][i])
                elif not d.by_rate and d.duration is None:
                    duration = float(numbers["duration"][i])
                else:
                    continue  # modelled: checked only when concrete values exist
                if lag + duration >= (TAIL_SLOTS + 1) * tau:
                    raise DosingError(f"{what}: a steady-state infusion overlapping more than {TAIL_SLOTS} earlier "
                                      f"ones (lag + duration = {lag + duration:g}, interval {tau:g}) is not "
                                      "supported.")


def simulate(compiled: CompiledModel, times, params: Mapping | jax.Array | None = None,
             regimen: Regimen | None = None, *, before=None, t0=None, solver=None, rtol=None, atol=None,
             max_steps=None, adjoint=None) -> Solution:
    """Simulate a compiled model at ``times`` under a dosing regimen.

    The model's initial state holds at ``t0`` (default: 0, or the first output time if that
    is earlier). Between events (doses, infusion edges, resets) the ODE
    :math:`dy/dt = S v(t, y, p) + u(t)` is integrated (by qsp's own solvers, or diffrax's on
    request); at an event the state jumps exactly. At an output time equal to an event time
    the state *after* the event is reported, unless that time is flagged in ``before``
    (pre-dose samples, as an observation record placed before the dose record in a NONMEM
    dataset).

    This is a pure JAX function of ``params`` and of the regimen's numbers: ``jax.jit``,
    ``jax.grad`` and ``jax.vmap`` work over them; new values never recompile.

    Args:
        compiled: from :func:`qsp.compile`.
        times: output times, non-decreasing.
        params: parameter name → value (missing ones take their defaults), or a full vector.
        regimen: a :class:`~qsp.Regimen` (or a list of dose records).
        before: booleans, one per output time: report the state before events at that time.
        t0: start time of the simulation.
        solver: a name or a diffrax solver; default ``"auto"``: qsp's own Rosenbrock method
            Rodas5P (stiff-safe, L-stable, 5th order, exact Jacobian; see
            :mod:`qsp.simulate.rosenbrock`) for models of up to 16 states, and above that Tsit5
            switching to Rodas5P (and back) by stiffness and the cost of a stiff step
            (:func:`qsp.simulate.rosenbrock.integrate_auto`).
        rtol, atol: tolerances (default 1e-8 and 1e-10).
        max_steps: most steps between two consecutive output or event times (default 10,000;
            reverse-mode memory and time grow with it, as the loop is checkpointed).
        adjoint: ``"reverse"`` (default, for ``jax.grad``), ``"forward"`` (for ``jax.jacfwd``),
            ``"direct"`` (both) or a diffrax adjoint.

    Raises:
        SolverError: the integration failed (says when and what to try).
        DosingError: a dose is impossible for this model (missing target, before t0...).

    Example:
        >>> import qsp, jax.numpy as jnp
        >>> V, CL = qsp.Parameter("V", 30.0), qsp.Parameter("CL", 3.0)
        >>> A = qsp.Species("A", qsp.Compartment("central", volume=V))
        >>> cm = qsp.compile(qsp.Model("pk1", reactions=[qsp.Reaction([A], [], rate=CL * A)], observables={"C": A}))
        >>> reg = qsp.Regimen([qsp.Bolus(A, amount=300.0, time=0.0)])
        >>> sol = qsp.simulate(cm, jnp.array([0.0, 10.0]), params={"CL": 3.0}, regimen=reg)
        >>> [round(float(c), 4) for c in sol["C"]]   # 10 * exp(-0.1 t)
        [10.0, 3.6788]
    """
    if not isinstance(compiled, CompiledModel):
        raise TypeError(f"simulate() needs a CompiledModel from qsp.compile(model), got {type(compiled).__name__}.")
    options = solver_options(solver, rtol, atol, max_steps, adjoint)
    p = compiled.parameter_values(params)
    structure, numbers = split_regimen(compiled, as_regimen(regimen))
    traced = _is_traced(times, p, numbers, t0, before)
    # Concrete inputs stay numpy until the compiled call: eager JAX ops cost ~0.1–1 ms each.
    xp = jnp if traced else np
    ts = xp.atleast_1d(xp.asarray(times, dtype=np.float64))
    if ts.ndim != 1 or ts.shape[0] == 0:
        raise SolverError(f"times must be a non-empty 1-D array of output times, got shape {ts.shape}.")
    flags = xp.zeros(ts.shape, bool) if before is None else xp.asarray(before, bool)
    if flags.shape != ts.shape:
        raise SolverError(f"before has shape {flags.shape}; it needs one flag per output time {ts.shape}.")
    if t0 is None:
        t0 = xp.minimum(ts[0], 0.0)
    t0 = xp.asarray(t0, np.float64)
    if not traced:
        if np.any(np.diff(ts) < 0):
            k = int(np.argmax(np.diff(ts) < 0))
            raise SolverError(f"times must be non-decreasing: times[{k + 1}]={ts[k + 1]:g} comes after "
                              f"times[{k}]={ts[k]:g}. Sort them first.")
        _check_regimen_numbers(structure, numbers, t0)
        if float(t0) > float(ts[0]):
            raise SolverError(f"t0={float(t0):g} is after the first output time {float(ts[0]):g}.")
        options = _for_concrete_inputs(options)
    ys, failed, args, n_steps = _core(compiled, ts, flags, p, structure, numbers, options, t0)
    if traced:
        ys = eqx.error_if(ys, (failed[0] >= 0) | ~jnp.all(jnp.isfinite(ys)),
                          "qsp.simulate: the integration failed (max_steps reached, step size collapsed, or "
                          "non-finite values). Try larger max_steps=, looser rtol=/atol=, a stiff solver "
                          "('rodas5p'), or check parameter values.")
    else:
        _raise_on_failure(compiled, ts, ys, failed, options, args)
    return Solution(compiled, jnp.asarray(ts), ys, args, n_steps)


def _raise_on_failure(compiled, ts, ys, failed, options, args=None) -> None:
    failed = np.asarray(failed)
    if failed[0] >= 0:
        a, b = float(failed[0]), float(failed[1])
        detail = _non_finite_derivative(compiled, ts, ys, a, args)
        if isinstance(options.solver, NativeSolver):
            stiff = options.solver.name not in ("tsit5", "rock4")
        else:
            import diffrax
            stiff = isinstance(options.solver, diffrax.Kvaerno5)
        other = "" if stiff else "a stiff solver (solver='rodas5p'), "
        raise SolverError(
            f"model {compiled.model.name!r}: the integration failed between t={a:g} and t={b:g} "
            f"(max_steps={options.max_steps} reached or the step size collapsed) with "
            f"{solver_label(options.solver)}, rtol={options.rtol:g}, atol={options.atol:g}.{detail} Try {other}"
            "a larger max_steps=, looser rtol=/atol=, or check the parameter values."
        )
    bad = ~np.isfinite(np.asarray(ys))
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise SolverError(
            f"model {compiled.model.name!r}: state {compiled.state_names[col]!r} is not finite "
            f"({np.asarray(ys)[row, col]}) at t={float(ts[row]):g}. Check the parameter values and the rate laws "
            "(division by zero, log of a negative number, overflow)."
        )


def _non_finite_derivative(compiled, ts, ys, a, args) -> str:
    """Names the states whose derivative is not finite at the last output before ``a``."""
    if args is None:
        return ""
    ts_np = np.asarray(ts)
    earlier = np.nonzero(ts_np <= a)[0]
    if earlier.size:
        t, y = ts_np[earlier[-1]], ys[earlier[-1]]
    else:
        t, y = a, compiled.initial_state(args)
    dy = np.asarray(compiled.rhs(t, jnp.asarray(y), args))
    names = [compiled.state_names[i] for i in np.nonzero(~np.isfinite(dy))[0]]
    if not names:
        return ""
    return (f" The derivative of state {', '.join(repr(n) for n in names)} is not finite at t={float(t):g} "
            "(division by zero, log or power of a negative number?).")


from .population import PopulationSolution, simulate_population  # noqa: E402
from .exposure import summarise  # noqa: E402

__all__ = ["simulate", "simulate_population", "PopulationSolution", "Solution", "SolverOptions", "solver_options",
           "summarise"]
