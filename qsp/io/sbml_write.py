"""qsp.Model -> SBML Level 3 Version 2 text (the inverse of :mod:`qsp.io.sbml`).

=====================================  ===============================================
qsp                                    SBML
=====================================  ===============================================
Compartment                            compartment, constant, 3-D; a volume that is an
                                       expression gets an initial assignment (and its
                                       default value as ``size``)
Parameter                              constant parameter
Species                                species; ``hasOnlySubstanceUnits`` =
                                       ``amount_based``; a numeric initial amount or
                                       concentration as the attribute, an expression
                                       as an initial assignment in the symbol's meaning
Variable + AssignmentRule / RateRule   non-constant parameter + assignmentRule /
                                       rateRule (initial value: ``value`` or an
                                       initial assignment)
Reaction                               reaction (stoichiometry, kinetic law = rate,
                                       species used only in the rate as modifiers)
observable ``name``                    non-constant parameter ``name`` with an
                                       assignmentRule (reads back as a Variable)
Event                                  event with trigger, persistent, initialValue,
                                       useValuesFromTriggerTime and assignments
qsp.time                               the time csymbol
=====================================  ===============================================

Math goes through :class:`qsp.io.mathml_write.MathWriter` (sympy trees to ``ASTNode`` trees;
no formula text). Units are free text in qsp and are not written.
"""

from __future__ import annotations

import re

import sympy as sp

from ..model import AssignmentRule, Model, Species
from .mathml import SBMLError, UnsupportedSBMLError, libsbml
from .mathml_write import MathWriter

_SID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _check_id(name: str, what: str) -> str:
    if not _SID.match(name):
        raise UnsupportedSBMLError(f"{what} {name!r} is not a valid SBML identifier (ASCII letters, digits and "
                                   "underscores, not starting with a digit); rename it.")
    return name


def _default(expr, model: Model):
    """The value of an expression of parameters and compartments at the defaults, or None."""
    values = {p: sp.Float(p.value) for p in model.parameters}
    for _ in range(len(model.compartments) + 1):
        expr = expr.xreplace({c: c.volume for c in model.compartments}).xreplace(values)
    return float(expr) if expr.is_number and expr.is_real else None


def write_sbml(model: Model) -> str:
    """Write ``model`` as SBML Level 3 Version 2 text.

    :func:`qsp.io.read_sbml` reads the text back to a model with the same simulation
    (observables come back as assignment-rule variables of the same name).

    Raises:
        UnsupportedSBMLError: a name is not a valid SBML identifier, a stoichiometry is not
            a number, or an expression uses a function MathML lacks.

    Example:
        >>> import qsp
        >>> A = qsp.Species("A", qsp.Compartment("c", volume=2.0), initial_amount=10.0)
        >>> text = write_sbml(qsp.Model("decay", reactions=[qsp.Reaction([A], [], rate=qsp.Parameter("k", 0.3) * A)]))
        >>> 'level="3" version="2"' in text and '<ci> k </ci>' in text
        True
    """
    if not isinstance(model, Model):
        raise SBMLError(f"write_sbml() takes a qsp.Model, got {type(model).__name__}.")
    lib = libsbml()
    doc = lib.SBMLDocument(3, 2)
    m = doc.createModel()
    m.setId(re.sub(r"\W", "_", model.name if model.name[:1].isalpha() else f"m_{model.name}", flags=re.ASCII))
    if model.description:
        m.setName(model.description)
    math = MathWriter()

    def check(result, what):
        if result != lib.LIBSBML_OPERATION_SUCCESS:
            raise SBMLError(f"libsbml refused {what} (code {result}: {lib.OperationReturnValue_toString(result)}).")

    def initial_assignment(target, expr, what):
        ia = m.createInitialAssignment()
        check(ia.setSymbol(target), f"the initial assignment to {target!r}")
        check(ia.setMath(math.node(expr, what)), what)

    for c in model.compartments:
        sc = m.createCompartment()
        check(sc.setId(_check_id(c.name, "compartment")), f"compartment {c.name!r}")
        sc.setConstant(True)
        sc.setSpatialDimensions(3)
        value = _default(c.volume, model)
        if value is not None:
            sc.setSize(value)
        if not c.volume.is_number:
            initial_assignment(c.name, c.volume, f"volume of compartment {c.name!r}")
        if c.description:
            sc.setName(c.description)
    for p in model.parameters:
        sp_ = m.createParameter()
        check(sp_.setId(_check_id(p.name, "parameter")), f"parameter {p.name!r}")
        sp_.setValue(p.value)
        sp_.setConstant(True)
        if p.description:
            sp_.setName(p.description)
    for s in model.species:
        _species(m, s, model, check, initial_assignment)
    rules = {r.variable: r for r in model.rules}
    for v in model.variables:
        sv = m.createParameter()
        check(sv.setId(_check_id(v.name, "variable")), f"variable {v.name!r}")
        sv.setConstant(False)
        if v.description:
            sv.setName(v.description)
        if isinstance(rules[v], AssignmentRule):
            rule = m.createAssignmentRule()
        else:
            rule = m.createRateRule()
            if v.initial.is_number:
                sv.setValue(float(v.initial))
            else:
                initial_assignment(v.name, v.initial, f"initial value of variable {v.name!r}")
        rule.setVariable(v.name)
        check(rule.setMath(math.node(rules[v].expression, f"rule for {v.name!r}")), f"the rule for {v.name!r}")
    for key, expr in model.observables.items():
        so = m.createParameter()
        check(so.setId(_check_id(key, "observable")), f"observable {key!r}")
        so.setConstant(False)
        rule = m.createAssignmentRule()
        rule.setVariable(key)
        check(rule.setMath(math.node(expr, f"observable {key!r}")), f"observable {key!r}")
    for r in model.reactions:
        _reaction(m, r, math, check)
    taken = set(model.symbols) | set(model.observables) | {r.name for r in model.reactions}
    for i, e in enumerate(model.events):
        se = m.createEvent()
        name = e.name or f"event{i + 1}"
        while name in taken:
            name += "_"
        taken.add(name)
        check(se.setId(_check_id(name, "event")), f"event {name!r}")
        se.setUseValuesFromTriggerTime(e.use_values_from_trigger_time)
        trigger = se.createTrigger()
        trigger.setPersistent(e.persistent)
        trigger.setInitialValue(e.initial_value)
        check(trigger.setMath(math.node(e.trigger, f"event {name!r} trigger")), f"the trigger of event {name!r}")
        for target, expr in e.assignments.items():
            ea = se.createEventAssignment()
            ea.setVariable(target.name)
            check(ea.setMath(math.node(expr, f"event {name!r} assignment to {target.name!r}")),
                  f"event {name!r} assignment to {target.name!r}")
    return lib.writeSBMLToString(doc)


def _species(m, s: Species, model: Model, check, initial_assignment):
    ss = m.createSpecies()
    check(ss.setId(_check_id(s.name, "species")), f"species {s.name!r}")
    ss.setCompartment(s.compartment.name)
    ss.setHasOnlySubstanceUnits(s.amount_based)
    ss.setBoundaryCondition(s.boundary)
    ss.setConstant(s.constant)
    if s.description:
        ss.setName(s.description)
    if s.initial_concentration is not None and s.initial_concentration.is_number:
        ss.setInitialConcentration(float(s.initial_concentration))
    elif s.initial_amount is not None and s.initial_amount.is_number:
        ss.setInitialAmount(float(s.initial_amount))
    elif s.initial_amount is None and s.initial_concentration is None:
        ss.setInitialAmount(0.0)
    else:  # an expression: an initial assignment in the meaning of the species' symbol
        amount = s.initial_amount_expression()
        value = amount if s.amount_based else (s.initial_concentration if s.initial_concentration is not None
                                               else amount / s.compartment)
        initial_assignment(s.name, value, f"initial value of species {s.name!r}")


def _reaction(m, r, math: MathWriter, check):
    sr = m.createReaction()
    check(sr.setId(_check_id(r.name, "reaction")), f"reaction {r.name!r}")
    sr.setReversible(True)  # the rate law alone says which way it goes
    for species, n in r.reactants.items():
        _reference(sr.createReactant(), r, species, n)
    for species, n in r.products.items():
        _reference(sr.createProduct(), r, species, n)
    for x in sorted(r.rate.free_symbols - set(r.reactants) - set(r.products), key=lambda x: x.name):
        if isinstance(x, Species):
            sr.createModifier().setSpecies(x.name)
    kl = sr.createKineticLaw()
    check(kl.setMath(math.node(r.rate, f"rate of reaction {r.name!r}")), f"the rate of reaction {r.name!r}")


def _reference(ref, r, species, n):
    n = sp.sympify(n)
    if not n.is_number:
        raise UnsupportedSBMLError(f"reaction {r.name!r}: stoichiometry {n} of {species.name!r} is not a number.")
    ref.setSpecies(species.name)
    ref.setStoichiometry(float(n))
    ref.setConstant(True)


__all__ = ["write_sbml"]
