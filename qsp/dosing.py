"""Dose records and regimens, with the NONMEM dosing vocabulary.

A :class:`Regimen` is a list of records: :class:`Bolus` (a jump in a species' amount),
:class:`Infusion` (a constant rate into a species between two times) and :class:`Reset`
(NONMEM EVID 3: every state back to its initial value). Records carry numbers (or JAX
arrays, so that ``jax.grad`` and ``jax.vmap`` can reach dose amounts and times) and,
for ``lag``, ``bioavailability``, ``rate`` and ``duration``, optionally sympy
expressions of model parameters (NONMEM's ALAG, F, RATE=-1, RATE=-2).

This module only describes doses; :mod:`qsp.simulate` integrates them. Semantics:

* the amount delivered is ``amount × bioavailability``, at ``time + lag``;
* ``interval`` and ``additional`` repeat a record ``additional`` more times, every
  ``interval`` (NONMEM II and ADDL);
* an infusion runs for ``duration`` (or at ``rate``: duration = amount·F / rate);
* ``steady_state=1`` (NONMEM SS=1): just before the dose the whole state is replaced by
  the periodic steady state of this dose repeated every ``interval``; ``steady_state=2``
  adds that steady state to the current state (superposition; linear models only);
* a :class:`Reset` (or a ``steady_state=1`` record) also cancels what earlier records still
  have pending at its time — a lagged dose not yet given, an infusion not yet started — and
  stops running infusions, as NONMEM does;
* at the instant of a dose, the simulation reports the state *after* the dose (right
  continuous), like an observation record placed after the dose record in a NONMEM
  dataset; see :func:`qsp.simulate` for pre-dose ("trough") reporting.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Sequence

import sympy as sp

from .errors import DosingError
from .model.symbols import Species

Number = Any  # a float, an int, or a JAX array scalar (traced under jit/grad/vmap)


def _is_concrete_number(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _check_number(value, what: str, *, positive=False, nonnegative=False, allow_expr=False):
    if value is None:
        return None
    if isinstance(value, sp.Basic):
        if not allow_expr:
            raise DosingError(f"{what} is the expression {value}; only numbers are allowed here.")
        if value.is_number:
            value = float(value)
        else:
            return value
    if isinstance(value, (bool, str)):
        raise DosingError(f"{what} is {value!r}; give a number.")
    if _is_concrete_number(value):
        value = float(value)
        if value != value:
            raise DosingError(f"{what} is NaN; give a number.")
        if positive and not value > 0:
            raise DosingError(f"{what} is {value}; it must be positive.")
        if nonnegative and value < 0:
            raise DosingError(f"{what} is {value}; it must not be negative.")
    elif not hasattr(value, "shape"):
        raise DosingError(f"{what} is {value!r} of type {type(value).__name__}; give a number.")
    return value


def _target(species) -> Species | str:
    if isinstance(species, Species):
        return species
    if isinstance(species, str) and species.isidentifier():
        return species
    raise DosingError(f"dose target {species!r} is not a qsp.Species (or a species name).")


def _target_name(species) -> str:
    return species.name if isinstance(species, Species) else species


@dataclass(frozen=True)
class _Dose:
    species: Species | str
    amount: Number
    time: Number = 0.0
    interval: Number | None = None
    additional: int = 0
    lag: Number | sp.Expr = 0.0
    bioavailability: Number | sp.Expr = 1.0
    steady_state: int = 0

    def _check(self):
        what = f"{type(self).__name__} into {_target_name(self.species)!r} at time {self.time!r}"
        object.__setattr__(self, "species", _target(self.species))
        object.__setattr__(self, "amount", _check_number(self.amount, f"{what}: amount", nonnegative=True))
        object.__setattr__(self, "time", _check_number(self.time, f"{what}: time"))
        object.__setattr__(self, "interval", _check_number(self.interval, f"{what}: interval", positive=True))
        object.__setattr__(self, "lag", _check_number(self.lag, f"{what}: lag", nonnegative=True, allow_expr=True))
        object.__setattr__(self, "bioavailability",
                           _check_number(self.bioavailability, f"{what}: bioavailability", nonnegative=True,
                                         allow_expr=True))
        if not isinstance(self.additional, numbers.Integral) or self.additional < 0:
            raise DosingError(f"{what}: additional={self.additional!r} must be a whole number ≥ 0 "
                              "(the count of extra doses; it fixes the regimen's structure).")
        if self.additional > 0 and self.interval is None:
            raise DosingError(f"{what}: additional={self.additional} needs an interval (e.g. interval=12.0).")
        if self.steady_state not in (0, 1, 2):
            raise DosingError(f"{what}: steady_state={self.steady_state!r}; use 0, 1 (reset to SS) or 2 (add SS).")
        if self.steady_state and self.interval is None:
            raise DosingError(f"{what}: steady_state={self.steady_state} needs the dosing interval (interval=...).")

    @property
    def target(self) -> str:
        """Name of the dosed species."""
        return _target_name(self.species)

    def expanded(self) -> list["_Dose"]:
        """The record and its ``additional`` repeats as single doses (static count)."""
        if not self.additional:
            return [self]
        first = replace(self, additional=0)
        repeats = [replace(self, time=self.time + k * self.interval, additional=0, steady_state=0)
                   for k in range(1, self.additional + 1)]
        return [first, *repeats]


@dataclass(frozen=True)
class Bolus(_Dose):
    """An instantaneous dose: the amount of ``species`` jumps by ``amount × F`` at ``time + lag``.

    Oral dosing is a bolus into a depot species with first-order absorption.

    Args:
        species: the dosed :class:`~qsp.Species` (or its name).
        amount: dose amount (in the species' amount unit).
        time: dose time.
        interval, additional: repeat ``additional`` more times every ``interval`` (II, ADDL).
        lag: absorption lag (number or expression of parameters; NONMEM ALAG).
        bioavailability: fraction absorbed F (number or expression; NONMEM F).
        steady_state: 0, 1 (reset to steady state, NONMEM SS=1) or 2 (add it, SS=2).

    Example:
        >>> import qsp
        >>> A = qsp.Species("A", qsp.Compartment("c", volume=1.0))
        >>> len(Bolus(A, amount=100.0, time=0.0, interval=12.0, additional=3).expanded())
        4
    """

    def __post_init__(self):
        self._check()


@dataclass(frozen=True)
class Infusion(_Dose):
    """A zero-order input of ``amount × F`` into ``species`` from ``time + lag`` for ``duration``.

    Give exactly one of ``duration`` or ``rate`` (amount per time); either may be an
    expression of model parameters (NONMEM RATE=-2 and RATE=-1). With ``rate``, the
    duration is ``amount × F / rate``.

    Example:
        >>> import qsp
        >>> A = qsp.Species("A", qsp.Compartment("c", volume=1.0))
        >>> Infusion(A, amount=500.0, time=0.0, duration=1.0).duration
        1.0
    """

    duration: Number | sp.Expr | None = None
    rate: Number | sp.Expr | None = None

    def __post_init__(self):
        self._check()
        what = f"Infusion into {self.target!r} at time {self.time!r}"
        if self.duration is not None and self.rate is not None:
            raise DosingError(f"{what}: give either duration= or rate=, not both "
                              "(the other follows from the amount).")
        if self.duration is None and self.rate is None:
            raise DosingError(f"{what}: give duration= or rate= (e.g. duration=1.0).")
        object.__setattr__(self, "duration",
                           _check_number(self.duration, f"{what}: duration", positive=True, allow_expr=True))
        object.__setattr__(self, "rate", _check_number(self.rate, f"{what}: rate", positive=True, allow_expr=True))


@dataclass(frozen=True)
class Reset:
    """Reset every state to its initial value at ``time`` (NONMEM EVID=3).

    A reset followed by a dose at the same time is NONMEM's EVID=4.

    Example:
        >>> Reset(time=48.0).time
        48.0
    """

    time: Number = 0.0

    def __post_init__(self):
        object.__setattr__(self, "time", _check_number(self.time, f"Reset at time {self.time!r}: time"))

    def expanded(self) -> list["Reset"]:
        return [self]


@dataclass(frozen=True)
class Regimen:
    """A dosing regimen: a sequence of :class:`Bolus`, :class:`Infusion` and :class:`Reset` records.

    Records may be given in any order; at equal times they act in the order given
    (so ``[Reset(t), Bolus(A, ..., time=t)]`` is NONMEM's EVID 4).

    Example:
        >>> import qsp
        >>> A = qsp.Species("A", qsp.Compartment("c", volume=1.0))
        >>> r = Regimen([Bolus(A, amount=100.0, time=0.0, interval=24.0, additional=6)])
        >>> r.n_events
        7
    """

    records: tuple = field(default_factory=tuple)

    def __init__(self, records: Iterable = ()):
        records = tuple(records)
        for i, r in enumerate(records):
            if not isinstance(r, (Bolus, Infusion, Reset)):
                raise DosingError(f"Regimen record {i} is {r!r}; use qsp.Bolus, qsp.Infusion or qsp.Reset.")
        object.__setattr__(self, "records", records)

    def __add__(self, other: "Regimen") -> "Regimen":
        return Regimen([*self.records, *other.records])

    def doses(self) -> list:
        """Every single dose and reset after expanding ``additional`` repeats, in record order.

        Expanded once per regimen (records are immutable): expansion validates every repeat,
        ~100 µs for a handful of doses, which every ``qsp.simulate`` call would pay again."""
        expanded = self.__dict__.get("_expanded")
        if expanded is None:
            expanded = tuple(d for r in self.records for d in r.expanded())
            object.__setattr__(self, "_expanded", expanded)  # (not a field: no effect on ==, hash, repr)
        return list(expanded)

    @property
    def n_events(self) -> int:
        """Number of single doses and resets (each infusion counts once)."""
        return len(self.doses())

    def targets(self) -> list[str]:
        """Names of the dosed species."""
        return sorted({d.target for d in self.doses() if not isinstance(d, Reset)})


def as_regimen(regimen: Regimen | Sequence | None) -> Regimen:
    """Accept a Regimen, a single record or a list of records."""
    if regimen is None:
        return Regimen([])
    if isinstance(regimen, Regimen):
        return regimen
    if isinstance(regimen, (Bolus, Infusion, Reset)):
        return Regimen([regimen])
    return Regimen(regimen)
