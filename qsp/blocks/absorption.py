"""Absorption: first order from a depot, zero order (a modelled infusion), and a transit chain.

Every absorption block takes the species the drug is absorbed into (usually ``pk["Ac"]``)
and has a role ``"dose"``: the species an oral dose record targets, so that
``qsp.Bolus(oral["dose"], amount=..., bioavailability=oral["F"], lag=oral["tlag"])`` works
whichever absorption model is chosen. ``F`` (bioavailability) and ``lag`` are created only
when given; they act through the dose records (``Bolus``/``Infusion``), not through reactions.
The gut is a compartment ``depot`` of volume 1 holding amount-based species, so in
expressions its species mean amounts.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ModelError
from ..model import Reaction
from ._block import Block, Builder, amount_unit, as_species


def _dose_parameters(b: Builder, F, lag) -> None:
    b.quantity("F", F, "1", "bioavailability: fraction of the dose absorbed", bounds=(0.0, 1.0), optional=True)
    b.quantity("tlag", lag, "h", "absorption lag time", optional=True)


def _depot(b: Builder):
    return b.compartment("depot", 1.0, unit=None, description="gut (amounts; unit volume)")


def first_order_absorption(central, ka=1.0, *, F=None, lag=None, prefix: str | None = None) -> Block:
    """First-order absorption from a depot into ``central``.

    Creates:
        compartment ``depot`` (volume 1); species ``Ad`` (amount in the gut, amount-based);
        reaction ``absorption``: Ad → central at rate ka·Ad;
        parameter ``ka`` [1/h]; optional ``F`` (bioavailability) and ``tlag`` [h];
        role ``dose`` = ``Ad``.

    ODEs: dAd/dt = −ka·Ad, dAc/dt += ka·Ad. After an oral dose D into a one-compartment
    model (CL, V): C(t) = F·D·ka/(V·(ka − k))·(e^(−k·t) − e^(−ka·t)), k = CL/V (Bateman).
    Source: Bateman H. Proc Cambridge Philos Soc 1910;15:423-427; Gibaldi & Perrier (1982), ch. 1.

    Example:
        >>> import qsp
        >>> pk = qsp.blocks.one_compartment()
        >>> oral = qsp.blocks.first_order_absorption(pk["Ac"], ka=0.8, F=0.7)
        >>> oral.model.reactions[0], oral["F"].value
        (Reaction(absorption: Ad -> Ac, rate=ka*Ad), 0.7)
        >>> regimen = qsp.Regimen([qsp.Bolus(oral["dose"], amount=100.0, bioavailability=oral["F"])])
    """
    b = Builder("first_order_absorption", prefix)
    target = b.keep("central", as_species(central, b.kind, "central"))
    ka = b.quantity("ka", ka, "1/h", "first-order absorption rate constant")
    _dose_parameters(b, F, lag)
    Ad = b.species("Ad", _depot(b), amount_based=True, unit=amount_unit(target),
                   description="drug amount in the gut depot")
    b.keep("dose", Ad)
    return b.block([Reaction([Ad], [target], rate=ka * Ad, name=b.full("absorption"))])


def zero_order_absorption(central, duration=2.0, *, F=None, lag=None, prefix: str | None = None) -> Block:
    """Zero-order absorption: the dose enters ``central`` at a constant rate for a modelled duration.

    Creates no species or reactions: zero-order input *is* an infusion whose duration is a
    model parameter (NONMEM ``RATE=-2`` with ``D1``). Creates parameter ``Tk0`` [h] (the
    absorption duration) and optional ``F``, ``tlag``; role ``dose`` = ``central``. Dose with
    ``qsp.Infusion(block["dose"], amount=D, duration=block["Tk0"])``.

    ODE contribution: dAc/dt += F·D/Tk0 for tlag ≤ t − t_dose < tlag + Tk0, else 0.
    Source: Holford NHG, Ambros RJ, Stoeckel K. J Pharmacokinet Biopharm 1992;20:421-442
    (zero-order absorption in population PK); NONMEM User's Guide VI (modelled duration D1).

    Example:
        >>> import qsp
        >>> pk = qsp.blocks.one_compartment()
        >>> zo = qsp.blocks.zero_order_absorption(pk["Ac"], duration=3.0)
        >>> dose = qsp.Infusion(zo["dose"], amount=100.0, duration=zo["Tk0"])
        >>> zo["Tk0"].value
        3.0
    """
    b = Builder("zero_order_absorption", prefix)
    target = b.keep("central", as_species(central, b.kind, "central"))
    b.quantity("Tk0", duration, "h", "zero-order absorption duration")
    _dose_parameters(b, F, lag)
    b.keep("dose", target)
    return b.block(species=[target])


def transit_absorption(central, n: int = 3, MTT=None, ka=1.0, *, ktr=None, F=None, lag=None,
                       prefix: str | None = None) -> Block:
    """Transit-compartment absorption (Savic 2007): a dose passes n+1 gut compartments, then a depot.

    Creates:
        compartment ``depot`` (volume 1); amount-based species ``Atr0`` … ``Atr{n}`` (the
        dose enters ``Atr0``) and ``Ad`` (the absorption compartment);
        reactions ``transit1`` … ``transit{n}`` (Atr(k−1) → Atr(k), rate ktr·Atr(k−1)),
        ``to_depot`` (Atr{n} → Ad, ktr·Atr{n}) and ``absorption`` (Ad → central, ka·Ad);
        parameters ``MTT`` [h] (mean transit time, with ktr = (n+1)/MTT) — or ``ktr`` [1/h]
        when given instead — and ``ka`` [1/h]; optional ``F``, ``tlag``; role ``dose`` = ``Atr0``.

    ODEs::

        dAtr0/dt = −ktr·Atr0
        dAtrk/dt = ktr·Atr(k−1) − ktr·Atrk,        k = 1..n
        dAd/dt   = ktr·Atrn − ka·Ad
        dAc/dt  += ka·Ad

    After a dose D at t = 0 the chain has the closed form Atrk(t) = D·(ktr·t)^k/k!·e^(−ktr·t)
    (:func:`transit_chain_amounts`), so the input to the depot is Savic's
    D·ktr·(ktr·t)^n·e^(−ktr·t)/n! (:func:`transit_input_rate`, also for non-integer n).
    Source: Savic RM, Jonker DM, Kerbusch T, Karlsson MO. Implementation of a transit
    compartment model for describing drug absorption in pharmacokinetic studies.
    J Pharmacokinet Pharmacodyn 2007;34:711-726.

    Example:
        >>> import qsp
        >>> pk = qsp.blocks.one_compartment()
        >>> tr = qsp.blocks.transit_absorption(pk["Ac"], n=2, MTT=1.5)
        >>> [s.name for s in tr.model.species], tr["ktr"]
        (['Atr0', 'Atr1', 'Atr2', 'Ad', 'Ac'], 3/MTT)
    """
    b = Builder("transit_absorption", prefix)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ModelError(f"transit_absorption: n={n!r} must be a whole number >= 0 (the number of transit "
                         "steps); for a non-integer n use transit_input_rate as a forcing function.")
    target = b.keep("central", as_species(central, b.kind, "central"))
    if ktr is not None and MTT is not None:
        raise ModelError("transit_absorption: give MTT or ktr, not both (ktr = (n+1)/MTT).")
    if ktr is None:
        MTT = b.quantity("MTT", 2.0 if MTT is None else MTT, "h", "mean transit time")
        ktr = b.keep("ktr", (n + 1) / MTT, "")
    else:
        ktr = b.quantity("ktr", ktr, "1/h", "transit rate constant")
    ka = b.quantity("ka", ka, "1/h", "first-order absorption rate constant")
    _dose_parameters(b, F, lag)
    depot = _depot(b)
    unit = amount_unit(target)
    chain = [b.species(f"Atr{k}", depot, amount_based=True, unit=unit,
                       description=f"drug amount in transit compartment {k}") for k in range(n + 1)]
    Ad = b.species("Ad", depot, amount_based=True, unit=unit, description="drug amount in the absorption compartment")
    b.keep("dose", chain[0])
    reactions = [Reaction([chain[k - 1]], [chain[k]], rate=ktr * chain[k - 1], name=b.full(f"transit{k}"))
                 for k in range(1, n + 1)]
    reactions.append(Reaction([chain[n]], [Ad], rate=ktr * chain[n], name=b.full("to_depot")))
    reactions.append(Reaction([Ad], [target], rate=ka * Ad, name=b.full("absorption")))
    return b.block(reactions)


def transit_chain_amounts(times, dose: float, n: int, ktr: float) -> np.ndarray:
    """Closed form of the transit chain after a dose at t = 0: shape (n+1, len(times)).

    Row k is Atrk(t) = dose·(ktr·t)^k/k!·e^(−ktr·t) (a Poisson/Erlang profile), the
    exact solution of the chain ODEs of :func:`transit_absorption` (Savic 2007, eq. 3).

    Example:
        >>> import numpy as np
        >>> a = transit_chain_amounts(np.array([0.0, 1.0]), 100.0, 2, 1.0)
        >>> np.round(a[:, 1], 4).tolist()          # 100 e^-1 (1, 1, 1/2)
        [36.7879, 36.7879, 18.394]
    """
    t = np.asarray(times, dtype=float)
    x = ktr * t
    k = np.arange(n + 1)[:, None]
    with np.errstate(divide="ignore"):
        log_terms = np.where(k == 0, 0.0, k * np.log(np.where(x > 0, x, 1.0))) - np.vectorize(math.lgamma)(k + 1)
    out = dose * np.exp(log_terms - x)
    return np.where((k > 0) & (x[None, :] == 0), 0.0, out)


def transit_input_rate(times, dose: float, n: float, ktr: float) -> np.ndarray:
    """Savic's input rate into the absorption compartment, dose·ktr·(ktr·t)^n·e^(−ktr·t)/Γ(n+1).

    Valid for non-integer n (the gamma function replaces n!); equals ktr·Atrn(t) of the chain.

    Example:
        >>> import numpy as np
        >>> round(float(transit_input_rate(np.array([2.0]), 100.0, 1, 0.5)[0]), 4)   # 100·0.5·1·e^-1
        18.394
    """
    t = np.asarray(times, dtype=float)
    x = ktr * t
    with np.errstate(divide="ignore"):
        log_rate = n * np.log(np.where(x > 0, x, 1.0)) - x - math.lgamma(n + 1)
    rate = dose * ktr * np.exp(log_rate)
    return np.where(x > 0, rate, dose * ktr if n == 0 else 0.0)
