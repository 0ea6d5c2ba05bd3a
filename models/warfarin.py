"""Warfarin PK: one-compartment model with first-order oral absorption (NONMEM run000).

Data of O'Reilly & Aggeler (32 subjects, a single oral dose of about 1.5 mg/kg, 251
plasma concentrations), fitted with NONMEM 7.4.3 FOCE-I as ``run000`` (ADVAN2, log-normal
between-subject variability on ka, CL and V, combined proportional and additive error).
The table holds the typical values, ``exp(THETA)`` of the log-scale estimates:

.. math::

    \\frac{dA_{depot}}{dt} = -k_a A_{depot}, \\qquad
    \\frac{dA_{central}}{dt} = k_a A_{depot} - \\frac{CL}{V} A_{central}, \\qquad
    C = A_{central} / V

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

    Species: ``depot`` (mg, in the gut; its symbol means its amount) and ``central`` (mg,
    in ``plasma`` of volume V). Observables: ``C`` (mg/L).

    Example:
        >>> model(V=8.0).symbol("V").value
        8.0
    """
    p = build_parameters(PARAMETERS, values, "warfarin")
    KA, CL, V = p["KA"], p["CL"], p["V"]
    gut = qsp.Compartment("gut", volume=1.0, unit="L", description="absorption site (amounts only)")
    plasma = qsp.Compartment("plasma", volume=V, unit="L", description="central volume")
    depot = qsp.Species("depot", gut, amount_based=True, unit="mg", description="drug in the gut")
    A = qsp.Species("central", plasma, unit="mg", description="drug in the central compartment")
    return qsp.Model(
        "warfarin",
        reactions=[
            qsp.Reaction([depot], [A], rate=KA * depot, name="absorption"),
            qsp.Reaction([A], [], rate=CL * A, name="elimination"),
        ],
        observables={"C": A},
        description=__doc__.splitlines()[0],
    )


def default_regimen(dose_mg: float = 100.0) -> qsp.Regimen:
    """A single oral dose at time 0 (default 100 mg, about 1.5 mg/kg for 70 kg, as in the study).

    Example:
        >>> default_regimen(50.0).records[0].amount
        50.0
    """
    return qsp.Regimen([qsp.Bolus("depot", amount=dose_mg, time=0.0)])


def default_times() -> np.ndarray:
    """Output grid for the default regimen: 0-120 h every 4 h (31 points)."""
    return np.linspace(0.0, 120.0, 31)
