"""The SBML reader's machinery: one libsbml model -> a :class:`~qsp.io.sbml.SBMLTranslation`.

See :mod:`qsp.io.sbml` for the mapping of SBML elements to qsp objects.
"""

from __future__ import annotations

import sympy as sp

from ..model import AssignmentRule, Compartment, Event, Model, Parameter, RateRule, Reaction, Species, Variable, time
from .mathml import MathReader, SBMLError, UnsupportedSBMLError, libsbml
from .sbml import SBMLTranslation

_RESERVED = {time.name}  # qsp names that an SBML identifier may not take


class Reader:
    """One SBML model -> qsp, in two passes.

    Pass 1 converts all math to sympy over placeholder symbols (one per SBML id). Pass 2
    decides what each id becomes (parameter, variable, species...), builds the qsp
    objects in dependency order and replaces the placeholders by them. Initial values
    are "closed": rule-defined quantities and state variables are replaced by their
    values at the start, so that they are expressions of parameters, compartments and
    species only, as qsp requires.
    """

    def __init__(self, doc):
        self.lib = libsbml()
        self.m = doc.getModel()
        self.level = doc.getLevel()
        m = self.m
        self.compartments = {c.getId(): c for c in m.getListOfCompartments()}
        self.parameters = {p.getId(): p for p in m.getListOfParameters()}
        self.sbml_species = {s.getId(): s for s in m.getListOfSpecies()}
        self.reactions = {r.getId(): r for r in m.getListOfReactions()}
        self.species_references = {sr.getId(): r.getId() for r in m.getListOfReactions()
                                   for sr in [*r.getListOfReactants(), *r.getListOfProducts()] if sr.isSetId()}
        ids = [*self.compartments, *self.parameters, *self.sbml_species, *self.reactions]
        self.ph = {i: sp.Dummy(i) for i in ids}
        self.names = _Names(ids + list(self.species_references) + [f.getId() for f in m.getListOfFunctionDefinitions()])
        functions = {}
        for f in m.getListOfFunctionDefinitions():
            if f.getMath() is None or not f.getMath().isLambda():
                raise SBMLError(f"function definition {f.getId()!r} has no lambda.")
            functions[f.getId()] = f.getMath()
        self.reader = MathReader(self._resolve, functions)
        self.locals: dict = {}  # local parameters of the kinetic law being read
        self.local_parameters: list[Parameter] = []
        self.omitted: list[str] = []

    # ------------------------------------------------------------------ pass 1
    def _resolve(self, name, where):
        if name in self.locals:
            return self.locals[name]
        if name in self.ph:
            return self.ph[name]
        if name in self.species_references:
            raise UnsupportedSBMLError(f"{where}: uses species reference {name!r} (of reaction "
                                       f"{self.species_references[name]!r}) in math; assigned stoichiometry "
                                       "is not supported by qsp.")
        raise SBMLError(f"{where}: uses {name!r}, which is not declared in the SBML model.")

    def _math(self, element, where, condition=False):
        if not element.isSetMath():
            raise SBMLError(f"{where} has no math.")
        return (self.reader.condition if condition else self.reader.expression)(element.getMath(), where)

    def _read_math(self):
        m = self.m
        if m.isSetConversionFactor():
            raise UnsupportedSBMLError(f"model {m.getId()!r}: conversion factors are not supported by qsp.")
        self.assigned, self.rated, self.initial = {}, {}, {}
        for rule in m.getListOfRules():
            if rule.isAlgebraic():
                raise UnsupportedSBMLError(f"algebraic rule (metaid {rule.getMetaId() or 'unset'}) is not "
                                           "supported by qsp: rewrite it as an assignment or rate rule.")
            target = rule.getVariable()
            kind = "assignment rule" if rule.isAssignment() else "rate rule"
            self._check_target(target, f"{kind} for {target!r}")
            (self.assigned if rule.isAssignment() else self.rated)[target] = self._math(rule, f"{kind} for {target!r}")
        for ia in m.getListOfInitialAssignments():
            target = ia.getSymbol()
            where = f"initial assignment to {target!r}"
            if target in self.species_references:
                raise UnsupportedSBMLError(f"{where}: assigned stoichiometry is not supported by qsp.")
            if target not in self.ph:
                raise SBMLError(f"{where}: {target!r} is not declared.")
            self.initial[target] = self._math(ia, where)
        self.rates = {}
        for rid, r in self.reactions.items():
            self.rates[rid] = self._kinetic_law(r)
        self.events = []
        self.event_targets = set()
        for i, e in enumerate(m.getListOfEvents()):
            label = e.getId() or f"#{i + 1}"
            if e.isSetDelay():
                raise UnsupportedSBMLError(f"event {label!r} has a delay; delayed events are not supported by qsp.")
            if e.isSetPriority():
                raise UnsupportedSBMLError(f"event {label!r} has a priority; event priorities are not supported "
                                           "by qsp.")
            if not e.isSetTrigger() or not e.getTrigger().isSetMath():
                self.omitted.append(f"event {label!r}: no trigger, so it never fires")
                continue
            if e.getNumEventAssignments() == 0:
                self.omitted.append(f"event {label!r}: no event assignments, so it changes nothing")
                continue
            trigger = self._math(e.getTrigger(), f"event {label!r} trigger", condition=True)
            assignments = []
            for ea in e.getListOfEventAssignments():
                target = ea.getVariable()
                self._check_target(target, f"event {label!r} assignment to {target!r}")
                assignments.append((target, self._math(ea, f"event {label!r} assignment to {target!r}")))
                self.event_targets.add(target)
            t = e.getTrigger()
            self.events.append(dict(
                name=e.getId() or None, trigger=trigger, assignments=assignments,
                persistent=t.getPersistent() if t.isSetPersistent() else True,
                initial_value=t.getInitialValue() if t.isSetInitialValue() else True,
                use_values_from_trigger_time=e.getUseValuesFromTriggerTime()
                if e.isSetUseValuesFromTriggerTime() else True))

    def _check_target(self, target, where):
        if target in self.species_references:
            raise UnsupportedSBMLError(f"{where}: assigned stoichiometry (a species reference as target) is not "
                                       "supported by qsp.")
        if target in self.compartments:
            raise UnsupportedSBMLError(f"{where}: compartment {target!r} would change size; non-constant "
                                       "compartments are not supported by qsp.")
        if target not in self.parameters and target not in self.sbml_species:
            raise SBMLError(f"{where}: {target!r} is not a parameter or species of the model.")

    def _kinetic_law(self, r):
        rid = r.getId()
        if r.isSetFast() and r.getFast():
            raise UnsupportedSBMLError(f"reaction {rid!r} is fast; fast reactions are not supported by qsp.")
        kl = r.getKineticLaw()
        if kl is None or not kl.isSetMath():
            raise UnsupportedSBMLError(f"reaction {rid!r} has no kinetic law; qsp needs a rate for every reaction.")
        local_list = kl.getListOfLocalParameters() if self.level >= 3 else kl.getListOfParameters()
        self.locals = {}
        for lp in local_list:
            name = self.names.new(f"{rid}_{lp.getId()}")
            if not lp.isSetValue():
                raise SBMLError(f"local parameter {lp.getId()!r} of reaction {rid!r} has no value.")
            self.locals[lp.getId()] = Parameter(name, lp.getValue(), description=f"local parameter {lp.getId()} "
                                                f"of reaction {rid}")
        try:
            return self._math(kl, f"kinetic law of reaction {rid!r}")
        finally:
            self.local_parameters.extend(self.locals.values())
            self.locals = {}

    # ------------------------------------------------------------------ pass 2
    def translate(self) -> SBMLTranslation:
        self._read_math()
        self._classify()
        self.objects: dict = {}
        for i in [*self.compartments, *self.parameters, *self.sbml_species]:
            self._build(i, ())
        reaction_list = self._reactions()
        rules = self._rules()
        events = [Event(self._final(e["trigger"]),
                        {self.objects[t]: self._final(x) for t, x in e["assignments"]},
                        name=e["name"], persistent=e["persistent"], initial_value=e["initial_value"],
                        use_values_from_trigger_time=e["use_values_from_trigger_time"]) for e in self.events]
        objects = list(self.objects.values())
        model = Model(
            self.m.getId() or "sbml_model", reactions=reaction_list, rules=rules, events=events,
            parameters=[o for o in objects if isinstance(o, Parameter)] + self.local_parameters,
            species=[o for o in objects if isinstance(o, Species)],
            compartments=[o for o in objects if isinstance(o, Compartment)],
            description=self.m.getName() or None,
        )
        values = {i: self._final(p) for i, p in self.ph.items()}
        species = {i: (self.objects[i], self.objects[s.getCompartment()], s.getHasOnlySubstanceUnits())
                   for i, s in self.sbml_species.items()}
        return SBMLTranslation(model, values, species, self.omitted)

    def _classify(self):
        """What each parameter and species becomes, and the start-value of every varying quantity."""
        self.kind: dict[str, str] = {}
        self.start: dict[str, sp.Expr] = {}  # placeholder expression of the value at the start
        for pid, p in self.parameters.items():
            given = self.initial.get(pid)
            if given is None and p.isSetValue():
                given = sp.Float(p.getValue())
            if pid in self.assigned:
                self.kind[pid] = "assigned"
                continue
            if given is None:
                raise SBMLError(f"parameter {pid!r} has no value and no initial assignment; give it value=...")
            self.start[pid] = given
            if pid in self.rated or pid in self.event_targets:
                self.kind[pid] = "state"
            elif pid in self.initial:
                self.kind[pid] = "initial"  # decided once its start value is closed
            else:
                self.kind[pid] = "parameter"
        for sid, s in self.sbml_species.items():
            if s.isSetConversionFactor():
                raise UnsupportedSBMLError(f"species {sid!r} has a conversion factor; conversion factors are not "
                                           "supported by qsp.")
            if s.getCompartment() not in self.compartments:
                raise SBMLError(f"species {sid!r} is in compartment {s.getCompartment()!r}, which is not declared.")
            if sid in self.assigned:
                self.kind[sid] = "assigned"
                continue
            self.kind[sid] = "state" if sid in self.rated else "species"
            self.start[sid] = self._species_start(sid, s)
        substitutions = {**{self.ph[i]: e for i, e in self.assigned.items()},
                         **{self.ph[i]: self.start[i] for i, k in self.kind.items() if k in ("state", "initial")},
                         **{self.ph[i]: r for i, r in self.rates.items()}}
        self.closed_start = {}

        def close(expr, what):
            for _ in range(len(substitutions) + 2):
                if not (expr.free_symbols & substitutions.keys()):
                    return expr.xreplace({time: sp.Integer(0)})
                expr = expr.xreplace(substitutions)
            raise SBMLError(f"the start value of {what} depends on itself through rules or initial assignments.")

        self.close = close
        for i in self.start:
            self.closed_start[i] = close(self.start[i], repr(i))
        constant = {self.ph[i] for i in (*self.compartments, *(p for p, k in self.kind.items() if k == "parameter"))}
        for pid in [p for p, k in self.kind.items() if k == "initial"]:
            varying = self.closed_start[pid].free_symbols - constant
            self.kind[pid] = "state" if varying else "constant"

    def _species_start(self, sid, s):
        """The start value in the meaning of the species' symbol (amount if hasOnlySubstanceUnits)."""
        if sid in self.initial:
            return self.initial[sid]
        volume = self.ph[s.getCompartment()]
        amount_based = s.getHasOnlySubstanceUnits()
        if s.isSetInitialAmount():
            value = sp.Float(s.getInitialAmount())
            return value if amount_based else value / volume
        if s.isSetInitialConcentration():
            value = sp.Float(s.getInitialConcentration())
            return value * volume if amount_based else value
        raise SBMLError(f"species {sid!r} has no initial amount, initial concentration, initial assignment or "
                        "assignment rule; give it one.")

    def _build(self, i, path):
        """Build the qsp object of SBML id ``i`` after those its definition uses."""
        if i in self.objects:
            return self.objects[i]
        if i in path:
            raise SBMLError(f"initial values depend on each other in a cycle: {' -> '.join([*path, i])}.")
        name = self.names.of(i)
        if i in self.compartments:
            obj = Compartment(name, volume=self._uses(self._volume(i), (*path, i)),
                              description=self.compartments[i].getName() or None)
        elif i in self.parameters:
            p, kind = self.parameters[i], self.kind[i]
            description = p.getName() or None
            if kind == "parameter":
                obj = Parameter(name, self.closed_start[i], description=description)
            elif kind == "state":
                obj = Variable(name, initial=self._uses(self.closed_start[i], (*path, i)), description=description)
            else:  # assigned, or constant from an initial assignment (an assignment rule of constants)
                obj = Variable(name, description=description)
        else:
            s = self.sbml_species[i]
            description = s.getName() or None
            if self.kind[i] == "assigned":
                obj = Variable(name, description=description)
            elif self.kind[i] == "state":
                obj = Variable(name, initial=self._uses(self.closed_start[i], (*path, i)), description=description)
            else:
                compartment = self._build(s.getCompartment(), (*path, i))
                amount_based = s.getHasOnlySubstanceUnits()
                if i not in self.initial and s.isSetInitialAmount():  # kept in the form the file gives
                    given = dict(initial_amount=sp.Float(s.getInitialAmount()))
                elif i not in self.initial and s.isSetInitialConcentration():
                    given = dict(initial_concentration=sp.Float(s.getInitialConcentration()))
                else:  # an initial assignment, in the meaning of the species' symbol
                    start = self._uses(self.closed_start[i], (*path, i))
                    given = dict(initial_amount=start) if amount_based else dict(initial_concentration=start)
                obj = Species(name, compartment, boundary=s.getBoundaryCondition(), constant=s.getConstant(),
                              amount_based=amount_based, description=description, **given)
        self.objects[i] = obj
        return obj

    def _uses(self, expr, path):
        """``expr`` with the placeholders it uses replaced by their (built) objects."""
        mapping = {}
        for symbol in expr.free_symbols:
            if isinstance(symbol, sp.Dummy):
                mapping[symbol] = self._build(symbol.name, path)
        return expr.xreplace(mapping)

    def _volume(self, cid):
        c = self.compartments[cid]
        if cid in self.initial:
            volume = self.close(self.initial[cid], repr(cid))
        elif c.isSetSize():
            volume = sp.Float(c.getSize())
        else:
            raise SBMLError(f"compartment {cid!r} has no size; give it size=... or an initial assignment.")
        allowed = {self.ph[i] for i in self.compartments} | {self.ph[p] for p, k in self.kind.items()
                                                              if k == "parameter"}
        varying = [s.name for s in volume.free_symbols if s not in allowed]
        if varying:
            raise UnsupportedSBMLError(f"compartment {cid!r}: its size depends on {varying[0]!r}, which varies; "
                                       "non-constant compartments are not supported by qsp.")
        return volume

    def _final(self, expr):
        """``expr`` with every placeholder replaced by its qsp object (reaction ids by their rates)."""
        mapping = {self.ph[i]: o for i, o in self.objects.items()}
        mapping.update({self.ph[i]: r for i, r in self.rates.items()})
        for _ in range(len(self.rates) + 2):
            if not any(isinstance(s, sp.Dummy) for s in expr.free_symbols):
                return expr
            expr = expr.xreplace(mapping)
        raise SBMLError("reaction rates refer to each other's reaction identifiers in a cycle.")

    def _rules(self) -> list:
        rules = []
        for i, kind in self.kind.items():
            obj = self.objects[i]
            if kind == "assigned":
                rules.append(AssignmentRule(obj, self._final(self.assigned[i])))
            elif kind == "constant":
                rules.append(AssignmentRule(obj, self._final(self.closed_start[i])))
            elif kind == "state":
                rules.append(RateRule(obj, self._final(self.rated.get(i, sp.Integer(0)))))
        return rules

    def _reactions(self) -> list:
        out = []
        for rid, r in self.reactions.items():
            sides = ({}, {})
            for side, refs in ((0, r.getListOfReactants()), (1, r.getListOfProducts())):
                for sr in refs:
                    where = f"reaction {rid!r} species reference to {sr.getSpecies()!r}"
                    if sr.isSetStoichiometryMath():
                        raise UnsupportedSBMLError(f"{where}: stoichiometryMath is not supported by qsp.")
                    if sr.isSetId() and (sr.getId() in self.initial or sr.getId() in self.assigned
                                         or sr.getId() in self.rated):
                        raise UnsupportedSBMLError(f"{where}: assigned stoichiometry is not supported by qsp.")
                    target = self.objects.get(sr.getSpecies())
                    if target is None:
                        raise SBMLError(f"{where}: {sr.getSpecies()!r} is not a species of the model.")
                    if isinstance(target, Variable):  # set by a rule: SBML requires it to be a boundary species
                        if not self.sbml_species[sr.getSpecies()].getBoundaryCondition():
                            raise SBMLError(f"{where}: the species is set by a rule and changed by the reaction; "
                                            "SBML requires boundaryCondition=true for that.")
                        continue
                    n = sr.getStoichiometry() if sr.isSetStoichiometry() else 1.0
                    n = sp.Integer(int(n)) if float(n).is_integer() else sp.Float(n)
                    k, n = (side, n) if n > 0 else (1 - side, -n)
                    if n != 0:
                        sides[k][target] = sides[k].get(target, 0) + n
            if not sides[0] and not sides[1]:
                self.omitted.append(f"reaction {rid!r}: changes no species (its rate is still used where its "
                                    "identifier appears in math)")
                continue
            out.append(Reaction(sides[0], sides[1], rate=self._final(self.rates[rid]), name=self.names.of(rid)))
        return out


class _Names:
    """SBML ids -> qsp names: the id itself, unless it is reserved (``t`` is qsp.time) or taken."""

    def __init__(self, ids):
        self.taken = set(ids) | _RESERVED
        self.map = {}

    def free(self, base):
        name = base
        while name in self.taken:
            name += "_"
        return name

    def of(self, sbml_id):
        if sbml_id not in self.map:
            self.map[sbml_id] = self.free(sbml_id) if sbml_id in _RESERVED else sbml_id
            self.taken.add(self.map[sbml_id])
        return self.map[sbml_id]

    def new(self, base):
        name = self.free(base)
        self.taken.add(name)
        return name
