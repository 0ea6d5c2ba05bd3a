"""A monoclonal antibody with target-mediated drug disposition: full (Mager-Jusko) or QSS.

An IgG antibody in one central compartment binds a soluble target that is synthesised at
a constant rate and degraded; the drug-target complex is internalised. The full model
(Mager & Jusko 2001), with C free drug, R free target and RC the complex (concentrations,
nM):

.. math::

    \\frac{dC}{dt} = \\frac{u(t)}{V} - \\frac{CL}{V} C - k_{on} C R + k_{off} RC

    \\frac{dR}{dt} = k_{syn} - k_{deg} R - k_{on} C R + k_{off} RC, \\qquad R(0) = k_{syn}/k_{deg}

    \\frac{dRC}{dt} = k_{on} C R - (k_{off} + k_{int}) RC

The quasi-steady-state approximation (Gibiansky et al. 2008) integrates the totals
C_tot = C + RC and R_tot = R + RC, with K_ss = (k_off + k_int)/k_on and the free drug
from the quadratic:

.. math::

    C = \\tfrac12 \\left[(C_{tot} - R_{tot} - K_{ss})
        + \\sqrt{(C_{tot} - R_{tot} - K_{ss})^2 + 4 K_{ss} C_{tot}}\\right], \\qquad
    RC = \\frac{R_{tot} C}{K_{ss} + C}

    \\frac{dC_{tot}}{dt} = \\frac{u(t)}{V} - \\frac{CL}{V} C - k_{int} RC, \\qquad
    \\frac{dR_{tot}}{dt} = k_{syn} - k_{deg} (R_{tot} - RC) - k_{int} RC

``model(approximation="full" | "qss")`` picks the form; both share one parameter table, so
the same parameter values can be simulated under either assumption. The QSS form is
accurate when binding equilibrates fast relative to elimination, internalisation and
target turnover; the test suite checks the agreement for the default values and shows
the disagreement when binding is slow.

The values are illustrative, not fitted to one antibody: they are typical IgG1
magnitudes (plasma volume about 3 L, linear half-life about 3 weeks, sub-nanomolar
affinity) with the target turnover and internalisation of a soluble target. Amounts are
in nmol (doses in mg: use :func:`mg_to_nmol`), concentrations in nM, time in days.

Example:
    >>> from models import mab_tmdd
    >>> [s.name for s in mab_tmdd.model().species], [s.name for s in mab_tmdd.model("qss").species]
    (['Ac', 'R', 'RL'], ['Ac', 'Rtot'])
"""

from __future__ import annotations

import numpy as np

import qsp

from ._table import Entry, build_parameters

REFERENCE = (
    "Mager DE, Jusko WJ. General pharmacokinetic model for drugs exhibiting target-mediated drug "
    "disposition. J Pharmacokinet Pharmacodyn 2001;28:507-532; Gibiansky L, Gibiansky E, Kakkar T, Ma P. "
    "Approximations of the target-mediated drug disposition model and identifiability of model parameters. "
    "J Pharmacokinet Pharmacodyn 2008;35:573-591 (equations as in shared/reference/README.md, section 4). "
    "Parameter values illustrative (typical IgG1 magnitudes)."
)

_ILLUSTRATIVE = "illustrative: typical IgG1 magnitude, not fitted to one antibody"

PARAMETERS = (
    Entry("V", 3.0, "L", "central (plasma) volume", f"{_ILLUSTRATIVE} (plasma volume of an adult)"),
    Entry("CL", 0.1, "L/day", "linear (non-target) clearance of free drug",
          f"{_ILLUSTRATIVE} (CL/V = 0.033/day, half-life about 21 days, as FcRn-protected IgG)"),
    Entry("kon", 50.0, "1/nM/day", "association rate constant",
          f"{_ILLUSTRATIVE} (5.8e5 1/M/s)"),
    Entry("koff", 5.0, "1/day", "dissociation rate constant", f"{_ILLUSTRATIVE} (K_D = koff/kon = 0.1 nM)"),
    Entry("kint", 0.5, "1/day", "internalisation (elimination) rate constant of the complex", _ILLUSTRATIVE),
    Entry("ksyn", 1.0, "nM/day", "target synthesis rate", f"{_ILLUSTRATIVE} (baseline R0 = ksyn/kdeg = 5 nM)"),
    Entry("kdeg", 0.2, "1/day", "degradation rate constant of the free target", _ILLUSTRATIVE),
    Entry("MW", 0.15, "mg/nmol", "molecular weight of the antibody (150,000 g/mol)", "typical IgG, about 150 kDa",
          "constant"),
)

APPROXIMATIONS = ("full", "qss")


def mg_to_nmol(mg: float, molecular_weight: float = 150000.0) -> float:
    """Convert a dose in mg to nmol: ``mg * 1e6 / MW`` (MW in g/mol, default 150,000).

    Example:
        >>> round(mg_to_nmol(150.0), 6)
        1000.0
    """
    return mg * 1e6 / molecular_weight


def model(approximation: str = "full", **values: float) -> qsp.Model:
    """The antibody with TMDD; ``approximation`` is ``"full"`` or ``"qss"``.

    Built from :func:`qsp.blocks.one_compartment` (in nmol) and :func:`qsp.blocks.tmdd`.
    Species (nmol, in ``central`` of volume V): ``Ac`` (free antibody in the full form, total
    antibody in the QSS form, so doses go into ``Ac`` either way), and ``R`` and ``RL`` (full)
    or ``Rtot`` (QSS). Observables of both forms (nM): ``drug_free``, ``drug_total``,
    ``target_free``, ``target_total``, ``complex``, ``occupancy`` (fraction), ``C`` (free
    antibody) and ``C_total_mgL`` (total antibody, mg/L). Keyword arguments set new default
    values.

    Raises:
        ModelError: an unknown approximation or parameter name.

    Example:
        >>> sorted(model("qss").observables)
        ['C', 'C_total_mgL', 'complex', 'drug_free', 'drug_total', 'occupancy', 'target_free', 'target_total']
    """
    if approximation not in APPROXIMATIONS:
        raise qsp.ModelError(f"mab_tmdd: approximation {approximation!r} is not one of {APPROXIMATIONS}.")
    p = build_parameters(PARAMETERS, values, "mab_tmdd")
    pk = qsp.blocks.one_compartment(CL=p["CL"], V=p["V"], amount_unit="nmol")
    tmdd = qsp.blocks.tmdd(pk["Ac"], host=pk, approximation=approximation, kon=p["kon"], koff=p["koff"],
                           kint=p["kint"], ksyn=p["ksyn"], kdeg=p["kdeg"])
    # nM x mg/nmol = mg/L
    return tmdd.model.extended(observables={"C_total_mgL": tmdd["drug_total"] * p["MW"]},
                               name=f"mab_tmdd_{approximation}")


def default_regimen(dose_mg: float = 70.0) -> qsp.Regimen:
    """One IV bolus into ``Ac`` at day 0 (default 70 mg, 1 mg/kg for 70 kg), for either form.

    Example:
        >>> round(default_regimen().records[0].amount, 3)
        466.667
    """
    return qsp.Regimen([qsp.Bolus("Ac", amount=mg_to_nmol(dose_mg), time=0.0)])


def default_times() -> np.ndarray:
    """Output grid for the default regimen: 0-56 days every 2 days (29 points)."""
    return np.linspace(0.0, 56.0, 29)
