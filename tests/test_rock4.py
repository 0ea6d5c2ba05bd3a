"""ROCK4 (``qsp.simulate.rock4``): its coefficient tables, its order, and its solutions.

Oracles: the exponential's Taylor series (every degree's stability polynomial), the closed
form of y' = -2 t y² (order of convergence), matrix exponentials (linear chains, with doses),
``solve_ivp(Radau)`` at rtol 1e-11 on a hand-written nonlinear right-hand side, and central
finite differences (gradients).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
from scipy.integrate import solve_ivp

import qsp
from qsp.simulate import _rock4_tables as tables
from qsp.simulate import rock4

from test_auto_switch import _cascade_reference  # matrix exponentials between doses


def _stability_polynomials(k: int, x):
    """R(x) and the embedded R̂(x) of degree index ``k``: one step of size 1 applied to y' = x y,
    written from the method's definition (recurrence, then the finishing procedure)."""
    m, start = int(tables.MS[k]), int(tables.RECF_START[k])
    recf = tables.RECF
    p_prev, p = np.ones_like(x), 1.0 + recf[start] * x
    for i in range(2, m + 1):
        mu, kappa = recf[start + 2 * (i - 2) + 1], recf[start + 2 * (i - 2) + 2]
        p_prev, p = p, mu * x * p + (1.0 + kappa) * p - kappa * p_prev
    a21, a31, a32, a41, a42, a43 = tables.FPA[k]
    k1 = x * p
    k2 = x * (p + a21 * k1)
    k3 = x * (p + a31 * k1 + a32 * k2)
    k4 = x * (p + a41 * k1 + a42 * k2 + a43 * k3)
    b, bh = tables.FPB[k], tables.FPBE[k]
    r = p + b[0] * k1 + b[1] * k2 + b[2] * k3 + b[3] * k4
    return r, p + bh[0] * k1 + bh[1] * k2 + bh[2] * k3 + bh[3] * k4 + bh[4] * x * r


def _taylor(k: int, order: int = 5):
    """Taylor coefficients of R and R̂ through z^order, from the polynomials' values on the
    circle |z| = 0.1 (a discrete Cauchy integral with 64 points: rounding ~1e-12 relative at
    z^4; the coefficients of z^64 and above, which alias onto the low ones, are below 1e-30
    there even for 152 stages)."""
    n, radius = 64, 0.1
    z = radius * np.exp(2j * np.pi * np.arange(n) / n)
    r, rh = _stability_polynomials(k, z)
    coefficients = lambda values: (np.fft.fft(values) / n)[: order + 1] / radius ** np.arange(order + 1)
    return coefficients(r).real, coefficients(rh).real


@pytest.mark.parametrize("k", range(len(tables.MS)))
def test_every_degree_is_fourth_order_with_a_third_order_estimate(k):
    # R(z) = e^z + O(z^5) and R̂(z) = e^z + O(z^4): a wrong digit in any coefficient the degree
    # uses breaks these (tolerance 1e-9 absolute on coefficients of size 1/j!: the Cauchy
    # integral is good to ~1e-11 here)
    r, rh = _taylor(k)
    exp = np.array([1.0 / math.factorial(j) for j in range(6)])
    np.testing.assert_allclose(r[:5], exp[:5], rtol=0, atol=1e-9)
    np.testing.assert_allclose(rh[:4], exp[:4], rtol=0, atol=1e-9)
    assert abs(r[5] - exp[5]) > 1e-6  # order exactly 4 (the data are not e.g. shifted copies)
    assert abs(rh[4] - exp[4]) > 1e-6


#: degree indices whose published coefficients exceed |R| = 1 by a hair near x = -8.4 (1.0059
#: and 1.0077): in both independent copies of Abdulle's tables (OrdinaryDiffEq.jl and AMReX
#: Microphysics), in 40-digit arithmetic too
_PUBLISHED_BUMPS = {47: 0.006, 49: 0.008}


@pytest.mark.parametrize("k", range(len(tables.MS)))
def test_every_degree_is_stable_where_the_degree_choice_puts_it(k):
    # |R(x)| <= 1 on [-(0.353 s² - 3), 0], the interval degree_index assumes, less 1e-4 of it:
    # degree 36's published interval ends 2e-5 short (the estimate of rho carries a safety
    # factor of 1.2, which covers both)
    s = int(tables.MS[k]) + 4
    beta = (rock4._BETA * s * s - 3.0) * (1.0 - 1e-4)
    x = -np.linspace(0.0, beta, 20_001)
    r, _ = _stability_polynomials(k, x)
    assert np.max(np.abs(r)) <= 1.0 + 1e-6 + _PUBLISHED_BUMPS.get(k, 0.0)
    # and the degree chosen for h rho = beta is this one or a smaller table entry
    assert int(rock4.degree_index(beta, 1.0)) <= k


def test_fourth_order_convergence_on_a_nonlinear_problem():
    # y' = -2 t y², y(0) = 1: y = 1 / (1 + t²). Fixed steps with the degree forced by rho (5,
    # 24 and 152 stages): halving h divides the error by ~16 (order 4 ± 0.3)
    f = lambda t, y, _: -2.0 * t * y * y
    for rho in (1.0, 3_000.0, 1e6):
        errors = []
        for n in (20, 40):
            h = 2.0 / n

            def advance(carry, _):
                t, y = carry
                y_new, _, _, _ = rock4.step(f, t, y, h, None, f(t, y, None), jnp.asarray(min(rho, 8000.0 / h)))
                return (t + h, y_new), None
            (t, y), _ = jax.lax.scan(advance, (jnp.asarray(0.0), jnp.ones(1)), None, length=n)
            errors.append(abs(float(y[0]) - 1.0 / (1.0 + float(t) ** 2)))
        assert 3.7 < np.log2(errors[0] / errors[1]) < 4.5, (rho, errors)


def test_mildly_stiff_linear_chain_matches_the_matrix_exponential():
    # rates 0.5 .. 2000 over 10 time units: Tsit5 would need ~6,000 stability-bound steps; ROCK4
    # takes many stages per step instead. Oracle: expm. Tolerance 50 rtol: the global error of
    # local error control over the whole interval (measured 15-20 rtol)
    k = np.geomspace(0.5, 2000.0, 30)
    a = np.diag(-k) + np.diag(k[:-1], -1)
    f = lambda t, y, kk: jnp.concatenate([jnp.zeros(1), kk[:-1] * y[:-1]]) - kk * y
    ref = scipy.linalg.expm(10.0 * a) @ np.ones(30)
    for rtol, most_steps in ((1e-6, 300), (1e-9, 1500)):  # measured 124 and 689
        y1, _, n, ok = rock4.integrate(f, None, 0.0, 10.0, jnp.ones(30), jnp.asarray(k), rtol=rtol, atol=rtol * 1e-3,
                                       dt0=jnp.array(-1.0), max_steps=20_000, differentiable="none")
        assert bool(ok)
        np.testing.assert_allclose(np.asarray(y1), ref, rtol=50 * rtol, atol=rtol * 1e-2)
        assert int(n) < most_steps


def _brusselator_1d(t, y, alpha):
    """The 1-D Brusselator reaction-diffusion system (Hairer & Wanner II, IV.1), N = 32 points:
    u' = 1 + u²v - 4u + α N² Δu, v' = 3u - u²v + α N² Δv, fixed ends u = 1, v = 3."""
    n = y.shape[0] // 2
    u, v = y[:n], y[n:]
    c = alpha * (n + 1) ** 2
    up = jnp.concatenate([jnp.ones(1), u, jnp.ones(1)])
    vp = jnp.concatenate([3.0 * jnp.ones(1), v, 3.0 * jnp.ones(1)])
    du = 1.0 + u * u * v - 4.0 * u + c * (up[2:] - 2.0 * u + up[:-2])
    dv = 3.0 * u - u * u * v + c * (vp[2:] - 2.0 * v + vp[:-2])
    return jnp.concatenate([du, dv])


def test_nonlinear_diffusion_matches_radau():
    n = 32
    x = np.arange(1, n + 1) / (n + 1)
    y0 = np.concatenate([1.0 + np.sin(2 * np.pi * x), np.full(n, 3.0)])
    ref = solve_ivp(lambda t, y: np.asarray(_brusselator_1d(t, jnp.asarray(y), 0.02)), (0.0, 10.0), y0,
                    method="Radau", rtol=1e-11, atol=1e-13).y[:, -1]
    y1, _, n_steps, ok = rock4.integrate(_brusselator_1d, None, 0.0, 10.0, jnp.asarray(y0), 0.02, rtol=1e-8,
                                         atol=1e-10, dt0=jnp.array(-1.0), max_steps=20_000, differentiable="none")
    assert bool(ok)
    np.testing.assert_allclose(np.asarray(y1), ref, rtol=1e-6, atol=1e-8)


# --------------------------------------------------------------------------- through qsp.simulate
def _chain_model(n: int, fastest: float):
    """A linear chain of ``n`` compartments whose rates fall from ``fastest`` to 0.3."""
    cmt = qsp.Compartment("central", volume=1.0)
    xs = [qsp.Species(f"x{i}", cmt, initial_amount=0.0) for i in range(n)]
    rates = np.geomspace(0.3, fastest, n)[::-1].copy()
    ks = [qsp.Parameter(f"k{i}", float(r)) for i, r in enumerate(rates)]
    reactions = [qsp.mass_action(ks[i], [xs[i]], [xs[i + 1]]) for i in range(n - 1)]
    reactions.append(qsp.mass_action(ks[-1], [xs[-1]], []))
    return qsp.Model("chain", reactions=reactions), rates


@pytest.fixture(scope="module")
def chain():
    model, rates = _chain_model(40, 200.0)
    return qsp.compile(model), rates


@pytest.mark.parametrize("n_outputs", [61, 301])  # steps end at each output / dense output
def test_simulate_with_doses_matches_matrix_exponentials(chain, n_outputs):
    compiled, rates = chain
    times = np.linspace(0.0, 30.0, n_outputs)
    regimen = qsp.Regimen([qsp.Bolus("x0", 100.0, time=t) for t in (0.0, 8.0, 16.0)])
    sol = qsp.simulate(compiled, times, regimen=regimen, solver="rock4")
    ref = _cascade_reference(rates, list(times), [0.0, 8.0, 16.0], 100.0)
    # the Hermite dense output is third order: 1e-5 against the 1e-6 of step ends
    np.testing.assert_allclose(np.asarray(sol.ys), ref, rtol=1e-6 if n_outputs < 200 else 1e-5, atol=1e-7)


def test_gradients_match_finite_differences(chain):
    # reverse mode through the checkpointed step loop and the recurrence's own loop, and
    # forward mode (adjoint="forward"); oracle: central differences (step 1e-5 relative, error
    # ~1e-9), at rtol 1e-10 so that the solver's error is below the comparison's 1e-6
    compiled, rates = chain
    times = np.linspace(0.0, 10.0, 11)
    regimen = qsp.Regimen([qsp.Bolus("x0", 100.0, time=0.0)])

    def loss(k0, k5, adjoint):
        sol = qsp.simulate(compiled, times, params={"k0": k0, "k5": k5}, regimen=regimen, solver="rock4",
                           rtol=1e-10, atol=1e-12, adjoint=adjoint)
        return jnp.sum(sol["x6"] ** 2)

    p = (float(rates[0]), float(rates[5]))
    reverse = np.asarray(jax.grad(lambda a, b: loss(a, b, "reverse"), argnums=(0, 1))(*p))
    forward = np.asarray(jax.jacfwd(lambda a, b: loss(a, b, "forward"), argnums=(0, 1))(*p))
    fd = []
    for i in range(2):
        e = 1e-5 * p[i]
        up, down = list(p), list(p)
        up[i] += e
        down[i] -= e
        fd.append((float(loss(*up, "reverse")) - float(loss(*down, "reverse"))) / (2 * e))
    np.testing.assert_allclose(reverse, fd, rtol=1e-6)
    np.testing.assert_allclose(forward, fd, rtol=1e-6)


def test_default_solver_starts_in_rock4_for_a_large_model():
    # from AUTO_ROCK4_ONLY_MIN_STATES states "auto" has no Tsit5 spell: a 200-state chain (rates
    # 0.3 .. 300, mildly stiff) with two doses through the front door, against expm; 1e-6 at
    # the default rtol 1e-8 (global error of local control, as the tests above)
    from qsp.simulate.solve import AUTO_ROCK4_ONLY_MIN_STATES
    model, rates = _chain_model(AUTO_ROCK4_ONLY_MIN_STATES, 300.0)
    compiled = qsp.compile(model)
    times = np.linspace(0.0, 10.0, 21)
    regimen = qsp.Regimen([qsp.Bolus("x0", 100.0, time=t) for t in (0.0, 4.0)])
    sol = qsp.simulate(compiled, times, regimen=regimen)
    ref = _cascade_reference(rates, list(times), [0.0, 4.0], 100.0)
    np.testing.assert_allclose(np.asarray(sol.ys), ref, rtol=1e-6, atol=1e-7)
