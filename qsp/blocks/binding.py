"""Plasma protein binding: explicit reversible binding with protein turnover, or its
rapid-equilibrium form with a free fraction, behind one call (``form=``).

Only unbound drug crosses membranes, is cleared and acts (the free-drug hypothesis), so
both forms make the host's processes act on free drug and report ``drug_free``,
``drug_total``, ``drug_bound`` and ``fu`` under the same observable names. Amounts and
concentrations must be molar for binding (µmol and µmol/L by default): one drug molecule
binds one protein site.
"""

from __future__ import annotations

import sympy as sp

from ..errors import ModelError
from ..model import Model, Reaction
from ._block import Block, Builder, amount_unit, as_species, concentration_unit
from ._equilibrium import free_concentration, free_fraction, host_model, merged, with_free_drug

FORMS = ("explicit", "rapid_equilibrium")


def protein_binding(drug, *, host: Model | Block | None = None, form: str = "explicit", KD=100.0, koff=100.0,
                    P0=600.0, kdeg_P=0.0015, prefix: str | None = None) -> Block:
    """Reversible binding of ``drug`` to a plasma protein that turns over.

    Parameters (both forms declare all of them, so a parameter set fits either form):
    ``KD`` [µmol/L] dissociation constant; ``koff`` [1/h] dissociation rate (kon = koff/KD);
    ``P0`` [µmol/L] protein (binding-site) concentration at steady state (albumin ≈ 600);
    ``kdeg_P`` [1/h] protein degradation rate (albumin: t½ ≈ 19 days); synthesis is kdeg_P·P0.

    ``form="explicit"`` — the drug species is *free* drug D. Creates, in D's compartment
    (volume V): species ``P`` (free protein, starts at P0) and ``DP`` (complex); reactions
    ``binding`` D + P → DP (kon·D·P·V), ``unbinding`` DP → D + P (koff·DP·V),
    ``protein_synthesis`` ∅ → P (kdeg_P·P0·V), ``protein_degradation`` P → ∅ (kdeg_P·P·V),
    ``complex_degradation`` DP → D (kdeg_P·DP·V: the protein is degraded, the drug released)::

        dD/dt  = host(D) − kon·D·P + koff·DP + kdeg_P·DP
        dP/dt  = kdeg_P·P0 − kdeg_P·P − kon·D·P + koff·DP
        dDP/dt = kon·D·P − koff·DP − kdeg_P·DP                  (concentrations)

    so total protein P + DP obeys d(Ptot)/dt = kdeg_P·(P0 − Ptot) whatever the drug does.

    ``form="rapid_equilibrium"`` — binding is instantaneous; the drug species holds *total*
    drug Ctot. Creates species ``Ptot`` (total protein, starts at P0; reactions
    ``protein_synthesis``, ``protein_degradation``: dPtot/dt = kdeg_P·(P0 − Ptot)) and the
    free concentration of the quadratic equilibrium (Ctot = C + Ptot·C/(KD + C))::

        C = ½·[(Ctot − Ptot − KD) + √((Ctot − Ptot − KD)² + 4·KD·Ctot)]

    Every use of the drug in ``host`` is rewritten to C, so host clearances are clearances of
    *unbound* drug (CLu) in both forms. At low drug, fu → KD/(KD + Ptot).

    Observables (both forms): ``drug_free`` C, ``drug_total`` Ctot, ``drug_bound``,
    ``fu`` = C/Ctot (its limit KD/(KD + P) when there is no drug). Roles: ``drug``, ``free``
    (the free-concentration expression, for effects), ``KD``, ``koff``, ``kon``, ``P0``, ``kdeg_P``.

    ``host``: the model whose reactions act on the drug (e.g. the disposition block); the
    returned block's model is that host with binding added (use it *instead of* the host).
    Without a host only the binding fragment is returned.

    Sources: Wilkinson GR, Shand DG. A physiological approach to hepatic drug clearance.
    Clin Pharmacol Ther 1975;18:377-390 (free-drug hypothesis); Schmidt S, Gonzalez D,
    Derendorf H. Significance of protein binding in pharmacokinetics and pharmacodynamics.
    J Pharm Sci 2010;99:1107-1122.

    Example:
        >>> import qsp
        >>> pk = qsp.blocks.one_compartment(CL=1.0, V=5.0)
        >>> pb = qsp.blocks.protein_binding(pk["Ac"], host=pk, form="rapid_equilibrium")
        >>> [s.name for s in pb.model.species], pb.model.reactions[0].name
        (['Ac', 'Ptot'], 'elimination')
        >>> sorted(pb.model.observables)
        ['C', 'drug_bound', 'drug_free', 'drug_total', 'fu']
    """
    b = Builder("protein_binding", prefix)
    if form not in FORMS:
        raise ModelError(f"protein_binding: form={form!r}; choose one of {FORMS}.")
    D = b.keep("drug", as_species(drug, b.kind, "drug"))
    host = host_model(host, D, b.kind)
    conc = concentration_unit(D, "umol/L")
    KD = b.quantity("KD", KD, conc, "dissociation constant of drug-protein binding")
    koff = b.quantity("koff", koff, "1/h", "dissociation rate constant")
    kon = b.keep("kon", koff / KD, "")
    P0 = b.quantity("P0", P0, conc, "binding protein concentration at steady state")
    kdeg_P = b.quantity("kdeg_P", kdeg_P, "1/h", "binding protein degradation rate constant")
    site = D.compartment
    observables: dict = {}
    if form == "explicit":
        P = b.species("P", site, initial_concentration=P0, unit=amount_unit(D), description="free binding protein")
        DP = b.species("DP", site, unit=amount_unit(D), description="drug-protein complex")
        reactions = [
            Reaction([D, P], [DP], rate=kon * D * P * site, name=b.full("binding")),
            Reaction([DP], [D, P], rate=koff * DP * site, name=b.full("unbinding")),
            Reaction([], [P], rate=kdeg_P * P0 * site, name=b.full("protein_synthesis")),
            Reaction([P], [], rate=kdeg_P * P * site, name=b.full("protein_degradation")),
            Reaction([DP], [D], rate=kdeg_P * DP * site, name=b.full("complex_degradation")),
        ]
        free, total = D, D + DP
        # fu = C/Ctot is 0/0 without drug: there it is the limit KD/(KD + P). The denominator
        # is guarded too (by KD, a concentration like Ctot) so that neither branch is ever NaN
        # (jnp.where passes NaN from the branch not taken into gradients).
        positive = total > 0
        fu = sp.Piecewise((free / sp.Piecewise((total, positive), (KD, True)), positive), (KD / (KD + P), True))
    else:
        Ptot = b.species("Ptot", site, initial_concentration=P0, unit=amount_unit(D),
                         description="total binding protein")
        reactions = [
            Reaction([], [Ptot], rate=kdeg_P * P0 * site, name=b.full("protein_synthesis")),
            Reaction([Ptot], [], rate=kdeg_P * Ptot * site, name=b.full("protein_degradation")),
        ]
        free, total, fu = free_concentration(D, Ptot, KD), D, free_fraction(D, Ptot, KD)
        host = with_free_drug(host, D, free)
    b.keep("free", free, "")
    b.observe(observables, "drug_free", free)
    b.observe(observables, "drug_total", total)
    b.observe(observables, "drug_bound", total - free)
    b.observe(observables, "fu", fu)
    return merged(b.block(reactions, observables, species=[D]), host)
