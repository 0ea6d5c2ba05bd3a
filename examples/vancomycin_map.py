"""Vancomycin: a priori dose, two measured levels, MAP update, and the next dose (AUC24 400-600).

The a posteriori dosing loop of therapeutic drug monitoring with the Thomson 2009 model
(``models/vancomycin_thomson2009.py``; population values, between-subject variability and
residual error from PKPDsim's ``pk_vanco_thomson``):

1. A priori: from the patient's weight and creatinine clearance, the typical clearance gives
   the daily dose for an AUC24 of 500 mg·h/L at steady state (linear PK: dose = AUC24 x CL);
   the population prior gives the spread across patients.
2. Two levels: patient 1 of mipdeval's vancomycin set (``nm_vanco.csv``, simulated from the
   Thomson model), who received 1500 mg q12h as 2-h infusions, was sampled at 15 h and 23 h.
3. MAP: the levels update the patient's parameters (``qsp.fit`` with the population prior);
   the Laplace posterior gives a credible band for the forecast. The forecast of the later
   levels is checked against NONMEM's (PsN ``proseval``, mipdeval's reference output).
4. The next maintenance dose (from the 36 h dose on) is the amount whose forecast AUC24 on
   day 3 is 500: ``qsp.optimize_regimen`` with the MAP parameters, the doses already given
   held fixed, one amount for the doses to come, rounded to whole 250 mg vials. A root find
   (scipy's brentq) on the same forecast checks the optimiser.

The script checks its own numbers and exits non-zero on a mismatch.
Run: ``python examples/vancomycin_map.py``.
"""

from __future__ import annotations

import pathlib
import sys
import tempfile

import numpy as np
from scipy.optimize import brentq

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the model shelf (models/) lives beside qsp/

import qsp  # noqa: E402
from models import vancomycin_thomson2009 as vanco  # noqa: E402
from qsp.inference import Combined, Observations, PopulationPrior, a_priori  # noqa: E402
from qsp.optimize import target_auc  # noqa: E402
from qsp.simulate import summarise  # noqa: E402

failures = []


def check(ok: bool, what: str) -> None:
    print(f"  [{'ok' if ok else 'FAIL'}] {what}")
    if not ok:
        failures.append(what)


# --- 1. model, population prior, patient ------------------------------------------------------
compiled = qsp.compile(vanco.model())
# pk_vanco_thomson.json5: omega (lower triangle) over CL, V, Q, V2; RUV prop 0.15, add 1.6 mg/L
prior = PopulationPrior([0.0729, 0.01, 0.0225, 0, 0, 0.2401, 0, 0, 0, 1.69], names=["CL", "V1_WT", "Q", "V2_WT"])
error = Combined(additive=1.6, proportional=0.15)
# mipdeval nm_vanco.csv, ID 1: WT 82.70 kg, CRCL 3.6871 L/h = 61.45 mL/min (the model's unit)
patient = {"WT": 82.70184209443576, "CRCL": 3.687141315101773 * 16.66667}
TARGET, WINDOW, VIAL, TAU, INFUSION = 500.0, (400.0, 600.0), 250.0, 12.0, 2.0


def regimen(first: float, then: float) -> qsp.Regimen:
    """``first`` mg at 0, 12 and 24 h, then ``then`` mg at 36, 48 and 60 h (2-h infusions).

    Every regimen of this example has this one shape (amounts are data), so the simulator
    compiles once for all of them."""
    return qsp.Regimen([qsp.Infusion("Ac", amount=first, time=0.0, duration=INFUSION, interval=TAU, additional=2),
                        qsp.Infusion("Ac", amount=then, time=36.0, duration=INFUSION, interval=TAU, additional=2)])


grid = np.arange(0.0, 72.0 + 1e-9, 0.25)  # 15-min grid: trapezoidal AUC error ~1e-4 relative


def auc24(conc, start=48.0):
    return float(summarise(grid, np.asarray(conc)[None, :], start=start, end=start + 24.0)["AUC"][0])


# --- 2. a priori dose ----------------------------------------------------------------------------
cl_typical = 2.99 * (1 + 0.0154 * (patient["CRCL"] - 66.0))  # L/h: Thomson 2009 at these covariates
daily = TARGET * cl_typical  # linear PK at steady state: AUC24 = daily dose / CL
dose0 = VIAL * round(daily / 2 / VIAL)
print(f"a priori: typical CL {cl_typical:.2f} L/h -> {daily:.0f} mg/day at steady state -> {dose0:.0f} mg q12h "
      "(2-h infusions)")
prior_band = a_priori(compiled, prior, regimen(dose0, dose0), grid, output="C", params=patient, n_samples=300)
auc_draws = [auc24(s) for s in prior_band.samples]
pta = np.mean([(WINDOW[0] <= a <= WINDOW[1]) for a in auc_draws])
print(f"  a priori AUC24 on day 3 (not yet at steady state): typical {auc24(prior_band.pred):.0f}, 90 % of "
      f"patients in [{np.quantile(auc_draws, 0.05):.0f}, {np.quantile(auc_draws, 0.95):.0f}] mg·h/L; "
      f"{100 * pta:.0f} % in the target window")
# linear PK: the typical AUC scales with the dose, so the exact (unrounded) dose gives exactly 500 at steady
# state; on day 3 it is lower, and rounding up to 750 mg moves it by 750/695
check(auc24(prior_band.pred) < TARGET * dose0 / (daily / 2), "day-3 AUC24 below the steady-state target")

# --- 3. two measured levels, MAP update ------------------------------------------------------------
given = regimen(1500.0, 0.0)  # what the patient received: 1500 mg at 0, 12 and 24 h (nothing after)
sample_times, measured = np.array([15.0, 23.0]), np.array([38.9, 26.9])  # mg/L, nm_vanco.csv ID 1
levels = Observations(times=sample_times, dv=measured, output="C", regimen=given, covariates=patient, id=1)
posterior = qsp.fit(compiled, levels, error=error, prior=prior)
print(posterior.to_pandas().round(4))
print(f"  {posterior.message}")
check(posterior.converged, "the MAP fit converged")
print(f"  individual clearance: a priori {cl_typical:.2f} L/h, MAP "
      f"{float(posterior.simulate(grid)['CL_i'][0]):.2f} L/h")
# NONMEM's MAP forecast of this patient's later levels from these two (PsN proseval,
# mipdeval vanco_thomson.csv, ID 1, OBS 2: IPRED at 50, 55 and 71 h)
nonmem = np.array([18.364, 15.788, 9.8553])
ours = np.asarray(posterior.simulate(grid)["C"])[np.searchsorted(grid, [50.0, 55.0, 71.0])]
check(bool(np.all(np.abs(ours / nonmem - 1) < 1e-3)),
      f"forecast of the later levels {np.round(ours, 3).tolist()} = NONMEM's {nonmem.tolist()} (0.1 %)")

# --- 4. next dose: forecast AUC24 on day 3 = 500 (dose optimisation on the MAP parameters) ----------
def forecast_auc(amount: float) -> float:
    return auc24(posterior.simulate(grid, regimen(1500.0, amount))["C"])


individual = {k: v for k, v in posterior.params[0].items() if k in compiled.parameter_names}
best = qsp.optimize_regimen(
    compiled, regimen(1500.0, 1500.0), target_auc("C", TARGET, start=48.0, end=72.0), params=individual,
    decision={"amount": [None, None, None, "next", "next", "next"]},  # given doses fixed, one new amount
    strengths=[VIAL], multistart=1)
print(best.to_pandas()[["dose", "amount_before", "amount_after"]].round(1).to_string(index=False))
amount = float(best.continuous_regimen.doses()[3].amount)
new_dose = float(best.regimen.doses()[3].amount)
auc_new = forecast_auc(new_dose)
print(f"next doses from 36 h: {amount:.0f} mg -> {new_dose:.0f} mg q12h; forecast AUC24 on day 3 {auc_new:.0f} "
      f"mg·h/L (staying on 1500 mg q12h: {forecast_auc(1500.0):.0f})")
root = brentq(lambda a: forecast_auc(a) - TARGET, 0.0, 4000.0, xtol=1e-3)  # independent check
# the optimiser's AUC is integrated with the model, the check's on the 15-min grid (~1e-4): 0.1 %
check(abs(amount / root - 1) < 1e-3, f"optimised amount {amount:.1f} mg = the root of AUC24 - 500, {root:.1f} mg")
check(new_dose % VIAL == 0 and abs(new_dose - amount) <= VIAL / 2, "rounded to whole 250 mg vials")
check(WINDOW[0] <= auc_new <= WINDOW[1], "forecast AUC24 with the new dose in 400-600 mg·h/L")

band = posterior.forecast(grid, regimen(1500.0, new_dose), n_samples=300)
auc_band = [auc24(s) for s in band.samples]
print(f"  posterior 90 % interval of that AUC24: [{np.quantile(auc_band, 0.05):.0f}, "
      f"{np.quantile(auc_band, 0.95):.0f}] mg·h/L")
check(bool(np.all(band.lower <= band.upper)), "credible band ordered")

# --- figure ----------------------------------------------------------------------------------------
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

fig, ax = plt.subplots(figsize=(7, 4))
prior_band.plot(ax, label=f"a priori, {dose0:.0f} mg q12h")
band.plot(ax, label=f"MAP forecast, {new_dose:.0f} mg q12h from 36 h", observations=(sample_times, measured))
ax.set_xlabel("time (h)")
ax.set_ylabel("vancomycin (mg/L)")
out = pathlib.Path(tempfile.gettempdir()) / "vancomycin_map.png"
fig.savefig(out, dpi=100)
print(f"figure: {out}")

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("all checks passed")
