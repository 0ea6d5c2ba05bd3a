"""qsp.compile: names and order, initial state, the generated right-hand side and Jacobian
against hand-written amount-space oracles (tests/conftest.py) at random points.

The RHS comparisons evaluate the same formulas in a different order in float64, so they agree
to rounding: we allow 1e-10 relative plus 1e-10 of the largest derivative at that point (terms
like bind - unbind may cancel, so a purely relative bound could be too strict for a
near-zero net rate). A semantics error (amount vs concentration) is a factor of a volume
(0.5 - 49 here) and fails by ~10 orders of magnitude.
"""

from __future__ import annotations

import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp

import qsp
from conftest import linear_rate_matrix

N_POINTS = 20
RHS_RTOL = 1e-10


def _random_points(case, seed=0):
    """N_POINTS (t, y, p) triples: parameters log-uniform within a factor 2 of the defaults,
    states uniform in [0, 2 * typical amount], t uniform in [0, 48]."""
    rng = np.random.default_rng(seed)
    typical = np.maximum(np.abs(case.reference).max(axis=0), 1.0)
    points = []
    for _ in range(N_POINTS):
        p = {k: (v * np.exp(rng.uniform(-np.log(2), np.log(2))) if v != 0 else rng.uniform(0.0, 1.0))
             for k, v in case.params.items()}
        y = rng.uniform(0.0, 2.0, size=len(case.states)) * typical
        points.append((rng.uniform(0.0, 48.0), y, p))
    return points


def _batched(cm, fn):
    """jit(vmap(...)) of ``fn(t, y, args)``: one small compile per model for all points."""
    return jax.jit(jax.vmap(lambda t, y, p: fn(t, y, cm.prepare(p))))


def _stack(cm, points):
    ts = jnp.asarray([t for t, _, _ in points])
    ys = jnp.asarray(np.stack([y for _, y, _ in points]))
    ps = jnp.stack([cm.parameter_vector(p) for _, _, p in points])
    return ts, ys, ps


# ------------------------------------------------------------------ names and order
def test_names_and_order(any_case):
    cm = any_case.compiled
    assert cm.state_names == any_case.states
    assert cm.parameter_names == tuple(sorted(any_case.params))   # parameters sorted by name
    assert cm.n_states == len(any_case.states)
    np.testing.assert_array_equal(np.asarray(cm.default_parameters),
                                  [any_case.params[n] for n in cm.parameter_names])
    assert cm.default_parameters.dtype == jnp.float64          # float64 by default
    for i, name in enumerate(cm.state_names):
        assert cm.state_index(name) == i
    for i, name in enumerate(cm.parameter_names):
        assert cm.parameter_index(name) == i
    assert cm.observable_names == tuple(any_case.model.observables)


def test_effect_model_states_include_the_rate_rule_variable(effect_case):
    cm = effect_case.compiled
    assert cm.species_names == ("D", "A")
    assert cm.state_names == ("D", "A", "Ce")


# ------------------------------------------------------------------ initial state
def test_initial_state_matches_hand(any_case):
    cm = any_case.compiled
    points = _random_points(any_case, seed=1)
    _, _, ps = _stack(cm, points)
    got = np.asarray(jax.jit(jax.vmap(lambda p: cm.initial_state(cm.prepare(p))))(ps))
    expected = np.stack([any_case.y0_vector(p) for _, _, p in points])
    # products/quotients of two or three numbers: a few ulps
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=0)


# ------------------------------------------------------------------ the right-hand side
def test_rhs_matches_hand_written_at_random_points(any_case):
    cm = any_case.compiled
    points = _random_points(any_case)
    ts, ys, ps = _stack(cm, points)
    got = np.asarray(_batched(cm, cm.rhs)(ts, ys, ps))
    for k, (t, y, p) in enumerate(points):
        expected = any_case.rhs_vector(t, y, p)
        np.testing.assert_allclose(got[k], expected, rtol=RHS_RTOL, atol=RHS_RTOL * np.max(np.abs(expected)),
                                   err_msg=f"{any_case.name} point {k}: t={t}, y={y}, p={p}")


def test_rhs_at_time_zero_of_docstring_model():
    # CL * A with A = 100 / 30: -10 amount per time
    V, CL = qsp.Parameter("V", 30.0), qsp.Parameter("CL", 3.0)
    A = qsp.Species("A", qsp.Compartment("central", volume=V), initial_amount=100.0)
    cm = qsp.compile(qsp.Model("pk1", reactions=[qsp.Reaction([A], [], rate=CL * A)]))
    args = cm.prepare(cm.parameter_vector())
    assert float(cm.rhs(0.0, cm.initial_state(args), args)[0]) == pytest.approx(-10.0, rel=1e-15)


def test_reaction_rates_are_amount_per_time(binding_case):
    cm, p = binding_case.compiled, dict(binding_case.params)
    y = {"L": 12.0, "R": 2.0, "RL": 3.0}
    V = p["Vp"]
    expected = {  # amount / time, by hand, in the model's reaction order
        "bind": p["kon"] * (12.0 / V) * (2.0 / V) * V, "unbind": p["koff"] * (3.0 / V) * V,
        "synthesis": p["ksyn"] * V, "degradation": p["kdeg"] * (2.0 / V) * V,
        "internalisation": p["kint"] * (3.0 / V) * V, "elimination": p["kel"] * (12.0 / V) * V,
    }
    names = [r.name for r in binding_case.model.reactions]
    args = cm.prepare(cm.parameter_vector())
    v = np.asarray(cm.rates(0.0, jnp.asarray([y[s] for s in cm.state_names]), args))
    np.testing.assert_allclose(v, [expected[n] for n in names], rtol=1e-14)


def test_linear_jacobian_is_the_rate_matrix(linear_case):
    cm = linear_case.compiled
    p = dict(linear_case.params, CL=2.7, V1=8.0)
    args = cm.prepare(cm.parameter_vector(p))
    J = np.asarray(cm.jacobian(3.0, jnp.asarray([5.0, 7.0, 11.0]), args))
    # exact for a linear system, up to the rounding of CL/V1 etc.
    np.testing.assert_allclose(J, linear_rate_matrix(p), rtol=1e-14, atol=1e-16)


def test_tmdd_jacobian_matches_finite_differences_of_hand_rhs(tmdd_case):
    cm, p = tmdd_case.compiled, tmdd_case.params
    y = np.array([150.0, 20.0, 8.0, 12.0])
    args = cm.prepare(cm.parameter_vector())
    J = np.asarray(cm.jacobian(1.0, jnp.asarray(y), args))
    # central differences of the hand RHS with h = 1e-5 * |y_j|: the RHS is quadratic in y,
    # so the central difference is exact up to rounding (~1e-16 * |f| / h ~ 1e-9 relative)
    fd = np.empty((4, 4))
    for j in range(4):
        h = 1e-5 * y[j]
        up, down = y.copy(), y.copy()
        up[j] += h
        down[j] -= h
        fd[:, j] = (tmdd_case.rhs_vector(1.0, up, p) - tmdd_case.rhs_vector(1.0, down, p)) / (2 * h)
    np.testing.assert_allclose(J, fd, rtol=1e-7, atol=1e-7 * np.max(np.abs(fd)))


def test_parameter_values_are_inputs_not_constants(mm_case):
    # the same compiled function serves any parameter vector: jit once, call with two vectors
    cm = mm_case.compiled
    f = jax.jit(lambda p: cm.rhs(0.0, jnp.asarray([100.0, 30.0]), cm.prepare(p)))
    p1, p2 = dict(mm_case.params), dict(mm_case.params, Vmax=20.0, V=2.0)
    for p in (p1, p2):
        np.testing.assert_allclose(np.asarray(f(cm.parameter_vector(p))),
                                   mm_case.rhs_vector(0.0, np.array([100.0, 30.0]), p), rtol=1e-14)
    assert f._cache_size() == 1


def test_amount_based_species_means_its_amount():
    # amount_based=True: the symbol means the amount, so CL * X is CL * amount (not / V)
    c = qsp.Compartment("c", volume=4.0)
    X = qsp.Species("X", c, initial_amount=8.0, amount_based=True)
    Y = qsp.Species("Y", c, initial_amount=8.0)
    k = qsp.Parameter("k", 0.5)
    cm = qsp.compile(qsp.Model("ab", reactions=[qsp.Reaction([X], [], rate=k * X),
                                                qsp.Reaction([Y], [], rate=k * Y)]))
    args = cm.prepare(cm.parameter_vector())
    dy = np.asarray(cm.rhs(0.0, cm.initial_state(args), args))
    np.testing.assert_allclose(dy, [-0.5 * 8.0, -0.5 * 8.0 / 4.0], rtol=1e-15)
    # mass_action of an amount-based species still uses its concentration: k * (X/V) * V = k * X
    ma = qsp.compile(qsp.Model("ab_ma", reactions=[qsp.mass_action(k, [X], [])]))
    args = ma.prepare(ma.parameter_vector())
    np.testing.assert_allclose(np.asarray(ma.rhs(0.0, ma.initial_state(args), args)), [-4.0], rtol=1e-15)


def test_species_initial_value_may_refer_to_another_species():
    # B starts at twice A's initial concentration, in a compartment of another volume
    c1, c2 = qsp.Compartment("c1", volume=2.0), qsp.Compartment("c2", volume=5.0)
    A = qsp.Species("A", c1, initial_amount=6.0)            # [A]0 = 3
    B = qsp.Species("B", c2, initial_concentration=2 * A)   # [B]0 = 6, amount 30
    k = qsp.Parameter("k", 1.0)
    cm = qsp.compile(qsp.Model("ref", reactions=[qsp.Reaction([A], [B], rate=k * A)]))
    args = cm.prepare(cm.parameter_vector())
    np.testing.assert_allclose(np.asarray(cm.initial_state(args)), [6.0, 30.0], rtol=1e-15)


def test_boundary_species_is_not_changed_by_reactions():
    c = qsp.Compartment("c", volume=2.0)
    S = qsp.Species("S", c, initial_amount=10.0, boundary=True)
    P = qsp.Species("P", c)
    k = qsp.Parameter("k", 0.3)
    cm = qsp.compile(qsp.Model("bnd", reactions=[qsp.mass_action(k, [S], [P])]))
    args = cm.prepare(cm.parameter_vector())
    dy = np.asarray(cm.rhs(0.0, cm.initial_state(args), args))
    np.testing.assert_allclose(dy, [0.0, 0.3 * 10.0], rtol=1e-15)   # k [S] V = k * amount


def test_stoichiometry_mapping_and_repetition_compile_alike():
    c = qsp.Compartment("c", volume=3.0)
    A, B = qsp.Species("A", c, initial_amount=9.0), qsp.Species("B", c)
    k = qsp.Parameter("k", 0.2)
    rate = k * A**2 * c
    by_list = qsp.compile(qsp.Model("l", reactions=[qsp.Reaction([A, A], [B], rate=rate)]))
    by_map = qsp.compile(qsp.Model("m", reactions=[qsp.Reaction({A: 2}, {B: 1}, rate=rate)]))
    out = []
    for cm in (by_list, by_map):
        args = cm.prepare(cm.parameter_vector())
        out.append(np.asarray(cm.rhs(0.0, cm.initial_state(args), args)))
    v = 0.2 * (9.0 / 3.0) ** 2 * 3.0
    np.testing.assert_allclose(out[0], [-2 * v, v], rtol=1e-15)
    np.testing.assert_array_equal(out[0], out[1])


def test_compile_does_not_generate_source(monkeypatch):
    # DESIGN.md: no source text, eval/exec or lambdify in the compile path
    def forbidden(*args, **kwargs):
        raise AssertionError("lambdify called by qsp")
    monkeypatch.setattr(sp, "lambdify", forbidden)
    monkeypatch.setattr(importlib.import_module("sympy.utilities.lambdify"), "lambdify", forbidden)
    c = qsp.Compartment("c", volume=2.0)
    A = qsp.Species("A", c, initial_amount=4.0)
    k, Km = qsp.Parameter("k", 1.0), qsp.Parameter("Km", 2.0)
    cm = qsp.compile(qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=k * A / (Km + A) * sp.exp(-qsp.time))]))
    args = cm.prepare(cm.parameter_vector())
    np.testing.assert_allclose(float(cm.rhs(0.0, cm.initial_state(args), args)[0]), -1.0 * 2.0 / 4.0, rtol=1e-15)


def test_mass_action_jacobian_assembled_from_index_arrays_equals_autodiff():
    """A pure mass-action model takes the assembled Jacobian path; forward-mode autodiff of the
    right-hand side is an independent computation of the same matrix (exact: tolerance 1e-12)."""
    c1, c2 = qsp.Compartment("c1", volume=2.0), qsp.Compartment("c2", volume=0.5)
    A, B = qsp.Species("A", c1, initial_amount=3.0), qsp.Species("B", c1, initial_amount=1.0)
    C = qsp.Species("C", c2, initial_amount=0.5)
    D = qsp.Species("D", c2, amount_based=True, initial_amount=2.0)
    k = [qsp.Parameter(f"k{i}", 0.3 + 0.1 * i) for i in range(6)]
    reactions = [qsp.mass_action(k[0], [A, B], [C]), qsp.mass_action(k[1], [C], [A]),
                 qsp.mass_action(k[2], [A, A], [B]), qsp.mass_action(k[3], [], [D]),
                 qsp.mass_action(k[4], [D, C], [B]), qsp.mass_action(k[5], [B], []),
                 qsp.mass_action(k[0], [A, B, D], [])]
    # a chain of further species takes the model past the straight-line size
    chain = [qsp.Species(f"E{i}", c1, initial_amount=1.0) for i in range(6)]
    reactions += [qsp.mass_action(k[i % 6], [chain[i]], [chain[i + 1], A]) for i in range(5)]
    cm = qsp.compile(qsp.Model("ma_jacobian", reactions=reactions))
    # the assembled path is the one under test
    assert cm.structure.general_reactions.size == 0 and cm.structure.straight is None
    args = cm.prepare(cm.parameter_vector())
    y = jnp.asarray(np.random.default_rng(2).uniform(0.3, 2.0, cm.n_states))
    assembled = np.asarray(cm.jacobian(0.0, y, args))
    autodiff = np.asarray(jax.jacfwd(cm.rhs, argnums=1)(0.0, y, args))
    np.testing.assert_allclose(assembled, autodiff, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ straight-line small models
def _hand_rhs_mm_effect(t, y, p):
    """Amount-space RHS of the model in the test below, written by hand: central amount A
    (volume V), Michaelis-Menten elimination, a forcing input sin(t) switched on after t = 2,
    and a rate-rule effect compartment Ce."""
    a, ce = y
    c = a / p["V"]
    elim = p["Vmax"] * c / (p["Km"] + c) * p["V"]
    forcing = jnp.where(t > 2.0, p["kin"] * (1.0 + jnp.sin(t)), 0.0)
    return jnp.stack([forcing - elim, p["ke0"] * (c - ce)])


def test_straight_line_rhs_and_jacobian_match_a_hand_written_model():
    V, Vmax, Km = qsp.Parameter("V", 12.0), qsp.Parameter("Vmax", 3.0), qsp.Parameter("Km", 0.7)
    kin, ke0 = qsp.Parameter("kin", 0.4), qsp.Parameter("ke0", 1.3)
    a = qsp.Species("A", qsp.Compartment("central", volume=V), initial_amount=6.0)
    ce = qsp.Variable("Ce", initial=0.0)
    t = qsp.time
    model = qsp.Model("mm_effect", reactions=[
        qsp.Reaction([a], [], rate=Vmax * a / (Km + a) * V, name="elimination"),
        qsp.Reaction([], [a], rate=sp.Piecewise((kin * (1 + sp.sin(t)), t > 2), (0, True)), name="forcing")],
        rules=[qsp.RateRule(ce, ke0 * (a - ce))])
    cm = qsp.compile(model)
    assert cm.structure.straight is not None  # 2 states with general rate laws: straight-line form
    rng = np.random.default_rng(5)
    for _ in range(10):
        p = {"V": 12.0 * rng.uniform(0.5, 2), "Vmax": 3.0 * rng.uniform(0.5, 2), "Km": 0.7 * rng.uniform(0.5, 2),
             "kin": 0.4 * rng.uniform(0.5, 2), "ke0": 1.3 * rng.uniform(0.5, 2)}
        tt, y = rng.uniform(0.0, 6.0), jnp.asarray(rng.uniform(0.1, 10.0, 2))
        args = cm.prepare(cm.parameter_vector(p))
        pj = {k: jnp.float64(v) for k, v in p.items()}
        # same formulas in another order: agreement to rounding (1e-12 relative)
        np.testing.assert_allclose(np.asarray(cm.rhs(tt, y, args)), np.asarray(_hand_rhs_mm_effect(tt, y, pj)),
                                   rtol=1e-12, atol=1e-14)
        # the index-array form (what diffrax's solvers integrate) is the same function
        np.testing.assert_allclose(np.asarray(cm.rhs(tt, y, args, straight_line=False)),
                                   np.asarray(_hand_rhs_mm_effect(tt, y, pj)), rtol=1e-12, atol=1e-14)
        # the symbolic Jacobian against autodiff of the hand-written RHS (independent derivation)
        expected = np.asarray(jax.jacfwd(_hand_rhs_mm_effect, argnums=1)(tt, y, pj))
        np.testing.assert_allclose(np.asarray(cm.jacobian(tt, y, args)), expected, rtol=1e-12, atol=1e-14)


def test_straight_line_falls_back_when_a_derivative_cannot_be_evaluated():
    # d/dA Heaviside(A - 1) is a DiracDelta: no JAX translation, so the index form (forward-mode
    # Jacobian) is kept, and the model still compiles and simulates
    k = qsp.Parameter("k", 0.5)
    a = qsp.Species("A", qsp.Compartment("c", volume=1.0), initial_amount=3.0)
    model = qsp.Model("switch", reactions=[qsp.Reaction([a], [], rate=k * sp.Heaviside(a - 1) * a, name="r")])
    cm = qsp.compile(model)
    assert cm.structure.straight is None
    sol = qsp.simulate(cm, jnp.array([0.0, 1.0]))
    np.testing.assert_allclose(float(sol["A"][-1]), 3.0 * np.exp(-0.5), rtol=1e-7)  # stays above the switch


def test_large_mass_action_models_keep_the_index_form():
    from qsp.compile.compiled import STRAIGHT_LINE_MAX_MASS_ACTION_STATES as limit
    c = qsp.Compartment("c", volume=1.0)
    xs = [qsp.Species(f"X{i}", c, initial_amount=1.0) for i in range(limit + 1)]
    k = qsp.Parameter("k", 1.0)
    chain = [qsp.mass_action(k, [xs[i]], [xs[i + 1]]) for i in range(limit)]
    assert qsp.compile(qsp.Model("chain_big", reactions=chain)).structure.straight is None
    small = qsp.compile(qsp.Model("chain_small", reactions=chain[:-1]))  # `limit` states
    assert small.structure.straight is not None


def test_mass_action_coefficients_are_gathered_as_monomials():
    # rate laws k·[A]·V, k2/V·[A][B] and 2·k·V²·[B]: mass action with monomial coefficients, so
    # prepare() computes them with one gather-and-product; checked against the numbers by hand
    k, k2 = qsp.Parameter("k", 0.3), qsp.Parameter("k2", 1.7)
    V = qsp.Parameter("V", 2.5)
    c = qsp.Compartment("c", volume=V)
    a, b = qsp.Species("A", c, initial_amount=1.0), qsp.Species("B", c, initial_amount=2.0)
    reactions = [qsp.Reaction([a], [b], rate=k * a * c, name="r1"),
                 qsp.Reaction([a, b], [], rate=k2 / c * a * b, name="r2"),
                 qsp.Reaction([b], [], rate=2 * k * c ** 2 * b, name="r3")]
    cm = qsp.compile(qsp.Model("monomials", reactions=reactions))
    assert cm.structure.ma_monomials is not None
    p = {"k": 0.3, "k2": 1.7, "V": 2.5}
    coefficients = np.asarray(cm.prepare(cm.parameter_vector(p)).coefficients)
    by_reaction = np.empty(3)
    by_reaction[cm.structure.ma_reactions] = coefficients  # (stored sorted by reaction order)
    np.testing.assert_allclose(by_reaction, [0.3 * 2.5, 1.7 / 2.5, 2 * 0.3 * 2.5 ** 2], rtol=1e-15)
    # a coefficient that is not a monomial (exp(k)) keeps the general program, same numbers
    other = qsp.compile(qsp.Model("not_monomial", reactions=[qsp.Reaction([a], [], rate=sp.exp(k) * a * c)]))
    assert other.structure.ma_monomials is None
    np.testing.assert_allclose(np.asarray(other.prepare(other.parameter_vector({"k": 0.3, "V": 2.5})).coefficients),
                               [np.exp(0.3) * 2.5], rtol=1e-15)


def test_large_model_rhs_by_row_gathers_matches_a_hand_written_loop():
    """Above ``DENSE_LIMIT`` entries, dy/dt = S·v is computed by gathers (``row_gather``), and
    mass-action rates by order (zero, first, second, third) apart from general ones.
    A 70-state chain alternating mass-action and Michaelis-Menten steps, with a hub species
    that every tenth reaction also produces, against a plain Python loop over the reactions
    (same sums in another order: 1e-12 relative); ``rates`` in reaction order."""
    from qsp.compile.compiled import DENSE_LIMIT
    n = 70
    c = qsp.Compartment("c", volume=2.0)
    xs = [qsp.Species(f"X{i}", c, initial_amount=1.0) for i in range(n)]
    hub = qsp.Species("H", c, initial_amount=0.5)
    ks = [qsp.Parameter(f"k{i}", 0.2 + 0.01 * i) for i in range(n - 1)]
    km = qsp.Parameter("Km", 0.8)
    reactions = []
    for i in range(n - 1):
        products = [xs[i + 1], hub] if i % 10 == 0 else [xs[i + 1]]
        if i % 2:
            reactions.append(qsp.Reaction([xs[i]], products, rate=ks[i] * xs[i] / (km + xs[i]) * c, name=f"mm{i}"))
        else:
            reactions.append(qsp.mass_action(ks[i], [xs[i]], products))
    reactions.append(qsp.mass_action(ks[0], [hub, xs[5]], []))
    reactions.append(qsp.mass_action(ks[1], [], [xs[3]]))  # zero order
    reactions.append(qsp.mass_action(ks[2], [xs[7], xs[7], hub], []))  # third order
    cm = qsp.compile(qsp.Model("gather_chain", reactions=reactions, species=[*xs, hub]))
    s = cm.structure
    assert s.dense_S is None and s.S_gather is not None and s.rate_order is not None
    assert cm.n_states * s.n_reactions > DENSE_LIMIT
    rng = np.random.default_rng(3)
    amounts = rng.uniform(0.1, 3.0, n + 1)
    order = np.argsort([cm.state_index(x.name) for x in [*xs, hub]])
    y = jnp.asarray(amounts[order])  # y[state_index(name)] = amounts[position of name]
    conc = {x.name: amounts[i] / 2.0 for i, x in enumerate([*xs, hub])}
    want = {name: 0.0 for name in conc}
    for i in range(n - 1):
        k = 0.2 + 0.01 * i
        x = conc[f"X{i}"]
        rate = k * x / (0.8 + x) * 2.0 if i % 2 else k * x * 2.0
        want[f"X{i}"] -= rate
        want[f"X{i + 1}"] += rate
        if i % 10 == 0:
            want["H"] += rate
    rate = 0.2 * conc["H"] * conc["X5"] * 2.0
    want["H"] -= rate
    want["X5"] -= rate
    want["X3"] += 0.21 * 2.0
    rate = 0.22 * conc["X7"] ** 2 * conc["H"] * 2.0
    want["X7"] -= 2 * rate
    want["H"] -= rate
    args = cm.prepare(cm.parameter_vector())
    got = np.asarray(jax.jit(lambda y, a: cm.rhs(0.0, y, a))(y, args))
    expected = np.array([want[name] for name in cm.state_names])
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)
    # the rates come back in model.reactions order (what sol and the event code read)
    rates = np.asarray(cm.rates(0.0, y, args))
    x1 = conc["X1"]
    np.testing.assert_allclose(rates[1], 0.21 * x1 / (0.8 + x1) * 2.0, rtol=1e-13)
    np.testing.assert_allclose(rates[0], 0.2 * conc["X0"] * 2.0, rtol=1e-13)
    np.testing.assert_allclose(rates[-1], 0.22 * conc["X7"] ** 2 * conc["H"] * 2.0, rtol=1e-13)
    np.testing.assert_allclose(rates[-2], 0.21 * 2.0, rtol=1e-13)
