"""Albumin binding: a highly bound drug whose free fraction rises when albumin falls (phenytoin).

Phenytoin is about 90 % bound to albumin at a normal albumin of 44 g/L, and its metabolism
(saturable, Michaelis-Menten) acts on the unbound drug. In hypoalbuminaemia the free
fraction rises: the total concentration that a laboratory reports falls while the
unbound, active concentration at steady state does not (the free-drug hypothesis). The
binding is one site per albumin with dissociation constant K_D, chosen so that fu = 0.1
at 44 g/L. Concentrations in µM, amounts in µmol, time in hours. With P_tot the albumin
concentration (ALB in g/L divided by its molecular weight):

Rapid equilibrium (``approximation="rapid_equilibrium"``, default), A the total drug:

.. math::

    C_u = \\tfrac12 \\left[(C - P_{tot} - K_D) + \\sqrt{(C - P_{tot} - K_D)^2 + 4 K_D C}\\right],
    \\qquad f_u = C_u / C, \\qquad C = A / V

    \\frac{dA}{dt} = u(t) - \\frac{V_{max} C_u}{K_{m,u} + C_u}

(the total albumin is a state too, with the turnover below; it stays at P_tot).

Explicit binding (``approximation="explicit"``): free drug D, free albumin P and complex
DP, with albumin turnover (the complex is degraded with albumin and releases the drug):

.. math::

    \\frac{dD}{dt} = \\frac{u(t)}{V} - k_{on} D P + k_{off} DP + k_{deg} DP
                    - \\frac{V_{max}}{V} \\frac{D}{K_{m,u} + D}

    \\frac{dP}{dt} = k_{syn} - k_{deg} P - k_{on} D P + k_{off} DP, \\qquad
    \\frac{dDP}{dt} = k_{on} D P - (k_{off} + k_{deg}) DP

with k_on = k_off / K_D and k_syn = k_deg P_tot, so total albumin stays at P_tot. Binding
is fast (k_off = 1000/h), so the two forms agree.

For drug concentrations far below albumin, fu(ALB)/fu(44) = 1 / [0.9 ALB/44 + 0.1]: the
Sheiner-Tozer normalisation used clinically for phenytoin (usually rounded to
C / (0.2 ALB[g/dL] + 0.1)).

Example:
    >>> from models import protein_binding_albumin as pb
    >>> [s.name for s in pb.model().species], [s.name for s in pb.model("explicit").species]
    (['Ac', 'Ptot'], ['Ac', 'P', 'DP'])
"""

from __future__ import annotations

import math

import numpy as np

import qsp

from ._table import Entry, build_parameters

REFERENCE = (
    "Phenytoin values: Winter ME. Basic Clinical Pharmacokinetics, 5th ed. Lippincott Williams & Wilkins; "
    "2010, chapter Phenytoin (V 0.65 L/kg, Vmax 7 mg/kg/day, Km 4 mg/L, fu 0.1, albumin normalisation); "
    "Sheiner LB, Tozer TN. Clinical pharmacokinetics: the use of plasma concentrations of drugs. In: Melmon KL, "
    "Morrelli HF, eds. Clinical Pharmacology. 2nd ed. Macmillan; 1978. Not in shared/reference: cited from the "
    "publications."
)

MW_PHENYTOIN = 252.27  # g/mol
MW_ALBUMIN = 66500.0  # g/mol
_WINTER = "Winter 2010, phenytoin chapter"
_FU_REF, _ALB_REF = 0.1, 44.0
_KD = _FU_REF / (1 - _FU_REF) * _ALB_REF / MW_ALBUMIN * 1e6  # µM: fu = K_D/(K_D + P_tot) = 0.1 at 44 g/L

PARAMETERS = (
    Entry("V_WT", 0.65, "L/kg", "volume of distribution per kg", _WINTER),
    Entry("VMAX_WT", 7.0 * 1e3 / MW_PHENYTOIN / 24.0, "umol/h/kg", "maximum elimination rate per kg",
          f"{_WINTER}: 7 mg/kg/day, converted with MW 252.27 g/mol"),
    Entry("KM_U", _FU_REF * 4.0 * 1e3 / MW_PHENYTOIN, "uM", "Michaelis constant for the unbound drug",
          f"{_WINTER}: Km 4 mg/L (total, at fu 0.1), so 0.4 mg/L unbound"),
    Entry("KD", _KD, "uM", "dissociation constant of drug-albumin binding (one site)",
          f"derived: fu = 0.1 at albumin 44 g/L ({_WINTER})"),
    Entry("koff", 1000.0, "1/h", "dissociation rate constant (explicit form)",
          "illustrative: binding equilibrates within seconds"),
    Entry("kdeg_alb", math.log(2) / (19.0 * 24.0), "1/h", "albumin degradation rate constant (albumin turnover)",
          "albumin half-life of about 19 days (textbook physiology)"),
    Entry("MW", MW_PHENYTOIN / 1e3, "mg/umol", "molecular weight of phenytoin (252.27 g/mol)",
          "phenytoin, C15H12N2O2", "constant"),
    Entry("MW_ALB", MW_ALBUMIN / 1e6, "g/umol", "molecular weight of human serum albumin (66,500 g/mol)",
          "about 66.5 kDa", "constant"),
    Entry("WT", 70.0, "kg", "body weight", "reference patient", "covariate"),
    Entry("ALB", _ALB_REF, "g/L", "serum albumin", f"normal value used by {_WINTER}", "covariate"),
)

APPROXIMATIONS = ("rapid_equilibrium", "explicit")


def mg_to_umol(mg: float) -> float:
    """Convert a phenytoin dose in mg to µmol (MW 252.27 g/mol).

    Example:
        >>> round(mg_to_umol(252.27), 6)
        1000.0
    """
    return mg * 1e3 / MW_PHENYTOIN


def model(approximation: str = "rapid_equilibrium", **values: float) -> qsp.Model:
    """The albumin-binding model; ``approximation`` is ``"rapid_equilibrium"`` or ``"explicit"``.

    Built from :func:`qsp.blocks.one_compartment` (no linear clearance, in µmol),
    :func:`qsp.blocks.michaelis_menten_elimination` and :func:`qsp.blocks.protein_binding`
    (which makes every host process act on the unbound drug). Species (µmol, in ``central``
    of volume V): ``Ac`` (total drug in the rapid-equilibrium form, unbound drug in the
    explicit form, so doses go into ``Ac`` either way) and ``Ptot`` (total albumin) or ``P``
    and ``DP`` (free albumin, complex). Observables: ``drug_total``, ``drug_free``,
    ``drug_bound``, ``C`` (µM), ``fu``, and ``C_total_mgL``, ``C_free_mgL`` (mg/L). Keyword
    arguments set new defaults (``ALB=25.0`` for hypoalbuminaemia, ``WT=``...).

    Example:
        >>> model(ALB=25.0).symbol("ALB").value
        25.0
    """
    if approximation not in APPROXIMATIONS:
        raise qsp.ModelError(f"protein_binding_albumin: approximation {approximation!r} is not one of "
                             f"{APPROXIMATIONS}.")
    p = build_parameters(PARAMETERS, values, "protein_binding_albumin")
    pk = qsp.blocks.one_compartment(CL=None, V=p["V_WT"] * p["WT"], amount_unit="umol")
    metabolism = qsp.blocks.michaelis_menten_elimination(pk["Ac"], Vmax=p["VMAX_WT"] * p["WT"], Km=p["KM_U"])
    binding = qsp.blocks.protein_binding(pk["Ac"], host=qsp.blocks.assemble(pk, metabolism), form=approximation,
                                         KD=p["KD"], koff=p["koff"], P0=p["ALB"] / p["MW_ALB"],  # g/L over g/µmol
                                         kdeg_P=p["kdeg_alb"])
    # µM x mg/µmol = mg/L
    return binding.model.extended(observables={"C_total_mgL": binding["drug_total"] * p["MW"],
                                               "C_free_mgL": binding["drug_free"] * p["MW"]},
                                  parameters=[p["koff"]],  # both forms take one parameter set
                                  name=f"protein_binding_albumin_{approximation}")


def default_regimen(loading_mg: float = 1000.0, maintenance_mg: float = 100.0) -> qsp.Regimen:
    """IV loading infusion over 1 h, then ``maintenance_mg`` over 30 min every 8 h for a week,
    into ``Ac`` (either form).

    Example:
        >>> [round(r.amount, 1) for r in default_regimen().records]
        [3964.0, 396.4]
    """
    return qsp.Regimen([
        qsp.Infusion("Ac", amount=mg_to_umol(loading_mg), time=0.0, duration=1.0),
        qsp.Infusion("Ac", amount=mg_to_umol(maintenance_mg), time=8.0, duration=0.5, interval=8.0, additional=19),
    ])


def default_times() -> np.ndarray:
    """Output grid for the default regimen: 0-168 h every 4 h (43 points)."""
    return np.linspace(0.0, 168.0, 43)
