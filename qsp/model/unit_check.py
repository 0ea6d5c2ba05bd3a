"""Dimensional analysis of a model (run by :func:`qsp.compile`; see :mod:`qsp.model.units`).

Every rate, volume, rule, initial value, observable and event assignment is walked to its
unit (:mod:`qsp.model.unit_walk`) and compared with the unit it must have. A symbol without
a unit makes every expression that uses it *unknown*: it is reported in
:attr:`UnitReport.unchecked`, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import sympy as sp

from ..errors import UnitError
from .reaction import Reaction
from .rules import AssignmentRule
from .symbols import Compartment, ModelSymbol, Species, Time
from .unit_grammar import ACTIVITY, LENGTH, MASS, SUBSTANCE, TIME, TIME_NAMES, Unit, parse_unit
from .unit_walk import Walker, nearly_equal, number_text

_TIME_DIMENSION = Unit(tuple(sp.Integer(int(i == TIME)) for i in range(5)), sp.Integer(1))


def is_amount(dims) -> bool:
    """A mass, an amount of substance, an activity (U) or a plain count: what a species holds.

    Example:
        >>> is_amount(parse_unit("nmol").dims), is_amount(parse_unit("nM").dims)
        (True, False)
    """
    if not all(d.is_number for d in dims) or dims[LENGTH] != 0 or dims[TIME] != 0:
        return False
    kinds = [dims[MASS], dims[SUBSTANCE], dims[ACTIVITY]]
    return all(k == 0 for k in kinds) or (sorted(kinds) == [0, 0, 1])


def is_concentration(dims) -> bool:
    """An amount per volume (length^-3).

    Example:
        >>> is_concentration(parse_unit("mg/L").dims)
        True
    """
    return dims[LENGTH] == -3 and is_amount(tuple(sp.Integer(0) if i == LENGTH else d for i, d in enumerate(dims)))


@dataclass(frozen=True)
class UnitReport:
    """What :func:`check_units` found: the unit of every output, and what it could not check.

    Attributes:
        annotated: whether the model carries any unit at all (if not, nothing was checked).
        time: the model's time unit (``'h'``), given or inferred from its rates; None if unknown.
        outputs: name → :class:`Unit` of ``sol[name]`` (parameters, compartments, species
            concentrations, variables, observables); None where it is unknown.
        amounts: species name → unit of its amount (of ``sol.amount(name)`` and of its doses).
        rates: reaction name → unit of its rate.
        labels: name → the unit text the model itself declares for that output, where it does.
        unchecked: the expressions that use a symbol without a unit, with those symbols.
    """

    annotated: bool
    time: str | None = None
    outputs: Mapping[str, Unit | None] = field(default_factory=dict)
    amounts: Mapping[str, Unit | None] = field(default_factory=dict)
    rates: Mapping[str, Unit | None] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    skipped: tuple = ()  # (where, expression, names without a unit), formatted on demand

    @property
    def unchecked(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f"{where}: {expr} (no unit for {', '.join(names)})"
                                   for where, expr, names in self.skipped))

    def unit(self, name: str) -> str | None:
        """The unit of output ``name``: the model's own text for it if it declares one, else
        the derived unit written in mg, nmol, L and the model's time unit."""
        if name in self.labels:
            return self.labels[name]
        u = self.outputs.get(name, self.amounts.get(name))
        return None if u is None else u.format(self.time or "h")

    def __str__(self) -> str:
        if not self.annotated:
            return "no units (nothing checked)"
        lines = [f"time unit: {self.time or 'unknown'}"]
        lines += [f"{name}: {self.unit(name) or 'unknown'}" for name in self.outputs]
        lines += [f"unchecked: {item}" for item in self.unchecked]
        return "\n".join(lines)


def declared_units(model) -> dict[ModelSymbol, Unit]:
    """Parse every ``unit=`` annotation of the model (an empty string counts as none).

    Example:
        >>> import qsp
        >>> A = qsp.Species("A", qsp.Compartment("c", volume=1.0), unit="mg")
        >>> m = qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=qsp.Parameter("k", 1.0) * A)])
        >>> {s.name: str(u) for s, u in declared_units(m).items()}
        {'A': 'mg'}
    """
    out = {}
    for sym in model.symbols.values():
        text = getattr(sym, "unit", None)
        if text is None or (isinstance(text, str) and not text.strip()):
            continue
        out[sym] = parse_unit(text, f"{sym.kind} {sym.name!r}")
    return out


def _time_unit(time) -> Unit:
    unit = parse_unit(time, "time unit")
    if not unit.same_dimension(_TIME_DIMENSION):
        raise UnitError(f"time unit {time!r} is a {unit.dimension}, not a time; give e.g. time='h'.")
    return unit


def _time_name(seconds) -> str:
    if seconds in TIME_NAMES:
        return TIME_NAMES[seconds]
    return f"{float(seconds) / 3600:.6g} h"


def check_units(model, time: str | None = None) -> UnitReport:
    """Check a model's units; return a :class:`UnitReport` or raise :class:`~qsp.UnitError`.

    A model without any ``unit=`` is not checked. Otherwise every reaction rate must be an
    amount per time (the amount unit of each species it changes, per the model's time
    unit), every volume a volume, every rule consistent with its variable's unit, and
    every sum and comparison consistent. ``time`` fixes the time unit; by default it is
    inferred from the rates, which must all agree on one.

    Raises:
        UnitError: a mismatch, naming the reaction or rule, the expression and both units.

    Example:
        >>> import qsp
        >>> V, CL = qsp.Parameter("V", 30.0, unit="L"), qsp.Parameter("CL", 3.0, unit="L/h")
        >>> A = qsp.Species("A", qsp.Compartment("central", volume=V), unit="mg")
        >>> m = qsp.Model("pk", reactions=[qsp.Reaction([A], [], rate=CL * A, name="elim")],
        ...               observables={"C": A})
        >>> report = check_units(m)
        >>> report.time, report.unit("C"), str(report.rates["elim"])
        ('h', 'mg/L', 'mg/h')
    """
    declared = declared_units(model)
    if not declared:
        return UnitReport(annotated=False)
    given = _time_unit(time) if time is not None else None
    first = _Analysis(model, declared, given)
    first.run()
    if given is not None:
        return first.report()
    inferred = first.infer_time()
    if inferred is None:
        return first.report()
    second = _Analysis(model, declared, inferred)  # again, with time known: scales and time-dependent terms
    second.run()
    return second.report()


def written_factors(model, declared: dict) -> dict[tuple, sp.Expr]:
    """Leading numbers that the check reads as written-out conversion factors, by site.

    Best effort on a model that may not pass (a model in mixed units, before conversion):
    what the check could not reach is simply not listed.
    """
    first = _Analysis(model, declared, None)
    try:
        first.run()
        time = first.infer_time()
        if time is None:
            return dict(first.written_factors)
        second = _Analysis(model, declared, time)
        second.run()
        return dict(second.written_factors)
    except UnitError:
        return dict(first.written_factors)


class _Analysis:
    """One pass over the model with a given (or unknown) time unit."""

    def __init__(self, model, declared: dict, time: Unit | None):
        self.model, self.declared, self.T = model, declared, time
        self.units: dict = {}  # symbol -> unit of its meaning in expressions
        self.amount: dict = {}  # species -> amount unit
        self.concentration: dict = {}  # species -> concentration unit
        self.skipped: list[tuple] = []
        self.rates: dict = {}
        self.observables: dict = {}
        self.candidates: list[tuple[str, sp.Expr, float]] = []  # (where, tau, tau with the coefficient)
        self.written_factors: dict[tuple, sp.Expr] = {}  # (kind, name...) -> leading number read as a conversion

    # ---------------------------------------------------------------- symbols
    def quantities(self) -> None:
        """Units of parameters, compartments (volume units) and species."""
        m = self.model
        for p in m.parameters:
            self.units[p] = self.declared.get(p)
        for c in m.compartments:
            self._compartment(c, set())
        for s in m.species:
            self._species(s)

    def run(self) -> None:
        m = self.model
        self.quantities()
        for r in m.rate_rules:
            self.units[r.variable] = self.declared.get(r.variable)
        for r in m.assignment_rules:
            self._assignment(r)
        for name, reaction in zip(m.reaction_names, m._reactions):  # (m.reactions re-creates each one)
            self._reaction(name, reaction)
        for r in m.rate_rules:
            self._rate_rule(r)
        for s in m.species:
            self._initial_values(s)
        for r in m.rate_rules:
            v = r.variable
            if v.initial.free_symbols:
                self._expect(self.units[v], v.initial, f"Variable {v.name!r} initial value", f"variable {v.name!r}",
                             key=("initial", v.name))
        for key, expr in m.observables.items():
            self.observables[key] = self._unit(expr, f"observable {key!r}")
        for index, event in enumerate(getattr(m, "events", ())):
            self._event(index, event)

    def _compartment(self, c: Compartment, visiting: set) -> Unit | None:
        if c in self.units:
            return self.units[c]
        if c in visiting:
            return None
        visiting.add(c)
        for other in c.volume.free_symbols:
            if isinstance(other, Compartment):
                self._compartment(other, visiting)
        declared = self.declared.get(c)
        where = f"compartment {c.name!r} volume"
        if declared is not None and not is_volume(declared):
            raise UnitError(f"Compartment {c.name!r}: unit {c.unit!r} is a {declared.dimension}, not a volume; "
                            "give a volume unit such as 'L' or 'mL'.")
        derived = None if not c.volume.free_symbols else self._unit(c.volume, where)
        derived = derived if isinstance(derived, Unit) else None
        if derived is not None:
            if not is_volume(derived):
                raise UnitError(f"{where}: {c.volume} has dimension {derived.dimension} ({self._fmt(derived)}), "
                                "but a volume is needed (volume, e.g. L).")
            self._expect(declared, c.volume, where, f"the compartment's unit {c.unit!r}", unit=derived,
                         key=("volume", c.name))
        self.units[c] = declared if declared is not None else derived
        return self.units[c]

    def _species(self, s: Species) -> None:
        declared, volume = self.declared.get(s), self.units.get(s.compartment)
        amount = concentration = None
        if declared is not None:
            if is_amount(declared.dims):
                amount = declared
                concentration = declared / volume if volume is not None else None
            elif is_concentration(declared.dims):
                concentration = declared
                amount = declared * volume if volume is not None else None
            else:
                hint = (" (unit names are case-sensitive: 'nM' is nanomolar, 'nm' a nanometre)"
                        if declared.dims[LENGTH] != 0 else "")
                raise UnitError(f"Species {s.name!r}: unit {s.unit!r} ({declared.dimension}) is neither an amount "
                                f"(a mass, substance or activity, e.g. 'mg', 'nmol', 'U') nor a concentration "
                                f"(e.g. 'mg/L', 'nM'){hint}.")
        self.amount[s], self.concentration[s] = amount, concentration
        self.units[s] = amount if s.amount_based else concentration

    def _assignment(self, rule: AssignmentRule) -> None:
        v = rule.variable
        where = f"assignment rule for {v.name!r}"
        derived = self._unit(rule.expression, where)
        declared = self.declared.get(v)
        if isinstance(derived, Unit):
            self._expect(declared, rule.expression, where, f"variable {v.name!r} (unit {v.unit!r})", unit=derived,
                         key=("assignment", v.name))
        self.units[v] = declared if declared is not None else (derived if isinstance(derived, Unit) else None)

    # ---------------------------------------------------------------- rates
    def _reaction(self, name: str, reaction: Reaction) -> None:
        where = f"reaction {name!r} rate"
        rate = self._unit(reaction.rate, where)
        if not isinstance(rate, Unit):
            self.rates[name] = None
            return
        self.rates[name] = rate
        known = [(s, self.amount[s]) for s in reaction.species() if self.amount.get(s) is not None]
        for s, amount in known:
            expected = amount / (self.T if self.T is not None else _TIME_DIMENSION)
            if not rate.same_dimension(expected):
                raise UnitError(
                    f"{where}: {reaction.rate} has dimension {rate.dimension} ({self._fmt(rate)}), but species "
                    f"{s.name!r} is counted in {amount.dimension} (unit {s.unit!r}), so the rate must be "
                    f"{expected.dimension} (amount per time). A concentration per time needs a factor of the "
                    "compartment volume."
                )
            if self.T is not None:
                self._expect(expected, reaction.rate, where, f"species {s.name!r} (amount per {self._tname()})",
                             unit=rate, key=("reaction", name))
            else:
                self._candidate(where, reaction.rate, amount / rate)
        if not known:
            per_time = rate * _TIME_DIMENSION
            if not is_amount(per_time.dims):
                raise UnitError(
                    f"{where}: {reaction.rate} has dimension {rate.dimension} ({self._fmt(rate)}), but a reaction "
                    "rate is an amount per time (mass/time, substance/time, e.g. mg/h). A concentration per time "
                    "needs a factor of the compartment volume."
                )

    def _rate_rule(self, rule) -> None:
        v = rule.variable
        where = f"rate rule for {v.name!r}"
        derivative = self._unit(rule.expression, where)
        unit = self.units.get(v)
        if not isinstance(derivative, Unit) or unit is None:
            return
        expected = unit / (self.T if self.T is not None else _TIME_DIMENSION)
        if not derivative.same_dimension(expected):
            raise UnitError(f"{where}: d{v.name}/dt = {rule.expression} has dimension {derivative.dimension} "
                            f"({self._fmt(derivative)}), but variable {v.name!r} is in {unit.dimension} "
                            f"(unit {v.unit!r}), so its derivative must be {expected.dimension}.")
        if self.T is not None:
            self._expect(expected, rule.expression, where, f"variable {v.name!r} per {self._tname()}",
                         unit=derivative, key=("rate", v.name))
        else:
            self._candidate(where, rule.expression, unit / derivative)

    def _candidate(self, where: str, expr: sp.Expr, per: Unit) -> None:
        """Record the time unit that ``where`` implies (``per`` = amount / rate, a time)."""
        if not per.scale.is_number:
            return
        tau = sp.nsimplify(per.scale)
        coefficient = abs(float(expr.as_coeff_Mul()[0]))
        entry = (f"{where}: {expr}", tau, float(tau) * coefficient)
        if entry not in self.candidates:  # one line per reaction unless its species disagree
            self.candidates.append(entry)

    def infer_time(self) -> Unit | None:
        """The one named time unit every rate agrees on (None without any fully annotated rate)."""
        if not self.candidates:
            return None
        # a rate's own time unit first; then the one it has if its leading number is a conversion factor
        options = [tau for _, tau, _ in self.candidates if tau in TIME_NAMES]
        options += [tau for _, _, c in self.candidates for tau in TIME_NAMES if nearly_equal(c, float(tau))]
        for tau in dict.fromkeys(options):
            if all(t == tau or nearly_equal(c, float(tau)) for _, t, c in self.candidates):
                return parse_unit(TIME_NAMES[tau])
        lines = "; ".join(f"{where} runs per {_time_name(tau)}" for where, tau, _ in self.candidates)
        raise UnitError(
            f"Model {self.model.name!r} mixes units: its rates do not agree on one time unit ({lines}). "
            "qsp never rescales silently: annotate consistent units, or convert the model with "
            "qsp.model.units.to_base_units(model, time='h')."
        )

    # ---------------------------------------------------------------- values
    def _initial_values(self, s: Species) -> None:
        for field_name, unit, test, kind in (("initial_amount", self.amount[s], is_amount, "an amount"),
                                             ("initial_concentration", self.concentration[s], is_concentration,
                                              "a concentration")):
            expr = getattr(s, field_name)
            if expr is not None and expr.free_symbols:
                self._expect_kind(unit, expr, f"Species {s.name!r} {field_name}", test, kind,
                                  key=(field_name, s.name))

    def _expect_kind(self, unit, expr, where, test, kind, key) -> None:
        if unit is not None:
            self._expect(unit, expr, where, where.split(" initial")[0], key=key)
            return
        got = self._unit(expr, where)
        if isinstance(got, Unit) and not test(got.dims):
            raise UnitError(f"{where}: {expr} has dimension {got.dimension} ({self._fmt(got)}), but it must be {kind}.")

    def _event(self, index: int, event) -> None:
        for what, expr in event.expressions():
            if "trigger" in what:
                self._unit(expr, what)
        for target, value in event.assignments.items():
            if value.free_symbols:
                self._expect(self.units.get(target), value, f"event {event.name or '<unnamed>'!r} assignment to "
                             f"{target.name!r}", f"{target.kind} {target.name!r}", key=("event", index, target.name))

    def _expect(self, expected: Unit | None, expr: sp.Expr, where: str, what: str, unit=None, key=None) -> None:
        """``expr`` (of unit ``unit``, else walked) must be in ``expected``: same dimension and size.

        A top-level number that converts exactly between the two (``1000*A`` for an output in
        ng/mL of A in mg/L) counts as a written-out conversion factor: it is accepted and
        recorded under ``key`` in :attr:`written_factors` (``to_base_units`` removes it).
        """
        got = unit if unit is not None else self._unit(expr, where)
        if expected is None or not isinstance(got, Unit):
            return
        if not got.same_dimension(expected):
            raise UnitError(f"{where}: {expr} has dimension {got.dimension} ({self._fmt(got)}), but {what} "
                            f"needs {expected.dimension} ({self._fmt(expected)}).")
        if got.same_scale(expected):
            return
        coefficient = expr.as_coeff_Mul()[0]
        ratio = sp.simplify(expected.scale / got.scale)
        if ratio.is_number and coefficient != 1 and nearly_equal(abs(float(coefficient)), float(1 / ratio)):
            if key is not None:
                self.written_factors[key] = coefficient
            return
        raise UnitError(
            f"{where}: {expr} is in {self._fmt(got)}, but {what} needs {self._fmt(expected)}: the same dimension "
            f"({got.dimension}) in units of a different size (factor {number_text(ratio)}). qsp never rescales "
            "silently: annotate consistent units, or convert the model with "
            "qsp.model.units.to_base_units(model, time=...)."
        )

    # ---------------------------------------------------------------- expressions
    def _fmt(self, unit: Unit) -> str:
        return unit.format(self._tname())

    def _tname(self) -> str:
        return TIME_NAMES.get(self.T.scale, "h") if self.T is not None else "h"

    def _unit(self, expr: sp.Basic, where: str):
        """The unit of ``expr``: a Unit, ANY (exact zero), BOOLEAN, or None (unknown)."""
        missing, known = [], False
        for s in expr.free_symbols:
            unit = self.T if isinstance(s, Time) else self.units.get(s)
            if unit is None:
                missing.append("time" if isinstance(s, Time) else s.name)
            else:
                known = True
        if missing and not known:  # nothing in it to check: skip the walk (large unannotated models)
            self.skipped.append((where, expr, tuple(sorted(missing))))
            return None
        result = Walker(self.units, self.T, where, self._fmt).walk(expr)
        if result is None and missing:
            self.skipped.append((where, expr, tuple(sorted(missing))))
        return result

    def report(self) -> UnitReport:
        m = self.model
        outputs: dict = {}
        for sym in m.symbols.values():
            outputs[sym.name] = self.concentration.get(sym) if isinstance(sym, Species) else self.units.get(sym)
        for key, unit in self.observables.items():
            outputs[key] = unit if isinstance(unit, Unit) else None
        return UnitReport(annotated=True, time=self._tname() if self.T is not None else None, outputs=outputs,
                          amounts={s.name: self.amount.get(s) for s in m.species}, rates=dict(self.rates),
                          labels=self._labels(), skipped=tuple(self.skipped))

    def _labels(self) -> dict[str, str]:
        """The model's own unit text per output (a species: its concentration, 'mg' over 'L')."""
        labels = {}
        for sym in self.model.symbols.values():
            text = self.declared.get(sym) is not None and sym.unit.strip()
            if not text:
                continue
            if isinstance(sym, Species) and self.amount.get(sym) is self.declared[sym]:
                volume = self.declared.get(sym.compartment)
                if volume is None:
                    continue
                vtext = sym.compartment.unit.strip()
                text = f"{text}/{vtext}" if "/" not in vtext and "*" not in vtext else f"{text}/({vtext})"
            labels[sym.name] = text
        return labels


def is_volume(unit: Unit) -> bool:
    """Length cubed (any scale).

    Example:
        >>> is_volume(parse_unit("mL")), is_volume(parse_unit("m^2"))
        (True, False)
    """
    return all(d == (3 if i == LENGTH else 0) for i, d in enumerate(unit.dims))
