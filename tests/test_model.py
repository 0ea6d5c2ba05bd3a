"""Model building: symbols, reactions, composition by identity, namespacing, immutable
transformations (with_values, prefixed, extended), stoichiometry, mass action.

Pure sympy: nothing here compiles a model, except the two numerical checks at the end
(mass action's rate form in concentrations, and with_values reaching the compiled defaults).
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import qsp
from qsp.errors import DuplicateNameError, ModelError


@pytest.fixture
def pk():
    """A one-compartment elimination fragment and its objects."""
    V = qsp.Parameter("V", 30.0, unit="L", description="central volume")
    CL = qsp.Parameter("CL", 3.0, unit="L/h", description="clearance")
    central = qsp.Compartment("central", volume=V)
    A = qsp.Species("A", central, initial_amount=100.0)
    model = qsp.Model("pk", reactions=[qsp.Reaction([A], [], rate=CL * A, name="elim")], observables={"C": A})
    return dict(V=V, CL=CL, central=central, A=A, model=model)


def _effect_fragment(A):
    """A PD fragment that shares the species A (same object) and has its own parameters and species."""
    c = qsp.Compartment("biophase", volume=qsp.Parameter("Vb", 1.0))
    E = qsp.Species("E", c, initial_amount=1.0)
    k = qsp.Parameter("kout", 0.2)
    return qsp.Model("pd", reactions=[qsp.Reaction([], [E], rate=k * A * c, name="stim"),
                                      qsp.mass_action(k, [E], [], name="loss")],
                     observables={"E_level": E})


# ------------------------------------------------------------------ symbols
def test_symbols_carry_their_metadata(pk):
    assert pk["CL"].value == 3.0 and pk["CL"].unit == "L/h" and pk["CL"].description == "clearance"
    assert pk["central"].volume is pk["V"]
    assert pk["A"].compartment is pk["central"]
    assert float(pk["A"].initial_amount) == 100.0
    # sympy arithmetic builds expressions whose free symbols are the declared objects
    expr = pk["CL"] * pk["A"]
    assert expr.free_symbols == {pk["CL"], pk["A"]}


def test_model_collects_quantities_from_expressions(pk):
    m = pk["model"]
    assert [p.name for p in m.parameters] == ["CL", "V"]   # sorted by name
    assert [c.name for c in m.compartments] == ["central"]
    assert [s.name for s in m.species] == ["A"]
    assert m.symbol("V") is pk["V"]
    assert "CL" in m and "nope" not in m
    assert [r.name for r in m.reactions] == ["elim"]
    assert set(m.symbols) == {"A", "CL", "V", "central"}


def test_unnamed_reactions_are_numbered(pk):
    A, CL = pk["A"], pk["CL"]
    B = qsp.Species("B", pk["central"])
    m = qsp.Model("m", reactions=[qsp.Reaction([A], [B], rate=CL * A),
                                  qsp.Reaction([B], [], rate=CL * B, name="R1"),
                                  qsp.Reaction([B], [A], rate=CL * B)])
    # a given name is kept; numbering skips names that are taken
    assert [r.name for r in m.reactions] == ["R2", "R1", "R3"]


def test_declared_parameter_used_by_no_expression(pk):
    F = qsp.Parameter("F", 0.8, description="bioavailability, used only by dose records")
    m = qsp.Model("pk", reactions=pk["model"].reactions, observables={"C": pk["A"]}, parameters=[F])
    assert [p.name for p in m.parameters] == ["CL", "F", "V"]
    assert "F" in qsp.compile(m).parameter_names


def test_time_is_usable_in_expressions(pk):
    A = pk["A"]
    amp = qsp.Parameter("amp", 0.5)
    m = qsp.Model("t", reactions=[qsp.Reaction([], [A], rate=amp * sp.cos(2 * sp.pi * qsp.time / 24))])
    assert "t" not in m.symbols   # time is not a model quantity
    assert [p.name for p in m.parameters] == ["V", "amp"]   # V through A's compartment


# ------------------------------------------------------------------ composition by identity
def test_compose_shares_the_same_species_object(pk):
    pd = _effect_fragment(pk["A"])
    whole = qsp.compose(pk["model"], pd)
    assert whole.symbol("A") is pk["A"]  # one A, not two
    assert [s.name for s in whole.species] == ["A", "E"]
    assert [r.name for r in whole.reactions] == ["elim", "stim", "loss"]
    assert set(whole.observables) == {"C", "E_level"}
    # the shared species links the two: A appears in the PD rate law
    stim = whole.reactions[1]
    assert pk["A"] in stim.rate.free_symbols
    # inputs are unchanged (immutability)
    assert [s.name for s in pk["model"].species] == ["A"]
    assert {s.name for s in pd.species} == {"A", "E"}


def test_equal_definitions_are_one_quantity(pk):
    # two separately constructed but identical parameters are the same quantity
    CL_again = qsp.Parameter("CL", 3.0, unit="L/h", description="clearance")
    B = qsp.Species("B", pk["central"])
    other = qsp.Model("o", reactions=[qsp.Reaction([B], [], rate=CL_again * B)])
    whole = qsp.compose(pk["model"], other)
    assert [p.name for p in whole.parameters] == ["CL", "V"]


def test_compose_clash_without_prefix_is_an_error(pk):
    CL_other = qsp.Parameter("CL", 5.0)   # same name, another value
    B = qsp.Species("B", pk["central"])
    other = qsp.Model("o", reactions=[qsp.Reaction([B], [], rate=CL_other * B)])
    with pytest.raises(DuplicateNameError, match="'CL'"):
        qsp.compose(pk["model"], other)
    with pytest.raises(DuplicateNameError, match="'CL'"):
        pk["model"].compose(other)


def test_compose_observable_clash_is_an_error(pk):
    B = qsp.Species("B", pk["central"])
    other = qsp.Model("o", reactions=[qsp.Reaction([B], [], rate=pk["CL"] * B)], observables={"C": B})
    with pytest.raises(DuplicateNameError, match="observable 'C'"):
        qsp.compose(pk["model"], other)


def test_compose_with_prefix_namespaces_the_rest(pk):
    # the fragment's own CL (another object) becomes pd_CL; the shared A, its compartment
    # and volume parameter stay; named reactions and observables are prefixed too
    A = pk["A"]
    CL_pd = qsp.Parameter("CL", 5.0, unit="L/h")
    B = qsp.Species("B", pk["central"])
    frag = qsp.Model("frag", reactions=[qsp.Reaction([A], [B], rate=CL_pd * A, name="conv")],
                     observables={"B_level": B})
    whole = pk["model"].compose(frag, prefix="pd")
    assert set(whole.symbols) == {"A", "CL", "V", "central", "pd_B", "pd_CL"}
    # kept quantities are the same quantity (equal, same identity key) as the originals
    assert whole.symbol("A") == A and whole.symbol("A").identity() == A.identity()
    assert whole.symbol("pd_CL").value == 5.0 and whole.symbol("pd_CL").unit == "L/h"
    assert whole.symbol("CL").value == 3.0
    assert [r.name for r in whole.reactions] == ["elim", "pd_conv"]
    assert set(whole.observables) == {"C", "pd_B_level"}
    conv = whole.reactions[1]
    assert conv.rate == whole.symbol("pd_CL") * A
    assert list(conv.products) == [whole.symbol("pd_B")]
    assert whole.symbol("pd_B").compartment == pk["central"]
    # deterministic: the same call gives the same names in the same order
    again = pk["model"].compose(frag, prefix="pd")
    assert list(again.symbols) == list(whole.symbols)
    assert [r.name for r in again.reactions] == [r.name for r in whole.reactions]


def test_prefixed_keeps_only_what_is_kept(pk):
    m = pk["model"]
    everything = m.prefixed("x")
    assert set(everything.symbols) == {"x_A", "x_CL", "x_V", "x_central"}
    assert [r.name for r in everything.reactions] == ["x_elim"]
    assert set(everything.observables) == {"x_C"}
    # the prefixed species lives in the prefixed compartment whose volume is the prefixed V
    xA = everything.symbol("x_A")
    assert xA.compartment.name == "x_central" and xA.compartment.volume.name == "x_V"
    assert float(xA.initial_amount) == 100.0
    kept = m.prefixed("x", keep=[pk["A"]])   # A keeps its compartment and V with it
    assert set(kept.symbols) == {"A", "central", "V", "x_CL"}
    assert kept.symbol("A") == pk["A"] and kept.symbol("A").identity() == pk["A"].identity()
    with pytest.raises(ModelError, match="not a valid identifier"):
        m.prefixed("1x")


def test_with_values_returns_a_new_model(pk):
    m = pk["model"]
    m2 = m.with_values(CL=4.5, V=20.0)
    assert m2.symbol("CL").value == 4.5 and m2.symbol("V").value == 20.0
    assert m2.symbol("CL").unit == "L/h"   # metadata kept
    assert m.symbol("CL").value == 3.0     # the original is unchanged
    assert m2.species[0].compartment.volume.value == 20.0   # the volume follows the new V
    assert m.with_values({"CL": 1.0}).symbol("CL").value == 1.0
    with pytest.raises(ModelError, match="no parameter 'CLX'"):
        m.with_values(CLX=1.0)
    # the compiled defaults follow (one evaluation of the RHS, CL*A with A = 100 / 20)
    cm = qsp.compile(m2)
    np.testing.assert_array_equal(np.asarray(cm.default_parameters), [4.5, 20.0])
    args = cm.prepare(cm.parameter_vector())
    assert float(cm.rhs(0.0, cm.initial_state(args), args)[0]) == pytest.approx(-4.5 * 100.0 / 20.0, rel=1e-15)


def test_extended_adds_without_mutating(pk):
    m = pk["model"]
    B = qsp.Species("B", pk["central"])
    k = qsp.Parameter("k", 0.1)
    F = qsp.Parameter("F", 0.9)
    m2 = m.extended(reactions=[qsp.Reaction([A := pk["A"]], [B], rate=k * A, name="conv")],
                    observables={"B_level": B}, parameters=[F], name="pk2")
    assert m2.name == "pk2"
    assert [r.name for r in m2.reactions] == ["elim", "conv"]
    assert set(m2.observables) == {"C", "B_level"}
    assert [p.name for p in m2.parameters] == ["CL", "F", "V", "k"]
    assert [r.name for r in m.reactions] == ["elim"] and set(m.observables) == {"C"}
    Ce = qsp.Variable("Ce")
    m3 = m.extended(rules=[qsp.RateRule(Ce, k * (A - Ce))])
    assert [v.name for v in m3.variables] == ["Ce"]
    assert len(m.rules) == 0


def test_model_is_immutable_view(pk):
    m = pk["model"]
    m.symbols["Z"] = None   # a copy
    assert "Z" not in m
    assert isinstance(m.reactions, tuple) and isinstance(m.parameters, tuple)


# ------------------------------------------------------------------ reactions and stoichiometry
def test_stoichiometry_by_repetition_and_by_mapping(pk):
    c = pk["central"]
    A, B = pk["A"], qsp.Species("B", c)
    k = qsp.Parameter("k", 0.5)
    by_list = qsp.Reaction([A, A], [B], rate=k * A**2)
    by_map = qsp.Reaction({A: 2}, {B: 1}, rate=k * A**2)
    assert by_list.reactants == {A: 2} and by_list.products == {B: 1}
    assert by_map.reactants == by_list.reactants and by_map.products == by_list.products
    assert by_list.net_stoichiometry() == {A: -2, B: 1}
    # a species on both sides: net change only (A + B -> 2B is autocatalysis: A -1, B +1)
    auto = qsp.Reaction([A, B], [B, B], rate=k * A * B)
    assert auto.net_stoichiometry() == {A: -1, B: 1}
    # a single species may be given bare
    assert qsp.Reaction(A, [], rate=k * A).reactants == {A: 1}
    # the stoichiometry matrix of the model says the same
    g = qsp.ReactionGraph(qsp.Model("s", reactions=[by_map]))
    assert g.stoichiometry_matrix() == sp.Matrix([[-2], [1]])


def test_synthesis_and_elimination_reactions(pk):
    A, k = pk["A"], qsp.Parameter("k", 0.5)
    syn = qsp.Reaction([], [A], rate=k)
    assert syn.reactants == {} and syn.products == {A: 1}
    assert qsp.Reaction([A], [], rate=k * A).products == {}


def test_mass_action_rate_form_has_no_combinatoric_factor():
    c = qsp.Compartment("c", volume=2.0)
    A, B = qsp.Species("A", c), qsp.Species("B", c)
    k = qsp.Parameter("k", 0.5)
    r = qsp.mass_action(k, [A, A], [B])
    # amount per time = k [A]^2 V  (no 1/2)
    assert sp.simplify(r.rate - k * A**2 * c) == 0
    assert r.reactants == {A: 2} and r.mass_action
    # bimolecular between compartments: V of the first reactant's compartment
    d = qsp.Compartment("d", volume=5.0)
    X = qsp.Species("X", d)
    assert sp.simplify(qsp.mass_action(k, [X, A], []).rate - k * X * A * d) == 0
    # zero order synthesis: V of the first product's compartment
    assert sp.simplify(qsp.mass_action(k, [], [B]).rate - k * c) == 0
    # amount-based species enter as amount / V
    Y = qsp.Species("Y", c, amount_based=True)
    assert sp.simplify(qsp.mass_action(k, [Y], []).rate - k * Y) == 0


def test_mass_action_dimerisation_numerically(dimer_case):
    # k, 2A -> B built with qsp.mass_action in a flask of volume 4 (conftest.dimer_model):
    # d[A]/dt = -2 k [A]^2 in concentration, so 1/[A] = 1/[A]0 + 2 k t and [B] = ([A]0 - [A]) / 2.
    # Tolerance 1e-6 relative: the default solver accuracy (see test_simulate's docstring).
    k, V, ts = dimer_case.params["k"], dimer_case.params["Vd"], dimer_case.ts
    a0 = 20.0 / V
    a = 1.0 / (1.0 / a0 + 2 * k * ts)
    sol = dimer_case.sol
    np.testing.assert_allclose(np.asarray(sol["A"]), a, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(sol["B"]), (a0 - a) / 2, rtol=1e-6, atol=1e-6 * a0)
    # a combinatoric factor 1/2 would give 1/[A]0 + k t: 25% off at t = 24, far outside the tolerance
    assert abs(float(sol["A"][-1]) - 1.0 / (1.0 / a0 + k * ts[-1])) > 0.1 * a[-1]


# ------------------------------------------------------------------ rules
def test_rules_and_variables():
    c = qsp.Compartment("plasma", volume=3.0)
    D = qsp.Species("D", c, initial_amount=3.0)
    fu, ke0 = qsp.Parameter("fu", 0.1), qsp.Parameter("ke0", 0.5)
    Cfree, Ce = qsp.Variable("Cfree"), qsp.Variable("Ce", initial=0.0)
    m = qsp.Model("rules", reactions=[qsp.Reaction([D], [], rate=ke0 * Cfree)],
                  rules=[qsp.RateRule(Ce, ke0 * (Cfree - Ce)), qsp.AssignmentRule(Cfree, fu * D)])
    assert {v.name for v in m.variables} == {"Cfree", "Ce"}
    assert [r.variable.name for r in m.assignment_rules] == ["Cfree"]
    assert [r.variable.name for r in m.rate_rules] == ["Ce"]
    cm = qsp.compile(m)
    assert cm.state_names == ("D", "Ce")
    args = cm.prepare(cm.parameter_vector())
    dy = np.asarray(cm.rhs(0.0, cm.initial_state(args), args))
    # Cfree = 0.1 * 3/3 = 0.1; dD/dt = -0.5 * 0.1; dCe/dt = 0.5 * (0.1 - 0)
    np.testing.assert_allclose(dy, [-0.05, 0.05], rtol=1e-15)


def test_assignment_rules_in_dependency_order():
    c = qsp.Compartment("c", volume=1.0)
    A = qsp.Species("A", c)
    k = qsp.Parameter("k", 1.0)
    x, y, z = qsp.Variable("x"), qsp.Variable("y"), qsp.Variable("z")
    m = qsp.Model("order", reactions=[qsp.Reaction([A], [], rate=k * z)],
                  rules=[qsp.AssignmentRule(z, y + 1), qsp.AssignmentRule(y, x * 2), qsp.AssignmentRule(x, A)])
    assert [r.variable.name for r in m.assignment_rules] == ["x", "y", "z"]


def test_prefixed_model_with_rules_has_the_same_dynamics():
    # renaming everything (rules, variables, expression volumes) changes names, not the equations
    from conftest import effect_model
    m = effect_model()
    x = m.prefixed("x")
    assert [r.variable.name for r in x.rules] == ["x_Cc", "x_Ce", "x_Eff"]
    assert set(x.observables) == {"x_effect", "x_Cp"}
    assert x.symbol("x_central").volume == x.symbol("x_Vkg") * x.symbol("x_WT")
    cm, cx = qsp.compile(m), qsp.compile(x)
    assert cx.state_names == tuple(f"x_{n}" for n in cm.state_names)
    assert cx.parameter_names == tuple(f"x_{n}" for n in cm.parameter_names)
    y = np.array([10.0, 20.0, 0.3])
    outs = []
    for c in (cm, cx):
        args = c.prepare(c.parameter_vector())
        outs.append(np.asarray(c.rhs(1.0, y, args)))
    np.testing.assert_array_equal(outs[0], outs[1])
