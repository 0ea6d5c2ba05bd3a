"""Dose optimisation speed, and the choice of optimiser (BFGS vs projected-gradient Adam).

Problems:

* ``css``: one-compartment IV (CL 3 L/h, V 30 L), 100 mg q12h x11; find the one amount whose
  AUC over the last interval is Css·τ = 60 mg·h/L (optimum CL·Css·τ = 180 mg). Solved by
  qsp's BFGS on the reparameterised decision and, for comparison, by optax's Adam on the same
  loss and gradient (learning rates 0.05 and 0.1 with cosine decay): steps to reach
  1e-4 and 1e-6 relative error in the amount.
* ``bid-week``: oral one-compartment (ka 1/h, CL 5 L/h, V 50 L), a week of twice-daily doses
  (08:00/20:00, 300 mg): the 14 times and 14 amounts (28 variables) with amounts in 0-1000 mg,
  at most 1000 mg a day, doses within 07:00-23:00 and at least 6 h apart; objectives: time
  within 4-8 mg/L over days 2-7, and troughs (just before each dose of days 2-7) at 5 mg/L.

Columns: ``first call`` (compilation included), ``again`` (a new target: no compilation),
``steps`` (BFGS steps, best start), objective before → after. The environment line gives the
load average: on a shared machine wall time inflates, so CPU seconds are shown too.

    python benchmarks/bench_optimize.py            # full
    python benchmarks/bench_optimize.py --quick    # css only, one Adam rate
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np


def _clock():
    return time.perf_counter(), time.process_time()


def _since(start):
    wall, cpu = _clock()
    return wall - start[0], cpu - start[1]


def css_problem(qsp):
    from qsp.optimize import target_auc

    V, CL = qsp.Parameter("V", 30.0), qsp.Parameter("CL", 3.0)
    A = qsp.Species("A", qsp.Compartment("central", volume=V))
    compiled = qsp.compile(qsp.Model("pk1", reactions=[qsp.Reaction([A], [], rate=CL * A)], observables={"C": A}))
    regimen = qsp.Regimen([qsp.Bolus(A, amount=100.0, time=0.0, interval=12.0, additional=10)])
    return compiled, regimen, (lambda target: target_auc("C", target, start=120.0, end=132.0))


def adam_steps(qsp, problem, z0, lr, steps, optimum):
    """Adam (optax) on the same reparameterised loss and forward-mode gradient; steps to 1e-4 and 1e-6."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import optax

    from qsp.optimize.solver import _fn

    value_and_grad = eqx.filter_jit(lambda pb, z: (_fn(z, pb)[0], jax.jacfwd(lambda v: _fn(v, pb)[0])(z)))
    opt = optax.adam(optax.cosine_decay_schedule(lr, steps))
    z = jnp.asarray(z0)
    state = opt.init(z)
    reached = {1e-4: None, 1e-6: None}
    start = _clock()
    for k in range(steps):
        _, g = value_and_grad(problem, z)
        updates, state = opt.update(g, state, z)
        z = optax.apply_updates(z, updates)
        error = abs(float(problem.feasible(z)[0]) / optimum - 1.0)
        for tol in reached:
            if reached[tol] is None and error < tol:
                reached[tol] = k + 1
    wall, _ = _since(start)
    return reached, error, wall


def bid_problem(qsp):
    V, CL, ka = qsp.Parameter("V", 50.0), qsp.Parameter("CL", 5.0), qsp.Parameter("ka", 1.0)
    gut = qsp.Species("gut", qsp.Compartment("gi", volume=1.0))
    A = qsp.Species("A", qsp.Compartment("central", volume=V))
    model = qsp.Model("oral", reactions=[qsp.Reaction([gut], [A], rate=ka * gut), qsp.Reaction([A], [], rate=CL * A)],
                      observables={"C": A})
    regimen = qsp.Regimen([qsp.Bolus(gut, amount=300.0, time=8.0, interval=12.0, additional=13)])
    return qsp.compile(model), regimen


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="css only, one Adam learning rate")
    args = parser.parse_args(argv)

    import jax

    import qsp
    from qsp.optimize import target_trough, time_in_window

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"environment: python {platform.python_version()}, jax {jax.__version__}, {os.cpu_count()} cores, "
          f"load average {load:.1f}, backend {jax.default_backend()}")
    rows = []

    # ---- css: BFGS against Adam
    compiled, regimen, objective = css_problem(qsp)
    optimum = 3.0 * 5.0 * 12.0
    start = _clock()
    first = qsp.optimize_regimen(compiled, regimen, objective(60.0), multistart=1)
    first_time = _since(start)
    start = _clock()
    again = qsp.optimize_regimen(compiled, regimen, objective(60.0), multistart=1)
    again_time = _since(start)
    error = abs(float(again.regimen.doses()[0].amount) / optimum - 1)
    rows.append(("css", "BFGS (qsp)", f"{first_time[0]:.1f} ({first_time[1]:.1f} cpu)",
                 f"{again_time[0]:.2f} ({again_time[1]:.2f} cpu)", again.steps,
                 f"{again.initial_objective:.3g} → {again.objective:.3g}", f"{error:.1e}"))
    problem = again._problem
    z0 = problem.feasible.inverse(np.asarray([100.0]))
    for lr in ((0.1,) if args.quick else (0.05, 0.1)):
        reached, err, wall = adam_steps(qsp, problem, z0, lr, 300, optimum)
        rows.append(("css", f"Adam lr {lr} (optax)", "", f"{wall:.2f}", 300, f"steps to 1e-4: {reached[1e-4]}, "
                     f"1e-6: {reached[1e-6]}", f"{err:.1e}"))

    # ---- a week of twice-daily doses: 28 variables
    if not args.quick:
        compiled, regimen = bid_problem(qsp)
        constraints = dict(decision={"time": "each", "amount": "each"}, bounds={"amount": (0.0, 1000.0)},
                           min_interval=6.0, clock_hours=(7.0, 23.0), max_daily=1000.0, max_steps=200)
        troughs = [20.0 + 12.0 * k - 0.01 for k in range(1, 13)]
        for name, make in (("window 4-8 mg/L", lambda hi: time_in_window("C", 4.0, hi, start=24.0, end=168.0)),
                           ("troughs at 5 mg/L", lambda target: target_trough("C", target, troughs))):
            for starts in (1, 4):
                start = _clock()
                qsp.optimize_regimen(compiled, regimen, make(8.0 if "window" in name else 5.0), multistart=starts,
                                     **constraints)
                first_time = _since(start)
                start = _clock()
                result = qsp.optimize_regimen(compiled, regimen, make(8.5 if "window" in name else 5.5),
                                              multistart=starts, **constraints)
                again_time = _since(start)
                rows.append((f"bid-week, {name}", f"BFGS, {starts} start{'s' if starts > 1 else ''}",
                             f"{first_time[0]:.1f} ({first_time[1]:.1f} cpu)",
                             f"{again_time[0]:.2f} ({again_time[1]:.2f} cpu)", result.steps,
                             f"{result.initial_objective:.3g} → {result.objective:.3g}",
                             "converged" if result.converged else "max_steps"))

    print()
    print("| problem | method | first call, s | again, s | steps | objective | error / status |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
