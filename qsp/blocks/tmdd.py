"""Target-mediated drug disposition with target turnover: the full Mager-Jusko model and its
quasi-equilibrium, quasi-steady-state and Michaelis-Menten approximations behind one call.

The approximations are chosen by ``approximation=`` and keep the same parameters and the
same observable names (``drug_free``, ``drug_total``, ``target_free``, ``target_total``,
``complex``, ``occupancy``), so a model can be rebuilt under another assumption and the
two compared on equal terms (the assumption audit).
"""

from __future__ import annotations

from ..errors import ModelError
from ..model import Model, Reaction
from ._block import Block, Builder, amount_unit, as_species, concentration_unit
from ._equilibrium import free_concentration, host_model, merged, with_free_drug

#: Accepted spellings of each approximation.
APPROXIMATIONS = {
    "full": "full", "mager_jusko": "full",
    "qe": "qe", "quasi_equilibrium": "qe", "rapid_binding": "qe",
    "qss": "qss", "quasi_steady_state": "qss",
    "mm": "mm", "michaelis_menten": "mm",
}


def tmdd(drug, *, host: Model | Block | None = None, approximation: str = "full", kon=0.5, koff=0.05,
         kint=0.1, ksyn=0.2, kdeg=0.2, prefix: str | None = None) -> Block:
    """Target-mediated drug disposition of ``drug`` with target turnover.

    Parameters (declared in every approximation; units shown for a drug in nmol and L, they
    follow the drug species' unit):
    ``kon`` [L/nmol/h] association, ``koff`` [1/h] dissociation, ``kint`` [1/h]
    internalisation of the complex, ``ksyn`` [nmol/L/h] target synthesis, ``kdeg`` [1/h]
    free-target degradation. The target starts at its baseline R0 = ksyn/kdeg. Derived:
    KD = koff/kon, KSS = (koff + kint)/kon.

    Species live in the drug's compartment (volume V); in the ODEs below L, R, RL are
    concentrations and ``host(L)`` stands for the host's own processes (elimination,
    distribution, dosing), which always act on *free* drug.

    ``"full"`` (Mager & Jusko 2001) — the drug species is free drug L. Creates species ``R``
    (free target) and ``RL`` (complex); reactions ``binding`` (kon·L·R·V), ``unbinding``
    (koff·RL·V), ``target_synthesis`` (ksyn·V), ``target_degradation`` (kdeg·R·V),
    ``internalisation`` (kint·RL·V)::

        dL/dt  = host(L) − kon·L·R + koff·RL
        dR/dt  = ksyn − kdeg·R − kon·L·R + koff·RL
        dRL/dt = kon·L·R − koff·RL − kint·RL

    ``"qss"`` (Gibiansky et al. 2008) and ``"qe"`` (Mager & Krzyzanski 2005) — binding is
    fast: the drug species holds total drug Ltot; creates species ``Rtot`` (total target)
    and reactions ``target_synthesis`` (ksyn·V), ``target_degradation`` (kdeg·(Rtot − RL)·V),
    ``internalisation`` Ltot + Rtot → ∅ (kint·RL·V), with RL = Rtot·L/(K + L) and the free
    drug L from the quadratic (K = KSS for QSS, KD for QE)::

        L      = ½·[(Ltot − Rtot − K) + √((Ltot − Rtot − K)² + 4·K·Ltot)]
        dLtot/dt = host(L) − kint·Rtot·L/(K + L)
        dRtot/dt = ksyn − kdeg·Rtot − (kint − kdeg)·Rtot·L/(K + L)

    Every use of the drug in ``host`` is rewritten to the free L.

    ``"mm"`` (Gibiansky et al. 2008, Michaelis-Menten approximation) — target constant at
    Rtot = R0, drug in excess: the drug species is free drug; creates reaction
    ``target_elimination`` (kint·R0·L/(KSS + L)·V) and no species::

        dL/dt = host(L) − kint·R0·L/(KSS + L)

    Validity (Gibiansky 2008; Peletier & Gabrielsson 2012): QSS needs binding fast relative
    to the other processes (kon·R0 and koff ≫ kint, kdeg, kel); QE in addition
    kint ≪ koff (KSS ≈ KD); MM needs drug in excess of target (Ltot ≫ Rtot).

    Observables (same names in every approximation): ``drug_free`` L, ``drug_total``
    L + RL, ``target_free`` R, ``target_total`` R + RL, ``complex`` RL, ``occupancy``
    RL/(R + RL). Roles: ``drug``, ``free`` (the free-drug expression, for effects), the
    parameters, ``R0``, ``KD``, ``KSS``, and the created species.

    ``host``: the model whose reactions act on the drug (e.g. the disposition block); the
    block's model is then the host with TMDD added — use it *instead of* the host.

    Sources: Mager DE, Jusko WJ. General pharmacokinetic model for drugs exhibiting
    target-mediated drug disposition. J Pharmacokinet Pharmacodyn 2001;28:507-532.
    Mager DE, Krzyzanski W. Quasi-equilibrium pharmacokinetic model for drugs exhibiting
    target-mediated drug disposition. Pharm Res 2005;22:1589-1596.
    Gibiansky L, Gibiansky E, Kakkar T, Ma P. Approximations of the target-mediated drug
    disposition model and identifiability of model parameters. J Pharmacokinet Pharmacodyn
    2008;35:573-591.

    Example:
        >>> import qsp
        >>> pk = qsp.blocks.two_compartment(CL=0.2, V1=3.0, Q=0.5, V2=2.5)
        >>> full = qsp.blocks.tmdd(pk["Ac"], host=pk, approximation="full")
        >>> qss = qsp.blocks.tmdd(pk["Ac"], host=pk, approximation="qss")
        >>> [s.name for s in full.model.species], [s.name for s in qss.model.species]
        (['Ac', 'Ap', 'R', 'RL'], ['Ac', 'Ap', 'Rtot'])
        >>> sorted(full.model.observables) == sorted(qss.model.observables)
        True
    """
    b = Builder("tmdd", prefix)
    try:
        kind = APPROXIMATIONS[approximation]
    except (KeyError, TypeError):
        raise ModelError(f"tmdd: approximation={approximation!r}; choose one of "
                         f"'full', 'qe', 'qss', 'mm' (or {sorted(set(APPROXIMATIONS) - set(APPROXIMATIONS.values()))})."
                         ) from None
    L = b.keep("drug", as_species(drug, b.kind, "drug"))
    host = host_model(host, L, b.kind)
    conc = concentration_unit(L, "nmol/L")
    kon = b.quantity("kon", kon, f"1/(({conc})*h)", "association rate constant")
    koff = b.quantity("koff", koff, "1/h", "dissociation rate constant")
    kint = b.quantity("kint", kint, "1/h", "internalisation rate constant of the complex")
    ksyn = b.quantity("ksyn", ksyn, f"({conc})/h", "target synthesis rate")
    kdeg = b.quantity("kdeg", kdeg, "1/h", "free target degradation rate constant")
    R0 = b.keep("R0", ksyn / kdeg, "")
    KD = b.keep("KD", koff / kon, "")
    KSS = b.keep("KSS", (koff + kint) / kon, "")
    V = L.compartment
    n = b.full
    if kind == "full":
        R = b.species("R", V, initial_concentration=R0, unit=amount_unit(L), description="free target")
        RL = b.species("RL", V, unit=amount_unit(L), description="drug-target complex")
        reactions = [
            Reaction([L, R], [RL], rate=kon * L * R * V, name=n("binding")),
            Reaction([RL], [L, R], rate=koff * RL * V, name=n("unbinding")),
            Reaction([], [R], rate=ksyn * V, name=n("target_synthesis")),
            Reaction([R], [], rate=kdeg * R * V, name=n("target_degradation")),
            Reaction([RL], [], rate=kint * RL * V, name=n("internalisation")),
        ]
        free, total, complex_, target_total = L, L + RL, RL, R + RL
    elif kind in ("qss", "qe"):
        K = KSS if kind == "qss" else KD
        Rtot = b.species("Rtot", V, initial_concentration=R0, unit=amount_unit(L),
                         description="total target (free + bound)")
        free = free_concentration(L, Rtot, K)
        total, complex_, target_total = L, Rtot * free / (K + free), Rtot
        reactions = [
            Reaction([], [Rtot], rate=ksyn * V, name=n("target_synthesis")),
            Reaction([Rtot], [], rate=kdeg * (Rtot - complex_) * V, name=n("target_degradation")),
            Reaction([L, Rtot], [], rate=kint * complex_ * V, name=n("internalisation")),
        ]
        host = with_free_drug(host, L, free)
    else:  # mm: constant target, drug in excess
        free, target_total = L, R0
        complex_ = R0 * L / (KSS + L)
        total = L + complex_
        reactions = [Reaction([L], [], rate=kint * complex_ * V, name=n("target_elimination"))]
    b.keep("free", free, "")
    observables: dict = {}
    b.observe(observables, "drug_free", free)
    b.observe(observables, "drug_total", total)
    b.observe(observables, "target_free", target_total - complex_)
    b.observe(observables, "target_total", target_total)
    b.observe(observables, "complex", complex_)
    b.observe(observables, "occupancy", complex_ / target_total)
    return merged(b.block(reactions, observables, species=[L]), host)
