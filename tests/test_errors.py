"""Error messages: each names the offending item and says how to fix it (DESIGN.md house style).

Most checks need no compilation; the two solver failures share compiled models with the
other test files or compile one tiny model each.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import sympy as sp

import qsp
from qsp.errors import (CompileError, DosingError, DuplicateNameError, ModelError, QSPError, SolverError,
                        UndeclaredSymbolError)


@pytest.fixture
def central():
    return qsp.Compartment("central", volume=qsp.Parameter("V", 30.0))


@pytest.fixture
def A(central):
    return qsp.Species("A", central, initial_amount=100.0)


def test_error_hierarchy():
    for cls in (ModelError, CompileError, DosingError, SolverError, qsp.errors.UnitError, qsp.errors.DataError):
        assert issubclass(cls, QSPError)
    assert issubclass(UndeclaredSymbolError, ModelError) and issubclass(DuplicateNameError, ModelError)
    assert issubclass(ModelError, ValueError) and issubclass(SolverError, RuntimeError)


# ------------------------------------------------------------------ undeclared symbols
def test_undeclared_symbol_in_a_rate_law_is_named_with_the_fix(A):
    k = sp.Symbol("k")   # a plain sympy symbol, not a qsp.Parameter
    with pytest.raises(UndeclaredSymbolError,
                       match=r"reaction 'R1' rate uses symbol 'k', which is not declared") as info:
        qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=k * A)])
    assert "qsp.Parameter('k', <value>)" in str(info.value)


def test_undeclared_symbol_in_an_observable_and_a_volume(A):
    with pytest.raises(UndeclaredSymbolError, match=r"observable 'C' uses symbol 'fu'.*qsp\.Parameter\('fu'"):
        qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=A)], observables={"C": sp.Symbol("fu") * A})
    c = qsp.Compartment("c", volume=sp.Symbol("Vx"))
    B = qsp.Species("B", c)
    with pytest.raises(UndeclaredSymbolError, match=r"Compartment 'c' volume uses symbol 'Vx'"):
        qsp.Model("m", reactions=[qsp.Reaction([B], [], rate=B)])


# ------------------------------------------------------------------ duplicate names
def test_two_objects_with_one_name(central, A):
    k1, k2 = qsp.Parameter("k", 1.0), qsp.Parameter("k", 2.0)
    B = qsp.Species("B", central)
    with pytest.raises(DuplicateNameError, match=r"the name 'k' is used by 2 different objects.*prefix"):
        qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=k1 * A), qsp.Reaction([B], [], rate=k2 * B)])


def test_a_parameter_and_a_species_with_one_name(A):
    with pytest.raises(DuplicateNameError, match="'A'"):
        qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=qsp.Parameter("A", 1.0) * A)])


def test_two_reactions_with_one_name(A):
    k = qsp.Parameter("k", 1.0)
    with pytest.raises(DuplicateNameError, match="two reactions are named 'elim'"):
        qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=k * A, name="elim"),
                                  qsp.Reaction([], [A], rate=k, name="elim")])


def test_observable_named_like_a_quantity(A):
    with pytest.raises(DuplicateNameError, match="observable 'A' has the name of a Species"):
        qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=A)], observables={"A": A})


def test_quantity_named_like_time(A):
    t = qsp.Parameter("t", 1.0)
    with pytest.raises(DuplicateNameError, match="clashes with the time symbol"):
        qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=t * A)])


# ------------------------------------------------------------------ symbols and reactions
def test_species_needs_a_compartment():
    with pytest.raises(ModelError, match=r"Species 'A' needs a compartment: qsp\.Species\('A', qsp\.Compartment"):
        qsp.Species("A")
    with pytest.raises(ModelError, match="needs a compartment.*got 'central'"):
        qsp.Species("A", "central")


@pytest.mark.parametrize("volume", [0, 0.0, -1.0, -3])
def test_non_positive_numeric_volume(volume):
    with pytest.raises(ModelError, match=rf"Compartment 'c' has volume {volume}.*must be positive"):
        qsp.Compartment("c", volume=volume)


@pytest.mark.parametrize("value", [0.0, -2.0])
def test_non_positive_volume_parameter(value):
    V = qsp.Parameter("V", value)
    with pytest.raises(ModelError, match=rf"volume parameter 'V' = {value}; a volume must be positive"):
        qsp.Compartment("c", volume=V)


def test_volume_expression_non_positive_at_defaults():
    V1, V2 = qsp.Parameter("V1", 1.0), qsp.Parameter("V2", 3.0)
    c = qsp.Compartment("c", volume=V1 - V2)
    B = qsp.Species("B", c)
    with pytest.raises(ModelError, match=r"compartment 'c' has volume .* = -2.0 at the default parameter values"):
        qsp.Model("m", reactions=[qsp.Reaction([B], [], rate=B)])


def test_reaction_with_nothing_in_or_out():
    with pytest.raises(ModelError, match="has no reactants and no products; give at least one"):
        qsp.Reaction([], [], rate=qsp.Parameter("k", 1.0))


def test_reaction_without_a_rate(A):
    with pytest.raises(ModelError, match=r"no rate law; pass rate="):
        qsp.Reaction([A], [])


def test_negative_stoichiometry(A):
    with pytest.raises(ModelError, match="reactant 'A' has coefficient -1.*positive"):
        qsp.Reaction({A: -1}, [], rate=A)


def test_reaction_changing_a_constant_species(central, A):
    S = qsp.Species("S", central, initial_amount=1.0, constant=True)
    with pytest.raises(ModelError, match="reaction 'R1' changes constant species 'S'; declare it boundary=True"):
        qsp.Model("m", reactions=[qsp.Reaction([S], [A], rate=S)])


def test_string_rate_law_is_refused(A):
    with pytest.raises(ModelError, match=r"rate is the string 'CL \* A'; qsp does not parse text as code"):
        qsp.Reaction([A], [], rate="CL * A")


def test_parameter_needs_a_numeric_value():
    with pytest.raises(ModelError, match=r"Parameter 'k' has no value; give one, e\.g\. qsp\.Parameter\('k', 1\.0\)"):
        qsp.Parameter("k")
    with pytest.raises(ModelError, match="must be a number"):
        qsp.Parameter("k", "1.0")


def test_invalid_identifier():
    with pytest.raises(ModelError, match="'2k' is not a valid identifier"):
        qsp.Parameter("2k", 1.0)


# ------------------------------------------------------------------ observables and rules
def test_observable_that_names_nothing(A):
    with pytest.raises(ModelError, match=r"observable 'C' = 3.0* names nothing of the model"):
        qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=A)], observables={"C": 3.0})
    with pytest.raises(ModelError, match="observable 'C2' = .* names nothing"):
        qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=A)], observables={"C2": sp.Integer(2) * sp.pi})


def test_observable_given_as_a_string(A):
    with pytest.raises(ModelError, match=r"observable 'C' is the string 'A / V'; qsp does not parse text"):
        qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=A)], observables={"C": "A / V"})


def test_variable_without_a_rule(A):
    Ce = qsp.Variable("Ce")
    with pytest.raises(ModelError, match=r"variable 'Ce' has no rule; add qsp\.AssignmentRule\(Ce, expr\)"):
        qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=Ce * A)])


def test_assignment_rule_cycle(A):
    x, y = qsp.Variable("x"), qsp.Variable("y")
    with pytest.raises(ModelError, match="assignment rules form a cycle: x -> y -> x"):
        qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=x * A)],
                  rules=[qsp.AssignmentRule(x, y + 1), qsp.AssignmentRule(y, x * 2)])


def test_rule_target_must_be_a_variable(A):
    with pytest.raises(ModelError, match=r"rules define a qsp\.Variable"):
        qsp.AssignmentRule(A, 2 * A)


# ------------------------------------------------------------------ compile
def test_compile_needs_a_model():
    with pytest.raises(CompileError, match="compile\\(\\) takes a qsp.Model, got str"):
        qsp.compile("pk1")


def test_untranslatable_function_is_named(A):
    k = qsp.Parameter("k", 1.0)
    cm = qsp.compile(qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=k * sp.besselj(0, A))]))
    args = cm.prepare(cm.parameter_vector())
    with pytest.raises(CompileError, match="function besselj .* has no JAX translation"):
        cm.rhs(0.0, cm.initial_state(args), args)


# ------------------------------------------------------------------ simulate: parameters, doses, options
def test_unknown_parameter_name_in_simulate(linear_case):
    with pytest.raises(ModelError, match=r"model 'linear' has no parameter 'CLx'; parameters: .*\bCL\b"):
        qsp.simulate(linear_case.compiled, linear_case.ts, params={"CLx": 2.0})


def test_dose_into_a_missing_species(linear_case, central):
    stranger = qsp.Species("B", central)
    with pytest.raises(DosingError, match=r"Bolus at time 0.0 targets 'B', which is not a species of model "
                                          r"'linear'; species: D, A1, A2"):
        qsp.simulate(linear_case.compiled, linear_case.ts, regimen=qsp.Regimen([qsp.Bolus(stranger, amount=1.0)]))
    with pytest.raises(DosingError, match="targets 'nope'"):
        qsp.simulate(linear_case.compiled, linear_case.ts, regimen=[qsp.Bolus("nope", amount=1.0, time=2.0)])


def test_negative_dose_amount(A):
    with pytest.raises(DosingError, match="Bolus into 'A' at time 0.0: amount is -5.0; it must not be negative"):
        qsp.Bolus(A, amount=-5.0)


def test_unknown_solver_and_bad_times(linear_case):
    with pytest.raises(SolverError, match="unknown solver 'rk99'; choose one of"):
        qsp.simulate(linear_case.compiled, linear_case.ts, solver="rk99")
    with pytest.raises(SolverError, match=r"times must be non-decreasing: times\[2\]=1 comes after times\[1\]=2"):
        qsp.simulate(linear_case.compiled, [0.0, 2.0, 1.0])


def test_unknown_output_name_lists_the_available_ones(linear_case):
    with pytest.raises(ModelError, match=r"no observable, species, variable, parameter or compartment named "
                                         r"'Cx'; available: .*\bC\b"):
        linear_case.sol["Cx"]


# ------------------------------------------------------------------ solver failures
def test_solver_failure_says_when_and_what_to_try(closed_binding_case):
    # fast binding (kon [R] ~ 100/h) with an explicit solver and 5 steps allowed cannot reach t = 24
    with pytest.raises(SolverError) as info:
        qsp.simulate(closed_binding_case.compiled, closed_binding_case.ts, solver="tsit5", max_steps=5)
    message = str(info.value)
    assert "model 'closed_binding'" in message
    window = re.search(r"between t=([-+.\deE]+) and t=([-+.\deE]+)", message)   # the time window
    assert window, message
    start, end = float(window.group(1)), float(window.group(2))
    assert 0.0 <= start < end <= 24.0
    assert "max_steps=5" in message and "Tsit5" in message
    assert "stiff solver" in message and "larger max_steps" in message   # what to try


@pytest.fixture(scope="module")
def log_of_negative_error():
    """The error from a rate law that is log of a negative number from t = 0 (NaN derivative)."""
    c = qsp.Compartment("c", volume=2.0)
    A = qsp.Species("A", c, initial_amount=10.0)   # [A] = 5
    k, a0 = qsp.Parameter("k", 1.0), qsp.Parameter("a0", 8.0)
    cm = qsp.compile(qsp.Model("neg", reactions=[qsp.Reaction([A], [], rate=k * sp.log(A - a0))]))
    with pytest.raises(Exception) as info:
        qsp.simulate(cm, np.array([0.0, 10.0]))   # one interval: the failing run is not repeated
    return info.value


def test_non_finite_derivative_raises_solver_error_never_silent_nan(log_of_negative_error):
    assert isinstance(log_of_negative_error, SolverError)
    assert "t=0" in str(log_of_negative_error)


def test_non_finite_derivative_error_names_the_state_and_time(log_of_negative_error):
    message = str(log_of_negative_error)
    assert "'A'" in message
    assert "t=0" in message
    assert "not finite" in message or "NaN" in message or "nan" in message
    assert "Try a stiff solver" not in message  # Kvaerno5, the stiff default, was already used
