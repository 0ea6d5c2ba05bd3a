"""Phenobarbital in neonates: one-compartment IV model with weight and Apgar covariates.

Grasela & Donn's data (59 preterm neonates, repeated IV doses, 155 concentrations), the
``pheno`` example of NONMEM and pharmpy, fitted with NONMEM 7.5.1 FOCE-I (ADVAN1 TRANS2).
Clearance and volume are proportional to birth weight; a low Apgar score (< 5) enlarges the
volume:

.. math::

    CL = \\theta_{CL} \\cdot WT, \\qquad
    V = \\theta_{V} \\cdot WT \\cdot (1 + \\theta_{APGR} \\,[APGR < 5])

    \\frac{dA}{dt} = -\\frac{CL}{V} A, \\qquad C = A / V

Doses are IV boluses into ``Ac`` (mg), concentrations in mg/L, time in hours. ``C``
is NONMEM's PRED (the typical neonate with these covariates).

Example:
    >>> from models import phenobarbital
    >>> m = phenobarbital.model(WGT=1.4, APGR=7)
    >>> m.symbol("APGR").value
    7.0
"""

from __future__ import annotations

import numpy as np
import sympy as sp

import qsp

from ._table import Entry, build_parameters

REFERENCE = (
    "Grasela TH Jr, Donn SM. Neonatal population pharmacokinetics of phenobarbital derived from routine "
    "clinical data. Dev Pharmacol Ther 1985;8:374-383. Estimates: NONMEM 7.5.1 FOCE-I, "
    "shared/reference/pharmpy-examples/pheno.ext (pharmpy-core 2.1.1 example models)."
)

_EXT = "pharmpy-examples/pheno.ext"

PARAMETERS = (
    Entry("CL_WT", 0.00469555, "L/h/kg", "clearance per kg body weight (CL = CL_WT * WGT)",
          f"{_EXT} THETA1 (NONMEM 7.5.1 FOCE-I)"),
    Entry("V_WT", 0.984258, "L/kg", "volume per kg body weight (V = V_WT * WGT, Apgar >= 5)",
          f"{_EXT} THETA2 (NONMEM 7.5.1 FOCE-I)"),
    Entry("APGR_V", 0.15892, "1", "fractional increase of V when the Apgar score is below 5",
          f"{_EXT} THETA3 (NONMEM 7.5.1 FOCE-I)"),
    Entry("WGT", 1.3, "kg", "birth weight", "median of the 59 neonates in pharmpy-examples/pheno.dta",
          "covariate"),
    Entry("APGR", 7.0, "1", "Apgar score (0-10)", "median of the 59 neonates in pharmpy-examples/pheno.dta",
          "covariate"),
)


def model(**values: float) -> qsp.Model:
    """The phenobarbital model; keyword arguments set new defaults (e.g. ``WGT=0.9, APGR=3``).

    Built from :func:`qsp.blocks.one_compartment` with the covariate expressions for CL and
    V. Species: ``Ac`` (mg, in ``central`` of volume V). Observables: ``C`` (mg/L), ``CL``
    (L/h) and ``V`` (L), the individual clearance and volume.

    Example:
        >>> m = model(WGT=0.9, APGR=3)
        >>> sorted(m.observables), m.symbol("WGT").value
        (['C', 'CL', 'V'], 0.9)
    """
    p = build_parameters(PARAMETERS, values, "phenobarbital")
    CL = p["CL_WT"] * p["WGT"]
    # NONMEM: IF(APGR.LT.5) TVV = TVV*(1+THETA(3)); a Piecewise keeps APGR a parameter
    # (a population varies it without recompiling).
    V = p["V_WT"] * p["WGT"] * sp.Piecewise((1 + p["APGR_V"], p["APGR"] < 5), (1, True))
    pk = qsp.blocks.one_compartment(CL=CL, V=V)
    return pk.model.extended(observables={"CL": CL, "V": V}, name="phenobarbital")


def default_regimen(loading_mg: float = 25.0, maintenance_mg: float = 3.5) -> qsp.Regimen:
    """IV loading dose at 0 h, then maintenance doses every 12 h up to 120 h (as for neonate 1).

    Example:
        >>> [r.amount for r in default_regimen().records]
        [25.0, 3.5]
    """
    return qsp.Regimen([
        qsp.Bolus("Ac", amount=loading_mg, time=0.0),
        qsp.Bolus("Ac", amount=maintenance_mg, time=12.0, interval=12.0, additional=9),
    ])


def default_times() -> np.ndarray:
    """Output grid for the default regimen: 0-120 h every 4 h (31 points)."""
    return np.linspace(0.0, 120.0, 31)
