"""Alirocumab (Djebli 2017): two-compartment TMDD-QSS model binding PCSK9, subcutaneous dosing.

The final model of Djebli et al. on the expanded data set (2,870 healthy volunteers and
patients with hypercholesterolaemia, 13 phase I-III trials): subcutaneous absorption with
lag and bioavailability, two-compartment disposition with linear clearance, and binding
to PCSK9 in the central compartment under the quasi-steady-state approximation
(Gibiansky 2008). Weight scales CL, Q (exponent 0.75) and Vc (exponent 1) around 85 kg; a
statin increases CL 1.27-fold. With C_tot and R_tot the total alirocumab and total PCSK9
concentrations in the central compartment (nM):

.. math::

    RC = \\tfrac12 \\left[(C_{tot} + R_{tot} + K_{ss})
         - \\sqrt{(C_{tot} - R_{tot})^2 + 2 K_{ss} (C_{tot} + R_{tot}) + K_{ss}^2}\\right],
    \\quad C = C_{tot} - RC, \\quad R = R_{tot} - RC

    \\frac{dA_d}{dt} = -k_a A_d

    \\frac{dA_c}{dt} = k_a A_d - CL \\, C - Q (C - A_p / V_p) - k_{int} RC \\, V_c,
    \\qquad C_{tot} = A_c / V_c

    \\frac{dA_p}{dt} = Q (C - A_p / V_p)

    \\frac{dR_{tot}}{dt} = k_{syn} - k_{deg} R - k_{int} RC,
    \\qquad k_{syn} = k_{deg} R_{base}, \\quad R_{tot}(0) = R_{base}

Doses (mg) enter the depot ``Ad`` after the lag ``TLAG`` with bioavailability ``F``; amounts are
in nmol (convert with :func:`mg_to_nmol`, MW 144.1 kDa), concentrations in nM, time in days.
``model(approximation="full")`` replaces the QSS algebra by explicit binding with the
fixed k_on and k_off = K_ss k_on - k_int, so the QSS assumption can be audited.

The structure and values follow the nlmixr2lib transcription (``Djebli_2017_alirocumab``),
which fixes K_ss at the in-vitro K_D of 0.58 nM and starts total PCSK9 at the mean
baseline of 9.14 nM.

Example:
    >>> from models import alirocumab_djebli2017 as ali
    >>> [s.name for s in ali.model().species]
    ['Ac', 'Ap', 'Ad', 'Rtot']
"""

from __future__ import annotations

import numpy as np

import qsp

from ._table import Entry, build_parameters

REFERENCE = (
    "Djebli N, Martinez JM, Lohan L, Khier S, Brunet A, Hurbin F, Fabre D. Target-mediated drug disposition "
    "population pharmacokinetics model of alirocumab in healthy volunteers and patients: pooled analysis of "
    "randomized phase I/II/III studies. Clin Pharmacokinet 2017;56:1155-1171 (Table 4, expanded data set). "
    "Values: shared/reference/published-estimates.csv, as transcribed by nlmixr2lib "
    "(Djebli_2017_alirocumab, inst/modeldb/specificDrugs/Djebli_2017_alirocumab.R)."
)

_CSV = "published-estimates.csv (alirocumab row); Djebli 2017 Table 4"

PARAMETERS = (
    Entry("CL", 0.176, "L/day", "linear clearance at 85 kg without statin", _CSV),
    Entry("Vc", 4.67, "L", "central volume at 85 kg", _CSV),
    Entry("Q", 0.343, "L/day", "inter-compartmental clearance at 85 kg", _CSV),
    Entry("Vp", 2.61, "L", "peripheral volume (fixed)", _CSV),
    Entry("KA", 0.307, "1/day", "first-order subcutaneous absorption rate constant", _CSV),
    Entry("F", 0.556, "1", "subcutaneous bioavailability", _CSV),
    Entry("TLAG", 0.0535, "day", "absorption lag time", _CSV),
    Entry("kdeg", 1.10, "1/day", "degradation rate constant of free PCSK9", _CSV),
    Entry("kint", 0.112, "1/day", "internalisation rate constant of the alirocumab-PCSK9 complex", _CSV),
    Entry("Kss", 0.58, "nM", "quasi-steady-state constant (fixed to the in-vitro K_D)",
          f"{_CSV}; nlmixr2lib fixes it to the in-vitro K_D"),
    Entry("kon", 559.0, "1/nM/day", "association rate constant (fixed; used by the full form only)", _CSV),
    Entry("Rbase", 9.14, "nM", "baseline total PCSK9 (population mean)", f"{_CSV}; Djebli 2017 Table 3"),
    Entry("STATIN_CL", 1.27, "1", "multiplicative effect of statin co-medication on CL", _CSV),
    Entry("WT_REF", 85.0, "kg", "reference body weight of the allometric model", _CSV, "constant"),
    Entry("WT_EXP_CL", 0.75, "1", "allometric exponent of CL and Q (fixed)", _CSV, "constant"),
    Entry("WT_EXP_V", 1.0, "1", "allometric exponent of Vc (fixed)", _CSV, "constant"),
    Entry("MW", 0.1441, "mg/nmol", "molecular weight of alirocumab (144,100 g/mol)",
          "Praluent prescribing information, as used by nlmixr2lib", "constant"),
    Entry("MW_PCSK9", 0.074, "mg/nmol", "molecular weight of mature PCSK9 (74,000 g/mol)",
          "UniProt Q8NBP7, as used by nlmixr2lib", "constant"),
    Entry("WT", 85.0, "kg", "body weight", "reference patient (the model's reference weight)", "covariate"),
    Entry("STATIN", 0.0, "1", "statin co-medication (0 no, 1 yes)", "reference patient", "covariate"),
)

APPROXIMATIONS = ("qss", "full")


def mg_to_nmol(mg: float, molecular_weight: float = 144100.0) -> float:
    """Convert a dose in mg to nmol: ``mg * 1e6 / MW`` (alirocumab MW 144,100 g/mol).

    Example:
        >>> round(mg_to_nmol(150.0), 2)
        1040.94
    """
    return mg * 1e6 / molecular_weight


def model(approximation: str = "qss", **values: float) -> qsp.Model:
    """The alirocumab model; ``approximation`` is ``"qss"`` (published) or ``"full"``.

    Built from :func:`qsp.blocks.two_compartment` (in nmol),
    :func:`qsp.blocks.first_order_absorption` (with ``F`` and ``TLAG``) and
    :func:`qsp.blocks.tmdd`. Species (nmol): ``Ad`` (the subcutaneous depot), ``Ac`` (total
    alirocumab in the QSS form, free alirocumab in the full form), ``Ap``, and ``Rtot``
    (QSS) or ``R`` and ``RL`` (full). Observables (nM): ``drug_free``, ``drug_total``,
    ``target_free``, ``target_total``, ``complex``, ``occupancy``, ``C`` and ``Cp`` (free
    drug, central and peripheral); ``Cc`` and ``Ct`` (total alirocumab and total PCSK9,
    mg/L). Keyword arguments set new defaults (``WT=``, ``STATIN=``...).

    Example:
        >>> sorted(model("full").observables)[:3]
        ['C', 'Cc', 'Cp']
    """
    if approximation not in APPROXIMATIONS:
        raise qsp.ModelError(f"alirocumab_djebli2017: approximation {approximation!r} is not one of "
                             f"{APPROXIMATIONS}.")
    p = build_parameters(PARAMETERS, values, "alirocumab_djebli2017")
    size = p["WT"] / p["WT_REF"]
    pk = qsp.blocks.two_compartment(
        CL=p["CL"] * size ** p["WT_EXP_CL"] * p["STATIN_CL"] ** p["STATIN"],
        V1=p["Vc"] * size ** p["WT_EXP_V"], Q=p["Q"] * size ** p["WT_EXP_CL"], V2=p["Vp"], amount_unit="nmol")
    oral = qsp.blocks.first_order_absorption(pk["Ac"], ka=p["KA"], F=p["F"], lag=p["TLAG"])
    kon, kint, kdeg = p["kon"], p["kint"], p["kdeg"]
    tmdd = qsp.blocks.tmdd(pk["Ac"], host=qsp.blocks.assemble(pk, oral), approximation=approximation,
                           kon=kon, koff=p["Kss"] * kon - kint,  # so that K_ss = (koff + kint)/kon = Kss
                           kint=kint, ksyn=kdeg * p["Rbase"], kdeg=kdeg)
    # nM x mg/nmol = mg/L. F and TLAG act only through dose records and kon cancels from the
    # QSS constant, so they are declared explicitly (the blocks declare only what they create).
    return tmdd.model.extended(observables={"Cc": tmdd["drug_total"] * p["MW"],
                                            "Ct": tmdd["target_total"] * p["MW_PCSK9"]},
                               parameters=[p["F"], p["TLAG"], kon],
                               name=f"alirocumab_djebli2017_{approximation}")


def default_regimen(dose_mg: float = 150.0, every_days: float = 14.0, doses: int = 6) -> qsp.Regimen:
    """Subcutaneous doses (default 150 mg every 2 weeks, 6 doses) into the depot ``Ad``, with the
    model's lag ``TLAG`` and bioavailability ``F``.

    Example:
        >>> r = default_regimen().records[0]
        >>> round(r.amount, 2), r.lag, r.bioavailability, r.additional
        (1040.94, TLAG, F, 5)
    """
    p = build_parameters(PARAMETERS)
    return qsp.Regimen([qsp.Bolus("Ad", amount=mg_to_nmol(dose_mg), time=0.0, interval=every_days,
                                  additional=doses - 1, lag=p["TLAG"], bioavailability=p["F"])])


def default_times() -> np.ndarray:
    """Output grid for the default regimen: 0-84 days every 2 days (43 points)."""
    return np.linspace(0.0, 84.0, 43)
