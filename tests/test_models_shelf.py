"""The shelf of ready-made models (``models/``): each simulates its default regimen, and
those with published data reproduce a published number.

Oracles, none computed by the code under test:

* theophylline, warfarin, phenobarbital, vancomycin: NONMEM's population predictions
  (PRED, the typical subject's concentration) in the table files of the original runs;
* the antibody TMDD models and alirocumab: scipy at rtol 1e-10 on right-hand sides written
  here by hand from the published equations (Mager & Jusko 2001, Gibiansky 2008, and the
  nlmixr2lib transcription of Djebli 2017), the published baseline and the analytic ceiling
  of total target;
* protein binding: closed forms (quadratic equilibrium, steady state of Michaelis-Menten
  elimination of unbound drug, the Sheiner-Tozer/Winter albumin normalisation);
* circadian RA model: the closed-form periodic solution of the forced turnover equation.

NONMEM tables print 5 significant digits, so PRED comparisons use a relative tolerance of
1e-4 (rounding is at most 5e-5 relative, the solver adds ~1e-7). Compiled models are shared
through a module-scoped cache; each simulation reuses its model's default output grid
length where it can, so that one JAX compilation serves several tests.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import json
import math
import pathlib
import re

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import solve_ivp

import models
import qsp

ROOT = pathlib.Path(__file__).resolve().parents[1]

# (module, structural option) of every model variant that the tests simulate
VARIANTS = [
    ("theophylline", None), ("warfarin", None), ("phenobarbital", None), ("vancomycin_thomson2009", None),
    ("mab_tmdd", "full"), ("mab_tmdd", "qss"), ("alirocumab_djebli2017", "qss"), ("alirocumab_djebli2017", "full"),
    ("protein_binding_albumin", "rapid_equilibrium"), ("protein_binding_albumin", "explicit"),
    ("ra_circadian_glucocorticoid", None),
]


class Shelf:
    """Compiled models and default simulations, built on first use and kept for the module."""

    def __init__(self):
        self._compiled, self._default = {}, {}

    def module(self, name):
        return models.load(name)

    def compiled(self, name, option=None) -> qsp.CompiledModel:
        key = (name, option)
        if key not in self._compiled:
            mod = self.module(name)
            self._compiled[key] = qsp.compile(mod.model() if option is None else mod.model(option))
        return self._compiled[key]

    def regimen(self, name, **kwargs) -> qsp.Regimen:
        return self.module(name).default_regimen(**kwargs)

    def default(self, name, option=None) -> qsp.Solution:
        key = (name, option)
        if key not in self._default:
            self._default[key] = qsp.simulate(self.compiled(name, option), self.module(name).default_times(),
                                              regimen=self.regimen(name))
        return self._default[key]


@pytest.fixture(scope="module")
def shelf():
    return Shelf()


def _table(name):
    return {e.name: e.value for e in models.load(name).PARAMETERS}


def _padded(times, n):
    """``times`` extended to length ``n`` by repeating the last one (static shapes: the padded
    grid has the length of the model's default grid, so its compilation is reused)."""
    times = np.asarray(times, float)
    assert times.size <= n, (times.size, n)
    return np.r_[times, np.full(n - times.size, times[-1])]


# ---------------------------------------------------------------------------- the registry
def test_registry_lists_every_model_module():
    files = {p.stem for p in (ROOT / "models").glob("*.py") if not p.stem.startswith("_")}
    assert set(models.MODELS) == files
    with pytest.raises(qsp.ModelError, match="no model 'aspirin' on the shelf"):
        models.load("aspirin")


@pytest.mark.parametrize("name", models.MODELS)
def test_module_contract(name):
    mod = models.load(name)
    assert callable(mod.model) and callable(mod.default_regimen) and callable(mod.default_times)
    assert isinstance(mod.REFERENCE, str) and len(mod.REFERENCE) > 40
    assert "math::" in mod.__doc__  # the ODEs are written out in the module docstring
    names = [e.name for e in mod.PARAMETERS]
    assert len(names) == len(set(names))
    for e in mod.PARAMETERS:
        assert e.unit and e.meaning and e.source, e
    # one source of truth: every table row is a parameter of the model (in every structural
    # form, so one parameter set fits all), with the table's value and unit
    for option in getattr(mod, "APPROXIMATIONS", (None,)):
        model = mod.model() if option is None else mod.model(option)
        by_name = {p.name: p for p in model.parameters}
        assert set(by_name) == set(names), (option, set(by_name) ^ set(names))
        for e in mod.PARAMETERS:
            assert by_name[e.name].value == pytest.approx(e.value, rel=1e-15) and by_name[e.name].unit == e.unit
    assert isinstance(mod.default_regimen(), qsp.Regimen)


@pytest.mark.parametrize("name", models.MODELS)
def test_keyword_arguments_set_defaults_and_unknown_names_fail(name):
    mod = models.load(name)
    first = mod.PARAMETERS[0]
    assert mod.model(**{first.name: 2 * first.value}).symbol(first.name).value == 2 * first.value
    with pytest.raises(qsp.ModelError, match="no parameter or covariate named 'NOPE'"):
        mod.model(NOPE=1.0)


@pytest.mark.parametrize("name,option", VARIANTS)
def test_units_check_completely(name, option):
    units = pytest.importorskip("qsp.model.units")
    mod = models.load(name)
    report = units.check_units(mod.model() if option is None else mod.model(option))
    assert report.annotated and not report.unchecked, report.unchecked


def test_module_doctests():
    for name in ("_table", *models.MODELS):
        result = doctest.testmod(importlib.import_module(f"models.{name}"), optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, name
    assert doctest.testmod(models).failed == 0


# ---------------------------------------------------------------------------- default regimens
# Plausibility of each default simulation: (output, check) pairs, with the reason.
def _plausible(name, option, sol):
    C = lambda k: np.asarray(sol[k])  # noqa: E731
    ts = np.asarray(sol.ts)
    if name == "theophylline":  # 320 mg oral: peak 1-3 h, near the 10-20 mg/L therapeutic range
        assert 5 < C("C").max() < 20 and 0.5 <= ts[C("C").argmax()] <= 3
    elif name == "warfarin":  # 100 mg oral: peak of about 10 mg/L within half a day, slow decline
        assert 5 < C("C").max() < 20 and ts[C("C").argmax()] <= 12 and C("C")[-1] < 0.5 * C("C").max()
    elif name == "phenobarbital":  # loading + maintenance: in the 15-40 mg/L range after the first day
        assert np.all((C("C")[ts >= 24] > 15) & (C("C")[ts >= 24] < 40))
    elif name == "vancomycin_thomson2009":  # 1500 mg q12h: trough 5-20 mg/L, peak 20-60 mg/L
        trough, peak = C("C")[ts == 24][0], C("C")[ts == 26][0]
        assert 5 < trough < 20 < peak < 60
    elif name == "mab_tmdd":  # free target suppressed while drug is in excess, back up as drug goes
        t = _table(name)
        assert C("target_free")[ts == 14][0] < 0.01 * t["ksyn"] / t["kdeg"]
        assert C("drug_total")[-1] < C("drug_total")[1]
    elif name == "alirocumab_djebli2017":  # 150 mg q2w: total drug of 5-20 mg/L, free PCSK9 suppressed
        after = ts >= 14
        assert 2 < C("Cc")[after].min() and C("Cc").max() < 30
        assert C("target_free")[after].min() < 0.2 * 9.14
    elif name == "protein_binding_albumin":  # total in the 10-20 mg/L window early, fu about 0.1
        assert 10 < C("C_total_mgL")[ts == 4][0] < 25 and np.all(np.abs(C("fu") - 0.1) < 0.02)
    elif name == "ra_circadian_glucocorticoid":  # the 22:00 dose peaks after the 4 h release lag
        day = (ts >= 144) & (ts < 168)
        peak_clock = ts[day][C("C")[day].argmax()] % 24
        assert 2 < peak_clock <= 8 and C("IL6").min() > 0


@pytest.mark.parametrize("name,option", VARIANTS)
def test_default_regimen_simulates(shelf, name, option):
    sol = shelf.default(name, option)
    ys = np.asarray(sol.ys)
    assert np.all(np.isfinite(ys))
    # amounts are physical: non-negative up to round-off of the largest amount
    assert ys.min() >= -1e-9 * np.abs(ys).max()
    for key in sol.compiled.model.observables:
        values = np.asarray(sol[key])
        assert np.all(np.isfinite(values)), key
        assert values.min() >= -1e-9 * max(np.abs(values).max(), 1e-300), key
    _plausible(name, option, sol)


# ---------------------------------------------------------------------------- NONMEM PRED oracles
def test_theophylline_reproduces_nonmem_pred(shelf, reference_dir):
    """CONTROL5 (NONMEM 7.5.1 FO), final THETAs: PRED for the 12 subjects' 132 concentrations.

    The control stream doses mg/kg with scale V/WT; the model doses mg (DOSE x WT), the same
    concentration.
    """
    tab = pd.read_csv(reference_dir / "nonmem2rx/theophylline_control5/CONTROL5_implicitabbr.tab",
                      sep=r"\s+", skiprows=1)
    doses = tab[tab.DOSE > 0].set_index("ID")
    observed = tab[tab.DOSE == 0]
    cm = shelf.compiled("theophylline")
    n = shelf.module("theophylline").default_times().size
    sim, pred = [], []
    for sid, rows in observed.groupby("ID"):
        wt, dose = float(doses.loc[sid, "WT"]), float(doses.loc[sid, "DOSE"])
        sol = qsp.simulate(cm, _padded(rows.TIME, n), params={"WT": wt},
                           regimen=shelf.regimen("theophylline", dose_mg=dose * wt))
        sim.append(np.asarray(sol["C"])[: len(rows)])
        pred.append(rows.PRED.to_numpy())
    sim, pred = np.concatenate(sim), np.concatenate(pred)
    assert sim.size == 132
    np.testing.assert_allclose(sim, pred, rtol=1e-4, atol=1e-4)


def test_warfarin_reproduces_nonmem_pred(shelf, reference_dir):
    """run000 (NONMEM 7.4.3 FOCE-I), final THETAs: PRED for all 251 concentrations of 32 subjects."""
    table = pd.read_csv(reference_dir / "nonmem2rx/warfarin_pk/run000.csv", sep=r"\s+", skiprows=1)
    cm = shelf.compiled("warfarin")
    n = shelf.module("warfarin").default_times().size
    sim, pred = [], []
    for sid, rows in table.groupby("ID"):
        dose = rows[rows.EVID == 1]
        assert len(dose) == 1 and dose.TIME.iloc[0] == 0.0  # one oral dose at 0 per subject
        obs = rows[rows.EVID == 0]
        sol = qsp.simulate(cm, _padded(obs.TIME, n), regimen=shelf.regimen("warfarin", dose_mg=float(dose.AMT.iloc[0])))
        sim.append(np.asarray(sol["C"])[: len(obs)])
        pred.append(obs.PRED.to_numpy())
    sim, pred = np.concatenate(sim), np.concatenate(pred)
    assert sim.size == 251
    np.testing.assert_allclose(sim, pred, rtol=1e-4, atol=1e-4)


def test_phenobarbital_reproduces_nonmem_pred_for_every_record(shelf, reference_dir):
    """pheno (NONMEM 7.5.1 FOCE-I) final estimates: PRED on all 744 records of 59 neonates.

    Regimens and covariates come from ``qsp.io.read_nonmem`` on ``pheno.dta``; NONMEM's PRED
    on a dose record is the concentration just after the dose, as qsp reports it.
    """
    data_frame = pd.read_csv(reference_dir / "pharmpy-examples/pheno.dta", sep=r"\s+")
    tab = pd.read_csv(reference_dir / "pharmpy-examples/pheno.tab", sep=r"\s+", skiprows=1)
    assert len(tab) == len(data_frame) == 744
    data = qsp.io.read_nonmem(data_frame, ["Ac"])  # CMT 1: the central compartment
    assert len(data) == 59
    times = [data_frame.TIME[data_frame.ID == s.id].to_numpy() for s in data]
    n = max(t.size for t in times)
    pop = qsp.simulate_population(
        shelf.compiled("phenobarbital"), np.stack([_padded(t, n) for t in times]),
        params={"WGT": np.array([s.baseline_covariates["WGT"] for s in data]),
                "APGR": np.array([s.baseline_covariates["APGR"] for s in data])},
        regimen=[s.regimen for s in data])
    C = np.asarray(pop["C"])
    sim = np.concatenate([C[i, : t.size] for i, t in enumerate(times)])
    np.testing.assert_allclose(sim, tab.PRED.to_numpy(), rtol=1e-4)


def test_vancomycin_reproduces_nonmem_pred(shelf, reference_dir):
    """mipdeval's PsN/NONMEM run of the Thomson model: PRED of patient 1 (3 x 1500 mg, 2-h infusions).

    Patients 2-10 of that file carry the previous patient's covariates on their first two
    rows (time-varying covariates, which NONMEM applies per record), so only patient 1,
    whose covariates are constant, is a clean oracle for a constant-covariate simulation.
    The data file gives CrCL in L/h; the model takes mL/min. Its regimen, read with
    ``qsp.io.read_nonmem``, is the model's default regimen (checked), whose compiled
    simulation (default grid length) is reused.
    """
    raw = pd.read_csv(reference_dir / "mipdeval/nm_vanco.csv")
    assert raw[raw.ID == 1][["WT", "CRCL"]].nunique().max() == 1
    patient = qsp.io.read_nonmem(raw, ["Ac"])[1]
    doses = [(r.time, r.amount, r.amount / r.rate) for r in patient.regimen.records]
    assert doses == [(0.0, 1500.0, 2.0), (12.0, 1500.0, 2.0), (24.0, 1500.0, 2.0)]
    pred = pd.read_csv(reference_dir / "mipdeval/vanco_thomson.csv")
    rows = pred[(pred.ID == 1) & (pred.OBS == 1)]
    crcl_ml_min = patient.baseline_covariates["CRCL"] * 1000.0 / 60.0
    n = shelf.module("vancomycin_thomson2009").default_times().size
    sol = qsp.simulate(shelf.compiled("vancomycin_thomson2009"), _padded(rows.TIME, n),
                       params={"WT": patient.baseline_covariates["WT"], "CRCL": crcl_ml_min},
                       regimen=shelf.regimen("vancomycin_thomson2009"))
    np.testing.assert_allclose(np.asarray(sol["C"])[: len(rows)], rows.PRED.to_numpy(), rtol=1e-4, atol=1e-4)


def test_vancomycin_values_match_pkpdsim_and_published_table(reference_dir):
    text = (reference_dir / "pkpdsim-models/pk_vanco_thomson.json5").read_text()
    published = json.loads(re.search(r'"parameters":\s*(\{[^}]*\})', text).group(1))
    table = _table("vancomycin_thomson2009")
    assert table["CL"] == published["CL"] and table["Q"] == published["Q"]
    assert table["V1_WT"] == published["V"] and table["V2_WT"] == published["V2"]
    assert table["TH_CRCL"] == published["TH_CRCL"]
    assert "CRCL*16.66667 - 66" in text and table["CRCL_REF"] == 66.0


# ---------------------------------------------------------------------------- antibody TMDD
MAB_TIMES_SKIP_T0 = slice(1, None)  # at t = 0 the full model has not bound yet; QSS has, instantly


def _mab_reference(p, dose_nmol, ts, approximation):
    """Mager-Jusko (full) or Gibiansky QSS equations in concentrations (nM), by hand."""
    kel = p["CL"] / p["V"]
    R0 = p["ksyn"] / p["kdeg"]
    if approximation == "full":
        def rhs(t, y):
            C, R, RC = y
            bind = p["kon"] * C * R - p["koff"] * RC
            return [-kel * C - bind, p["ksyn"] - p["kdeg"] * R - bind, bind - p["kint"] * RC]
        y0 = [dose_nmol / p["V"], R0, 0.0]
    else:
        Kss = (p["koff"] + p["kint"]) / p["kon"]

        def rhs(t, y):
            Ct, Rt = y
            C = 0.5 * ((Ct - Rt - Kss) + math.sqrt((Ct - Rt - Kss) ** 2 + 4 * Kss * Ct))
            RC = Rt * C / (Kss + C)
            return [-kel * C - p["kint"] * RC, p["ksyn"] - p["kdeg"] * (Rt - RC) - p["kint"] * RC]
        y0 = [dose_nmol / p["V"], R0]
    res = solve_ivp(rhs, (0.0, ts[-1]), y0, method="LSODA", t_eval=ts, rtol=1e-10, atol=1e-12)
    assert res.success
    return res.y


@pytest.mark.parametrize("approximation", ["full", "qss"])
def test_mab_tmdd_matches_hand_written_equations(shelf, approximation):
    mod = shelf.module("mab_tmdd")
    sol = shelf.default("mab_tmdd", approximation)
    ts = mod.default_times()
    ref = _mab_reference(_table("mab_tmdd"), mod.mg_to_nmol(70.0), ts, approximation)
    total = ref[0] + ref[2] if approximation == "full" else ref[0]
    # 1e-6 of the trajectory's scale: qsp integrates at rtol 1e-8, scipy at 1e-10
    np.testing.assert_allclose(np.asarray(sol["drug_total"]), total, rtol=1e-6, atol=1e-6 * total.max())
    target_total = ref[1] + ref[2] if approximation == "full" else ref[1]
    np.testing.assert_allclose(np.asarray(sol["target_total"]), target_total, rtol=1e-6,
                               atol=1e-6 * target_total.max())


def _max_relative_gap(a, b):
    a, b = np.asarray(a)[MAB_TIMES_SKIP_T0], np.asarray(b)[MAB_TIMES_SKIP_T0]
    return float(np.max(np.abs(a - b)) / np.max(np.abs(a)))


def test_mab_qss_agrees_with_full_model_where_valid_and_not_where_binding_is_slow(shelf):
    """Gibiansky 2008: QSS holds when binding equilibrates fast relative to elimination,
    internalisation and turnover. Default values (k_on 50/nM/day, k_off 5/day, drug in excess
    after 70 mg): total drug agrees to 1e-3 of its scale (measured 3.5e-5), total target to 2e-3
    (measured 7.6e-4; the target pool is small, so the binding lag shows more). With binding
    1000x slower and a dose below the target pool (1 mg, 2 nM vs 5 nM), the QSS total drug is
    off by 12 % of scale (measured): the assumption is then visibly wrong."""
    full, qss = shelf.compiled("mab_tmdd", "full"), shelf.compiled("mab_tmdd", "qss")
    ts = shelf.module("mab_tmdd").default_times()
    f, q = shelf.default("mab_tmdd", "full"), shelf.default("mab_tmdd", "qss")
    assert _max_relative_gap(f["drug_total"], q["drug_total"]) < 1e-3
    assert _max_relative_gap(f["target_total"], q["target_total"]) < 2e-3
    slow = {"kon": 0.05, "koff": 0.005}
    low = shelf.regimen("mab_tmdd", dose_mg=1.0)
    f = qsp.simulate(full, ts, params=slow, regimen=low)
    q = qsp.simulate(qss, ts, params=slow, regimen=low)
    assert _max_relative_gap(f["drug_total"], q["drug_total"]) > 0.05


# ---------------------------------------------------------------------------- alirocumab
def _published_alirocumab(reference_dir) -> dict:
    """The alirocumab row of published-estimates.csv, parsed into name -> value."""
    table = pd.read_csv(reference_dir / "published-estimates.csv")
    row = table[table.dataset_or_model.str.startswith("alirocumab")].iloc[0]
    names = [n.strip().split(" ")[0] for n in row.quantity.split(" / ")]
    values = [float(v.strip().split(" ")[0]) for v in row.value.split(" / ")]
    out = dict(zip(names, values))
    for key, pattern in [("Kdeg", r"Kdeg ([\d.]+)"), ("Kint", r"Kint ([\d.]+)"), ("Kss", r"Kss fixed ([\d.]+)"),
                         ("Kon", r"Kon fixed ([\d.]+)"), ("Rbase", r"Rbase ([\d.]+)"),
                         ("WT_REF", r"WT/([\d.]+) kg"), ("STATIN", r"statin on CLL ([\d.]+)")]:
        out[key] = float(re.search(pattern, row.notes).group(1))
    return out


def test_alirocumab_table_is_the_published_table(reference_dir):
    """Djebli 2017 Table 4 (expanded data set) as in published-estimates.csv, value by value."""
    pub = _published_alirocumab(reference_dir)
    t = _table("alirocumab_djebli2017")
    pairs = {"CLL": "CL", "Vc": "Vc", "Q": "Q", "Vp": "Vp", "Ka": "KA", "F1": "F", "Tlag": "TLAG", "Kdeg": "kdeg",
             "Kint": "kint", "Kss": "Kss", "Kon": "kon", "Rbase": "Rbase", "WT_REF": "WT_REF",
             "STATIN": "STATIN_CL"}
    assert set(pairs) <= set(pub)
    for published, ours in pairs.items():
        assert t[ours] == pub[published], (published, ours)


def _alirocumab_reference(p, regimen_doses, ts):
    """The nlmixr2lib transcription of Djebli 2017 by hand (target as a concentration state;
    dose into the depot at time + lag, times F and converted to nmol), scipy per dose interval."""
    kss, ksyn = p["Kss"], p["kdeg"] * p["Rbase"]

    def rhs(t, y):
        depot, central, peripheral, ttot = y
        ctot = central / p["Vc"]
        disc = (ctot - ttot) ** 2 + 2 * (ctot + ttot) * kss + kss**2
        complex_ = ((ctot + ttot + kss) - math.sqrt(disc)) / 2
        cfree, tfree = ctot - complex_, ttot - complex_
        return [-p["KA"] * depot,
                p["KA"] * depot - p["CL"] * cfree - p["Q"] * cfree + p["Q"] * peripheral / p["Vp"]
                - p["kint"] * complex_ * p["Vc"],
                p["Q"] * cfree - p["Q"] * peripheral / p["Vp"],
                ksyn - p["kdeg"] * tfree - p["kint"] * complex_]

    y = np.array([0.0, 0.0, 0.0, p["Rbase"]])
    out, t_now = [], 0.0
    for t_next in [*sorted(regimen_doses), ts[-1]]:
        seg = ts[(ts >= t_now) & (ts < t_next)]
        if t_next > t_now:
            res = solve_ivp(rhs, (t_now, t_next), y, method="LSODA", t_eval=np.r_[seg, t_next],
                            rtol=1e-10, atol=1e-10)
            assert res.success
            out.append(res.y.T[:-1])
            y = res.y[:, -1]
        if t_next in regimen_doses:
            y = y + np.array([p["F"] * regimen_doses[t_next], 0.0, 0.0, 0.0])
        t_now = t_next
    out.append(y[None, :])  # the last output time
    return np.concatenate(out)


def test_alirocumab_matches_hand_written_nlmixr2lib_equations(shelf):
    mod = shelf.module("alirocumab_djebli2017")
    p = _table("alirocumab_djebli2017")
    ts = mod.default_times()
    doses = {14.0 * k + p["TLAG"]: mod.mg_to_nmol(150.0) for k in range(6)}
    ref = _alirocumab_reference(p, doses, ts)
    sol = shelf.default("alirocumab_djebli2017", "qss")
    total_drug_mg_l = ref[:, 1] / p["Vc"] * 144100.0 / 1e6
    total_pcsk9_mg_l = ref[:, 3] * 74000.0 / 1e6
    # 1e-6 of scale: both integrators are far tighter than that; the lagged dose time is exact in both
    np.testing.assert_allclose(np.asarray(sol["Cc"]), total_drug_mg_l, rtol=1e-6, atol=1e-6 * total_drug_mg_l.max())
    np.testing.assert_allclose(np.asarray(sol["Ct"]), total_pcsk9_mg_l, rtol=1e-6, atol=1e-6 * total_pcsk9_mg_l.max())


def test_alirocumab_baseline_and_target_ceiling(shelf):
    """Published baseline total PCSK9 (9.14 nM, Djebli 2017 Table 3) before the first dose;
    and since k_deg > k_int, dR_tot/dt <= k_syn - k_int R_tot, so total PCSK9 can never exceed
    k_syn/k_int = R_base k_deg / k_int = 89.8 nM: six 3000 mg doses (saturating) bring it
    within 3 % of that ceiling (measured 1.6 % below it for a single dose)."""
    p = _table("alirocumab_djebli2017")
    sol = shelf.default("alirocumab_djebli2017", "qss")
    assert float(sol["target_total"][0]) == pytest.approx(9.14, rel=1e-12)
    ceiling = p["Rbase"] * p["kdeg"] / p["kint"]
    high = qsp.simulate(shelf.compiled("alirocumab_djebli2017", "qss"), shelf.module(
        "alirocumab_djebli2017").default_times(), regimen=shelf.regimen("alirocumab_djebli2017", dose_mg=3000.0))
    r_total = np.asarray(high["target_total"])
    assert r_total.max() <= ceiling * (1 + 1e-9)
    assert r_total.max() > 0.97 * ceiling


def test_alirocumab_qss_agrees_with_full_binding_at_published_rates(shelf):
    """With the published k_on (559/nM/day) and k_off = K_ss k_on - k_int (324/day), binding is
    fast against every other rate, so the QSS model of the paper and the full model agree:
    measured gaps 1e-5 (total drug) and 4e-5 (total PCSK9) of scale; tolerance 1e-3."""
    q, f = shelf.default("alirocumab_djebli2017", "qss"), shelf.default("alirocumab_djebli2017", "full")
    for key in ("Cc", "Ct"):
        a, b = np.asarray(f[key]), np.asarray(q[key])
        assert np.max(np.abs(a - b)) / np.max(np.abs(a)) < 1e-3, key


# ---------------------------------------------------------------------------- protein binding
def _quadratic_free(total, p_tot, kd):
    b = total - p_tot - kd
    return 0.5 * (b + np.sqrt(b**2 + 4 * kd * total))


def test_binding_free_concentration_is_the_quadratic_equilibrium(shelf):
    t = _table("protein_binding_albumin")
    sol = shelf.default("protein_binding_albumin", "rapid_equilibrium")
    total = np.asarray(sol["drug_total"])
    expected = _quadratic_free(total, t["ALB"] / t["MW_ALB"], t["KD"])
    np.testing.assert_allclose(np.asarray(sol["drug_free"]), expected, rtol=1e-10, atol=1e-12)


def test_albumin_normalisation_is_sheiner_tozer(shelf):
    """Free fraction before drug (t = 0: the rule's limit K_D / (K_D + P_tot)) at albumin A and
    at 44 g/L: fu(44)/fu(A) is Winter's normalisation factor 0.9 A/44 + 0.1 (exact for one-site
    binding, fu 0.1 at 44 g/L), and the rounded clinical Sheiner-Tozer factor 0.2 A[g/dL] + 0.1
    within 2.5 % (the rounding of 0.9/4.4 = 0.2045 to 0.2)."""
    cm = shelf.compiled("protein_binding_albumin", "rapid_equilibrium")
    mod = shelf.module("protein_binding_albumin")
    reg = shelf.regimen("protein_binding_albumin")
    fu = {a: float(qsp.simulate(cm, mod.default_times(), params={"ALB": a}, regimen=reg)["fu"][0])
          for a in (44.0, 30.0, 20.0)}
    assert fu[44.0] == pytest.approx(0.1, rel=1e-12)
    for a in (30.0, 20.0):
        factor = fu[44.0] / fu[a]
        assert factor == pytest.approx(0.9 * a / 44.0 + 0.1, rel=1e-12)
        assert factor == pytest.approx(0.2 * a / 10.0 + 0.1, rel=0.025)


def test_unbound_steady_state_does_not_depend_on_albumin(shelf):
    """Constant infusion R of an unbound-drug Michaelis-Menten elimination: at steady state
    R = Vmax C_u / (K_m,u + C_u), so C_u = K_m,u R / (Vmax - R) whatever the albumin, while the
    total concentration, C_u + P_tot C_u / (K_D + C_u), falls with albumin. 30 days is > 20
    time constants at the slowest (normal albumin), so the residual is far below 1e-6.

    The constant infusion is written in the default regimen's structure (one infusion, then
    20 repeated ones) with 36-h durations and intervals: back to back, they are one infusion
    of 31.5 days, and the default compilation is reused (durations and intervals are data)."""
    t = _table("protein_binding_albumin")
    vmax = t["VMAX_WT"] * t["WT"]
    rate = 0.5 * vmax
    piece = 36.0
    reg = qsp.Regimen([
        qsp.Infusion("Ac", amount=rate * piece, time=0.0, duration=piece),
        qsp.Infusion("Ac", amount=rate * piece, time=piece, duration=piece, interval=piece, additional=19),
    ])
    cm = shelf.compiled("protein_binding_albumin", "rapid_equilibrium")
    times = np.linspace(0.0, 30 * 24.0, shelf.module("protein_binding_albumin").default_times().size)
    cu_expected = t["KM_U"] * rate / (vmax - rate)
    totals = []
    for albumin in (44.0, 20.0):
        sol = qsp.simulate(cm, times, params={"ALB": albumin}, regimen=reg)
        assert float(sol["drug_free"][-1]) == pytest.approx(cu_expected, rel=1e-6)
        p_tot = albumin / t["MW_ALB"]
        total_expected = cu_expected + p_tot * cu_expected / (t["KD"] + cu_expected)
        assert float(sol["drug_total"][-1]) == pytest.approx(total_expected, rel=1e-6)
        totals.append(float(sol["drug_total"][-1]))
    assert totals[1] < 0.6 * totals[0]  # lower albumin: lower total at the same unbound level


def test_explicit_binding_agrees_with_rapid_equilibrium(shelf):
    """k_off = 1000/h against hours-long PK: the explicit model stays within 1e-3 of the
    equilibrium one (measured 3e-5 of scale for total, free and fu)."""
    e = shelf.default("protein_binding_albumin", "rapid_equilibrium")
    x = shelf.default("protein_binding_albumin", "explicit")
    for key in ("C_total_mgL", "C_free_mgL", "fu"):
        a, b = np.asarray(x[key]), np.asarray(e[key])
        assert np.max(np.abs(a - b)) / np.max(np.abs(a)) < 1e-3, key


# ---------------------------------------------------------------------------- circadian RA
def test_untreated_il6_follows_the_closed_form_rhythm(shelf):
    """With zero dose the IL-6 equation is linear with cosine forcing; after 5 days the start
    transient (rate k_out = 0.5/h) is gone (e^-60), and IL-6 equals the periodic solution
    IL6_base [1 + a k_out/sqrt(k_out^2 + w^2) cos(w (t - phi - delta) - atan(w/k_out))] to 1e-6.
    Checked for two chronotypes (delta = 0 and +2 h)."""
    t = _table("ra_circadian_glucocorticoid")
    mod = shelf.module("ra_circadian_glucocorticoid")
    cm = shelf.compiled("ra_circadian_glucocorticoid")
    ts = mod.default_times()
    late = ts >= 120
    w, kout = 2 * np.pi / t["PERIOD"], t["KOUT"]
    for delta in (0.0, 2.0):
        sol = qsp.simulate(cm, ts, params={"CHRONO": delta}, regimen=mod.default_regimen(dose_mg=0.0))
        expected = t["IL6_BASE"] * (1 + t["AMP"] * kout / np.hypot(kout, w)
                                    * np.cos(w * (ts - t["PHI"] - delta) - np.arctan(w / kout)))
        np.testing.assert_allclose(np.asarray(sol["IL6"])[late], expected[late], rtol=1e-6)


def test_bedtime_modified_release_suppresses_the_morning_il6_peak_better(shelf):
    """The CAPRA-1 rationale: 5 mg released at 02:00 (22:00 intake + 4 h lag) lowers IL-6 over
    04:00-10:00 more than 5 mg immediate-release at 08:00 (same model, TLAG = 0) and than no
    drug. Measured on day 7: mean IL-6 10.5, 22.6 and 28.9 pg/mL."""
    mod = shelf.module("ra_circadian_glucocorticoid")
    cm = shelf.compiled("ra_circadian_glucocorticoid")
    ts = mod.default_times()
    morning = (ts >= 148) & (ts <= 154)  # day 7, 04:00-10:00
    bedtime = shelf.default("ra_circadian_glucocorticoid")
    breakfast = qsp.simulate(cm, ts, params={"TLAG": 0.0}, regimen=mod.default_regimen(clock_hour=8.0))
    untreated = qsp.simulate(cm, ts, regimen=mod.default_regimen(dose_mg=0.0))
    mean = lambda sol: float(np.mean(np.asarray(sol["IL6"])[morning]))  # noqa: E731
    assert mean(bedtime) < 0.8 * mean(breakfast) < 0.8 * mean(untreated)


# ---------------------------------------------------------------------------- the catalogue page
def test_catalogue_page_is_up_to_date():
    spec = importlib.util.spec_from_file_location("make_catalogue", ROOT / "docs" / "make_catalogue.py")
    make_catalogue = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_catalogue)
    committed = (ROOT / "docs" / "models.md").read_text()
    assert committed == make_catalogue.render(), (
        "docs/models.md is out of date with the models' parameter tables: run `python docs/make_catalogue.py`.")


def test_catalogue_rows_cover_every_table():
    rows = models.catalogue()
    assert len(rows) == sum(len(models.load(n).PARAMETERS) for n in models.MODELS)
    assert {r["model"] for r in rows} == set(models.MODELS)
