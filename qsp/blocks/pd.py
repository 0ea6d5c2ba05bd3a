"""Pharmacodynamics: Emax and sigmoid Emax (Hill) effects, the effect compartment, and a
therapeutic-window observable (hard and smooth).

Effects are expressions (observables), so they cost nothing to integrate and can be used
in any rate law; the effect compartment is a state (a species in a unit-volume compartment).
"""

from __future__ import annotations

import sympy as sp

from ..errors import ModelError
from ..model import Reaction
from ._block import Block, Builder, as_expression_arg, concentration_unit


def emax(concentration, *, E0=0.0, Emax=1.0, EC50=1.0, hill=None, kind: str = "stimulation",
         prefix: str | None = None) -> Block:
    """Emax (hyperbolic) or sigmoid Emax (Hill) effect of ``concentration``.

    ::

        stimulation:  E = E0 + Emax · C^h / (EC50^h + C^h)
        inhibition:   E = E0 − Emax · C^h / (EC50^h + C^h)      (e.g. Emax = E0 for full inhibition)

    with h = 1 unless ``hill`` is given (then a parameter ``hill``). At C = EC50 the effect
    is E0 ± Emax/2 for every h; h sets the steepness (10 % to 90 % of Emax spans a factor
    81^(1/h) in concentration).

    Creates parameters ``E0``, ``Emax``, ``EC50`` (the concentration's unit) and optionally
    ``hill``; role and observable ``E``. No species or reactions.
    Sources: Holford NHG, Sheiner LB. Understanding the dose-effect relationship. Clin
    Pharmacokinet 1981;6:429-453; Hill AV. J Physiol 1910;40:iv-vii.

    Example:
        >>> import qsp
        >>> pk = qsp.blocks.one_compartment()
        >>> qsp.blocks.emax(pk["Ac"], Emax=100.0, EC50=2.0, hill=2.0)["E"]
        E0 + Emax*Ac**hill/(EC50**hill + Ac**hill)
    """
    b = Builder("emax", prefix)
    C = as_expression_arg(concentration, b.kind, "concentration")
    if kind not in ("stimulation", "inhibition"):
        raise ModelError(f"emax: kind={kind!r}; choose 'stimulation' or 'inhibition'.")
    E0 = b.quantity("E0", E0, None, "baseline effect", bounds=None)
    top = b.quantity("Emax", Emax, None, "maximal effect (above or below baseline)")
    c50 = b.quantity("EC50", EC50, concentration_unit(C), "concentration of half-maximal effect")
    h = b.quantity("hill", hill, "1", "Hill coefficient (steepness)", optional=True)
    fraction = C / (c50 + C) if h is None else C ** h / (c50 ** h + C ** h)
    observables: dict = {}
    b.observe(observables, "E", E0 + top * fraction if kind == "stimulation" else E0 - top * fraction)
    return b.block(observables=observables)


def effect_compartment(concentration, ke0=0.5, *, prefix: str | None = None) -> Block:
    """An effect compartment (biophase) that lags the plasma concentration by a first-order link.

    Creates compartment ``effect_site`` (volume 1, a hypothetical compartment that takes no
    drug from plasma); species ``Ce`` (the effect-site concentration, in the concentration's
    unit, starting at 0); reactions ``effect_equilibration`` ∅ → Ce (ke0·C) and ``effect_loss``
    Ce → ∅ (ke0·Ce); parameter ``ke0`` [1/h]::

        dCe/dt = ke0 · (C − Ce)

    At steady state Ce = C; the equilibration half-life is ln 2/ke0. Drive an effect with
    ``emax(ec["Ce"], ...)``.
    Source: Sheiner LB, Stanski DR, Vozeh S, Miller RD, Ham J. Simultaneous modeling of
    pharmacokinetics and pharmacodynamics: application to d-tubocurarine. Clin Pharmacol Ther
    1979;25:358-371.

    Example:
        >>> import qsp
        >>> pk = qsp.blocks.one_compartment()
        >>> ec = qsp.blocks.effect_compartment(pk["Ac"], ke0=0.3)
        >>> [r.rate for r in ec.model.reactions]
        [effect_site*ke0*Ac, effect_site*ke0*Ce]
    """
    b = Builder("effect_compartment", prefix)
    C = as_expression_arg(concentration, b.kind, "concentration")
    ke0 = b.quantity("ke0", ke0, "1/h", "effect-site equilibration rate constant")
    site = b.compartment("effect_site", 1.0, description="hypothetical effect compartment")
    Ce = b.species("Ce", site, unit=concentration_unit(C), description="effect-site concentration")
    return b.block([
        Reaction([], [Ce], rate=ke0 * C * site, name=b.full("effect_equilibration")),
        Reaction([Ce], [], rate=ke0 * Ce * site, name=b.full("effect_loss")),
    ])


def _sigmoid(x):
    # logistic 1/(1 + e^-x) written with tanh: saturates without overflow, so its gradient
    # is never inf/inf far outside the window
    return (1 + sp.tanh(x / 2)) / 2


def therapeutic_window(concentration, lower=1.0, upper=4.0, *, width=0.05, accumulate: bool = True,
                       prefix: str | None = None) -> Block:
    """Where a concentration lies relative to a therapeutic window [lower, upper].

    Observables (hard, for reporting)::

        window_position = −1 below, 0 inside, +1 above
        below, inside, above = indicator 0/1 of each region

    and smooth, differentiable versions (for gradient-based dose optimisation), with
    σ(x) = 1/(1 + e^−x) and transitions ``width`` wide relative to each bound::

        inside_smooth = σ((C − lower)/(width·lower)) · σ((upper − C)/(width·upper))
        below_smooth  = 1 − σ((C − lower)/(width·lower))
        above_smooth  = 1 − σ((upper − C)/(width·upper))

    At a bound the smooth indicator is exactly ½; as width → 0 it tends to the hard one.
    With ``accumulate=True`` (default) it also creates compartment ``window_clock`` and
    species ``time_below``, ``time_inside``, ``time_above`` integrating the smooth indicators
    (reactions ``accumulate_below``... at those rates), so ``sol.amount("time_inside")[-1]``
    is the (smooth) time spent in the window: a differentiable objective.

    Creates parameters ``lower``, ``upper`` (the concentration's unit) and ``window_width``.
    Source: the therapeutic range of TDM practice, e.g. Rybak MJ et al. Therapeutic
    monitoring of vancomycin for serious MRSA infections. Am J Health Syst Pharm
    2020;77:835-864 (AUC and trough windows); smooth indicator: a logistic relaxation.

    Example:
        >>> import qsp
        >>> pk = qsp.blocks.one_compartment()
        >>> win = qsp.blocks.therapeutic_window(pk["Ac"], lower=2.0, upper=8.0, accumulate=False)
        >>> sorted(win.model.observables)[:3]
        ['above', 'above_smooth', 'below']
    """
    b = Builder("therapeutic_window", prefix)
    C = as_expression_arg(concentration, b.kind, "concentration")
    unit = concentration_unit(C)
    lo = b.quantity("lower", lower, unit, "lower bound of the therapeutic window (minimal effective)")
    hi = b.quantity("upper", upper, unit, "upper bound of the therapeutic window (toxic)")
    w = b.quantity("window_width", width, "1", "relative width of the smooth transitions")
    if isinstance(lower, (int, float)) and isinstance(upper, (int, float)) and not lower < upper:
        raise ModelError(f"therapeutic_window: lower={lower} must be below upper={upper}.")
    above_lower = _sigmoid((C - lo) / (w * lo))
    below_upper = _sigmoid((hi - C) / (w * hi))
    smooth = {"below_smooth": 1 - above_lower, "inside_smooth": above_lower * below_upper,
              "above_smooth": 1 - below_upper}
    observables: dict = {}
    b.observe(observables, "window_position", sp.Piecewise((-1, C < lo), (1, C > hi), (0, True)))
    b.observe(observables, "below", sp.Piecewise((1, C < lo), (0, True)))
    b.observe(observables, "inside", sp.Piecewise((1, (C >= lo) & (C <= hi)), (0, True)))
    b.observe(observables, "above", sp.Piecewise((1, C > hi), (0, True)))
    for key, expr in smooth.items():
        b.observe(observables, key, expr)
    reactions = []
    if accumulate:
        clock = b.compartment("window_clock", 1.0, unit=None, description="time accumulators (unit volume)")
        for region in ("below", "inside", "above"):
            T = b.species(f"time_{region}", clock, description=f"(smooth) time spent {region} the window")
            reactions.append(Reaction([], [T], rate=smooth[f"{region}_smooth"] * clock,
                                      name=b.full(f"accumulate_{region}")))
    return b.block(reactions, observables)
