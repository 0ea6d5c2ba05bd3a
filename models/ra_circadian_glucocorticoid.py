"""Rheumatoid arthritis chronotherapy: circadian IL-6 and a modified-release glucocorticoid.

In rheumatoid arthritis serum IL-6 follows a daily rhythm with its peak in the early
morning, when joint stiffness is worst (Arvidson 1994). Modified-release prednisone taken
at bedtime (22:00) releases the drug about 4 h later, so prednisolone is present when the
nightly rise of IL-6 production starts (CAPRA-1, Buttgereit 2008). This model joins a
one-compartment prednisolone PK model with a delayed-release oral depot to an indirect
response (Jusko type I: inhibition of production) for IL-6 whose production rate follows
a cosinor rhythm:

.. math::

    \\frac{dA_d}{dt} = -k_a A_d, \\qquad
    \\frac{dA_c}{dt} = k_a A_d - CL \\cdot C, \\qquad C = A_c / V

    k_{in}(t) = k_{out} \\, IL6_{base} \\left[1 + a \\cos\\left(\\frac{2\\pi (t - \\phi - \\delta)}{24}\\right)\\right]

    \\frac{dIL6}{dt} = k_{in}(t) \\left(1 - \\frac{I_{max} C}{IC_{50} + C}\\right) - k_{out} IL6

Time ``t`` is in hours from midnight of day 1 (clock time = t mod 24); ``phi`` is the clock
time of peak IL-6 production and ``delta`` (chronotype) shifts it (positive: a later, evening
type). Doses (mg) go into ``Ad`` with the release lag ``TLAG`` and bioavailability ``F``;
an immediate-release tablet is the same model with ``TLAG = 0``.

Without drug the periodic solution is known in closed form (the test suite checks it):
IL6(t) = IL6_base [1 + a k_out / sqrt(k_out^2 + w^2) cos(w (t - phi - delta) - atan(w / k_out))],
w = 2 pi / 24 h: the IL-6 peak follows the production peak by atan(w/k_out)/w (1.8 h here).

No published parameter set of such a model could be verified (see shared/reference/README.md,
"Not found"): the values are illustrative, chosen to reproduce the published qualitative
pattern (IL-6 peak near 07:00; prednisolone half-life of about 3 h; release about 4 h after a
22:00 intake). Use the model to explore dose timing, not to predict a patient.

Example:
    >>> from models import ra_circadian_glucocorticoid as ra
    >>> [s.name for s in ra.model().species], [v.name for v in ra.model().variables]
    (['Ac', 'Ad'], ['IL6'])
"""

from __future__ import annotations

import numpy as np
import sympy as sp

import qsp

from ._table import Entry, build_parameters

REFERENCE = (
    "Arvidson NG, Gudbjornsson B, Elfman L, Ryden AC, Totterman TH, Hallgren R. Circadian rhythm of serum "
    "interleukin-6 in rheumatoid arthritis. Ann Rheum Dis 1994;53:521-524; Buttgereit F, Doering G, Schaeffler A, "
    "et al. Efficacy of modified-release versus standard prednisone to reduce duration of morning stiffness of the "
    "joints in rheumatoid arthritis (CAPRA-1): a double-blind, randomised controlled trial. Lancet "
    "2008;371:205-214. Parameter values illustrative (no verified published set; shared/reference/README.md)."
)

_ILL = "illustrative"

PARAMETERS = (
    Entry("KA", 1.0, "1/h", "absorption rate constant once released", f"{_ILL}: peak about 2 h after release"),
    Entry("TLAG", 4.0, "h", "release lag of the modified-release tablet",
          "about 4 h after intake (CAPRA-1 design, Buttgereit 2008)"),
    Entry("F", 0.8, "1", "oral bioavailability (prednisone to prednisolone)", f"{_ILL}: prednisone is well absorbed"),
    Entry("CL", 10.0, "L/h", "prednisolone clearance", f"{_ILL}: adult magnitude, half-life about 3.5 h with V"),
    Entry("V", 50.0, "L", "prednisolone volume of distribution", f"{_ILL}: adult magnitude"),
    Entry("IL6_BASE", 20.0, "pg/mL", "24-h mean serum IL-6 without treatment",
          f"{_ILL}: active RA magnitude (Arvidson 1994 report raised IL-6)"),
    Entry("AMP", 0.6, "1", "relative amplitude of the IL-6 production rhythm", _ILL),
    Entry("PHI", 5.0, "h", "clock time of peak IL-6 production",
          "chosen so serum IL-6 peaks near 07:00 (Arvidson 1994)"),
    Entry("PERIOD", 24.0, "h", "period of the rhythm", "circadian"),
    Entry("KOUT", 0.5, "1/h", "IL-6 elimination rate constant", f"{_ILL}: plasma half-life about 1.4 h"),
    Entry("IMAX", 0.9, "1", "maximal inhibition of IL-6 production by prednisolone", _ILL),
    Entry("IC50", 0.01, "mg/L", "prednisolone concentration for half-maximal inhibition", _ILL),
    Entry("CHRONO", 0.0, "h", "chronotype offset of the rhythm (positive: evening type)", "reference patient",
          "covariate"),
)


def model(**values: float) -> qsp.Model:
    """The RA chronotherapy model; keyword arguments set new defaults (``CHRONO=2.0``...).

    Drawn from blocks: :func:`qsp.blocks.one_compartment` and
    :func:`qsp.blocks.first_order_absorption` (prednisolone, with ``F`` and ``TLAG``),
    :func:`qsp.blocks.cosinor` (the production rhythm) and :func:`qsp.blocks.emax` (the
    fractional inhibition), joined by the IL-6 turnover written as a rate rule so that IL-6
    carries its unit (pg/mL). Species: ``Ad`` (mg, the released dose) and ``Ac`` (mg, in
    ``central`` of volume V). Rate-rule variable: ``IL6`` (pg/mL, starting at ``IL6_BASE``).
    Observables: ``C`` (prednisolone, mg/L), ``E`` (fraction of IL-6 production blocked),
    ``rhythm`` (production relative to its mean) and ``production`` (pg/mL/h, without drug).

    Example:
        >>> sorted(model().observables)
        ['C', 'E', 'production', 'rhythm']
    """
    p = build_parameters(PARAMETERS, values, "ra_circadian_glucocorticoid")
    pk = qsp.blocks.one_compartment(CL=p["CL"], V=p["V"])
    oral = qsp.blocks.first_order_absorption(pk["Ac"], ka=p["KA"], F=p["F"], lag=p["TLAG"])
    clock = qsp.blocks.cosinor(mesor=sp.Integer(1), amplitude=p["AMP"], acrophase=p["PHI"], period=p["PERIOD"],
                               chronotype=p["CHRONO"])
    inhibition = qsp.blocks.emax(pk["Ac"], E0=sp.Integer(0), Emax=p["IMAX"], EC50=p["IC50"])
    IL6 = qsp.Variable("IL6", initial=p["IL6_BASE"], unit="pg/mL", description="serum IL-6")
    production = p["KOUT"] * p["IL6_BASE"] * clock["rhythm"]
    return qsp.blocks.assemble(pk, oral, clock, inhibition, name="ra_circadian_glucocorticoid").extended(
        rules=[qsp.RateRule(IL6, production * (1 - inhibition["E"]) - p["KOUT"] * IL6)],
        observables={"production": production},
        parameters=[p["F"], p["TLAG"]],  # used only by dose records
    )


def default_regimen(dose_mg: float = 5.0, clock_hour: float = 22.0, days: int = 7) -> qsp.Regimen:
    """``dose_mg`` of modified-release prednisone daily at ``clock_hour`` (default 5 mg at 22:00,
    7 days), with the model's release lag ``TLAG`` and bioavailability ``F``.

    Example:
        >>> r = default_regimen().records[0]
        >>> r.time, r.interval, r.additional, r.lag
        (22.0, 24.0, 6, TLAG)
    """
    p = build_parameters(PARAMETERS)
    return qsp.Regimen([qsp.Bolus("Ad", amount=dose_mg, time=clock_hour, interval=24.0, additional=days - 1,
                                  lag=p["TLAG"], bioavailability=p["F"])])


def default_times() -> np.ndarray:
    """Output grid for the default regimen: 0-168 h every 2 h (85 points)."""
    return np.linspace(0.0, 168.0, 85)
