"""Draw the figures of docs/blocks.md (one per block family) into docs/figures/.

Run from the repository root: ``python docs/make_figures.py``. Each figure simulates the
blocks it shows with qsp; the numbers match the guide's code.
"""

from __future__ import annotations

import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import qsp  # noqa: E402
from qsp import blocks  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parent / "figures"
DAY = np.linspace(0.0, 24.0, 241)


def simulate(parts, times, doses=(), params=None, population=None):
    model = blocks.assemble(*parts) if len(parts) > 1 else parts[0].model
    compiled = qsp.compile(model)
    regimen = qsp.Regimen(list(doses)) if doses else None
    if population is not None:
        return qsp.simulate_population(compiled, times, params=population, regimen=regimen)
    return qsp.simulate(compiled, times, params=params, regimen=regimen)


def save(fig, name):
    fig.tight_layout()
    fig.savefig(OUT / f"{name}.png", dpi=110)
    plt.close(fig)
    print("wrote", OUT / f"{name}.png")


def pk_figure():
    pk = blocks.two_compartment(CL=3.0, V1=30.0, Q=5.0, V2=50.0)
    sol = simulate([pk], DAY, [qsp.Bolus(pk["Ac"], amount=100.0)])
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    ax.semilogy(DAY, sol["C"], label="central C")
    ax.semilogy(DAY, sol["Cp"], label="peripheral Cp")
    ax.set(xlabel="time (h)", ylabel="concentration (mg/L)", title="two_compartment: 100 mg IV bolus")
    ax.legend()
    save(fig, "pk")


def absorption_figure():
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    one = blocks.one_compartment(CL=5.0, V=50.0)
    first = blocks.first_order_absorption(one["Ac"], ka=1.0)
    sol = simulate([one, first], DAY, [qsp.Bolus(first["dose"], amount=400.0)])
    ax.plot(DAY, sol["C"], label="first order (ka 1/h)")
    zo_pk = blocks.one_compartment(CL=5.0, V=50.0)
    zo = blocks.zero_order_absorption(zo_pk["Ac"], duration=4.0)
    sol = simulate([zo_pk, zo], DAY, [qsp.Infusion(zo["dose"], amount=400.0, duration=zo["Tk0"])])
    ax.plot(DAY, sol["C"], label="zero order (Tk0 4 h)")
    tr_pk = blocks.one_compartment(CL=5.0, V=50.0)
    tr = blocks.transit_absorption(tr_pk["Ac"], n=4, MTT=2.0, ka=1.0)
    sol = simulate([tr_pk, tr], DAY, [qsp.Bolus(tr["dose"], amount=400.0)])
    ax.plot(DAY, sol["C"], label="transit (n 4, MTT 2 h)")
    ax.set(xlabel="time (h)", ylabel="C (mg/L)", title="absorption: 400 mg oral")
    ax.legend()
    save(fig, "absorption")


def elimination_figure():
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    pk = blocks.one_compartment(CL=None, V=40.0)
    mm = blocks.michaelis_menten_elimination(pk["Ac"], Vmax=20.0, Km=2.0)
    compiled = qsp.compile(blocks.assemble(pk, mm))
    for dose in (50.0, 200.0, 800.0):
        sol = qsp.simulate(compiled, DAY * 2, regimen=qsp.Regimen([qsp.Bolus(pk["Ac"], amount=dose)]))
        left.semilogy(DAY * 2, np.maximum(np.asarray(sol["C"]), 1e-4), label=f"{dose:g} mg")
    left.set(xlabel="time (h)", ylabel="C (mg/L)", title="Michaelis-Menten: slower at high C", ylim=(1e-2, 30))
    left.legend()
    split = blocks.clearance_split(CL_H=1.0, k_renal=0.04)
    renal = blocks.one_compartment(CL=split["CL"], V=40.0)
    egfr = np.array([15.0, 45.0, 90.0, 120.0])
    pop = simulate([split, renal], DAY, [qsp.Bolus(renal["Ac"], amount=500.0)], population={"eGFR": egfr})
    for i, e in enumerate(egfr):
        right.plot(DAY, np.asarray(pop["C"])[i], label=f"eGFR {e:g}")
    right.set(xlabel="time (h)", ylabel="C (mg/L)", title="clearance_split: CL = CL_H + k·eGFR")
    right.legend()
    save(fig, "elimination")


def binding_figure():
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    pk = blocks.one_compartment(CL=2.0, V=5.0, amount_unit="umol")
    rapid = blocks.protein_binding(pk["Ac"], host=pk, form="rapid_equilibrium", KD=100.0, P0=600.0)
    t = np.linspace(0.0, 48.0, 193)
    sol = simulate([rapid], t, [qsp.Bolus(rapid["drug"], amount=4000.0)])
    left.plot(np.asarray(sol["drug_total"]), np.asarray(sol["fu"]))
    left.axhline(100.0 / 700.0, ls=":", c="grey", label="KD/(KD+P0)")
    left.set(xlabel="total drug (umol/L)", ylabel="fu", title="rapid equilibrium: fu rises with saturation")
    left.legend()
    for form, koff in (("rapid_equilibrium", 100.0), ("explicit", 100.0), ("explicit", 0.1)):
        pk = blocks.one_compartment(CL=2.0, V=5.0, amount_unit="umol")
        b = blocks.protein_binding(pk["Ac"], host=pk, form=form, KD=100.0, koff=koff, P0=600.0)
        sol = simulate([b], t, [qsp.Bolus(b["drug"], amount=4000.0)])
        right.plot(t, sol["drug_free"], ls="-" if form == "explicit" else "--", label=f"{form}, koff {koff:g}/h")
    right.set(xlabel="time (h)", ylabel="free drug (umol/L)", title="explicit binding approaches equilibrium")
    right.legend(fontsize=8)
    save(fig, "binding")


def tmdd_figure():
    """kint >> koff (KSS = 21 KD): total drug under each approximation, and its error against the full model."""
    week = np.linspace(0.0, 168.0, 337)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    total = {}
    for a, style in (("full", "-"), ("qe", "--"), ("qss", ":"), ("mm", "-.")):
        pk = blocks.two_compartment(CL=0.1, V1=3.0, Q=0.3, V2=2.0, amount_unit="nmol")
        block = blocks.tmdd(pk["Ac"], host=pk, approximation=a, kon=100.0, koff=0.1, kint=2.0, ksyn=0.2, kdeg=0.2)
        sol = simulate([block], week, [qsp.Bolus(block["drug"], amount=300.0)])
        total[a] = np.asarray(sol["drug_total"])
        left.semilogy(week, np.maximum(total[a], 1e-3), style, label=a)
    left.set(xlabel="time (h)", ylabel="total drug (nM)", ylim=(1e-2, 200), title="tmdd, 300 nmol, kint >> koff")
    left.legend()
    shown = (week >= 1.0) & (total["full"] > 0.1)
    for a, style in (("qe", "--"), ("qss", ":"), ("mm", "-.")):
        error = np.abs(total[a][shown] / total["full"][shown] - 1)
        right.semilogy(week[shown], error, style, label=a)
    right.axhline(0.01, c="grey", lw=0.5)
    right.set(xlabel="time (h)", ylabel="|approximation / full - 1|",
              title="error against full: QE up to ~10 %, QSS < 1 %")
    right.legend()
    save(fig, "tmdd")


def pd_figure():
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    pk = blocks.one_compartment(CL=4.0, V=20.0)
    ec = blocks.effect_compartment(pk["Ac"], ke0=0.4)
    effect = blocks.emax(ec["Ce"], E0=0.0, Emax=100.0, EC50=1.5, hill=2.5)
    window = blocks.therapeutic_window(pk["Ac"], lower=1.0, upper=3.0)
    sol = simulate([pk, ec, effect, window], DAY, [qsp.Bolus(pk["Ac"], amount=100.0)])
    left.plot(DAY, sol["C"], label="plasma C")
    left.plot(DAY, sol["Ce"], label="effect site Ce")
    left.set(xlabel="time (h)", ylabel="mg/L", title="effect compartment and Hill effect")
    twin = left.twinx()
    twin.plot(DAY, sol["E"], "k:", label="E (Hill, h 2.5)")
    twin.set_ylabel("effect (%)")
    left.legend(loc="upper right")
    right.plot(DAY, sol["window_position"], label="window_position (hard)")
    right.plot(DAY, sol["inside_smooth"], label="inside_smooth")
    right.plot(DAY, sol["above_smooth"], label="above_smooth")
    right.set(xlabel="time (h)", title="therapeutic_window [1, 3] mg/L")
    right.legend(fontsize=8)
    save(fig, "pd")


def idr_figure():
    pk = blocks.one_compartment(CL=4.0, V=20.0)
    responses = [blocks.indirect_response(pk["Ac"], kind=k, kin=10.0, kout=0.2, prefix=f"idr{k}",
                                          **({"Imax": 0.9, "IC50": 1.0} if k <= 2 else {"Smax": 2.0, "SC50": 1.0}))
                 for k in (1, 2, 3, 4)]
    t = np.linspace(0.0, 48.0, 241)
    sol = simulate([pk, *responses], t, [qsp.Bolus(pk["Ac"], amount=100.0)])
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    names = {1: "I inhibit production", 2: "II inhibit loss", 3: "III stimulate production", 4: "IV stimulate loss"}
    for k in (1, 2, 3, 4):
        ax.plot(t, sol[f"idr{k}_R"], label=names[k])
    ax.axhline(50.0, ls=":", c="grey")
    ax.set(xlabel="time (h)", ylabel="response R (baseline kin/kout = 50)", title="indirect_response, 100 mg IV")
    ax.legend(fontsize=8)
    save(fig, "idr")


def circadian_figure():
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    days = np.linspace(0.0, 72.0, 577)
    clock = blocks.cosinor(mesor=1.0, amplitude=0.6, acrophase=7.0 - blocks.peak_delay(0.5))
    il6 = blocks.disease_activity(clock["rhythm"], kin=5.0, kout=0.5)
    sol = simulate([clock, il6], days)
    left.plot(days, np.asarray(sol["rhythm"]) * 10.0, label="drive (rhythm x 10)")
    left.plot(days, sol["activity"], label="IL-6-like activity")
    for d in (7.0, 31.0, 55.0):
        left.axvline(d, ls=":", c="grey")
    left.set(xlabel="time (h from midnight)", title="cosinor + disease_activity: peak at 7 h")
    left.legend(fontsize=8)
    osc = blocks.circadian_oscillator(amplitude=0.5, acrophase=4.0)
    compiled = qsp.compile(osc.model)
    for period in (20.0, 24.0, 28.0):
        sol = qsp.simulate(compiled, days, params={"period": period})
        right.plot(days, sol["rhythm"], label=f"period {period:g} h")
    right.set(xlabel="time (h)", title="circadian_oscillator (Goodwin), peak at 4 h")
    right.legend(fontsize=8)
    save(fig, "circadian")


if __name__ == "__main__":
    import sys

    OUT.mkdir(exist_ok=True)
    figures = {f.__name__[: -len("_figure")]: f for f in (pk_figure, absorption_figure, elimination_figure,
                                                          binding_figure, tmdd_figure, pd_figure, idr_figure,
                                                          circadian_figure)}
    for name in sys.argv[1:] or figures:  # e.g. `python docs/make_figures.py tmdd` redraws one
        figures[name]()
