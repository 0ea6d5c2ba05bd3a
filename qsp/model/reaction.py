"""Reactions: stoichiometry and a rate law in amount per time."""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Mapping

import sympy as sp

from ..errors import ModelError
from .symbols import Species, as_expression


def _stoichiometry(items, role: str, name: str) -> dict[Species, sp.Expr]:
    """Species → coefficient, from a list (repetition counts) or a mapping."""
    if items is None:
        return {}
    if isinstance(items, Species):
        items = [items]
    if isinstance(items, Mapping):
        pairs = list(items.items())
    else:
        pairs = list(Counter(_as_species(x, role, name) for x in items).items())
    out: dict[Species, sp.Expr] = {}
    for species, coefficient in pairs:
        species = _as_species(species, role, name)
        coefficient = as_expression(coefficient, f"Reaction {name!r} {role} coefficient of {species.name!r}")
        if coefficient.is_number and float(coefficient) <= 0:
            raise ModelError(
                f"Reaction {name!r}: {role} {species.name!r} has coefficient {coefficient}; "
                "coefficients must be positive (list a product instead of a negative reactant)."
            )
        out[species] = out.get(species, sp.Integer(0)) + coefficient
    return out


def _as_species(x, role, name) -> Species:
    if not isinstance(x, Species):
        raise ModelError(
            f"Reaction {name!r}: {role} entry {x!r} is a {type(x).__name__}, not a qsp.Species."
        )
    return x


class Reaction:
    """A reaction with a rate law in **amount per time**.

    Inside ``rate`` a species symbol means its concentration, so a first-order
    elimination from a compartment of volume V with clearance CL is ``rate=CL * A``
    (L/h × mg/L = mg/h). Stoichiometry is given by repetition (``[A, A]``) or a mapping
    (``{A: 2}``); :math:`dy/dt = S \\cdot v(t, y, p)` where column j of S holds
    products minus reactants of reaction j.

    Args:
        reactants: species consumed (list with repetition, or ``{species: n}``).
        products: species produced.
        rate: the rate law, an expression (amount / time).
        name: identifier; the model names unnamed reactions ``R1, R2, ...``.

    Example:
        >>> from qsp import Parameter, Compartment, Species
        >>> c = Compartment("c", volume=1.0)
        >>> A, B = Species("A", c), Species("B", c)
        >>> k = Parameter("k", 0.1)
        >>> Reaction([A, A], [B], rate=k * A**2).reactants[A]
        2
    """

    __slots__ = ("reactants", "products", "rate", "name", "mass_action")

    def __init__(self, reactants: Iterable[Species] | Mapping = (), products: Iterable[Species] | Mapping = (),
                 rate=None, name: str | None = None, *, mass_action: bool = False):
        label = name or "<unnamed>"
        if name is not None and (not isinstance(name, str) or not name.isidentifier()):
            raise ModelError(f"Reaction name {name!r} is not a valid identifier.")
        self.reactants = _stoichiometry(reactants, "reactant", label)
        self.products = _stoichiometry(products, "product", label)
        if not self.reactants and not self.products:
            raise ModelError(
                f"Reaction {label!r} has no reactants and no products; give at least one "
                "(a synthesis has only products, an elimination only reactants)."
            )
        if rate is None:
            raise ModelError(f"Reaction {label!r} has no rate law; pass rate=<expression in amount/time>.")
        self.rate = as_expression(rate, f"Reaction {label!r} rate")
        self.name = name
        self.mass_action = mass_action

    def net_stoichiometry(self) -> dict[Species, sp.Expr]:
        """Products minus reactants, per species (zeros dropped)."""
        net: dict[Species, sp.Expr] = {}
        for s, n in self.reactants.items():
            net[s] = net.get(s, 0) - n
        for s, n in self.products.items():
            net[s] = net.get(s, 0) + n
        return {s: sp.sympify(n) for s, n in net.items() if n != 0}

    def species(self) -> list[Species]:
        """Reactants then products, each once."""
        return list(dict.fromkeys([*self.reactants, *self.products]))

    def renamed(self, name: str | None, mapping: dict | None) -> "Reaction":
        """A copy with a new name and symbols replaced by ``mapping``."""
        m = mapping or {}
        return Reaction({m.get(s, s): n for s, n in self.reactants.items()},
                        {m.get(s, s): n for s, n in self.products.items()},
                        rate=self.rate.xreplace(m), name=name, mass_action=self.mass_action)

    def __repr__(self) -> str:
        def side(d):
            return " + ".join((f"{n}*" if n != 1 else "") + s.name for s, n in d.items()) or "∅"
        return f"Reaction({self.name or ''}: {side(self.reactants)} -> {side(self.products)}, rate={self.rate})"


def mass_action(k, reactants=(), products=(), name: str | None = None) -> Reaction:
    """A mass-action reaction, written in concentrations.

    The rate (amount/time) is ``k · Π [X]^n · V`` where V is the volume of the first
    reactant's compartment (the first product's for a zero-order synthesis), so that
    in concentration terms :math:`d[A]/dt = -n_A k Π [X]^n`. There are **no
    combinatoric factors**: ``k, 2A -> B`` has concentration rate ``k*A^2``.

    Example:
        >>> from qsp import Parameter, Compartment, Species
        >>> c = Compartment("c", volume=2.0)
        >>> A, B = Species("A", c), Species("B", c)
        >>> mass_action(Parameter("k", 0.5), [A, A], [B]).rate
        c*k*A**2
    """
    probe = Reaction(reactants, products, rate=0, name=name)
    anchor = next(iter(probe.reactants or probe.products))
    rate = as_expression(k, f"mass_action {name or ''} k") * anchor.compartment
    for species, n in probe.reactants.items():
        rate = rate * (species / species.compartment if species.amount_based else species) ** n
    return Reaction(probe.reactants, probe.products, rate=rate, name=name, mass_action=True)
