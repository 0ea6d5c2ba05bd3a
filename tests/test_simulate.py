"""qsp.simulate without complex dosing: accuracy against independent oracles, the Solution
accessors, gradients, vmap, and "a parameter change never re-traces".

Oracles: ``scipy.linalg.expm`` of the hand-built rate matrix (linear models),
``scipy.integrate.solve_ivp`` at rtol 1e-11 / atol 1e-13 on the hand-written RHS of
tests/conftest.py (nonlinear models), closed forms (superposed one-compartment boluses,
binding equilibrium), central finite differences (gradients), and SBML test-suite results.
(The mass-action dimerisation closed form is in test_model.py.)

Accuracy tolerance used throughout, ``assert_close_to_reference``: qsp's defaults are
rtol=1e-8, atol=1e-10 per step; over the few hundred steps of these runs the global error
observed is below 2e-8 of each state's scale, and DESIGN.md promises about 1e-6 relative.
We allow 1e-6 of each state's largest magnitude plus 1e-6 relative, so a real error (a
volume applied twice is a factor V ~ 2-50) fails by orders of magnitude, while solver
noise passes with ~50x margin. The scipy references are ~1000x tighter than that.
"""

from __future__ import annotations

import importlib
import logging
import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

import qsp
from conftest import LINEAR_PARAMS, linear_rate_matrix, effect_of

SIM_RTOL = 1e-6  # see module docstring


def assert_close_to_reference(actual, reference, rtol=SIM_RTOL, what=""):
    actual, reference = np.asarray(actual), np.asarray(reference)
    scale = np.max(np.abs(reference), axis=0, keepdims=True) if reference.ndim > 1 else np.max(np.abs(reference))
    err = np.abs(actual - reference)
    bound = rtol * scale + rtol * np.abs(reference)
    worst = np.unravel_index(np.argmax(err - bound), err.shape)
    assert np.all(err <= bound), (f"{what}: max violation at index {worst}: got {actual[worst]!r}, "
                                  f"expected {reference[worst]!r} (bound {bound[worst]:.3g})")


def _simulate_module():
    return importlib.import_module("qsp.simulate")  # `qsp.simulate` is the function


# ------------------------------------------------------------------ accuracy against scipy
@pytest.mark.parametrize("name", ["mm_case", "binding_case", "closed_binding_case", "tmdd_case", "effect_case",
                                  "forcing_case", "dimer_case", "linear_case"])
def test_states_match_solve_ivp(request, name):
    case = request.getfixturevalue(name)
    assert case.compiled.state_names == case.states
    assert_close_to_reference(case.sol.ys, case.reference, what=case.name)
    np.testing.assert_array_equal(np.asarray(case.sol.ts), case.ts)


def test_linear_model_matches_matrix_exponential(linear_case):
    # amounts(t) = expm(K t) @ amounts(0), K built by hand from ka, CL/V1, Q/V1, Q/V2
    p = linear_case.params
    K, y0 = linear_rate_matrix(p), linear_case.y0_vector(p)
    expected = np.stack([scipy.linalg.expm(K * t) @ y0 for t in linear_case.ts])
    assert_close_to_reference(linear_case.sol.ys, expected, what="linear, defaults")
    # observables are concentrations: C = A1 / V1, Cp = A2 / V2
    assert_close_to_reference(linear_case.sol["C"], expected[:, 1] / p["V1"], what="C")
    assert_close_to_reference(linear_case.sol["Cp"], expected[:, 2] / p["V2"], what="Cp")
    assert linear_case.sol.ys.dtype == np.float64   # float64 by default


def test_initial_state_holds_at_time_zero_when_outputs_start_later(linear_case):
    # t0 defaults to 0 when the first output time is later: outputs at 2..26 are expm(K t) y0
    p = linear_case.params
    K, y0 = linear_rate_matrix(p), linear_case.y0_vector(p)
    ts = linear_case.ts + 2.0   # same shape: no new compilation
    expected = np.stack([scipy.linalg.expm(K * t) @ y0 for t in ts])
    assert_close_to_reference(qsp.simulate(linear_case.compiled, ts).ys, expected, what="linear from t=2")


def test_linear_model_with_overridden_parameters_matches_expm(linear_case):
    # overriding a volume and a clearance by value must act exactly like rebuilding the model
    over = {"CL": 3.1, "V1": 12.0, "V2": 18.0, "dose": 250.0}
    p = {**linear_case.params, **over}
    K, y0 = linear_rate_matrix(p), linear_case.y0_vector(p)
    expected = np.stack([scipy.linalg.expm(K * t) @ y0 for t in linear_case.ts])
    sol = qsp.simulate(linear_case.compiled, linear_case.ts, params=over)
    assert_close_to_reference(sol.ys, expected, what="linear, overridden")
    np.testing.assert_allclose(np.asarray(sol["V1"]), 12.0, rtol=0, atol=0)
    np.testing.assert_allclose(np.asarray(sol["central"]), 12.0, rtol=0, atol=0)


def test_one_compartment_initial_concentration_semantics(linear_case):
    # A2 starts from initial_concentration 0.4 in V2 = 25: amount 10, concentration 0.4
    sol = linear_case.sol
    assert float(sol.amount("A2")[0]) == pytest.approx(10.0, rel=1e-14)
    assert float(sol["A2"][0]) == pytest.approx(0.4, rel=1e-14)


def test_tmdd_target_starts_at_baseline_and_observables(tmdd_case):
    p, ref, sol = tmdd_case.params, tmdd_case.reference, tmdd_case.sol
    # R(0) = ksyn/kdeg as a concentration (given as initial_concentration expression)
    assert float(sol["R"][0]) == pytest.approx(p["ksyn"] / p["kdeg"], rel=1e-14)
    assert_close_to_reference(sol["Ltot"], (ref[:, 0] + ref[:, 3]) / p["V1"], what="Ltot")
    assert_close_to_reference(sol["Rtot"], (ref[:, 2] + ref[:, 3]) / p["V1"], what="Rtot")


def test_forcing_uses_model_time(forcing_case):
    p, ts = forcing_case.params, forcing_case.ts
    drive = 1 + p["amp"] * np.cos(2 * np.pi * (ts - p["tpeak"]) / 24)
    # an observable of time and parameters only: evaluated formula, rounding-level agreement
    np.testing.assert_allclose(np.asarray(forcing_case.sol["drive"]), drive, rtol=1e-13)
    assert_close_to_reference(forcing_case.sol["X_level"], forcing_case.reference[:, 0] / p["Vt"], what="X")


# ------------------------------------------------------------------ closed forms and conservation
# (the dimerisation closed form, 1/[A] = 1/[A]0 + 2kt, is in test_model.py with qsp.mass_action)
def test_closed_binding_conserves_the_graph_laws(closed_binding_case):
    laws = qsp.ReactionGraph(closed_binding_case.model).conservation_laws()
    # by hand: S columns (L, R, RL) are (-1, -1, 1) and (1, 1, -1): L + RL and R + RL are conserved
    assert [law.coefficients for law in laws] == [{"L": 1, "RL": 1}, {"R": 1, "RL": 1}]
    sol, cm = closed_binding_case.sol, closed_binding_case.compiled
    amounts = {name: np.asarray(sol.amount(name)) for name in cm.species_names}
    for law in laws:
        total = sum(float(w) * amounts[name] for name, w in law.coefficients.items())
        # amounts, not concentrations; a linear invariant is kept by Runge-Kutta steps (and their
        # Newton iterations) up to rounding, so 1e-9 relative is generous
        np.testing.assert_allclose(total, total[0], rtol=1e-9, err_msg=str(law))
    # initial totals by hand: L + RL = 10, R + RL = 5
    assert float((amounts["L"] + amounts["RL"])[0]) == 10.0
    assert float((amounts["R"] + amounts["RL"])[0]) == 5.0


def test_closed_binding_reaches_the_analytic_equilibrium(closed_binding_case):
    # At equilibrium kon L R = koff RL in concentrations with L = L0 - x, R = R0 - x, RL = x:
    # x^2 - (L0 + R0 + Kd) x + L0 R0 = 0, smaller root. Relaxation rate ~ kon (L + R) + koff > 10/h,
    # so t = 24 is at equilibrium to machine precision.
    p = closed_binding_case.params
    V, Kd = p["Vc"], p["koff"] / p["kon"]
    L0, R0 = 10.0 / V, 5.0 / V
    b = L0 + R0 + Kd
    x = (b - np.sqrt(b * b - 4 * L0 * R0)) / 2
    sol = closed_binding_case.sol
    np.testing.assert_allclose(float(sol["RL"][-1]), x, rtol=1e-7)   # solver-accuracy level
    np.testing.assert_allclose(float(sol["L"][-1]), L0 - x, rtol=1e-7)
    np.testing.assert_allclose(float(sol["R"][-1]), R0 - x, rtol=1e-6)  # R small (0.02): relative error larger


# ------------------------------------------------------------------ Solution accessors
def test_solution_getitem_every_kind_of_name(effect_case):
    p, ref, sol = effect_case.params, effect_case.reference, effect_case.sol
    V = p["Vkg"] * p["WT"]
    T = len(effect_case.ts)
    D, A, Ce = ref[:, 0], ref[:, 1], ref[:, 2]
    assert_close_to_reference(sol["effect"], effect_of(Ce, p), what="observable effect")
    assert_close_to_reference(sol["Cp"], A / V, what="observable Cp")
    assert_close_to_reference(sol["Cc"], A / V, what="assignment-rule variable Cc")
    assert_close_to_reference(sol["Eff"], effect_of(Ce, p), what="assignment-rule variable Eff")
    assert_close_to_reference(sol["Ce"], Ce, what="rate-rule variable Ce")
    assert_close_to_reference(sol["A"], A / V, what="species A (concentration)")
    assert_close_to_reference(sol["D"], D / p["Vg"], what="species D (concentration)")
    assert_close_to_reference(sol.amount("A"), A, what="amount of A")
    assert_close_to_reference(sol.amount("Ce"), Ce, what="rate-rule state Ce")
    assert_close_to_reference(sol.concentration("A"), A / V, what="concentration of A")
    # parameters and compartment volumes: one value per time, exactly
    for name, value in [("WT", 70.0), ("ke0", 0.35), ("central", V), ("gut", p["Vg"])]:
        out = np.asarray(sol[name])
        assert out.shape == (T,), name
        np.testing.assert_allclose(out, value, rtol=1e-15, err_msg=name)
    for name in ["effect", "Cp", "Cc", "Ce", "A", "D"]:
        assert np.asarray(sol[name]).shape == (T,)
    assert {"effect", "Cp", "Cc", "Ce", "Eff", "A", "D", "WT", "central"} <= set(sol.names)


def test_solution_to_pandas(effect_case):
    sol = effect_case.sol
    df = sol.to_pandas()
    # time, then observables, species (concentrations), rule variables in declaration order
    assert list(df.columns) == ["time", "effect", "Cp", "D", "A", "Cc", "Ce", "Eff"]
    assert len(df) == len(effect_case.ts)
    np.testing.assert_array_equal(df["time"].to_numpy(), effect_case.ts)
    for column in df.columns[1:]:
        np.testing.assert_array_equal(df[column].to_numpy(), np.asarray(sol[column]))
    chosen = sol.to_pandas(["A", "WT"])
    assert list(chosen.columns) == ["time", "A", "WT"]
    np.testing.assert_array_equal(chosen["WT"].to_numpy(), 70.0)
    assert list(sol.to_pandas([]).columns) == ["time"]


# ------------------------------------------------------------------ the DESIGN.md contract
CONTRACT = '''\
import jax, jax.numpy as jnp
import qsp

V  = qsp.Parameter("V", 30.0, unit="L", description="central volume")
CL = qsp.Parameter("CL", 3.0, unit="L/h", description="clearance")
central = qsp.Compartment("central", volume=V)
A = qsp.Species("A", central)                     # integrated as an amount; in expressions A means amount/V
model = qsp.Model(
    "pk1",
    reactions=[qsp.Reaction(reactants=[A], products=[], rate=CL * A)],   # CL * concentration
    observables={"C": A},                          # an observable is any expression
)
compiled = qsp.compile(model)                      # structure only: compile once
regimen = qsp.Regimen([qsp.Bolus(A, amount=100.0, time=0.0, interval=12.0, additional=3)])
sol = qsp.simulate(compiled, jnp.linspace(0.0, 48.0, 97), params={"CL": 2.5}, regimen=regimen)
sol["C"]                                           # array, one value per time
'''
REGIMEN_LINE = ('regimen = qsp.Regimen([qsp.Bolus(A, amount=100.0, time=0.0, interval=12.0, additional=3)])\n')


def _run_contract(code: str) -> dict:
    namespace: dict = {}
    exec(compile(code, "<DESIGN.md public API contract>", "exec"), namespace)  # the snippet, as written
    return namespace


def _superposed_boluses(ts, amount, times, cl, v):
    # one-compartment bolus superposition; at a dose time the state after the dose is reported
    amount_t = sum(np.where(ts >= t0, amount * np.exp(-cl / v * (ts - t0)), 0.0) for t0 in times)
    return amount_t / v


def test_contract_snippet_is_the_one_in_design_md():
    design = Path(__file__).resolve().parents[1].parent / "shared" / "DESIGN.md"
    if not design.is_file():
        pytest.skip(f"{design} not found")
    text = design.read_text()
    section = text[text.index("## The public API contract"):]
    block = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert block == CONTRACT


def test_contract_snippet_with_regimen():
    ns = _run_contract(CONTRACT)
    ts = np.linspace(0.0, 48.0, 97)
    C = np.asarray(ns["sol"]["C"])
    assert C.shape == (97,)
    expected = _superposed_boluses(ts, 100.0, [0.0, 12.0, 24.0, 36.0], cl=2.5, v=30.0)
    assert_close_to_reference(C, expected, what="contract C")
    # dose amounts and parameter values are data: new values, no new compilation of the core
    core = _simulate_module()._core
    size = core._cached._cache_size() if hasattr(getattr(core, "_cached", None), "_cache_size") else None
    qsp, A, compiled = ns["qsp"], ns["A"], ns["compiled"]
    half = qsp.Regimen([qsp.Bolus(A, amount=50.0, time=0.0, interval=12.0, additional=3)])
    sol = qsp.simulate(compiled, ns["jnp"].linspace(0.0, 48.0, 97), params={"CL": 2.5}, regimen=half)
    np.testing.assert_allclose(np.asarray(sol["C"]), C / 2, rtol=1e-7)  # linear in the dose
    if size is not None:
        assert core._cached._cache_size() == size


def test_contract_snippet_without_regimen():
    code = CONTRACT.replace(REGIMEN_LINE, "").replace(", regimen=regimen", "")
    assert code.count("regimen") == 0
    ns = _run_contract(code)
    C = np.asarray(ns["sol"]["C"])
    assert C.shape == (97,)
    np.testing.assert_array_equal(C, 0.0)   # no dose, initial amount 0: exactly zero


# ------------------------------------------------------------------ no re-tracing
def test_jit_of_simulate_traces_once_for_new_parameter_values(linear_case):
    cm, ts = linear_case.compiled, jnp.asarray(linear_case.ts)
    traces = []

    @jax.jit
    def concentration(params):
        traces.append(1)  # Python side effect: runs only while tracing
        return qsp.simulate(cm, ts, params=params)["C"]

    outs = [concentration({"CL": jnp.asarray(cl), "V1": jnp.asarray(v)}) for cl, v in [(1.5, 9.0), (2.5, 10.0),
                                                                                      (3.5, 11.0)]]
    assert len(traces) == 1
    # and the values did change, matching the un-jitted calls
    direct = np.asarray(qsp.simulate(cm, ts, params={"CL": 3.5, "V1": 11.0})["C"])
    np.testing.assert_allclose(np.asarray(outs[2]), direct, rtol=1e-12)  # same arithmetic, jitted or not
    assert not np.allclose(np.asarray(outs[0]), np.asarray(outs[2]))


def test_direct_simulate_calls_do_not_recompile_the_core(linear_case, caplog):
    cm, ts = linear_case.compiled, linear_case.ts
    core = _simulate_module()._core
    cached = getattr(core, "_cached", None)
    qsp.simulate(cm, ts, params={"CL": 2.2})  # warm (shapes and options as below)
    before = cached._cache_size() if hasattr(cached, "_cache_size") else None
    with caplog.at_level(logging.WARNING), jax.log_compiles(True):
        for params in ({"CL": 1.7}, {"CL": 2.9, "Q": 0.4}, {"V1": 7.0, "ka": 0.3}, None):
            qsp.simulate(cm, ts, params=params)
    if before is not None:
        assert cached._cache_size() == before
    compiles = [r.getMessage() for r in caplog.records if "simulate_core" in r.getMessage()
                and r.getMessage().startswith("Compiling")]
    assert compiles == []


# ------------------------------------------------------------------ vmap
def test_vmap_over_a_parameter_equals_the_loop(linear_case):
    cm, ts = linear_case.compiled, jnp.asarray(linear_case.ts)
    cls = jnp.array([1.5, 2.0, 3.0])
    batched = jax.vmap(lambda cl: qsp.simulate(cm, ts, params={"CL": cl})["C"])(cls)
    looped = np.stack([np.asarray(qsp.simulate(cm, ts, params={"CL": float(cl)})["C"]) for cl in cls])
    assert batched.shape == (3, len(ts))
    # each batch member takes its own adaptive steps: agreement to rounding (observed ~1e-14)
    np.testing.assert_allclose(np.asarray(batched), looped, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------ gradients vs finite differences
GRAD_AT = {"CL": 2.0, "Q": 1.5, "V1": 10.0, "ka": 1.1}
# Central differences with h = 1e-4 * p on simulations at rtol 1e-12 / atol 1e-14: truncation
# error O(h^2) ~ 1e-8 relative, solver noise ~ 1e-12 / 1e-4 = 1e-8 relative. The autodiff
# derivative differentiates the default-tolerance solution, accurate to ~1e-7 relative.
# Observed agreement: < 5e-8. Tolerance: 1e-6 relative to the largest derivative.
FD_REL_STEP = 1e-4
GRAD_RTOL = 1e-6


@pytest.fixture(scope="module")
def tight_linear(linear_case):
    cm, ts = linear_case.compiled, linear_case.ts

    def concentration(params):
        return np.asarray(qsp.simulate(cm, ts, params=params, rtol=1e-12, atol=1e-14)["C"])
    return concentration


def _central_difference(f, at, name):
    h = FD_REL_STEP * at[name]
    return (f({**at, name: at[name] + h}) - f({**at, name: at[name] - h})) / (2 * h)


def test_grad_matches_finite_differences(linear_case, tight_linear):
    cm, ts = linear_case.compiled, jnp.asarray(linear_case.ts)
    grads = jax.grad(lambda p: qsp.simulate(cm, ts, params=p)["C"][12])(GRAD_AT)
    assert set(grads) == set(GRAD_AT)
    for name in GRAD_AT:
        fd = _central_difference(tight_linear, GRAD_AT, name)[12]
        np.testing.assert_allclose(float(grads[name]), fd, rtol=GRAD_RTOL, err_msg=name)


def test_jacfwd_matches_finite_differences(linear_case, tight_linear):
    cm, ts = linear_case.compiled, jnp.asarray(linear_case.ts)
    at = {**GRAD_AT, "dose": LINEAR_PARAMS["dose"]}
    jac = jax.jacfwd(lambda p: qsp.simulate(cm, ts, params=p, adjoint="forward")["C"])(at)
    for name in GRAD_AT:
        fd = _central_difference(tight_linear, at, name)
        assert jac[name].shape == (len(ts),)
        np.testing.assert_allclose(np.asarray(jac[name]), fd, rtol=GRAD_RTOL, atol=GRAD_RTOL * np.max(np.abs(fd)),
                                   err_msg=name)
    # the depot dose enters linearly: dC/d(dose) = C_from_dose / dose, C_from_dose = C - C(dose=0)
    c = tight_linear(at)
    c0 = tight_linear({**at, "dose": 0.0})
    np.testing.assert_allclose(np.asarray(jac["dose"]), (c - c0) / at["dose"], rtol=1e-6,
                               atol=1e-6 * np.max(np.abs(c - c0)) / at["dose"])


# ------------------------------------------------------------------ SBML test suite (external oracle)
def _sbml_settings(path: Path) -> dict:
    out = {}
    for line in path.read_text().splitlines():
        if ":" in line:
            key, value = line.split(":", 1)
            out[key.strip()] = value.strip()
    return out


def _sbml_results(path: Path):
    return np.genfromtxt(path, delimiter=",", names=True)


def test_sbml_cases_00860_and_01058_composed(reference_dir):
    """Two SBML semantic cases translated by hand into one composed model (prefixes keep the
    two ``S1``/``S2``/``C`` apart).

    00860: C = 0.9, S1 -> S2 at rate C*k1*S1*t (time in the rate), output in concentrations.
    01058: C = 0.5, S2 -> S1 at rate -(C*(kf*S1 - kr*S2)) (a negative rate), output in amounts.
    Tolerance: each case's settings (|sim - ref| <= absolute + relative*|ref|).
    """
    root = reference_dir / "sbml-test-suite" / "cases" / "semantic"
    C1 = qsp.Compartment("C", volume=0.9)
    S1, S2 = qsp.Species("S1", C1, initial_concentration=0.0015), qsp.Species("S2", C1, initial_concentration=0.0)
    k1 = qsp.Parameter("k1", 1.0)
    m860 = qsp.Model("case00860", reactions=[qsp.Reaction([S1], [S2], rate=C1 * k1 * S1 * qsp.time)])
    C2 = qsp.Compartment("C", volume=0.5)
    T1, T2 = qsp.Species("S1", C2, initial_amount=1.0), qsp.Species("S2", C2, initial_amount=0.0)
    kf, kr = qsp.Parameter("kf", 0.9), qsp.Parameter("kr", 0.075)
    m1058 = qsp.Model("case01058", reactions=[qsp.Reaction([T2], [T1], rate=-(C2 * (kf * T1 - kr * T2)))])
    model = qsp.compose(m860.prefixed("c00860"), m1058.prefixed("c01058"), name="sbml_cases")
    assert set(model.symbols) == {"c00860_C", "c00860_S1", "c00860_S2", "c00860_k1",
                                  "c01058_C", "c01058_S1", "c01058_S2", "c01058_kf", "c01058_kr"}
    res860 = _sbml_results(root / "00860" / "00860-results.csv")
    res1058 = _sbml_results(root / "01058" / "01058-results.csv")
    ts = np.unique(np.concatenate([res860["time"], res1058["time"]]))
    sol = qsp.simulate(qsp.compile(model), ts)
    for case, res, getter in [("00860", res860, lambda n: sol[f"c00860_{n}"]),          # concentrations
                              ("01058", res1058, lambda n: sol.amount(f"c01058_{n}"))]:  # amounts
        settings = _sbml_settings(root / case / f"{case}-settings.txt")
        atol, rtol = float(settings["absolute"]), float(settings["relative"])
        index = np.searchsorted(ts, res["time"])
        for species in ("S1", "S2"):
            got = np.asarray(getter(species))[index]
            np.testing.assert_allclose(got, res[species], rtol=rtol, atol=atol, err_msg=f"{case} {species}")


def test_model_without_states_simulates_its_rules():
    # SBML models can consist of parameters and assignment rules only (suite case 00029 and
    # others): nothing to integrate, outputs are functions of time and parameters
    k = qsp.Parameter("k", 2.0)
    v = qsp.Variable("v")
    cm = qsp.compile(qsp.Model("rules_only", rules=[qsp.AssignmentRule(v, k * qsp.time)], observables={"w": v + 1}))
    assert cm.n_states == 0
    ts = np.linspace(0.0, 3.0, 4)
    sol = qsp.simulate(cm, ts, params={"k": 3.0})
    np.testing.assert_allclose(np.asarray(sol["v"]), 3.0 * ts, rtol=1e-15)
    np.testing.assert_allclose(np.asarray(sol["w"]), 3.0 * ts + 1.0, rtol=1e-15)
