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
    """1-, 2- and 3-compartment clearance forms and their micro-constant forms (k10 = CL/V1,
    k12 = Q/V1, k21 = Q/V2, ...) in one model (one compile), each dosed 100 mg IV."""
    p = PK_CL
    k = dict(k10=p["CL"] / p["V1"], k12=p["Q2"] / p["V1"], k21=p["Q2"] / p["V2"],
             k13=p["Q3"] / p["V1"], k31=p["Q3"] / p["V3"])
    built = dict(
        one=blocks.one_compartment(CL=p["CL"], V=p["V1"], prefix="one"),
        two=blocks.two_compartment(CL=p["CL"], V1=p["V1"], Q=p["Q2"], V2=p["V2"], prefix="two"),
        three=blocks.three_compartment(**p, prefix="three"),
        m_one=blocks.one_compartment_micro(k10=k["k10"], V=p["V1"], prefix="m_one"),
        m_two=blocks.two_compartment_micro(k10=k["k10"], k12=k["k12"], k21=k["k21"], V1=p["V1"], prefix="m_two"),
        m_three=blocks.three_compartment_micro(**k, V1=p["V1"], prefix="m_three"),
    )
    model = blocks.assemble(*built.values(), name="disposition")
    regimen = qsp.Regimen([qsp.Bolus(b["Ac"], amount=100.0, time=0.0) for b in built.values()])
    sol = qsp.simulate(qsp.compile(model), TS, regimen=regimen, **SIM)
    return dict(**built, k=k, sol=sol)


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


def test_micro_constant_forms_match_scipy_and_the_clearance_forms(disposition):
    k, sol = disposition["k"], disposition["sol"]

    def rhs(t, y):  # the textbook micro-constant ODEs, amounts
        a1, a2, a3 = y
        return [-(k["k10"] + k["k12"] + k["k13"]) * a1 + k["k21"] * a2 + k["k31"] * a3,
                k["k12"] * a1 - k["k21"] * a2, k["k13"] * a1 - k["k31"] * a3]
    expected = solve_hand(rhs, [100.0, 0.0, 0.0], TS)
    three = disposition["m_three"]
    assert_states(amounts(sol, [three.name(s) for s in ("Ac", "Ap", "Ap2")]), expected, what="3-cmt micro")
    for key in ("one", "two", "three"):  # same model, two parameterisations: same concentrations
        micro = disposition[f"m_{key}"]
        for obs in ("C", "Cp", "Cp2"):
            if obs in micro.roles:
                assert_states(np.asarray(sol[micro.name(obs)]), np.asarray(sol[disposition[key].name(obs)]),
                              what=f"{key} {obs}")


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


TRANSIT = dict(n=4, MTT=2.5, ka=1.7, V=15.0, Vmax=12.0, Km=3.0, CL_lin=0.6, dose=150.0)


@pytest.fixture(scope="module")
def transit():
    """Transit absorption (n = 4) into a one-compartment model with Michaelis-Menten and linear
    elimination (two routes, each its own block)."""
    p = TRANSIT
    pk = blocks.one_compartment(CL=None, V=p["V"])
    mm = blocks.michaelis_menten_elimination(pk["Ac"], Vmax=p["Vmax"], Km=p["Km"])
    linear = blocks.linear_elimination(pk["Ac"], CL=p["CL_lin"])
    tr = blocks.transit_absorption(pk["Ac"], n=p["n"], MTT=p["MTT"], ka=p["ka"])
    model = blocks.assemble(pk, mm, linear, tr, name="transit_mm")
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


def test_transit_with_michaelis_menten_and_linear_elimination_matches_scipy(transit):
    p = TRANSIT
    n, ktr = p["n"], (p["n"] + 1) / p["MTT"]

    def rhs(t, y):
        chain, ad, ac = y[: n + 1], y[n + 1], y[n + 2]
        d = np.empty_like(y)
        d[0] = -ktr * chain[0]
        d[1: n + 1] = ktr * chain[:-1] - ktr * chain[1:]
        d[n + 1] = ktr * chain[-1] - p["ka"] * ad
        c = ac / p["V"]
        d[n + 2] = p["ka"] * ad - p["Vmax"] * c / (p["Km"] + c) - p["CL_lin"] * c
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


# ====================================================================== protein binding
BIND = dict(CL=0.5, V=5.0, KD=100.0, koff=100.0, P0=600.0, kdeg_P=0.0015, dose=3000.0)  # µmol, µmol/L, L, h


@pytest.fixture(scope="module")
def binding():
    """Explicit and rapid-equilibrium binding, each on its own one-compartment host (prefixes e_, r_);
    the host clearance acts on free drug in both."""
    p = BIND
    kw = dict(KD=p["KD"], koff=p["koff"], P0=p["P0"], kdeg_P=p["kdeg_P"])
    pk_e = blocks.one_compartment(CL=p["CL"], V=p["V"], prefix="e")
    pk_r = blocks.one_compartment(CL=p["CL"], V=p["V"], prefix="r")
    explicit = blocks.protein_binding(pk_e["Ac"], host=pk_e, form="explicit", prefix="e", **kw)
    rapid = blocks.protein_binding(pk_r["Ac"], host=pk_r, form="rapid_equilibrium", prefix="r", **kw)
    compiled = qsp.compile(blocks.assemble(explicit, rapid, name="binding"))

    def run(dose=p["dose"], params=None):
        regimen = qsp.Regimen([qsp.Bolus(explicit["drug"], amount=dose, time=0.0),
                               qsp.Bolus(rapid["drug"], amount=dose, time=0.0)])
        return qsp.simulate(compiled, TS, params=params, regimen=regimen, **SIM)
    return dict(explicit=explicit, rapid=rapid, run=run, sol=run())


def _quadratic_free(total, protein, KD):
    """The positive root of C² + (Ptot + KD − Ctot)·C − KD·Ctot = 0, the textbook way."""
    b = protein + KD - total
    return (-b + np.sqrt(b * b + 4 * KD * total)) / 2


def test_explicit_binding_matches_scipy(binding):
    p = BIND
    kon, ksyn = p["koff"] / p["KD"], p["kdeg_P"] * p["P0"]

    def rhs(t, y):  # amounts D, P, DP in one volume V; concentrations inside
        D, P, DP = y / p["V"]
        bind = (kon * D * P - p["koff"] * DP) * p["V"]
        return [-p["CL"] * D - bind + p["kdeg_P"] * DP * p["V"],
                ksyn * p["V"] - p["kdeg_P"] * P * p["V"] - bind,
                bind - p["kdeg_P"] * DP * p["V"]]
    expected = solve_hand(rhs, [p["dose"], p["P0"] * p["V"], 0.0], TS)
    sol = binding["sol"]
    assert_states(amounts(sol, ["e_Ac", "e_P", "e_DP"]), expected, what="explicit binding")
    # protein turnover does not see the drug: total protein stays at P0
    np.testing.assert_allclose(np.asarray(sol["e_P"]) + np.asarray(sol["e_DP"]), p["P0"], rtol=1e-8)


def test_rapid_equilibrium_binding_matches_scipy_and_the_quadratic(binding):
    p = BIND

    def rhs(t, y):
        total, protein = y / p["V"]
        free = _quadratic_free(total, protein, p["KD"])
        return [-p["CL"] * free, p["kdeg_P"] * (p["P0"] - protein) * p["V"]]
    expected = solve_hand(rhs, [p["dose"], p["P0"] * p["V"]], TS)
    sol = binding["sol"]
    assert_states(amounts(sol, ["r_Ac", "r_Ptot"]), expected, what="rapid equilibrium")
    total, protein = np.asarray(sol["r_drug_total"]), np.asarray(sol["r_Ptot"])
    free = _quadratic_free(total, protein, p["KD"])
    np.testing.assert_allclose(np.asarray(sol["r_drug_free"]), free, rtol=1e-10)  # the same root, written twice
    np.testing.assert_allclose(np.asarray(sol["r_fu"]), free / total, rtol=1e-10)
    fu = free / total
    assert 0.15 < np.min(fu) and np.max(fu) > 1.5 * np.min(fu)  # fu changes with drug: the quadratic matters
    np.testing.assert_allclose(np.asarray(sol["r_C"]), free, rtol=1e-10)  # the host's C now reports free drug


def test_free_fraction_without_drug_is_KD_over_KD_plus_P(binding):
    sol = binding["run"](dose=0.0)
    expected = BIND["KD"] / (BIND["KD"] + BIND["P0"])
    np.testing.assert_allclose(np.asarray(sol["r_fu"]), expected, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(sol["e_fu"]), expected, rtol=1e-12)


def test_explicit_binding_approaches_rapid_equilibrium_when_binding_is_fast(binding):
    # koff 100/h: binding relaxes at koff + kon·P ~ 700/h against elimination ~0.1/h, so the
    # forms agree (observed 9e-5 in total drug); at koff 0.1/h (kon·P ~ 0.7/h) they visibly do
    # not (observed 8e-2). Thresholds sit 20x and 4x from those.
    def gap(koff):
        sol = binding["run"](params={"e_koff": koff, "r_koff": koff})
        e, r = np.asarray(sol["e_drug_total"]), np.asarray(sol["r_drug_total"])
        return np.max(np.abs(e - r) / r)
    assert gap(100.0) < 2e-3
    assert gap(0.1) > 2e-2


# ====================================================================== TMDD
TMDD_PK = dict(V1=3.0, V2=2.0, CL=0.1, Q=0.3)  # L, L/h; drug in nmol, concentrations nM
TMDD_TURNOVER = dict(ksyn=0.2, kdeg=0.2)  # R0 = 1 nM
APPROX = ("full", "qe", "qss", "mm")
TS_TMDD = np.linspace(0.0, 168.0, 57)


@pytest.fixture(scope="module")
def tmdd():
    """The four approximations side by side, each on its own two-compartment host (prefix = name)."""
    built = {}
    for a in APPROX:
        pk = blocks.two_compartment(**TMDD_PK, prefix=a)
        built[a] = blocks.tmdd(pk["Ac"], host=pk, approximation=a, prefix=a, **TMDD_TURNOVER)
    compiled = qsp.compile(blocks.assemble(*built.values(), name="tmdd_all"))

    def run(dose, **values):
        params = {f"{a}_{k}": v for a in APPROX for k, v in values.items()}
        regimen = qsp.Regimen([qsp.Bolus(built[a]["drug"], amount=dose, time=0.0) for a in APPROX])
        return qsp.simulate(compiled, TS_TMDD, params=params, regimen=regimen, **SIM)
    return dict(built=built, run=run)


def _tmdd_hand(kind, p, dose):
    """Amount ODEs of each approximation, written from the papers' equations (concentrations inside)."""
    V1, V2, CL, Q = p["V1"], p["V2"], p["CL"], p["Q"]
    kon, koff, kint, ksyn, kdeg = p["kon"], p["koff"], p["kint"], p["ksyn"], p["kdeg"]
    R0 = ksyn / kdeg
    if kind == "full":  # Mager & Jusko 2001
        def rhs(t, y):
            L, Lp, R, RL = y[0] / V1, y[1] / V2, y[2] / V1, y[3] / V1
            net = kon * L * R - koff * RL
            return [(-CL * L - Q * L + Q * Lp) - net * V1, Q * L - Q * Lp,
                    (ksyn - kdeg * R - net) * V1, (net - kint * RL) * V1]
        return rhs, [dose, 0.0, R0 * V1, 0.0]
    if kind in ("qe", "qss"):  # Gibiansky 2008 eqs. (QSS: KSS; QE: KD)
        K = (koff + kint) / kon if kind == "qss" else koff / kon

        def rhs(t, y):
            Ltot, Lp, Rtot = y[0] / V1, y[1] / V2, y[2] / V1
            L = _quadratic_free(Ltot, Rtot, K)
            RL = Rtot * L / (K + L)
            return [(-CL * L - Q * L + Q * Lp) - kint * RL * V1, Q * L - Q * Lp,
                    (ksyn - kdeg * Rtot - (kint - kdeg) * RL) * V1]
        return rhs, [dose, 0.0, R0 * V1]
    KSS = (koff + kint) / kon  # mm

    def rhs(t, y):
        L, Lp = y[0] / V1, y[1] / V2
        return [(-CL * L - Q * L + Q * Lp) - kint * R0 * L / (KSS + L) * V1, Q * L - Q * Lp]
    return rhs, [dose, 0.0]


TMDD_FAST = dict(kon=10.0, koff=1.0, kint=0.2)  # binding fast; kint = kdeg (Rtot nearly constant)


@pytest.mark.parametrize("kind, states", [("full", ["Ac", "Ap", "R", "RL"]), ("qe", ["Ac", "Ap", "Rtot"]),
                                          ("qss", ["Ac", "Ap", "Rtot"]), ("mm", ["Ac", "Ap"])])
def test_tmdd_each_approximation_matches_its_equations(tmdd, kind, states):
    p = {**TMDD_PK, **TMDD_TURNOVER, **TMDD_FAST}
    sol = tmdd["run"](300.0, **TMDD_FAST)
    rhs, y0 = _tmdd_hand(kind, p, 300.0)
    expected = solve_hand(rhs, y0, TS_TMDD)
    assert_states(amounts(sol, [f"{kind}_{s}" for s in states]), expected, what=kind)


def test_tmdd_observables_have_one_meaning_across_approximations(tmdd):
    sol = tmdd["run"](300.0, **TMDD_FAST)
    V1 = TMDD_PK["V1"]
    full = {k: np.asarray(sol[f"full_{k}"]) for k in ("drug_free", "drug_total", "target_free", "target_total",
                                                       "complex", "occupancy")}
    np.testing.assert_allclose(full["drug_total"], (np.asarray(sol.amount("full_Ac")) + np.asarray(
        sol.amount("full_RL"))) / V1, rtol=1e-12)
    np.testing.assert_allclose(full["occupancy"], full["complex"] / full["target_total"], rtol=1e-12)
    qss = {k: np.asarray(sol[f"qss_{k}"]) for k in full}
    # total = free + complex by construction of the quadratic, to rounding
    np.testing.assert_allclose(qss["drug_free"] + qss["complex"], qss["drug_total"], rtol=1e-10)
    np.testing.assert_allclose(qss["target_free"] + qss["complex"], qss["target_total"], rtol=1e-10)
    # the baseline target is R0 = ksyn/kdeg in every approximation
    for a in APPROX:
        assert float(sol[f"{a}_target_total"][0]) == pytest.approx(TMDD_TURNOVER["ksyn"] / TMDD_TURNOVER["kdeg"])


# (scenario, binding parameters, dose [nmol], which approximations must agree with the full model)
TMDD_SCENARIOS = [
    # fast binding, kint << koff: both valid (Gibiansky 2008; KSS ~ KD)
    ("valid", dict(kon=10.0, koff=1.0, kint=0.02), 300.0, {"qe": True, "qss": True}),
    # internalisation much faster than dissociation: KSS = 21 KD, so QE is wrong, QSS still right
    ("kint >> koff", dict(kon=100.0, koff=0.1, kint=2.0), 300.0, {"qe": False, "qss": True}),
    # slow binding (kon R0 = 0.02/h, slower than distribution): neither quasi-steady state holds
    ("slow binding", dict(kon=0.02, koff=0.002, kint=0.02), 300.0, {"qe": False, "qss": False}),
    # MM: Rtot constant (kint = kdeg) and drug in large excess of target (1000 nM vs R0 = 1 nM) ...
    ("mm valid", dict(kon=10.0, koff=1.0, kint=0.2), 3000.0, {"mm": True}),
    # ... but not when the drug falls to the level of the target
    ("mm invalid", dict(kon=10.0, koff=1.0, kint=0.2), 30.0, {"mm": False}),
]


def test_tmdd_approximations_agree_where_valid_and_disagree_where_not(tmdd):
    # Measure: the largest relative error in total drug over t >= 3 h (after the initial binding
    # transient, which no quasi-steady state can describe) where the full model's total drug is
    # above 0.1 nM. Agreement: < 1% (observed <= 0.25%). Disagreement: > 5% (observed >= 11%).
    # Both thresholds sit a factor >= 2 from what was observed, so the test tells the regimes
    # apart without being sensitive to solver noise (1e-9).
    for name, values, dose, expect in TMDD_SCENARIOS:
        sol = tmdd["run"](dose, **values)
        full = np.asarray(sol["full_drug_total"])
        mask = (TS_TMDD >= 3.0) & (full > 0.1)
        for a, agrees in expect.items():
            err = np.max(np.abs(np.asarray(sol[f"{a}_drug_total"])[mask] - full[mask]) / full[mask])
            if agrees:
                assert err < 0.01, f"{name}: {a} should agree with the full model, error {err:.3g}"
            else:
                assert err > 0.05, f"{name}: {a} should visibly disagree with the full model, error {err:.3g}"


# ====================================================================== PD, turnover, indirect response
PD = dict(CL=4.0, V=20.0, dose=100.0, E0=5.0, Emax=40.0, EC50=1.5, hill=2.5, Imax_E=3.0, IC50_E=0.8,
          ke0=0.4, kin=12.0, kout=0.3, Imax=0.8, IC50=1.2, Smax=2.0, SC50=0.9, lower=1.0, upper=3.0, width=0.05)
IDR_KINDS = (1, 2, 3, 4)


@pytest.fixture(scope="module")
def pd():
    """IV bolus one-compartment PK driving: a sigmoid Emax (stimulation), a plain inhibitory Emax,
    an effect compartment, the four indirect responses (prefixes i1..i4) and a therapeutic window."""
    p = PD
    pk = blocks.one_compartment(CL=p["CL"], V=p["V"])
    C = pk["Ac"]
    hill = blocks.emax(C, E0=p["E0"], Emax=p["Emax"], EC50=p["EC50"], hill=p["hill"])
    inh = blocks.emax(C, E0=p["E0"], Emax=p["Imax_E"], EC50=p["IC50_E"], kind="inhibition", prefix="inh")
    ec = blocks.effect_compartment(C, ke0=p["ke0"])
    idr = {k: blocks.indirect_response(C, kind=k, kin=p["kin"], kout=p["kout"], prefix=f"i{k}",
                                       **(dict(Imax=p["Imax"], IC50=p["IC50"]) if k < 3 else
                                          dict(Smax=p["Smax"], SC50=p["SC50"])))
           for k in IDR_KINDS}
    win = blocks.therapeutic_window(C, lower=p["lower"], upper=p["upper"], width=p["width"])
    compiled = qsp.compile(blocks.assemble(pk, hill, inh, ec, *idr.values(), win, name="pd"))

    def run(dose=p["dose"], params=None):
        regimen = qsp.Regimen([qsp.Bolus(C, amount=dose, time=0.0)])
        return qsp.simulate(compiled, TS, params=params, regimen=regimen, **SIM)
    return dict(pk=pk, hill=hill, inh=inh, ec=ec, idr=idr, win=win, run=run, sol=run())


def _conc(p, ts=TS):
    return p["dose"] / p["V"] * np.exp(-p["CL"] / p["V"] * ts)


def test_emax_and_hill_effects_follow_their_formulas(pd):
    p, sol = PD, pd["sol"]
    C = _conc(p)
    hill = p["E0"] + p["Emax"] * C ** p["hill"] / (p["EC50"] ** p["hill"] + C ** p["hill"])
    assert_states(np.asarray(sol["E"]), hill, what="sigmoid Emax")
    inhibition = p["E0"] - p["Imax_E"] * C / (p["IC50_E"] + C)
    assert_states(np.asarray(sol["inh_E"]), inhibition, what="inhibitory Emax")


def test_hill_at_EC50_is_half_of_Emax(pd):
    # EC50 moved (data, no recompile) to the concentration at t = 6 h; for any Hill coefficient
    # the effect there is E0 + Emax/2 (to the ODE's accuracy in C, ~1e-9)
    p = PD
    i = int(np.searchsorted(TS, 6.0))
    c_star = float(_conc(p)[i])
    for h in (0.7, 1.0, 3.0):
        sol = pd["run"](params={"EC50": c_star, "hill": h})
        assert float(sol["E"][i]) == pytest.approx(p["E0"] + p["Emax"] / 2, rel=1e-8)


def test_effect_compartment_closed_form(pd):
    p, sol = PD, pd["sol"]
    k, C0 = p["CL"] / p["V"], p["dose"] / p["V"]
    exact = C0 * p["ke0"] / (p["ke0"] - k) * (np.exp(-k * TS) - np.exp(-p["ke0"] * TS))
    assert_states(np.asarray(sol["Ce"]), exact, what="effect compartment")


def _idr_rhs(kind, p):
    def rhs(t, y):
        C = _conc(p, t)
        inhibit = p["Imax"] * C / (p["IC50"] + C)
        stimulate = p["Smax"] * C / (p["SC50"] + C)
        R = y[0]
        return [{1: p["kin"] * (1 - inhibit) - p["kout"] * R,
                 2: p["kin"] - p["kout"] * (1 - inhibit) * R,
                 3: p["kin"] * (1 + stimulate) - p["kout"] * R,
                 4: p["kin"] - p["kout"] * (1 + stimulate) * R}[kind]]
    return rhs


@pytest.mark.parametrize("kind", IDR_KINDS)
def test_indirect_responses_match_scipy(pd, kind):
    p = PD
    expected = solve_hand(_idr_rhs(kind, p), [p["kin"] / p["kout"]], TS)
    assert_states(amounts(pd["sol"], [f"i{kind}_R"]), expected, what=f"IDR {kind}")
    # the direction of each model: I and IV lower the response, II and III raise it
    R = np.asarray(pd["sol"][f"i{kind}_R"])
    assert (R[12] < R[0]) if kind in (1, 4) else (R[12] > R[0])


def test_turnover_baseline_is_kin_over_kout(pd):
    # no drug: every response rests at R0 = kin/kout; and the baseline moves with kin/kout
    sol = pd["run"](dose=0.0, params={"i1_kin": 3.0, "i1_kout": 0.25})
    np.testing.assert_allclose(np.asarray(sol["i1_R"]), 3.0 / 0.25, rtol=1e-12)
    for k in (2, 3, 4):
        np.testing.assert_allclose(np.asarray(sol[f"i{k}_R"]), PD["kin"] / PD["kout"], rtol=1e-12)
    # after a dose, the response returns to R0 once the drug is gone (t = 48 h, C ~ 1e-4 IC50)
    R = np.asarray(pd["sol"]["i1_R"])
    assert abs(R[-1] - PD["kin"] / PD["kout"]) < 1e-3 * PD["kin"] / PD["kout"] < abs(R[10] - R[0])


def test_therapeutic_window_hard_smooth_and_accumulated(pd):
    p, sol = PD, pd["sol"]
    C = np.asarray(sol["C"])
    lo, hi = p["lower"], p["upper"]
    np.testing.assert_array_equal(np.asarray(sol["window_position"]), np.where(C < lo, -1, np.where(C > hi, 1, 0)))
    for name, hard in (("below", C < lo), ("inside", (C >= lo) & (C <= hi)), ("above", C > hi)):
        np.testing.assert_array_equal(np.asarray(sol[name]), hard.astype(float))
    assert {-1, 0, 1} <= set(np.asarray(sol["window_position"]).tolist())  # all three regions visited

    def sig(x):
        return 1 / (1 + np.exp(-x))
    a, b = sig((C - lo) / (p["width"] * lo)), sig((hi - C) / (p["width"] * hi))
    np.testing.assert_allclose(np.asarray(sol["inside_smooth"]), a * b, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(np.asarray(sol["below_smooth"]), 1 - a, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(np.asarray(sol["above_smooth"]), 1 - b, rtol=1e-12, atol=1e-15)
    # exactly 1/2 at a bound: move the lower bound onto C(t = 6 h) (data, no recompile)
    i = int(np.searchsorted(TS, 6.0))
    moved = pd["run"](params={"lower": float(C[i])})
    assert float(moved["below_smooth"][i]) == pytest.approx(0.5, rel=1e-9)
    # accumulated times: scipy integral of the same smooth indicators; they add up to ~48 h

    def rhs(t, y):
        c = _conc(p, t)
        a, b = sig((c - lo) / (p["width"] * lo)), sig((hi - c) / (p["width"] * hi))
        return [1 - a, a * b, 1 - b]
    expected = solve_hand(rhs, [0.0, 0.0, 0.0], TS)
    assert_states(amounts(sol, ["time_below", "time_inside", "time_above"]), expected, what="time in window")
    # hard time inside, from the closed form: C falls from 5 to 3 at t1 and to 1 at t2
    k = p["CL"] / p["V"]
    t_inside = (np.log(p["dose"] / p["V"] / lo) - np.log(p["dose"] / p["V"] / hi)) / k
    assert float(sol.amount("time_inside")[-1]) == pytest.approx(t_inside, rel=0.02)  # smooth vs hard edges


# ====================================================================== circadian
CIRC = dict(mesor=1.0, amplitude=0.6, acrophase=4.0, period=24.0, chronotype=1.5, kin=5.0, kout=0.5,
            osc_amplitude=0.4, osc_acrophase=6.0, osc_period=24.0, osc_chronotype=-1.0)
TS_LONG = np.linspace(0.0, 480.0, 1921)  # 20 days every 15 min


@pytest.fixture(scope="module")
def circadian():
    """A cosinor driving a disease-activity marker, and the Goodwin clock (prefix osc)."""
    p = CIRC
    cos = blocks.cosinor(mesor=p["mesor"], amplitude=p["amplitude"], acrophase=p["acrophase"], period=p["period"],
                         chronotype=p["chronotype"])
    activity = blocks.disease_activity(cos["rhythm"], kin=p["kin"], kout=p["kout"])
    osc = blocks.circadian_oscillator(amplitude=p["osc_amplitude"], acrophase=p["osc_acrophase"],
                                      period=p["osc_period"], chronotype=p["osc_chronotype"], prefix="osc")
    compiled = qsp.compile(blocks.assemble(cos, activity, osc, name="circadian"))

    def run(params=None):
        return qsp.simulate(compiled, TS_LONG, params=params, **SIM)
    return dict(osc=osc, run=run, sol=run())


def test_cosinor_rhythm_and_disease_activity(circadian):
    p, sol = CIRC, circadian["sol"]
    omega = 2 * np.pi / p["period"]
    peak = p["acrophase"] + p["chronotype"]
    rhythm = p["mesor"] + p["amplitude"] * np.cos(omega * (TS_LONG - peak))
    np.testing.assert_allclose(np.asarray(sol["rhythm"]), rhythm, rtol=1e-12)

    def rhs(t, y):
        return [p["kin"] * (p["mesor"] + p["amplitude"] * np.cos(omega * (t - peak))) - p["kout"] * y[0]]
    expected = solve_hand(rhs, [p["kin"] / p["kout"]], TS_LONG)
    assert_states(amounts(sol, ["activity"]), expected, what="disease activity")
    # the periodic solution of a cosine-driven turnover (transient e^(-kout t) < 1e-10 after 48 h)
    late = TS_LONG >= 48.0
    lag = np.arctan(omega / p["kout"])
    periodic = p["kin"] / p["kout"] * (p["mesor"] + p["amplitude"] * p["kout"] / np.hypot(p["kout"], omega)
                                       * np.cos(omega * (TS_LONG - peak) - lag))
    assert_states(np.asarray(sol["activity"])[late], periodic[late], what="periodic solution")
    # so it peaks peak_delay(kout) hours after the drive (here 1.84 h)
    day = TS_LONG[late][:96]
    t_max = day[np.argmax(np.asarray(sol["activity"])[late][:96])]
    offset = (t_max - peak - blocks.peak_delay(p["kout"], p["period"]) + 12.0) % 24.0 - 12.0
    assert offset == pytest.approx(0.0, abs=0.125)  # half the 15-min grid


def derive_goodwin_cycle(harmonics=14, samples=4096):
    """The oscillator's limit cycle at s = 1, from scipy alone: natural period, the state at a
    maximum of X, the extremes of X and Fourier coefficients of one period from that maximum.
    (This is how the constants in qsp/blocks/circadian.py were derived.)"""
    def f(t, y):
        X, Y, Z = y
        return [0.7 / (1 + Z ** 5) - 0.35 * X / (1 + X), 0.7 * X - 0.35 * Y / (1 + Y), 0.7 * Y - 0.35 * Z / (1 + Z)]

    def x_peak(t, y):
        return f(t, y)[0]
    x_peak.direction = -1
    tight = dict(method="DOP853", rtol=1e-13, atol=1e-15)
    run_in = solve_ivp(f, (0.0, 1000.0), [0.3, 0.5, 1.5], events=x_peak, **tight)  # ~40 cycles onto the cycle
    t_events = run_in.t_events[0]
    tau, y_peak = t_events[-1] - t_events[-2], run_in.y_events[0][-1]
    grid = np.arange(samples) * tau / samples
    one = solve_ivp(f, (0.0, tau), y_peak, t_eval=grid, dense_output=True, **tight)
    c = np.fft.rfft(one.y, axis=1) / samples
    cos = np.concatenate([c[:, :1].real, 2 * c[:, 1:harmonics + 1].real], axis=1)
    sin = np.concatenate([np.zeros((3, 1)), -2 * c[:, 1:harmonics + 1].imag], axis=1)
    fine = np.linspace(0.0, tau, 200001)
    x = one.sol(fine)[0]
    return dict(f=f, tau=tau, y_peak=y_peak, x_max=y_peak[0], x_min=x.min(), cos=cos, sin=sin)


@pytest.fixture(scope="module")
def goodwin():
    return derive_goodwin_cycle()


def test_goodwin_constants_are_those_of_the_limit_cycle(goodwin):
    from qsp.blocks import circadian as c
    assert c._TAU0 == pytest.approx(goodwin["tau"], rel=1e-9)
    assert c._X_MAX == pytest.approx(goodwin["x_max"], rel=1e-9)
    assert c._X_MIN == pytest.approx(goodwin["x_min"], rel=1e-6)  # minimum located on a 2e5-point grid
    np.testing.assert_allclose(np.array(c._COS), goodwin["cos"], rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(np.array(c._SIN), goodwin["sin"], rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(c.goodwin_cycle_state(0.0), goodwin["y_peak"], atol=2e-7)  # 14 harmonics


def _peaks(ts, y):
    """Times and heights of the local maxima of a sampled curve, refined by a parabola through
    each maximum and its two neighbours (error ~ (dt/period)^2 of the period, ~1e-5 here)."""
    i = np.where((y[1:-1] > y[:-2]) & (y[1:-1] >= y[2:]))[0] + 1
    dt = ts[1] - ts[0]
    a, b, c = y[i - 1], y[i], y[i + 1]
    shift = 0.5 * (a - c) / (a - 2 * b + c)
    return ts[i] + shift * dt, b - 0.25 * (a - c) * shift


@pytest.mark.parametrize("period, chronotype", [(24.0, -1.0), (26.5, 2.0)])
def test_oscillator_period_amplitude_and_phase_follow_the_parameters(circadian, goodwin, period, chronotype):
    p = CIRC
    sol = circadian["run"](params={"osc_period": period, "osc_chronotype": chronotype})
    rhythm = np.asarray(sol["osc_rhythm"])
    t_peak, heights = _peaks(TS_LONG, rhythm)
    t_trough, depths = _peaks(TS_LONG, -rhythm)
    # Observed (24 h and 26.5 h): period within 7e-9, amplitude within 3e-7, peak times within
    # 0.002 h, states within 1e-8 of scipy; the bounds below leave a margin of 10-100x.
    # period: mean spacing of the maxima over ~18 cycles
    assert np.mean(np.diff(t_peak)) == pytest.approx(period, rel=1e-6)
    # amplitude: half the peak-to-trough range of rhythm = mesor + amplitude * clock
    assert np.mean(heights + depths) / 2 == pytest.approx(p["osc_amplitude"], rel=1e-5)
    assert np.mean(heights - depths) / 2 == pytest.approx(p["mesor"], rel=1e-5)
    # phase: peaks at acrophase + chronotype + k * period from the first cycle on (no run-in)
    expected = p["osc_acrophase"] + chronotype + period * np.round((t_peak - p["osc_acrophase"] - chronotype) / period)
    np.testing.assert_allclose(t_peak, expected, atol=0.01)
    # the same clock by scipy: the unscaled equations times s = tau0/period, from the model's
    # initial state (tau0 measured by scipy above, not read from qsp)
    s = goodwin["tau"] / period
    y0 = np.stack([np.asarray(sol.amount(f"osc_clock_{n}"))[0] for n in "XYZ"])
    expected_states = solve_hand(lambda t, y: s * np.asarray(goodwin["f"](t, y)), y0, TS_LONG)
    assert_states(amounts(sol, [f"osc_clock_{n}" for n in "XYZ"]), expected_states,
                  what="Goodwin clock vs scipy")  # over 20 cycles


# ====================================================================== units and errors (no compile)
def test_block_models_pass_the_unit_check_and_their_rates_are_amounts_per_hour():
    from qsp.model.units import check_units
    pk = blocks.two_compartment(amount_unit="nmol")
    oral = blocks.transit_absorption(pk["Ac"], n=2, F=0.5, lag=0.5)
    split = blocks.clearance_split()
    pk1 = blocks.one_compartment(CL=split["CL"], amount_unit="umol")
    models = {
        "oral": blocks.assemble(pk, oral),
        "split+binding": blocks.assemble(split, blocks.protein_binding(pk1["Ac"], host=pk1, form="explicit")),
        **{f"tmdd {a}": blocks.tmdd(pk["Ac"], host=pk, approximation=a).model for a in APPROX},
    }
    for name, model in models.items():
        report = check_units(model)
        assert report.time == "h", name
        for reaction, unit in report.rates.items():
            if unit is not None:
                assert str(unit) in ("nmol/h", "umol/h", "1000 nmol/h"), (name, reaction, str(unit))
    assert str(check_units(models["oral"]).rates["absorption"]) == "nmol/h"
    # a wrong unit on a parameter the caller passes in is caught, naming the reaction
    bad = blocks.one_compartment(CL=qsp.Parameter("CL", 1.0, unit="L"))
    with pytest.raises(qsp.UnitError, match="elimination"):
        check_units(bad.model)


def test_blocks_refuse_bad_input_with_typed_errors():
    pk = blocks.one_compartment()
    with pytest.raises(qsp.ModelError, match="approximation='quasi'"):
        blocks.tmdd(pk["Ac"], approximation="quasi")
    with pytest.raises(qsp.ModelError, match="form="):
        blocks.protein_binding(pk["Ac"], form="fast")
    with pytest.raises(qsp.ModelError, match="prefix"):
        blocks.one_compartment(prefix="2x")
    with pytest.raises(qsp.ModelError, match="CL='3'"):
        blocks.one_compartment(CL="3")
    with pytest.raises(qsp.ModelError, match="negative"):
        blocks.one_compartment(V=-1.0)
    with pytest.raises(qsp.ModelError, match="must be a qsp.Species"):
        blocks.first_order_absorption(pk["CL"])
    with pytest.raises(qsp.ModelError, match="has no species"):
        blocks.tmdd(blocks.one_compartment(prefix="other")["Ac"], host=pk, approximation="qss")
    with pytest.raises(qsp.ModelError, match="whole number"):
        blocks.transit_absorption(pk["Ac"], n=2.5)
    with pytest.raises(qsp.ModelError, match="not both"):
        blocks.transit_absorption(pk["Ac"], MTT=1.0, ktr=2.0)
    with pytest.raises(qsp.ModelError, match="lower=5"):
        blocks.therapeutic_window(pk["Ac"], lower=5.0, upper=2.0)
    with pytest.raises(qsp.ModelError, match="stimulatory"):
        blocks.indirect_response(pk["Ac"], kind=3, Imax=0.5)
    with pytest.raises(qsp.ModelError, match="defined by a rule outside"):
        blocks.emax(qsp.Variable("Cfree"))
    with pytest.raises(qsp.ModelError, match="no role 'Q'"):
        pk["Q"]
    with pytest.raises(qsp.errors.DuplicateNameError):  # two copies of one block need a prefix
        blocks.assemble(blocks.one_compartment(CL=1.0), blocks.one_compartment(CL=2.0))


def test_composition_is_by_identity_and_prefixes_namespace():
    pk = blocks.two_compartment()
    oral = blocks.first_order_absorption(pk["Ac"])
    model = blocks.assemble(pk, oral, pk)  # the same fragment twice is one fragment
    assert [r.name for r in model.reactions] == ["elimination", "distribution", "redistribution", "absorption"]
    assert oral["central"] is pk["Ac"]
    drug_b = blocks.one_compartment(prefix="b")
    both = blocks.assemble(pk, drug_b)
    assert {"CL", "b_CL", "Ac", "b_Ac", "C", "b_C"} <= set(both.symbols) | set(both.observables)
    assert drug_b.name("C") == "b_C" and drug_b.roles[:3] == ("CL", "V", "central")
    # a shared parameter used only by dose records (bioavailability) is still declared
    F = qsp.Parameter("F_oral", 0.6, unit="1")
    oral_f = blocks.first_order_absorption(pk["Ac"], F=F)
    assert oral_f["F"] is F and oral_f.model.symbol("F_oral") is F


def test_binding_quadratic_is_accurate_and_differentiable_at_extremes():
    # The free concentration must be right where the textbook formula cancels (tiny drug:
    # b + sqrt(...) loses all digits) and have finite derivatives everywhere, also through the
    # branch jnp.where does not select (forward-mode Jacobians multiply it by 0; 0*inf = NaN).
    # At (Ltot 1e6, Rtot 1, K 1e-12) the unguarded b < 0 branch divides by sqrt(b^2 + 4KL) - b = 0.
    import jax
    import jax.numpy as jnp
    import sympy as sp
    from qsp.blocks._equilibrium import free_concentration, free_fraction
    from qsp.compile.treewalk import evaluate

    L, R, K = sp.symbols("L R K")
    for build in (free_concentration, free_fraction):
        expr = build(L, R, K)

        @jax.jit
        def f(x, expr=expr):
            return evaluate(expr, {L: x[0], R: x[1], K: x[2]})
        jacobian = jax.jit(jax.jacfwd(f))
        for point in ([1e6, 1.0, 1e-12], [0.0, 2.0, 0.1], [1e-9, 2.0, 0.1], [2.1, 2.0, 0.1], [100.0, 2.0, 0.15]):
            x = jnp.array(point)
            value, jac = float(f(x)), np.asarray(jacobian(x))
            assert np.isfinite(value) and np.all(np.isfinite(jac)), (build.__name__, point, jac)
            # the value solves the binding equation C + Rtot C/(K + C) = Ltot
            Lh, Rh, Kh = point
            c = value * (Lh if build is free_fraction else 1.0)
            assert c + Rh * c / (Kh + c) == pytest.approx(Lh, rel=1e-12, abs=1e-300)
            # derivatives against central finite differences (where the function is smooth)
            if point[0] > 1e-6:
                h = 1e-6 * np.maximum(np.abs(point), 1e-3)
                for i in range(3):
                    e = np.zeros(3)
                    e[i] = h[i]
                    fd = (float(f(x + e)) - float(f(x - e))) / (2 * h[i])
                    assert jac[i] == pytest.approx(fd, rel=1e-5, abs=1e-9 * max(1.0, abs(value))), (point, i)
    # at zero drug the free fraction is K/(K + Rtot)
    fu0 = float(evaluate(free_fraction(L, R, K), {L: jnp.asarray(0.0), R: jnp.asarray(2.0), K: jnp.asarray(0.1)}))
    assert fu0 == pytest.approx(0.1 / 2.1, rel=1e-14)
