"""``to_base_units``: a model written in mixed units → the same model in one unit system.

Every annotated quantity is re-expressed in the base unit of its dimension (for example
mg, nmol, L and h): a parameter's value (and bounds) is multiplied by the exact factor and
its ``unit`` becomes the base unit; so are numbers that stand in a declared unit (a
compartment's numeric volume, a species' numeric initial amount or concentration, a
variable's numeric initial value, a number assigned by an event). Every symbol then holds a
base-unit value, and because the base system is coherent (L = dm³, mg/L × L = mg, ...)
every expression, unchanged, computes in base units too. Parameter values stay data: new
values never recompile.

Mass and amount of substance are different dimensions. With ``amount="nmol"`` a quantity
that has a molecular weight (``Species(..., molecular_weight=...)`` or an entry of
``molecular_weights``) is moved from mass to substance (1 g = 1/MW mol); ``amount="mg"``
moves the other way. Quantities without a molecular weight keep their kind (a body weight
stays a mass).
"""

from __future__ import annotations

from typing import Mapping

import sympy as sp

from ..errors import UnitError
from .events import Event
from .model import Model
from .symbols import Compartment, Parameter, Species, Variable
from .reaction import Reaction
from .rules import AssignmentRule
from .unit_check import _Analysis, _time_unit, check_units, declared_units, is_volume, written_factors
from .unit_grammar import ACTIVITY, LENGTH, MASS, SUBSTANCE, TIME, TIME_NAMES, UNITS, Unit, parse_unit


class _BaseSystem:
    """The target units: one per base dimension, with names that parse back exactly."""

    def __init__(self, time: Unit, amount: Unit, volume: Unit, mass: str | None, substance: str | None,
                 amount_text: str):
        self.prefer = MASS if amount.dims[MASS] == 1 else SUBSTANCE
        mass = mass or (amount_text if self.prefer == MASS else "mg")
        substance = substance or (amount_text if self.prefer == SUBSTANCE else "nmol")
        mass_unit, substance_unit = parse_unit(mass, "mass unit"), parse_unit(substance, "substance unit")
        if mass_unit.dims[MASS] != 1 or not all(d == 0 for i, d in enumerate(mass_unit.dims) if i != MASS):
            raise UnitError(f"mass unit {mass!r} is not a mass; give e.g. mass='mg'.")
        if substance_unit.dims[SUBSTANCE] != 1 or not all(d == 0 for i, d in enumerate(substance_unit.dims)
                                                          if i != SUBSTANCE):
            raise UnitError(f"substance unit {substance!r} is not an amount of substance; give e.g. substance='nmol'.")
        length = volume.scale ** sp.Rational(1, 3)
        if not length.is_Rational:
            raise UnitError(f"volume unit {volume.format()!r} is not the cube of a length unit; "
                            "choose L, mL, uL or nL.")
        self.scales = (mass_unit.scale, substance_unit.scale, length, time.scale, sp.Integer(1))
        length_name = next((n for n, u in UNITS.items() if u.dims[LENGTH] == 1 and sum(u.dims) == 1
                            and u.scale == length and n.isascii()), None)
        volume_name = next(n for n, u in UNITS.items() if is_volume(u) and u.scale == volume.scale and n.isascii())
        self.names = {MASS: mass, SUBSTANCE: substance, TIME: TIME_NAMES[time.scale], ACTIVITY: "U",
                      "volume": volume_name, LENGTH: length_name}

    def target(self, unit: Unit, molecular_weight, item: str) -> tuple[sp.Expr, str]:
        """(factor, unit text): value_in_unit × factor = value in the base unit of its dimension."""
        dims, scale = list(unit.dims), unit.scale
        if molecular_weight is not None:
            mw = sp.nsimplify(molecular_weight, rational=True)
            if self.prefer == SUBSTANCE and dims[MASS] != 0:
                e = dims[MASS]
                scale, dims[SUBSTANCE], dims[MASS] = scale / mw**e, dims[SUBSTANCE] + e, 0
            elif self.prefer == MASS and dims[SUBSTANCE] != 0:
                e = dims[SUBSTANCE]
                scale, dims[MASS], dims[SUBSTANCE] = scale * mw**e, dims[MASS] + e, 0
        base = sp.Integer(1)
        for s, d in zip(self.scales, dims):
            base = base * s**d
        return sp.nsimplify(scale / base), self.text(dims, item)

    def text(self, dims, item: str) -> str:
        """Parseable text of the base unit with exponents ``dims``, e.g. ``'L/(nmol*h)'``."""
        num, den = [], []
        pieces = [(self.names[MASS], dims[MASS]), (self.names[SUBSTANCE], dims[SUBSTANCE]),
                  (self.names[ACTIVITY], dims[ACTIVITY])]
        length = dims[LENGTH]
        if length % 3 == 0:
            pieces.append((self.names["volume"], length // 3))
        elif self.names[LENGTH] is None:
            raise UnitError(f"{item}: its unit has length^{length}, which has no name next to volume "
                            f"{self.names['volume']!r}; choose volume='L' or 'mL'.")
        else:
            pieces.append((self.names[LENGTH], length))
        pieces.append((self.names[TIME], dims[TIME]))
        for name, e in pieces:
            if e == 0:
                continue
            power = abs(int(e))
            (num if e > 0 else den).append(name if power == 1 else f"{name}^{power}")
        top = "*".join(num) or "1"
        if not den:
            return top
        return f"{top}/{den[0]}" if len(den) == 1 else f"{top}/({'*'.join(den)})"


def to_base_units(model: Model, *, time: str | None = None, amount: str = "mg", volume: str = "L",
                  mass: str | None = None, substance: str | None = None,
                  molecular_weights: Mapping[str, float] | None = None) -> Model:
    """The same model with every quantity in one consistent unit system.

    Args:
        model: a model with a unit on every parameter, species and rate-rule variable (and
            on each compartment whose volume is a plain number); dimensionless ones take
            ``unit="1"``.
        time: the model's time unit (``"h"``, ``"min"``, ``"day"``...); by default the one
            its rates already agree on.
        amount: the unit of amounts, a mass (``"mg"``) or an amount of substance
            (``"nmol"``); quantities with a molecular weight are moved to its kind.
        volume: the volume unit (``"L"``, ``"mL"``, ``"uL"`` or ``"nL"``).
        mass, substance: the base unit of the other kind (default ``"mg"`` and ``"nmol"``).
        molecular_weights: name → g/mol, for parameters or variables (or species without
            their own ``molecular_weight``) that must move between mass and substance.

    Returns:
        A new model: parameter values (and bounds) rescaled exactly, every ``unit`` the base
        unit, numbers that stood in a declared unit rescaled. Simulate it with times in
        ``time`` and dose amounts in the species' new amount unit (``model.symbol(name).unit``);
        :func:`~qsp.model.units.convert` converts numbers.

    Raises:
        UnitError: a quantity without a unit, an unknown name in ``molecular_weights``, or a
            model still inconsistent after conversion (named by :func:`check_units`).

    Example:
        >>> import qsp
        >>> V = qsp.Parameter("V", 30.0, unit="L")
        >>> CL = qsp.Parameter("CL", 50.0, unit="mL/min")
        >>> A = qsp.Species("A", qsp.Compartment("central", volume=V), unit="mg")
        >>> m = qsp.Model("pk", reactions=[qsp.Reaction([A], [], rate=CL * A)], observables={"C": A})
        >>> base = to_base_units(m, time="h")
        >>> base.symbol("CL").value, base.symbol("CL").unit
        (3.0, 'L/h')
    """
    declared = declared_units(model)
    if not declared:
        raise UnitError(f"Model {model.name!r} carries no units, so there is nothing to convert; annotate its "
                        "quantities (unit='mg', 'L/h', ...) first.")
    if time is None:
        try:
            time = check_units(model).time
        except UnitError as err:
            raise UnitError(f"to_base_units cannot infer the time unit of model {model.name!r}; pass time='h' "
                            f"(or another). The check said: {err}") from None
        if time is None:
            raise UnitError(f"Model {model.name!r}: no rate fixes its time unit; pass time='h' (or another).")
    amount_unit = parse_unit(amount, "amount unit")
    if not (amount_unit.dims[MASS] == 1 or amount_unit.dims[SUBSTANCE] == 1) or \
            sum(abs(d) for d in amount_unit.dims) != 1:
        raise UnitError(f"amount unit {amount!r} is a {amount_unit.dimension}; give a mass ('mg') or an amount "
                        "of substance ('nmol').")
    volume_unit = parse_unit(volume, "volume unit")
    if not is_volume(volume_unit):
        raise UnitError(f"volume unit {volume!r} is a {volume_unit.dimension}; give e.g. volume='L'.")
    time_unit = _time_unit(time)
    if time_unit.scale not in TIME_NAMES:
        raise UnitError(f"time unit {time!r} is not one of {', '.join(TIME_NAMES.values())}.")
    base = _BaseSystem(time_unit, amount_unit, volume_unit, mass, substance, amount)
    weights = _weights(model, molecular_weights or {})
    _require_units(model, declared)
    # compartment volume units (declared, or from the volume expression), by name
    analysis = _Analysis(model, declared, None)
    analysis.quantities()
    volume_units = {c.name: analysis.units.get(c) for c in model.compartments}
    # A leading number that the check read as a conversion factor (``1000*A`` for ng/mL) would be
    # wrong once every symbol is in base units: drop it, the variable takes the base unit instead.
    model = _without_written_factors(model, written_factors(model, declared))
    declared = declared_units(model)  # keyed by the (possibly rebuilt) symbols of that model

    overrides: dict[str, dict] = {}
    factors: dict = {}  # symbol -> factor of a number standing in its unit (species: concentration)
    for sym, unit in declared.items():
        item = f"{sym.kind} {sym.name!r}"
        mw = weights.get(sym.name)
        factor, text = base.target(unit, mw, item)
        fields: dict = {"unit": text}
        if isinstance(sym, Parameter):
            fields["value"] = float(sym.value * factor)
            if sym.bounds is not None:
                fields["bounds"] = tuple(None if b is None else float(b * factor) for b in sym.bounds)
        elif isinstance(sym, Compartment):
            if not sym.volume.free_symbols:
                fields["volume"] = _rescaled(sym.volume, factor)
        elif isinstance(sym, Variable):
            if not sym.initial.free_symbols:
                fields["initial"] = _rescaled(sym.initial, factor)
        elif isinstance(sym, Species):
            volume_of = volume_units.get(sym.compartment.name)
            if volume_of is None:
                raise UnitError(f"{item}: the volume unit of compartment {sym.compartment.name!r} is unknown; give "
                                "the compartment (or the parameters of its volume) a unit.")
            amount_of = unit if unit.dims[LENGTH] == 0 else unit * volume_of
            f_amount, _ = base.target(amount_of, mw, item)
            f_conc, _ = base.target(amount_of / volume_of, mw, item)
            if sym.initial_amount is not None and not sym.initial_amount.free_symbols:
                fields["initial_amount"] = _rescaled(sym.initial_amount, f_amount)
            if sym.initial_concentration is not None and not sym.initial_concentration.free_symbols:
                fields["initial_concentration"] = _rescaled(sym.initial_concentration, f_conc)
            factor = f_amount if sym.amount_based else f_conc
        factors[sym.name] = factor
        overrides[sym.name] = fields
    converted = model._rebuilt(lambda s: None, overrides)
    converted = _rescale_event_numbers(converted, factors)
    check_units(converted, time=base.names[TIME])
    return converted


def _rescaled(number: sp.Expr, factor: sp.Expr) -> sp.Expr:
    """``number × factor``, exact for integers and rationals (a float stays a float)."""
    return sp.Float(float(number) * float(factor)) if number.is_Float else sp.nsimplify(number * factor)


def _weights(model: Model, given: Mapping[str, float]) -> dict[str, float]:
    weights = {s.name: s.molecular_weight for s in model.species if getattr(s, "molecular_weight", None)}
    for name, mw in given.items():
        if name not in model:
            raise UnitError(f"molecular_weights names {name!r}, which model {model.name!r} does not have.")
        if isinstance(mw, bool) or not isinstance(mw, (int, float)) or not mw > 0:
            raise UnitError(f"molecular_weights[{name!r}] = {mw!r}; give a positive number in g/mol.")
        weights.setdefault(name, float(mw))
    return weights


def _require_units(model: Model, declared: dict) -> None:
    missing = [f"{p.kind} {p.name!r}" for p in model.parameters if p not in declared]
    missing += [f"Species {s.name!r}" for s in model.species if s not in declared]
    missing += [f"Variable {r.variable.name!r} (rate rule)" for r in model.rate_rules if r.variable not in declared]
    missing += [f"Compartment {c.name!r} (volume {c.volume})" for c in model.compartments
                if c not in declared and not c.volume.free_symbols]
    if missing:
        raise UnitError(
            f"to_base_units needs a unit on every quantity of model {model.name!r}, and these have none: "
            f"{', '.join(missing)}. Give each one unit=... (a dimensionless one unit='1'); an unannotated value "
            "could not be rescaled and would silently keep its old meaning."
        )


def _rest(expr: sp.Expr) -> sp.Expr:
    """``expr`` without its leading number (its sign kept)."""
    coefficient, rest = expr.as_coeff_Mul()
    return -rest if coefficient < 0 else rest


def _without_written_factors(model: Model, written: dict) -> Model:
    if not written:
        return model
    overrides: dict[str, dict] = {}
    for key in written:
        kind, name = key[0], key[-1]
        if kind in ("volume", "initial", "initial_amount", "initial_concentration"):
            overrides.setdefault(name, {})[kind] = _rest(getattr(model.symbol(name), kind))  # kind = field name
    if overrides:
        model = model._rebuilt(lambda s: None, overrides)
    reactions = [Reaction(r.reactants, r.products, rate=_rest(r.rate) if ("reaction", r.name) in written else r.rate,
                          name=r.name, mass_action=r.mass_action) for r in model.reactions]
    rules = []
    for rule in model.rules:
        kind = "assignment" if isinstance(rule, AssignmentRule) else "rate"
        stripped = (kind, rule.variable.name) in written
        rules.append(type(rule)(rule.variable, _rest(rule.expression)) if stripped else rule)
    events = []
    for index, e in enumerate(getattr(model, "events", ())):
        assignments = {t: (_rest(v) if ("event", index, t.name) in written else v) for t, v in e.assignments.items()}
        events.append(Event(e.trigger, assignments, name=e.name, persistent=e.persistent,
                            initial_value=e.initial_value, use_values_from_trigger_time=e.use_values_from_trigger_time))
    return _remade(model, reactions=reactions, rules=rules, events=events)


def _remade(model: Model, **parts) -> Model:
    """``model`` with some of its parts replaced (every quantity declared, so none is lost)."""
    fields = dict(reactions=model.reactions, observables=model.observables, rules=model.rules,
                  events=getattr(model, "events", ()))
    fields.update(parts)
    return Model(model.name, parameters=model.parameters, species=model.species, compartments=model.compartments,
                 description=model.description, **fields)


def _rescale_event_numbers(model: Model, factors: dict) -> Model:
    """Numbers assigned by events stand in their target's unit: rescale them too."""
    events = getattr(model, "events", ())
    if not any(not v.free_symbols and t.name in factors for e in events for t, v in e.assignments.items()):
        return model
    new_events = []
    for e in events:
        assignments = {t: (_rescaled(v, factors[t.name]) if not v.free_symbols and t.name in factors else v)
                       for t, v in e.assignments.items()}
        new_events.append(Event(e.trigger, assignments, name=e.name, persistent=e.persistent,
                                initial_value=e.initial_value,
                                use_values_from_trigger_time=e.use_values_from_trigger_time))
    return _remade(model, events=new_events)
