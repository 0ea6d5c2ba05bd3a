"""qsp.Event and Model(events=...): validation, and events carried by every model transformation.

(Event *simulation* is tested with the simulator; these are the model-building rules.)
"""

from __future__ import annotations

import pickle

import pytest
import sympy as sp

import qsp
from qsp.errors import DuplicateNameError, ModelError, UndeclaredSymbolError


@pytest.fixture
def parts():
    c = qsp.Compartment("c", volume=2.0)
    A = qsp.Species("A", c, initial_amount=10.0)
    k = qsp.Parameter("k", 0.5)
    v = qsp.Variable("v", initial=1.0)
    return c, A, k, v


def model_with(event, parts, **kw):
    c, A, k, v = parts
    return qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=k * A)], rules=[qsp.RateRule(v, 0)],
                     events=[event], **kw)


def test_event_fields(parts):
    c, A, k, v = parts
    e = qsp.Event(sp.Lt(A, 1), {A: 5, v: v + k}, name="refill", persistent=False, initial_value=False,
                  use_values_from_trigger_time=False)
    assert e.trigger == sp.Lt(A, 1) and list(e.assignments) == [A, v]     # order kept
    assert (e.persistent, e.initial_value, e.use_values_from_trigger_time) == (False, False, False)
    with pytest.raises(AttributeError, match="immutable"):
        e.name = "other"
    with pytest.raises(TypeError):
        e.assignments[A] = 3                                            # a read-only mapping
    again = pickle.loads(pickle.dumps(e))
    assert again.trigger == e.trigger and dict(again.assignments) == dict(e.assignments)


@pytest.mark.parametrize("make, message", [
    (lambda A, k, v, c: qsp.Event(A, {A: 1}), "not a condition"),                    # a Symbol is not a trigger
    (lambda A, k, v, c: qsp.Event(A + 1, {A: 1}), "not a condition"),
    (lambda A, k, v, c: qsp.Event(qsp.time > 1, {}), "non-empty mapping"),
    (lambda A, k, v, c: qsp.Event(qsp.time > 1, {k: 1}), "assigns Parameter 'k'.*qsp.RateRule"),
    (lambda A, k, v, c: qsp.Event(qsp.time > 1, {c: 1}), "assigns Compartment 'c'.*constant"),
    (lambda A, k, v, c: qsp.Event(qsp.time > 1, {A: "2*k"}), "does not parse text"),
    (lambda A, k, v, c: qsp.Event(qsp.time > 1, {"A": 1}), "targets are qsp.Species or qsp.Variable"),
    (lambda A, k, v, c: qsp.Event(qsp.time > 1, {A: 1}, name="no good"), "not a valid identifier"),
])
def test_event_refuses_bad_input(parts, make, message):
    c, A, k, v = parts
    with pytest.raises(ModelError, match=message):
        make(A, k, v, c)


def test_model_validates_events(parts):
    c, A, k, v = parts
    stray = sp.Symbol("stray")
    with pytest.raises(UndeclaredSymbolError, match="event 'e' trigger uses symbol 'stray'"):
        model_with(qsp.Event(sp.Gt(stray, 1), {A: 1}, name="e"), parts)
    fixed = qsp.Species("F", c, initial_amount=1.0, constant=True)
    with pytest.raises(ModelError, match="constant species 'F'"):
        model_with(qsp.Event(qsp.time > 1, {fixed: 2}, name="e"), parts)
    w = qsp.Variable("w")
    with pytest.raises(ModelError, match="assignment rule.*RateRule"):
        qsp.Model("m", rules=[qsp.AssignmentRule(w, 2 * k)], events=[qsp.Event(qsp.time > 1, {w: 1})])
    with pytest.raises(DuplicateNameError, match="two events are named 'e'"):
        qsp.Model("m", rules=[qsp.RateRule(v, 0)], events=[qsp.Event(qsp.time > 1, {v: 1}, name="e"),
                                                          qsp.Event(qsp.time > 2, {v: 2}, name="e")])
    with pytest.raises(ModelError, match="qsp.Event objects"):
        qsp.Model("m", events=["not an event"])


def test_event_symbols_join_the_model(parts):
    c, A, k, v = parts
    B = qsp.Species("B", c, initial_amount=0.0)                  # used only by the event
    level = qsp.Parameter("level", 3.0)                          # used only by the event
    m = model_with(qsp.Event(qsp.time >= 2, {B: level}, name="e"), parts)
    assert "B" in m and "level" in m and "1 events" in repr(m)


def test_transformations_carry_events(parts):
    c, A, k, v = parts
    e = qsp.Event(sp.Lt(A, 1), {A: 5, v: v + k}, name="e")
    m = model_with(e, parts)
    p = m.prefixed("pd", keep=[A])
    (pe,) = p.events
    assert pe.name == "pd_e" and pe.trigger == sp.Lt(A, 1)
    assert [t.name for t in pe.assignments] == ["A", "pd_v"] and pe.assignments[p.symbol("pd_v")] == \
        p.symbol("pd_v") + p.symbol("pd_k")
    w = m.with_values(k=2.0)
    (we,) = w.events
    assert we.assignments[w.symbol("v")].xreplace({w.symbol("v"): 0}) == w.symbol("k")
    assert w.symbol("k").value == 2.0
    both = m.compose(p.extended(rules=[]), name="both")
    assert [x.name for x in both.events] == ["e", "pd_e"]
    more = m.extended(events=[qsp.Event(qsp.time > 5, {v: 0}, name="late")])
    assert [x.name for x in more.events] == ["e", "late"]
    assert m.extended().events == m.events
