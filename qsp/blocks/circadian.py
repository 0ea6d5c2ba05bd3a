"""Circadian rhythms: cosinor forcing, a self-sustained Goodwin-type clock with its period as a
parameter, and a disease-activity variable driven by a rhythm.

Time is the model's time in hours, with t = 0 at midnight of day 0, so an acrophase is a
clock hour. Both rhythm blocks expose the role (and observable) ``rhythm``, a dimensionless
signal ``mesor + amplitude · (wave)`` peaking at ``acrophase + chronotype`` (+ whole
periods); multiply any rate by it to force that rate (``k * clock["rhythm"]``), and swap
the cosinor for the oscillator without touching the rest of the model. ``chronotype`` shifts
the phase: positive for a later (evening) type, negative for an earlier (morning) type.
"""

from __future__ import annotations

import math

import sympy as sp

from ..model import Reaction, time
from ._block import Block, Builder, as_expression_arg

_TWO_PI = 2 * sp.pi


def _phase_parameters(b: Builder, mesor, amplitude, acrophase, period, chronotype):
    mesor = b.quantity("mesor", mesor, "1", "rhythm-adjusted mean of the rhythm (dimensionless)", bounds=None)
    amplitude = b.quantity("amplitude", amplitude, "1", "half the peak-to-trough range (dimensionless)")
    acrophase = b.quantity("acrophase", acrophase, "h", "clock time of the peak", bounds=None)
    period = b.quantity("period", period, "h", "period of the rhythm")
    chronotype = b.quantity("chronotype", chronotype, "h",
                            "phase offset of this person's clock (+ later, - earlier)", bounds=None)
    return mesor, amplitude, acrophase + chronotype, period


def cosinor(mesor=1.0, amplitude=0.5, acrophase=8.0, period=24.0, chronotype=0.0, *,
            prefix: str | None = None) -> Block:
    """A cosine rhythm to multiply into any rate (the cosinor model).

    Creates parameters ``mesor``, ``amplitude``, ``acrophase`` [h], ``period`` [h] and
    ``chronotype`` [h]; role and observable ``rhythm``::

        rhythm(t) = mesor + amplitude · cos(2π · (t − acrophase − chronotype) / period)

    No species or reactions: use ``rhythm`` in rate laws, e.g. a cortisol-like production
    ``kin * clock["rhythm"]``. With mesor 1 the time-average of a forced rate is unchanged.
    Source: Halberg F, Tong YL, Johnson EA. Circadian system phase — an aspect of temporal
    morphology. In: The Cellular Aspects of Biorhythms, Springer 1967, pp. 20-48; Cornelissen G.
    Cosinor-based rhythmometry. Theor Biol Med Model 2014;11:16.

    Example:
        >>> import qsp
        >>> clock = qsp.blocks.cosinor(acrophase=7.0, amplitude=0.4)
        >>> clock["rhythm"]
        amplitude*cos(2*pi*(-acrophase - chronotype + t)/period) + mesor
    """
    b = Builder("cosinor", prefix)
    mesor, amplitude, peak, period = _phase_parameters(b, mesor, amplitude, acrophase, period, chronotype)
    observables: dict = {}
    b.observe(observables, "rhythm", mesor + amplitude * sp.cos(_TWO_PI * (time - peak) / period))
    return b.block(observables=observables)


# The Goodwin oscillator below, at its fixed constants, has a stable limit cycle of natural
# period _TAU0 (h). The constants that follow were derived once (tests/test_blocks.py,
# `derive_goodwin_cycle`, which also checks them): the cycle is integrated past its transient
# (DOP853, rtol 1e-13), the period measured between maxima of X, and one period sampled
# from a maximum of X at 4096 points; _COS/_SIN are its Fourier coefficients (14 harmonics,
# reconstruction error 7e-8), _X_MAX/_X_MIN the extremes of X on the cycle.
_HILL, _V1, _V2, _K3, _V4, _K5, _V6 = 5, 0.7, 0.35, 0.7, 0.35, 0.7, 0.35
_TAU0 = 25.2568243268754
_X_MAX, _X_MIN = 0.324380017326138, 0.0166427406837017
# one row per state X, Y, Z; column k is harmonic k (column 0 of _COS is the mean)
_COS = (
    (
        0.116816652379, 0.135215693971, 0.0498734449016, 0.0161636933309, 0.00471837981516,
        0.0012275722823, 0.000283973504095, 6.03402974542e-05, 1.35349198026e-05, 4.07554912284e-06,
        1.63230485567e-06, 6.7707697098e-07, 2.50425336602e-07, 7.76929121746e-08, 1.86841884728e-08,
    ),
    (
        0.340075838042, 0.153492767384, 0.00820431256849, 0.00386517347373, 0.00162182421723,
        0.000566403746621, 0.00017534140432, 5.02800629287e-05, 1.40155537548e-05, 4.02851438441e-06,
        1.26005981585e-06, 4.33720594501e-07, 1.58361211359e-07, 5.85198786186e-08, 2.12592360636e-08,
    ),
    (
        2.24527324672, -0.674971119018, -0.0759360953121, -0.00982260653099, -0.00155833284743,
        -0.000248222705749, -3.84091269573e-05, -5.96663583234e-06, -1.1411084194e-06, -3.27806035067e-07,
        -1.17069394377e-07, -4.04351722139e-08, -1.22401413942e-08, -3.09456854317e-09, -5.88871911599e-10,
    ),
)
_SIN = (
    (
        0, 0.0210366123414, 0.0033047664585, -0.00285706813103, -0.00234734188353,
        -0.00111996744739, -0.000425041628679, -0.000141071755708, -4.3622414511e-05, -1.34966999796e-05,
        -4.5039052519e-06, -1.67405326861e-06, -6.69165086218e-07, -2.71423884192e-07, -1.07569522969e-07,
    ),
    (
        0, 0.266045985966, 0.0606028684915, 0.012290926022, 0.00271244719792,
        0.000573349729269, 0.000115612273962, 2.29965929747e-05, 5.10238923904e-06, 1.44566255266e-06,
        4.95813665643e-07, 1.73421357269e-07, 5.52114515507e-08, 1.49720633199e-08, 3.11639140894e-09,
    ),
    (
        0, 0.530097409, 0.0193572488325, 0.00448588692683, 0.00122321741121,
        0.000318055807396, 7.82146064323e-05, 1.84989269078e-05, 4.37722757255e-06, 1.10206459416e-06,
        3.12830854691e-07, 1.00352980321e-07, 3.44881475136e-08, 1.19980516117e-08, 4.0971427655e-09,
    ),
)


def goodwin_cycle_state(phase: float) -> tuple[float, float, float]:
    """(X, Y, Z) on the oscillator's limit cycle, ``phase`` in radians after a maximum of X.

    Example:
        >>> round(goodwin_cycle_state(0.0)[0], 6)      # X at its maximum
        0.32438
    """
    return tuple(a[0] + sum(a[k] * math.cos(k * phase) + s[k] * math.sin(k * phase) for k in range(1, len(a)))
                 for a, s in zip(_COS, _SIN))


def circadian_oscillator(mesor=1.0, amplitude=0.5, acrophase=8.0, period=24.0, chronotype=0.0, *,
                         prefix: str | None = None) -> Block:
    """A self-sustained circadian clock (Goodwin-type negative feedback loop) with a set period.

    A clock gene mRNA X makes a protein Y, which makes a nuclear repressor Z, which represses
    the transcription of X (Hill coefficient 5); each is degraded with Michaelis-Menten
    kinetics. In dimensionless units, with the time-scale factor s = τ0/period::

        dX/dt = s · (0.7 / (1 + Z^5)   − 0.35·X/(1 + X))
        dY/dt = s · (0.7·X             − 0.35·Y/(1 + Y))
        dZ/dt = s · (0.7·Y             − 0.35·Z/(1 + Z))

    **How the period is set.** At s = 1 the loop has a stable limit cycle of natural period
    τ0 = 25.2568 h. If x(t) solves dx/dt = f(x), then x(s·t) solves dx/dt = s·f(x): the same
    cycle, traversed s times faster, with period τ0/s. Choosing s = τ0/period therefore gives
    exactly the requested period and leaves amplitude and waveform unchanged. (The loop's own
    constants are fixed for that reason: changing them would change τ0.)

    **How the phase is set.** The initial state is the point of the limit cycle whose X peaks
    at acrophase + chronotype (a 14-harmonic Fourier series of the cycle, evaluated at t = 0;
    start simulations at t = 0), so the clock needs no run-in.

    Creates compartment ``clock_cell`` (volume 1); species ``clock_X``, ``clock_Y``, ``clock_Z``;
    reactions ``clock_transcription``, ``clock_X_decay``, ``clock_translation``,
    ``clock_Y_decay``, ``clock_repressor``, ``clock_Z_decay``; parameters ``mesor``,
    ``amplitude``, ``acrophase`` [h], ``period`` [h], ``chronotype`` [h]; observables
    ``clock`` (X rescaled to [−1, 1]) and ``rhythm`` = mesor + amplitude·clock, the same role
    as :func:`cosinor`'s.

    Sources: Goodwin BC. Oscillatory behavior in enzymatic control processes. Adv Enzyme Regul
    1965;3:425-438. Gonze D, Bernard S, Waltermann C, Kramer A, Herzel H. Spontaneous
    synchronization of coupled circadian oscillators. Biophys J 2005;89:120-129 (this form with
    Michaelis-Menten degradation and these rate constants; Hill coefficient 5 here).

    Example:
        >>> import qsp
        >>> clock = qsp.blocks.circadian_oscillator(period=24.0, acrophase=4.0)
        >>> [s.name for s in clock.model.species], list(clock.model.observables)
        (['clock_X', 'clock_Y', 'clock_Z'], ['clock', 'rhythm'])
    """
    b = Builder("circadian_oscillator", prefix)
    mesor, amplitude, peak, period = _phase_parameters(b, mesor, amplitude, acrophase, period, chronotype)
    s = _TAU0 / period
    theta = _TWO_PI * (0 - peak) / period  # phase of the cycle at t = 0, counted from the peak of X
    initial = [a[0] + sum(a[k] * sp.cos(k * theta) + c[k] * sp.sin(k * theta) for k in range(1, len(a)))
               for a, c in zip(_COS, _SIN)]
    cell = b.compartment("clock_cell", 1.0, unit=None, description="clock (dimensionless, unit volume)")
    # initial_amount (= concentration in this unit volume): the states are dimensionless
    X, Y, Z = (b.species(f"clock_{n}", cell, initial_amount=v, description=d) for n, v, d in
               zip("XYZ", initial, ("clock gene mRNA", "clock protein", "nuclear repressor")))
    n = b.full
    reactions = [
        Reaction([], [X], rate=s * _V1 / (1 + Z ** _HILL) * cell, name=n("clock_transcription")),
        Reaction([X], [], rate=s * _V2 * X / (1 + X) * cell, name=n("clock_X_decay")),
        Reaction([], [Y], rate=s * _K3 * X * cell, name=n("clock_translation")),
        Reaction([Y], [], rate=s * _V4 * Y / (1 + Y) * cell, name=n("clock_Y_decay")),
        Reaction([], [Z], rate=s * _K5 * Y * cell, name=n("clock_repressor")),
        Reaction([Z], [], rate=s * _V6 * Z / (1 + Z) * cell, name=n("clock_Z_decay")),
    ]
    observables: dict = {}
    wave = (X - (_X_MAX + _X_MIN) / 2) / ((_X_MAX - _X_MIN) / 2)
    b.observe(observables, "clock", wave)
    b.observe(observables, "rhythm", mesor + amplitude * wave)
    return b.block(reactions, observables)


def disease_activity(drive, kin=1.0, kout=0.5, *, inhibition=None, prefix: str | None = None) -> Block:
    """A disease-activity marker produced under a rhythm's control and cleared first order.

    For example IL-6 in rheumatoid arthritis, which peaks in the early morning (about 7 h)
    and drives morning stiffness; a drug effect enters as a fractional ``inhibition`` of
    production (an expression between 0 and 1, e.g. an Imax model of a glucocorticoid).

    Creates compartment ``disease`` (volume 1); species ``activity`` (in units of the marker,
    starting at its baseline kin/kout); reactions ``activity_production`` (kin·drive·(1 −
    inhibition)) and ``activity_clearance`` (kout·activity); parameters ``kin`` [marker unit/h,
    left without a unit] and ``kout`` [1/h]::

        d activity/dt = kin · drive(t) · (1 − inhibition) − kout · activity

    For a cosine drive 1 + a·cos(ω(t − φ)) (ω = 2π/period) without drug, the periodic
    solution is kin/kout · [1 + a·kout/√(kout² + ω²) · cos(ω(t − φ) − atan(ω/kout))]: the
    marker peaks :func:`peak_delay` hours after the drive, with a damped amplitude.
    Sources: Perry MG, Kirwan JR, Jessop DS, Hunt LP. Overnight variations in cortisol,
    interleukin 6, tumour necrosis factor α and other cytokines in people with rheumatoid
    arthritis. Ann Rheum Dis 2009;68:63-68; Cutolo M, Straub RH. Circadian rhythms in arthritis:
    hormonal effects on the immune/inflammatory reaction. Autoimmun Rev 2008;7:223-228.

    Example:
        >>> import qsp
        >>> clock = qsp.blocks.cosinor(acrophase=7.0 - qsp.blocks.peak_delay(0.5))
        >>> il6 = qsp.blocks.disease_activity(clock["rhythm"], kin=5.0, kout=0.5)
        >>> il6["activity"].initial_concentration
        kin/kout
    """
    b = Builder("disease_activity", prefix)
    drive = as_expression_arg(drive, b.kind, "drive")
    kin = b.quantity("kin", kin, None, "production rate of the marker at drive 1 (marker units per hour)")
    kout = b.quantity("kout", kout, "1/h", "first-order clearance of the marker")
    factor = 1 if inhibition is None else 1 - as_expression_arg(inhibition, b.kind, "inhibition")
    site = b.compartment("disease", 1.0, unit=None, description="disease activity (unit volume)")
    A = b.species("activity", site, initial_concentration=kin / kout, description="disease-activity marker")
    b.keep("baseline", kin / kout, "")
    return b.block([
        Reaction([], [A], rate=kin * drive * factor * site, name=b.full("activity_production")),
        Reaction([A], [], rate=kout * A * site, name=b.full("activity_clearance")),
    ])


def peak_delay(kout: float, period: float = 24.0) -> float:
    """Hours from the peak of a cosine drive to the peak of a first-order turnover it drives.

    atan(ω/kout)/ω with ω = 2π/period: choose a drive acrophase of (wanted peak − delay).

    Example:
        >>> round(peak_delay(0.5), 3)
        1.842
    """
    omega = 2 * math.pi / period
    return math.atan(omega / kout) / omega
