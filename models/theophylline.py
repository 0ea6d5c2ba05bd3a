"""Theophylline: one-compartment model with first-order oral absorption (NONMEM CONTROL5).

The classic NONMEM example (Boeckmann, Sheiner & Beal, NONMEM Users Guide Part V, 1994):
12 adults given a single oral dose of theophylline, 132 plasma concentrations. The
parameters are NONMEM 7.5.1's final FO estimates for ``CONTROL5``, whose clearance is
proportional to body weight and whose volume follows from clearance and the elimination
rate constant:

.. math::

    CL = \\theta_{CL} \\cdot WT, \\qquad V = CL / K

    \\frac{dA_d}{dt} = -k_a A_d, \\qquad
    \\frac{dA_c}{dt} = k_a A_d - K \\, A_c, \\qquad
    C = A_c / V

Amounts are in mg (the NONMEM file doses mg/kg; multiply by weight), concentrations in
mg/L, time in hours. ``C`` is the typical-subject (population) prediction, NONMEM's PRED.

Example:
    >>> from models import theophylline
    >>> m = theophylline.model(WT=79.6)
    >>> sorted(p.name for p in m.parameters)
    ['CL_WT', 'K', 'KA', 'WT']
"""

from __future__ import annotations

import numpy as np

import qsp

from ._table import Entry, build_parameters

REFERENCE = (
    "Boeckmann AJ, Sheiner LB, Beal SL. NONMEM Users Guide Part V: Introductory Guide. "
    "NONMEM Project Group, UCSF; 1994 (theophylline example, CONTROL5). Estimates: NONMEM 7.5.1 FO, "
    "shared/reference/nonmem2rx/theophylline_control5/CONTROL5_implicitabbr.ext "
    "(github nlmixr2/nonmem2rx, inst/mods/dollar_abbr_implicit)."
)

_EXT = "nonmem2rx/theophylline_control5/CONTROL5_implicitabbr.ext"

PARAMETERS = (
    Entry("KA", 2.77386, "1/h", "first-order absorption rate constant", f"{_EXT} THETA1 (NONMEM 7.5.1 FO)"),
    Entry("K", 0.078124, "1/h", "elimination rate constant (CL/V)", f"{_EXT} THETA2 (NONMEM 7.5.1 FO)"),
    Entry("CL_WT", 0.0363051, "L/h/kg", "clearance per kg body weight (CL = CL_WT * WT)",
          f"{_EXT} THETA3 (NONMEM 7.5.1 FO)"),
    Entry("WT", 70.0, "kg", "body weight", "reference patient (THEOPP weights span 54.6-86.4 kg)", "covariate"),
)


def model(**values: float) -> qsp.Model:
    """The theophylline model; keyword arguments set new defaults (e.g. ``WT=79.6``).

    Built from :func:`qsp.blocks.one_compartment` (CL = CL_WT·WT, V = CL/K) and
    :func:`qsp.blocks.first_order_absorption`. Species: ``Ad`` (mg in the gut depot; its
    symbol means its amount) and ``Ac`` (mg in ``central``, volume V). Observables: ``C``
    (mg/L), the plasma concentration.

    Example:
        >>> model(WT=60.0).symbol("WT").value
        60.0
    """
    p = build_parameters(PARAMETERS, values, "theophylline")
    CL = p["CL_WT"] * p["WT"]
    pk = qsp.blocks.one_compartment(CL=CL, V=CL / p["K"])
    oral = qsp.blocks.first_order_absorption(pk["Ac"], ka=p["KA"])
    return qsp.blocks.assemble(pk, oral, name="theophylline")


def default_regimen(dose_mg: float = 320.0) -> qsp.Regimen:
    """A single oral dose at time 0 (default 320 mg, about 4.6 mg/kg for 70 kg, as in THEOPP).

    Example:
        >>> default_regimen().records[0].amount
        320.0
    """
    return qsp.Regimen([qsp.Bolus("Ad", amount=dose_mg, time=0.0)])


def default_times() -> np.ndarray:
    """Output grid for the default regimen: 0-24 h every hour (25 points)."""
    return np.linspace(0.0, 24.0, 25)
