"""Dosing benchmarks (issue: dosing regimens).

    python benchmarks/bench_dosing.py            # full run
    python benchmarks/bench_dosing.py --quick    # small sizes (smoke test)

Measures, on this machine:

* a 1-compartment model with 100 doses: compile + first call, and re-simulation with new dose
  times (through ``jax.jit`` of a function of the dose times); the same at 10 doses, to show
  that compile time does not grow with the number of doses;
* a virtual population of the 4-state TMDD model with 6 doses each (10,000 subjects):
  subjects per second, peak resident memory, with the progress bar on;
* scipy ``solve_ivp`` (LSODA) on the same 100-dose problem, dose by dose, for comparison.
"""

from __future__ import annotations

import argparse
import resource
import time

import jax
import jax.numpy as jnp
import numpy as np
from scipy.integrate import solve_ivp

import qsp


def one_compartment():
    V, CL = qsp.Parameter("V", 30.0), qsp.Parameter("CL", 3.0)
    A = qsp.Species("A", qsp.Compartment("central", volume=V))
    model = qsp.Model("pk1", reactions=[qsp.Reaction([A], [], rate=CL * A)], observables={"C": A})
    return qsp.compile(model), A


def tmdd():
    p = {k: qsp.Parameter(k, v) for k, v in dict(CL=0.2, V1=3.0, Q=0.5, V2=2.5, kon=0.5, koff=0.05, kint=0.3,
                                                  ksyn=1.0, kdeg=0.25).items()}
    c1, c2 = qsp.Compartment("c1", volume=p["V1"]), qsp.Compartment("c2", volume=p["V2"])
    L, Lp = qsp.Species("L", c1), qsp.Species("Lp", c2)
    R = qsp.Species("R", c1, initial_concentration=p["ksyn"] / p["kdeg"])
    RL = qsp.Species("RL", c1)
    reactions = [
        qsp.Reaction([L], [], rate=p["CL"] * L),
        qsp.Reaction([L], [Lp], rate=p["Q"] * (L - Lp)),
        qsp.Reaction([L, R], [RL], rate=(p["kon"] * L * R - p["koff"] * RL) * c1),
        qsp.Reaction([], [R], rate=p["ksyn"] * c1),
        qsp.Reaction([R], [], rate=p["kdeg"] * R * c1),
        qsp.Reaction([RL], [], rate=p["kint"] * RL * c1),
    ]
    return qsp.compile(qsp.Model("tmdd", reactions=reactions, observables={"Lc": L})), L


def timed(f, repeats):
    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(f())
        samples.append(time.perf_counter() - t)
    return float(np.median(samples))


def bench_doses(n_doses, repeats):
    compiled, A = one_compartment()
    ts = jnp.linspace(0.0, 12.0 * n_doses, 200)

    def simulate(times):
        regimen = qsp.Regimen([qsp.Bolus(A, amount=100.0, time=times[i]) for i in range(n_doses)])
        return qsp.simulate(compiled, ts, regimen=regimen)["C"]

    f = jax.jit(simulate)
    base = jnp.arange(n_doses) * 12.0
    t = time.perf_counter()
    jax.block_until_ready(f(base))
    first = time.perf_counter() - t
    k = [0]

    def again():
        k[0] += 1
        return f(base + 0.01 * k[0])
    resim = timed(again, repeats)

    def scipy_run():
        y, out, k_el = np.array([0.0]), [], 3.0 / 30.0
        edges = list(np.asarray(base)) + [float(ts[-1])]
        for i in range(n_doses):
            y = y + 100.0
            s = solve_ivp(lambda t, y: -k_el * y, (edges[i], edges[i + 1]), y, method="LSODA", rtol=1e-8,
                          atol=1e-10)
            y = s.y[:, -1]
        return y
    return first, resim, timed(scipy_run, max(1, repeats // 5))


def bench_population(n_subjects, chunk):
    compiled, L = tmdd()
    rng = np.random.default_rng(1)
    params = {k: compiled.default_parameters[compiled.parameter_index(k)] * np.exp(0.3 * rng.standard_normal(n_subjects))
              for k in ("CL", "V1", "ksyn", "kdeg")}
    regimen = qsp.Regimen([qsp.Bolus(L, amount=2000.0, time=0.0, interval=14.0, additional=5)])
    ts = np.linspace(0.0, 84.0, 100)
    t = time.perf_counter()
    pop = qsp.simulate_population(compiled, ts, params=params, regimen=regimen, chunk_size=chunk, progress=True)
    jax.block_until_ready(pop.ys)
    elapsed = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    return elapsed, n_subjects / elapsed, peak


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for the smoke test")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 20
    rows = []
    for n in ((10,) if args.quick else (10, 100)):
        first, resim, scipy_time = bench_doses(n, repeats)
        rows.append((f"1-cmt, {n} doses", f"{first:.2f} s", f"{resim * 1e3:.2f} ms", f"{scipy_time * 1e3:.2f} ms",
                     f"{scipy_time / resim:.2f}"))
    print("| task | compile + first call | re-simulation, new dose times | scipy LSODA | scipy / qsp |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    n_subjects = 200 if args.quick else 10_000
    elapsed, rate, peak = bench_population(n_subjects, chunk=100 if args.quick else 1000)
    print()
    print("| population | subjects | wall time | subjects/s | peak RSS |")
    print("|---|---|---|---|---|")
    print(f"| TMDD, 6 doses, 100 outputs | {n_subjects} | {elapsed:.1f} s | {rate:.0f} | {peak:.2f} GiB |")
    print()
    print("targets: 100 doses compile < 10 s, re-simulation with new dose times < 5 ms; "
          "10,000 subjects with bounded memory and a progress bar.")


if __name__ == "__main__":
    main()
