"""T5 of the engine benchmark: random sparse mass-action networks of 10, 100 and 500 states.

The networks are ``bench_spine.network_problem``'s (same generator, same ``--seed``): N states
in two compartments (volumes 1.0 and 0.4), about 2.5 N reactions (each state one first-order
outflow; then conversions, degradations, bimolecular A + B -> C and zero-order syntheses),
rate constants log-uniform on [0.01, 10], initial amounts uniform on [0.5, 2]; 100 output
times on [0, 50]. Each tool gets the network in its own form:

* qsp: the ``qsp.Model`` itself (``qsp.compile``, then ``jax.jit`` of a function of the
  parameter dict);
* libRoadRunner and AMICI: SBML written by ``qsp.io.write_sbml`` (``round_trip`` checks that
  ``qsp.io.read_sbml`` of that text gives the network's right-hand side and initial state);
* scipy BDF: the hand-vectorised numpy right-hand side of ``bench_spine`` with its sparse
  analytic Jacobian (``MassActionArrays.functions``).

Every timed run takes new rate constants (each ``k_j`` scaled by its own random factor in
[0.8, 1.25], fixed seed, cycled); the compartment volumes stay at their defaults because
libRoadRunner's ``reset()`` does not re-apply the compartments' initial assignments
(``size = Va``), so a changed volume would be ignored there. States are compared as amounts,
in the network's state order, against scipy LSODA at rtol 1e-11 (dense analytic Jacobian).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import scipy.integrate

import bench_spine
import qsp

SIZES = (10, 100, 500)
RTOL, ATOL = 1e-6, 1e-8  # every timed tool
REF_RTOL, REF_ATOL = 1e-11, 1e-13  # the oracle
PARAM_SETS = 16  # distinct rate-constant sets, cycled by the timed runs


@dataclass
class Network:
    """One T5 network in every tool's form (see the module docstring)."""

    problem: bench_spine.Problem
    sbml: str
    defaults: dict  # every parameter at its default
    param_sets: list = field(default_factory=list)  # the timed runs' values: new rate constants each

    @property
    def n(self) -> int:
        return len(self.problem.state_names)

    @property
    def times(self) -> np.ndarray:
        return self.problem.times

    @property
    def states(self) -> list[str]:
        return self.problem.state_names

    @property
    def label(self) -> str:
        return f"{self.n} states"

    def volumes(self) -> np.ndarray:
        """Each state's compartment volume at the defaults (AMICI's concentrations to amounts)."""
        return self.problem.arrays.volumes(self.defaults)


def network(n: int, seed: int = 0) -> Network:
    """The ``n``-state network of ``bench_spine`` with its SBML and the timed runs' parameter sets."""
    from qsp.io import write_sbml

    problem = bench_spine.network_problem(n, seed)
    defaults = dict(problem.defaults)
    rates = {k: v for k, v in defaults.items() if k.startswith("k")}
    sets = [{**defaults, **p} for p in bench_spine._perturbed(rates, PARAM_SETS, seed=1)]
    return Network(problem, write_sbml(problem.model), defaults, sets)


def round_trip(net: Network) -> float:
    """Largest relative difference between the network (its numpy twin) and ``qsp.io.read_sbml``
    of its SBML: right-hand side at a random state, and initial state. ~1e-15 when the text is right."""
    from qsp.io import read_sbml

    compiled = qsp.compile(read_sbml(net.sbml))
    index = [compiled.state_index(s) for s in net.states]
    args = compiled.prepare(compiled.parameter_vector())
    y = np.random.default_rng(0).uniform(0.5, 2.0, net.n)
    y_qsp = np.empty(net.n)
    y_qsp[index] = y
    rhs_np, _ = net.problem.arrays.functions(net.defaults)
    got = np.asarray(jax.jit(lambda y, a: compiled.rhs(0.0, y, a))(jnp.asarray(y_qsp), args))[index]
    want = rhs_np(0.0, y)
    y0 = np.asarray(compiled.initial_state(args))[index]
    want0 = net.problem.arrays.y0(net.defaults)
    return float(max(np.max(np.abs(got - want)) / np.max(np.abs(want)), np.max(np.abs(y0 - want0) / want0)))


def reference(net: Network) -> np.ndarray:
    """The oracle: amounts (times, states) by LSODA at rtol 1e-11, atol 1e-13, dense analytic Jacobian."""
    rhs, jac = net.problem.arrays.functions(net.defaults)
    sol = scipy.integrate.solve_ivp(rhs, (float(net.times[0]), float(net.times[-1])),
                                    net.problem.arrays.y0(net.defaults), method="LSODA", t_eval=net.times,
                                    rtol=REF_RTOL, atol=REF_ATOL, jac=lambda t, y: jac(t, y).toarray())
    if not sol.success:
        raise RuntimeError(f"net{net.n}: reference LSODA failed: {sol.message}")
    return sol.y.T


def _cycle(first, sets):
    """A no-argument function returning ``first``, then the ``sets`` round and round."""
    state = {"i": -1}

    def take():
        i = state["i"]
        state["i"] += 1
        return first if i < 0 else sets[i % len(sets)]
    return take


def qsp_jitted(net: Network):
    """``(run, compile_seconds)``: ``run()`` simulates ``jax.jit(lambda params: qsp.simulate(...))``
    at the defaults on its first call, then with the next parameter set on each call; amounts in
    the network's state order. ``compile_seconds`` is ``qsp.compile``'s wall time (the first
    ``run()`` adds tracing and XLA compilation)."""
    t = time.perf_counter()
    compiled = qsp.compile(net.problem.model)
    seconds = time.perf_counter() - t
    ts = jnp.asarray(net.times)
    index = jnp.asarray([compiled.state_index(s) for s in net.states])
    f = jax.jit(lambda q: qsp.simulate(compiled, ts, params=q, rtol=RTOL, atol=ATOL).ys[:, index])
    as_jax = [{k: jnp.asarray(v, jnp.float64) for k, v in p.items()} for p in [net.defaults, *net.param_sets]]
    take = _cycle(as_jax[0], as_jax[1:])
    return (lambda: f(take())), seconds


def scipy_bdf(net: Network):
    """``run()``: ``solve_ivp(method="BDF")`` with the sparse analytic Jacobian, at the defaults
    first, then with the next parameter set on each call (the functions are built beforehand)."""
    built = [net.problem.arrays.functions(p) for p in [net.defaults, *net.param_sets]]
    y0 = net.problem.arrays.y0(net.defaults)
    span = (float(net.times[0]), float(net.times[-1]))
    take = _cycle(built[0], built[1:])

    def run():
        rhs, jac = take()
        sol = scipy.integrate.solve_ivp(rhs, span, y0, method="BDF", t_eval=net.times, rtol=RTOL, atol=ATOL, jac=jac)
        if not sol.success:
            raise RuntimeError(f"scipy BDF failed: {sol.message}")
        return sol.y.T
    return run


def peer_request(net: Network, tool: str) -> dict:
    """The peer worker's ``simulate`` request for ``tool`` (loaded under the key ``net{n}``)."""
    return {"op": "simulate", "tool": f"{tool}:net{net.n}", "ts": net.times.tolist(), "params": net.defaults,
            "param_sets": net.param_sets, "rtol": RTOL, "atol": ATOL, "check": False}


def load_request(net: Network, tool: str) -> dict:
    """The peer worker's ``load`` request: the SBML text, the state order, AMICI's volumes."""
    return {"op": "load", "tool": tool, "key": f"net{net.n}", "sbml": net.sbml, "states": net.states,
            "scale": net.volumes().tolist()}
