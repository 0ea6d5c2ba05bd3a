"""qsp.sensitivity: local sensitivities against closed forms and central finite differences.

The model is a one-compartment bolus/infusion model with a direct Emax effect,

    C(t) = sum_j D_j/V exp(-k (t - t_j)) [t > t_j]  (+ an infusion term),   k = CL/V,
    E(t) = Emax C / (EC50 + C),

whose derivatives are written by hand below (never read back from qsp):

    dC/dCL = -(t - t_j)/V * c_j,   dC/dV = c_j (CL (t - t_j)/V^2 - 1/V),
    dC/dt_j = k c_j,               dC/dD_j = c_j / D_j,
    dE/dx = Emax EC50 / (EC50 + C)^2 * dC/dx,   dE/dEmax = E/Emax,   dE/dEC50 = -E/(EC50 + C).

Output times sit between dose times (a dose-time derivative is undefined exactly at the jump).
One jacfwd compilation serves every test (module fixture).
"""

from __future__ import annotations

import numpy as np
import pytest

import qsp
from qsp.analysis import LocalSensitivity

PARAMS = dict(V=30.0, CL=3.0, Emax=2.0, EC50=1.5)
DOSES = [(0.0, 100.0), (10.0, 50.0)]  # (time, amount) of the boluses
INFUSION = dict(time=20.0, amount=60.0, duration=2.0)
TIMES = np.arange(0.5, 40.0, 1.0)  # 0.5, 1.5, ..., 39.5: never on a dose time or infusion edge

# The simulations run at rtol 1e-10 / atol 1e-12, so that the finite differences (step 1e-4
# relative) carry a noise of about 1e-10 / 1e-4 = 1e-6 relative; the AD derivatives are accurate
# to roughly the solver tolerance. TOL = 1e-5 relative to each curve's scale leaves a 10x margin
# over that noise while a wrong sign, factor or missing term fails by orders of magnitude.
# t0=-1: the simulation starts before the first dose, so that moving that dose earlier is
# defined (a dose exactly at the start has only a one-sided time derivative; see qsp.sensitivity).
OPTIONS = dict(rtol=1e-10, atol=1e-12, t0=-1.0)
TOL = 1e-5


def build_model():
    V, CL = qsp.Parameter("V", PARAMS["V"]), qsp.Parameter("CL", PARAMS["CL"])
    Emax, EC50 = qsp.Parameter("Emax", PARAMS["Emax"]), qsp.Parameter("EC50", PARAMS["EC50"])
    A = qsp.Species("A", qsp.Compartment("central", volume=V))
    model = qsp.Model("pk_emax", reactions=[qsp.Reaction([A], [], rate=CL * A)],
                      observables={"C": A, "E": Emax * A / (EC50 + A)})
    return model, A


def regimen_of(A, doses=DOSES, infusion=INFUSION):
    records = [qsp.Bolus(A, amount=a, time=t) for t, a in doses]
    records.append(qsp.Infusion(A, **infusion))
    return qsp.Regimen(records)


@pytest.fixture(scope="module")
def setup():
    model, A = build_model()
    compiled = qsp.compile(model)
    result = qsp.sensitivity(compiled, TIMES, regimen=regimen_of(A), outputs=["C", "E"], **OPTIONS)
    return compiled, A, result


def bolus_terms(t, p=PARAMS, doses=DOSES):
    """Per bolus j: c_j(t) = D_j/V exp(-k (t - t_j)) for t > t_j, else 0; shape (n_doses, T)."""
    k = p["CL"] / p["V"]
    return np.array([np.where(t > tj, a / p["V"] * np.exp(-k * (t - tj)), 0.0) for tj, a in doses])


def test_inputs_and_shapes(setup):
    compiled, _, s = setup
    # parameters in the compiled model's order, then amounts, times and durations of the single doses
    assert s.inputs == (*compiled.parameter_names, "dose1.amount", "dose2.amount", "dose3.amount",
                        "dose1.time", "dose2.time", "dose3.time", "dose3.duration")
    assert set(compiled.parameter_names) == set(PARAMS)
    assert s.kinds == ("parameter",) * 4 + ("amount",) * 3 + ("time",) * 3 + ("duration",)
    np.testing.assert_array_equal(s.values[4:], [100.0, 50.0, 60.0, 0.0, 10.0, 20.0, 2.0])
    assert s.raw.shape == (2, TIMES.size, len(s.inputs))
    assert s.y.shape == (2, TIMES.size)


def test_raw_matches_closed_form_before_the_infusion(setup):
    """dC/dCL, dC/dV, dC/d(dose time), dC/d(amount) and the Emax chain rule, for t < 20 (boluses only)."""
    _, _, s = setup
    before = TIMES < INFUSION["time"]
    t = TIMES[before]
    c = bolus_terms(t)
    C = c.sum(axis=0)
    V, CL, k = PARAMS["V"], PARAMS["CL"], PARAMS["CL"] / PARAMS["V"]
    since = np.array([np.where(t > tj, t - tj, 0.0) for tj, _ in DOSES])
    expected_C = {
        "CL": np.sum(-since / V * c, axis=0),
        "V": np.sum(c * (CL * since / V**2 - 1.0 / V), axis=0),
        "dose1.time": k * c[0], "dose2.time": k * c[1],
        "dose1.amount": c[0] / DOSES[0][1], "dose2.amount": c[1] / DOSES[1][1],
        "dose3.amount": 0.0 * t, "dose3.time": 0.0 * t, "dose3.duration": 0.0 * t,  # causality: not given yet
        "Emax": 0.0 * t, "EC50": 0.0 * t,
    }
    np.testing.assert_allclose(s.y[0, before], C, rtol=1e-8)  # values at rtol 1e-10
    for name, exact in expected_C.items():
        got = s.of("C", name)[before]
        np.testing.assert_allclose(got, exact, rtol=TOL, atol=TOL * np.max(np.abs(C)) / 100.0, err_msg=name)
    Emax, EC50 = PARAMS["Emax"], PARAMS["EC50"]
    dE_dC = Emax * EC50 / (EC50 + C) ** 2
    E = Emax * C / (EC50 + C)
    expected_E = {name: dE_dC * v for name, v in expected_C.items() if name not in ("Emax", "EC50")}
    expected_E.update({"Emax": E / Emax, "EC50": -E / (EC50 + C)})
    for name, exact in expected_E.items():
        np.testing.assert_allclose(s.of("E", name)[before], exact, rtol=TOL, atol=1e-9, err_msg=f"E, {name}")


def test_raw_matches_central_finite_differences(setup):
    """Every input (the infusion's amount, start and duration included), every time, both outputs.

    The perturbed outputs are the primal values ``.y`` of further ``qsp.sensitivity`` calls:
    the same integration as ``qsp.simulate`` (no derivative enters them), and the compiled
    computation is reused, so the finite differences cost no second compilation.
    """
    compiled, A, s = setup

    def outputs(params=None, doses=DOSES, infusion=INFUSION):
        return qsp.sensitivity(compiled, TIMES, params=params, regimen=regimen_of(A, doses, infusion),
                               outputs=["C", "E"], **OPTIONS).y

    def perturbed(name, value):
        if name in PARAMS:
            return outputs(params={**PARAMS, name: value})
        dose, field = name.split(".")
        i = int(dose[4:]) - 1
        if i < len(DOSES):
            doses = [list(d) for d in DOSES]
            doses[i][0 if field == "time" else 1] = value
            return outputs(doses=[tuple(d) for d in doses])
        return outputs(infusion={**INFUSION, field: value})

    np.testing.assert_allclose(outputs(), s.y, rtol=1e-13)  # the perturbation helper reproduces the base point
    for j, name in enumerate(s.inputs):
        x = s.values[j]
        h = 1e-4 * abs(x) if x != 0 else 1e-4
        fd = (perturbed(name, x + h) - perturbed(name, x - h)) / (2 * h)
        for o in range(2):
            scale = np.max(np.abs(fd[o])) + np.max(np.abs(s.raw[o, :, j]))
            np.testing.assert_allclose(s.raw[o, :, j], fd[o], rtol=0, atol=TOL * max(scale, 1e-12),
                                       err_msg=f"{s.outputs[o]} w.r.t. {name}")


def test_normalised_is_raw_times_value_over_output(setup):
    _, _, s = setup
    for j, kind in enumerate(s.kinds):
        reference = s.values[j] if kind != "time" else 1.0  # d log y / dt for dose times
        expected = s.raw[:, :, j] * reference / s.y
        np.testing.assert_allclose(s.normalised[:, :, j], expected, rtol=1e-12, atol=1e-15)
    # and against the closed form of a single bolus: d log C / d log CL = -k t before the second dose
    early = TIMES < DOSES[1][0]
    np.testing.assert_allclose(s.of("C", "CL", normalised=True)[early],
                               -PARAMS["CL"] / PARAMS["V"] * TIMES[early], rtol=TOL)


def test_ranked_table(setup):
    _, _, s = setup
    table = s.table()
    assert len(table) == len(s.outputs) * len(s.inputs)
    for output, rows in table.groupby("output"):
        assert list(rows["rank"]) == list(range(1, len(s.inputs) + 1))
        assert np.all(np.diff(rows["mean_abs"].to_numpy()) <= 0.0)  # most influential first
    top_C = table[table["output"] == "C"].iloc[0]
    # over 0.5-39.5 h the concentration depends most on V (|d log C/d log V| = |k t - 1| summed
    # over doses, up to ~3) and CL (k t, up to ~4): both must lead the ranking
    assert top_C["input"] in ("V", "CL")
    peak_CL = table[(table["output"] == "C") & (table["input"] == "CL")].iloc[0]
    normalised = s.of("C", "CL", normalised=True)
    assert peak_CL["peak"] == normalised[np.argmax(np.abs(normalised))]
    long = s.to_pandas()
    assert len(long) == s.raw.size and set(long.columns) == {"time", "output", "input", "raw", "normalised"}


def test_plots(setup):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, _, s = setup
    ax = s.plot_heatmap("C")
    assert len(ax.get_yticklabels()) == len(s.inputs)
    ax = s.plot_tornado("E", time=5.0, top=5)
    assert len(ax.patches) == 5
    assert "t = 5.5" in ax.get_title() or "t = 4.5" in ax.get_title()
    s.plot_tornado("C")
    plt.close("all")


def test_zero_output_normalises_to_zero_not_nan():
    s = LocalSensitivity(times=np.array([0.0, 1.0]), outputs=("C",), inputs=("k",), kinds=("parameter",),
                                      values=np.array([2.0]), scale=np.array([2.0]),
                                      y=np.array([[0.0, 1.0]]), raw=np.array([[[0.0], [0.5]]]))
    assert s.normalised[0, :, 0].tolist() == [0.0, 1.0]


def test_bad_input_errors(setup):
    compiled, A, _ = setup
    with pytest.raises(qsp.ModelError, match="'Q'"):
        qsp.sensitivity(compiled, TIMES, parameters=["Q"])
    with pytest.raises(qsp.ModelError, match="'Cmax'"):
        qsp.sensitivity(compiled, TIMES, outputs=["Cmax"])
    with pytest.raises(qsp.ModelError, match="'rate'"):
        qsp.sensitivity(compiled, TIMES, regimen=regimen_of(A), doses=["rate"])
    with pytest.raises(qsp.ModelError, match="adjoint"):
        qsp.sensitivity(compiled, TIMES, adjoint="reverse")
    _, _, s = setup
    with pytest.raises(qsp.ModelError, match="'dose9.time'"):
        s.of("C", "dose9.time")
