"""Turnover (zero-order production, first-order loss) and the four Jusko indirect-response models.

A response R (a biomarker, a cell count, a hormone) is made at rate kin and lost at rate
kout·R, so it rests at the baseline R0 = kin/kout. A drug acts *indirectly* by inhibiting or
stimulating either process, which delays the response behind the concentration.
The response is a species in its own unit-volume compartment ``response``, so that other
blocks can use it like any species.
"""

from __future__ import annotations


from ..errors import ModelError
from ..model import Reaction
from ._block import Block, Builder, as_expression_arg, concentration_unit


def turnover(kin=10.0, kout=0.1, *, production=None, loss=None, name: str = "R",
             prefix: str | None = None) -> Block:
    """A quantity with zero-order production and first-order loss, starting at baseline.

    Creates compartment ``response`` (volume 1); species ``R`` (named ``name``; role ``R``)
    starting at R0 = kin/kout; reactions ``production`` (kin·production) and ``loss``
    (kout·loss·R); parameters ``kin`` [response unit/h, left without a unit], ``kout`` [1/h]; role ``R0`` (kin/kout)::

        dR/dt = kin · production(t) − kout · loss(t) · R

    ``production`` and ``loss`` are optional multipliers (expressions; default 1): a drug
    effect, a circadian rhythm. Without them R stays at R0 = kin/kout.
    Source: Jusko WJ, Ko HC. Physiologic indirect response models characterize diverse types
    of pharmacodynamic effects. Clin Pharmacol Ther 1994;56:406-419.

    Example:
        >>> import qsp
        >>> t = qsp.blocks.turnover(kin=4.0, kout=0.2)
        >>> t["R0"], t["R"].initial_concentration
        (kin/kout, kin/kout)
    """
    b = Builder("turnover", prefix)
    kin = b.quantity("kin", kin, None, "zero-order production rate (response units per hour)")
    kout = b.quantity("kout", kout, "1/h", "first-order loss rate constant")
    R0 = b.keep("R0", kin / kout, "")
    up = 1 if production is None else as_expression_arg(production, b.kind, "production")
    down = 1 if loss is None else as_expression_arg(loss, b.kind, "loss")
    site = b.compartment("response", 1.0, unit=None, description="response (unit volume)")
    if not isinstance(name, str) or not name.isidentifier():
        raise ModelError(f"turnover: name={name!r} is not a valid identifier.")
    R = b.species(name, site, initial_concentration=R0, description="turnover response")
    b.handles["R"] = b.handles.pop(name)
    b.names["R"] = b.names.pop(name)
    return b.block([
        Reaction([], [R], rate=kin * up * site, name=b.full("production")),
        Reaction([R], [], rate=kout * down * R * site, name=b.full("loss")),
    ])


#: The four models by number (Dayneka 1993) and by name.
INDIRECT_KINDS = {1: "inhibit_production", 2: "inhibit_loss", 3: "stimulate_production", 4: "stimulate_loss"}


def indirect_response(concentration, kind=1, kin=10.0, kout=0.1, *, Imax=None, IC50=None, Smax=None,
                      SC50=None, hill=None, name: str = "R", prefix: str | None = None) -> Block:
    """One of the four basic indirect-response models, driven by ``concentration``.

    ``kind`` (number or name) picks the process the drug acts on, with
    I(C) = Imax·C^h/(IC50^h + C^h) (0 ≤ Imax ≤ 1) and S(C) = Smax·C^h/(SC50^h + C^h)::

        1 inhibit_production:   dR/dt = kin·(1 − I(C)) − kout·R
        2 inhibit_loss:         dR/dt = kin − kout·(1 − I(C))·R
        3 stimulate_production: dR/dt = kin·(1 + S(C)) − kout·R
        4 stimulate_loss:       dR/dt = kin − kout·(1 + S(C))·R

    Creates what :func:`turnover` creates (species ``R`` at R0 = kin/kout, reactions
    ``production`` and ``loss``), plus parameters ``Imax`` (default 1) and ``IC50``
    (default 1) for kinds 1-2, or ``Smax`` (default 1) and ``SC50`` (default 1) for 3-4,
    in the concentration's unit; ``hill`` only when given (h = 1 otherwise). Roles add
    ``drug_effect`` (the expression I(C) or S(C)).
    Source: Dayneka NL, Garg V, Jusko WJ. Comparison of four basic models of indirect
    pharmacodynamic responses. J Pharmacokinet Biopharm 1993;21:457-478.

    Example:
        >>> import qsp
        >>> pk = qsp.blocks.one_compartment()
        >>> idr = qsp.blocks.indirect_response(pk["Ac"], kind="inhibit_production", Imax=0.9, IC50=2.0)
        >>> idr.model.reactions[0].rate
        response*kin*(-Imax*Ac/(IC50 + Ac) + 1)
    """
    b = Builder("indirect_response", prefix)
    C = as_expression_arg(concentration, b.kind, "concentration")
    kind = INDIRECT_KINDS.get(kind, kind)
    if kind not in INDIRECT_KINDS.values():
        raise ModelError(f"indirect_response: kind={kind!r}; choose 1-4 or one of {list(INDIRECT_KINDS.values())}.")
    inhibit = kind.startswith("inhibit")
    if inhibit and (Smax is not None or SC50 is not None):
        raise ModelError(f"indirect_response: kind {kind!r} is inhibitory; give Imax and IC50, not Smax/SC50.")
    if not inhibit and (Imax is not None or IC50 is not None):
        raise ModelError(f"indirect_response: kind {kind!r} is stimulatory; give Smax and SC50, not Imax/IC50.")
    if inhibit:
        top = b.quantity("Imax", 1.0 if Imax is None else Imax, "1", "maximal fractional inhibition", bounds=(0.0, 1.0))
        c50 = b.quantity("IC50", 1.0 if IC50 is None else IC50, concentration_unit(C),
                         "concentration of half-maximal inhibition")
    else:
        top = b.quantity("Smax", 1.0 if Smax is None else Smax, "1", "maximal fractional stimulation")
        c50 = b.quantity("SC50", 1.0 if SC50 is None else SC50, concentration_unit(C),
                         "concentration of half-maximal stimulation")
    h = b.quantity("hill", hill, "1", "Hill coefficient (steepness)", optional=True)
    effect = top * C / (c50 + C) if h is None else top * C ** h / (c50 ** h + C ** h)
    b.keep("drug_effect", effect, "")
    factor = 1 - effect if inhibit else 1 + effect
    on_production = kind.endswith("production")
    inner = turnover(kin, kout, production=factor if on_production else None,
                     loss=None if on_production else factor, name=name, prefix=prefix)
    handles = {**inner.handles, **b.handles}
    names = {**inner.names, **b.names}
    return Block(inner.model.extended(parameters=b.created,
                                      name=b.full("indirect_response")), handles, names)
