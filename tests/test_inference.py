"""qsp.inference: likelihood, fit, MAP, against oracles the code did not compute.

* error-model densities and M3 terms against ``scipy.stats``;
* the likelihood of the theophylline data against a hand computation: the closed-form
  one-compartment oral solution and ``scipy.stats.norm``;
* its gradient against central finite differences of that hand computation;
* individual fits against ``scipy.optimize.least_squares`` on the closed form, and their
  standard errors against the inverse of a finite-difference Hessian of the hand objective;
* recovery of known parameters from simulated data;
* MAP against NONMEM POSTHOC EBEs (PKPDmap's 100-subject set: every subject within 0.5 %);
* MAP forecasts against NONMEM/PsN ``proseval`` (mipdeval vancomycin: within 10 %).

Compilation dominates the run time (about 30 s of CPU for one fitting kernel), so the
theophylline fits, the recovery fit and the start-value check share one kernel (same model,
regimen structure, sample count and free-parameter layout), and the likelihood tests share
one jitted likelihood.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.optimize import least_squares

import qsp
from qsp.inference import (Additive, Combined, Likelihood, LogNormal, Observations, PopulationPrior, Proportional,
                           fit)
from qsp.inference import error_models as em
from qsp.inference import likelihood as likelihood_module
from qsp.inference.transforms import Bounded, Identity, Log, Logit

FREE = ["ka", "CL", "V", "sigma_add"]
N_STARTS = 3  # every oral fit uses 3 starts, so they share one compiled kernel


# ----------------------------------------------------------------------------- oracles
def oral_concentration(ka, cl, v, dose, t):
    """Closed-form one-compartment model with first-order absorption (bolus into the depot at 0)."""
    k = cl / v
    return dose * ka / (v * (ka - k)) * (np.exp(-k * t) - np.exp(-ka * t))


def hand_nll(theta, t, y, dose):
    """-log L with additive error by scipy.stats: theta = (ka, CL, V, sigma)."""
    ka, cl, v, sigma = theta
    return -np.sum(stats.norm.logpdf(y, oral_concentration(ka, cl, v, dose, t), sigma))


def fd_hessian(f, x, rel=1e-4):
    """Central finite-difference Hessian, steps relative to each coordinate."""
    x = np.asarray(x, float)
    h = rel * np.maximum(np.abs(x), 1e-8)
    n = x.size
    H = np.zeros((n, n))
    for i in range(n):
        for j in range(i, n):
            def shifted(a, b):
                z = x.copy()
                z[i] += a * h[i]
                z[j] += b * h[j]
                return f(z)
            H[i, j] = H[j, i] = (shifted(1, 1) - shifted(1, -1) - shifted(-1, 1) + shifted(-1, -1)) / (4 * h[i] * h[j])
    return H


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def oral():
    ka, CL, V = qsp.Parameter("ka", 1.5), qsp.Parameter("CL", 2.8), qsp.Parameter("V", 32.0)
    depot = qsp.Species("depot", qsp.Compartment("gut", volume=1.0))
    central = qsp.Species("central", qsp.Compartment("plasma", volume=V))
    model = qsp.Model("oral1", reactions=[qsp.Reaction([depot], [central], rate=ka * depot),
                                          qsp.Reaction([central], [], rate=CL * central)],
                      observables={"C": central})
    return qsp.compile(model)


@pytest.fixture(scope="module")
def theo(reference_dir):
    """nlmixr2data theo_sd read through qsp.io (rxode2's EVID 101 is a plain dose: EVID 1)."""
    from qsp.io import read_nonmem

    df = pd.read_csv(reference_dir / "nlmixr2data" / "theo_sd.csv")
    df.loc[df["EVID"] == 101, "EVID"] = 1
    return read_nonmem(df, ["depot", "central"])


def observed(subject):
    keep = subject.mdv == 0
    return subject.times[keep], subject.dv[keep], float(subject.regimen.records[0].amount)


@pytest.fixture(scope="module")
def theo_fits(oral, theo):
    return fit(oral, theo, FREE, output={"central": "C"}, error=Additive(0.7), n_starts=N_STARTS)


# jax.jit traces every leaf (the likelihood's data and the parameter values, Python floats
# included), so one compilation serves new values and new data of the same shapes
_value = jax.jit(lambda lik, p: lik(p))
_gradient = jax.jit(lambda lik, p: jax.jacfwd(lambda q: lik(q))(p))


# ----------------------------------------------------------------------------- error models
@pytest.mark.parametrize("model, logpdf", [
    (Additive(0.7), lambda y, f: stats.norm.logpdf(y, f, 0.7)),
    (Proportional(0.2), lambda y, f: stats.norm.logpdf(y, f, 0.2 * abs(f))),
    (Combined(0.5, 0.1), lambda y, f: stats.norm.logpdf(y, f, math.sqrt(0.25 + 0.01 * f * f))),
    (Combined(0.5, 0.1, form="sd"), lambda y, f: stats.norm.logpdf(y, f, 0.5 + 0.1 * abs(f))),
    (LogNormal(0.3), lambda y, f: stats.lognorm.logpdf(y, 0.3, scale=f)),
])
def test_error_model_density_matches_scipy(model, logpdf):
    # exact formulas on both sides: agreement to rounding (1e-12)
    for y, f in [(3.0, 2.0), (0.4, 5.0), (12.0, 11.5)]:
        assert float(model.log_density(y, f)) == pytest.approx(logpdf(y, f), abs=1e-12)


def test_m3_terms_match_scipy_cdf_far_in_the_tail():
    # log Φ is computed in log space: at 40 standard deviations the CDF underflows to 0 in
    # float64 but its logarithm (-804.6) is still exact; scipy's logcdf is the oracle
    assert float(Additive(0.5).log_censored(0.1, 1.0)) == pytest.approx(stats.norm.logcdf(0.1, 1.0, 0.5), rel=1e-12)
    assert float(Additive(0.5).log_censored(0.1, 20.1)) == pytest.approx(stats.norm.logcdf(0.1, 20.1, 0.5), rel=1e-10)
    assert float(Additive(0.5).log_censored(9.0, 8.0, above=True)) == pytest.approx(
        stats.norm.logsf(9.0, 8.0, 0.5), rel=1e-12)
    assert float(LogNormal(0.3).log_censored(0.5, 2.0)) == pytest.approx(
        stats.lognorm.logcdf(0.5, 0.3, scale=2.0), rel=1e-12)
    gradient = jax.grad(lambda f: Additive(0.5).log_censored(0.1, f))(40.0)
    assert np.isfinite(float(gradient))


def test_transforms_round_trip_and_derivative():
    for t, theta in [(Log(), 3.0), (Log(1.0), 2.5), (Logit(0.0, 1.0), 0.3), (Logit(2.0, 5.0), 4.0),
                     (Bounded(upper=3.0), 1.0), (Identity(), -2.0)]:
        u = float(t.to_internal(theta))
        assert float(t.to_natural(u)) == pytest.approx(theta, rel=1e-12)
        fd = (float(t.to_natural(u + 1e-6)) - float(t.to_natural(u - 1e-6))) / 2e-6
        assert float(t.derivative(u)) == pytest.approx(fd, rel=1e-7)  # central difference error ~1e-10


# ----------------------------------------------------------------------------- likelihood
def test_likelihood_matches_hand_computation(oral, theo):
    subject = theo[1]
    lik = Likelihood(oral, subject, output={"central": "C"}, error=Combined(0.4, 0.1))
    params = {"ka": 1.7, "CL": 1.6, "V": 29.0, "sigma_add": 0.4, "sigma_prop": 0.1}
    t, y, dose = observed(subject)
    f = oral_concentration(1.7, 1.6, 29.0, dose, t)
    expected = -np.sum(stats.norm.logpdf(y, f, np.sqrt(0.4 ** 2 + (0.1 * f) ** 2)))
    # the simulator runs at rtol 1e-8: the predictions, hence the value, agree to ~1e-7 relative
    assert float(_value(lik, params)) == pytest.approx(expected, rel=1e-7)


def test_gradient_matches_finite_differences_of_the_hand_objective(oral, theo):
    subject = theo[1]
    lik = Likelihood(oral, subject, output={"central": "C"}, error=Combined(0.4, 0.1))
    t, y, dose = observed(subject)
    x = np.array([1.7, 1.6, 29.0, 0.4, 0.1])

    def hand(z):
        f = oral_concentration(z[0], z[1], z[2], dose, t)
        return -np.sum(stats.norm.logpdf(y, f, np.sqrt(z[3] ** 2 + (z[4] * f) ** 2)))

    names = ["ka", "CL", "V", "sigma_add", "sigma_prop"]
    grad = _gradient(lik, {n: jnp.asarray(v) for n, v in zip(names, x)})
    h = 1e-6 * x
    fd = [(hand(x + np.eye(5)[i] * h[i]) - hand(x - np.eye(5)[i] * h[i])) / (2 * h[i]) for i in range(5)]
    # central differences: truncation ~h² and rounding ~1e-16/h of the objective scale: ~1e-6 relative
    for i, n in enumerate(names):
        assert float(grad[n]) == pytest.approx(fd[i], rel=1e-5, abs=1e-6), n


def test_blq_samples_enter_by_m3(oral, theo):
    """Samples below the limit add log Φ((LLOQ - f)/s) instead of being dropped (table input)."""
    subject = theo[1]
    t, y, dose = observed(subject)
    lloq = 3.0
    cens = (y < lloq).astype(int)
    assert cens.sum() >= 2  # the late samples of subject 1 are below 3 mg/L
    table = pd.DataFrame({"TIME": t, "DV": np.where(cens == 1, lloq, y), "CENS": cens})
    regimen = qsp.Regimen([qsp.Bolus("depot", amount=dose, time=0.0)])
    lik = Likelihood(oral, table, output="C", regimen=regimen, error=Combined(0.4, 0.1))
    params = {"ka": 1.7, "CL": 1.6, "V": 29.0, "sigma_add": 0.4, "sigma_prop": 0.1}
    f = oral_concentration(1.7, 1.6, 29.0, dose, t)
    s = np.sqrt(0.4 ** 2 + (0.1 * f) ** 2)
    expected = -(np.sum(stats.norm.logpdf(y, f, s)[cens == 0]) + np.sum(stats.norm.logcdf(lloq, f, s)[cens == 1]))
    assert float(_value(lik, params)) == pytest.approx(expected, rel=1e-7)


def test_new_parameter_values_and_data_never_retrace(oral, theo):
    lik1 = Likelihood(oral, theo[1], output={"central": "C"}, error=Combined(0.4, 0.1))
    lik2 = Likelihood(oral, theo[2], output={"central": "C"}, error=Combined(0.4, 0.1))  # same shapes
    params = {"ka": 1.7, "CL": 1.6, "V": 29.0, "sigma_add": 0.4, "sigma_prop": 0.1}  # as in the test above
    _value(lik1, params)
    before = likelihood_module.TRACE_COUNT["objective"]
    for ka in (1.2, 2.0, 3.0):
        _value(lik1, {**params, "ka": ka})
        _value(lik2, {**params, "ka": ka})
    assert likelihood_module.TRACE_COUNT["objective"] == before


# ----------------------------------------------------------------------------- fits
def test_theophylline_fits_match_scipy_least_squares(theo, theo_fits):
    """With additive error the ML structural estimates are the least-squares estimates, whatever σ."""
    assert len(theo_fits) == 12
    for result, subject in zip(theo_fits, theo):
        t, y, dose = observed(subject)
        ls = least_squares(lambda q: oral_concentration(*np.exp(q), dose, t) - y, np.log([1.5, 2.8, 32.0]),
                           xtol=1e-14, ftol=1e-14, gtol=1e-14)
        assert result.converged, result.message
        # both optimisers stop at tolerances ~1e-8 on the log scale. ka and k = CL/V may trade
        # places (the flip-flop twin has the same predictions and objective): compare as a pair
        est = result.estimates
        rates = sorted([est["ka"], est["CL"] / est["V"]])
        ka_ls, cl_ls, v_ls = np.exp(ls.x)
        assert est["CL"] == pytest.approx(cl_ls, rel=1e-6), subject.id
        np.testing.assert_allclose(rates, sorted([ka_ls, cl_ls / v_ls]), rtol=1e-6, err_msg=str(subject.id))
        if est["ka"] == pytest.approx(ka_ls, rel=1e-6):  # the same twin as least_squares (the usual case)
            assert est["V"] == pytest.approx(v_ls, rel=1e-6), subject.id
        rss = np.sum(ls.fun ** 2)
        assert result.estimates["sigma_add"] == pytest.approx(math.sqrt(rss / y.size), rel=1e-6)
        # the reported optimum is the best start's (subject 9 has a worse local optimum that one
        # of the random starts falls into: multistart is what keeps it out)
        assert result.objective == pytest.approx(np.min(result.start_objectives), abs=1e-8)  # ties: first start


def test_theophylline_standard_errors_match_inverse_finite_difference_hessian(theo, theo_fits):
    table = theo_fits.to_pandas()
    assert {"ID", "ka", "se_ka", "objective"} <= set(table.columns)
    for result, subject in zip(theo_fits, theo):
        t, y, dose = observed(subject)
        x = np.array([result.estimates[n] for n in FREE])
        se_fd = np.sqrt(np.diag(np.linalg.inv(fd_hessian(lambda z: hand_nll(z, t, y, dose), x))))
        se = np.array([result.standard_errors[n] for n in FREE])
        # the finite-difference Hessian (steps 1e-4 relative) is accurate to ~1e-6; the estimates
        # to ~1e-8: a 1e-4 relative tolerance leaves margin
        np.testing.assert_allclose(se, se_fd, rtol=1e-4, err_msg=f"subject {subject.id}")
        assert np.allclose(np.diag(result.correlation), 1.0)
    # the table a modeller reads
    params = theo_fits[0].to_pandas()
    assert list(params.index) == FREE and (params["lower95"] < params["estimate"]).all()


def test_fit_recovers_known_parameters(oral, theo, theo_fits):
    """Simulated data (truth known) on subject 1's design; the shared kernel is not re-traced."""
    rng = np.random.default_rng(7)
    template = theo[1]
    t, _, dose = observed(template)
    truth = {"ka": 1.2, "CL": 3.0, "V": 30.0, "sigma_add": 0.05}
    y = oral_concentration(truth["ka"], truth["CL"], truth["V"], dose, t) + truth["sigma_add"] * rng.standard_normal(
        t.size)
    data = Observations(times=t, dv=y, output="C", regimen=template.regimen, id="sim")
    traces = likelihood_module.TRACE_COUNT["objective"]
    result = fit(oral, data, FREE, error=Additive(0.7), n_starts=N_STARTS)
    assert likelihood_module.TRACE_COUNT["objective"] == traces  # same structure: the compiled kernel is reused
    for name in ["ka", "CL", "V"]:
        # within 4 standard errors of the truth (a 1-in-15,000 event per parameter by chance)
        assert abs(result.estimates[name] - truth[name]) < 4 * result.standard_errors[name], name
        assert result.estimates[name] == pytest.approx(truth[name], rel=0.05)  # precise data: within 5 %


def test_zero_spread_at_the_start_names_the_sample(oral, theo, theo_fits):
    """A proportional error at a zero prediction (time 0 of an oral dose) has no likelihood."""
    with pytest.raises(qsp.QSPError, match=r"time 0 .*proportional"):
        fit(oral, theo[1], ["ka", "CL", "V", "sigma_prop"], output={"central": "C"}, error=Proportional(0.2),
            n_starts=N_STARTS)


def test_input_errors_name_the_problem(oral, theo):
    with pytest.raises(qsp.ModelError, match="'KA'.*neither a parameter"):
        fit(oral, theo[1], ["KA"], output={"central": "C"})
    with pytest.raises(qsp.ModelError, match="say which parameters to estimate"):
        fit(oral, theo[1], output={"central": "C"})
    with pytest.raises(qsp.ModelError, match="cannot estimate 'Vd'"):  # a prior's parameters are estimated
        fit(oral, theo[1], ["CL"], output={"central": "C"}, prior=PopulationPrior({"Vd": 0.1}))
    with pytest.raises(qsp.DataError, match="not positive.*log-normal"):
        fit(oral, Observations([1.0, 2.0], [1.0, 0.0], output="C", regimen=theo[1].regimen), ["CL"],
            error=LogNormal(0.2))
    with pytest.raises(qsp.ModelError, match="no observable.*'Cp'"):
        Likelihood(oral, theo[1], output={"central": "Cp"})
    with pytest.raises(qsp.DataError, match="regimen="):
        Likelihood(oral, pd.DataFrame({"time": [1.0], "dv": [2.0]}), output="C")


# ----------------------------------------------------------------------------- MAP vs NONMEM
def _read_nonmem_table(path):
    return pd.read_csv(path, sep=r"\s+", skiprows=1)


@pytest.mark.slow  # an external suite: one more fitting kernel (about 40 s of CPU) and 100 MAP fits
def test_map_matches_nonmem_posthoc_pkpdmap(reference_dir):
    """PKPDmap's oracle: NONMEM 7.2 POSTHOC EBEs of 100 subjects (1-cmt IV bolus, additive error)
    with the population values fixed; MAP must reproduce CL and V within 0.5 % for every subject."""
    from qsp.io import read_nonmem

    folder = reference_dir / "pkpdmap-nonmem-posthoc"
    data = _read_nonmem_table(folder / "pktab1")
    post = _read_nonmem_table(folder / "patab1")
    post["ID"] = data["ID"].astype(int).to_numpy()
    ebe = post.groupby("ID").first()
    data["ID"] = data["ID"].astype(int)
    dataset = read_nonmem(data[["ID", "TIME", "DV", "AMT", "CMT", "MDV", "EVID"]], ["central"])
    # run1.lst prints THETA to 3 digits (7.67, 97.7); the typical prediction PRED (5 digits) gives
    # them more precisely: PRED(0) = 1000·dose/TVV and PRED decays at TVCL/TVV (first subject)
    first = data[data["ID"] == 1].reset_index(drop=True)
    pred = post[post["ID"] == 1]["PRED"].to_numpy()
    tvv = 1000 * 100.0 / pred[0]
    tvcl = tvv * math.log(pred[0] / pred[9]) / first["TIME"][9]
    assert tvcl == pytest.approx(7.67, abs=0.005) and tvv == pytest.approx(97.7, abs=0.05)
    CL, V = qsp.Parameter("CL", tvcl), qsp.Parameter("V", tvv)
    central = qsp.Species("central", qsp.Compartment("c", volume=V))
    compiled = qsp.compile(qsp.Model("pkpdmap", reactions=[qsp.Reaction([central], [], rate=CL * central)],
                                     observables={"C": 1000 * central}))  # NONMEM S1 = V/1000
    prior = PopulationPrior([0.0406, 0.0623, 0.117], names=["CL", "V"])  # $OMEGA BLOCK(2) final estimates
    sigma = float(post["ADD"].iloc[0])  # ADD = sqrt(SIGMA(1,1)) (131.34; SIGMA 1.73e4)
    results = fit(compiled, dataset, output="C", error=Additive(sigma), prior=prior)
    table = results.to_pandas().set_index("ID")
    assert table["converged"].all()
    rel_cl = (table["CL"] / ebe["CL"] - 1).abs()
    rel_v = (table["V"] / ebe["V"] - 1).abs()
    assert len(table) == 100
    assert rel_cl.max() < 0.005 and rel_v.max() < 0.005, (rel_cl.max(), rel_v.max())
    # measured: at most 0.14 % (CL) and 0.05 % (V) (with THETA 7.67 and 97.7 as printed: 0.12 %, 0.04 %)

    # additive error with σ fixed plus a Gaussian prior on log θ is a sum of squares: the
    # Levenberg-Marquardt path must land on the same optima (both stop at ~1e-8 on log θ)
    lm = fit(compiled, dataset, output="C", error=Additive(sigma), prior=prior, method="lm").to_pandas()
    np.testing.assert_allclose(lm[["CL", "V"]], results.to_pandas()[["CL", "V"]], rtol=1e-6)


@pytest.mark.slow
def test_map_forecasts_match_nonmem_proseval_mipdeval(reference_dir):
    """mipdeval's oracle: PsN proseval (NONMEM MAP on the first k levels, forecast of the later
    ones) for 10 simulated vancomycin patients on the Thomson 2009 model. mipdeval accepts 10 %.

    Measured: patient 1 agrees to 4e-5 (the table's 5 digits); the others differ by up to 8.8 %
    (median 1.2 %) because their data rows of doses carry the previous patient's WT and CRCL,
    which NONMEM applies, record by record, to the interval ending at each dose, while qsp takes
    a subject's covariates as constant (from its observation rows).
    """
    from models import vancomycin_thomson2009 as vanco  # the repository's model shelf (rootdir on sys.path)
    from qsp.io import read_nonmem

    folder = reference_dir / "mipdeval"
    nm = pd.read_csv(folder / "nm_vanco.csv")
    nm["CRCL"] = nm["CRCL"] * 16.66667  # the data's L/h to the model's mL/min (PKPDsim's factor)
    reference = pd.read_csv(folder / "vanco_thomson.csv")
    blocks = []
    for k in range(1, 6):  # block k: the first k levels are used, the later ones forecast (EVID 2)
        d = nm.copy()
        rank = d[d["EVID"] == 0].groupby("ID").cumcount().reindex(d.index, fill_value=-1) + 1
        later = (d["EVID"] == 0) & (rank > k)
        d.loc[later, "EVID"], d.loc[later, "MDV"] = 2, 1
        d["ID"] = d["ID"] * 10 + k
        blocks.append(d)
    data = read_nonmem(pd.concat(blocks, ignore_index=True), ["Ac"], covariates=["WT", "CRCL"])
    compiled = qsp.compile(vanco.model())
    # pk_vanco_thomson.json5: omega lower triangle over CL, V, Q, V2; ruv add 1.6 mg/L, prop 0.15
    prior = PopulationPrior([0.0729, 0.01, 0.0225, 0, 0, 0.2401, 0, 0, 0, 1.69], names=["CL", "V1_WT", "Q", "V2_WT"])
    results = fit(compiled, data, output="C", error=Combined(1.6, 0.15), prior=prior)
    assert all(r.converged for r in results)
    pred = results.predictions
    pred["patient"], pred["OBS"] = pred["ID"] // 10, pred["ID"] % 10
    forecasts = reference[(reference["EVID"] == 2) & (reference["DV"] > 0)]
    forecasts = forecasts.assign(patient=forecasts["ID"].astype(int))
    both = forecasts.merge(pred[~pred["observed"]], left_on=["patient", "OBS", "TIME"],
                           right_on=["patient", "OBS", "time"])
    assert len(both) == 100  # 10 patients x (4 + 3 + 2 + 1) forecast levels
    rel = (both["pred"] / both["IPRED"] - 1).abs()
    assert rel.max() < 0.10, rel.max()
    assert rel[both["patient"] == 1].max() < 1e-4  # consistent covariates: NONMEM's 5 printed digits

    # forecast with a credible band (patient 1 after two levels)
    one = results.by_id(12)
    times = np.array([50.0, 55.0, 71.0])
    sampled = one.forecast(times, n_samples=400, level=0.8)
    np.testing.assert_allclose(sampled.pred, both[both["ID_x"] == 1.0].query("OBS == 2")["IPRED"], rtol=1e-4)
    assert np.all(sampled.lower < sampled.pred) and np.all(sampled.pred < sampled.upper)
    # posterior draws through the simulator vs the delta method: they agree where the posterior is
    # narrow enough for the model to be linear across it (here: the covariance scaled by 1e-4;
    # with two levels and a 130 % CV on V2 it is not, and the bands differ by up to 30 % at 71 h)
    from dataclasses import replace

    narrow = replace(one, internal_covariance=one.internal_covariance * 1e-4)
    sampled = narrow.forecast(times, n_samples=2000, level=0.8)
    delta = narrow.forecast(times, method="delta", level=0.8)
    # 2000 draws: the sampled 10-90 % width has a ~2 % standard error
    np.testing.assert_allclose(delta.upper - delta.lower, sampled.upper - sampled.lower, rtol=0.08)
