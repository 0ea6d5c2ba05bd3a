"""The reaction graph of a model: stoichiometry, conservation laws, dependencies, drawing.

:class:`ReactionGraph` is the second stage of the pipeline (``Model -> ReactionGraph ->
CompiledModel``). It reads a :class:`~qsp.Model` and never changes it; everything it
builds is frozen. Three views of one model:

* the bipartite species–reaction graph (:attr:`ReactionGraph.graph`);
* the stoichiometry matrix S, with :math:`dy/dt = S \\cdot v(t, y, p)` for the species
  amounts y, and the conservation laws :math:`w^T S = 0` it implies;
* the *influence* graph behind :meth:`ReactionGraph.dependencies`: which parameters,
  species and variables can change a quantity.

Example:
    >>> import qsp
    >>> from qsp.graph import ReactionGraph
    >>> c = qsp.Compartment("c", volume=1.0)
    >>> L, R, RL = qsp.Species("L", c), qsp.Species("R", c), qsp.Species("RL", c)
    >>> kon, koff = qsp.Parameter("kon", 1.0), qsp.Parameter("koff", 0.1)
    >>> m = qsp.Model("bind", reactions=[qsp.mass_action(kon, [L, R], [RL]), qsp.mass_action(koff, [RL], [L, R])])
    >>> [str(law) for law in ReactionGraph(m).conservation_laws()]
    ['L + RL = const', 'R + RL = const']
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import sympy as sp

from .errors import ModelError
from .model.rules import inline_assignments
from .model.symbols import Compartment, ModelSymbol, Parameter, Species, Time, Variable

__all__ = ["ReactionGraph", "ConservationLaw", "Dependencies"]


@dataclass(frozen=True)
class ConservationLaw:
    """A conserved weighted sum of species **amounts**: :math:`\\sum_i w_i n_i = \\text{const}`.

    ``w`` is a left null vector of the stoichiometry matrix (:math:`w^T S = 0`), so the sum
    is constant along every solution of :math:`dn/dt = S v`, between doses. S acts on
    amounts, so the law is on amounts; in concentrations it reads
    :math:`\\sum_i w_i V_i [X_i] = \\text{const}`. Coefficients are integers with gcd 1.

    Example:
        >>> import sympy as sp
        >>> law = ConservationLaw({"A": sp.Integer(1), "B": sp.Integer(2)})
        >>> str(law)
        'A + 2*B = const'
    """

    coefficients: dict[str, sp.Rational]
    """Species name -> coefficient, nonzero entries only, in the model's species order."""

    def __hash__(self) -> int:
        return hash(tuple(self.coefficients.items()))

    def __str__(self) -> str:
        text = ""
        for name, w in self.coefficients.items():
            magnitude = abs(w)
            term = name if magnitude == 1 else f"{magnitude}*{name}"
            if not text:
                text = term if w > 0 else f"-{term}"
            else:
                text += f" + {term}" if w > 0 else f" - {term}"
        return f"{text or '0'} = const"


@dataclass(frozen=True)
class Dependencies:
    """The quantities that can influence one observable, species or variable.

    These are all ancestors in the influence graph (see :meth:`ReactionGraph.dependencies`);
    the queried quantity itself is not listed.

    Example:
        >>> d = Dependencies(frozenset({"CL", "V"}), frozenset({"A"}), frozenset())
        >>> sorted(d.parameters)
        ['CL', 'V']
    """

    parameters: frozenset[str]
    species: frozenset[str]
    variables: frozenset[str]


def _symbols(expr: sp.Basic) -> list[ModelSymbol]:
    """Model symbols of an expression (time left out), sorted by name."""
    return sorted((s for s in expr.free_symbols if isinstance(s, ModelSymbol) and not isinstance(s, Time)),
                  key=lambda s: s.name)


_KIND = {Parameter: "parameter", Compartment: "compartment", Species: "species", Variable: "variable"}


def _node(sym: ModelSymbol) -> tuple[str, str]:
    return (_KIND[type(sym)], sym.name)


class ReactionGraph:
    """The species–reaction graph of a model, with its stoichiometry and dependencies.

    Built once from a :class:`~qsp.Model` and frozen; the model is not changed. Species
    and reactions keep the model's order, so row i / column j of
    :meth:`stoichiometry_matrix` is ``species_names[i]`` / ``reaction_names[j]``.

    Args:
        model: the model to read.

    Raises:
        ModelError: a reaction has the name of a species or variable (rename the reaction).

    Example:
        >>> import qsp
        >>> V, CL = qsp.Parameter("V", 30.0), qsp.Parameter("CL", 3.0)
        >>> A = qsp.Species("A", qsp.Compartment("central", volume=V))
        >>> m = qsp.Model("pk1", reactions=[qsp.Reaction([A], [], rate=CL * A)], observables={"C": A})
        >>> g = ReactionGraph(m)
        >>> g.species_names, g.reaction_names
        (('A',), ('R1',))
        >>> sorted(g.dependencies("C").parameters)
        ['CL', 'V']
    """

    def __init__(self, model) -> None:
        self._model = model
        self._species = tuple(model.species)
        self._reactions = tuple(model.reactions)
        self._assignments = list(model.assignment_rules)
        clash = set(model.reaction_names) & {s.name for s in (*model.species, *model.variables)}
        if clash:
            name = sorted(clash)[0]
            raise ModelError(
                f"Model {model.name!r}: reaction {name!r} has the name of a species or variable; "
                f"give the reaction another name, e.g. qsp.Reaction(..., name='{name}_reaction')."
            )
        import networkx as nx  # here, not at import: networkx takes ~0.15 s to import (issue 5, T7)

        self._graph = nx.freeze(self._build_graph())
        self._influence = nx.freeze(self._build_influence())
        self._S = self._build_stoichiometry()

    # ----------------------------------------------------------------- construction
    def _rate(self, reaction) -> sp.Expr:
        return inline_assignments(reaction.rate, self._assignments)

    def _build_graph(self) -> nx.DiGraph:
        import networkx as nx

        g = nx.DiGraph(name=self._model.name)
        for s in self._species:
            g.add_node(s.name, kind="species")
        rate_vars = [r.variable for r in self._model.rate_rules]
        for v in rate_vars:
            g.add_node(v.name, kind="variable")
        for name, r in zip(self._model.reaction_names, self._reactions):
            g.add_node(name, kind="reaction")
            for s, n in r.reactants.items():
                g.add_edge(s.name, name, kind="reactant", stoichiometry=n)
            for s, n in r.products.items():
                g.add_edge(name, s.name, kind="product", stoichiometry=n)
            for sym in _symbols(self._rate(r)):
                if isinstance(sym, (Species, Variable)) and sym not in r.reactants and sym.name in g:
                    g.add_edge(sym.name, name, kind="modifier")
        for rule in self._model.rate_rules:
            for sym in _symbols(inline_assignments(rule.expression, self._assignments)):
                if isinstance(sym, (Species, Variable)) and sym.name in g and sym != rule.variable:
                    g.add_edge(sym.name, rule.variable.name, kind="rule")
        return g

    def _build_influence(self) -> nx.DiGraph:
        import networkx as nx

        g = nx.DiGraph()

        def feed(target, expr):
            g.add_node(target)
            for sym in _symbols(inline_assignments(expr, self._assignments)):
                g.add_edge(_node(sym), target)

        for sym in self._model.symbols.values():
            g.add_node(_node(sym))
        for c in self._model.compartments:
            feed(_node(c), c.volume)
        for s in self._species:
            feed(_node(s), s.initial_amount_expression())
            if not s.amount_based:  # its symbol is amount / volume
                g.add_edge(_node(s.compartment), _node(s))
        for name, r in zip(self._model.reaction_names, self._reactions):
            node = ("reaction", name)
            feed(node, self._rate(r))
            for n in (*r.reactants.values(), *r.products.values()):
                feed(node, sp.sympify(n))
            for s, n in r.net_stoichiometry().items():
                if not (s.boundary or s.constant):
                    g.add_edge(node, _node(s))
        for rule in self._model.rate_rules:
            feed(_node(rule.variable), rule.expression)
            feed(_node(rule.variable), rule.variable.initial)
        for rule in self._model.assignment_rules:
            feed(_node(rule.variable), rule.expression)
        for key, expr in self._model.observables.items():
            feed(("observable", key), expr)
        return g

    def _build_stoichiometry(self) -> sp.ImmutableMatrix:
        rows = {s: i for i, s in enumerate(self._species)}
        S = sp.zeros(len(self._species), len(self._reactions))
        for j, r in enumerate(self._reactions):
            for s, n in r.net_stoichiometry().items():
                if not (s.boundary or s.constant):
                    S[rows[s], j] = n
        return sp.ImmutableMatrix(S)

    # ----------------------------------------------------------------- accessors
    @property
    def model(self):
        """The model this graph was built from (unchanged)."""
        return self._model

    @property
    def graph(self) -> nx.DiGraph:
        """The frozen bipartite species–reaction graph.

        Nodes have ``kind`` ``"species"``, ``"reaction"`` or ``"variable"`` (rate-rule
        variables). Edges: species → reaction (``kind="reactant"``, ``stoichiometry=n``),
        reaction → species (``"product"``), species/variable → reaction (``"modifier"``:
        in the rate law, after inlining assignment rules, but not a reactant), and
        species/variable → variable (``"rule"``: in a rate rule).

        Example:
            >>> import qsp
            >>> c = qsp.Compartment("c", volume=1.0)
            >>> A, B = qsp.Species("A", c), qsp.Species("B", c)
            >>> m = qsp.Model("m", reactions=[qsp.mass_action(qsp.Parameter("k", 1.0), [A, A], [B], name="dimer")])
            >>> ReactionGraph(m).graph.edges["A", "dimer"]["stoichiometry"]
            2
        """
        return self._graph

    @property
    def species_names(self) -> tuple[str, ...]:
        """Species names in the model's order (rows of S).

        Example:
            >>> import qsp
            >>> A = qsp.Species("A", qsp.Compartment("c", volume=1.0))
            >>> ReactionGraph(qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=A)])).species_names
            ('A',)
        """
        return tuple(s.name for s in self._species)

    @property
    def reaction_names(self) -> tuple[str, ...]:
        """Reaction names in the model's order (columns of S); unnamed ones are ``R1, R2, ...``.

        Example:
            >>> import qsp
            >>> A = qsp.Species("A", qsp.Compartment("c", volume=1.0))
            >>> ReactionGraph(qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=A)])).reaction_names
            ('R1',)
        """
        return tuple(self._model.reaction_names)

    # ----------------------------------------------------------------- stoichiometry
    def stoichiometry_matrix(self) -> sp.ImmutableMatrix:
        """The stoichiometry matrix S (exact, sympy), with :math:`dn/dt = S v` on amounts n.

        :math:`S_{ij}` = (products − reactants) of species i in reaction j. Rows of
        boundary and constant species are zero: reactions do not change them.

        Example:
            >>> import qsp
            >>> c = qsp.Compartment("c", volume=1.0)
            >>> A, B = qsp.Species("A", c), qsp.Species("B", c)
            >>> k = qsp.Parameter("k", 1.0)
            >>> ReactionGraph(qsp.Model("m", reactions=[qsp.mass_action(k, [A, A], [B])])).stoichiometry_matrix()
            Matrix([
            [-2],
            [ 1]])
        """
        return self._S

    def stoichiometry_array(self) -> np.ndarray:
        """S as a float64 numpy array (see :meth:`stoichiometry_matrix`).

        Raises:
            ModelError: a stoichiometric coefficient is an expression, not a number.

        Example:
            >>> import qsp
            >>> A = qsp.Species("A", qsp.Compartment("c", volume=1.0))
            >>> ReactionGraph(qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=A)])).stoichiometry_array()
            array([[-1.]])
        """
        self._require_numeric("stoichiometry_array()")
        return np.array(self._S.tolist(), dtype=np.float64).reshape(self._S.shape)

    def _require_numeric(self, what: str) -> None:
        for (i, j), entry in np.ndenumerate(np.array(self._S.tolist(), dtype=object).reshape(self._S.shape)):
            if not sp.sympify(entry).is_number:
                raise ModelError(
                    f"{what}: the stoichiometry of species {self.species_names[i]!r} in reaction "
                    f"{self.reaction_names[j]!r} is the expression {entry}, not a number; "
                    "use numeric stoichiometric coefficients."
                )

    def conservation_laws(self) -> list[ConservationLaw]:
        """An exact basis of the conservation laws :math:`w^T S = 0`, on species **amounts**.

        The state is amounts and S acts on amounts, so each law says
        :math:`\\sum_i w_i n_i` is constant (between doses); for concentrations weight by
        volume. The basis is the left null space of S over the rationals, row-reduced
        (rref) for a deterministic answer, then made nonnegative where adding other
        nonnegative laws allows, scaled to integers with gcd 1 and a positive first
        entry. Boundary and constant species are fixed by declaration and left out.

        Raises:
            ModelError: a stoichiometric coefficient is an expression, not a number.

        Example:
            >>> import qsp
            >>> c = qsp.Compartment("c", volume=1.0)
            >>> A, B = qsp.Species("A", c), qsp.Species("B", c)
            >>> k = qsp.Parameter("k", 1.0)
            >>> m = qsp.Model("m", reactions=[qsp.mass_action(k, [A, A], [B]), qsp.mass_action(k, [B], [A, A])])
            >>> [str(law) for law in ReactionGraph(m).conservation_laws()]
            ['A + 2*B = const']
        """
        self._require_numeric("conservation_laws()")
        keep = [i for i, s in enumerate(self._species) if not (s.boundary or s.constant)]
        if not keep:
            return []
        S = sp.Matrix([[sp.nsimplify(x, rational=True) for x in self._S.row(i)] for i in keep])
        S = S.reshape(len(keep), len(self._reactions))
        basis = S.T.nullspace() if S.shape[1] else [sp.eye(len(keep)).col(i) for i in range(len(keep))]
        if not basis:
            return []
        W, _ = sp.Matrix.hstack(*basis).T.rref()
        rows = [list(W.row(i)) for i in range(W.rows) if any(W.row(i))]
        rows = _make_nonnegative(rows)
        laws = []
        for row in rows:
            denominators = math.lcm(*(sp.Rational(x).q for x in row))
            ints = [int(sp.Rational(x) * denominators) for x in row]
            divisor = math.gcd(*ints)
            ints = [x // divisor for x in ints]
            if next(x for x in ints if x) < 0:
                ints = [-x for x in ints]
            laws.append(ConservationLaw({self._species[keep[i]].name: sp.Integer(x)
                                         for i, x in enumerate(ints) if x}))
        return laws

    # ----------------------------------------------------------------- dependencies
    def dependencies(self, name: str) -> Dependencies:
        """The parameters, species and variables that can influence ``name``.

        ``name`` is an observable, a species or a rule variable. Influence edges: a
        symbol → a reaction whose rate (assignment rules inlined) or stoichiometry uses
        it; a reaction → each non-boundary, non-constant species whose net stoichiometry
        in it is nonzero; a species ← its compartment (its symbol means amount / volume,
        unless amount-based) and the symbols of its initial amount; a compartment ← its
        volume; a variable ← its rule expression (and a rate-rule variable ← its
        initial); an observable ← its expression. The answer is every ancestor; compartments
        resolve to the parameters of their volumes, assignment-rule variables are inlined.

        Raises:
            ModelError: ``name`` is not an observable, species or variable of the model.

        Example:
            >>> import qsp
            >>> V, CL = qsp.Parameter("V", 30.0), qsp.Parameter("CL", 3.0)
            >>> A = qsp.Species("A", qsp.Compartment("central", volume=V))
            >>> m = qsp.Model("pk1", reactions=[qsp.Reaction([A], [], rate=CL * A)], observables={"C": A})
            >>> d = ReactionGraph(m).dependencies("C")
            >>> sorted(d.parameters), sorted(d.species)
            (['CL', 'V'], ['A'])
        """
        if name in self._model.observables:
            node = ("observable", name)
        elif isinstance(self._model.symbols.get(name), (Species, Variable)):
            node = _node(self._model.symbols[name])
        else:
            valid = [*self._model.observables, *(s.name for s in self._species),
                     *(v.name for v in self._model.variables)]
            raise ModelError(
                f"ReactionGraph.dependencies: {name!r} is not an observable, species or variable of model "
                f"{self._model.name!r}; valid names: {', '.join(valid) or '(none)'}."
            )
        import networkx as nx

        found: dict[str, set[str]] = {"parameter": set(), "species": set(), "variable": set()}
        for kind, label in nx.ancestors(self._influence, node):
            if kind in found:
                found[kind].add(label)
        return Dependencies(frozenset(found["parameter"]), frozenset(found["species"]),
                            frozenset(found["variable"]))

    # ----------------------------------------------------------------- drawing
    def to_dot(self) -> str:
        """The graph as Graphviz DOT text: species ellipses, reactions boxes, variables
        diamonds; modifier edges dashed, rule edges dotted, stoichiometry ≠ 1 as labels.

        Example:
            >>> import qsp
            >>> A = qsp.Species("A", qsp.Compartment("c", volume=1.0))
            >>> print(ReactionGraph(qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=A)])).to_dot())
            digraph "m" {
              "A" [shape=ellipse];
              "R1" [shape=box];
              "A" -> "R1";
            }
        """
        def q(text) -> str:
            return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'

        shapes = {"species": "ellipse", "reaction": "box", "variable": "diamond"}
        lines = [f"digraph {q(self._model.name)} {{"]
        for node, data in self._graph.nodes(data=True):
            lines.append(f"  {q(node)} [shape={shapes[data['kind']]}];")
        for u, v, data in self._graph.edges(data=True):
            attrs = []
            if data["kind"] == "modifier":
                attrs.append("style=dashed")
            elif data["kind"] == "rule":
                attrs.append("style=dotted")
            n = data.get("stoichiometry", 1)
            if n != 1:
                attrs.append(f"label={q(n)}")
            lines.append(f"  {q(u)} -> {q(v)}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";")
        lines.append("}")
        return "\n".join(lines)

    def draw(self, ax=None, seed: int = 0):
        """Draw the graph with matplotlib (networkx spring layout, fixed ``seed``).

        Species are circles, reactions squares, variables diamonds; modifier and rule
        edges dashed. Returns the matplotlib Axes.

        Example:
            >>> import matplotlib; matplotlib.use("Agg")
            >>> import qsp
            >>> A = qsp.Species("A", qsp.Compartment("c", volume=1.0))
            >>> ax = ReactionGraph(qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=A)])).draw()
            >>> type(ax).__name__
            'Axes'
        """
        import matplotlib.pyplot as plt  # lazy: plotting is optional
        import networkx as nx

        if ax is None:
            _, ax = plt.subplots()
        g = self._graph
        pos = nx.spring_layout(g, seed=seed) if len(g) else {}
        for kind, shape, color in (("species", "o", "#9ecae1"), ("reaction", "s", "#fdd0a2"),
                                   ("variable", "D", "#c7e9c0")):
            nodes = [n for n, d in g.nodes(data=True) if d["kind"] == kind]
            nx.draw_networkx_nodes(g, pos, nodelist=nodes, node_shape=shape, node_color=color, ax=ax)
        solid = [(u, v) for u, v, d in g.edges(data=True) if d["kind"] in ("reactant", "product")]
        dashed = [(u, v) for u, v, d in g.edges(data=True) if d["kind"] in ("modifier", "rule")]
        nx.draw_networkx_edges(g, pos, edgelist=solid, ax=ax, arrows=True)
        nx.draw_networkx_edges(g, pos, edgelist=dashed, style="dashed", ax=ax, arrows=True)
        nx.draw_networkx_labels(g, pos, ax=ax, font_size=8)
        ax.set_axis_off()
        return ax

    def __repr__(self) -> str:
        return (f"ReactionGraph({self._model.name!r}: {len(self._species)} species, "
                f"{len(self._reactions)} reactions)")


def _make_nonnegative(rows: list[list]) -> list[list]:
    """Add nonnegative basis rows to rows with negative entries until none remain (if possible).

    Adding a multiple of another basis row is an elementary row operation, so the rows stay
    a basis of the same space; a nonnegative row stays nonnegative, so this terminates.
    """
    rows = [list(r) for r in rows]
    changed = True
    while changed:
        changed = False
        for i in range(len(rows)):
            for c in range(len(rows[i])):
                x = rows[i][c]
                if x >= 0:
                    continue
                helper = next((j for j, other in enumerate(rows)
                               if j != i and other[c] > 0 and all(y >= 0 for y in other)), None)
                if helper is None:
                    continue
                factor = sp.ceiling(-x / rows[helper][c])
                rows[i] = [a + factor * b for a, b in zip(rows[i], rows[helper])]
                changed = True
    return rows
