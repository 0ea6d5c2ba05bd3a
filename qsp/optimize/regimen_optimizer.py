"""``qsp.optimize_regimen``: choose dose amounts, times and infusion durations by gradient."""

from __future__ import annotations

from typing import Mapping

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from ..analysis.dose_numbers import DoseNumbers
from ..compile import CompiledModel
from ..dosing import as_regimen
from ..errors import DosingError
from .decision import Decision
from .feasible import BOTH, feasible_map
from .augment import with_integrals
from .objectives import as_objective, with_keys
from .result import RegimenOptimum
from .pinned import PinnedMap
from .solver import Problem, feasible_point, loss_at, run_starts
from .strengths import round_amounts

#: Simulation tolerances while optimising (pass ``rtol=``/``atol=`` to change them).
SIMULATION_RTOL, SIMULATION_ATOL = 1e-6, 1e-8


def optimize_regimen(compiled: CompiledModel, regimen, objective, *, times=None, params: Mapping | None = None,
                     decision=None, bounds: Mapping | None = None, min_interval=None, clock_hours=None,
                     max_daily=None, strengths=None, day: float = 24.0, clock_at_zero: float = 0.0,
                     multistart: int = 4, seed: int = 0,
                     max_steps: int = 100, tol: float = 1e-8, **options) -> RegimenOptimum:
    r"""Optimise a dosing regimen's amounts, times and/or infusion durations against an objective.

    Minimises :math:`J(\mathrm{sol}(x))` over the decision :math:`x \in F` — the doses'
    varying numbers — where :math:`F` is the convex set the constraints allow. ``regimen``
    gives the shape (which doses, into what) and the starting values.

    **Method.** :math:`F` is reparameterised exactly: an unconstrained vector :math:`z` maps to a
    feasible :math:`x` variable by variable, each inside the interval that the constraints and
    the variables before it allow (:mod:`qsp.optimize.feasible`; minimal simple temporal networks
    for times, packing constraints for amounts). BFGS (optimistix, Armijo backtracking) minimises
    :math:`J(x(z))` with forward-mode gradients through :func:`qsp.simulate`, from ``multistart``
    starts: the given regimen and random points of :math:`F`; the best run wins. Amounts are
    then rounded to the available ``strengths`` (keeping the bounds and daily caps); when times or
    durations are decision variables too, they are optimised again with the rounded amounts
    pinned (:mod:`qsp.optimize.pinned`), since a rounded dose may be better given at another
    time. An optimum on a constraint is approached to within ``tol``.

    Args:
        compiled: from :func:`qsp.compile`.
        regimen: the starting regimen (its shape is kept: number, kind and target of doses).
        objective: a loss to minimise: one of :func:`time_in_window`, :func:`target_auc`,
            :func:`target_trough`, :func:`rhythm_alignment` (they add and scale), or any
            differentiable ``f(sol)`` / ``f(sol, regimen)`` returning a scalar. The ready ones
            integrate with the model (added rate-rule states), exactly and smoothly in dose times.
        times: output times the objective sees, besides those the ready objectives need
            (their start, end and sampling times); required for a custom objective.
        params: parameter values (name → value); the rest take their defaults.
        decision: what varies, per dose number: ``{"amount": "tied", "time": "each", "duration": ...}``
            with ``"each"`` (a variable per single dose), ``"tied"`` (one shared variable: one
            amount; one shift of all dose times) or one label per single dose (equal labels share a
            variable, ``None`` fixes a dose). Default ``{"amount": "tied"}``.
        bounds: ``{"amount": (lo, hi), "time": (lo, hi), "duration": (lo, hi)}`` for every varying
            dose (``None`` for an open end). Defaults: amounts ≥ 0; times within the simulated span;
            durations ≥ 1 % of their initial value.
        min_interval: doses keep their order and each comes at least this long after the previous one.
        clock_hours: ``(start, end)``: each varying dose stays within these clock hours of the day it
            starts in (``end < start`` wraps past midnight).
        max_daily: the most that the doses of one clock day may add up to (days from the initial
            dose times; with varying times, give ``clock_hours`` too so doses keep their day).
        strengths: available unit amounts (e.g. ``[250, 500]``): the optimised amounts are rounded to
            whole units of these; varying times and durations are then re-optimised for the rounded
            amounts, and the objective re-evaluated.
        day, clock_at_zero: the length of a day in model time units (24 for hours) and the clock
            time at model time 0 (e.g. 8.0 if the simulation starts at 08:00).
        multistart: number of starts (the given regimen first).
        seed: random seed of the other starts.
        max_steps: most BFGS steps per start.
        tol: BFGS relative and absolute tolerance on the reparameterised variables and the objective.
        **options: passed to :func:`qsp.simulate` (``rtol``, ``atol``, ``solver``, ``max_steps``...
            — note ``max_steps`` here is the optimiser's; pass the solver's as ``solver_max_steps``).
            The tolerances default to ``rtol=1e-6``, ``atol=1e-8`` (``SIMULATION_RTOL``/``_ATOL``):
            the objective is then exact to ~1e-6, ample for a dose, at half the cost per step of
            ``qsp.simulate``'s own 1e-8.

    Returns:
        a :class:`RegimenOptimum`: ``.regimen``, ``.objective``, ``.trace``, ``.to_pandas()``, ``.plot()``.

    Example:
        >>> import qsp, numpy as np
        >>> from qsp.optimize import target_auc
        >>> V, CL = qsp.Parameter("V", 30.0), qsp.Parameter("CL", 3.0)
        >>> A = qsp.Species("A", qsp.Compartment("central", volume=V))
        >>> cm = qsp.compile(qsp.Model("pk1", reactions=[qsp.Reaction([A], [], rate=CL * A)], observables={"C": A}))
        >>> start = qsp.Regimen([qsp.Bolus(A, amount=100.0, time=0.0)])
        >>> # the dose whose AUC over 0-48 h is 50 mg·h/L: D = CL · AUC / (1 - exp(-k 48))
        >>> best = optimize_regimen(cm, start, target_auc("C", 50.0, start=0.0, end=48.0), multistart=1)
        >>> round(float(best.regimen.doses()[0].amount * (1 - np.exp(-0.1 * 48)) / 3.0 / 50.0), 6)
        1.0
    """
    if not isinstance(compiled, CompiledModel):
        raise TypeError(f"optimize_regimen() needs a CompiledModel from qsp.compile(model), got "
                        f"{type(compiled).__name__}.")
    if "adjoint" in options:
        raise DosingError("optimize_regimen differentiates in forward mode; do not pass adjoint=.")
    if "solver_max_steps" in options:
        options["max_steps"] = options.pop("solver_max_steps")
    # a dose recommendation needs the objective to ~1e-6, not qsp.simulate's 1e-8; measured on a
    # week of twice-daily doses (benchmarks/bench_optimize.py) this halves the time per BFGS step
    options.setdefault("rtol", SIMULATION_RTOL)
    options.setdefault("atol", SIMULATION_ATOL)
    if int(multistart) < 1:
        raise DosingError(f"multistart={multistart}; give at least 1 start.")
    regimen = as_regimen(regimen)
    doses = DoseNumbers.from_regimen(regimen)
    if doses.n_doses == 0:
        raise DosingError("the regimen has no doses to optimise; give a starting regimen (its shape is kept).")
    dec = Decision.parse(decision, doses)
    if strengths is not None and not dec.sizes["amount"]:
        raise DosingError("strengths= rounds optimised amounts, but amounts are not decision variables here; "
                          "add decision={'amount': ...}.")
    loss = with_keys(as_objective(objective))
    needed = sorted({t for leaf in loss.leaves() for t in leaf.times()})
    if times is None and not needed:
        raise DosingError("times= is needed: this objective names no output times of its own.")
    ts = np.unique(np.concatenate([np.atleast_1d(np.asarray([] if times is None else times, np.float64)),
                                   np.asarray(needed, np.float64)]))
    start = min(float(ts[0]), 0.0) if "t0" not in options else float(options["t0"])
    feasible = feasible_map(dec, doses, time_range=(start, float(ts[-1])), bounds=bounds, clock_hours=clock_hours,
                            min_interval=min_interval, max_daily=max_daily, day=day, clock_at_zero=clock_at_zero)
    model = with_integrals(compiled, loss)
    values = {k: v for leaf in loss.leaves() for k, v in leaf.parameter_values(compiled).items()}
    problem = Problem(model, model.parameter_vector({**values, **dict(params or {})}), jnp.asarray(ts), doses, dec,
                      feasible, loss, tuple(sorted(options.items())))

    # starts: the given regimen (moved inside F), then random points of F
    x0 = dec.initial(doses)
    z0 = feasible.inverse(x0)
    rng = np.random.default_rng(seed)
    two_sided = np.asarray([k == BOTH for k in feasible.kind])
    starts = [z0]
    for _ in range(int(multistart) - 1):
        # two-sided variables: spread over their interval; others: around the start, one scale away
        starts.append(np.where(two_sided, rng.normal(0.0, 1.5, z0.shape), z0 + rng.normal(0.0, 1.0, z0.shape)))
    runs, seconds = run_starts(problem, np.stack(starts), tol=tol, max_steps=max_steps)
    best = min(range(len(runs)), key=lambda i: runs[i].value if np.isfinite(runs[i].value) else np.inf)
    run = runs[best]
    x_start = np.asarray(feasible_point(feasible, jnp.asarray(z0)))
    x_best = np.asarray(feasible_point(feasible, jnp.asarray(run.z)))
    continuous = dec.apply(jnp.asarray(x_best), doses).regimen()
    final_x, final_value = x_best, run.value
    if strengths is not None:
        sl = dec.slices()["amount"]
        final_x = x_best.copy()
        final_x[sl] = round_amounts(x_best[sl], np.asarray(feasible.counts), np.asarray(feasible.caps),
                                    float(feasible.amount_lo[0]), float(feasible.amount_hi[0]), strengths)
        final_value = float(loss_at(problem, jnp.asarray(final_x)))
        moving = [np.arange(dec.n)[dec.slices()[f]] for f in ("time", "duration") if dec.sizes[f]]
        if moving:  # the rounded amounts may prefer other times: optimise those again, amounts pinned
            final_x, final_value = _reoptimise_free(problem, feasible, final_x, final_value, np.concatenate(moving),
                                                    tol=tol, max_steps=max_steps)
    return RegimenOptimum(
        regimen=_concrete(dec.apply(jnp.asarray(final_x), doses).regimen()),
        objective=float(final_value),
        initial_regimen=_concrete(dec.apply(jnp.asarray(x_start), doses).regimen()),
        initial_objective=float(runs[0].trace[0]) if runs[0].trace.size else float("nan"),
        continuous_regimen=_concrete(continuous), continuous_objective=float(run.value),
        x=x_best, variables=tuple(dec.names()), trace=run.trace, traces=tuple(r.trace for r in runs),
        start_objectives=np.asarray([r.value for r in runs]), converged=run.converged, steps=run.steps,
        seconds=seconds, _problem=problem)


def _reoptimise_free(problem: Problem, feasible, x, value: float, free, *, tol: float, max_steps: int):
    """BFGS over the variables at ``free`` with the others pinned at ``x``; the better of the two points."""
    pinned = PinnedMap.around(feasible, x, free=free)
    sub = eqx.tree_at(lambda p: p.feasible, problem, pinned)
    (run,), _ = run_starts(sub, pinned.inverse(x)[None], tol=tol, max_steps=max_steps)
    x_new = np.asarray(feasible_point(pinned, jnp.asarray(run.z)))
    value_new = float(loss_at(problem, jnp.asarray(x_new)))
    return (x_new, value_new) if value_new < value else (x, value)


def _concrete(regimen):
    """The regimen with plain floats (not JAX scalars) in its records."""
    doses = DoseNumbers.from_regimen(regimen)
    return doses.with_numbers(**{f: np.asarray(v, np.float64) for f, v in doses.numbers.items()}).regimen()
