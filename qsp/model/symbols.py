"""The named quantities of a model: parameters, compartments, species, variables, time.

Each is a :class:`sympy.Symbol` subclass that carries its metadata, so that ordinary
Python arithmetic builds model expressions (``CL * A``) whose free symbols *are* the
declared objects. Nothing is looked up by name in a global registry or a calling frame.

What a symbol means inside an expression:

=============  ==========================================================
``Parameter``  its value (a model input; changing it never recompiles)
``Compartment`` its volume
``Species``    its concentration, amount / volume (or its amount, when the
               species is declared ``amount_based=True``)
``Variable``   the value of its assignment rule, or its state (rate rule)
``time``       the independent variable, in the model's time unit
=============  ==========================================================
"""

from __future__ import annotations

import numbers
from typing import Any

import sympy as sp

from ..errors import ModelError

Expression = sp.Expr


def as_expression(value: Any, what: str) -> sp.Expr:
    """Convert a number or a sympy expression into a sympy expression.

    Text is refused on purpose: qsp never parses strings as code. ``what`` names the
    field in the error message.

    Example:
        >>> as_expression(2, "volume")
        2
    """
    if isinstance(value, sp.Basic):
        return value
    if isinstance(value, bool):
        raise ModelError(f"{what} is the boolean {value!r}; give a number or an expression.")
    if isinstance(value, numbers.Integral):
        return sp.Integer(int(value))
    if isinstance(value, numbers.Real):
        return sp.Float(float(value))
    if hasattr(value, "shape") and getattr(value, "shape", None) == ():
        return sp.Float(float(value))
    if isinstance(value, str):
        raise ModelError(
            f"{what} is the string {value!r}; qsp does not parse text as code. "
            "Build the expression from qsp objects, e.g. `CL * A` with CL = qsp.Parameter(...)."
        )
    raise ModelError(f"{what} is {value!r} of type {type(value).__name__}; give a number or an expression.")


def _check_name(name: Any, kind: str) -> str:
    if not isinstance(name, str) or not name.isidentifier():
        raise ModelError(
            f"{kind} name {name!r} is not a valid identifier; use letters, digits and underscores, "
            "not starting with a digit (e.g. 'CL', 'A_central')."
        )
    return name


class ModelSymbol(sp.Symbol):
    """Base class of every named model quantity (abstract).

    Subclasses list their metadata in ``_fields``; ``identity()`` is the key used to
    decide whether two objects with one name are the same quantity (composition by
    identity) or a clash.
    """

    _fields: tuple[str, ...] = ()
    kind = "symbol"

    def __new__(cls, name: str, **fields: Any):
        obj = sp.Symbol.__xnew__(cls, _check_name(name, cls.kind))
        for key in cls._fields:
            setattr(obj, key, fields.get(key))
        return obj

    def __getnewargs_ex__(self):
        return ((self.name,), {k: getattr(self, k) for k in self._fields})

    def __reduce_ex__(self, protocol):
        return (_rebuild, (type(self), self.name, {k: getattr(self, k) for k in self._fields}))

    def _hashable_content(self):
        # Metadata is part of equality and hash: sympy caches expressions by their
        # arguments, so two objects with one name but different values must not compare
        # equal, or a cached `CL*A` would silently keep the old CL.
        return (self.name, *self._metadata_key())

    def _metadata_key(self) -> tuple:
        return tuple(getattr(self, key, None) for key in self._fields)

    def identity(self) -> tuple:
        """A hashable key: same key means the same model quantity."""
        values = []
        for key in self._fields:
            value = getattr(self, key)
            values.append(value.identity() if isinstance(value, ModelSymbol) else value)
        return (type(self).__name__, self.name, tuple(values))

    def replaced(self, name: str | None = None, mapping: dict | None = None) -> "ModelSymbol":
        """A copy with a new name and with ``mapping`` applied to its expression fields."""
        fields = {}
        for key in self._fields:
            value = getattr(self, key)
            if mapping and isinstance(value, sp.Basic):
                value = value.xreplace(mapping)
            fields[key] = value
        return type(self)._from_fields(name or self.name, fields)

    @classmethod
    def _from_fields(cls, name: str, fields: dict) -> "ModelSymbol":
        return cls.__new__(cls, name, **fields)

    def expression_fields(self) -> dict[str, sp.Basic]:
        """The metadata fields that hold sympy expressions (checked by validation)."""
        return {k: getattr(self, k) for k in self._fields if isinstance(getattr(self, k), sp.Basic)}


def _rebuild(cls, name, fields):
    return cls._from_fields(name, fields)


class Parameter(ModelSymbol):
    """A model input with a default value, e.g. a clearance.

    In expressions a parameter means its value. Values are data: ``simulate(...,
    params={"CL": 2.5})`` overrides the default without recompiling.

    Args:
        name: identifier.
        value: default value (a float).
        unit: unit text, e.g. ``"L/h"`` (checked by the units module when present).
        description: what it means, for tables and docs.
        bounds: ``(lower, upper)`` for estimation; either may be ``None``.

    Example:
        >>> CL = Parameter("CL", 3.0, unit="L/h", description="clearance")
        >>> CL.value
        3.0
    """

    _fields = ("value", "unit", "description", "bounds")
    kind = "Parameter"

    def __new__(cls, name, value=None, unit=None, description=None, bounds=None):
        if value is None:
            raise ModelError(f"Parameter {name!r} has no value; give one, e.g. qsp.Parameter({name!r}, 1.0).")
        if isinstance(value, (bool, str)):
            raise ModelError(f"Parameter {name!r} has value {value!r}; it must be a number.")
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ModelError(f"Parameter {name!r} has value {value!r}; it must be a number.") from None
        if bounds is not None:
            lo, hi = bounds
            if lo is not None and hi is not None and lo > hi:
                raise ModelError(f"Parameter {name!r} has bounds {bounds!r} with lower > upper.")
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                raise ModelError(f"Parameter {name!r} has value {value} outside its bounds {bounds!r}.")
            bounds = (None if lo is None else float(lo), None if hi is None else float(hi))
        return ModelSymbol.__new__(cls, name, value=value, unit=unit, description=description, bounds=bounds)

    @classmethod
    def _from_fields(cls, name, fields):
        return cls.__new__(cls, name, **fields)


class Compartment(ModelSymbol):
    """A well-mixed volume that holds species; in expressions it means its volume.

    Args:
        name: identifier.
        volume: a positive number, a :class:`Parameter`, or an expression of parameters.
        unit: unit text, e.g. ``"L"``.

    Example:
        >>> V = Parameter("V", 30.0, unit="L")
        >>> Compartment("central", volume=V).volume
        V
    """

    _fields = ("volume", "unit", "description")
    kind = "Compartment"

    def __new__(cls, name, volume=1.0, unit=None, description=None):
        volume = as_expression(volume, f"Compartment {name!r} volume")
        if volume.is_number and not (float(volume) > 0):
            raise ModelError(
                f"Compartment {name!r} has volume {volume}; a volume must be positive "
                f"(e.g. qsp.Compartment({name!r}, volume=1.0))."
            )
        if isinstance(volume, Parameter) and not volume.value > 0:
            raise ModelError(
                f"Compartment {name!r} has volume parameter {volume.name!r} = {volume.value}; "
                "a volume must be positive. Give the parameter a positive value."
            )
        return ModelSymbol.__new__(cls, name, volume=volume, unit=unit, description=description)

    @classmethod
    def _from_fields(cls, name, fields):
        return cls.__new__(cls, name, **fields)


class Species(ModelSymbol):
    """A chemical species in a compartment, integrated as an amount.

    In expressions the species means its *concentration* (amount / compartment volume),
    unless ``amount_based=True``, in which case it means its amount.

    Args:
        name: identifier.
        compartment: the :class:`Compartment` that holds it.
        initial_amount: initial amount (number or expression of parameters).
        initial_concentration: initial concentration; give at most one of the two (default: amount 0).
        boundary: reactions do not change it (it may still be dosed or set by rules).
        constant: it never changes.
        amount_based: its symbol means amount rather than concentration.
        unit: unit text of its amount (``"mg"``) or concentration (``"mg/L"``).
        molecular_weight: g/mol, for converting mass to amount of substance
            (:func:`qsp.model.units.to_base_units`); optional.

    Example:
        >>> central = Compartment("central", volume=Parameter("V", 30.0))
        >>> A = Species("A", central, initial_amount=0.0)
        >>> A.compartment.name
        'central'
    """

    _fields = ("compartment", "initial_amount", "initial_concentration", "boundary", "constant",
               "amount_based", "unit", "description", "molecular_weight")
    kind = "Species"

    def __new__(cls, name, compartment=None, initial_amount=None, initial_concentration=None,
                boundary=False, constant=False, amount_based=False, unit=None, description=None,
                molecular_weight=None):
        if not isinstance(compartment, Compartment):
            raise ModelError(
                f"Species {name!r} needs a compartment: qsp.Species({name!r}, qsp.Compartment('central', volume=1.0)); "
                f"got {compartment!r}."
            )
        if initial_amount is not None and initial_concentration is not None:
            raise ModelError(
                f"Species {name!r} has both initial_amount and initial_concentration; give only one."
            )
        if initial_amount is not None:
            initial_amount = as_expression(initial_amount, f"Species {name!r} initial_amount")
        if initial_concentration is not None:
            initial_concentration = as_expression(initial_concentration, f"Species {name!r} initial_concentration")
        if molecular_weight is not None:
            if isinstance(molecular_weight, bool) or not isinstance(molecular_weight, numbers.Real) \
                    or not molecular_weight > 0:
                raise ModelError(f"Species {name!r} has molecular_weight {molecular_weight!r}; give a positive "
                                 "number in g/mol, e.g. molecular_weight=151.16.")
            molecular_weight = float(molecular_weight)
        return ModelSymbol.__new__(
            cls, name, compartment=compartment, initial_amount=initial_amount,
            initial_concentration=initial_concentration, boundary=bool(boundary), constant=bool(constant),
            amount_based=bool(amount_based), unit=unit, description=description,
            molecular_weight=molecular_weight,
        )

    @classmethod
    def _from_fields(cls, name, fields):
        return cls.__new__(cls, name, **fields)

    def expression_fields(self):
        return {k: getattr(self, k) for k in ("initial_amount", "initial_concentration")
                if getattr(self, k) is not None}

    def initial_amount_expression(self) -> sp.Expr:
        """The initial amount as an expression (concentration × volume when given as concentration)."""
        if self.initial_amount is not None:
            return self.initial_amount
        if self.initial_concentration is not None:
            return self.initial_concentration * self.compartment
        return sp.Integer(0)


class Variable(ModelSymbol):
    """A named quantity that is not a species: defined by an assignment rule or a rate rule.

    With :class:`~qsp.AssignmentRule` it is a derived quantity (e.g. a free concentration);
    with :class:`~qsp.RateRule` it is a state of its own (e.g. an effect compartment),
    starting from ``initial`` (number or expression of parameters; default 0).

    Example:
        >>> Ce = Variable("Ce", initial=0.0, unit="mg/L")
        >>> Ce.initial
        0.0
    """

    _fields = ("initial", "unit", "description")
    kind = "Variable"

    def __new__(cls, name, initial=0, unit=None, description=None):
        initial = as_expression(initial, f"Variable {name!r} initial")
        return ModelSymbol.__new__(cls, name, initial=initial, unit=unit, description=description)

    @classmethod
    def _from_fields(cls, name, fields):
        return cls.__new__(cls, name, **fields)


class Time(ModelSymbol):
    """The independent variable; use the module-level :data:`qsp.time`.

    Example:
        >>> import sympy as sp
        >>> expr = sp.cos(2 * sp.pi * time / 24)
        >>> time in expr.free_symbols
        True
    """

    kind = "Time"


time = Time("t")
"""The time symbol, usable in any expression (e.g. circadian forcing)."""
