"""Peer worker of the engine benchmark: libRoadRunner and AMICI on issue 5's model.

Runs in the peers' own venv (``benchmarks/setup_peers.sh``; or, without it, in any Python
that has some of the peers) and is driven by ``bench_engine.py`` over pipes: one JSON
request per line on stdin, one JSON answer per line on the original stdout (everything
else the peers print goes to stderr). Keeping the peers in their own process lets the
benchmark interleave their runs with qsp's while neither environment sees the other's
packages. Every answer carries wall-clock and process CPU times of each timed run, and
the results (states or gradients) for the accuracy check in the benchmark.

Requests (``op``): ``hello`` (which peers import), ``prepare`` (load / compile a tool's
model, cached under ``benchmarks/.peer-models``; ``amici-dose-times`` is T6's variant with
the dose times as parameters), ``load`` (T5: libRoadRunner or AMICI on an SBML text sent
with the request, kept under a key), ``simulate`` (T1, T4, T5: with ``param_sets`` each
timed run takes the next set, and ``check`` asks for one more, untimed, run at ``params``
whose states are returned), ``population`` (T2), ``gradient`` (T3, T6), ``quit``.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import pathlib
import resource
import sys
import time
import traceback

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import engine_dose_times as edt  # noqa: E402
import engine_problem as ep  # noqa: E402

MODEL_DIR = HERE / ".peer-models"
SELECTIONS = ["[Lc]", "[Lp]", "[R]", "[RL]"]


def _version(name):
    try:
        module = __import__(name)
        return getattr(module, "__version__", "?"), None
    except Exception as error:  # the table reports why a peer is missing
        return None, f"{type(error).__name__}: {error}".splitlines()[0][:160]


def sbml_text(dose_time_parameters=False) -> str:
    import antimony

    antimony.clearPreviousLoads()
    if antimony.loadAntimonyString(ep.antimony(dose_time_parameters=dose_time_parameters)) < 0:
        raise RuntimeError(antimony.getLastError())
    return antimony.getSBMLString("tmdd_2cmt")


def timed(run, repeats):
    walls, cpus, result = [], [], None
    for _ in range(repeats):
        c, t = time.process_time(), time.perf_counter()
        result = run()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return walls, cpus, result


# ----------------------------------------------------------------------------- libRoadRunner
class RoadRunnerTool:
    """libRoadRunner with its default CVODE integrator (BDF, ``stiff=True``); a simulation
    resets the state (re-applying the initial assignments to the current parameters) and
    integrates over the uniform output grid."""

    def __init__(self, sbml, selections=SELECTIONS):
        import roadrunner

        t = time.perf_counter()
        self.rr = roadrunner.RoadRunner(sbml)
        self.rr.timeCourseSelections = ["time", *selections]
        self.load_seconds = time.perf_counter() - t

    def simulate(self, ts, params, rtol, atol):
        rr = self.rr
        rr.integrator.relative_tolerance = rtol
        rr.integrator.absolute_tolerance = atol
        for k, v in params.items():
            rr[k] = v
        rr.reset()
        return np.asarray(rr.simulate(float(ts[0]), float(ts[-1]), len(ts)))[:, 1:]


class RoadRunnerNetworkTool(RoadRunnerTool):
    """T5: libRoadRunner on a network's SBML (``qsp.io.write_sbml``), returning the species'
    amounts; the hundreds of parameters are set by index in one call (``rr[name] = value``
    parses each name)."""

    def __init__(self, sbml, states):
        super().__init__(sbml, selections=states)  # a bare species id selects its amount
        self.index = {k: i for i, k in enumerate(self.rr.model.getGlobalParameterIds())}

    def simulate(self, ts, params, rtol, atol):
        rr = self.rr
        rr.integrator.relative_tolerance = rtol
        rr.integrator.absolute_tolerance = atol
        rr.model.setGlobalParameterValues(np.array([self.index[k] for k in params], np.int32),
                                          np.array(list(params.values()), float))
        rr.reset()
        return np.asarray(rr.simulate(float(ts[0]), float(ts[-1]), len(ts)))[:, 1:]


_pool_tool = None


def _pool_init(sbml):
    global _pool_tool
    _pool_tool = RoadRunnerTool(sbml)


def _pool_chunk(job):
    ts, rows, rtol, atol = job
    c = time.process_time()
    out = [_pool_tool.simulate(ts, row, rtol, atol) for row in rows]
    return np.asarray(out), time.process_time() - c


# ----------------------------------------------------------------------------- AMICI (CVODES)
class AmiciTool:
    """AMICI 1.x's C++ model (CVODES: BDF with Newton and a dense linear solver, AMICI's
    defaults otherwise); the observable ``obs_Lc`` with sigma 1 gives T3's loss as
    SSE = -2 llh + const, so its gradient is -2 sllh."""

    def __init__(self, sbml, prefix="tmdd_2cmt", names=ep.NAMES):
        import amici
        from amici.sim import sundials

        self.amici, self.sim = amici, sundials
        digest = hashlib.sha1((sbml + amici.__version__).encode()).hexdigest()[:10]
        name = f"{prefix}_{digest}"
        out = MODEL_DIR / name
        t = time.perf_counter()
        if not (out / ".complete").exists():
            importer = amici.SbmlImporter(sbml, from_file=False)
            importer.sbml2amici(name, str(out), observation_model=[amici.MeasurementChannel("obs_Lc", formula="Lc")],
                                verbose=False)
            (out / ".complete").write_text("ok")
        self.compile_seconds = time.perf_counter() - t
        module = amici.import_model_module(name, str(out))
        self.model = module.get_model()
        self.model.set_parameter_scale(sundials.ParameterScaling.none)
        ids = list(self.model.get_free_parameter_ids())
        self.index = {k: i for i, k in enumerate(ids)}
        self.model.set_parameter_list([self.index[k] for k in names])  # what sensitivities are for
        self.base = np.array(self.model.get_free_parameters())
        self.solver = self.model.create_solver()

    def _parameters(self, params):
        values = self.base.copy()
        for k, v in params.items():
            values[self.index[k]] = v
        return values

    def _settings(self, ts, rtol, atol, sensitivity=None):
        sim, solver = self.sim, self.solver
        self.model.set_timepoints(list(map(float, ts)))
        solver.set_relative_tolerance(rtol)
        solver.set_absolute_tolerance(atol)
        if sensitivity is None:
            solver.set_sensitivity_order(sim.SensitivityOrder.none)
        else:
            solver.set_sensitivity_order(sim.SensitivityOrder.first)
            solver.set_sensitivity_method({"forward": sim.SensitivityMethod.forward,
                                           "adjoint": sim.SensitivityMethod.adjoint}[sensitivity])
            # the sensitivities get the same tolerances as the states
            solver.set_relative_tolerance_fsa(rtol)
            solver.set_absolute_tolerance_fsa(atol)
            solver.set_relative_tolerance_b(rtol)
            solver.set_absolute_tolerance_b(atol)
            solver.set_relative_tolerance_quadratures(rtol)
            solver.set_absolute_tolerance_quadratures(atol)

    def _check(self, rdata):
        if rdata.status != self.sim.AMICI_SUCCESS:
            raise RuntimeError(f"AMICI status {self.sim.simulation_status_to_str(rdata.status)}")
        return rdata

    def simulate(self, ts, params, rtol, atol):
        self._settings(ts, rtol, atol)
        self.model.set_free_parameters(self._parameters(params))
        return np.asarray(self._check(self.sim.run_simulation(self.model, self.solver)).x)

    def population(self, ts, rows, rtol, atol, threads):
        self._settings(ts, rtol, atol)
        edatas = []
        for row in rows:
            edata = self.sim.ExpData(self.model)
            edata.free_parameters = self._parameters(row)
            edatas.append(edata)
        rdatas = self.sim.run_simulations(self.model, self.solver, edatas, num_threads=threads)
        return np.asarray([self._check(r).x for r in rdatas])

    def gradient(self, obs, rtol, atol, method):
        ts = ep.observation_times()
        self._settings(ts, rtol, atol, sensitivity=method)
        self.model.set_free_parameters(self.base)
        edata = self.sim.ExpData(self.model)
        edata.set_measurements(list(map(float, obs)))
        edata.set_noise_scales([1.0] * len(obs))
        rdata = self._check(self.sim.run_simulation(self.model, self.solver, edata))
        return -2.0 * np.asarray(rdata.sllh)  # llh = -SSE/2 + const for sigma = 1


class AmiciNetworkTool:
    """T5: AMICI's C++ model (CVODES BDF, AMICI's defaults otherwise) of a network's SBML, compiled
    once and cached under ``benchmarks/.peer-models`` by a digest of the SBML text. AMICI's states
    are the species' concentrations: ``scale`` (each species' compartment volume, fixed in T5)
    turns them into amounts."""

    def __init__(self, sbml, states, scale=None):
        import amici
        from amici.sim import sundials

        self.sim = sundials
        digest = hashlib.sha1((sbml + amici.__version__).encode()).hexdigest()[:10]
        name = f"network_{digest}"
        out = MODEL_DIR / name
        t = time.perf_counter()
        if not (out / ".complete").exists():
            amici.SbmlImporter(sbml, from_file=False).sbml2amici(name, str(out), verbose=False)
            (out / ".complete").write_text("ok")
        self.compile_seconds = time.perf_counter() - t
        self.model = amici.import_model_module(name, str(out)).get_model()
        self.model.set_parameter_scale(sundials.ParameterScaling.none)
        self.index = {k: i for i, k in enumerate(self.model.get_free_parameter_ids())}
        self.base = np.array(self.model.get_free_parameters())
        ids = list(self.model.get_state_ids())
        self.order = [ids.index(k) for k in states]
        self.scale = np.ones(len(states)) if scale is None else np.asarray(scale, float)
        self.solver = self.model.create_solver()

    def simulate(self, ts, params, rtol, atol):
        self.model.set_timepoints(list(map(float, ts)))
        self.solver.set_relative_tolerance(rtol)
        self.solver.set_absolute_tolerance(atol)
        values = self.base.copy()
        values[[self.index[k] for k in params]] = list(params.values())
        self.model.set_free_parameters(values)
        rdata = self.sim.run_simulation(self.model, self.solver)
        if rdata.status != self.sim.AMICI_SUCCESS:
            raise RuntimeError(f"AMICI status {self.sim.simulation_status_to_str(rdata.status)}")
        return np.asarray(rdata.x)[:, self.order] * self.scale


class AmiciJaxTool:
    """AMICI 1.x's JAX export (``SbmlImporter(..., jax=True).sbml2jax``): the model as an equinox
    module simulated by diffrax inside AMICI's ``simulate_condition`` (Kvaerno5 with a
    ``PIDController``, as in AMICI's JAX examples; events by diffrax root finding)."""

    def __init__(self, sbml):
        import amici
        import jax

        jax.config.update("jax_enable_x64", True)
        digest = hashlib.sha1((sbml + amici.__version__).encode()).hexdigest()[:10]
        name = f"tmdd_2cmt_jax_{digest}"
        out = MODEL_DIR / name
        t = time.perf_counter()
        if not (out / ".complete").exists():
            importer = amici.SbmlImporter(sbml, from_file=False, jax=True)
            importer.sbml2jax(name, str(out), observation_model=[amici.MeasurementChannel("obs_Lc", formula="Lc")])
            (out / ".complete").write_text("ok")
        self.compile_seconds = time.perf_counter() - t
        self.model = amici.import_model_module(name, str(MODEL_DIR)).Model()
        ids = list(self.model.parameter_ids)
        self.base = np.array(self.model.parameters)
        self.index = {k: ids.index(k) for k in ep.NAMES}
        self.cache = {}

    def _function(self, ts, rtol, atol, kind):
        key = (tuple(ts), rtol, atol, kind)
        if key in self.cache:
            return self.cache[key]
        import diffrax
        import jax
        import jax.numpy as jnp
        import optimistix as optx
        from amici.sim.jax.model import ReturnValue

        ts_j = jnp.asarray(ts)
        nt = ts_j.shape[0]
        adjoint = diffrax.RecursiveCheckpointAdjoint()

        def run(p, my, ret):
            return self.model.simulate_condition(
                p, ts_j, jnp.zeros(0), my, jnp.zeros(nt, int), jnp.zeros(nt, int), jnp.zeros((nt, 0)),
                jnp.zeros((nt, 0)), diffrax.Kvaerno5(), diffrax.PIDController(rtol=rtol, atol=atol),
                optx.Newton(rtol=1e-8, atol=1e-8), adjoint, diffrax.steady_state_event(), 10_000, ret=ret)[0]

        zeros = jnp.zeros(nt)
        if kind == "x":
            f = jax.jit(lambda p: run(p, zeros, ReturnValue.x))
        elif kind == "population":
            f = jax.jit(jax.vmap(lambda p: run(p, zeros, ReturnValue.x)))
        else:  # the gradient of SSE = -2 llh + const (sigma 1) w.r.t. the 9 model parameters
            f = jax.jit(jax.grad(lambda p, my: -2.0 * run(p, my, ReturnValue.llh)))
        self.cache[key] = f
        return f

    def _parameters(self, params):
        values = self.base.copy()
        for k, v in params.items():
            values[self.index[k]] = v
        return values

    def simulate(self, ts, params, rtol, atol):
        import jax

        f = self._function(ts, rtol, atol, "x")
        return np.asarray(jax.block_until_ready(f(self._parameters(params))))

    def population(self, ts, rows, rtol, atol, threads):
        import jax

        f = self._function(ts, rtol, atol, "population")
        P = np.stack([self._parameters(row) for row in rows])
        return np.asarray(jax.block_until_ready(f(P)))

    def gradient(self, obs, rtol, atol, method):
        import jax

        f = self._function(ep.observation_times(), rtol, atol, "gradient")
        g = np.asarray(jax.block_until_ready(f(self.base, np.asarray(obs))))
        return g[[self.index[k] for k in ep.NAMES]]


# ----------------------------------------------------------------------------- the request loop
class Worker:
    def __init__(self):
        self.tools, self.sbml, self.turns = {}, None, {}

    def hello(self, _):
        peers = {}
        for name in ("roadrunner", "amici", "amici.sim.jax", "antimony"):
            version, error = _version(name)
            peers[name] = {"version": version, "error": error}
        return {"python": sys.version.split()[0], "executable": sys.executable, "peers": peers,
                "openmp": self._openmp()}

    @staticmethod
    def _openmp():
        try:
            from amici.sim import sundials

            return bool(sundials.compiled_with_openmp())
        except Exception:
            return None

    def prepare(self, req):
        tool = req["tool"]
        if tool not in self.tools:
            if tool == "amici-dose-times":  # T6: the dose times t2..t6 as trigger parameters
                self.tools[tool] = AmiciTool(sbml_text(dose_time_parameters=True), "tmdd_dose_times", edt.NAMES)
            else:
                if self.sbml is None:
                    self.sbml = sbml_text()
                cls = {"roadrunner": RoadRunnerTool, "amici": AmiciTool, "amici-jax": AmiciJaxTool}[tool]
                self.tools[tool] = cls(self.sbml)
        return self._seconds(self.tools[tool])

    @staticmethod
    def _seconds(t):
        return {"seconds": getattr(t, "load_seconds", None) or getattr(t, "compile_seconds", None)}

    def load(self, req):
        """T5: ``tool`` ("roadrunner" or "amici") on ``sbml``, kept as ``"{tool}:{key}"``; the
        states come back as amounts of the species ``states``, in that order."""
        name = f"{req['tool']}:{req['key']}"
        if name not in self.tools:
            if req["tool"] == "roadrunner":
                self.tools[name] = RoadRunnerNetworkTool(req["sbml"], req["states"])
            else:
                self.tools[name] = AmiciNetworkTool(req["sbml"], req["states"], req.get("scale"))
        return self._seconds(self.tools[name])

    def simulate(self, req):
        tool = self.tools[req["tool"]]
        ts = np.asarray(req["ts"])
        if "param_sets" not in req:
            walls, cpus, y = timed(lambda: tool.simulate(ts, req["params"], req["rtol"], req["atol"]),
                                   req["repeats"])
            return {"wall": walls, "cpu": cpus, "y": np.asarray(y).tolist()}
        sets, turn = req["param_sets"], self.turns.get(req["tool"], 0)  # go on where the last batch stopped
        self.turns[req["tool"]] = turn + req["repeats"]
        order = iter(sets[(turn + i) % len(sets)] for i in range(req["repeats"]))
        walls, cpus, _ = timed(lambda: tool.simulate(ts, next(order), req["rtol"], req["atol"]), req["repeats"])
        answer = {"wall": walls, "cpu": cpus}
        if req.get("check"):
            answer["y"] = np.asarray(tool.simulate(ts, req["params"], req["rtol"], req["atol"])).tolist()
        return answer

    def population(self, req):
        ts, pop = np.asarray(req["ts"]), req["pop"]
        n = len(next(iter(pop.values())))
        rows = [{k: v[i] for k, v in pop.items()} for i in range(n)]
        tool, workers = req["tool"], req["workers"]
        if tool == "roadrunner" and workers > 1:
            return self._roadrunner_processes(ts, rows, req, workers)
        t = self.tools[tool]
        if tool == "roadrunner":
            run = lambda: np.asarray([t.simulate(ts, row, req["rtol"], req["atol"]) for row in rows])  # noqa: E731
        else:
            run = lambda: t.population(ts, rows, req["rtol"], req["atol"], workers)  # noqa: E731
        walls, cpus, ys = timed(run, 1)
        return {"wall": walls[0], "cpu": cpus[0], "y_check": ys[: req["check"]].tolist(),
                "rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}

    def _roadrunner_processes(self, ts, rows, req, workers):
        """libRoadRunner in ``workers`` processes (each loads the model once, outside the timing)."""
        if self.sbml is None:
            self.sbml = sbml_text()
        chunks = [rows[i::workers * 8] for i in range(workers * 8)]
        with multiprocessing.get_context("fork").Pool(workers, _pool_init, (self.sbml,)) as pool:
            pool.map(_pool_chunk, [(ts, rows[:1], req["rtol"], req["atol"])] * workers)  # warm every process
            t = time.perf_counter()
            results = pool.map(_pool_chunk, [(ts, c, req["rtol"], req["atol"]) for c in chunks])
            wall = time.perf_counter() - t
        ys = np.empty((len(rows), len(ts), 4))
        for i, (y, _) in enumerate(results):
            ys[i::workers * 8] = y
        return {"wall": wall, "cpu": sum(c for _, c in results), "y_check": ys[: req["check"]].tolist(),
                "rss_gib": None}

    def gradient(self, req):
        tool = self.tools[req["tool"]]
        obs = np.asarray(req["obs"])
        walls, cpus, g = timed(lambda: tool.gradient(obs, req["rtol"], req["atol"], req["method"]), req["repeats"])
        return {"wall": walls, "cpu": cpus, "grad": np.asarray(g).tolist()}


def main():
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything the peers print goes to stderr, never into the answers
    sys.stdout = sys.stderr
    MODEL_DIR.mkdir(exist_ok=True)
    worker = Worker()
    for line in sys.stdin:
        req = json.loads(line)
        if req["op"] == "quit":
            break
        try:
            answer = getattr(worker, req["op"])(req)
        except Exception as error:
            traceback.print_exc()
            answer = {"error": f"{type(error).__name__}: {error}".splitlines()[0][:200]}
        channel.write(json.dumps(answer) + "\n")


if __name__ == "__main__":
    main()
