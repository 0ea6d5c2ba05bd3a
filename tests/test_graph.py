"""ReactionGraph: stoichiometry, conservation laws, dependencies, drawing.

Expected matrices and laws are derived by hand from the reaction lists below (the
derivation is in the comments), never computed by the code under test.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import sympy as sp

import qsp
from qsp.errors import ModelError
from qsp.graph import ConservationLaw, Dependencies, ReactionGraph


# ------------------------------------------------------------------ model builders
def binding_model(open_system: bool, species_order=None) -> qsp.Model:
    """L + R <-> RL; open: R synthesis and degradation, RL internalisation."""
    c = qsp.Compartment("plasma", volume=qsp.Parameter("Vp", 3.0))
    L, R, RL = qsp.Species("L", c), qsp.Species("R", c), qsp.Species("RL", c)
    kon, koff = qsp.Parameter("kon", 1.0), qsp.Parameter("koff", 0.1)
    reactions = [qsp.mass_action(kon, [L, R], [RL], name="bind"),
                 qsp.mass_action(koff, [RL], [L, R], name="unbind")]
    if open_system:
        reactions += [qsp.Reaction([], [R], rate=qsp.Parameter("ksyn", 1.0), name="Rsyn"),
                      qsp.mass_action(qsp.Parameter("kdeg", 0.2), [R], [], name="Rdeg"),
                      qsp.mass_action(qsp.Parameter("kint", 0.05), [RL], [], name="RLint")]
    order = {"L": L, "R": R, "RL": RL}
    species = [order[n] for n in species_order] if species_order else []
    return qsp.Model("binding", reactions=reactions, species=species)


def pkpd_model() -> qsp.Model:
    """Two-compartment PK, effect compartment Ce with an Emax effect; an unrelated species X."""
    V1, V2 = qsp.Parameter("V1", 10.0), qsp.Parameter("V2", 20.0)
    CL, Q = qsp.Parameter("CL", 2.0), qsp.Parameter("Q", 1.5)
    ke0, Ce0 = qsp.Parameter("ke0", 0.7), qsp.Parameter("Ce0", 0.0)
    E0, Emax, EC50 = qsp.Parameter("E0", 1.0), qsp.Parameter("Emax", 5.0), qsp.Parameter("EC50", 2.0)
    central, periph = qsp.Compartment("central", volume=V1), qsp.Compartment("periph", volume=V2)
    A1, A2 = qsp.Species("A1", central), qsp.Species("A2", periph)
    Vg, kx, X0 = qsp.Parameter("Vg", 1.0), qsp.Parameter("kx", 0.3), qsp.Parameter("X0", 4.0)
    X = qsp.Species("X", qsp.Compartment("gut", volume=Vg), initial_amount=X0)
    Cc, Ce, Eff = qsp.Variable("Cc"), qsp.Variable("Ce", initial=Ce0), qsp.Variable("Eff")
    return qsp.Model(
        "pkpd",
        reactions=[qsp.Reaction([A1], [], rate=CL * A1, name="elim"),
                   qsp.Reaction([A1], [A2], rate=Q * A1, name="dist"),
                   qsp.Reaction([A2], [A1], rate=Q * A2, name="redist"),
                   qsp.Reaction([X], [], rate=kx * X * Vg, name="xloss")],
        rules=[qsp.AssignmentRule(Cc, A1),
               qsp.RateRule(Ce, ke0 * (Cc - Ce)),
               qsp.AssignmentRule(Eff, E0 + Emax * Ce / (EC50 + Ce))],
        observables={"effect": Eff, "Cp": A1, "X_level": X},
    )


def assert_law_annihilates(g: ReactionGraph, law: ConservationLaw) -> None:
    # Coefficients and S are small integers, exact in float64: w.S must be exactly 0.
    w = np.array([float(law.coefficients.get(n, 0)) for n in g.species_names])
    np.testing.assert_array_equal(w @ g.stoichiometry_array(), np.zeros(len(g.reaction_names)))


# ------------------------------------------------------------------ stoichiometry
def test_stoichiometry_of_open_binding_model_by_hand():
    g = ReactionGraph(binding_model(open_system=True))
    assert g.species_names == ("L", "R", "RL")
    assert g.reaction_names == ("bind", "unbind", "Rsyn", "Rdeg", "RLint")
    #                bind unbind Rsyn Rdeg RLint
    expected = sp.Matrix([[-1, 1, 0, 0, 0],    # L
                          [-1, 1, 1, -1, 0],   # R
                          [1, -1, 0, 0, -1]])  # RL
    S = g.stoichiometry_matrix()
    assert isinstance(S, sp.MatrixBase)
    assert S == expected
    arr = g.stoichiometry_array()
    assert arr.dtype == np.float64
    np.testing.assert_array_equal(arr, np.array(expected.tolist(), dtype=float))


def test_boundary_species_have_zero_rows():
    c = qsp.Compartment("c", volume=1.0)
    X = qsp.Species("X", c, boundary=True, initial_amount=1.0)
    A = qsp.Species("A", c)
    k = qsp.Parameter("k", 1.0)
    g = ReactionGraph(qsp.Model("m", reactions=[qsp.mass_action(k, [X], [A]), qsp.mass_action(k, [A], [])]))
    assert g.stoichiometry_matrix() == sp.Matrix([[0, 0], [1, -1]])
    assert g.conservation_laws() == []  # X is fixed by declaration, A is open


def test_symbolic_stoichiometry_is_refused_by_numeric_views():
    c = qsp.Compartment("c", volume=1.0)
    A, B = qsp.Species("A", c), qsp.Species("B", c)
    n = qsp.Parameter("n", 2.0)
    g = ReactionGraph(qsp.Model("m", reactions=[qsp.Reaction({A: n}, [B], rate=A)]))
    assert g.stoichiometry_matrix()[0, 0] == -n
    with pytest.raises(ModelError, match="'A'.*'R1'"):
        g.stoichiometry_array()
    with pytest.raises(ModelError, match="not a number"):
        g.conservation_laws()


# ------------------------------------------------------------------ conservation laws
def test_closed_binding_has_two_laws_exactly():
    # S = [-1, -1, 1]^T (L, R, RL) for bind, its negative for unbind; w.S = 0 means
    # w_RL = w_L + w_R: a 2-dimensional space spanned by L + RL and R + RL.
    g = ReactionGraph(binding_model(open_system=False))
    laws = g.conservation_laws()
    assert [law.coefficients for law in laws] == [{"L": 1, "RL": 1}, {"R": 1, "RL": 1}]
    assert all(isinstance(w, sp.Rational) for law in laws for w in law.coefficients.values())
    assert [str(law) for law in laws] == ["L + RL = const", "R + RL = const"]
    for law in laws:
        assert_law_annihilates(g, law)


def test_closed_binding_laws_are_nonnegative_whatever_the_species_order():
    # With RL first, plain rref gives RL + R and L - R; the nonnegative basis is R + RL, L + RL.
    g = ReactionGraph(binding_model(open_system=False, species_order=["RL", "L", "R"]))
    assert g.species_names == ("RL", "L", "R")
    laws = g.conservation_laws()
    assert {frozenset(law.coefficients.items()) for law in laws} == {
        frozenset({("RL", 1), ("R", 1)}), frozenset({("RL", 1), ("L", 1)})}
    for law in laws:
        assert_law_annihilates(g, law)


def test_open_binding_has_no_laws():
    # Rdeg forces w_R = 0, RLint w_RL = 0, then bind forces w_L = 0.
    assert ReactionGraph(binding_model(open_system=True)).conservation_laws() == []


def test_dimerisation_law_has_coefficient_two():
    # 2A -> B and B -> 2A: S = [[-2, 2], [1, -1]]; w.S = 0 gives w_B = 2 w_A: A + 2B.
    c = qsp.Compartment("c", volume=1.0)
    A, B = qsp.Species("A", c), qsp.Species("B", c)
    k1, k2 = qsp.Parameter("k1", 1.0), qsp.Parameter("k2", 0.5)
    g = ReactionGraph(qsp.Model("dimer", reactions=[qsp.mass_action(k1, [A, A], [B]),
                                                    qsp.mass_action(k2, [B], [A, A])]))
    (law,) = g.conservation_laws()
    assert law.coefficients == {"A": sp.Integer(1), "B": sp.Integer(2)}
    assert str(law) == "A + 2*B = const"
    assert_law_annihilates(g, law)


def test_enzyme_kinetics_laws_and_boundary_exclusion():
    # E + S <-> ES -> E + P: total enzyme E + ES and total substrate S + ES + P.
    # A boundary cofactor X taking part leaves the laws unchanged (it has a zero row).
    c = qsp.Compartment("c", volume=1.0)
    E, S, ES, P = (qsp.Species(n, c) for n in ("E", "S", "ES", "P"))
    X = qsp.Species("X", c, boundary=True, initial_amount=1.0)
    k = qsp.Parameter("k", 1.0)
    g = ReactionGraph(qsp.Model("mm", reactions=[
        qsp.mass_action(k, [E, S], [ES]), qsp.mass_action(k, [ES], [E, S]),
        qsp.mass_action(k, [ES, X], [E, P, X])]))
    laws = g.conservation_laws()
    assert [law.coefficients for law in laws] == [{"E": 1, "ES": 1}, {"S": 1, "ES": 1, "P": 1}]
    assert [str(law) for law in laws] == ["E + ES = const", "S + ES + P = const"]
    for law in laws:
        assert_law_annihilates(g, law)


def test_law_string_with_negative_coefficient():
    law = ConservationLaw({"A": sp.Integer(1), "B": sp.Integer(-3)})
    assert str(law) == "A - 3*B = const"
    assert hash(law) == hash(ConservationLaw({"A": sp.Integer(1), "B": sp.Integer(-3)}))


# ------------------------------------------------------------------ graph structure
def test_bipartite_graph_nodes_and_edges():
    c = qsp.Compartment("c", volume=1.0)
    A, B, M = qsp.Species("A", c), qsp.Species("B", c), qsp.Species("M", c)
    k, ke = qsp.Parameter("k", 1.0), qsp.Parameter("ke", 0.1)
    Z = qsp.Variable("Z")
    m = qsp.Model("m", reactions=[qsp.mass_action(k, [A, A], [B], name="dimer"),
                                  qsp.Reaction([B], [], rate=k * M * B * Z, name="cat")],
                  species=[M], rules=[qsp.RateRule(Z, ke * (B - Z))])
    g = ReactionGraph(m).graph
    kinds = dict(g.nodes(data="kind"))
    assert kinds == {"A": "species", "B": "species", "M": "species", "Z": "variable",
                     "dimer": "reaction", "cat": "reaction"}
    assert g.edges["A", "dimer"] == {"kind": "reactant", "stoichiometry": 2}
    assert g.edges["dimer", "B"] == {"kind": "product", "stoichiometry": 1}
    assert g.edges["M", "cat"]["kind"] == "modifier"
    assert g.edges["Z", "cat"]["kind"] == "modifier"
    assert g.edges["B", "Z"]["kind"] == "rule"
    assert not g.has_edge("B", "cat") or g.edges["B", "cat"]["kind"] == "reactant"
    assert nx.is_frozen(g)
    with pytest.raises(nx.NetworkXError):
        g.add_node("new")


def test_graph_does_not_mutate_model():
    m = binding_model(open_system=True)
    before = (m.reaction_names, [r.rate for r in m.reactions], m.species, m.parameters)
    ReactionGraph(m).conservation_laws()
    assert (m.reaction_names, [r.rate for r in m.reactions], m.species, m.parameters) == before


def test_reaction_named_like_a_species_is_an_error():
    c = qsp.Compartment("c", volume=1.0)
    A = qsp.Species("A", c)
    m = qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=A, name="A")])
    with pytest.raises(ModelError, match="reaction 'A'"):
        ReactionGraph(m)


# ------------------------------------------------------------------ dependencies
def test_dependencies_of_one_compartment_example():
    V, CL = qsp.Parameter("V", 30.0), qsp.Parameter("CL", 3.0)
    A = qsp.Species("A", qsp.Compartment("central", volume=V))
    m = qsp.Model("pk1", reactions=[qsp.Reaction([A], [], rate=CL * A)], observables={"C": A})
    d = ReactionGraph(m).dependencies("C")
    assert d == Dependencies(frozenset({"CL", "V"}), frozenset({"A"}), frozenset())


def test_dependencies_of_pkpd_effect():
    g = ReactionGraph(pkpd_model())
    pk = {"V1", "V2", "CL", "Q"}
    effect = g.dependencies("effect")
    assert effect.parameters == pk | {"ke0", "Ce0", "E0", "Emax", "EC50"}
    assert effect.species == {"A1", "A2"}
    assert effect.variables == {"Ce"}  # assignment rules (Cc, Eff) are inlined

    cp = g.dependencies("Cp")
    assert cp.parameters == pk  # no PD parameter feeds back into PK
    assert cp.species == {"A1", "A2"} and cp.variables == frozenset()

    assert g.dependencies("A2").parameters == pk
    ce = g.dependencies("Ce")
    assert ce.parameters == pk | {"ke0", "Ce0"} and ce.species == {"A1", "A2"}

    x = g.dependencies("X_level")
    assert x.parameters == {"Vg", "kx", "X0"}
    assert x.species == {"X"} and x.variables == frozenset()
    assert not (x.parameters & effect.parameters)


def test_dependencies_through_modifier_and_boundary():
    # X (boundary) drives A's synthesis; nothing drives X; M modifies A's loss.
    c = qsp.Compartment("c", volume=qsp.Parameter("Vc", 2.0))
    X = qsp.Species("X", c, boundary=True, initial_amount=qsp.Parameter("X0", 1.0))
    A, M = qsp.Species("A", c), qsp.Species("M", c, initial_concentration=qsp.Parameter("M0", 3.0))
    ksyn, kcat = qsp.Parameter("ksyn", 1.0), qsp.Parameter("kcat", 0.1)
    m = qsp.Model("m", reactions=[qsp.mass_action(ksyn, [X], [X, A], name="syn"),
                                  qsp.Reaction([A], [], rate=kcat * M * A, name="loss")],
                  species=[M])
    g = ReactionGraph(m)
    assert g.dependencies("X") == Dependencies(frozenset({"Vc", "X0"}), frozenset(), frozenset())
    a = g.dependencies("A")
    assert a.parameters == {"Vc", "X0", "ksyn", "kcat", "M0"}
    assert a.species == {"X", "M"}


def test_dependencies_of_unknown_name_is_an_error():
    g = ReactionGraph(pkpd_model())
    with pytest.raises(ModelError) as info:
        g.dependencies("nope")
    message = str(info.value)
    assert "'nope'" in message
    for valid in ("effect", "Cp", "A1", "Ce"):
        assert valid in message
    with pytest.raises(ModelError, match="'CL'"):
        g.dependencies("CL")  # a parameter is not a dependent quantity


# ------------------------------------------------------------------ drawing
def test_dot_text():
    dot = ReactionGraph(binding_model(open_system=True)).to_dot()
    assert dot.startswith('digraph "binding" {') and dot.rstrip().endswith("}")
    for line in ('"L" [shape=ellipse];', '"RL" [shape=ellipse];', '"bind" [shape=box];',
                 '"Rsyn" [shape=box];', '"L" -> "bind";', '"R" -> "bind";', '"bind" -> "RL";',
                 '"Rsyn" -> "R";', '"RL" -> "RLint";'):
        assert line in dot


def test_dot_modifier_edges_are_dashed_and_stoichiometry_labelled():
    c = qsp.Compartment("c", volume=1.0)
    A, B, M = qsp.Species("A", c), qsp.Species("B", c), qsp.Species("M", c)
    k = qsp.Parameter("k", 1.0)
    m = qsp.Model("m", reactions=[qsp.Reaction([A, A], [B], rate=k * M * A**2, name="cat")], species=[M])
    dot = ReactionGraph(m).to_dot()
    assert '"M" -> "cat" [style=dashed];' in dot
    assert '"A" -> "cat" [label="2"];' in dot


def test_draw_returns_axes():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.axes import Axes

    g = ReactionGraph(pkpd_model())
    ax = g.draw()
    assert isinstance(ax, Axes)
    fig, given = plt.subplots()
    assert g.draw(ax=given) is given
    plt.close("all")
