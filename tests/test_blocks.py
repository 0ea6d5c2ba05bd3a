"""qsp.blocks: every block against an oracle it did not compute.

Oracles: hand-written right-hand sides (amounts; written here from the ODEs in each block's
docstring, never read back from the code) solved by ``scipy.integrate.solve_ivp`` (LSODA,
rtol 1e-10, atol 1e-12); closed forms (Bateman, the transit chain, the quadratic binding
equilibrium, turnover baselines, Hill at EC50, the periodic response of a linear turnover
to a cosine); and, for the TMDD approximations, the full Mager-Jusko model.

Tolerance (``assert_states``): qsp runs with rtol 1e-10 / atol 1e-12 per step here
(``SIM``); over a few hundred steps the global error of both integrators is ~1e-9 of a
state's scale. We allow 1e-7 of each state's largest magnitude plus 1e-7 relative: solver
noise passes with ~100x margin, a modelling error (a volume applied twice, a rate constant
on the wrong species) fails by orders of magnitude.

Speed: JAX compiles cost ~2 s per model on two cores, so blocks are composed with prefixes
into a few models, each compiled once per module (fixtures), and simulated with one set of
solver options.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import qsp
from qsp import blocks

SIM = dict(rtol=1e-10, atol=1e-12)  # one set of options: one trace per model
REF = dict(method="LSODA", rtol=1e-10, atol=1e-12)
STATE_RTOL = 1e-7  # see module docstring


def assert_states(actual, expected, rtol=STATE_RTOL, what=""):
    """|actual − expected| ≤ rtol·(max|expected| + |expected|), elementwise per state."""
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    scale = np.max(np.abs(expected), axis=0, keepdims=True) if expected.ndim > 1 else np.max(np.abs(expected))
    bound = rtol * (scale + np.abs(expected))
    err = np.abs(actual - expected)
    worst = np.unravel_index(np.argmax(err - bound), err.shape)
    assert np.all(err <= bound), (f"{what}: worst at {worst}: got {actual[worst]!r}, expected {expected[worst]!r}, "
                                  f"bound {bound[worst]:.3g}")


def solve_hand(rhs, y0, ts, t_breaks=()):
    """Hand-written ``rhs(t, y)`` by scipy at ``ts``, restarting at ``t_breaks`` (infusion edges)."""
    ts = np.asarray(ts, float)
    edges = [float(ts[0]), *sorted(b for b in t_breaks if ts[0] < b < ts[-1]), float(ts[-1])]
    out, y = [], np.asarray(y0, float)
    for a, b in zip(edges[:-1], edges[1:]):
        wanted = ts[(ts >= a) & ((ts <= b) if b == edges[-1] else (ts < b))]
        grid = np.union1d(wanted, [b])
        res = solve_ivp(rhs, (a, b), y, t_eval=grid, **REF)
        assert res.success, res.message
        out.append(res.y.T[np.isin(grid, wanted)])
        y = res.y[:, -1]
    return np.concatenate(out)


def amounts(sol, names):
    return np.stack([np.asarray(sol.amount(n)) for n in names], axis=1)


TS = np.linspace(0.0, 48.0, 49)


# ====================================================================== PK disposition
PK_CL = dict(CL=2.0, V1=20.0, Q2=4.0, V2=40.0, Q3=0.8, V3=90.0)


@pytest.fixture(scope="module")
def disposition():
    """1-, 2- and 3-compartment clearance forms in one model, each dosed 100 mg IV."""
    p = PK_CL
    one = blocks.one_compartment(CL=p["CL"], V=p["V1"], prefix="one")
    two = blocks.two_compartment(CL=p["CL"], V1=p["V1"], Q=p["Q2"], V2=p["V2"], prefix="two")
    three = blocks.three_compartment(**p, prefix="three")
    model = blocks.assemble(one, two, three, name="disposition")
    regimen = qsp.Regimen([qsp.Bolus(b["Ac"], amount=100.0, time=0.0) for b in (one, two, three)])
    sol = qsp.simulate(qsp.compile(model), TS, regimen=regimen, **SIM)
    return dict(one=one, two=two, three=three, sol=sol)


def _three_rhs(p, n_periph):
    """Amount ODEs of the mammillary model with CL, V1 and up to two (Q, V) pairs."""
    pairs = [(p["Q2"], p["V2"]), (p["Q3"], p["V3"])][:n_periph]

    def rhs(t, y):
        c = y[0] / p["V1"]
        dy = np.zeros_like(y)
        dy[0] = -p["CL"] * c
        for i, (Q, V) in enumerate(pairs, start=1):
            flow = Q * c - Q * y[i] / V
            dy[0] -= flow
            dy[i] = flow
        return dy
    return rhs


@pytest.mark.parametrize("n_periph, key, states", [(0, "one", ["Ac"]), (1, "two", ["Ac", "Ap"]),
                                                   (2, "three", ["Ac", "Ap", "Ap2"])])
def test_disposition_clearance_forms_match_scipy(disposition, n_periph, key, states):
    blk, sol = disposition[key], disposition["sol"]
    y0 = np.zeros(n_periph + 1)
    y0[0] = 100.0
    expected = solve_hand(_three_rhs(PK_CL, n_periph), y0, TS)
    assert_states(amounts(sol, [blk.name(s) for s in states]), expected, what=key)
    # the observable C is the central concentration
    np.testing.assert_allclose(np.asarray(sol[blk.name("C")]), np.asarray(sol.amount(blk.name("Ac"))) / PK_CL["V1"],
                               rtol=1e-14)


def test_one_compartment_closed_form(disposition):
    sol, blk = disposition["sol"], disposition["one"]
    exact = 100.0 / PK_CL["V1"] * np.exp(-PK_CL["CL"] / PK_CL["V1"] * TS)
    assert_states(np.asarray(sol[blk.name("C")]), exact, what="C = D/V exp(-CL/V t)")


@pytest.fixture(scope="module")
def micro():
    """Micro-constant forms of the same three models (k10 = CL/V1, k12 = Q/V1, k21 = Q/V2)."""
    p = PK_CL
    k = dict(k10=p["CL"] / p["V1"], k12=p["Q2"] / p["V1"], k21=p["Q2"] / p["V2"],
             k13=p["Q3"] / p["V1"], k31=p["Q3"] / p["V3"])
    one = blocks.one_compartment_micro(k10=k["k10"], V=p["V1"], prefix="one")
    two = blocks.two_compartment_micro(k10=k["k10"], k12=k["k12"], k21=k["k21"], V1=p["V1"], prefix="two")
    three = blocks.three_compartment_micro(**k, V1=p["V1"], prefix="three")
    model = blocks.assemble(one, two, three, name="micro")
    regimen = qsp.Regimen([qsp.Bolus(b["Ac"], amount=100.0, time=0.0) for b in (one, two, three)])
    return dict(one=one, two=two, three=three, k=k,
                sol=qsp.simulate(qsp.compile(model), TS, regimen=regimen, **SIM))


def test_micro_constant_forms_match_scipy_and_the_clearance_forms(micro, disposition):
    k, sol = micro["k"], micro["sol"]

    def rhs(t, y):  # the textbook micro-constant ODEs, amounts
        a1, a2, a3 = y
        return [-(k["k10"] + k["k12"] + k["k13"]) * a1 + k["k21"] * a2 + k["k31"] * a3,
                k["k12"] * a1 - k["k21"] * a2, k["k13"] * a1 - k["k31"] * a3]
    expected = solve_hand(rhs, [100.0, 0.0, 0.0], TS)
    three = micro["three"]
    assert_states(amounts(sol, [three.name(s) for s in ("Ac", "Ap", "Ap2")]), expected, what="3-cmt micro")
    for key in ("one", "two", "three"):  # same model, two parameterisations: same concentrations
        for obs in ("C", "Cp", "Cp2"):
            if obs in micro[key].roles:
                assert_states(np.asarray(sol[micro[key].name(obs)]),
                              np.asarray(disposition["sol"][disposition[key].name(obs)]), what=f"{key} {obs}")


# ====================================================================== absorption and elimination
ORAL = dict(CL=3.0, V=30.0, ka=0.9, F=0.6, tlag=0.75, dose=200.0)


@pytest.fixture(scope="module")
def oral():
    """One compartment with first-order absorption, F and lag as model parameters."""
    pk = blocks.one_compartment(CL=ORAL["CL"], V=ORAL["V"])
    absorption = blocks.first_order_absorption(pk["Ac"], ka=ORAL["ka"], F=ORAL["F"], lag=ORAL["tlag"])
    model = blocks.assemble(pk, absorption, name="oral")
    regimen = qsp.Regimen([qsp.Bolus(absorption["dose"], amount=ORAL["dose"], time=0.0,
                                     bioavailability=absorption["F"], lag=absorption["tlag"])])
    return dict(pk=pk, absorption=absorption, compiled=qsp.compile(model), regimen=regimen)


def test_first_order_absorption_bateman_and_scipy(oral):
    p = ORAL
    sol = qsp.simulate(oral["compiled"], TS, regimen=oral["regimen"], **SIM)
    k = p["CL"] / p["V"]
    tt = np.clip(TS - p["tlag"], 0.0, None)
    bateman = p["F"] * p["dose"] * p["ka"] / (p["V"] * (p["ka"] - k)) * (np.exp(-k * tt) - np.exp(-p["ka"] * tt))
    assert_states(np.asarray(sol["C"]), bateman, what="Bateman")

    def rhs(t, y):
        return [-p["ka"] * y[0], p["ka"] * y[0] - p["CL"] * y[1] / p["V"]]
    after = TS[TS >= p["tlag"]]
    expected = solve_hand(rhs, [p["F"] * p["dose"], 0.0], np.concatenate([[p["tlag"]], after]))[1:]
    assert_states(amounts(sol, ["Ad", "Ac"])[TS >= p["tlag"]], expected, what="oral vs scipy")
    # F and lag are data: a new value needs no new block and no recompile
    sol2 = qsp.simulate(oral["compiled"], TS, params={"F": 0.3}, regimen=oral["regimen"], **SIM)
    np.testing.assert_allclose(np.asarray(sol2["C"]), 0.5 * np.asarray(sol["C"]), rtol=1e-8, atol=1e-12)


TRANSIT = dict(n=4, MTT=2.5, ka=1.7, V=15.0, Vmax=12.0, Km=3.0, dose=150.0)


@pytest.fixture(scope="module")
def transit():
    """Transit absorption (n = 4) into a one-compartment model with Michaelis-Menten elimination."""
    p = TRANSIT
    pk = blocks.one_compartment(CL=None, V=p["V"])
    mm = blocks.michaelis_menten_elimination(pk["Ac"], Vmax=p["Vmax"], Km=p["Km"])
    tr = blocks.transit_absorption(pk["Ac"], n=p["n"], MTT=p["MTT"], ka=p["ka"])
    model = blocks.assemble(pk, mm, tr, name="transit_mm")
    regimen = qsp.Regimen([qsp.Bolus(tr["dose"], amount=p["dose"], time=0.0)])
    sol = qsp.simulate(qsp.compile(model), TS, regimen=regimen, **SIM)
    return dict(pk=pk, tr=tr, sol=sol)


def test_transit_chain_matches_its_closed_form(transit):
    p = TRANSIT
    ktr = (p["n"] + 1) / p["MTT"]
    chain = blocks.transit_chain_amounts(TS, p["dose"], p["n"], ktr)
    # independent closed form written out here: dose (ktr t)^k / k! e^(-ktr t)
    for k in range(p["n"] + 1):
        by_hand = p["dose"] * (ktr * TS) ** k / math.factorial(k) * np.exp(-ktr * TS)
        np.testing.assert_allclose(chain[k], by_hand, rtol=1e-12, atol=1e-300)
    got = amounts(transit["sol"], [f"Atr{k}" for k in range(p["n"] + 1)])
    assert_states(got, chain.T, what="transit chain vs closed form")
    # Savic's input rate to the depot is ktr times the last chain amount
    np.testing.assert_allclose(blocks.transit_input_rate(TS, p["dose"], p["n"], ktr), ktr * chain[-1], rtol=1e-12)


def test_transit_with_michaelis_menten_elimination_matches_scipy(transit):
    p = TRANSIT
    n, ktr = p["n"], (p["n"] + 1) / p["MTT"]

    def rhs(t, y):
        chain, ad, ac = y[: n + 1], y[n + 1], y[n + 2]
        d = np.empty_like(y)
        d[0] = -ktr * chain[0]
        d[1: n + 1] = ktr * chain[:-1] - ktr * chain[1:]
        d[n + 1] = ktr * chain[-1] - p["ka"] * ad
        c = ac / p["V"]
        d[n + 2] = p["ka"] * ad - p["Vmax"] * c / (p["Km"] + c)
        return d
    y0 = np.zeros(n + 3)
    y0[0] = p["dose"]
    expected = solve_hand(rhs, y0, TS)
    names = [*(f"Atr{k}" for k in range(n + 1)), "Ad", "Ac"]
    assert_states(amounts(transit["sol"], names), expected, what="transit + MM")


ZERO = dict(CL_H=1.2, k_renal=0.03, eGFR=60.0, V=25.0, Tk0=3.0, tlag=0.5, F=0.8, dose=120.0)


@pytest.fixture(scope="module")
def zero_order():
    """Zero-order absorption (modelled duration and lag) into a one-compartment model whose
    clearance is split into hepatic and eGFR-proportional renal parts."""
    p = ZERO
    split = blocks.clearance_split(CL_H=p["CL_H"], k_renal=p["k_renal"], eGFR=p["eGFR"])
    pk = blocks.one_compartment(CL=split["CL"], V=p["V"])
    zo = blocks.zero_order_absorption(pk["Ac"], duration=p["Tk0"], F=p["F"], lag=p["tlag"])
    model = blocks.assemble(split, pk, zo, name="zero_order")
    regimen = qsp.Regimen([qsp.Infusion(zo["dose"], amount=p["dose"], time=1.0, duration=zo["Tk0"],
                                        lag=zo["tlag"], bioavailability=zo["F"])])
    return dict(compiled=qsp.compile(model), regimen=regimen, split=split)


@pytest.mark.parametrize("eGFR", [60.0, 15.0])
def test_zero_order_absorption_and_clearance_split_match_scipy(zero_order, eGFR):
    p = {**ZERO, "eGFR": eGFR}
    sol = qsp.simulate(zero_order["compiled"], TS, params={"eGFR": eGFR}, regimen=zero_order["regimen"], **SIM)
    CL = p["CL_H"] + p["k_renal"] * eGFR
    start, stop = 1.0 + p["tlag"], 1.0 + p["tlag"] + p["Tk0"]

    def rhs(t, y):
        rate = p["F"] * p["dose"] / p["Tk0"] if start <= t < stop else 0.0
        return [rate - CL * y[0] / p["V"]]
    expected = solve_hand(rhs, [0.0], TS, t_breaks=(start, stop))
    assert_states(amounts(sol, ["Ac"]), expected, what=f"zero order, eGFR {eGFR}")
    np.testing.assert_allclose(np.asarray(sol["CL"]), CL, rtol=1e-14)
    np.testing.assert_allclose(np.asarray(sol["renal_fraction"]), p["k_renal"] * eGFR / CL, rtol=1e-14)
