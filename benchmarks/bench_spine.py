"""Spine benchmark: compile, first call and re-simulation speed of qsp against scipy.

Three problems are timed:

* ``tmdd4``: target-mediated drug disposition with two-compartment PK (states Lc, Lp,
  R, RL), one 2000 nmol bolus into the central compartment, 84 days, 100 outputs;
* ``net50`` and ``net500``: random sparse mass-action networks (about 2.5 reactions per
  state: conversions, degradations, a few bimolecular reactions and zero-order
  syntheses; log-uniform rate constants, so mildly stiff), reproducible from ``--seed``.

For each problem the benchmark measures ``qsp.compile``, the first ``qsp.simulate``
(including JIT), a re-simulation with new parameter values through ``qsp.simulate``
and through a ``jax.jit``-wrapped function of the parameter dict, and
``scipy.integrate.solve_ivp`` (LSODA and BDF) on the same problem at the same
tolerances with a hand-vectorised numpy right-hand side and its analytic Jacobian,
built from the same stoichiometry and rate index arrays. It also checks that new
parameter values never recompile (by counting JAX compilations), and prints the
targets from the issue with PASS/MISS.

Run ``python benchmarks/bench_spine.py`` (full, slow: the 500-state network takes
minutes per qsp solve on a laptop CPU) or ``--quick`` (4- and 10-state, seconds).
See ``benchmarks/README.md`` for the meaning of every column.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import logging
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import scipy
import scipy.integrate
import scipy.sparse

import qsp

RTOL, ATOL = 1e-8, 1e-10  # qsp's defaults; scipy gets the same
REF_RTOL, REF_ATOL = 1e-11, 1e-13  # the accuracy oracle (LSODA, analytic Jacobian; not timed)
TARGET_JIT_MS_4 = 1.0  # 4-state jitted re-simulation, ms
TARGET_COMPILE_S_500 = 20.0  # 500-state compile, s


# --------------------------------------------------------------------------- problems
@dataclass
class MassActionArrays:
    """A mass-action system as numpy index arrays, for the scipy reference.

    Reaction j has rate (amount/time) ``v_j = a_j(p) * prod_s c[index[j, s]]`` with ``c`` the
    concentrations (amount / volume) and a trailing 1.0 at position ``n`` for padding;
    ``dy/dt = S v`` on amounts.
    """

    volumes: Callable[[dict], np.ndarray]  # params -> volume of each state's compartment (n,)
    coefficients: Callable[[dict], np.ndarray]  # params -> a_j, amount-rate coefficients (R,)
    index: np.ndarray  # (R, order), padded with n
    S: scipy.sparse.csr_matrix  # (n, R)
    y0: Callable[[dict], np.ndarray]  # params -> initial amounts (dose included) (n,)

    def functions(self, params: dict):
        """(rhs, jac_sparse) of the system at ``params``."""
        n, R = self.S.shape
        vol = self.volumes(params)
        a = self.coefficients(params)
        index, S = self.index, self.S
        real = index < n
        inv = np.ones((n + 1,))
        inv[:n] = 1.0 / vol
        rows = np.repeat(np.arange(R), index.shape[1])[real.ravel()]
        cols = index.ravel()[real.ravel()]
        slots = np.nonzero(real.ravel())[0]
        order = index.shape[1]

        def rhs(t, y):
            c = np.append(y, 1.0) * inv
            return S @ (a * np.prod(c[index], axis=1))

        def jac(t, y):
            c = np.append(y, 1.0) * inv
            factors = c[index]  # (R, order)
            vals = np.empty((R, order))
            for s in range(order):  # d v_j / d y_i = a_j * prod_{other slots} c / V_i
                others = np.prod(np.delete(factors, s, axis=1), axis=1) if order > 1 else np.ones(R)
                vals[:, s] = a * others * inv[index[:, s]]
            dv = scipy.sparse.csr_matrix((vals.ravel()[slots], (rows, cols)), shape=(R, n))
            return (S @ dv).tocsc()

        return rhs, jac


@dataclass
class Problem:
    name: str
    model: qsp.Model
    times: np.ndarray
    regimen: qsp.Regimen | None
    arrays: MassActionArrays
    defaults: dict
    n_reactions: int
    state_names: list[str]  # the numpy twin's state order
    param_sets: list[dict] = field(default_factory=list)  # new parameter values, one set per re-simulation


def _sparse_S(n, columns) -> scipy.sparse.csr_matrix:
    rows, cols, vals = [], [], []
    for j, col in enumerate(columns):
        for i, v in col.items():
            rows.append(i), cols.append(j), vals.append(float(v))
    return scipy.sparse.csr_matrix((vals, (rows, cols)), shape=(n, len(columns)))


def _index(reactant_lists, n) -> np.ndarray:
    order = max(1, max(len(r) for r in reactant_lists))
    out = np.full((len(reactant_lists), order), n, dtype=np.int64)
    for j, r in enumerate(reactant_lists):
        out[j, : len(r)] = r
    return out


def _perturbed(defaults: dict, count: int, seed: int) -> list[dict]:
    """``count`` parameter sets, each value scaled by a random factor in [0.8, 1.25] (log-uniform)."""
    rng = np.random.default_rng(seed)
    return [{k: float(v * np.exp(rng.uniform(-0.22, 0.22))) for k, v in defaults.items()} for _ in range(count)]


def tmdd_problem() -> Problem:
    """Full TMDD with two-compartment PK (day, L, nM, nmol)."""
    P = qsp.Parameter
    CL, V1, Q, V2 = P("CL", 0.2, unit="L/day"), P("V1", 3.0, unit="L"), P("Q", 0.5, unit="L/day"), P("V2", 2.5, unit="L")
    kon, koff, kint = P("kon", 0.5, unit="1/(nM*day)"), P("koff", 0.05, unit="1/day"), P("kint", 0.3, unit="1/day")
    ksyn, kdeg = P("ksyn", 1.0, unit="nM/day"), P("kdeg", 0.25, unit="1/day")
    central, peripheral = qsp.Compartment("central", volume=V1), qsp.Compartment("peripheral", volume=V2)
    Lc, Lp = qsp.Species("Lc", central), qsp.Species("Lp", peripheral)
    R = qsp.Species("R", central, initial_concentration=ksyn / kdeg)
    RL = qsp.Species("RL", central)
    model = qsp.Model("tmdd4", reactions=[
        qsp.Reaction([Lc], [], rate=CL * Lc, name="elimination"),
        qsp.Reaction([Lc], [Lp], rate=Q * Lc, name="distribution"),
        qsp.Reaction([Lp], [Lc], rate=Q * Lp, name="redistribution"),
        qsp.mass_action(kon, [Lc, R], [RL], name="binding"),
        qsp.mass_action(koff, [RL], [Lc, R], name="unbinding"),
        qsp.mass_action(kint, [RL], [], name="internalisation"),
        qsp.mass_action(ksyn, [], [R], name="synthesis"),
        qsp.mass_action(kdeg, [R], [], name="degradation"),
    ], observables={"C": Lc})
    regimen = qsp.Regimen([qsp.Bolus(Lc, amount=2000.0, time=0.0)])
    # numpy twin, states (Lc, Lp, R, RL), written out by hand from the reaction list above
    i_Lc, i_Lp, i_R, i_RL = 0, 1, 2, 3
    arrays = MassActionArrays(
        volumes=lambda p: np.array([p["V1"], p["V2"], p["V1"], p["V1"]]),
        coefficients=lambda p: np.array([p["CL"], p["Q"], p["Q"], p["kon"] * p["V1"], p["koff"] * p["V1"],
                                         p["kint"] * p["V1"], p["ksyn"] * p["V1"], p["kdeg"] * p["V1"]]),
        index=_index([[i_Lc], [i_Lc], [i_Lp], [i_Lc, i_R], [i_RL], [i_RL], [], [i_R]], 4),
        S=_sparse_S(4, [{i_Lc: -1}, {i_Lc: -1, i_Lp: 1}, {i_Lp: -1, i_Lc: 1}, {i_Lc: -1, i_R: -1, i_RL: 1},
                        {i_RL: -1, i_Lc: 1, i_R: 1}, {i_RL: -1}, {i_R: 1}, {i_R: -1}]),
        y0=lambda p: np.array([2000.0, 0.0, p["ksyn"] / p["kdeg"] * p["V1"], 0.0]),
    )
    defaults = {p.name: p.value for p in model.parameters}
    return Problem("tmdd4", model, np.linspace(0.0, 84.0, 100), regimen, arrays, defaults, len(model.reactions),
                   ["Lc", "Lp", "R", "RL"])


def network_problem(n: int, seed: int) -> Problem:
    """A random sparse mass-action network with ``n`` states and about 2.5 n reactions.

    Two compartments (volumes 1.0 and 0.4) so that the concentration semantics matter.
    Every state gets one outgoing first-order reaction (a conversion or a degradation), so
    nothing accumulates without bound; the remaining 1.5 n reactions are conversions (70%),
    degradations (10%), bimolecular A + B -> C (13%) and zero-order syntheses (7%). Rate
    constants are log-uniform on [0.01, 10] (stiffness ratio about 1e3); initial amounts
    uniform on [0.5, 2].
    """
    rng = np.random.default_rng(seed)
    Vs = [qsp.Parameter("Va", 1.0, unit="L"), qsp.Parameter("Vb", 0.4, unit="L")]
    comps = [qsp.Compartment("a", volume=Vs[0]), qsp.Compartment("b", volume=Vs[1])]
    where = rng.integers(0, 2, n)
    amounts = rng.uniform(0.5, 2.0, n)
    species = [qsp.Species(f"X{i}", comps[where[i]], initial_amount=float(amounts[i])) for i in range(n)]
    n_reactions = int(round(2.5 * n))
    reactions, reactant_lists, columns, anchors, ks = [], [], [], [], []
    for j in range(n_reactions):
        k = qsp.Parameter(f"k{j}", float(10 ** rng.uniform(-2, 1)))
        a, b, c = (int(x) for x in rng.choice(n, 3, replace=False))
        u = rng.random()
        if j < n:  # the guaranteed outflow of state j
            reactants, products = [j], ([b if b != j else a] if u < 0.75 else [])
        elif u < 0.70:
            reactants, products = [a], [b]
        elif u < 0.80:
            reactants, products = [a], []
        elif u < 0.93:
            reactants, products = [a, b], [c]
        else:
            reactants, products = [], [a]
        reactions.append(qsp.mass_action(k, [species[i] for i in reactants], [species[i] for i in products]))
        reactant_lists.append(reactants)
        col: dict = {}
        for i in reactants:
            col[i] = col.get(i, 0) - 1
        for i in products:
            col[i] = col.get(i, 0) + 1
        columns.append(col)
        anchors.append(where[(reactants or products)[0]])  # mass_action's volume: first reactant (or product)
        ks.append(k.name)
    model = qsp.Model(f"net{n}", reactions=reactions, species=species)  # declared: states in order X0, X1, ...
    anchors = np.array(anchors)
    vol_names = [v.name for v in Vs]
    arrays = MassActionArrays(
        volumes=lambda p: np.array([p[vol_names[w]] for w in where]),
        coefficients=lambda p: np.array([p[k] for k in ks]) * np.array([p[vol_names[w]] for w in anchors]),
        index=_index(reactant_lists, n),
        S=_sparse_S(n, columns),
        y0=lambda p: amounts.copy(),
    )
    defaults = {p.name: p.value for p in model.parameters}
    return Problem(f"net{n}", model, np.linspace(0.0, 50.0, 100), None, arrays, defaults, n_reactions,
                   [s.name for s in species])


# --------------------------------------------------------------------------- measurement
class _CompileCounter(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.compiles = 0
        self.traces = 0
        self.messages: list[str] = []

    def emit(self, record):
        message = record.getMessage()
        if message.startswith("Compiling "):
            self.compiles += 1
            self.messages.append(message.split(" with ")[0])
        elif message.startswith("Finished tracing"):
            self.traces += 1
            self.messages.append(message.split(" in ")[0])


@contextlib.contextmanager
def count_compiles():
    """Count JAX compilations and traces inside the block (``jax_log_compiles``), silently."""
    logger = logging.getLogger("jax")
    counter = _CompileCounter()
    old = (jax.config.jax_log_compiles, logger.propagate, logger.level)
    jax.config.update("jax_log_compiles", True)
    logger.addHandler(counter)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    try:
        yield counter
    finally:
        logger.removeHandler(counter)
        jax.config.update("jax_log_compiles", old[0])
        logger.propagate = old[1]
        logger.setLevel(old[2])


def _timed(fn) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn()
    out = jax.block_until_ready(out)
    return time.perf_counter() - t, out


def _repeat(fn, param_sets: Sequence, repeats: int, budget: float) -> tuple[list[float], list]:
    """Run ``fn(params)`` for up to ``repeats`` parameter sets, stopping once ``budget`` seconds
    are spent (always at least once). Returns times and outputs."""
    times, outs, start = [], [], time.perf_counter()
    for params in param_sets[:repeats]:
        dt, out = _timed(lambda: fn(params))
        times.append(dt)
        outs.append(out)
        if time.perf_counter() - start > budget:
            break
    return times, outs


@dataclass
class Row:
    name: str
    states: int
    reactions: int
    compile_s: float = float("nan")
    first_s: float = float("nan")
    first_jit_s: float = float("nan")
    sim_ms: float = float("nan")
    jit_ms: float = float("nan")
    lsoda_ms: float = float("nan")
    bdf_ms: float = float("nan")
    rel_diff: float = float("nan")
    qsp_err: float = float("nan")
    bdf_err: float = float("nan")
    runs: str = ""
    n_resims: int = 0
    compiles: int = 0
    traces: int = 0


def max_relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / (|b| + floor), floor = 1e-6 × the largest |b| of that state (so states that
    start at zero do not divide by zero)."""
    floor = 1e-6 * np.max(np.abs(b), axis=0, keepdims=True) + 1e-300
    return float(np.max(np.abs(a - b) / (np.abs(b) + floor)))


def run_problem(problem: Problem, repeats: int, budget: float, log=print) -> Row:
    row = Row(problem.name, len(problem.model.species), problem.n_reactions)
    problem.param_sets = _perturbed(problem.defaults, max(repeats, 3), seed=1)
    ts = jnp.asarray(problem.times)
    regimen = problem.regimen

    row.compile_s, compiled = _timed(lambda: qsp.compile(problem.model))
    log(f"  {problem.name}: qsp.compile {row.compile_s:.2f} s")

    def front_door(params):
        return qsp.simulate(compiled, ts, params=params, regimen=regimen).ys

    row.first_s, _ = _timed(lambda: front_door(dict(problem.defaults)))
    log(f"  {problem.name}: first qsp.simulate (with JIT) {row.first_s:.2f} s")

    jitted = jax.jit(lambda params: qsp.simulate(compiled, ts, params=params, regimen=regimen).ys)
    as_jax = [{k: jnp.asarray(v) for k, v in ps.items()} for ps in problem.param_sets]
    row.first_jit_s, _ = _timed(lambda: jitted({k: jnp.asarray(v) for k, v in problem.defaults.items()}))
    log(f"  {problem.name}: first jax.jit call (with JIT) {row.first_jit_s:.2f} s")

    with count_compiles() as counter:
        sim_times, sim_outs = _repeat(front_door, problem.param_sets, repeats, budget)
        jit_times, _ = _repeat(jitted, as_jax, repeats, budget)
    row.sim_ms = 1e3 * statistics.median(sim_times)
    row.jit_ms = 1e3 * statistics.median(jit_times)
    row.runs = f"{len(sim_times)}/{len(jit_times)}"
    row.n_resims = len(sim_times) + len(jit_times)
    row.compiles, row.traces = counter.compiles, counter.traces
    log(f"  {problem.name}: re-simulation {row.sim_ms:.2f} ms (simulate, {len(sim_times)} runs), "
        f"{row.jit_ms:.2f} ms (jit, {len(jit_times)} runs); compilations {row.compiles}"
        + (f": {'; '.join(counter.messages)}" if counter.messages else ""))

    lsoda_times, bdf_times, bdf_ys = [], [], None
    for method, store in (("LSODA", lsoda_times), ("BDF", bdf_times)):
        start = time.perf_counter()
        for r, params in enumerate(problem.param_sets[:repeats]):
            full = {**problem.defaults, **params}
            rhs, jac = problem.arrays.functions(full)
            jac_for = jac if method == "BDF" else (lambda t, y, _j=jac: _j(t, y).toarray())
            t = time.perf_counter()
            sol = scipy.integrate.solve_ivp(rhs, (float(problem.times[0]), float(problem.times[-1])),
                                            problem.arrays.y0(full), method=method, t_eval=problem.times,
                                            rtol=RTOL, atol=ATOL, jac=jac_for)
            store.append(time.perf_counter() - t)
            if not sol.success:
                raise RuntimeError(f"{problem.name}: scipy {method} failed: {sol.message}")
            if method == "BDF" and r == 0:
                bdf_ys = sol.y.T
            if time.perf_counter() - start > budget:
                break
    row.lsoda_ms = 1e3 * statistics.median(lsoda_times)
    row.bdf_ms = 1e3 * statistics.median(bdf_times)
    columns = [compiled.state_index(name) for name in problem.state_names]  # qsp order -> numpy twin order
    qsp_ys = np.asarray(sim_outs[0])[:, columns]
    row.rel_diff = max_relative_difference(qsp_ys, bdf_ys)
    # a tighter oracle (not timed), to tell whose error the difference above is
    full = {**problem.defaults, **problem.param_sets[0]}
    rhs, jac = problem.arrays.functions(full)
    ref = scipy.integrate.solve_ivp(rhs, (float(problem.times[0]), float(problem.times[-1])), problem.arrays.y0(full),
                                    method="LSODA", t_eval=problem.times, rtol=REF_RTOL, atol=REF_ATOL,
                                    jac=lambda t, y: jac(t, y).toarray())
    if not ref.success:
        raise RuntimeError(f"{problem.name}: reference LSODA failed: {ref.message}")
    row.qsp_err = max_relative_difference(qsp_ys, ref.y.T)
    row.bdf_err = max_relative_difference(bdf_ys, ref.y.T)
    log(f"  {problem.name}: scipy LSODA {row.lsoda_ms:.2f} ms, BDF {row.bdf_ms:.2f} ms; max rel diff "
        f"{row.rel_diff:.1e}; vs reference: qsp {row.qsp_err:.1e}, BDF {row.bdf_err:.1e}")
    return row


# --------------------------------------------------------------------------- report
def _fmt(x: float, digits: int = 3) -> str:
    if x != x:
        return "n/a"
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:.0f}"
    return f"{x:.{digits}g}"


def table(rows: list[Row]) -> str:
    head = ["model", "states", "reactions", "qsp.compile [s]", "first simulate [s]", "first jit call [s]",
            "re-sim simulate [ms]", "re-sim jit [ms]", "runs (simulate/jit)", "scipy LSODA [ms]", "scipy BDF [ms]",
            "LSODA / qsp jit", "BDF / qsp jit", "max rel diff vs BDF", "qsp err vs ref", "BDF err vs ref",
            "recompiles"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in rows:
        cells = [r.name, str(r.states), str(r.reactions), _fmt(r.compile_s), _fmt(r.first_s), _fmt(r.first_jit_s),
                 _fmt(r.sim_ms), _fmt(r.jit_ms), r.runs, _fmt(r.lsoda_ms), _fmt(r.bdf_ms),
                 _fmt(r.lsoda_ms / r.jit_ms), _fmt(r.bdf_ms / r.jit_ms), f"{r.rel_diff:.1e}", f"{r.qsp_err:.1e}",
                 f"{r.bdf_err:.1e}",
                 "no" if r.compiles == 0 else f"yes ({r.compiles})"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(rows: list[Row]) -> list[str]:
    by_states = {r.states: r for r in rows}
    out = []
    small = by_states.get(4)
    if small:
        verdict = "PASS" if small.jit_ms < TARGET_JIT_MS_4 else "MISS"
        out.append(f"- 4-state jitted re-simulation < {TARGET_JIT_MS_4:g} ms: {_fmt(small.jit_ms)} ms -> {verdict}")
    big = by_states.get(500)
    if big:
        verdict = "PASS" if big.compile_s < TARGET_COMPILE_S_500 else "MISS"
        out.append(f"- 500-state compile < {TARGET_COMPILE_S_500:g} s: qsp.compile {_fmt(big.compile_s)} s -> {verdict} "
                   f"(first simulate including JAX compilation: {_fmt(big.first_s)} s, "
                   f"{'PASS' if big.first_s < TARGET_COMPILE_S_500 else 'MISS'} against the same target)")
        verdict = "PASS" if big.jit_ms <= big.bdf_ms else "MISS"
        out.append(f"- 500-state simulates no slower than scipy BDF: qsp jit {_fmt(big.jit_ms)} ms vs BDF "
                   f"{_fmt(big.bdf_ms)} ms -> {verdict}")
    else:
        out.append("- 500-state targets: n/a (500-state network not run; run without --quick)")
    return out


def _git_revision() -> str:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        rev = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=root, capture_output=True,
                             text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        rev = ""
    return rev or "unknown"


def _load() -> str:
    try:
        return "/".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def _default_solver() -> str:
    try:
        from qsp.simulate import solver_options
        solver = solver_options().solver
    except Exception:  # noqa: BLE001 - informational only
        return "unknown"
    return str(getattr(solver, "name", type(solver).__name__))


def environment(load_at_start: str, revision: str) -> str:
    """One line: date, versions (qsp's git revision as the run started), device, cores and the load
    average (1/5/15 min) at start and end: a load above the core count means other processes
    competed for the CPU during the run."""
    device = jax.devices()[0]
    return (f"{datetime.datetime.now().isoformat(timespec='seconds')} | python {platform.python_version()} | "
            f"jax {jax.__version__} ({device.platform}) | scipy {scipy.__version__} | "
            f"qsp {qsp.__version__} ({revision}) | {os.cpu_count()} CPU cores, load average "
            f"{load_at_start} at start, {_load()} at end | default solver {_default_solver()}, rtol {RTOL:g}, "
            f"atol {ATOL:g}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 4-state and 10-state, 2 repeats")
    parser.add_argument("--sizes", type=int, nargs="*", default=None,
                        help="network sizes (default 50 500; --quick: 10)")
    parser.add_argument("--repeats", type=int, default=None, help="re-simulations per timing (default 20; --quick: 2)")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds per timing loop before it stops early, after at least one run "
                             "(default 60; --quick: 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random networks")
    args = parser.parse_args(argv)
    sizes = args.sizes if args.sizes is not None else ([10] if args.quick else [50, 500])
    repeats = args.repeats or (2 if args.quick else 20)
    budget = args.budget if args.budget is not None else (5.0 if args.quick else 60.0)

    def log(message):
        print(message, file=sys.stderr, flush=True)

    load_at_start, revision = _load(), _git_revision()
    problems = [tmdd_problem, *[(lambda n=n: network_problem(n, args.seed)) for n in sizes]]
    rows = []
    for make in problems:
        problem = make()
        log(f"{problem.name}: {len(problem.model.species)} states, {problem.n_reactions} reactions")
        rows.append(run_problem(problem, repeats, budget, log))

    print(f"## qsp spine benchmark{' (quick)' if args.quick else ''}\n")
    print(environment(load_at_start, revision) + "\n")
    print(table(rows) + "\n")
    runs = sum(r.n_resims for r in rows)
    compiles = sum(r.compiles for r in rows)
    traces = sum(r.traces for r in rows)
    verdict = "no" if compiles == 0 and traces == 0 else "YES"
    print(f"parameter change recompiles: {verdict} ({compiles} compilations and {traces} traces during "
          f"{runs} re-simulations with new parameter values, through qsp.simulate and jax.jit)\n")
    print("Targets (from the issue):")
    print("\n".join(targets(rows)))
    return 0 if compiles == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
