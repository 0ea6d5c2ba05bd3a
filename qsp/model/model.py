"""The Model: an immutable, validated collection of reactions, rules and observables."""

from __future__ import annotations

from typing import Callable, Iterable, Mapping

import sympy as sp

from ..errors import DuplicateNameError, ModelError, UndeclaredSymbolError
from .events import Event
from .reaction import Reaction
from .rules import AssignmentRule, RateRule, assignment_order
from .symbols import Compartment, ModelSymbol, Parameter, Species, Time, Variable, as_expression, time

_KIND_ORDER = (Parameter, Compartment, Species, Variable)


class Model:
    """A mechanistic model: species in compartments, reactions, rules and observables.

    A model is immutable; every transformation (:meth:`with_values`, :meth:`prefixed`,
    :meth:`compose`, :meth:`extended`) returns a new one. Parameters, compartments,
    species and variables are collected from the expressions that use them; pass
    ``parameters=[...]`` (or ``species``/``compartments``) only for quantities that no
    expression uses, such as a parameter used only by a dose record.

    Semantics (see DESIGN.md): species are integrated as amounts; inside expressions a
    species symbol means its concentration; every reaction rate is in amount per time;
    :math:`dy/dt = S \\cdot v(t, y, p)` plus the rate rules.

    Args:
        name: identifier of the model.
        reactions: :class:`Reaction` objects (unnamed ones become ``R1, R2, ...``).
        observables: mapping name → expression (any expression of model symbols).
        parameters, species, compartments: extra declarations (see above).
        rules: :class:`AssignmentRule` and :class:`RateRule` objects.
        events: :class:`~qsp.Event` objects (state changes when a trigger becomes true).
        description: free text.

    Raises:
        UndeclaredSymbolError: an expression uses a plain sympy symbol.
        DuplicateNameError: two different objects share a name.
        ModelError: any other inconsistency, named with the fix.

    Example:
        >>> import qsp
        >>> V, CL = qsp.Parameter("V", 30.0), qsp.Parameter("CL", 3.0)
        >>> A = qsp.Species("A", qsp.Compartment("central", volume=V))
        >>> m = qsp.Model("pk1", reactions=[qsp.Reaction([A], [], rate=CL * A)], observables={"C": A})
        >>> [s.name for s in m.species], [p.name for p in m.parameters]
        (['A'], ['CL', 'V'])
    """

    def __init__(self, name: str, reactions: Iterable[Reaction] = (), observables: Mapping | None = None,
                 parameters: Iterable[Parameter] = (), species: Iterable[Species] = (),
                 compartments: Iterable[Compartment] = (), rules: Iterable = (), description: str | None = None,
                 events: Iterable[Event] = ()):
        if not isinstance(name, str) or not name:
            raise ModelError(f"Model name {name!r} must be a non-empty string.")
        self.name = name
        self.description = description
        self._reactions: tuple[Reaction, ...] = tuple(dict.fromkeys(reactions))
        for r in self._reactions:
            if not isinstance(r, Reaction):
                raise ModelError(f"Model {name!r}: reactions must be qsp.Reaction objects, got {r!r}.")
        self.rules: tuple = tuple(dict.fromkeys(rules))
        for r in self.rules:
            if not isinstance(r, (AssignmentRule, RateRule)):
                raise ModelError(f"Model {name!r}: rules must be AssignmentRule or RateRule, got {r!r}.")
        self.events: tuple[Event, ...] = tuple(dict.fromkeys(events))
        for e in self.events:
            if not isinstance(e, Event):
                raise ModelError(f"Model {name!r}: events must be qsp.Event objects, got {e!r}.")
        self.observables: dict[str, sp.Expr] = {}
        for key, expr in (observables or {}).items():
            if not isinstance(key, str) or not key.isidentifier():
                raise ModelError(f"Model {name!r}: observable name {key!r} is not a valid identifier.")
            self.observables[key] = as_expression(expr, f"observable {key!r}")
        self._declared = tuple(dict.fromkeys([*parameters, *species, *compartments]))
        for s in self._declared:
            if not isinstance(s, (Parameter, Species, Compartment, Variable)):
                raise ModelError(f"Model {name!r}: {s!r} is a {type(s).__name__}, not a declared qsp quantity.")
        self.reaction_names = self._name_reactions()
        self._symbols = self._collect()
        self._validate()

    # ----------------------------------------------------------------- collection
    def _name_reactions(self) -> tuple[str, ...]:
        given = [r.name for r in self._reactions if r.name]
        seen = set()
        for n in given:
            if n in seen:
                raise DuplicateNameError(
                    f"Model {self.name!r}: two reactions are named {n!r}; give them different names."
                )
            seen.add(n)
        names, counter = [], 0
        for r in self._reactions:
            if r.name:
                names.append(r.name)
                continue
            counter += 1
            while f"R{counter}" in seen:
                counter += 1
            names.append(f"R{counter}")
            seen.add(f"R{counter}")
        return tuple(names)

    def _sources(self):
        """(where, expression) for every expression in the model, for validation messages."""
        for rname, r in zip(self.reaction_names, self._reactions):
            yield f"reaction {rname!r} rate", r.rate
            for s, n in [*r.reactants.items(), *r.products.items()]:
                yield f"reaction {rname!r} stoichiometry of {s.name!r}", sp.sympify(n)
        for rule in self.rules:
            yield f"{rule.kind} rule for {rule.variable.name!r}", rule.expression
        for key, expr in self.observables.items():
            yield f"observable {key!r}", expr
        for event in self.events:
            yield from event.expressions()

    def _collect(self) -> dict[str, ModelSymbol]:
        found: dict[str, list[ModelSymbol]] = {}
        pending: list[tuple[str, sp.Basic]] = list(self._sources())
        roots: list[ModelSymbol] = list(self._declared)
        for r in self._reactions:
            roots.extend(r.species())
        for rule in self.rules:
            roots.append(rule.variable)
        for event in self.events:
            roots.extend(event.assignments)
        visited: set[int] = set()

        def add(sym: ModelSymbol, where: str):
            if id(sym) in visited:
                return
            visited.add(id(sym))
            found.setdefault(sym.name, [])
            if not any(other.identity() == sym.identity() for other in found[sym.name]):
                found[sym.name].append(sym)
            if isinstance(sym, Species):
                add(sym.compartment, where)
            for field, expr in sym.expression_fields().items():
                pending.append((f"{sym.kind} {sym.name!r} {field}", expr))

        for sym in roots:
            add(sym, "declaration")
        while pending:
            where, expr = pending.pop(0)
            for s in sorted(expr.free_symbols, key=lambda s: s.name):
                if isinstance(s, Time):
                    continue
                if isinstance(s, ModelSymbol):
                    add(s, where)
                    continue
                raise UndeclaredSymbolError(
                    f"Model {self.name!r}: {where} uses symbol {s.name!r}, which is not declared. "
                    f"Create it as a qsp object, e.g. {s.name} = qsp.Parameter({s.name!r}, <value>), "
                    "and use that object in the expression."
                )
        symbols: dict[str, ModelSymbol] = {}
        for name, objs in found.items():
            if len(objs) > 1:
                kinds = ", ".join(f"{o.kind} {o.identity()[2]!r}" for o in objs)
                raise DuplicateNameError(
                    f"Model {self.name!r}: the name {name!r} is used by {len(objs)} different objects ({kinds}). "
                    "Use one object everywhere, rename one, or compose fragments with a prefix."
                )
            if name == time.name:
                raise DuplicateNameError(
                    f"Model {self.name!r}: {objs[0].kind} {name!r} clashes with the time symbol qsp.time; rename it."
                )
            symbols[name] = objs[0]
        order = {cls: i for i, cls in enumerate(_KIND_ORDER)}
        return dict(sorted(symbols.items(), key=lambda kv: order[type(kv[1])]))

    # ----------------------------------------------------------------- validation
    def _validate(self) -> None:
        rule_targets: dict[Variable, object] = {}
        for rule in self.rules:
            if rule.variable in rule_targets:
                raise ModelError(
                    f"Model {self.name!r}: variable {rule.variable.name!r} has two rules; keep exactly one."
                )
            rule_targets[rule.variable] = rule
        for v in self.variables:
            if v not in rule_targets:
                raise ModelError(
                    f"Model {self.name!r}: variable {v.name!r} has no rule; add qsp.AssignmentRule({v.name}, expr) "
                    f"or qsp.RateRule({v.name}, expr) to rules=[...]."
                )
        assignment_order(list(self.assignment_rules))
        state_like = (Species, Variable, Time)
        defaults = {p: sp.Float(p.value) for p in self.parameters}
        for c in self.compartments:
            bad = [s for s in c.volume.free_symbols if isinstance(s, state_like)]
            if bad:
                raise ModelError(
                    f"Model {self.name!r}: compartment {c.name!r} volume {c.volume} depends on {bad[0].name!r}; "
                    "volumes must be constant expressions of parameters."
                )
            value = c.volume.xreplace(defaults).xreplace({k: k.volume for k in self.compartments})
            value = value.xreplace(defaults)
            if value.is_number and not float(value) > 0:
                raise ModelError(
                    f"Model {self.name!r}: compartment {c.name!r} has volume {c.volume} = {float(value)} "
                    "at the default parameter values; a volume must be positive."
                )
        for rname, r in zip(self.reaction_names, self._reactions):
            for s in r.species():
                if s.constant and not s.boundary:
                    raise ModelError(
                        f"Model {self.name!r}: reaction {rname!r} changes constant species {s.name!r}; "
                        "declare it boundary=True as well, or make it non-constant."
                    )
        for key, expr in self.observables.items():
            if key in self._symbols:
                raise DuplicateNameError(
                    f"Model {self.name!r}: observable {key!r} has the name of a {self._symbols[key].kind}; "
                    "rename the observable."
                )
            if not expr.free_symbols:
                raise ModelError(
                    f"Model {self.name!r}: observable {key!r} = {expr} names nothing of the model; "
                    "an observable must be an expression of species, parameters, variables or time."
                )
        self._validate_events(rule_targets)
        for v in self.variables:
            bad = [s for s in v.initial.free_symbols if isinstance(s, (Variable, Time))]
            if bad:
                raise ModelError(
                    f"Model {self.name!r}: variable {v.name!r} initial value {v.initial} uses {bad[0].name!r}; "
                    "initial values may use parameters, compartments and species only."
                )

    def _validate_events(self, rule_targets: dict) -> None:
        names = [e.name for e in self.events if e.name]
        for n in names:
            if names.count(n) > 1:
                raise DuplicateNameError(f"Model {self.name!r}: two events are named {n!r}; give them different names.")
        for i, event in enumerate(self.events):
            label = event.name or f"#{i + 1}"
            for target in event.assignments:
                if isinstance(target, Species) and target.constant:
                    raise ModelError(
                        f"Model {self.name!r}: event {label!r} assigns constant species {target.name!r}; "
                        "declare it constant=False (boundary=True keeps reactions from changing it)."
                    )
                if isinstance(target, Variable) and isinstance(rule_targets.get(target), AssignmentRule):
                    raise ModelError(
                        f"Model {self.name!r}: event {label!r} assigns {target.name!r}, which an assignment rule "
                        f"defines at every instant; give it a rate rule (qsp.RateRule({target.name}, 0) for a "
                        "piecewise-constant quantity) instead."
                    )

    # ----------------------------------------------------------------- accessors
    def _of(self, cls) -> tuple:
        return tuple(s for s in self._symbols.values() if type(s) is cls)

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        """All parameters, sorted by name."""
        return tuple(sorted(self._of(Parameter), key=lambda s: s.name))

    @property
    def compartments(self) -> tuple[Compartment, ...]:
        """All compartments, in order of first use."""
        return self._of(Compartment)

    @property
    def species(self) -> tuple[Species, ...]:
        """All species, in order of first use (declared species first, then reaction order)."""
        return self._of(Species)

    @property
    def variables(self) -> tuple[Variable, ...]:
        """All rule variables."""
        return self._of(Variable)

    @property
    def reactions(self) -> tuple[Reaction, ...]:
        """The reactions, each carrying its model name (``R1``... for unnamed ones)."""
        return tuple(r if r.name == n else r.renamed(n, None) for r, n in zip(self._reactions, self.reaction_names))

    @property
    def assignment_rules(self) -> tuple[AssignmentRule, ...]:
        """Assignment rules, in dependency order."""
        return tuple(assignment_order([r for r in self.rules if isinstance(r, AssignmentRule)]))

    @property
    def rate_rules(self) -> tuple[RateRule, ...]:
        """Rate rules, in declaration order."""
        return tuple(r for r in self.rules if isinstance(r, RateRule))

    def symbol(self, name: str) -> ModelSymbol:
        """The model quantity called ``name``.

        Example:
            >>> import qsp
            >>> A = qsp.Species("A", qsp.Compartment("c", volume=1.0))
            >>> qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=qsp.Parameter("k", 1.0) * A)]).symbol("k").value
            1.0
        """
        try:
            return self._symbols[name]
        except KeyError:
            raise ModelError(
                f"Model {self.name!r} has no quantity named {name!r}; it has: {', '.join(self._symbols)}."
            ) from None

    def __contains__(self, name: str) -> bool:
        return name in self._symbols

    @property
    def symbols(self) -> dict[str, ModelSymbol]:
        """Name → quantity, for every parameter, compartment, species and variable."""
        return dict(self._symbols)

    def __repr__(self) -> str:
        events = f", {len(self.events)} events" if self.events else ""
        return (f"Model({self.name!r}: {len(self.species)} species, {len(self._reactions)} reactions, "
                f"{len(self.parameters)} parameters, {len(self.rules)} rules, {len(self.observables)} observables"
                f"{events})")

    # ----------------------------------------------------------------- transformations
    def _rebuilt(self, rename: Callable[[ModelSymbol], str | None], overrides: Mapping[str, dict] | None = None,
                 name: str | None = None, reaction_prefix: str | None = None,
                 observable_prefix: str | None = None) -> "Model":
        """A new model whose quantities are rebuilt: renamed by ``rename`` (None keeps the name)
        and with field ``overrides`` per original name."""
        overrides = overrides or {}
        mapping: dict = {}
        remaining = list(self._symbols.values())
        for _ in range(len(remaining) + 1):
            if not remaining:
                break
            progress = []
            for sym in remaining:
                deps = set().union(*[e.free_symbols for e in sym.expression_fields().values()]) if sym.expression_fields() else set()
                if isinstance(sym, Species):
                    deps.add(sym.compartment)
                if any(d in self._symbols.values() and d not in mapping and d is not sym for d in deps
                       if isinstance(d, ModelSymbol) and not isinstance(d, Time)):
                    continue
                new = sym.replaced(rename(sym), mapping)
                if sym.name in overrides:
                    fields = {k: getattr(new, k) for k in new._fields}
                    fields.update(overrides[sym.name])
                    new = type(new)._from_fields(new.name, fields)
                mapping[sym] = new
                progress.append(sym)
            if not progress:  # species initial values referring to each other in a cycle
                raise ModelError(f"Model {self.name!r}: initial values depend on each other in a cycle: "
                                 f"{', '.join(s.name for s in remaining)}.")
            remaining = [s for s in remaining if s not in progress]
        reactions = [r.renamed(f"{reaction_prefix}_{r.name}" if (reaction_prefix and r.name) else r.name, mapping)
                     for r in self._reactions]
        rules = [rule.renamed(mapping) for rule in self.rules]
        events = [e.renamed(f"{reaction_prefix}_{e.name}" if (reaction_prefix and e.name) else None, mapping)
                  for e in self.events]
        observables = {(f"{observable_prefix}_{k}" if observable_prefix else k): e.xreplace(mapping)
                       for k, e in self.observables.items()}
        declared = [mapping.get(s, s) for s in self._declared]
        return Model(name or self.name, reactions=reactions, observables=observables,
                     parameters=[s for s in declared if isinstance(s, Parameter)],
                     species=[s for s in declared if isinstance(s, Species)],
                     compartments=[s for s in declared if isinstance(s, Compartment)],
                     rules=rules, description=self.description, events=events)

    def with_values(self, values: Mapping[str, float] | None = None, **kwargs: float) -> "Model":
        """A new model with new default parameter values.

        Example:
            >>> import qsp
            >>> A = qsp.Species("A", qsp.Compartment("c", volume=1.0))
            >>> m = qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=qsp.Parameter("k", 1.0) * A)])
            >>> m.with_values(k=2.0).symbol("k").value
            2.0
        """
        values = {**(values or {}), **kwargs}
        for key in values:
            if not isinstance(self._symbols.get(key), Parameter):
                raise ModelError(f"Model {self.name!r} has no parameter {key!r}; parameters: "
                                 f"{', '.join(p.name for p in self.parameters)}.")
        return self._rebuilt(lambda s: None, {k: {"value": float(v)} for k, v in values.items()})

    def prefixed(self, prefix: str, keep: Iterable[ModelSymbol] = ()) -> "Model":
        """A new model with every name (quantities, named reactions, observables) prefixed
        ``prefix_``, except the quantities in ``keep`` (which stay shared).

        Example:
            >>> import qsp
            >>> A = qsp.Species("A", qsp.Compartment("c", volume=1.0))
            >>> m = qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=qsp.Parameter("k", 1.0) * A)])
            >>> sorted(m.prefixed("pd", keep=[A]).symbols)
            ['A', 'c', 'pd_k']
        """
        if not isinstance(prefix, str) or not prefix.isidentifier():
            raise ModelError(f"prefix {prefix!r} is not a valid identifier.")
        # A kept quantity keeps everything it is defined by (a species its compartment, a
        # volume its parameters), so that it stays the very same object.
        kept: set = set()
        stack = list(keep)
        while stack:
            s = stack.pop()
            if s.identity() in kept:
                continue
            kept.add(s.identity())
            if isinstance(s, Species):
                stack.append(s.compartment)
            for expr in s.expression_fields().values():
                stack.extend(d for d in expr.free_symbols if isinstance(d, ModelSymbol) and not isinstance(d, Time))
        return self._rebuilt(lambda s: None if s.identity() in kept else f"{prefix}_{s.name}",
                             reaction_prefix=prefix, observable_prefix=prefix)

    def compose(self, *others: "Model", prefix: str | None = None, name: str | None = None) -> "Model":
        """Combine this model with fragments.

        Quantities that are the same object (same name and same definition) in both are
        shared; with ``prefix``, every other quantity of the fragments is renamed
        ``prefix_name``. Without a prefix, two different objects with one name are an error.

        Example:
            >>> import qsp
            >>> c = qsp.Compartment("c", volume=1.0)
            >>> A, B = qsp.Species("A", c), qsp.Species("B", c)
            >>> k = qsp.Parameter("k", 1.0)
            >>> pk = qsp.Model("pk", reactions=[qsp.Reaction([A], [], rate=k * A)])
            >>> k_pd = qsp.Parameter("k", 2.0)          # another object named k
            >>> pd = qsp.Model("pd", reactions=[qsp.Reaction([A], [B], rate=k_pd * A)])
            >>> sorted(pk.compose(pd, prefix="pd").symbols)   # A and c shared; the rest namespaced
            ['A', 'c', 'k', 'pd_B', 'pd_k']
        """
        parts = [self]
        own = {s.identity() for s in self._symbols.values()}
        for other in others:
            if not isinstance(other, Model):
                raise ModelError(f"compose() takes qsp.Model objects, got {other!r}.")
            if prefix:
                shared = [s for s in other._symbols.values() if s.identity() in own]
                other = other.prefixed(prefix, keep=shared)
            parts.append(other)
        return compose(*parts, name=name or self.name)

    def extended(self, reactions: Iterable[Reaction] = (), observables: Mapping | None = None,
                 rules: Iterable = (), parameters: Iterable[Parameter] = (), name: str | None = None,
                 events: Iterable[Event] = ()) -> "Model":
        """A new model with extra reactions, observables, rules, events or parameter declarations.

        Example:
            >>> import qsp
            >>> A = qsp.Species("A", qsp.Compartment("c", volume=2.0))
            >>> m = qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=qsp.Parameter("k", 1.0) * A)])
            >>> list(m.extended(observables={"C": A}).observables)
            ['C']
        """
        return Model(name or self.name, reactions=[*self._reactions, *reactions],
                     observables={**self.observables, **(observables or {})},
                     rules=[*self.rules, *rules], parameters=[*self._declared_of(Parameter), *parameters],
                     species=self._declared_of(Species), compartments=self._declared_of(Compartment),
                     description=self.description, events=[*self.events, *events])

    def _declared_of(self, cls) -> list:
        return [s for s in self._declared if isinstance(s, cls)]


def compose(*models: Model, name: str | None = None) -> Model:
    """Merge models into one; the same object is the same quantity, a name clash is an error.

    Example:
        >>> import qsp
        >>> c = qsp.Compartment("c", volume=1.0)
        >>> A = qsp.Species("A", c)
        >>> m1 = qsp.Model("a", reactions=[qsp.Reaction([A], [], rate=qsp.Parameter("k1", 1.0) * A)])
        >>> m2 = qsp.Model("b", reactions=[qsp.Reaction([], [A], rate=qsp.Parameter("k0", 1.0))])
        >>> len(qsp.compose(m1, m2).reactions)
        2
    """
    if not models:
        raise ModelError("compose() needs at least one model.")
    observables: dict[str, sp.Expr] = {}
    for m in models:
        for key, expr in m.observables.items():
            if key in observables and observables[key] != expr:
                raise DuplicateNameError(
                    f"compose: observable {key!r} is defined differently in two models "
                    f"({observables[key]} and {expr}); rename one or compose with a prefix."
                )
            observables[key] = expr
    return Model(name or "+".join(m.name for m in models),
                 reactions=[r for m in models for r in m._reactions],
                 observables=observables,
                 rules=[r for m in models for r in m.rules],
                 parameters=[s for m in models for s in m._declared if isinstance(s, Parameter)],
                 species=[s for m in models for s in m._declared if isinstance(s, Species)],
                 compartments=[s for m in models for s in m._declared if isinstance(s, Compartment)],
                 description=None, events=[e for m in models for e in m.events])
