"""PEtab benchmark: qsp's nominal log-likelihood and its gradient on the PEtab benchmark collection.

For each problem of ``../shared/reference/petab-benchmark/`` with an AMICI reference in
``../shared/reference/amici-benchmark-reference/benchmark_models.yaml`` the script measures

* reading the problem (``qsp.io.read_petab``: tables, SBML, ``qsp.compile``) and the first
  likelihood call (JAX tracing and XLA compilation);
* the median time of the negative log-likelihood at the nominal parameters, and of the
  value and its gradient (reverse mode), after compilation;
* libRoadRunner's time to simulate the same SBML for every experiment of the problem
  (CVODE, stiff, the same rtol/atol 1e-8; preequilibration by simulating to the same
  steady-state time), measured in the same run when ``roadrunner`` imports; its trajectories
  are put through qsp's observables and noise models, which gives an independent check of
  qsp's simulation (column ``llh(rr)``);

and prints them next to AMICI's CPU-time budgets from the yaml (``t_sim``: one simulation
of all conditions, ``t_fwd``/``t_adj``: with forward/adjoint sensitivities). The budgets
were set on AMICI's CI machines, so compare orders of magnitude, not digits; the
libRoadRunner column is measured here, on this machine, in this run. Every timing is given
as wall-clock time and as the CPU time of this process (all threads, ``time.process_time``);
on a loaded machine the CPU time is the steadier number, and the ratios use it.

Run::

    python benchmarks/bench_petab.py                       # all 13 problems (tens of minutes on 2 cores)
    python benchmarks/bench_petab.py --problems Boehm_JProteomeRes2014 Zheng_PNAS2012 --repeats 5
    python benchmarks/bench_petab.py --no-grad             # skip the gradient (its compilation is the slow part)

Progress goes to stderr, the report (environment line and table) to stdout.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)

import qsp  # noqa: E402
from qsp.io.petab import read_petab  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference"
RTOL = ATOL = 1e-8  # AMICI's check uses 1e-8; qsp and libRoadRunner get the same


def _git_revision() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return f"{rev}-dirty" if rev and dirty else (rev or "unknown")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _load() -> str:
    try:
        return "/".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def _median_time(f, repeats: int, budget: float) -> tuple[float, float, int]:
    """Median wall and CPU time (this process, all threads) of ``f()`` over up to ``repeats``
    runs (fewer once ``budget`` s are spent), and the number of runs."""
    wall, cpu, start = [], [], time.perf_counter()
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        jax.block_until_ready(f())
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        if time.perf_counter() - start > budget:
            break
    return statistics.median(wall), statistics.median(cpu), len(wall)


# --------------------------------------------------------------------------- libRoadRunner
def roadrunner_run(problem, repeats: int, budget: float):
    """Simulate every experiment of ``problem`` with libRoadRunner at the nominal parameters.

    Returns ``(median wall s, median CPU s, llh of its trajectories through qsp's
    observables, note)``, or None values with a note when roadrunner is unavailable or fails.
    """
    try:
        import roadrunner
    except ImportError:
        return None, None, None, "roadrunner not installed"
    rr = roadrunner.RoadRunner(str(problem.tables.sbml))
    rr.setIntegrator("cvode")
    rr.integrator.relative_tolerance = RTOL
    rr.integrator.absolute_tolerance = ATOL
    rr.integrator.stiff = True
    rr.integrator.maximum_num_steps = 1_000_000
    names = problem.compiled.parameter_names
    sbml_parameters = set(rr.model.getGlobalParameterIds())
    species = list(problem.compiled.state_names)
    if any(s not in rr.model.getFloatingSpeciesIds() + rr.model.getBoundarySpeciesIds() for s in species):
        return None, None, None, "states that are not SBML species"
    P = problem.experiment_parameters()
    pre_ids = {c: i for i, c in enumerate(problem.layout.condition_ids)}
    all_params = np.asarray(problem._values(problem.nominal_theta())[1][problem.layout.condition_parameters])
    if np.any(problem.layout.condition_initials >= 0):
        return None, None, None, "species overrides in conditions (not wired up here)"
    times = problem.output_times()
    T = problem.steady.time

    def set_parameters(values):
        for name, value in zip(names, values):
            if name in sbml_parameters:  # reset() then evaluates initial assignments with these values
                rr.setValue(name, float(value))

    def run_all():
        out = np.zeros((len(problem.experiments), times.shape[1], len(species)))
        for e, (pre, _) in enumerate(problem.experiments):
            rr.resetAll()
            if pre is not None:
                set_parameters(all_params[pre_ids[pre]])
                rr.reset()
                rr.simulate(0.0, T, 2)  # to steady state, as qsp does
                set_parameters(P[e])
            else:
                set_parameters(P[e])
                rr.reset()
            positive = [t for t in np.unique(times[e]) if t > 0]
            # roadrunner wants at least two output times, starting at the simulation's start
            result = np.asarray(rr.simulate(times=[0.0, *positive] if positive else [0.0, 1.0], selections=species))
            at = {0.0: result[0], **{t: result[i + 1] for i, t in enumerate(positive)}}
            out[e] = [at[t] for t in times[e]]
        return out

    try:
        states = run_all()
        wall, cpu, _ = _median_time(run_all, repeats, budget)
        llh = problem.log_likelihood_from_states(states)
    except Exception as exc:  # noqa: BLE001 - reported in the table, not fatal
        return None, None, None, f"roadrunner failed: {type(exc).__name__}: {str(exc)[:80]}"
    return wall, cpu, llh, ""


# --------------------------------------------------------------------------- one problem
def run_problem(name: str, reference: dict, repeats: int, budget: float, gradient: bool, log) -> dict:
    path = REFERENCE / "petab-benchmark" / name / f"{name}.yaml"
    t = time.perf_counter()
    problem = read_petab(path, rtol=RTOL, atol=ATOL)
    read_s = time.perf_counter() - t
    theta = problem.nominal_theta()
    t = time.perf_counter()
    llh = float(problem.log_likelihood(theta))
    first_s = time.perf_counter() - t
    log(f"{name}: read {read_s:.1f} s, first call {first_s:.1f} s, llh {llh:.6f}")
    llh_s, llh_cpu, runs = _median_time(lambda: problem.neg_log_likelihood(theta), repeats, budget)
    row = dict(name=name, states=problem.compiled.n_states, parameters=len(theta),
               experiments=len(problem.experiments), measurements=len(problem.tables.measurements),
               read_s=read_s, first_s=first_s, llh_ms=1e3 * llh_s, llh_cpu_ms=1e3 * llh_cpu, runs=runs, llh=llh,
               reference=reference.get("llh"), t_sim=reference.get("t_sim"), t_fwd=reference.get("t_fwd"),
               t_adj=reference.get("t_adj"))
    if gradient:
        t = time.perf_counter()
        jax.block_until_ready(problem.value_and_grad(theta))
        row["grad_first_s"] = time.perf_counter() - t
        grad_s, grad_cpu, _ = _median_time(lambda: problem.value_and_grad(theta), repeats, budget)
        row["grad_ms"], row["grad_cpu_ms"] = 1e3 * grad_s, 1e3 * grad_cpu
        log(f"{name}: gradient first call {row['grad_first_s']:.1f} s, then {row['grad_ms']:.1f} ms")
    rr_s, rr_cpu, rr_llh, note = roadrunner_run(problem, repeats, budget)
    row.update(rr_ms=None if rr_s is None else 1e3 * rr_s, rr_cpu_ms=None if rr_cpu is None else 1e3 * rr_cpu,
               rr_llh=rr_llh, note=note)
    if note:
        log(f"{name}: {note}")
    return row


def _fmt(x, spec=".3g") -> str:
    return "n/a" if x is None else format(x, spec)


def table(rows: list[dict]) -> str:
    columns = ["problem", "states", "θ", "exps", "meas", "read [s]", "first llh [s]", "llh [ms]", "llh CPU [ms]",
               "first grad [s]", "llh+grad [ms]", "llh+grad CPU [ms]", "AMICI t_sim [ms]", "t_fwd [ms]", "t_adj [ms]",
               "roadrunner [ms]", "roadrunner CPU [ms]", "llh CPU / t_sim", "llh+grad CPU / t_adj",
               "llh CPU / roadrunner CPU", "llh (qsp)", "llh (AMICI)", "|Δ|", "llh (roadrunner)"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        ms = lambda s: None if s is None else 1e3 * s  # noqa: E731
        ratio = lambda a, b: None if a is None or b is None else a / b  # noqa: E731
        cells = [r["name"], r["states"], r["parameters"], r["experiments"], r["measurements"],
                 _fmt(r["read_s"], ".1f"), _fmt(r["first_s"], ".1f"), _fmt(r["llh_ms"]), _fmt(r["llh_cpu_ms"]),
                 _fmt(r.get("grad_first_s"), ".1f"), _fmt(r.get("grad_ms")), _fmt(r.get("grad_cpu_ms")),
                 _fmt(ms(r["t_sim"])), _fmt(ms(r["t_fwd"])), _fmt(ms(r["t_adj"])), _fmt(r["rr_ms"]),
                 _fmt(r["rr_cpu_ms"]), _fmt(ratio(r["llh_cpu_ms"], ms(r["t_sim"])), ".2g"),
                 _fmt(ratio(r.get("grad_cpu_ms"), ms(r["t_adj"])), ".2g"),
                 _fmt(ratio(r["llh_cpu_ms"], r["rr_cpu_ms"]), ".2g"), _fmt(r["llh"], ".6f"),
                 _fmt(r["reference"], ".6f"),
                 _fmt(None if r["reference"] is None else abs(r["llh"] - r["reference"]), ".1e"),
                 _fmt(r["rr_llh"], ".6f")]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", nargs="*", default=None, help="problem names (default: all with a reference)")
    parser.add_argument("--repeats", type=int, default=10, help="timed calls per measurement (default 10)")
    parser.add_argument("--budget", type=float, default=20.0,
                        help="seconds per timing loop before it stops early, after at least one run (default 20)")
    parser.add_argument("--no-grad", action="store_true", help="skip the gradient timings")
    args = parser.parse_args(argv)
    import yaml

    def log(message):
        print(message, file=sys.stderr, flush=True)

    if not REFERENCE.is_dir():
        log(f"reference data not found at {REFERENCE}")
        return 2
    with open(REFERENCE / "amici-benchmark-reference" / "benchmark_models.yaml") as handle:
        references = yaml.safe_load(handle)
    available = sorted(p.name for p in (REFERENCE / "petab-benchmark").iterdir() if p.is_dir())
    names = args.problems or [n for n in available if n in references]
    load_at_start, revision, started = _load(), _git_revision(), time.perf_counter()
    rows = [run_problem(n, references.get(n, {}), args.repeats, args.budget, not args.no_grad, log) for n in names]
    try:
        import roadrunner
        rr_version = roadrunner.__version__
    except ImportError:
        rr_version = "not installed"
    print("## qsp PEtab benchmark\n")
    print(f"{datetime.datetime.now().isoformat(timespec='seconds')} | python {platform.python_version()} | "
          f"jax {jax.__version__} ({jax.devices()[0].platform}) | qsp {qsp.__version__} ({revision}) | "
          f"libroadrunner {rr_version} | {os.cpu_count()} CPU cores, load average {load_at_start} at start, "
          f"{_load()} at end | rtol {RTOL:g}, atol {ATOL:g} | total {time.perf_counter() - started:.0f} s\n")
    print(table(rows))
    notes = [f"* {r['name']}: {r['note']}" for r in rows if r["note"]]
    if notes:
        print("\n" + "\n".join(notes))
    bad = [r["name"] for r in rows if r["reference"] is not None
           and not abs(r["llh"] - r["reference"]) <= 1e-3 + 1e-3 * abs(r["reference"])]
    print(f"\nnominal llh within rtol 1e-3, atol 1e-3 of AMICI: {len(rows) - len(bad)}/{len(rows)}"
          + (f" (off: {', '.join(bad)})" if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
