"""The block convention: every block returns a :class:`Block`.

A block is a small function that builds a model fragment from pharmacology vocabulary
(a two-compartment disposition, a target with turnover, an Emax effect). It returns a
frozen :class:`Block` holding

* ``model``: the fragment, an ordinary :class:`qsp.Model`;
* handles to what it created or received, keyed by **role** (the unprefixed name the
  block's docstring uses, e.g. ``"CL"``, ``"Ac"``, ``"C"``): ``block["Ac"]`` is the very
  :class:`~qsp.Species` object, so another block that receives it shares it (composition by
  identity); ``block.name("C")`` is the name to use with ``sol[...]``.

Parameter arguments of every block accept three things:

* a number: the default value of a parameter the block creates (named after its role,
  with the block's ``prefix``), with a unit and a description;
* a :class:`~qsp.Parameter` or any expression of model quantities: used as given and shared
  (e.g. ``CL=split["CL"]`` from :func:`~qsp.blocks.clearance_split`);
* ``None`` where documented: the process is left out (e.g. ``CL=None`` gives no linear
  elimination, so that Michaelis-Menten elimination can be composed instead).

``prefix="mab"`` renames everything the block creates (``mab_CL``, ``mab_central``,
observable ``mab_C``), so that two copies of a block can live in one model; roles stay
unprefixed. Fragments are joined with :func:`assemble` (or :func:`qsp.compose` on their
``model``), which shares identical objects and refuses name clashes.

Every fragment is a valid model on its own, so blocks hand out species (for states such as
an effect-site concentration or a response) and expressions (for effects, free
concentrations, rhythms), never rule variables, whose rule would live in another fragment.
Units: parameters carry unit strings in mg (or the drug species' own amount unit), L and h;
quantities whose unit the block cannot know (a response, a marker) are left without one, so
:func:`qsp.compile`'s unit check leaves them unchecked rather than guessing.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Iterable, Mapping

import sympy as sp

from ..errors import ModelError
from ..model import Compartment, Model, ModelSymbol, Parameter, Species, Variable

#: Positive rate constants, volumes and clearances: the lower bound given to parameters blocks create.
POSITIVE = (0.0, None)


@dataclass(frozen=True, eq=False)
class Block:
    """A model fragment built by a block, with handles to the quantities it created.

    Attributes:
        model: the fragment (a :class:`qsp.Model`).
        handles: role → quantity (``Parameter``, ``Compartment``, ``Species``, ``Variable``,
            an expression passed in by the caller, or, for an observable, its expression).
        names: role → the name of that quantity or observable in ``model`` (with the
            prefix), for ``sol[...]``, ``params={...}`` and ``sol.amount(...)``.

    Example:
        >>> import qsp
        >>> pk = qsp.blocks.one_compartment(CL=2.0, V=20.0)
        >>> pk["CL"].value, pk.name("C")
        (2.0, 'C')
        >>> qsp.blocks.one_compartment(prefix="drugB").name("CL")
        'drugB_CL'
    """

    model: Model
    handles: Mapping[str, Any] = field(default_factory=dict)
    names: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.model, Model):
            raise ModelError(f"Block.model must be a qsp.Model, got {self.model!r}.")
        object.__setattr__(self, "handles", MappingProxyType(dict(self.handles)))
        object.__setattr__(self, "names", MappingProxyType(dict(self.names)))

    def __getitem__(self, role: str):
        try:
            return self.handles[role]
        except KeyError:
            raise ModelError(
                f"block {self.model.name!r} has no role {role!r}; its roles are: {', '.join(self.handles)}."
            ) from None

    def name(self, role: str) -> str:
        """The name in the model of the quantity or observable playing ``role``."""
        value = self[role]  # a helpful error for an unknown role
        if not self.names[role]:
            raise ModelError(f"block {self.model.name!r}: role {role!r} is the expression {value}, passed in by the "
                             "caller; it has no name of its own in the model.")
        return self.names[role]

    @property
    def roles(self) -> tuple[str, ...]:
        """Every role of this block, in creation order."""
        return tuple(self.handles)

    def __repr__(self) -> str:
        return f"Block({self.model.name!r}: {', '.join(f'{r}={self.names[r]}' for r in self.handles)})"


def assemble(*parts: Block | Model, name: str | None = None) -> Model:
    """Join blocks (or models) into one model; the same object is the same quantity.

    Equivalent to ``qsp.compose(*(p.model for p in parts), name=name)``: quantities shared
    by identity stay shared, a reaction object appearing in two parts is kept once, and
    two different objects with one name are a :class:`~qsp.errors.DuplicateNameError`
    (give one block a ``prefix``).

    Example:
        >>> import qsp
        >>> pk = qsp.blocks.one_compartment()
        >>> oral = qsp.blocks.first_order_absorption(pk["Ac"])
        >>> m = qsp.blocks.assemble(pk, oral, name="oral_pk")
        >>> [s.name for s in m.species]
        ['Ac', 'Ad']
    """
    models = []
    for part in parts:
        if isinstance(part, Block):
            models.append(part.model)
        elif isinstance(part, Model):
            models.append(part)
        else:
            raise ModelError(f"assemble() takes qsp.blocks.Block or qsp.Model objects, got {part!r}.")
    if not models:
        raise ModelError("assemble() needs at least one block or model.")
    from ..model import compose

    return compose(*models, name=name)


class Builder:
    """Collects the quantities and handles of one block (internal helper).

    ``prefix`` is applied to every name the block creates; ``quantity`` turns a caller's
    argument into an expression (creating a :class:`Parameter` from a number).
    """

    def __init__(self, kind: str, prefix: str | None, amount_unit: str | None = None):
        if prefix is not None and (not isinstance(prefix, str) or not prefix.isidentifier()):
            raise ModelError(f"{kind}: prefix {prefix!r} is not a valid identifier (e.g. prefix='drugB').")
        self.kind = kind
        self.prefix = prefix
        self.amount_unit = amount_unit
        self.handles: dict[str, Any] = {}
        self.names: dict[str, str] = {}
        self.created: list[ModelSymbol] = []
        self.shared: list[Parameter] = []

    def full(self, role: str) -> str:
        return f"{self.prefix}_{role}" if self.prefix else role

    def keep(self, role: str, value, name: str | None = None):
        """Record a handle for ``role`` (``name``: its model name, default that of a symbol)."""
        self.handles[role] = value
        if name is None:
            name = value.name if isinstance(value, ModelSymbol) else self.full(role)
        self.names[role] = name
        return value

    def quantity(self, role: str, spec, unit: str | None, description: str,
                 bounds=POSITIVE, optional: bool = False):
        """A caller's argument as an expression: a number makes a new Parameter named after ``role``."""
        if spec is None:
            if optional:
                return None
            raise ModelError(f"{self.kind}: {role} is None; give a number or a qsp.Parameter.")
        if isinstance(spec, sp.Basic):  # shared: a Parameter or any expression of model quantities
            if isinstance(spec, Parameter):
                self.shared.append(spec)  # declared, so a dose-only use (F, lag) still finds it
            return self.keep(role, spec, spec.name if isinstance(spec, ModelSymbol) else "")
        if isinstance(spec, (bool, str)) or not isinstance(spec, numbers.Real):
            raise ModelError(
                f"{self.kind}: {role}={spec!r} is not a number, a qsp.Parameter or an expression; "
                f"e.g. {role}=1.0 or {role}=qsp.Parameter({self.full(role)!r}, 1.0)."
            )
        if bounds is not None and bounds[0] is not None and float(spec) < bounds[0]:
            raise ModelError(f"{self.kind}: {role}={spec} is negative; it must be >= {bounds[0]}.")
        parameter = Parameter(self.full(role), float(spec), unit=unit, description=description, bounds=bounds)
        self.created.append(parameter)
        return self.keep(role, parameter)

    def compartment(self, role: str, volume, unit: str | None = "L", description: str | None = None) -> Compartment:
        c = Compartment(self.full(role), volume=volume, unit=unit, description=description)
        self.created.append(c)
        return self.keep(role, c)

    def species(self, role: str, compartment: Compartment, description: str | None = None, **kwargs) -> Species:
        s = Species(self.full(role), compartment, description=description, **kwargs)
        self.created.append(s)
        return self.keep(role, s)

    def observe(self, observables: dict, role: str, expr) -> None:
        observables[self.full(role)] = expr
        self.keep(role, expr, self.full(role))

    def block(self, reactions: Iterable = (), observables: Mapping | None = None,
              species: Iterable[Species] = ()) -> Block:
        """The finished :class:`Block`; every parameter it created or was given is declared
        (so that dose-only ones such as ``F`` and ``tlag`` are part of the model)."""
        reactions, observables = list(reactions), dict(observables or {})
        self._check_self_contained([*(r.rate for r in reactions), *observables.values()])
        model = Model(
            self.full(self.kind), reactions=reactions, observables=observables,
            parameters=[*(q for q in self.created if isinstance(q, Parameter)), *self.shared],
            species=[*(q for q in self.created if isinstance(q, Species)), *species],
        )
        return Block(model, self.handles, self.names)

    def _check_self_contained(self, expressions) -> None:
        # A fragment is a Model of its own, so it cannot use a rule variable defined elsewhere.
        # Blocks therefore hand out species and expressions, never Variables; a caller's Variable
        # is refused here with the fix, rather than by Model's generic "has no rule".
        for expr in expressions:
            for s in expr.free_symbols:
                if isinstance(s, Variable):
                    raise ModelError(
                        f"{self.kind}: the input uses {s.name!r}, a qsp.Variable defined by a rule outside this "
                        "block; a block fragment must stand alone. Pass the expression that defines it instead "
                        "(or a species), and assemble the fragments afterwards."
                    )


def concentration_unit(expr, default: str | None = None) -> str | None:
    """The unit text of a concentration ``expr`` when it is a species with a known unit, else ``default``.

    A species' unit may be an amount (its concentration is then amount / the compartment's
    volume unit, ``L`` when the compartment has none) or a concentration. Blocks use this to
    give the parameters they create units that agree with the drug they act on, so that
    :func:`qsp.compile`'s unit check passes whatever amount unit the model uses.

    Example:
        >>> import qsp
        >>> A = qsp.Species("A", qsp.Compartment("c", volume=2.0, unit="L"), unit="nmol")
        >>> concentration_unit(A), concentration_unit(A * 2, "mg/L")
        ('nmol/L', 'mg/L')
    """
    if not isinstance(expr, Species) or not expr.unit:
        return default
    from ..model.unit_grammar import LENGTH, parse_unit

    try:
        is_amount = parse_unit(expr.unit).dims[LENGTH] == 0
    except Exception:  # an unparsable unit is the unit checker's to report, not ours
        return default
    if expr.amount_based or not is_amount:
        return expr.unit if not is_amount else default
    return f"{expr.unit}/{expr.compartment.unit or 'L'}"


def amount_unit(species, default: str | None = None) -> str | None:
    """The unit text of a species' amount, when it is declared as an amount; else ``default``."""
    if not isinstance(species, Species) or not species.unit:
        return default
    from ..model.unit_grammar import LENGTH, parse_unit

    try:
        return species.unit if parse_unit(species.unit).dims[LENGTH] == 0 else default
    except Exception:
        return default


def as_species(value, kind: str, role: str) -> Species:
    """``value`` (a Species, or a Block's default species) checked to be a :class:`Species`."""
    if isinstance(value, Species):
        return value
    raise ModelError(
        f"{kind}: {role} must be a qsp.Species (e.g. pk['Ac'] from a disposition block), got {value!r}."
    )


def as_expression_arg(value, kind: str, role: str) -> sp.Expr:
    """A driving concentration or signal: any sympy expression of model quantities."""
    if isinstance(value, sp.Basic):
        return value
    raise ModelError(
        f"{kind}: {role} must be an expression of model quantities (a Species means its concentration, "
        f"e.g. pk['Ac'], or a Variable such as tmdd['Cfree']), got {value!r}."
    )
