"""Compartmental disposition: 1, 2 and 3 compartments, by clearances or by micro-constants.

Every disposition block creates a ``central`` compartment holding the drug amount ``Ac``
(in expressions ``Ac`` means the concentration ``Ac / V``), peripheral compartments
``peripheral`` (``Ap``) and ``peripheral2`` (``Ap2``), the exchange reactions, linear
elimination from the central compartment, and the observables ``C`` (central
concentration) and ``Cp``/``Cp2`` (peripheral concentrations). Amounts are in
``amount_unit`` (default ``"mg"``; ``"nmol"`` for binding and TMDD, ``None`` for no unit),
volumes in L, time in h; the blocks composed onto the drug read its unit and give their
own parameters matching units.

The clearance form (CL, V1, Q, V2, ...) is the physiological parameterisation of NONMEM's
ADVAN1/3/11 with TRANS2/4; the micro-constant form (k10, k12, k21, ...) is TRANS1. They are
the same model: ``k10 = CL/V1``, ``k12 = Q/V1``, ``k21 = Q/V2``. Reference: Gibaldi M,
Perrier D. *Pharmacokinetics*, 2nd ed. Marcel Dekker, 1982, chapters 1-2.
"""

from __future__ import annotations

from ..model import Reaction
from ._block import Block, Builder

_AMOUNT = "mg"


def _disposition(b: Builder, CL, central_volume, peripherals) -> Block:
    """Build a central compartment with linear exchange to each (Q, volume) in ``peripherals``."""
    central = b.compartment("central", central_volume, description="central (plasma) compartment")
    Ac = b.species("Ac", central, unit=b.amount_unit, description="drug amount in the central compartment")
    reactions, observables = [], {}
    b.observe(observables, "C", Ac)
    if CL is not None:
        reactions.append(Reaction([Ac], [], rate=CL * Ac, name=b.full("elimination")))
    for i, (Q, volume) in enumerate(peripherals):
        suffix = "" if i == 0 else str(i + 1)
        periph = b.compartment(f"peripheral{suffix}", volume, description="peripheral compartment")
        Ap = b.species(f"Ap{suffix}", periph, unit=b.amount_unit, description="drug amount in a peripheral compartment")
        reactions.append(Reaction([Ac], [Ap], rate=Q * Ac, name=b.full(f"distribution{suffix}")))
        reactions.append(Reaction([Ap], [Ac], rate=Q * Ap, name=b.full(f"redistribution{suffix}")))
        b.observe(observables, f"Cp{suffix}", Ap)
    return b.block(reactions, observables)


def _clearance(b: Builder, CL):
    return b.quantity("CL", CL, "L/h", "clearance from the central compartment", optional=True)


def one_compartment(CL=3.0, V=30.0, *, amount_unit: str | None = "mg",
                    prefix: str | None = None) -> Block:
    """One-compartment disposition with linear elimination (CL, V).

    Creates:
        compartment ``central`` (volume V); species ``Ac`` (amount, mg);
        reaction ``elimination``: Ac → ∅ at rate CL·C;
        parameters ``CL`` [L/h], ``V`` [L]; observable ``C`` = Ac/V [mg/L].

    ODE: dAc/dt = −CL·Ac/V. After a bolus D: C(t) = D/V·exp(−CL/V·t).

    ``CL=None`` leaves elimination out (compose :func:`michaelis_menten_elimination` instead).
    Source: Gibaldi & Perrier, *Pharmacokinetics* (1982), ch. 1.

    Example:
        >>> import qsp
        >>> pk = qsp.blocks.one_compartment(CL=2.0, V=20.0)
        >>> pk.model.reactions[0]
        Reaction(elimination: Ac -> ∅, rate=CL*Ac)
        >>> sorted(pk.model.symbols), list(pk.model.observables)
        (['Ac', 'CL', 'V', 'central'], ['C'])
    """
    b = Builder("one_compartment", prefix, amount_unit=amount_unit)
    CL = _clearance(b, CL)
    V = b.quantity("V", V, "L", "central volume of distribution")
    return _disposition(b, CL, V, [])


def two_compartment(CL=3.0, V1=30.0, Q=5.0, V2=50.0, *, amount_unit: str | None = "mg",
                    prefix: str | None = None) -> Block:
    """Two-compartment disposition, clearance parameterisation (CL, V1, Q, V2).

    Creates:
        compartments ``central`` (V1), ``peripheral`` (V2); species ``Ac``, ``Ap``;
        reactions ``elimination`` Ac → ∅ (CL·C), ``distribution`` Ac → Ap (Q·C),
        ``redistribution`` Ap → Ac (Q·Cp);
        parameters ``CL`` [L/h], ``V1`` [L], ``Q`` [L/h], ``V2`` [L];
        observables ``C`` = Ac/V1, ``Cp`` = Ap/V2.

    ODEs::

        dAc/dt = −(CL + Q)·Ac/V1 + Q·Ap/V2
        dAp/dt =  Q·Ac/V1 − Q·Ap/V2

    Source: Gibaldi & Perrier (1982), ch. 2; NONMEM ADVAN3 TRANS4.

    Example:
        >>> import qsp
        >>> pk = qsp.blocks.two_compartment()
        >>> [r.name for r in pk.model.reactions]
        ['elimination', 'distribution', 'redistribution']
        >>> list(pk.model.observables)
        ['C', 'Cp']
    """
    b = Builder("two_compartment", prefix, amount_unit=amount_unit)
    CL = _clearance(b, CL)
    V1 = b.quantity("V1", V1, "L", "central volume")
    Q = b.quantity("Q", Q, "L/h", "inter-compartmental clearance")
    V2 = b.quantity("V2", V2, "L", "peripheral volume")
    return _disposition(b, CL, V1, [(Q, V2)])


def three_compartment(CL=3.0, V1=30.0, Q2=5.0, V2=50.0, Q3=1.0, V3=100.0, *, amount_unit: str | None = "mg",
                    prefix: str | None = None) -> Block:
    """Three-compartment disposition, clearance parameterisation (CL, V1, Q2, V2, Q3, V3).

    Creates:
        compartments ``central`` (V1), ``peripheral`` (V2), ``peripheral2`` (V3);
        species ``Ac``, ``Ap``, ``Ap2``;
        reactions ``elimination`` (CL·C), ``distribution``/``redistribution`` (Q2),
        ``distribution2``/``redistribution2`` (Q3);
        parameters ``CL``, ``V1``, ``Q2``, ``V2``, ``Q3``, ``V3``;
        observables ``C``, ``Cp``, ``Cp2``.

    ODEs::

        dAc/dt  = −(CL + Q2 + Q3)·Ac/V1 + Q2·Ap/V2 + Q3·Ap2/V3
        dAp/dt  =  Q2·Ac/V1 − Q2·Ap/V2
        dAp2/dt =  Q3·Ac/V1 − Q3·Ap2/V3

    Source: Gibaldi & Perrier (1982), ch. 2; NONMEM ADVAN11 TRANS4.

    Example:
        >>> import qsp
        >>> pk = qsp.blocks.three_compartment()
        >>> [s.name for s in pk.model.species]
        ['Ac', 'Ap', 'Ap2']
    """
    b = Builder("three_compartment", prefix, amount_unit=amount_unit)
    CL = _clearance(b, CL)
    V1 = b.quantity("V1", V1, "L", "central volume")
    Q2 = b.quantity("Q2", Q2, "L/h", "inter-compartmental clearance to the first peripheral compartment")
    V2 = b.quantity("V2", V2, "L", "first peripheral volume")
    Q3 = b.quantity("Q3", Q3, "L/h", "inter-compartmental clearance to the second peripheral compartment")
    V3 = b.quantity("V3", V3, "L", "second peripheral volume")
    return _disposition(b, CL, V1, [(Q2, V2), (Q3, V3)])


def _micro(b: Builder, V1, k10, pairs) -> Block:
    """Micro-constant form: CL = k10·V1, Q = k12·V1 and peripheral volume V1·k12/k21.

    The peripheral volume is not identifiable from micro-constants alone; choosing
    ``V1·k12/k21`` makes the inter-compartmental clearance symmetric (Q = k12·V1 = k21·V2),
    so the amounts obey the textbook micro-constant ODEs and ``Cp`` is a true concentration.
    """
    peripherals = [(k12 * V1, V1 * k12 / k21) for k12, k21 in pairs]
    return _disposition(b, None if k10 is None else k10 * V1, V1, peripherals)


def one_compartment_micro(k10=0.1, V=30.0, *, amount_unit: str | None = "mg",
                    prefix: str | None = None) -> Block:
    """One-compartment disposition, micro-constant parameterisation (k10, V).

    Creates: as :func:`one_compartment`, with parameters ``k10`` [1/h] and ``V`` [L];
    reaction ``elimination`` at rate k10·V·C (= k10·Ac).

    ODE: dAc/dt = −k10·Ac. Source: Gibaldi & Perrier (1982), ch. 1; NONMEM ADVAN1 TRANS1.

    Example:
        >>> import qsp
        >>> qsp.blocks.one_compartment_micro(k10=0.2).model.reactions[0].rate
        V*k10*Ac
    """
    b = Builder("one_compartment_micro", prefix, amount_unit=amount_unit)
    k10 = b.quantity("k10", k10, "1/h", "elimination rate constant", optional=True)
    V = b.quantity("V", V, "L", "central volume of distribution")
    return _micro(b, V, k10, [])


def two_compartment_micro(k10=0.1, k12=0.2, k21=0.1, V1=30.0, *, amount_unit: str | None = "mg",
                    prefix: str | None = None) -> Block:
    """Two-compartment disposition, micro-constants (k10, k12, k21, V1).

    Creates: as :func:`two_compartment`, with parameters ``k10``, ``k12``, ``k21`` [1/h]
    and ``V1`` [L]; the peripheral volume is the expression V1·k12/k21 (so that
    Q = k12·V1 = k21·V2); reactions at rates k10·Ac, k12·Ac and k21·Ap (amounts).

    ODEs::

        dAc/dt = −(k10 + k12)·Ac + k21·Ap
        dAp/dt =  k12·Ac − k21·Ap

    Source: Gibaldi & Perrier (1982), ch. 2; NONMEM ADVAN3 TRANS1.

    Example:
        >>> import qsp
        >>> pk = qsp.blocks.two_compartment_micro()
        >>> pk["peripheral"].volume
        V1*k12/k21
    """
    b = Builder("two_compartment_micro", prefix, amount_unit=amount_unit)
    k10 = b.quantity("k10", k10, "1/h", "elimination rate constant", optional=True)
    k12 = b.quantity("k12", k12, "1/h", "central to peripheral rate constant")
    k21 = b.quantity("k21", k21, "1/h", "peripheral to central rate constant")
    V1 = b.quantity("V1", V1, "L", "central volume")
    return _micro(b, V1, k10, [(k12, k21)])


def three_compartment_micro(k10=0.1, k12=0.2, k21=0.1, k13=0.05, k31=0.01, V1=30.0, *,
                            amount_unit: str | None = "mg", prefix: str | None = None) -> Block:
    """Three-compartment disposition, micro-constants (k10, k12, k21, k13, k31, V1).

    Creates: as :func:`three_compartment`, with parameters ``k10``, ``k12``, ``k21``,
    ``k13``, ``k31`` [1/h] and ``V1`` [L]; peripheral volumes V1·k12/k21 and V1·k13/k31.

    ODEs::

        dAc/dt  = −(k10 + k12 + k13)·Ac + k21·Ap + k31·Ap2
        dAp/dt  =  k12·Ac − k21·Ap
        dAp2/dt =  k13·Ac − k31·Ap2

    Source: Gibaldi & Perrier (1982), ch. 2; NONMEM ADVAN11 TRANS1.

    Example:
        >>> import qsp
        >>> sorted(p.name for p in qsp.blocks.three_compartment_micro().model.parameters)
        ['V1', 'k10', 'k12', 'k13', 'k21', 'k31']
    """
    b = Builder("three_compartment_micro", prefix, amount_unit=amount_unit)
    k10 = b.quantity("k10", k10, "1/h", "elimination rate constant", optional=True)
    k12 = b.quantity("k12", k12, "1/h", "central to first peripheral rate constant")
    k21 = b.quantity("k21", k21, "1/h", "first peripheral to central rate constant")
    k13 = b.quantity("k13", k13, "1/h", "central to second peripheral rate constant")
    k31 = b.quantity("k31", k31, "1/h", "second peripheral to central rate constant")
    V1 = b.quantity("V1", V1, "L", "central volume")
    return _micro(b, V1, k10, [(k12, k21), (k13, k31)])
