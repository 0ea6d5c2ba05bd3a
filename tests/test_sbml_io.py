"""SBML and Antimony input/output.

The main oracle is a hand-written SBML model that exercises most of the supported
features at once (non-unit compartments, concentration and amount initial values,
hasOnlySubstanceUnits, a boundary species, non-unit stoichiometry, a local parameter
that shadows a global one, a function definition, rate and assignment rules on
parameters, initial assignments, csymbol time, a reaction identifier used in math),
simulated by qsp and compared with scipy's solve_ivp on a right-hand side written by
hand from the SBML specification, in amount space. libRoadRunner, when installed, is a
second, independent simulator of both the hand-written and the written-back SBML.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from scipy.integrate import solve_ivp

import qsp
from qsp.io import read_antimony, read_sbml, write_sbml
from qsp.io.mathml import SBMLError, UnsupportedSBMLError
from qsp.io.sbml import translate_sbml

pytest.importorskip("libsbml")

TIMES = np.linspace(0.0, 6.0, 13)
CSYMBOL_TIME = '<csymbol encoding="text" definitionURL="http://www.sbml.org/sbml/symbols/time"> time </csymbol>'


def ci(x):
    return f"<ci> {x} </ci>"


def cn(x):
    return f"<cn> {x} </cn>"


def apply(op, *args):
    return f"<apply><{op}/>{''.join(args)}</apply>"


def math(body):
    return f'<math xmlns="http://www.w3.org/1998/Math/MathML">{body}</math>'


def document(body: str, model_attributes: str = "", namespaces: str = "", level: int = 3, version: int = 2) -> str:
    core = f"http://www.sbml.org/sbml/level{level}/version{version}/core" if level == 3 else \
        f"http://www.sbml.org/sbml/level{level}/version{version}"
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<sbml xmlns="{core}" level="{level}" version="{version}" '
            f'{namespaces}><model id="m" {model_attributes}>{body}</model></sbml>')


# ---------------------------------------------------------------------------- the oracle model
KITCHEN_SINK = document(f"""
<listOfFunctionDefinitions>
  <functionDefinition id="mm">{math(f'<lambda><bvar>{ci("S")}</bvar><bvar>{ci("V")}</bvar><bvar>{ci("K")}</bvar>'
                                     + apply("divide", apply("times", ci("V"), ci("S")),
                                             apply("plus", ci("K"), ci("S"))) + '</lambda>')}</functionDefinition>
</listOfFunctionDefinitions>
<listOfCompartments>
  <compartment id="c1" spatialDimensions="3" size="2.5" constant="true"/>
  <compartment id="c2" spatialDimensions="3" size="0.4" constant="true"/>
  <compartment id="c3" spatialDimensions="3" constant="true"/>
</listOfCompartments>
<listOfSpecies>
  <species id="A" compartment="c1" initialConcentration="4" hasOnlySubstanceUnits="false" boundaryCondition="false" constant="false"/>
  <species id="B" compartment="c2" initialAmount="1.2" hasOnlySubstanceUnits="true" boundaryCondition="false" constant="false"/>
  <species id="C" compartment="c1" initialAmount="0" hasOnlySubstanceUnits="false" boundaryCondition="false" constant="false"/>
  <species id="D" compartment="c3" initialConcentration="2" hasOnlySubstanceUnits="false" boundaryCondition="true" constant="false"/>
  <species id="E" compartment="c2" hasOnlySubstanceUnits="false" boundaryCondition="false" constant="false"/>
</listOfSpecies>
<listOfParameters>
  <parameter id="k1" value="0.7" constant="true"/>
  <parameter id="k2" value="99" constant="true"/>
  <parameter id="kf" value="0.9" constant="true"/>
  <parameter id="V3p" value="1.5" constant="true"/>
  <parameter id="p" value="1" constant="false"/>
  <parameter id="p_assign" constant="false"/>
  <parameter id="p_ia" value="0" constant="true"/>
  <parameter id="p_ia_state" value="0" constant="true"/>
  <parameter id="flux" constant="false"/>
  <parameter id="t" value="0.25" constant="true"/>
</listOfParameters>
<listOfInitialAssignments>
  <initialAssignment symbol="c3">{math(apply("times", cn(2), ci("V3p")))}</initialAssignment>
  <initialAssignment symbol="E">{math(apply("times", ci("A"), cn(0.5)))}</initialAssignment>
  <initialAssignment symbol="p_ia">{math(apply("times", ci("k1"), cn(2)))}</initialAssignment>
  <initialAssignment symbol="p_ia_state">{math(ci("A"))}</initialAssignment>
</listOfInitialAssignments>
<listOfRules>
  <rateRule variable="p">{math(apply("times", cn(-0.2), ci("p")))}</rateRule>
  <assignmentRule variable="p_assign">{math(apply("times", ci("k1"), CSYMBOL_TIME, ci("t")))}</assignmentRule>
  <assignmentRule variable="flux">{math(ci("R1"))}</assignmentRule>
</listOfRules>
<listOfReactions>
  <reaction id="R1" reversible="false">
    <listOfReactants><speciesReference species="A" stoichiometry="2" constant="true"/></listOfReactants>
    <listOfProducts><speciesReference species="B" stoichiometry="3" constant="true"/></listOfProducts>
    <kineticLaw>{math(apply("times", ci("k1"), ci("A"), ci("c1")))}</kineticLaw>
  </reaction>
  <reaction id="R2" reversible="false">
    <listOfReactants><speciesReference species="B" stoichiometry="1" constant="true"/></listOfReactants>
    <listOfProducts><speciesReference species="C" stoichiometry="1" constant="true"/></listOfProducts>
    <kineticLaw>{math(apply("times", ci("k2"), ci("B")))}
      <listOfLocalParameters><localParameter id="k2" value="0.3"/></listOfLocalParameters>
    </kineticLaw>
  </reaction>
  <reaction id="R3" reversible="false">
    <listOfProducts><speciesReference species="C" stoichiometry="1" constant="true"/></listOfProducts>
    <listOfModifiers><modifierSpeciesReference species="D"/></listOfModifiers>
    <kineticLaw>{math(apply("times", f'<apply>{ci("mm")}{ci("D")}{ci("kf")}{cn(1.5)}</apply>', ci("c1")))}</kineticLaw>
  </reaction>
  <reaction id="R4" reversible="false">
    <listOfReactants><speciesReference species="C" stoichiometry="1" constant="true"/></listOfReactants>
    <listOfProducts><speciesReference species="E" stoichiometry="1" constant="true"/></listOfProducts>
    <kineticLaw>{math(apply("times", ci("p"), ci("C"), ci("c1")))}</kineticLaw>
  </reaction>
</listOfReactions>""")

V1, V2 = 2.5, 0.4
K = dict(k1=0.7, k2_local=0.3, kf=0.9, t_param=0.25)


def sink_rhs(t, y):
    """dy/dt in amounts, from the SBML semantics: kinetic laws are amount/time; inside them
    A, C, D, E are concentrations (amount / size) and B (hasOnlySubstanceUnits) an amount."""
    A, B, C, E, p = y
    v1 = K["k1"] * (A / V1) * V1
    v2 = K["k2_local"] * B                       # the local k2 shadows the global k2 = 99
    v3 = K["kf"] * 2.0 / (1.5 + 2.0) * V1        # D: boundary, concentration 2 throughout
    v4 = p * (C / V1) * V1
    return [-2 * v1, 3 * v1 - v2, v2 + v3 - v4, v4, -0.2 * p]


SINK_Y0 = [4.0 * V1, 1.2, 0.0, (4.0 * 0.5) * V2, 1.0]   # E: [E]0 = 0.5 [A]0


@pytest.fixture(scope="module")
def sink_reference():
    # rtol 1e-11: the oracle's own error is far below the 1e-7 used in the comparisons
    res = solve_ivp(sink_rhs, (0.0, TIMES[-1]), SINK_Y0, t_eval=TIMES, rtol=1e-11, atol=1e-13, method="LSODA")
    assert res.success
    return res.y.T


@pytest.fixture(scope="module")
def sink_model():
    return read_sbml(KITCHEN_SINK)


@pytest.fixture(scope="module")
def sink_solution(sink_model):
    return qsp.simulate(qsp.compile(sink_model), TIMES)


def check_sink(sol, reference):
    # 1e-7 relative: qsp's default tolerances (rtol 1e-8) against a 1e-11 oracle
    for j, name in enumerate(["A", "B", "C", "E"]):
        np.testing.assert_allclose(sol.amount(name), reference[:, j], rtol=1e-7, atol=1e-10, err_msg=name)
    np.testing.assert_allclose(sol["p"], reference[:, 4], rtol=1e-7)
    np.testing.assert_allclose(sol["p_assign"], K["k1"] * TIMES * K["t_param"], rtol=1e-12)
    np.testing.assert_allclose(sol["p_ia"], 1.4, rtol=1e-12)
    np.testing.assert_allclose(sol["p_ia_state"], 4.0, rtol=1e-12)     # [A] at the start
    np.testing.assert_allclose(sol["flux"], K["k1"] * reference[:, 0], rtol=1e-7)  # flux = rate of R1
    np.testing.assert_allclose(sol["c3"], 3.0, rtol=1e-12)
    np.testing.assert_allclose(sol["B"], reference[:, 1] / V2, rtol=1e-7)     # sol[name]: concentration


def test_sink_translation(sink_model):
    m = sink_model
    kinds = {name: type(s).__name__ for name, s in m.symbols.items()}
    assert kinds["p"] == "Variable" and kinds["p_assign"] == "Variable" and kinds["flux"] == "Variable"
    assert kinds["k1"] == "Parameter" and kinds["R2_k2"] == "Parameter" and kinds["k2"] == "Parameter"
    assert m.symbol("R2_k2").value == 0.3 and m.symbol("k2").value == 99.0
    assert "t_" in m.symbols and m.symbol("t_").value == 0.25      # SBML 't' is not qsp.time
    assert m.symbol("B").amount_based and not m.symbol("A").amount_based
    assert m.symbol("D").boundary
    R1 = next(r for r in m.reactions if r.name == "R1")
    assert R1.reactants == {m.symbol("A"): 2} and R1.products == {m.symbol("B"): 3}
    assert R1.rate == m.symbol("k1") * m.symbol("A") * m.symbol("c1")      # the kinetic law, unchanged
    rules = {r.variable.name: r for r in m.rules}
    assert isinstance(rules["p_ia"], qsp.AssignmentRule)                    # an initial assignment of constants
    assert isinstance(rules["p_ia_state"], qsp.RateRule) and rules["p_ia_state"].expression == 0
    assert m.symbol("p_ia_state").initial == m.symbol("A")


def test_sink_simulation_matches_hand_written_rhs(sink_solution, sink_reference):
    check_sink(sink_solution, sink_reference)


def test_round_trip_gives_the_same_simulation(sink_model, sink_reference):
    text = write_sbml(sink_model)
    again = read_sbml(text)
    assert {n: type(s).__name__ for n, s in again.symbols.items()} == \
        {n: type(s).__name__ for n, s in sink_model.symbols.items()}
    check_sink(qsp.simulate(qsp.compile(again), TIMES), sink_reference)


def test_written_sbml_is_valid():
    import libsbml

    for model in (read_sbml(KITCHEN_SINK), _event_model()):
        doc = libsbml.readSBMLFromString(write_sbml(model))
        doc.setConsistencyChecks(libsbml.LIBSBML_CAT_UNITS_CONSISTENCY, False)   # qsp units are free text
        doc.checkConsistency()
        errors = [doc.getError(i).getMessage() for i in range(doc.getNumErrors())
                  if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR]
        assert not errors, errors


def test_round_trip_of_spine_models(effect_case, forcing_case, linear_case, binding_case):
    """Structure survives write -> read (no compile: rates, rules and initial values compared symbolically)."""
    for case in (effect_case, forcing_case, linear_case, binding_case):
        m, again = case.model, read_sbml(write_sbml(case.model))
        names = {s.name: s for s in again.symbols.values()}

        def renamed(expr):
            return expr.xreplace({s: names[s.name] for s in expr.free_symbols if s.name in names})

        for r in m.reactions:
            r2 = next(x for x in again.reactions if x.name == r.name)
            assert sp.simplify(renamed(r.rate) - r2.rate) == 0, (case.name, r.name)
        for key, expr in m.observables.items():   # observables come back as assignment-rule variables
            rule = next(x for x in again.rules if x.variable.name == key)
            assert sp.simplify(renamed(expr) - rule.expression) == 0
        for s in m.species:
            s2 = names[s.name]
            assert sp.simplify(renamed(s.initial_amount_expression()) - s2.initial_amount_expression()) == 0
        for c in m.compartments:
            assert sp.simplify(renamed(c.volume) - names[c.name].volume) == 0


# ---------------------------------------------------------------------------- libRoadRunner
def _roadrunner_amounts(sbml_text, species):
    roadrunner = pytest.importorskip("roadrunner")
    rr = roadrunner.RoadRunner(sbml_text)
    rr.integrator.relative_tolerance = 1e-10
    rr.integrator.absolute_tolerance = 1e-12
    rr.timeCourseSelections = ["time", *species]   # a bare species id selects its amount
    result = rr.simulate(float(TIMES[0]), float(TIMES[-1]), len(TIMES))
    return np.asarray(result)[:, 1:]


def test_roadrunner_agrees_with_the_oracle_on_hand_written_and_written_sbml(sink_model, sink_reference):
    # First the oracle itself is checked against an independent SBML simulator, then our writer.
    for text in (KITCHEN_SINK, write_sbml(sink_model)):
        values = _roadrunner_amounts(text, ["A", "B", "C", "E", "p"])
        np.testing.assert_allclose(values, sink_reference, rtol=1e-6, atol=1e-9)


def test_roadrunner_simulates_written_spine_models(effect_case, linear_case):
    for case in (effect_case, linear_case):
        values = _roadrunner_amounts(write_sbml(case.model), list(case.states))
        ref = case.solve_reference(TIMES)
        np.testing.assert_allclose(values, ref, rtol=1e-6, atol=1e-9, err_msg=case.name)


# ---------------------------------------------------------------------------- events
def _event_sbml(extra_event_xml="", trigger_attrs='initialValue="false" persistent="false"'):
    return document(f"""
<listOfCompartments><compartment id="c" size="2" constant="true"/></listOfCompartments>
<listOfSpecies><species id="A" compartment="c" initialAmount="10" hasOnlySubstanceUnits="false"
  boundaryCondition="false" constant="false"/></listOfSpecies>
<listOfParameters><parameter id="k" value="0.5" constant="true"/><parameter id="q" value="1" constant="false"/>
</listOfParameters>
<listOfReactions><reaction id="R" reversible="false">
  <listOfReactants><speciesReference species="A" stoichiometry="1" constant="true"/></listOfReactants>
  <kineticLaw>{math(apply("times", ci("k"), ci("A"), ci("c")))}</kineticLaw></reaction></listOfReactions>
<listOfEvents><event id="refill" useValuesFromTriggerTime="false">
  <trigger {trigger_attrs}>{math(apply("lt", ci("A"), cn(1)))}</trigger>{extra_event_xml}
  <listOfEventAssignments>
    <eventAssignment variable="A">{math(cn(5))}</eventAssignment>
    <eventAssignment variable="q">{math(apply("plus", ci("q"), cn(1)))}</eventAssignment>
  </listOfEventAssignments></event></listOfEvents>""")


def _event_model():
    return read_sbml(_event_sbml())


def test_events_are_read():
    m = _event_model()
    (e,) = m.events
    A, q = m.symbol("A"), m.symbol("q")
    # <cn> without a type is a real: sympy Floats
    assert e.name == "refill" and e.trigger == sp.Lt(A, 1.0)
    assert list(e.assignments.items()) == [(A, 5.0), (q, q + 1.0)]    # [A] := 5 (a concentration), in order
    assert (e.persistent, e.initial_value, e.use_values_from_trigger_time) == (False, False, False)
    rule = next(r for r in m.rules if r.variable is q)             # a parameter an event assigns: a Variable
    assert isinstance(q, qsp.Variable) and isinstance(rule, qsp.RateRule) and rule.expression == 0
    assert q.initial == 1.0
    again = read_sbml(write_sbml(m))
    (e2,) = again.events
    assert (e2.name, e2.trigger, e2.persistent, e2.initial_value) == ("refill", sp.Lt(A, 1.0), False, False)
    assert list(e2.assignments.items()) == [(A, 5.0), (q, q + 1.0)]


def test_events_without_trigger_or_assignments_are_omitted_with_a_note():
    text = document(f"""<listOfParameters><parameter id="p" value="3" constant="false"/></listOfParameters>
<listOfEvents>
  <event id="E0" useValuesFromTriggerTime="true"><listOfEventAssignments>
    <eventAssignment variable="p">{math(cn(2))}</eventAssignment></listOfEventAssignments></event>
  <event id="E1" useValuesFromTriggerTime="true"><trigger initialValue="true" persistent="true">
    {math(apply("gt", CSYMBOL_TIME, cn(5)))}</trigger></event>
</listOfEvents>""")
    tr = translate_sbml(text)
    assert tr.model.events == () and isinstance(tr.model.symbol("p"), qsp.Parameter)
    assert len(tr.omitted) == 2 and "never fires" in tr.omitted[0] and "changes nothing" in tr.omitted[1]


# ---------------------------------------------------------------------------- MathML
def _rule_expression(body_xml, extra=""):
    """The expression of an assignment rule for x, with parameters a, b declared (values 2, 3)."""
    text = document(f"""{extra}<listOfParameters><parameter id="a" value="2" constant="true"/>
<parameter id="b" value="3" constant="true"/><parameter id="x" constant="false"/></listOfParameters>
<listOfRules><assignmentRule variable="x">{math(body_xml)}</assignmentRule></listOfRules>""")
    m = read_sbml(text)
    return m.rules[0].expression, m.symbol("a"), m.symbol("b")


@pytest.mark.parametrize("body, value", [
    (apply("plus", ci("a"), ci("b"), cn(1)), 6.0),                       # n-ary plus
    (apply("minus", ci("a")), -2.0),                                    # unary minus
    (apply("divide", ci("a"), ci("b")), 2 / 3),
    (apply("power", ci("a"), ci("b")), 8.0),
    ("<apply><root/><degree>" + cn(3) + "</degree>" + cn(27) + "</apply>", 3.0),
    ("<apply><log/><logbase>" + cn(2) + "</logbase>" + cn(8) + "</apply>", 3.0),
    (apply("log", cn(1000)), 3.0),                                       # default base 10
    (apply("ln", "<exponentiale/>"), 1.0),
    (apply("times", "<pi/>", cn(1)), np.pi),
    (apply("quotient", cn(-7), cn(2)), -3.0),                            # truncates toward zero
    (apply("rem", cn(-7), cn(2)), -1.0),                                 # sign of the dividend
    (apply("max", ci("a"), ci("b"), cn(-1)), 3.0),
    (apply("abs", apply("minus", ci("a"), ci("b"))), 1.0),
    (apply("floor", cn(2.7)), 2.0),
    (apply("factorial", cn(4)), 24.0),
    (apply("tanh", cn(0)), 0.0),
    (apply("arccos", cn(1)), 0.0),
    ("<piecewise><piece>" + ci("a") + apply("lt", ci("a"), ci("b"), cn(0)) + "</piece><otherwise>" + ci("b")
     + "</otherwise></piecewise>", 3.0),                                 # a < b < 0 is false
    ("<piecewise><piece>" + ci("a") + apply("and", apply("geq", ci("b"), ci("a")), "<true/>") + "</piece></piecewise>",
     2.0),
    (apply("times", apply("gt", ci("b"), ci("a")), cn(5)), 5.0),         # a condition as a number
    ("<piecewise><piece>" + cn(1) + apply("xor", apply("eq", ci("a"), cn(2)), apply("neq", ci("b"), cn(3)))
     + "</piece><otherwise>" + cn(0) + "</otherwise></piecewise>", 1.0),
    ("<piecewise><piece>" + cn(1) + apply("implies", apply("eq", ci("a"), cn(1)), "<false/>")
     + "</piece><otherwise>" + cn(0) + "</otherwise></piecewise>", 1.0),
    ('<cn type="rational"> 1 <sep/> 4 </cn>', 0.25),
    ('<cn type="e-notation"> 2 <sep/> 3 </cn>', 2000.0),
])
def test_mathml_node_types(body, value):
    expr, a, b = _rule_expression(body)
    assert float(expr.xreplace({a: 2, b: 3})) == pytest.approx(value, rel=1e-14)


def test_function_definitions_are_inlined_through_nested_calls():
    functions = f"""<listOfFunctionDefinitions>
  <functionDefinition id="sq">{math('<lambda><bvar>' + ci('u') + '</bvar>' + apply('times', ci('u'), ci('u'))
                                    + '</lambda>')}</functionDefinition>
  <functionDefinition id="f">{math('<lambda><bvar>' + ci('a') + '</bvar><bvar>' + ci('v') + '</bvar>'
                                   + apply('plus', '<apply>' + ci('sq') + ci('a') + '</apply>', ci('v'))
                                   + '</lambda>')}</functionDefinition>
</listOfFunctionDefinitions>"""
    # f's bound variable `a` hides the model's parameter a: f(b, a) = b^2 + a
    expr, a, b = _rule_expression("<apply>" + ci("f") + ci("b") + ci("a") + "</apply>", functions)
    assert expr == b**2 + a


def test_time_csymbol_is_qsp_time():
    expr, a, b = _rule_expression(apply("times", ci("a"), CSYMBOL_TIME))
    assert expr == a * qsp.time


# ---------------------------------------------------------------------------- refusals
def _species_model(extra="", species_attrs='initialAmount="1"', reaction_extra="", kinetic=None,
                   compartment_constant="true"):
    kinetic = kinetic or math(apply("times", ci("k"), ci("S")))
    return document(f"""
<listOfCompartments><compartment id="c" size="1" constant="{compartment_constant}"/></listOfCompartments>
<listOfSpecies><species id="S" compartment="c" {species_attrs} hasOnlySubstanceUnits="false"
  boundaryCondition="false" constant="false"/></listOfSpecies>
<listOfParameters><parameter id="k" value="1" constant="true"/></listOfParameters>
<listOfReactions><reaction id="R" reversible="false" {reaction_extra}>
  <listOfReactants><speciesReference id="sr" species="S" stoichiometry="1" constant="false"/></listOfReactants>
  <kineticLaw>{kinetic}</kineticLaw></reaction></listOfReactions>{extra}""")


def level3_version1(text):
    return text.replace("level3/version2/core", "level3/version1/core").replace('level="3" version="2"',
                                                                               'level="3" version="1"')


DELAY = f'<apply><csymbol encoding="text" definitionURL="http://www.sbml.org/sbml/symbols/delay"> delay </csymbol>{ci("S")}{cn(1)}</apply>'
RATE_OF = f'<apply><csymbol encoding="text" definitionURL="http://www.sbml.org/sbml/symbols/rateOf"> rateOf </csymbol>{ci("S")}</apply>'
AVOGADRO = '<csymbol encoding="text" definitionURL="http://www.sbml.org/sbml/symbols/avogadro"> avogadro </csymbol>'


@pytest.mark.parametrize("text, error, words", [
    (_species_model(kinetic=math(DELAY)), UnsupportedSBMLError, ["reaction 'R'", "delay"]),
    (_species_model(kinetic=math(RATE_OF)), UnsupportedSBMLError, ["reaction 'R'", "rateOf"]),
    (_species_model(kinetic=math(AVOGADRO)), UnsupportedSBMLError, ["reaction 'R'", "avogadro"]),
    (_species_model(f'<listOfRules><algebraicRule metaid="alg1">{math(ci("k"))}</algebraicRule></listOfRules>'),
     UnsupportedSBMLError, ["algebraic rule", "alg1"]),
    (level3_version1(_species_model(reaction_extra='fast="true"')), UnsupportedSBMLError, ["reaction 'R'", "fast"]),
    (_species_model(f'<listOfRules><rateRule variable="c">{math(cn(1))}</rateRule></listOfRules>',
                    compartment_constant="false"), UnsupportedSBMLError, ["compartment 'c'", "non-constant"]),
    (_species_model(f'<listOfEvents><event id="ev" useValuesFromTriggerTime="true"><trigger initialValue="true" '
                    f'persistent="true">{math("<true/>")}</trigger><delay>{math(cn(1))}</delay>'
                    f'<listOfEventAssignments><eventAssignment variable="S">{math(cn(1))}</eventAssignment>'
                    '</listOfEventAssignments></event></listOfEvents>'),
     UnsupportedSBMLError, ["event 'ev'", "delay"]),
    (_species_model(f'<listOfEvents><event id="ev" useValuesFromTriggerTime="true"><trigger initialValue="true" '
                    f'persistent="true">{math("<true/>")}</trigger><priority>{math(cn(1))}</priority>'
                    f'<listOfEventAssignments><eventAssignment variable="S">{math(cn(1))}</eventAssignment>'
                    '</listOfEventAssignments></event></listOfEvents>'),
     UnsupportedSBMLError, ["event 'ev'", "priorit"]),
    (_species_model(kinetic=math(apply("times", ci("sr"), ci("S")))), UnsupportedSBMLError,
     ["species reference 'sr'", "assigned stoichiometry"]),
    (_species_model(f'<listOfInitialAssignments><initialAssignment symbol="sr">{math(cn(2))}</initialAssignment>'
                    '</listOfInitialAssignments>'), UnsupportedSBMLError, ["'sr'", "assigned stoichiometry"]),
    (_species_model().replace('<model id="m" >', '<model id="m" conversionFactor="k">'), UnsupportedSBMLError,
     ["conversion factor"]),
    (_species_model(kinetic=math(f'<apply>{ci("nofunc")}{ci("S")}</apply>')), SBMLError, ["'nofunc'"]),
    (_species_model(kinetic=math(ci("undeclared"))), SBMLError, ["reaction 'R'", "'undeclared'"]),
    (_species_model(species_attrs=""), SBMLError, ["species 'S'", "no initial"]),
    (_species_model().replace("<kineticLaw>", "<kineticLaw><!--").replace("</kineticLaw>", "--></kineticLaw>"),
     UnsupportedSBMLError, ["reaction 'R'", "no kinetic law"]),
    ("<sbml><model id='x'>", SBMLError, ["invalid"]),
])
def test_refusals_name_the_construct_and_the_element(text, error, words):
    with pytest.raises(error) as info:
        read_sbml(text)
    for w in words:
        assert w in str(info.value), (w, str(info.value))


def test_packages_are_refused():
    comp = 'xmlns:comp="http://www.sbml.org/sbml/level3/version1/comp/version1" comp:required="true"'
    text = level3_version1(_species_model(reaction_extra='fast="false"')).replace('level="3" version="1" >', f'level="3" version="1" {comp}>')
    with pytest.raises(UnsupportedSBMLError, match="package 'comp'"):
        read_sbml(text)


def test_a_package_the_model_does_not_require_is_noted_not_refused():
    foo = 'xmlns:foo="http://www.sbml.org/sbml/level3/version1/foo/version1" foo:required="false"'
    text = level3_version1(_species_model(reaction_extra='fast="false"')).replace(
        'level="3" version="1" >', f'level="3" version="1" {foo}>')
    tr = translate_sbml(text)
    assert [r.name for r in tr.model.reactions] == ["R"]
    assert any("'foo'" in note and "not required" in note for note in tr.omitted)


def test_stoichiometry_math_of_level2_is_refused():
    text = f"""<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level2/version4" level="2" version="4"><model id="m">
<listOfCompartments><compartment id="c" size="1"/></listOfCompartments>
<listOfSpecies><species id="S" compartment="c" initialAmount="1"/></listOfSpecies>
<listOfParameters><parameter id="k" value="1"/></listOfParameters>
<listOfReactions><reaction id="R" reversible="false"><listOfReactants><speciesReference species="S">
<stoichiometryMath>{math(cn(2))}</stoichiometryMath></speciesReference></listOfReactants>
<kineticLaw>{math(apply("times", ci("k"), ci("S")))}</kineticLaw></reaction></listOfReactions></model></sbml>"""
    with pytest.raises(UnsupportedSBMLError, match="reaction 'R'.*stoichiometryMath"):
        read_sbml(text)


def test_writer_refusals():
    c = qsp.Compartment("c", volume=1.0)
    A = qsp.Species("A", c, initial_amount=1.0)
    bessel = qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=sp.besselj(0, A))])
    with pytest.raises(UnsupportedSBMLError, match="rate of reaction 'R1'.*besselj"):
        write_sbml(bessel)
    accented = qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=qsp.Parameter("kél", 1.0) * A)])
    with pytest.raises(UnsupportedSBMLError, match="parameter 'kél' is not a valid SBML identifier"):
        write_sbml(accented)


def test_missing_file_and_bad_input():
    with pytest.raises(SBMLError, match="does not exist"):
        read_sbml("/nonexistent/model.xml")
    with pytest.raises(SBMLError, match="takes a qsp.Model"):
        write_sbml("not a model")


# ---------------------------------------------------------------------------- Antimony
ANTIMONY = """
model transfer
  compartment gut = 0.5, plasma = 3;
  species Ag in gut, Cp in plasma;
  substanceOnly species Amt in plasma;
  Ag = 2;            // a concentration: amount 1
  Amt = 4; Cp = 0;
  absorb: Ag -> Cp; ka*Ag*gut;
  elim: 2 Cp -> Amt; ke*Cp^2*plasma;
  ka = 1.2; ke = 0.05;
end
"""


def test_antimony_reads_to_the_same_model_as_its_sbml():
    pytest.importorskip("antimony")
    m = read_antimony(ANTIMONY)
    Ag, Cp, Amt = m.symbol("Ag"), m.symbol("Cp"), m.symbol("Amt")
    gut, plasma = m.symbol("gut"), m.symbol("plasma")
    assert (float(gut.volume), float(plasma.volume)) == (0.5, 3.0)
    assert Amt.amount_based and not Cp.amount_based
    assert Ag.initial_amount_expression().xreplace({gut: 0.5}) == 1.0
    rates = {r.name: r for r in m.reactions}
    assert rates["absorb"].rate == m.symbol("ka") * Ag * gut
    assert rates["elim"].reactants == {Cp: 2} and rates["elim"].products == {Amt: 1}


def test_antimony_errors_are_typed():
    pytest.importorskip("antimony")
    with pytest.raises(SBMLError, match="Antimony could not read"):
        read_antimony("model broken\n  A -> ; k*\nend")
