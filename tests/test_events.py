"""Model events (:class:`qsp.Event`): located by root finding, applied exactly.

Oracles are closed forms of first-order decay with state resets (the event times follow
from logarithms), so every number below is computed independently of the integrator.
Tolerances: trajectories at the default rtol 1e-8 are compared at 1e-6 relative; event
times are located by bisection on the continuous extension (to ~1 ulp of the step) whose
own error is O(h^5), well below 1e-6 relative.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp

import qsp
from qsp.errors import ModelError, SolverError

TS = np.linspace(0.0, 10.0, 41)  # every 0.25; the time event at 3 falls on an output


def _model(initial_value=True):
    c = qsp.Compartment("c", volume=2.0)
    k = qsp.Parameter("k", 0.5)
    A = qsp.Species("A", c, initial_amount=10.0)  # concentration 5
    refill = qsp.Event(sp.Lt(A, 1.0), {A: 4.0}, name="refill")  # [A] < 1: [A] := 4 (amount 8)
    bump = qsp.Event(qsp.time >= 3.0, {A: A + 1.0}, name="bump", initial_value=initial_value)
    return qsp.Model("decay_refill", reactions=[qsp.Reaction([A], [], rate=k * A * c)], events=[refill, bump])


def exact(t, k=0.5, c0=5.0, t0=0.0, bumps=(3.0,)):
    """[A](t) from a closed-form event walk: between events [A] decays as e^{-k t}; a bump at
    each time in ``bumps`` adds 1; whenever [A] reaches 1 it is set to 4."""
    tau, c = t0, c0
    pending = sorted(b for b in bumps if b > t0)
    while True:
        t_refill = tau + np.log(c) / k if c > 1.0 else tau
        t_bump = pending[0] if pending else np.inf
        t_next = min(t_refill, t_bump)
        if t < t_next:
            return c * np.exp(-k * (t - tau))
        c_at = c * np.exp(-k * (t_next - tau))
        if t_bump <= t_refill:
            pending.pop(0)
            c = c_at + 1.0
        else:
            c = 4.0
        tau = t_next


@pytest.fixture(scope="module")
def compiled():
    return qsp.compile(_model())


@pytest.mark.parametrize("solver", ["rodas5p", "tsit5"])
def test_state_and_time_events_match_closed_form(compiled, solver):
    sol = qsp.simulate(compiled, TS, solver=solver)
    expected = np.array([exact(t) for t in TS])
    np.testing.assert_allclose(np.asarray(sol["A"]), expected, rtol=1e-6)
    # the output at t = 3 reports the state after the time event (SBML convention)
    assert float(sol["A"][12]) == pytest.approx(exact(3.0), rel=1e-8)


def test_events_under_jit_and_vmap_over_parameters(compiled):
    # new parameter values move the event times (no retrace); each subject against its closed form
    ks = jnp.array([0.3, 0.5, 0.8])
    run = jax.jit(jax.vmap(lambda k: qsp.simulate(compiled, TS, params={"k": k})["A"]))
    got = np.asarray(run(ks))
    for i, k in enumerate(np.asarray(ks)):
        np.testing.assert_allclose(got[i], [exact(t, k) for t in TS], rtol=1e-6)


def test_event_with_false_initial_value_fires_at_start():
    # start at t0 = 4, where the bump's trigger t >= 3 is already true and [A] = 5 (the initial
    # amount): with initial_value=False the bump fires at the start (SBML), with True it never does
    for initial_value, start in ((False, 6.0), (True, 5.0)):
        cm = qsp.compile(_model(initial_value=initial_value))
        sol = qsp.simulate(cm, np.array([4.0, 4.5]), t0=4.0)
        assert float(sol["A"][0]) == pytest.approx(start, rel=1e-12)
        assert float(sol["A"][1]) == pytest.approx(start * np.exp(-0.25), rel=1e-6)


def test_events_and_doses_together(compiled):
    # a bolus at 2 h (amount 2 => +1 in concentration) shifts every later event time
    A = compiled.model.symbol("A")
    sol = qsp.simulate(compiled, TS, regimen=qsp.Regimen([qsp.Bolus(A, 2.0, time=2.0)]))
    k = 0.5
    after = TS >= 2.0  # from the dose on: a fresh walk from [A](2) + 1
    c2 = 5.0 * np.exp(-2.0 * k) + 1.0
    np.testing.assert_allclose(np.asarray(sol["A"])[after], [exact(t, k, c0=c2, t0=2.0) for t in TS[after]],
                               rtol=1e-6)


def test_diffrax_solvers_refuse_events(compiled):
    import diffrax
    with pytest.raises(SolverError, match="events"):
        qsp.simulate(compiled, TS, solver=diffrax.Kvaerno5())


def test_event_assigning_a_rule_variable_is_refused():
    c = qsp.Compartment("c", volume=1.0)
    A = qsp.Species("A", c, initial_amount=1.0)
    v = qsp.Variable("v")
    with pytest.raises(ModelError, match="RateRule"):
        qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=A)], rules=[qsp.AssignmentRule(v, 2 * A)],
                  events=[qsp.Event(qsp.time > 1, {v: 0.0}, name="e")])
