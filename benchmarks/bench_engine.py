"""Engine benchmark of issue 5: qsp against libRoadRunner, AMICI, scipy and diffrax, same run.

    python benchmarks/bench_engine.py            # full run (T1-T6; 10,000 patients in T2)
    python benchmarks/bench_engine.py --quick    # small sizes, fewer repeats (smoke run)
    bash benchmarks/setup_peers.sh               # once: libRoadRunner and AMICI in their own venv

The model is issue 5's full TMDD antibody model with two-compartment PK (``engine_problem``),
dosed with 2000 nmol IV boluses into V1 at days 0, 14, ..., 70, over 84 days. The tasks:

* T1 single simulation, 1000 outputs, at rtol 1e-8 and 1e-6 (atol = rtol / 100);
* T2 virtual population of 10,000 patients (30 % log-normal CV on CL, V1, ksyn, kdeg),
  100 outputs, rtol 1e-6: patients per second using both cores, and peak memory;
* T3 gradient of the sum of squared errors against 50 observations of Lc w.r.t. the 9
  parameters at rtol 1e-8: time, and relative error against central finite differences;
* T4 stiff: kon x 1000, 100 outputs; qsp with its default options, peers at rtol 1e-6;
* T5 scale: random sparse mass-action networks of 10, 100 and 500 states (``engine_scale``),
  100 outputs, rtol 1e-6: compile time and time per simulation with new rate constants;
* T6 dose-time gradient: T3's loss w.r.t. the times of doses 2-6 at rtol 1e-8, against the
  exact sensitivity form and central finite differences (``engine_dose_times``).

qsp runs through its public API (``qsp.simulate``, ``qsp.simulate_population``, ``jax.jit`` /
``jax.grad`` / ``jax.jacfwd`` of a function of the parameter dict); scipy and a hand-written
diffrax model run in this process; libRoadRunner and AMICI in a worker process
(``engine_peers.py``) in ``benchmarks/.venv-peers`` when it exists. Runs of the tools are
interleaved round by round and medians are reported, with CPU times beside wall times
(on a loaded machine the CPU time is the steadier of the two). Every result is scored
against scipy LSODA at rtol 1e-12 (T5: 1e-11; T3, T6: sensitivity equations integrated by
it). One markdown table goes to stdout (progress to stderr); benchmarks/README.md explains
each column.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402

import engine_problem as ep  # noqa: E402
from engine_table import Row, print_table, targets  # noqa: E402

PEERS_VENV = HERE / ".venv-peers"


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


# ----------------------------------------------------------------------------- runners
class Local:
    """A no-argument function of this process, timed with ``jax.block_until_ready``."""

    def __init__(self, name, setting, run, first_call=True):
        self.name, self.setting, self.run = name, setting, run
        self.error, self.first = None, None
        if first_call:
            try:
                t = time.perf_counter()
                self.result = np.asarray(jax.block_until_ready(run()))
                self.first = time.perf_counter() - t
            except Exception as error:  # a tool that fails is reported, not fatal
                self.error = _reason(error)

    def batch(self, k):
        walls, cpus = [], []
        for _ in range(k):
            c, t = time.process_time(), time.perf_counter()
            out = jax.block_until_ready(self.run())
            walls.append(time.perf_counter() - t)
            cpus.append(time.process_time() - c)
        self.result = np.asarray(out)
        return walls, cpus


class Peer:
    """A request to the peer worker; the worker times its own runs."""

    def __init__(self, worker, name, setting, request, key="y"):
        self.worker, self.name, self.setting, self.request, self.key = worker, name, setting, request, key
        self.error, self.first, self.result = None, None, None
        try:
            answer = worker.ask(dict(request, repeats=1, check=True))  # check: T5's states at the defaults
            self.first = answer["wall"][0]
            self.result = np.asarray(answer[key])
        except Exception as error:
            self.error = _reason(error)

    def batch(self, k):
        answer = self.worker.ask(dict(self.request, repeats=k))
        if self.key in answer:  # T5's timed runs return none: the first call's states are scored
            self.result = np.asarray(answer[self.key])
        return answer["wall"], answer["cpu"]


#: Phrases that say why a JAX program stopped, buried in long runtime-error tracebacks.
_KNOWN_FAILURES = {"maximum number of solver steps was reached": "diffrax: max_steps reached",
                   "max_steps reached, step size collapsed": "qsp: max_steps reached or step size collapsed"}


def _reason(error) -> str:
    text = f"{type(error).__name__}: {error}"
    for phrase, short in _KNOWN_FAILURES.items():
        if phrase in text:
            return f"failed ({short})"
    return text.replace("\n", " ").replace("|", "/")[:140]


class PeerWorker:
    """``engine_peers.py`` in the peers' venv (or this Python), spoken to in JSON lines."""

    def __init__(self, python):
        self.python, self.proc, self.error = python, None, None
        try:
            self.proc = subprocess.Popen([python, str(HERE / "engine_peers.py")], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=open(HERE / ".peer-worker.log", "w"),
                                         text=True, env=_peer_env(python))
            self.info = self.ask({"op": "hello"})
        except Exception as error:
            self.error, self.info = _reason(error), {"peers": {}}

    def ask(self, request):
        if self.proc is None:
            raise RuntimeError(self.error)
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("peer worker died (see benchmarks/.peer-worker.log)")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer

    def missing(self, package) -> str | None:
        peer = self.info["peers"].get(package)
        if self.error:
            return self.error
        if peer is None or peer["version"] is None:
            why = peer["error"] if peer else "not checked"
            return f"not installed in {self.python} ({why}); run benchmarks/setup_peers.sh"
        return None

    def close(self):
        if self.proc is not None:
            try:
                self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except Exception:
                self.proc.kill()


def _peer_env(python):
    env = dict(os.environ)
    env.pop("BLAS_LIBS", None)
    # AMICI compiles model modules with the swig first on PATH: the venv's (see setup_peers.sh)
    env["PATH"] = str(pathlib.Path(python).parent) + os.pathsep + env.get("PATH", "")
    return env


def interleave(runners, rounds, per_round):
    """Runs every healthy runner ``per_round`` times per round, round after round; returns
    {runner: (walls, cpus)}. A runner that fails mid-way keeps its error. A runner stops early
    once it has ``limit`` runs, or once its runs took ``budget`` seconds (wall) in all."""
    samples = {r: ([], []) for r in runners if r.error is None}
    for _ in range(rounds):
        for r in list(samples):
            if len(samples[r][0]) >= (getattr(r, "limit", None) or float("inf")):
                continue
            if sum(samples[r][0]) >= (getattr(r, "budget", None) or float("inf")):
                continue
            try:
                walls, cpus = r.batch(per_round)
            except Exception as error:
                r.error = _reason(error)
                del samples[r]
                continue
            samples[r][0].extend(walls)
            samples[r][1].extend(cpus)
    return samples


def rows_for(task, runners, samples, ref, score, note=lambda r: ""):
    rows = []
    for r in runners:
        if r.error is not None or r not in samples:
            rows.append(Row(task, r.name, r.setting, error=r.error or "failed"))
            continue
        walls, cpus = samples[r]
        rows.append(Row(task, r.name, r.setting, wall=float(np.median(walls)), cpu=float(np.median(cpus)),
                        runs=len(walls), error_vs_ref=score(r.result, ref), first=r.first, note=note(r)))
    return rows


# ----------------------------------------------------------------------------- tasks
def task_single(task, worker, qsp_model, ts, params, tolerances, rounds, per_round, default_options=False):
    """T1 (and T4 with ``default_options``): one simulation, every tool, interleaved."""
    import engine_diffrax as dfx
    import engine_qsp as eq

    compiled, regimen = qsp_model
    ref = ep.reference(ts, params)
    rows = []
    for rtol in tolerances:
        atol = rtol / 100
        tag = f"rtol {rtol:g}"
        log(f"[{task}] {tag}: first calls")
        runners = []
        if default_options:
            runners += [Local("qsp jit", "defaults (Rodas5P, rtol 1e-8)", eq.jitted(compiled, regimen, ts, params)),
                        Local("qsp simulate()", "defaults", eq.front_door(compiled, regimen, ts, params))]
        opts = dict(rtol=rtol, atol=atol)
        runners += [Local("qsp jit", f"{tag}, Rodas5P", eq.jitted(compiled, regimen, ts, params, **opts)),
                    Local("qsp simulate()", f"{tag}, Rodas5P", eq.front_door(compiled, regimen, ts, params, **opts)),
                    # the default adjoint="reverse" runs a checkpointed loop even when nothing is differentiated
                    Local("qsp jit", f"{tag}, Rodas5P, adjoint='forward'",
                          eq.jitted(compiled, regimen, ts, params, adjoint="forward", **opts)),
                    Local("qsp jit", f"{tag}, solver='tsit5'",
                          eq.jitted(compiled, regimen, ts, params, solver="tsit5", **opts))]
        for tool, package, label, how in (("roadrunner", "roadrunner", "libRoadRunner", "CVODE BDF"),
                                          ("amici", "amici", "AMICI", "CVODES BDF"),
                                          ("amici-jax", "amici.sim.jax", "AMICI JAX", "diffrax Kvaerno5")):
            request = {"op": "simulate", "tool": tool, "ts": ts.tolist(), "params": {**ep.PARAMS, **params},
                       **opts}
            why = worker.missing(package) or worker.prepared.get(tool)
            runners.append(Peer(worker, label, f"{tag}, {how}", request) if why is None else _Missing(label, tag, why))
        for solver in ("Tsit5", "Kvaerno5"):
            f, p = dfx.single(ts, solver, rtol, atol, params)
            runners.append(Local(f"diffrax {solver}", f"{tag}, PIDController", lambda f=f, p=p: f(p)))
        runners.append(Local("scipy LSODA", f"{tag}, analytic Jacobian",
                             lambda: ep.solve_scipy(ts, params, rtol=rtol, atol=atol)))
        log(f"[{task}] {tag}: {rounds} interleaved rounds of {per_round}")
        samples = interleave(runners, rounds, per_round)
        rows += rows_for(task, runners, samples, ref, ep.max_rel_error)
    return rows


class _Missing:
    def __init__(self, name, setting, why):
        self.name, self.setting, self.error, self.first = name, setting, why, None


def task_gradient(worker, qsp_model, rounds, per_round):
    """T3: gradient of the SSE of Lc w.r.t. the 9 parameters at rtol 1e-8."""
    import engine_diffrax as dfx
    import engine_qsp as eq

    compiled, regimen = qsp_model
    obs = ep.observations()
    log("[T3] oracle gradient: forward sensitivities with LSODA at rtol 1e-12; and finite differences")
    g_ref = ep.sensitivity_gradient(obs)
    g_fd = ep.fd_gradient(obs)
    fd_check = (ep.gradient_error(g_fd, g_ref), *ep.worst_component(g_fd, g_ref))
    rtol, atol = 1e-8, 1e-10
    runners = [Local("qsp jax.grad", "adjoint='reverse', rtol 1e-8", eq.gradient(compiled, regimen, obs, "reverse")),
               Local("qsp jax.jacfwd", "adjoint='forward', rtol 1e-8", eq.gradient(compiled, regimen, obs, "forward"))]
    for tool, package, label, method, setting in (
            ("amici", "amici", "AMICI", "adjoint", "adjoint sensitivities, rtol 1e-8"),
            ("amici", "amici", "AMICI", "forward", "forward sensitivities, rtol 1e-8"),
            ("amici-jax", "amici.sim.jax", "AMICI JAX", "reverse", "jax.grad, Kvaerno5, rtol 1e-8")):
        why = worker.missing(package) or worker.prepared.get(tool)
        request = {"op": "gradient", "tool": tool, "obs": obs.tolist(), "rtol": rtol, "atol": atol, "method": method}
        runners.append(Peer(worker, label, setting, request, key="grad") if why is None
                       else _Missing(label, setting, why))
    for solver in ("Tsit5", "Kvaerno5"):
        g, p = dfx.gradient(obs, solver, rtol, atol)
        runners.append(Local(f"diffrax {solver}", "jax.jacfwd, ForwardMode, rtol 1e-8", lambda g=g, p=p: g(p)))
    fd = Local("scipy LSODA", "central differences (18 solves, step 1e-3 p_i), rtol 1e-8",
               lambda: ep.fd_gradient(obs, rtol=rtol, atol=atol, points=3))
    fd.limit = 3  # a second per run: three runs say enough
    runners.append(fd)
    log(f"[T3] {rounds} interleaved rounds of {per_round}")
    samples = interleave(runners, rounds, per_round)
    def worst(r):
        error, name = ep.worst_component(r.result, g_ref)
        return f"worst component {error:.1e} ({name})"

    rows = rows_for("T3", runners, samples, g_ref, ep.gradient_error, note=worst)
    return rows, fd_check


def task_scale(worker, args):
    """T5: random sparse mass-action networks (``engine_scale``), one size after another: qsp's
    compile time (``qsp.compile`` + the first jitted call) and time per simulation with new rate
    constants, against libRoadRunner and AMICI on the network's SBML and scipy BDF, interleaved."""
    import engine_scale as es

    rows = []
    for n in args.t5_sizes:
        net = es.network(n, args.seed)
        tag = f"{net.label}, rtol 1e-6, atol 1e-8"
        log(f"[T5] {net.label}, {net.problem.n_reactions} reactions: SBML round trip, oracle, first calls")
        round_trip = es.round_trip(net)
        ref = es.reference(net)
        run, compile_s = es.qsp_jitted(net)
        q = Local("qsp jit", f"{tag}, jax.jit of the parameter dict", run)
        if q.first is not None:
            q.note = (f"first call = qsp.compile {compile_s:.2f} s + first jitted call {q.first:.2f} s "
                      "(tracing, XLA compilation)")
            q.first += compile_s
        runners = [q]
        for tool, label, how in (("roadrunner", "libRoadRunner", "CVODE BDF"), ("amici", "AMICI", "CVODES BDF")):
            setting = f"{tag}, {how}"
            why = worker.missing(tool)
            if tool == "amici" and n > args.t5_amici_max_states:
                why = why or (f"skipped: AMICI's C++ build of a {n}-state model takes minutes (issue 5: 235 s at 500 "
                              f"states); --t5-amici-max-states {n} includes it")
            if why is None:
                log(f"[T5] {label}: loading the SBML (AMICI builds once, cached in benchmarks/.peer-models)")
                try:
                    seconds = worker.ask(es.load_request(net, tool))["seconds"]
                except Exception as error:
                    why = _reason(error)
            if why is not None:
                runners.append(_Missing(label, setting, why))
                continue
            peer = Peer(worker, label, setting, es.peer_request(net, tool))
            peer.note = (f"SBML of qsp.io.write_sbml (read back: rhs and y0 agree to {round_trip:.0e}), loaded in "
                         f"{seconds:.2f} s" if tool == "roadrunner" else
                         (f"C++ model built in {seconds:.0f} s, cached in benchmarks/.peer-models" if seconds > 1
                          else "C++ model from the cache (benchmarks/.peer-models)"))
            runners.append(peer)
        runners.append(Local("scipy BDF", f"{tag}, sparse analytic Jacobian", es.scipy_bdf(net)))
        checks = {r: getattr(r, "result", None) for r in runners}
        for r in runners:
            r.budget = args.t5_budget
        log(f"[T5] {net.label}: {args.rounds} interleaved rounds of {args.per_round}")
        samples = interleave(runners, args.rounds, args.per_round)
        for r in runners:  # the timed runs took other rate constants: score the first call's states
            r.result = checks[r]
        rows += rows_for("T5", runners, samples, ref, ep.max_rel_error, note=lambda r: getattr(r, "note", ""))
    return rows


def task_dose_times(worker, qsp_model, rounds, per_round):
    """T6: gradient of T3's loss w.r.t. the times of doses 2-6 at rtol 1e-8."""
    import engine_diffrax as dfx
    import engine_dose_times as edt
    import engine_qsp as eq

    compiled, _ = qsp_model
    obs = ep.observations()
    log("[T6] oracles: the exact sensitivity form and 5-point central differences, LSODA at rtol 1e-12")
    g_ref = edt.sensitivity_gradient(obs)
    g_fd = edt.fd_gradient(obs)
    fd_check = (ep.gradient_error(g_fd, g_ref), *ep.worst_component(g_fd, g_ref, edt.NAMES))
    rtol, atol = 1e-8, 1e-10
    runners = [Local("qsp jax.grad", "adjoint='reverse', rtol 1e-8",
                     eq.dose_time_gradient(compiled, obs, "reverse", rtol, atol)),
               Local("qsp jax.jacfwd", "adjoint='forward', rtol 1e-8",
                     eq.dose_time_gradient(compiled, obs, "forward", rtol, atol))]
    setting = "forward sensitivities, dose times as event-trigger parameters, rtol 1e-8"
    why = worker.missing("amici") or worker.prepared.get("amici-dose-times", "not prepared")
    request = {"op": "gradient", "tool": "amici-dose-times", "obs": obs.tolist(), "rtol": rtol, "atol": atol,
               "method": "forward"}
    runners.append(Peer(worker, "AMICI", setting, request, key="grad") if why is None
                   else _Missing("AMICI", setting, why))
    for solver in ("Tsit5", "Kvaerno5"):
        g, tau = dfx.dose_time_gradient(obs, solver, rtol, atol)
        runners.append(Local(f"diffrax {solver}", "jax.jacfwd through the dose segments, ForwardMode, rtol 1e-8",
                             lambda g=g, tau=tau: g(tau)))
    fd = Local("scipy LSODA", "central differences (10 solves, step 1e-3 day), rtol 1e-8",
               lambda: edt.fd_gradient(obs, rtol=rtol, atol=atol, points=3))
    fd.limit = 3  # half a second per run: three runs say enough
    runners.append(fd)
    log(f"[T6] {rounds} interleaved rounds of {per_round}")
    samples = interleave(runners, rounds, per_round)

    def worst(r):
        error, name = ep.worst_component(r.result, g_ref, edt.NAMES)
        return f"worst component {error:.1e} ({name})"

    return rows_for("T6", runners, samples, g_ref, ep.gradient_error, note=worst), fd_check


def task_population(worker, args, check):
    """T2: each tool once over its share of the population (slow peers on a subset)."""
    import engine_diffrax as dfx

    n = args.patients
    ts = ep.output_times(100)
    pop = ep.population(n)
    refs = np.stack([ep.reference(ts, {k: v[i] for k, v in pop.items()}) for i in range(check)])
    rtol, atol = 1e-6, 1e-8
    rows = []

    def add(name, setting, measured, subjects, error=None, note=""):
        if error is not None:
            rows.append(Row("T2", name, setting, error=error))
            return
        y = np.asarray(measured["y_check"])[:check]
        rows.append(Row("T2", name, setting, wall=measured["wall"], cpu=measured["cpu"], runs=1,
                        subjects=subjects, error_vs_ref=ep.max_rel_error(y, refs[: len(y)]),
                        rss_gib=measured.get("rss_gib"), first=measured.get("first"), note=note))

    for workers, adjoint in ((1, "reverse"), (2, "reverse"), (2, "forward")):
        setting = f"simulate_population, chunk {args.chunk}, " + ("1 core" if workers == 1 else "2 cores")
        setting += ", adjoint='forward'" if adjoint == "forward" else ""
        log(f"[T2] qsp, {workers} worker(s), adjoint={adjoint}, {n} patients")
        try:
            measured = _qsp_population(n, args.chunk, workers, check, adjoint)
            add("qsp", setting, measured, n, note=measured.get("how", ""))
        except Exception as error:
            add("qsp", setting, None, n, error=_reason(error))
    sub = {k: v[: args.peer_patients] for k, v in pop.items()}
    m = args.peer_patients
    for tool, label, package, workers, setting in (
            ("roadrunner", "libRoadRunner", "roadrunner", 1, "loop, 1 process"),
            ("roadrunner", "libRoadRunner", "roadrunner", 2, "2 processes"),
            ("amici", "AMICI", "amici", 1, "runAmiciSimulations, 1 thread"),
            ("amici", "AMICI", "amici", 2, "runAmiciSimulations, 2 threads"),
            ("amici-jax", "AMICI JAX", "amici.sim.jax", 1, "jax.vmap, Kvaerno5")):
        why = worker.missing(package) or (worker.prepared.get(tool) if workers == 1 or tool == "amici" else None)
        if tool == "amici" and workers == 2 and not worker.info.get("openmp"):
            why = why or "AMICI built without OpenMP: runAmiciSimulations runs 1 thread"
        log(f"[T2] {label} {setting}, {m} patients")
        try:
            if why:
                raise RuntimeError(why)
            size = m if tool != "amici-jax" else max(args.vmap_patients // 4, check)
            if tool == "amici-jax":  # compile first, outside the timing (as for diffrax below)
                worker.ask({"op": "population", "tool": tool, "ts": ts.tolist(), "rtol": rtol, "atol": atol,
                            "pop": {k: v[:size].tolist() for k, v in sub.items()}, "workers": 1, "check": 0})
            measured = worker.ask({"op": "population", "tool": tool, "ts": ts.tolist(),
                                   "pop": {k: v[:size].tolist() for k, v in sub.items()}, "rtol": rtol, "atol": atol,
                                   "workers": workers, "check": check})
            add(label, f"{setting}, rtol 1e-6", measured, size)
        except Exception as error:
            add(label, setting, None, m, error=_reason(error))
    for solver, size in (("Tsit5", args.vmap_patients), ("Kvaerno5", max(args.vmap_patients // 4, check))):
        log(f"[T2] diffrax {solver} vmap, {size} patients")
        f = dfx.population(ts, solver, rtol, atol)
        P = dfx.population_matrix({k: v[:size] for k, v in pop.items()})
        try:
            t = time.perf_counter()
            jax.block_until_ready(f(P))
            first = time.perf_counter() - t
            c, t = time.process_time(), time.perf_counter()
            y = np.asarray(jax.block_until_ready(f(P)))
            add(f"diffrax {solver}", "jax.vmap over all, rtol 1e-6",
                {"wall": time.perf_counter() - t, "cpu": time.process_time() - c, "y_check": y, "first": first}, size)
        except Exception as error:
            add(f"diffrax {solver}", "jax.vmap", None, size, error=_reason(error))
    size = args.scipy_patients
    log(f"[T2] scipy LSODA loop, {size} patients")
    c, t = time.process_time(), time.perf_counter()
    y = np.stack([ep.solve_scipy(ts, {k: v[i] for k, v in pop.items()}, rtol=rtol, atol=atol) for i in range(size)])
    add("scipy LSODA", "loop, rtol 1e-6", {"wall": time.perf_counter() - t, "cpu": time.process_time() - c,
                                           "y_check": y}, size)
    return rows


def _qsp_population(n, chunk, workers, check, adjoint):
    """qsp's T2 in a fresh process, so that its peak memory is its own (see engine_population.py)."""
    command = [sys.executable, str(HERE / "engine_population.py"), "--patients", str(n), "--chunk", str(chunk),
               "--workers", str(workers), "--check", str(check), "--adjoint", adjoint]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- main
def environment() -> str:
    import diffrax
    import scipy

    import qsp

    try:
        rev = subprocess.run(["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(HERE), "status", "--porcelain", "--", "../qsp"],
                               capture_output=True, text=True).stdout.strip()
        rev += "-dirty" if dirty else ""
    except OSError:
        rev = "?"
    return (f"{datetime.datetime.now():%Y-%m-%d %H:%M}, qsp {getattr(qsp, '__version__', '?')} ({rev}), "
            f"jax {jax.__version__}, diffrax {diffrax.__version__}, scipy {scipy.__version__}, "
            f"Python {platform.python_version()}, {jax.devices()[0].platform}, {os.cpu_count()} CPUs, "
            f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and 2 rounds (smoke run)")
    tasks = ["T1", "T2", "T3", "T4", "T5", "T6"]
    parser.add_argument("--tasks", nargs="+", default=tasks, choices=tasks)
    parser.add_argument("--rounds", type=int, help="interleaved rounds per timing (default 7, quick 2)")
    parser.add_argument("--per-round", type=int, help="runs of each tool per round (default 3, quick 1)")
    parser.add_argument("--patients", type=int, help="T2 patients for qsp (default 10,000, quick 256)")
    parser.add_argument("--peer-patients", type=int, help="T2 patients for libRoadRunner/AMICI (default 10,000)")
    parser.add_argument("--vmap-patients", type=int, help="T2 patients for diffrax Tsit5 vmap (default 512; "
                        "Kvaerno5 a quarter)")
    parser.add_argument("--scipy-patients", type=int, help="T2 patients for the scipy loop (default 50)")
    parser.add_argument("--chunk", type=int, default=512, help="qsp's simulate_population chunk_size")
    parser.add_argument("--peers-python", help="Python of the peer worker (default: benchmarks/.venv-peers, "
                        "else this one)")
    parser.add_argument("--no-peers", action="store_true", help="skip libRoadRunner and AMICI")
    parser.add_argument("--t5-sizes", type=int, nargs="+", help="T5 network sizes (default 10 100 500, quick 10)")
    parser.add_argument("--t5-amici-max-states", type=int, default=100,
                        help="largest T5 network given to AMICI (its C++ build of 500 states takes ~4 min; cached)")
    parser.add_argument("--seed", type=int, default=0, help="seed of T5's random networks (as bench_spine.py)")
    parser.add_argument("--t5-budget", type=float, default=30.0,
                        help="T5: seconds of timed runs per tool and size after which that tool stops (after at "
                        "least one round), so a slow solve is timed over fewer runs (the runs column)")
    args = parser.parse_args(argv)
    quick = args.quick
    defaults = dict(rounds=2 if quick else 7, per_round=1 if quick else 3, patients=256 if quick else 10_000,
                    peer_patients=64 if quick else 10_000, vmap_patients=32 if quick else 512,
                    scipy_patients=4 if quick else 50, t5_sizes=[10] if quick else [10, 100, 500])
    for k, v in defaults.items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    return args


def main(argv=None) -> int:
    import engine_qsp as eq

    args = parse(argv)
    load_start = load()
    log(f"load average at start: {load_start}")
    python = args.peers_python or (str(PEERS_VENV / "bin" / "python") if (PEERS_VENV / "bin" / "python").exists()
                                   else sys.executable)
    worker = PeerWorker(python if not args.no_peers else "/nonexistent/python")
    if args.no_peers:
        worker.error = "skipped (--no-peers)"
    worker.prepared = {}
    peer_tools = [("roadrunner", "roadrunner"), ("amici", "amici"), ("amici-jax", "amici.sim.jax")]
    if "T6" in args.tasks:  # T6's AMICI model: the dose times as parameters (a build of its own, cached)
        peer_tools.append(("amici-dose-times", "amici"))
    for tool, package in peer_tools:
        if worker.missing(package) is None:
            log(f"preparing {tool} (AMICI compiles its model once, cached in benchmarks/.peer-models)")
            try:
                worker.prepared[tool] = None
                answer = worker.ask({"op": "prepare", "tool": tool})
                log(f"  {tool}: {answer['seconds']:.2f} s")
            except Exception as error:
                worker.prepared[tool] = _reason(error)
    t = time.perf_counter()
    qsp_model = eq.build()
    log(f"qsp.compile: {time.perf_counter() - t:.2f} s")
    rows, notes = [], []
    stiff = {"kon": ep.PARAMS["kon"] * ep.STIFF_KON_FACTOR}
    tasks = {
        "T1": lambda: task_single("T1", worker, qsp_model, ep.output_times(1000), {}, (1e-8, 1e-6), args.rounds,
                                  args.per_round),
        "T2": lambda: task_population(worker, args, check=min(20, args.scipy_patients * 5)),
        "T3": lambda: task_gradient(worker, qsp_model, args.rounds, args.per_round),
        "T4": lambda: task_single("T4", worker, qsp_model, ep.output_times(100), stiff, (1e-6,), args.rounds,
                                  args.per_round, default_options=True),
        "T5": lambda: task_scale(worker, args),
        "T6": lambda: task_dose_times(worker, qsp_model, args.rounds, args.per_round),
    }
    status = 0
    try:
        for name in args.tasks:
            try:
                result = tasks[name]()
            except Exception as error:  # one broken task must not hide the others' results
                import traceback

                traceback.print_exc()
                rows.append(Row(name, "(task)", "", error=_reason(error)))
                status = 1
                continue
            if name == "T3":
                result, (fd_norm, fd_worst, fd_name) = result
                notes.append(f"T3 oracle: forward sensitivity equations integrated with LSODA at rtol 1e-12. 5-point "
                             f"central differences of the loss (LSODA rtol 1e-12, step 1e-3 p_i) agree with it to "
                             f"{fd_norm:.1e} norm-wise, but only to {fd_worst:.1e} in their worst component "
                             f"({fd_name}): solver noise divided by the step, so finite differences cannot check a "
                             "small component to 1e-6.")
            if name == "T6":
                result, (fd_norm, fd_worst, fd_name) = result
                notes.append(f"T6 oracle: the exact sensitivity form (moving dose k by dt moves the state after it by "
                             f"(f(y-) - f(y+)) dt, then S' = J S) integrated with LSODA at rtol 1e-12. 5-point "
                             f"central differences of the loss over the dose times (LSODA rtol 1e-12, step 1e-3 day) "
                             f"agree with it to {fd_norm:.1e} norm-wise and {fd_worst:.1e} in their worst component "
                             f"({fd_name}).")
            rows += result
    finally:
        worker.close()
    print(f"Environment: {environment()}")
    versions = ", ".join(f"{k} {v['version'] or 'missing'}" for k, v in worker.info["peers"].items())
    print(f"Peers: {python} ({versions})")
    print(f"Load average (1/5/15 min) at start {load_start}, at end {load()}, on {os.cpu_count()} CPUs")
    print()
    print_table(rows)
    print()
    for line in notes + targets(rows):
        print(line)
    return status


if __name__ == "__main__":
    sys.exit(main())
