"""Vancomycin (Thomson 2009): two-compartment IV model with creatinine clearance and weight.

Thomson et al. derived the model from routine vancomycin levels of adult patients; it
is the ``pk_vanco_thomson`` model of PKPDsim and the model behind the mipdeval Bayesian
forecasting reference. Clearance rises linearly with creatinine clearance (CrCL, mL/min)
around 66 mL/min; both volumes scale with total body weight (WT, kg):

.. math::

    CL = CL_{pop} \\, (1 + \\theta_{CrCL} (CrCL - 66)), \\qquad
    V_1 = \\theta_{V1} \\, WT, \\qquad V_2 = \\theta_{V2} \\, WT

    \\frac{dA_1}{dt} = u(t) - \\frac{CL}{V_1} A_1 - \\frac{Q}{V_1} A_1 + \\frac{Q}{V_2} A_2, \\qquad
    \\frac{dA_2}{dt} = \\frac{Q}{V_1} A_1 - \\frac{Q}{V_2} A_2, \\qquad C = A_1 / V_1

``u(t)`` is the infusion rate (mg/h). Amounts in mg, concentrations in mg/L, time in hours.
PKPDsim's covariate ``CRCL`` is in L/h and multiplied by 16.66667 inside the model; here
``CRCL`` is given in mL/min directly (1 L/h = 16.667 mL/min). The formula gives a negative
clearance below CrCL = 1.1 mL/min, outside the data it was built from.

Example:
    >>> from models import vancomycin_thomson2009 as vanco
    >>> m = vanco.model(WT=82.7, CRCL=61.45)
    >>> m.symbol("CRCL").unit
    'mL/min'
"""

from __future__ import annotations

import numpy as np

import qsp

from ._table import Entry, build_parameters

REFERENCE = (
    "Thomson AH, Staatz CE, Tobin CM, Gall M, Lovering AM. Development and evaluation of vancomycin dosage "
    "guidelines designed to achieve new target concentrations. J Antimicrob Chemother 2009;63:1050-1057. "
    "Values: shared/reference/pkpdsim-models/pk_vanco_thomson.json5 (github InsightRX/PKPDsim, inst/models)."
)

_SRC = "pkpdsim-models/pk_vanco_thomson.json5"

PARAMETERS = (
    Entry("CL", 2.99, "L/h", "clearance at CrCL = 66 mL/min", f"{_SRC} CL; Thomson 2009"),
    Entry("TH_CRCL", 0.0154, "min/mL", "fractional change of clearance per mL/min of CrCL",
          f"{_SRC} TH_CRCL (fixed); Thomson 2009"),
    Entry("CRCL_REF", 66.0, "mL/min", "reference creatinine clearance of the clearance model",
          f"{_SRC} pk_code (CRCL*16.66667 - 66); Thomson 2009", "constant"),
    Entry("V1_WT", 0.675, "L/kg", "central volume per kg body weight", f"{_SRC} V; Thomson 2009"),
    Entry("Q", 2.28, "L/h", "inter-compartmental clearance", f"{_SRC} Q; Thomson 2009"),
    Entry("V2_WT", 0.732, "L/kg", "peripheral volume per kg body weight", f"{_SRC} V2; Thomson 2009"),
    Entry("WT", 70.0, "kg", "total body weight", "reference patient", "covariate"),
    Entry("CRCL", 66.0, "mL/min", "creatinine clearance (Cockcroft-Gault)",
          "reference patient (the model's reference CrCL)", "covariate"),
)


def model(**values: float) -> qsp.Model:
    """The Thomson 2009 vancomycin model; keyword arguments set new defaults (``WT=``, ``CRCL=``...).

    Built from :func:`qsp.blocks.two_compartment` with the covariate expressions. Species:
    ``Ac`` (mg, in ``central`` of volume V1) and ``Ap`` (mg, in ``peripheral`` of volume
    V2). Observables: ``C`` and ``Cp`` (mg/L) and ``CL_i`` (L/h), the individual clearance.

    Example:
        >>> m = model(CRCL=100.0)
        >>> sorted(m.observables), m.symbol("CRCL").value
        (['C', 'CL_i', 'Cp'], 100.0)
    """
    p = build_parameters(PARAMETERS, values, "vancomycin_thomson2009")
    CL = p["CL"] * (1 + p["TH_CRCL"] * (p["CRCL"] - p["CRCL_REF"]))
    pk = qsp.blocks.two_compartment(CL=CL, V1=p["V1_WT"] * p["WT"], Q=p["Q"], V2=p["V2_WT"] * p["WT"])
    return pk.model.extended(observables={"CL_i": CL}, name="vancomycin_thomson2009")


def default_regimen(dose_mg: float = 1500.0, infusion_h: float = 2.0, doses: int = 3) -> qsp.Regimen:
    """``doses`` infusions of ``dose_mg`` over ``infusion_h`` hours every 12 h (default 3 x 1500 mg
    q12h as 2-h infusions, the regimen of the mipdeval reference patients).

    Example:
        >>> r = default_regimen().records[0]
        >>> r.amount, r.duration, r.interval, r.additional
        (1500.0, 2.0, 12.0, 2)
    """
    return qsp.Regimen([qsp.Infusion("Ac", amount=dose_mg, time=0.0, duration=infusion_h,
                                     interval=12.0, additional=doses - 1)])


def default_times() -> np.ndarray:
    """Output grid for the default regimen: 0-48 h every hour (49 points)."""
    return np.linspace(0.0, 48.0, 49)
