"""Shared fixtures: the spine's test models, built and compiled once per session.

Every model here comes with an independent oracle written by hand in *amount space*
(the state is amounts; inside rate laws a species symbol means amount / volume; every
reaction rate is amount per time):

* ``rhs(t, y, p)``: the right-hand side, ``y`` and ``p`` dicts of name -> value, returning
  a dict name -> d(amount)/dt;
* ``y0(p)``: the initial state as a dict name -> amount;
* ``PARAMS``: the parameter values the model is built from (so the oracle never reads
  a value back from the code under test).

JAX compiles are the expensive part (about 5-20 s per model on two cores), so
compiled models and default simulations are session-scoped and cached on the case
object (``case.sol``, ``case.reference``); all cases share one output-grid length
(``N_TIMES``) so that shapes stay static.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import sympy as sp
from scipy.integrate import solve_ivp

import qsp

N_TIMES = 25  # one output-grid length for every default simulation (static shapes)


# ------------------------------------------------------------------ the case object
@dataclass(eq=False)
class Case:
    """A test model with its hand-written oracle."""

    name: str
    model: qsp.Model
    params: dict  # name -> value, the values the model was built with
    rhs: Callable  # (t, y: dict, p: dict) -> dict of d(amount)/dt
    y0: Callable  # (p: dict) -> dict of initial amounts
    ts: np.ndarray  # output times of the default simulation
    states: tuple  # expected state order (species in order of first use, then rate-rule variables)
    stiff: bool = False  # fast binding: the default (stiff) solver matters

    @functools.cached_property
    def compiled(self) -> qsp.CompiledModel:
        return qsp.compile(self.model)

    # -- hand-written oracle in vector form (state order taken from `states`, checked by tests)
    def rhs_vector(self, t, y, p) -> np.ndarray:
        d = self.rhs(t, dict(zip(self.states, y)), p)
        assert set(d) == set(self.states), f"hand RHS of {self.name} misses states"
        return np.array([d[s] for s in self.states], dtype=float)

    def y0_vector(self, p) -> np.ndarray:
        d = self.y0(p)
        return np.array([d[s] for s in self.states], dtype=float)

    def solve_reference(self, ts=None, params=None) -> np.ndarray:
        """States (len(ts), n) by scipy at rtol 1e-11, atol 1e-13 on the hand-written RHS.

        LSODA switches to BDF on stiff stretches (binding, TMDD); on these models it agrees
        with Radau to 1e-10 of each state's scale and is 20-50x faster.
        """
        ts = self.ts if ts is None else np.asarray(ts, float)
        p = {**self.params, **(params or {})}
        res = solve_ivp(lambda t, y: self.rhs_vector(t, y, p), (float(ts[0]), float(ts[-1])), self.y0_vector(p),
                        method="LSODA", t_eval=ts, rtol=1e-11, atol=1e-13)
        assert res.success, res.message
        return res.y.T

    @functools.cached_property
    def reference(self) -> np.ndarray:
        return self.solve_reference()

    @functools.cached_property
    def sol(self) -> qsp.Solution:
        """The simulation at ``ts`` with default options and default parameters."""
        return qsp.simulate(self.compiled, self.ts)

    def __repr__(self) -> str:  # short ids in test reports
        return f"Case({self.name})"


# ------------------------------------------------------------------ 1. linear: depot + 2 compartments
LINEAR_PARAMS = dict(ka=1.1, CL=2.0, Q=1.5, V1=10.0, V2=25.0, Vg=2.0, dose=100.0, C2_0=0.4)


def linear_model() -> qsp.Model:
    P = {k: qsp.Parameter(k, v) for k, v in LINEAR_PARAMS.items()}
    gut = qsp.Compartment("gut", volume=P["Vg"])
    central = qsp.Compartment("central", volume=P["V1"])
    periph = qsp.Compartment("periph", volume=P["V2"])
    D = qsp.Species("D", gut, initial_amount=P["dose"])
    A1 = qsp.Species("A1", central)
    A2 = qsp.Species("A2", periph, initial_concentration=P["C2_0"])
    return qsp.Model("linear", reactions=[
        qsp.mass_action(P["ka"], [D], [A1], name="absorption"),   # ka * [D] * Vg = ka * amount
        qsp.Reaction([A1], [], rate=P["CL"] * A1, name="elimination"),
        qsp.Reaction([A1], [A2], rate=P["Q"] * A1, name="distribution"),
        qsp.Reaction([A2], [A1], rate=P["Q"] * A2, name="redistribution"),
    ], observables={"C": A1, "Cp": A2})


def linear_rate_matrix(p) -> np.ndarray:
    """K with d(amount)/dt = K @ amount, states (D, A1, A2), derived by hand."""
    k10, k12, k21 = p["CL"] / p["V1"], p["Q"] / p["V1"], p["Q"] / p["V2"]
    return np.array([[-p["ka"], 0.0, 0.0],
                     [p["ka"], -(k10 + k12), k21],
                     [0.0, k12, -k21]])


def _linear_rhs(t, y, p):
    dy = linear_rate_matrix(p) @ np.array([y["D"], y["A1"], y["A2"]])
    return dict(D=dy[0], A1=dy[1], A2=dy[2])


def _linear_y0(p):
    return dict(D=p["dose"], A1=0.0, A2=p["C2_0"] * p["V2"])


# ------------------------------------------------------------------ 2. Michaelis-Menten elimination
MM_PARAMS = dict(ka=0.8, Vg=1.5, V=5.0, Vmax=10.0, Km=4.0, dose=500.0)


def mm_model() -> qsp.Model:
    P = {k: qsp.Parameter(k, v) for k, v in MM_PARAMS.items()}
    gut = qsp.Compartment("gut", volume=P["Vg"])
    central = qsp.Compartment("central", volume=P["V"])
    D = qsp.Species("D", gut, initial_amount=P["dose"])
    A = qsp.Species("A", central)
    return qsp.Model("mm", reactions=[
        qsp.mass_action(P["ka"], [D], [A], name="absorption"),
        qsp.Reaction([A], [], rate=P["Vmax"] * A / (P["Km"] + A), name="mm_elimination"),  # amount/time
    ], observables={"C": A})


def _mm_rhs(t, y, p):
    c = y["A"] / p["V"]
    absorption = p["ka"] * y["D"]
    elimination = p["Vmax"] * c / (p["Km"] + c)
    return dict(D=-absorption, A=absorption - elimination)


def _mm_y0(p):
    return dict(D=p["dose"], A=0.0)


# ------------------------------------------------------------------ 3. binding with target turnover
BINDING_PARAMS = dict(Vp=3.0, kon=2.0, koff=0.3, ksyn=1.2, kdeg=0.15, kint=0.08, kel=0.2, L0=30.0)


def binding_model() -> qsp.Model:
    P = {k: qsp.Parameter(k, v) for k, v in BINDING_PARAMS.items()}
    plasma = qsp.Compartment("plasma", volume=P["Vp"])
    L = qsp.Species("L", plasma, initial_amount=P["L0"])
    R = qsp.Species("R", plasma, initial_concentration=P["ksyn"] / P["kdeg"])
    RL = qsp.Species("RL", plasma)
    return qsp.Model("binding", reactions=[
        qsp.mass_action(P["kon"], [L, R], [RL], name="bind"),
        qsp.mass_action(P["koff"], [RL], [L, R], name="unbind"),
        qsp.mass_action(P["ksyn"], [], [R], name="synthesis"),   # zero order: ksyn * Vp amount/time
        qsp.mass_action(P["kdeg"], [R], [], name="degradation"),
        qsp.mass_action(P["kint"], [RL], [], name="internalisation"),
        qsp.Reaction([L], [], rate=P["kel"] * L * plasma, name="elimination"),
    ], observables={"occupancy": RL / (R + RL)})


def _binding_rhs(t, y, p):
    V = p["Vp"]
    L, R, RL = y["L"] / V, y["R"] / V, y["RL"] / V  # concentrations
    bind, unbind = p["kon"] * L * R * V, p["koff"] * RL * V
    syn, deg, internal, elim = p["ksyn"] * V, p["kdeg"] * R * V, p["kint"] * RL * V, p["kel"] * L * V
    return dict(L=-bind + unbind - elim, R=-bind + unbind + syn - deg, RL=bind - unbind - internal)


def _binding_y0(p):
    return dict(L=p["L0"], R=p["ksyn"] / p["kdeg"] * p["Vp"], RL=0.0)


# ------------------------------------------------------------------ 4. closed binding (conservation)
CLOSED_PARAMS = dict(Vc=2.5, kon=50.0, koff=0.5)


def closed_binding_model() -> qsp.Model:
    P = {k: qsp.Parameter(k, v) for k, v in CLOSED_PARAMS.items()}
    c = qsp.Compartment("cell", volume=P["Vc"])
    L = qsp.Species("L", c, initial_amount=10.0)
    R = qsp.Species("R", c, initial_amount=5.0)
    RL = qsp.Species("RL", c)
    return qsp.Model("closed_binding", reactions=[
        qsp.mass_action(P["kon"], [L, R], [RL], name="bind"),
        qsp.mass_action(P["koff"], [RL], [L, R], name="unbind"),
    ])


def _closed_rhs(t, y, p):
    V = p["Vc"]
    net = p["kon"] * (y["L"] / V) * (y["R"] / V) * V - p["koff"] * (y["RL"] / V) * V
    return dict(L=-net, R=-net, RL=net)


def _closed_y0(p):
    return dict(L=10.0, R=5.0, RL=0.0)


# ------------------------------------------------------------------ 5. TMDD (two-compartment PK)
TMDD_PARAMS = dict(V1=3.0, V2=2.0, CL=0.1, Q=0.3, kon=10.0, koff=0.1, ksyn=2.0, kdeg=0.2, kint=0.05, dose=300.0)


def tmdd_model() -> qsp.Model:
    P = {k: qsp.Parameter(k, v) for k, v in TMDD_PARAMS.items()}
    central = qsp.Compartment("central", volume=P["V1"])
    periph = qsp.Compartment("periph", volume=P["V2"])
    L = qsp.Species("L", central, initial_amount=P["dose"])
    Lp = qsp.Species("Lp", periph)
    R = qsp.Species("R", central, initial_concentration=P["ksyn"] / P["kdeg"])   # R(0) = ksyn/kdeg
    RL = qsp.Species("RL", central)
    return qsp.Model("tmdd", reactions=[
        qsp.Reaction([L], [], rate=P["CL"] * L, name="elimination"),
        qsp.Reaction([L], [Lp], rate=P["Q"] * L, name="distribution"),
        qsp.Reaction([Lp], [L], rate=P["Q"] * Lp, name="redistribution"),
        qsp.mass_action(P["kon"], [L, R], [RL], name="bind"),
        qsp.mass_action(P["koff"], [RL], [L, R], name="unbind"),
        qsp.mass_action(P["ksyn"], [], [R], name="synthesis"),
        qsp.mass_action(P["kdeg"], [R], [], name="degradation"),
        qsp.mass_action(P["kint"], [RL], [], name="internalisation"),
    ], observables={"Ltot": L + RL, "Rtot": R + RL})


def _tmdd_rhs(t, y, p):
    V1, V2 = p["V1"], p["V2"]
    L, Lp, R, RL = y["L"] / V1, y["Lp"] / V2, y["R"] / V1, y["RL"] / V1
    bind, unbind = p["kon"] * L * R * V1, p["koff"] * RL * V1
    elim, dist, redist = p["CL"] * L, p["Q"] * L, p["Q"] * Lp
    syn, deg, internal = p["ksyn"] * V1, p["kdeg"] * R * V1, p["kint"] * RL * V1
    return dict(L=-elim - dist + redist - bind + unbind, Lp=dist - redist,
                R=syn - deg - bind + unbind, RL=bind - unbind - internal)


def _tmdd_y0(p):
    return dict(L=p["dose"], Lp=0.0, R=p["ksyn"] / p["kdeg"] * p["V1"], RL=0.0)


# ------------------------------------------------------------------ 6. effect compartment (rules)
EFFECT_PARAMS = dict(ka=1.3, Vg=0.5, Vkg=0.7, WT=70.0, CL=4.0, ke0=0.35, E0=10.0, Emax=50.0, EC50=1.2,
                     hill=1.5, dose=200.0)


def effect_model() -> qsp.Model:
    P = {k: qsp.Parameter(k, v) for k, v in EFFECT_PARAMS.items()}
    gut = qsp.Compartment("gut", volume=P["Vg"])
    central = qsp.Compartment("central", volume=P["Vkg"] * P["WT"])   # an expression volume: 49 L
    D = qsp.Species("D", gut, initial_amount=P["dose"])
    A = qsp.Species("A", central)
    Cc = qsp.Variable("Cc")
    Ce = qsp.Variable("Ce", initial=0.0)
    Eff = qsp.Variable("Eff")
    return qsp.Model(
        "effect",
        reactions=[qsp.mass_action(P["ka"], [D], [A], name="absorption"),
                   qsp.Reaction([A], [], rate=P["CL"] * Cc, name="elimination")],   # uses the rule variable
        rules=[qsp.AssignmentRule(Cc, A),
               qsp.RateRule(Ce, P["ke0"] * (Cc - Ce)),
               qsp.AssignmentRule(Eff, P["E0"] + P["Emax"] * Ce ** P["hill"]
                                  / (P["EC50"] ** P["hill"] + Ce ** P["hill"]))],   # Hill: non-integer power
        observables={"effect": Eff, "Cp": A},
    )


def effect_of(ce, p):
    return p["E0"] + p["Emax"] * ce ** p["hill"] / (p["EC50"] ** p["hill"] + ce ** p["hill"])


def _effect_rhs(t, y, p):
    V = p["Vkg"] * p["WT"]
    c = y["A"] / V
    absorption = p["ka"] * y["D"]
    return dict(D=-absorption, A=absorption - p["CL"] * c, Ce=p["ke0"] * (c - y["Ce"]))


def _effect_y0(p):
    return dict(D=p["dose"], A=0.0, Ce=0.0)


# ------------------------------------------------------------------ 7. time-dependent (cosine) forcing
FORCING_PARAMS = dict(Vt=0.8, kin=3.0, kout=0.5, amp=0.6, tpeak=8.0)


def forcing_model() -> qsp.Model:
    P = {k: qsp.Parameter(k, v) for k, v in FORCING_PARAMS.items()}
    tissue = qsp.Compartment("tissue", volume=P["Vt"])
    X = qsp.Species("X", tissue, initial_concentration=P["kin"] / P["kout"])
    drive = 1 + P["amp"] * sp.cos(2 * sp.pi * (qsp.time - P["tpeak"]) / 24)
    return qsp.Model("forcing", reactions=[
        qsp.Reaction([], [X], rate=P["kin"] * drive * tissue, name="production"),  # kin: conc/time
        qsp.mass_action(P["kout"], [X], [], name="loss"),
    ], observables={"X_level": X, "drive": drive})


def _forcing_rhs(t, y, p):
    drive = 1 + p["amp"] * np.cos(2 * np.pi * (t - p["tpeak"]) / 24)
    return dict(X=p["kin"] * drive * p["Vt"] - p["kout"] * y["X"])


def _forcing_y0(p):
    return dict(X=p["kin"] / p["kout"] * p["Vt"])


# ------------------------------------------------------------------ 8. dimerisation 2A -> B
DIMER_PARAMS = dict(Vd=4.0, k=0.05)


def dimer_model() -> qsp.Model:
    P = {k: qsp.Parameter(k, v) for k, v in DIMER_PARAMS.items()}
    c = qsp.Compartment("flask", volume=P["Vd"])
    A = qsp.Species("A", c, initial_amount=20.0)   # [A]0 = 5
    B = qsp.Species("B", c)
    return qsp.Model("dimer", reactions=[qsp.mass_action(P["k"], [A, A], [B], name="dimerise")])


def _dimer_rhs(t, y, p):
    V = p["Vd"]
    v = p["k"] * (y["A"] / V) ** 2 * V   # no combinatoric factor
    return dict(A=-2 * v, B=v)


def _dimer_y0(p):
    return dict(A=20.0, B=0.0)


# ------------------------------------------------------------------ fixtures
def _grid(t_end):
    return np.linspace(0.0, t_end, N_TIMES)


@pytest.fixture(scope="session")
def linear_case():
    return Case("linear", linear_model(), dict(LINEAR_PARAMS), _linear_rhs, _linear_y0, _grid(24.0),
                ("D", "A1", "A2"))


@pytest.fixture(scope="session")
def mm_case():
    return Case("mm", mm_model(), dict(MM_PARAMS), _mm_rhs, _mm_y0, _grid(48.0), ("D", "A"))


@pytest.fixture(scope="session")
def binding_case():
    return Case("binding", binding_model(), dict(BINDING_PARAMS), _binding_rhs, _binding_y0, _grid(48.0),
                ("L", "R", "RL"), stiff=True)


@pytest.fixture(scope="session")
def closed_binding_case():
    return Case("closed_binding", closed_binding_model(), dict(CLOSED_PARAMS), _closed_rhs, _closed_y0,
                _grid(24.0), ("L", "R", "RL"), stiff=True)


@pytest.fixture(scope="session")
def tmdd_case():
    return Case("tmdd", tmdd_model(), dict(TMDD_PARAMS), _tmdd_rhs, _tmdd_y0, _grid(168.0),
                ("L", "Lp", "R", "RL"), stiff=True)


@pytest.fixture(scope="session")
def effect_case():
    return Case("effect", effect_model(), dict(EFFECT_PARAMS), _effect_rhs, _effect_y0, _grid(24.0),
                ("D", "A", "Ce"))


@pytest.fixture(scope="session")
def forcing_case():
    return Case("forcing", forcing_model(), dict(FORCING_PARAMS), _forcing_rhs, _forcing_y0, _grid(48.0), ("X",))


@pytest.fixture(scope="session")
def dimer_case():
    return Case("dimer", dimer_model(), dict(DIMER_PARAMS), _dimer_rhs, _dimer_y0, _grid(24.0), ("A", "B"))


ALL_CASES = ["linear_case", "mm_case", "binding_case", "closed_binding_case", "tmdd_case", "effect_case",
             "forcing_case", "dimer_case"]


@pytest.fixture(params=ALL_CASES)
def any_case(request) -> Case:
    """Each test model in turn (the session fixtures behind it are shared)."""
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """``../shared/reference`` next to the repository (external oracles, see its README).

    Skips when absent, except on CI (``CI=true``), where its absence is a failure.
    """
    path = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
    if not path.is_dir():
        message = f"external reference data not found at {path} (see DESIGN.md, Tests)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path
