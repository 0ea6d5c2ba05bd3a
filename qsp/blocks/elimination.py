"""Elimination processes: linear clearance, Michaelis-Menten (saturable) elimination, and a
clearance split into a hepatic part and a renal part proportional to kidney function.

These compose with a disposition block built with ``CL=None`` (no elimination of its
own), or add a second route to one that has it.
"""

from __future__ import annotations

from ..model import Reaction
from ._block import Block, Builder, amount_unit, as_species


def linear_elimination(species, CL=3.0, *, prefix: str | None = None) -> Block:
    """Linear (first-order) elimination of ``species`` by a clearance.

    Creates:
        reaction ``linear_elimination``: species → ∅ at rate CL·C (C its concentration);
        parameter ``CL`` [L/h].

    ODE contribution: dA/dt += −CL·A/V.
    Source: Rowland M, Tozer TN. *Clinical Pharmacokinetics and Pharmacodynamics*, 4th ed. (2011), ch. 3.

    Example:
        >>> import qsp
        >>> pk = qsp.blocks.one_compartment(CL=None)        # disposition without elimination
        >>> qsp.blocks.linear_elimination(pk["Ac"], CL=1.5).model.reactions[0].rate
        CL*Ac
    """
    b = Builder("linear_elimination", prefix)
    A = as_species(species, b.kind, "species")
    b.keep("species", A)
    CL = b.quantity("CL", CL, "L/h", "clearance")
    return b.block([Reaction([A], [], rate=CL * A, name=b.full("linear_elimination"))])


def michaelis_menten_elimination(species, Vmax=10.0, Km=2.0, *, prefix: str | None = None) -> Block:
    """Saturable (Michaelis-Menten) elimination of ``species``.

    Creates:
        reaction ``mm_elimination``: species → ∅ at rate Vmax·C/(Km + C);
        parameters ``Vmax`` [mg/h] (maximal elimination rate, an amount per time) and
        ``Km`` [mg/L] (units follow the species' amount unit) (the concentration of half-maximal rate).

    ODE contribution: dA/dt += −Vmax·C/(Km + C), C = A/V. For C ≪ Km this is linear with
    clearance Vmax/Km; for C ≫ Km it is zero order (Vmax).
    Source: Michaelis L, Menten ML. Biochem Z 1913;49:333-369; in PK e.g. phenytoin,
    Rowland & Tozer (2011), ch. 20.

    Example:
        >>> import qsp
        >>> pk = qsp.blocks.one_compartment(CL=None)
        >>> qsp.blocks.michaelis_menten_elimination(pk["Ac"]).model.reactions[0].rate
        Vmax*Ac/(Km + Ac)
    """
    b = Builder("michaelis_menten_elimination", prefix)
    A = as_species(species, b.kind, "species")
    b.keep("species", A)
    amount = amount_unit(A, "mg")
    Vmax = b.quantity("Vmax", Vmax, f"{amount}/h", "maximal elimination rate")
    Km = b.quantity("Km", Km, f"{amount}/L", "Michaelis constant: concentration of half-maximal elimination")
    return b.block([Reaction([A], [], rate=Vmax * A / (Km + A), name=b.full("mm_elimination"))])


def clearance_split(CL_H=2.0, k_renal=0.06, eGFR=90.0, *, prefix: str | None = None) -> Block:
    """Total clearance as a hepatic (non-renal) part plus a renal part proportional to eGFR.

    Creates:
        parameters ``CL_H`` [L/h] (hepatic/non-renal clearance), ``k_renal``
        [(L/h)/(mL/min/1.73m2)] (renal clearance per unit eGFR) and ``eGFR``
        [mL/min/1.73m2] (a covariate: one value per subject in a population);
        role ``CL``: the expression CL_H + k_renal·eGFR, also observable ``CL``;
        observable ``renal_fraction`` = k_renal·eGFR / CL.

    Pass ``split["CL"]`` as the ``CL`` of a disposition block; then every subject's
    clearance follows its kidney function without a new parameter.
    Source: Dettli L. Individualization of drug dosage in patients with renal disease.
    Med Clin North Am 1974;58:977-985 (CL = CL_nonrenal + a·CLcr).

    Example:
        >>> import qsp
        >>> split = qsp.blocks.clearance_split(CL_H=1.0, k_renal=0.05)
        >>> pk = qsp.blocks.one_compartment(CL=split["CL"])
        >>> model = qsp.blocks.assemble(split, pk)
        >>> model.reactions[0].rate
        Ac*(CL_H + eGFR*k_renal)
    """
    b = Builder("clearance_split", prefix)
    CL_H = b.quantity("CL_H", CL_H, "L/h", "hepatic (non-renal) clearance")
    k_renal = b.quantity("k_renal", k_renal, "(L/h)/(mL/min/1.73m2)", "renal clearance per unit eGFR")
    eGFR = b.quantity("eGFR", eGFR, "mL/min/1.73m2", "estimated glomerular filtration rate (covariate)")
    observables: dict = {}
    CL = CL_H + k_renal * eGFR
    b.observe(observables, "CL", CL)
    b.observe(observables, "renal_fraction", k_renal * eGFR / CL)
    return b.block(observables=observables)
