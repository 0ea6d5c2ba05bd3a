"""Dosing: mrgsolve-style equivalence tests and closed-form oracles.

Two models, compiled once per module:

* ``oral``: depot -> central (first order ``ka``), eliminated with clearance ``CL`` from a
  central volume ``V``; observable ``C`` = central amount / V. ``ALAG`` and ``FBIO`` are
  declared parameters used only in dose records (lag and bioavailability as expressions).
* ``iv``: one central compartment, ``CL`` and ``V``, initial amount ``A0`` (a parameter,
  default 0, so that ``Reset`` has a non-trivial initial state to return to).

Oracles are things the code under test did not compute: superposition of the closed-form
one-compartment solutions (IV bolus, zero-order infusion, Bateman function for oral doses
with lag and F, the geometric-series steady state), an equivalent regimen written another
way, central finite differences, and closed-form derivatives.

Tolerances. The default solver tolerances are rtol 1e-8, atol 1e-10 (on amounts ~1-100 mg),
so a single simulation is accurate to ~1e-7 relative. Hence:

* against closed forms: rtol 1e-6 (10x the solver's global error), atol 1e-9 (mg/L);
* two regimens that expand to the *same* event table (``additional`` vs explicit records,
  parameter vs number for lag/F, ``rate=`` vs ``duration=``): the same computation, so
  1e-10 relative (round-off in event times such as ``amount / rate``);
* two regimens with different event tables (back-to-back vs one long infusion, vmap vs
  one-by-one with differently padded event tables): different step sequences, each ~1e-8
  accurate, so 1e-7 relative;
* gradients vs central finite differences with step h: truncation O(h^2) plus
  solver noise/h, so rtol 1e-5 with h chosen per variable (stated at each test).

All simulations share the output grid length ``N`` so shapes stay static (each new event
structure still compiles once, ~3-5 s on two cores).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import qsp
from qsp.errors import DosingError

N = 25
TS = np.linspace(0.0, 48.0, N)  # every 2 h

P = dict(ka=1.2, CL=5.0, V=50.0)  # k = CL / V = 0.1 / h
K = P["CL"] / P["V"]

RTOL_CF, ATOL_CF = 1e-6, 1e-9  # against closed forms
RTOL_SAME = 1e-10  # the same event table written two ways
RTOL_DIFF = 1e-7  # different event tables / step sequences


# ----------------------------------------------------------------------------- models
@pytest.fixture(scope="module")
def oral():
    ka, CL, V = (qsp.Parameter(n, v) for n, v in P.items())
    alag, fbio = qsp.Parameter("ALAG", 0.0), qsp.Parameter("FBIO", 1.0)
    gut = qsp.Compartment("gut", volume=1.0)
    plasma = qsp.Compartment("plasma", volume=V)
    depot, central = qsp.Species("depot", gut), qsp.Species("central", plasma)
    model = qsp.Model("oral1", reactions=[
        qsp.mass_action(ka, [depot], [central], name="absorption"),  # ka * amount (gut volume 1)
        qsp.Reaction([central], [], rate=CL * central, name="elimination"),  # CL * concentration
    ], observables={"C": central}, parameters=[alag, fbio])
    return dict(cm=qsp.compile(model), depot=depot, central=central, ALAG=alag, FBIO=fbio)


@pytest.fixture(scope="module")
def iv():
    CL, V = qsp.Parameter("CL", P["CL"]), qsp.Parameter("V", P["V"])
    A0 = qsp.Parameter("A0", 0.0)
    central = qsp.Species("central", qsp.Compartment("plasma", volume=V), initial_amount=A0)
    model = qsp.Model("iv1", reactions=[qsp.Reaction([central], [], rate=CL * central, name="elimination")],
                      observables={"C": central})
    return dict(cm=qsp.compile(model), central=central)


def C(cm, regimen, ts=TS, params=None, **kw):
    return np.asarray(qsp.simulate(cm, ts, params=params, regimen=regimen, **kw)["C"])


# ----------------------------------------------------------------------------- closed forms
def cf_bolus(t, amount, t_dose, k=K, V=P["V"]):
    """IV bolus, right-continuous at the dose time."""
    t = np.asarray(t, float)
    return np.where(t >= t_dose, amount / V * np.exp(-k * (t - t_dose)), 0.0)


def cf_infusion(t, amount, t_start, duration, k=K, V=P["V"]):
    """Zero-order infusion of ``amount`` over ``duration``: rising during, decaying after."""
    t = np.asarray(t, float)
    rate = amount / duration
    during = rate / (k * V) * (1.0 - np.exp(-k * np.clip(t - t_start, 0.0, duration)))
    return during * np.exp(-k * np.clip(t - t_start - duration, 0.0, None))


def cf_oral(t, amount, t_dose, lag=0.0, F=1.0, ka=P["ka"], k=K, V=P["V"]):
    """Bateman function: first-order absorption after a lag, fraction F absorbed."""
    s = np.clip(np.asarray(t, float) - t_dose - lag, 0.0, None)
    return F * amount * ka / (V * (ka - k)) * (np.exp(-k * s) - np.exp(-ka * s))


def cf_oral_ss(s, amount, tau, ka=P["ka"], k=K, V=P["V"]):
    """Oral steady state at time s in [0, tau] after a dose (sum of the geometric series)."""
    return amount * ka / (V * (ka - k)) * (np.exp(-k * s) / (1 - np.exp(-k * tau))
                                            - np.exp(-ka * s) / (1 - np.exp(-ka * tau)))


# ----------------------------------------------------------------------------- equivalences
def test_additional_doses_equal_explicit_doses_and_superposition(oral):
    cm, depot = oral["cm"], oral["depot"]
    addl = C(cm, qsp.Regimen([qsp.Bolus(depot, 100.0, time=0.0, interval=12.0, additional=3)]))
    explicit = C(cm, qsp.Regimen([qsp.Bolus(depot, 100.0, time=t) for t in (0.0, 12.0, 24.0, 36.0)]))
    np.testing.assert_allclose(addl, explicit, rtol=RTOL_SAME, atol=1e-14)
    # repeated oral doses: superposition of Bateman functions
    expected = sum(cf_oral(TS, 100.0, t) for t in (0.0, 12.0, 24.0, 36.0))
    np.testing.assert_allclose(addl, expected, rtol=RTOL_CF, atol=ATOL_CF)


def test_back_to_back_infusions_equal_one_long_infusion(iv):
    cm, A = iv["cm"], iv["central"]
    two = C(cm, qsp.Regimen([qsp.Infusion(A, 100.0, time=0.0, duration=1.0),
                             qsp.Infusion(A, 100.0, time=1.0, duration=1.0)]))
    one = C(cm, qsp.Regimen([qsp.Infusion(A, 200.0, time=0.0, duration=2.0)]))
    np.testing.assert_allclose(two, one, rtol=RTOL_DIFF, atol=1e-12)
    np.testing.assert_allclose(one, cf_infusion(TS, 200.0, 0.0, 2.0), rtol=RTOL_CF, atol=ATOL_CF)


def test_iv_infusion_closed_form_during_and_after(iv):
    cm, A = iv["cm"], iv["central"]
    # a 10 h infusion starting at 3 h: outputs at 4..12 are during, 14.. after
    got = C(cm, qsp.Regimen([qsp.Infusion(A, 300.0, time=3.0, duration=10.0)]))
    expected = cf_infusion(TS, 300.0, 3.0, 10.0)
    assert np.sum((TS > 3) & (TS < 13)) >= 4 and np.sum(TS > 13) >= 10
    np.testing.assert_allclose(got, expected, rtol=RTOL_CF, atol=ATOL_CF)


def test_iv_bolus_closed_form(iv):
    cm, A = iv["cm"], iv["central"]
    got = C(cm, qsp.Regimen([qsp.Bolus(A, 100.0, time=0.0), qsp.Bolus(A, 60.0, time=5.0)]))
    expected = cf_bolus(TS, 100.0, 0.0) + cf_bolus(TS, 60.0, 5.0)
    np.testing.assert_allclose(got, expected, rtol=RTOL_CF, atol=ATOL_CF)


def test_oral_with_lag_and_bioavailability_closed_form(oral):
    cm, depot = oral["cm"], oral["depot"]
    got = C(cm, qsp.Regimen([qsp.Bolus(depot, 100.0, time=1.0, lag=0.75, bioavailability=0.6)]))
    np.testing.assert_allclose(got, cf_oral(TS, 100.0, 1.0, lag=0.75, F=0.6), rtol=RTOL_CF, atol=ATOL_CF)
    assert got[0] == 0.0 and got[1] > 0.0  # nothing absorbed before t = 1.75


def test_steady_state_1_equals_many_repeated_doses(oral):
    cm, depot = oral["cm"], oral["depot"]
    tau, n_doses = 12.0, 40  # 40 * 12 h = 48 half-lives of elimination (t1/2 = 6.9 h): exp(-46.8) ~ 5e-21
    first = np.linspace(0.0, tau, N)
    last = (n_doses - 1) * tau + first
    ss = C(cm, qsp.Regimen([qsp.Bolus(depot, 100.0, time=0.0, interval=tau, steady_state=1)]), ts=first)
    many = C(cm, qsp.Regimen([qsp.Bolus(depot, 100.0, time=0.0, interval=tau, additional=n_doses - 1)]),
             ts=last)
    # different event tables (1 vs 40 doses, 480 h of integration): RTOL_DIFF, with a looser
    # atol for the long run's accumulated absolute error
    np.testing.assert_allclose(ss, many, rtol=RTOL_DIFF, atol=1e-8)
    np.testing.assert_allclose(ss, cf_oral_ss(first, 100.0, tau), rtol=RTOL_CF, atol=ATOL_CF)
    # the trough just before the next dose equals the state just before this one
    assert ss[-1] == pytest.approx(cf_oral_ss(tau, 100.0, tau), rel=RTOL_CF)


def test_bolus_is_the_limit_of_ever_shorter_infusions(iv):
    cm, A = iv["cm"], iv["central"]
    bolus = C(cm, qsp.Regimen([qsp.Bolus(A, 100.0, time=0.0)]))
    later = TS >= 2.0  # past every infusion's end
    diffs = []
    for d in (1e-1, 1e-2, 1e-3):
        inf = C(cm, qsp.Regimen([qsp.Infusion(A, 100.0, time=0.0, duration=d)]))
        # exactly: inf / bolus = (exp(k d) - 1) / (k d) = 1 + k d / 2 + O(d^2) after the end
        ratio = np.expm1(K * d) / (K * d)
        np.testing.assert_allclose(inf[later], bolus[later] * ratio, rtol=RTOL_CF)
        diffs.append(np.max(np.abs(inf[later] - bolus[later])))
    # the difference shrinks linearly with the duration (factor 10 per step, to 1%)
    assert diffs[0] / diffs[1] == pytest.approx(10.0, rel=1e-2)
    assert diffs[1] / diffs[2] == pytest.approx(10.0, rel=1e-2)


def test_lag_and_bioavailability_as_parameters_equal_numbers(oral):
    cm, depot = oral["cm"], oral["depot"]
    numeric = C(cm, qsp.Regimen([qsp.Bolus(depot, 100.0, time=0.0, lag=0.75, bioavailability=0.6)]))
    modelled = C(cm, qsp.Regimen([qsp.Bolus(depot, 100.0, time=0.0, lag=oral["ALAG"],
                                            bioavailability=oral["FBIO"])]),
                 params={"ALAG": 0.75, "FBIO": 0.6})
    np.testing.assert_allclose(modelled, numeric, rtol=RTOL_SAME, atol=1e-14)
    # an expression of parameters, not only a bare symbol
    expr = C(cm, qsp.Regimen([qsp.Bolus(depot, 100.0, time=0.0, lag=2 * oral["ALAG"],
                                        bioavailability=oral["FBIO"] / 2)]),
             params={"ALAG": 0.375, "FBIO": 1.2})
    np.testing.assert_allclose(expr, numeric, rtol=RTOL_SAME, atol=1e-14)


def test_infusion_by_rate_equals_by_duration(iv):
    cm, A = iv["cm"], iv["central"]
    by_duration = C(cm, qsp.Regimen([qsp.Infusion(A, 300.0, time=3.0, duration=10.0)]))
    by_rate = C(cm, qsp.Regimen([qsp.Infusion(A, 300.0, time=3.0, rate=30.0)]))
    np.testing.assert_allclose(by_rate, by_duration, rtol=RTOL_SAME, atol=1e-14)


def test_infusion_with_duration_and_rate_raises(iv):
    with pytest.raises(DosingError, match=r"(?s)duration.*rate"):
        qsp.Infusion(iv["central"], 100.0, time=0.0, duration=2.0, rate=50.0)


# ----------------------------------------------------------------------------- gradients
def _central_fd(f, x, h):
    return (f(x + h) - f(x - h)) / (2 * h)


def test_gradients_oral_amount_time_lag_bioavailability(oral):
    cm, depot = oral["cm"], oral["depot"]
    t_obs = 10.0

    @jax.jit
    def conc(amount, t_dose, lag, F):
        reg = qsp.Regimen([qsp.Bolus(depot, amount, time=t_dose, lag=lag, bioavailability=F)])
        return qsp.simulate(cm, jnp.linspace(0.0, 48.0, N), regimen=reg)["C"][5]  # t = 10

    x = (jnp.float64(100.0), jnp.float64(1.0), jnp.float64(0.5), jnp.float64(0.7))
    grads = jax.grad(conc, argnums=(0, 1, 2, 3))(*x)
    # closed forms: C = F A g(s), s = t - t_dose - lag, g(s) = ka/(V(ka-k)) (e^{-ks} - e^{-ka s})
    ka, V = P["ka"], P["V"]
    s = t_obs - 1.0 - 0.5
    g = ka / (V * (ka - K)) * (np.exp(-K * s) - np.exp(-ka * s))
    dg = ka / (V * (ka - K)) * (-K * np.exp(-K * s) + ka * np.exp(-ka * s))
    closed = (0.7 * g, -0.7 * 100.0 * dg, -0.7 * 100.0 * dg, 100.0 * g)
    # finite-difference steps: C is linear in amount and F (any step); smooth in time and
    # lag away from t_obs (h = 1e-3: truncation ~h^2 C''' ~ 1e-8, solver noise 1e-9/1e-3)
    steps = (1.0, 1e-3, 1e-3, 1e-2)
    for i, (gi, ci, h) in enumerate(zip(grads, closed, steps)):
        fd = _central_fd(lambda v: float(conc(*[v if j == i else x[j] for j in range(4)])), float(x[i]), h)
        assert float(gi) == pytest.approx(fd, rel=1e-5), f"argument {i}: grad {float(gi)} vs FD {fd}"
        assert float(gi) == pytest.approx(ci, rel=1e-6), f"argument {i}: grad {float(gi)} vs closed form {ci}"


@pytest.fixture(scope="module")
def iv_conc(iv):
    """C(10 h) after a bolus of 100 mg at ``t_bolus`` and 200 mg infused from 0 over ``duration``."""
    cm, A = iv["cm"], iv["central"]

    @jax.jit
    def conc(t_bolus, duration):
        reg = qsp.Regimen([qsp.Bolus(A, 100.0, time=t_bolus), qsp.Infusion(A, 200.0, time=0.0, duration=duration)])
        return qsp.simulate(cm, jnp.linspace(0.0, 48.0, N), regimen=reg)["C"][5]  # t = 10

    return conc, jax.jit(jax.grad(conc, argnums=(0, 1)))


def _check_iv_gradients(iv_conc, t_b, dur):
    conc, grad = iv_conc
    g_time, g_dur = grad(jnp.float64(t_b), jnp.float64(dur))
    # d/d(t_dose) of the bolus part A/V e^{-k(t - t_dose)} is k * C_bolus(t)
    assert float(g_time) == pytest.approx(K * float(cf_bolus(10.0, 100.0, t_b)), rel=1e-6)
    # infusion, after it ends: C = A/(V k d) (e^{kd} - 1) e^{-kt}; differentiate in d
    d_dur = 200.0 / (P["V"] * K) * np.exp(-K * 10.0) * (K * dur * np.exp(K * dur) - np.expm1(K * dur)) / dur**2
    assert float(g_dur) == pytest.approx(d_dur, rel=1e-6)
    h = 1e-3  # smooth in both away from t = 10: truncation ~1e-9 relative, noise ~1e-6 relative at most
    fd_time = _central_fd(lambda v: float(conc(v, dur)), t_b, h)
    fd_dur = _central_fd(lambda v: float(conc(t_b, v)), dur, h)
    assert float(g_time) == pytest.approx(fd_time, rel=1e-5)
    assert float(g_dur) == pytest.approx(fd_dur, rel=1e-5)


def test_gradients_iv_dose_time_and_infusion_duration(iv_conc):
    _check_iv_gradients(iv_conc, t_b=2.5, dur=4.5)  # dose time and infusion end between output times


def test_gradients_when_dose_time_and_infusion_end_coincide_with_output_times(iv_conc):
    _check_iv_gradients(iv_conc, t_b=2.0, dur=4.0)  # bolus at an output time (2 h), infusion ends at 4 h


# ----------------------------------------------------------------------------- reporting, resets
def test_before_flags_report_trough_default_reports_after_dose(iv):
    cm, A = iv["cm"], iv["central"]
    reg = qsp.Regimen([qsp.Bolus(A, 100.0, time=0.0, interval=12.0, additional=1)])
    at12 = int(np.flatnonzero(TS == 12.0)[0])
    after = C(cm, reg)
    flags = np.zeros(N, bool)
    flags[at12] = True
    before = C(cm, reg, before=flags)
    trough = float(cf_bolus(12.0, 100.0, 0.0))
    assert before[at12] == pytest.approx(trough, rel=RTOL_CF)
    assert after[at12] == pytest.approx(trough + 100.0 / P["V"], rel=RTOL_CF)
    others = np.arange(N) != at12
    np.testing.assert_allclose(before[others], after[others], rtol=RTOL_SAME, atol=1e-14)


def test_reset_returns_to_initial_state_and_reset_plus_dose(iv):
    cm, A = iv["cm"], iv["central"]
    params = {"A0": 20.0}  # initial amount 20 mg: C(0) = 0.4 mg/L
    c0 = 20.0 / P["V"]
    reset = C(cm, qsp.Regimen([qsp.Bolus(A, 100.0, time=0.0), qsp.Reset(time=24.0)]), params=params)
    t = TS
    expected = np.where(t < 24.0, (c0 + 100.0 / P["V"]) * np.exp(-K * t), c0 * np.exp(-K * (t - 24.0)))
    np.testing.assert_allclose(reset, expected, rtol=RTOL_CF, atol=ATOL_CF)
    assert reset[t == 24.0][0] == pytest.approx(c0, rel=1e-12)  # right-continuous: the initial state
    # EVID 4: reset then dose at the same time
    evid4 = C(cm, qsp.Regimen([qsp.Bolus(A, 100.0, time=0.0), qsp.Reset(time=24.0),
                               qsp.Bolus(A, 50.0, time=24.0)]), params=params)
    expected4 = np.where(t < 24.0, expected, (c0 + 50.0 / P["V"]) * np.exp(-K * (t - 24.0)))
    np.testing.assert_allclose(evid4, expected4, rtol=RTOL_CF, atol=ATOL_CF)


# ----------------------------------------------------------------------------- batching
def test_population_with_differing_regimens_equals_one_by_one(oral):
    cm, depot = oral["cm"], oral["depot"]
    regimens = [
        qsp.Regimen([qsp.Bolus(depot, 100.0, time=0.0)]),
        qsp.Regimen([qsp.Bolus(depot, 50.0, time=2.0), qsp.Bolus(depot, 80.0, time=14.0)]),
        qsp.Regimen([qsp.Bolus(depot, 120.0, time=1.0, interval=8.0, additional=3)]),
    ]
    CLs = np.array([4.0, 5.0, 7.5])
    pop = qsp.simulate_population(cm, TS, params={"CL": CLs}, regimen=regimens)
    assert pop["C"].shape == (3, N)
    for i, reg in enumerate(regimens):
        one = C(cm, reg, params={"CL": float(CLs[i])})
        np.testing.assert_allclose(np.asarray(pop["C"][i]), one, rtol=RTOL_DIFF, atol=1e-12)
    # and an oracle independent of both: superposition of Bateman functions
    expected = sum(cf_oral(TS, 120.0, 1.0 + 8.0 * j, k=7.5 / P["V"]) for j in range(4))
    np.testing.assert_allclose(np.asarray(pop["C"][2]), expected, rtol=RTOL_CF, atol=ATOL_CF)
    # the tidy table: subject-major rows, every column from one compiled call
    table = pop.to_pandas()
    assert list(table.columns[:3]) == ["ID", "time", "C"] and len(table) == 3 * N
    third = table[table["ID"] == 3]
    np.testing.assert_array_equal(third["time"].to_numpy(), TS)
    np.testing.assert_allclose(third["C"].to_numpy(), expected, rtol=RTOL_CF, atol=ATOL_CF)
    np.testing.assert_array_equal(pop.to_pandas([])[["ID", "time"]], table[["ID", "time"]])


def test_jax_vmap_over_dose_times_and_amounts(oral):
    cm, depot = oral["cm"], oral["depot"]

    def conc(amounts, times):
        reg = qsp.Regimen([qsp.Bolus(depot, amounts[j], time=times[j]) for j in range(2)])
        return qsp.simulate(cm, jnp.asarray(TS), regimen=reg)["C"]

    amounts = jnp.array([[100.0, 50.0], [80.0, 0.0], [10.0, 200.0]])
    times = jnp.array([[0.0, 12.0], [3.0, 5.0], [0.5, 20.0]])
    batched = np.asarray(jax.jit(jax.vmap(conc))(amounts, times))
    for i in range(3):
        expected = sum(cf_oral(TS, float(amounts[i, j]), float(times[i, j])) for j in range(2))
        np.testing.assert_allclose(batched[i], expected, rtol=RTOL_CF, atol=ATOL_CF)


def test_changing_dose_times_does_not_recompile(oral):
    cm, depot = oral["cm"], oral["depot"]
    traces = []

    @jax.jit
    def conc(dose_times):
        traces.append(1)  # runs only while tracing
        reg = qsp.Regimen([qsp.Bolus(depot, 100.0, time=dose_times[0]), qsp.Bolus(depot, 100.0, time=dose_times[1])])
        return qsp.simulate(cm, jnp.asarray(TS), regimen=reg)["C"]

    outs = [np.asarray(conc(jnp.array(t))) for t in ([0.0, 12.0], [1.0, 7.0], [4.5, 30.0])]
    assert len(traces) == 1
    expected = cf_oral(TS, 100.0, 4.5) + cf_oral(TS, 100.0, 30.0)
    np.testing.assert_allclose(outs[-1], expected, rtol=RTOL_CF, atol=ATOL_CF)


# ----------------------------------------------------------------------------- many outputs
N_DENSE = 401  # >= DENSE_OUTPUT_MIN_OUTPUTS: outputs come from the integrator's continuous extension
TS_DENSE = np.linspace(0.0, 48.0, N_DENSE)  # every 0.12 h: dose times 0, 12, 24, 36 are on the grid


def test_many_outputs_closed_form_with_before_flags_and_duplicates(iv):
    # four boluses every 12 h, outputs on a 401-point grid with a duplicated time and pre-dose
    # flags: each output against the closed form (1e-6 relative,
    # as for step ends: the continuous extension's local error is of the controlling order)
    from qsp.simulate.solve import DENSE_OUTPUT_MIN_OUTPUTS
    assert N_DENSE >= DENSE_OUTPUT_MIN_OUTPUTS
    cm, A = iv["cm"], iv["central"]
    reg = qsp.Regimen([qsp.Bolus(A, 100.0, time=0.0, interval=12.0, additional=3)])
    ts = TS_DENSE.copy()
    ts[5] = ts[6]  # a duplicated time
    before = np.isin(ts, [12.0, 24.0])
    got = C(cm, reg, ts=ts, before=before)
    expected = sum(cf_bolus(ts, 100.0, t_dose) for t_dose in (0.0, 12.0, 24.0, 36.0))
    expected = np.where(before, expected - 100.0 / P["V"], expected)  # before the dose at 12 / 24 h
    np.testing.assert_allclose(got, expected, rtol=RTOL_CF, atol=ATOL_CF)


def test_many_outputs_gradient_in_dose_time(iv):
    # d C(t) / d t_dose = k C_bolus(t) after the dose, through the continuous extension
    cm, A = iv["cm"], iv["central"]

    @jax.jit
    def conc(t_bolus):
        reg = qsp.Regimen([qsp.Bolus(A, 100.0, time=t_bolus)])
        return qsp.simulate(cm, jnp.asarray(TS_DENSE), regimen=reg)["C"]

    t_b = 2.53
    grad = np.asarray(jax.jacrev(conc)(jnp.float64(t_b)))
    later = TS_DENSE > t_b + 0.5
    np.testing.assert_allclose(grad[later], K * cf_bolus(TS_DENSE[later], 100.0, t_b), rtol=1e-6)


def test_gradient_of_a_dose_at_the_start_time(iv):
    # a bolus exactly at t0 = 0: its time derivative is the right-sided k * C_bolus(t) (the tie
    # with t0 must not split the derivative between the dose time and t0). At a tie between two
    # dose records the derivative is one-sided by nature (max of two times); not tested.
    cm, A = iv["cm"], iv["central"]

    def conc(t_bolus):
        reg = qsp.Regimen([qsp.Bolus(A, 100.0, time=t_bolus)])
        return qsp.simulate(cm, jnp.linspace(0.0, 48.0, N), regimen=reg)["C"][5]  # t = 10

    g_time = jax.jit(jax.grad(conc))(jnp.float64(0.0))
    assert float(g_time) == pytest.approx(K * float(cf_bolus(10.0, 100.0, 0.0)), rel=1e-6)


def test_regimen_expands_once_and_stays_a_value():
    # doses() is expanded once per regimen (the front door calls it on every simulate); the
    # cache must not change what a regimen is: equality, hash and repr as before, and the
    # expanded doses are the explicit ones (times 0, 12, 24)
    A = qsp.Species("A", qsp.Compartment("c", volume=1.0))
    r = qsp.Regimen([qsp.Bolus(A, amount=5.0, time=0.0, interval=12.0, additional=2)])
    twin = qsp.Regimen([qsp.Bolus(A, amount=5.0, time=0.0, interval=12.0, additional=2)])
    before = repr(r)
    first = r.doses()
    assert [float(d.time) for d in first] == [0.0, 12.0, 24.0]
    first.append("not a dose")  # a caller's list: the regimen keeps its own
    assert [float(d.time) for d in r.doses()] == [0.0, 12.0, 24.0]
    assert r == twin and hash(r) == hash(twin) and repr(r) == before
