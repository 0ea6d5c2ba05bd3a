"""Events: discrete changes of the state when a condition becomes true (SBML events).

An event fires when its trigger goes from false to true. At that instant each
assignment ``target := expression`` is applied, with every expression evaluated on
the state just before the event (SBML's semantics without delay). Events come from
model files (SBML) or are written by hand; dose records (:mod:`qsp.dosing`) remain the
way to give drugs at known times.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

import sympy as sp
from sympy.logic.boolalg import Boolean

from ..errors import ModelError
from .symbols import Compartment, Parameter, Species, Variable, as_expression


class Event:
    """An event: when ``trigger`` becomes true, assign new values to species or variables.

    Semantics (SBML Level 3 events without delay):

    * ``trigger`` is a sympy relational or boolean expression of species (concentration,
      or amount when ``amount_based``), parameters, variables and :data:`qsp.time`, e.g.
      ``qsp.time >= 5`` or ``sp.Lt(A, 0.1)``. The event fires at each time ``t*`` where it
      changes from false to true.
    * ``assignments`` maps each target to an expression, in order. All expressions are
      evaluated with the values just before ``t*`` (``use_values_from_trigger_time``; without
      delays the trigger time is the execution time), then all targets are set at once:
      :math:`x(t^{*+}) = f_x(t^*, y(t^{*-}), p)`.
    * A :class:`Species` target receives a value in the meaning its symbol has inside
      expressions: a concentration (the amount becomes value × volume) unless the species
      is ``amount_based``. A :class:`Variable` target must be a rate-rule variable (an
      assignment-rule variable is defined at every instant). A parameter cannot be a
      target: declare a :class:`Variable` with ``RateRule(v, 0)`` instead.
    * ``persistent=False`` cancels the event if its trigger turns false before it executes
      (irrelevant without delays, kept for SBML fidelity); ``initial_value`` is the value
      the trigger is taken to have just before the start, so ``initial_value=False`` with a
      trigger true at the start fires at the start.

    Events are immutable; :meth:`renamed` returns a copy with symbols replaced.

    Args:
        trigger: a sympy boolean (relational, ``And``/``Or``/``Not``...).
        assignments: ordered mapping target → expression (number or sympy expression).
        name: identifier (the model names unnamed events ``E1, E2, ...`` only in messages).
        persistent, initial_value, use_values_from_trigger_time: SBML trigger attributes.

    Example:
        >>> import qsp, sympy as sp
        >>> c = qsp.Compartment("c", volume=2.0)
        >>> A = qsp.Species("A", c, initial_amount=10.0)
        >>> e = Event(qsp.time >= 5, {A: 3}, name="refill")   # [A] := 3, i.e. amount 6
        >>> e.trigger, dict(e.assignments)
        (t >= 5, {A: 3})
    """

    __slots__ = ("trigger", "assignments", "name", "persistent", "initial_value", "use_values_from_trigger_time")

    def __init__(self, trigger, assignments: Mapping, name: str | None = None, persistent: bool = True,
                 initial_value: bool = True, use_values_from_trigger_time: bool = True):
        label = name or "<unnamed>"
        if name is not None and (not isinstance(name, str) or not name.isidentifier()):
            raise ModelError(f"Event name {name!r} is not a valid identifier.")
        if isinstance(trigger, bool):
            trigger = sp.true if trigger else sp.false
        if not isinstance(trigger, Boolean) or isinstance(trigger, sp.Expr):  # a Symbol is a Boolean too
            raise ModelError(
                f"Event {label!r}: trigger {trigger!r} is not a condition; give a sympy relational or boolean, "
                "e.g. qsp.time >= 5 or sympy.Lt(A, 0.1)."
            )
        if not isinstance(assignments, Mapping) or not assignments:
            raise ModelError(
                f"Event {label!r}: assignments must be a non-empty mapping target -> expression, "
                f"e.g. {{A: 0.0}}; got {assignments!r}."
            )
        pairs = {}
        for target, value in assignments.items():
            if isinstance(target, (Parameter, Compartment)):
                fix = (f"declare {target.name} = qsp.Variable({target.name!r}, initial=...) with "
                       f"qsp.RateRule({target.name}, 0) and assign that" if isinstance(target, Parameter)
                       else "compartment volumes are constant in qsp")
                raise ModelError(f"Event {label!r} assigns {target.kind} {target.name!r}; {fix}.")
            if not isinstance(target, (Species, Variable)):
                raise ModelError(
                    f"Event {label!r}: assignment target {target!r} is a {type(target).__name__}; "
                    "targets are qsp.Species or qsp.Variable objects."
                )
            pairs[target] = as_expression(value, f"Event {label!r} assignment to {target.name!r}")
        object.__setattr__(self, "trigger", trigger)
        object.__setattr__(self, "assignments", MappingProxyType(pairs))
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "persistent", bool(persistent))
        object.__setattr__(self, "initial_value", bool(initial_value))
        object.__setattr__(self, "use_values_from_trigger_time", bool(use_values_from_trigger_time))

    def __setattr__(self, key, value):
        raise AttributeError(f"Event is immutable; build a new one (or use .renamed) instead of setting {key!r}.")

    def __reduce__(self):
        return (_rebuild_event, (self.trigger, dict(self.assignments), self.name, self.persistent,
                                 self.initial_value, self.use_values_from_trigger_time))

    def expressions(self) -> list[tuple[str, sp.Basic]]:
        """(what, expression) for the trigger and each assignment, for validation messages."""
        label = self.name or "<unnamed>"
        out = [(f"event {label!r} trigger", self.trigger)]
        out += [(f"event {label!r} assignment to {t.name!r}", e) for t, e in self.assignments.items()]
        return out

    def renamed(self, name: str | None = None, mapping: Mapping | None = None) -> "Event":
        """A copy with a new name (None keeps it) and symbols replaced by ``mapping``.

        Example:
            >>> import qsp
            >>> v, w = qsp.Variable("v"), qsp.Variable("w")
            >>> Event(qsp.time > 1, {v: 2}, name="e").renamed("f", {v: w}).assignments[w]
            2
        """
        m = dict(mapping or {})
        return Event(self.trigger.xreplace(m), {m.get(t, t): e.xreplace(m) for t, e in self.assignments.items()},
                     name=self.name if name is None else name, persistent=self.persistent,
                     initial_value=self.initial_value, use_values_from_trigger_time=self.use_values_from_trigger_time)

    def __repr__(self) -> str:
        body = ", ".join(f"{t.name} := {e}" for t, e in self.assignments.items())
        return f"Event({self.name or ''}: when {self.trigger}: {body})"


def _rebuild_event(trigger, assignments, name, persistent, initial_value, use_values):
    return Event(trigger, assignments, name, persistent, initial_value, use_values)
