"""Units: parse unit strings, check a model's dimensions, convert a model into one unit system.

Parameters, compartments, species and variables may carry ``unit="..."``. Nothing else
about a model changes when they do: units are checked and converted, never used to
reinterpret a value behind the modeller's back.

**Grammar** (:func:`parse_unit`): names such as ``mg``, ``ug``/``µg``/``mcg``, ``nmol``, ``nM``,
``L``, ``mL``, ``h``, ``min``, ``day``, ``U`` combined with ``*``, ``/``, ``^`` and parentheses:
``"mg/L"``, ``"1/h"``, ``"h^-1"``, ``"mg*h/L"``, ``"L/(nmol*h)"``, ``"mL/min/1.73m^2"``. Scales are
exact rationals. See :mod:`qsp.model.unit_grammar` for the full grammar.

**Checking** (:func:`check_units`, run by :func:`qsp.compile` on every model):

* a model with no unit at all is not checked;
* otherwise each reaction rate must be an amount per time: for every species it changes, that
  species' amount unit per the model's time unit (inside a rate a species symbol is a
  concentration, amount / volume, unless ``amount_based``); each compartment volume must be a
  volume; an assignment rule must give its variable's unit, a rate rule its unit per time;
  sums, comparisons, ``Min``/``Max`` and ``Piecewise`` branches must agree; ``exp``/``log``/``sin``...
  take dimensionless arguments;
* agreeing in dimension is not enough: ``CL`` in mL/min next to ``V`` in L and rates per hour
  is an error, not a silent factor of 60/1000. A leading number that is *exactly* the
  conversion factor (``Cout = 1000*A`` for ng/mL from mg/L) is accepted as written-out;
* the time unit is inferred from the rates (they must agree on one of ms, s, min, h, day,
  week, year) or given as ``check_units(model, time="h")``;
* **partial annotation**: a symbol without a unit is *unknown*; anything that uses it is
  skipped and listed in :attr:`UnitReport.unchecked`. Nothing is guessed, so annotate
  dimensionless parameters with ``unit="1"`` to have their expressions checked. Plain numbers
  are dimensionless, except where a number stands for a quantity that has a declared unit (a
  compartment's numeric volume, a species' numeric initial amount or concentration, a
  variable's numeric initial value): there it is read in that unit. An empty string counts
  as no unit.

**Conversion** (:func:`to_base_units`, a pure model → model transform): every quantity is
re-expressed in one coherent system (e.g. mg or nmol, L, h); parameter values are rescaled
exactly; expressions need no change. Mass ↔ amount of substance needs a molecular weight
(``Species(..., molecular_weight=g_per_mol)`` or ``molecular_weights={name: g_per_mol}``).
Simulate the converted model with output times in its time unit and dose amounts in each
species' amount unit (``model.symbol(name).unit``); :func:`convert` converts plain numbers
and arrays, e.g. a dose or a parameter override.

Example:
    >>> import qsp
    >>> from qsp.model import units
    >>> V = qsp.Parameter("V", 30.0, unit="L")
    >>> CL = qsp.Parameter("CL", 50.0, unit="mL/min")
    >>> A = qsp.Species("A", qsp.Compartment("central", volume=V), unit="mg")
    >>> m = qsp.Model("pk", reactions=[qsp.Reaction([A], [], rate=CL * A, name="elim")])
    >>> units.check_units(m).time is None     # CL*A is in 0.06 mg/h: no time unit fits
    Traceback (most recent call last):
    ...
    qsp.errors.UnitError: Model 'pk' mixes units: ...
    >>> units.to_base_units(m, time="h").symbol("CL").value
    3.0
"""

from __future__ import annotations

from .unit_check import UnitReport, check_units
from .unit_conversion import to_base_units
from .unit_grammar import ACCEPTED, UNITS, Unit, conversion_factor, convert, parse_unit

__all__ = ["ACCEPTED", "UNITS", "Unit", "UnitReport", "check_units", "conversion_factor", "convert",
           "parse_unit", "to_base_units"]
