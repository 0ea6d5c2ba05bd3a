"""Warfarin PK: one-compartment model with first-order oral absorption (NONMEM run000).

Data of O'Reilly & Aggeler (32 subjects, a single oral dose of about 1.5 mg/kg, 251
plasma concentrations), fitted with NONMEM 7.4.3 FOCE-I as ``run000`` (ADVAN2, log-normal
between-subject variability on ka, CL and V, combined proportional and additive error).
The table holds the typical values, ``exp(THETA)`` of the log-scale estimates:

.. math::

    \\frac{dA_d}{dt} = -k_a A_d, \\qquad
    \\frac{dA_c}{dt} = k_a A_d - \\frac{CL}{V} A_c, \\qquad
    C = A_c / V

Amounts in mg, concentrations in mg/L, time in hours. ``C`` is NONMEM's PRED (the
typical subject). The same data fitted with an absorption lag (``run002``) fit better
(OFV 225.9 vs 423.3); this shelf model keeps the lag-free run000 structure.

Example:
    >>> from models import warfarin
    >>> round(warfarin.model().symbol("CL").value, 5)   # exp(-2.00723) L/h
    0.13436
"""

from __future__ import annotations

import math

import numpy as np

import qsp

from ._table import Entry, build_parameters

REFERENCE = (
    "O'Reilly RA, Aggeler PM. Studies on coumarin anticoagulant drugs: initiation of warfarin therapy "
    "without a loading dose. Circulation 1968;38:169-177; O'Reilly RA, Aggeler PM, Leong LS. J Clin Invest "
    "1963;42:1542-1551. Estimates: NONMEM 7.4.3 FOCE-I run000, "
    "shared/reference/nonmem2rx/warfarin_pk/run000.ext (github nlmixr2/nonmem2rx, inst/mods/err)."
)

_EXT = "nonmem2rx/warfarin_pk/run000.ext"

PARAMETERS = (
    Entry("KA", math.exp(-0.569395), "1/h", "first-order absorption rate constant",
          f"exp(THETA1 = -0.569395), {_EXT} (NONMEM 7.4.3 FOCE-I)"),
    Entry("CL", math.exp(-2.00723), "L/h", "clearance", f"exp(THETA2 = -2.00723), {_EXT} (NONMEM 7.4.3 FOCE-I)"),
    Entry("V", math.exp(2.05853), "L", "volume of distribution",
          f"exp(THETA3 = 2.05853), {_EXT} (NONMEM 7.4.3 FOCE-I)"),
)


def model(**values: float) -> qsp.Model:
    """The warfarin PK model; keyword arguments set new defaults (e.g. ``CL=0.2``).

    Built from :func:`qsp.blocks.one_compartment` and :func:`qsp.blocks.first_order_absorption`.
    Species: ``Ad`` (mg in the gut depot; its symbol means its amount) and ``Ac`` (mg in
    ``central``, volume V). Observables: ``C`` (mg/L).

    Example:
        >>> model(V=8.0).symbol("V").value
        8.0
    """
    p = build_parameters(PARAMETERS, values, "warfarin")
    pk = qsp.blocks.one_compartment(CL=p["CL"], V=p["V"])
    oral = qsp.blocks.first_order_absorption(pk["Ac"], ka=p["KA"])
    return qsp.blocks.assemble(pk, oral, name="warfarin")


def default_regimen(dose_mg: float = 100.0) -> qsp.Regimen:
    """A single oral dose at time 0 (default 100 mg, about 1.5 mg/kg for 70 kg, as in the study).

    Example:
        >>> default_regimen(50.0).records[0].amount
        50.0
    """
    return qsp.Regimen([qsp.Bolus("Ad", amount=dose_mg, time=0.0)])


def default_times() -> np.ndarray:
    """Output grid for the default regimen: 0-120 h every 4 h (31 points)."""
    return np.linspace(0.0, 120.0, 31)
