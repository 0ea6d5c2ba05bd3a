"""Tests of the pure-JAX integrators in ``qsp.simulate.rosenbrock``.

Every accuracy check is against something the code under test did not compute: a matrix
exponential, a closed form, SciPy's Radau at rtol 1e-12, central finite differences, or the
unbatched call (for vmap). Tolerances: a 5th-order method run at rtol 1e-8 over a few hundred
steps accumulates a global error of a few 1e-8 relative at most on these problems, so the
checks use 1e-6 (the brief's bound) unless stated.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
from scipy.integrate import solve_ivp

import qsp  # noqa: F401  (enables float64)
from qsp.simulate import rosenbrock as rb

jax.config.update("jax_enable_x64", True)

ROSENBROCK = ["rodas5p", "rodas5"]


def _solver(method):
    if method == "tsit5":
        return rb.integrate_explicit
    return lambda *a, **k: rb.integrate(*a, method=method, **k)


def _jac(f):
    return lambda t, y, a: jax.jacfwd(f, argnums=1)(t, y, a)


# ----------------------------------------------------------------------------- models
def tmdd(t, y, p):
    cl, v1, q, v2, kon, koff, kint, ksyn, kdeg = (p[i] for i in range(9))
    lc, lp, r, rl = y[0], y[1], y[2], y[3]
    return jnp.stack([
        -(cl / v1) * lc - (q / v1) * (lc - lp) - kon * lc * r + koff * rl,
        (q / v2) * (lc - lp),
        ksyn - kdeg * r - kon * lc * r + koff * rl,
        kon * lc * r - (koff + kint) * rl,
    ])


TMDD_P = np.array([0.2, 3.0, 0.5, 2.5, 0.5, 0.05, 0.3, 1.0, 0.25])  # CL V1 Q V2 kon koff kint ksyn kdeg
TMDD_Y0 = np.array([2000.0 / 3.0, 0.0, 1.0 / 0.25, 0.0])  # Lc(0) = 2000/3, R(0) = ksyn/kdeg


def tmdd_np(t, y, p):
    cl, v1, q, v2, kon, koff, kint, ksyn, kdeg = p
    lc, lp, r, rl = y
    return [-(cl / v1) * lc - (q / v1) * (lc - lp) - kon * lc * r + koff * rl, (q / v2) * (lc - lp),
            ksyn - kdeg * r - kon * lc * r + koff * rl, kon * lc * r - (koff + kint) * rl]


def forced(t, y, a):
    """y' = -k (y - cos(w t)): non-autonomous, closed form below."""
    k, w = a[0], a[1]
    return -k * (y - jnp.cos(w * t))


def forced_exact(t, y0, k, w):
    amp = k / (k * k + w * w)
    return amp * (k * np.cos(w * t) + w * np.sin(w * t)) + (y0 - amp * k) * np.exp(-k * t)


def robertson(t, y, a):
    return jnp.stack([
        -0.04 * y[0] + 1e4 * y[1] * y[2],
        0.04 * y[0] - 1e4 * y[1] * y[2] - 3e7 * y[1] ** 2,
        3e7 * y[1] ** 2,
    ])


def tmdd_jac_np(t, y, p):
    cl, v1, q, v2, kon, koff, kint, ksyn, kdeg = p
    lc, lp, r, rl = y
    return [[-(cl / v1) - q / v1 - kon * r, q / v1, -kon * lc, koff], [q / v2, -q / v2, 0.0, 0.0],
            [-kon * r, 0.0, -kdeg - kon * lc, koff], [kon * r, 0.0, kon * lc, -(koff + kint)]]


@pytest.fixture(scope="module")
def tmdd_reference():
    """SciPy Radau (rtol 1e-12, exact Jacobian) at t = 14 days, for kon and 1000 * kon."""
    out = {}
    for scale in (1.0, 1000.0):
        p = TMDD_P.copy()
        p[4] *= scale
        sol = solve_ivp(tmdd_np, (0.0, 14.0), TMDD_Y0, method="Radau", rtol=1e-12, atol=1e-12, args=(p,),
                        jac=tmdd_jac_np)
        assert sol.success
        out[scale] = (p, sol.y[:, -1])
    return out


@functools.lru_cache(maxsize=None)
def _tmdd_runner(method):
    """jitted y(t1) at rtol 1e-8 as a function of (parameters, t1) (one compile per method)."""
    return jax.jit(lambda p, t1: _solver(method)(tmdd, _jac(tmdd), 0.0, t1, jnp.asarray(TMDD_Y0), p, rtol=1e-8,
                                             atol=1e-10, dt0=jnp.array(-1.0), max_steps=100_000,
                                             differentiable="none"))


@functools.lru_cache(maxsize=None)
def _forced_runner(method):
    """jitted y(7) of y' = -k (y - cos 3t), y(0) = 2, as a function of k (one compile per method)."""
    return jax.jit(lambda k: _solver(method)(forced, lambda t, y, a: -a[0] * jnp.eye(1), 0.0, 7.0, jnp.array([2.0]),
                                             jnp.stack([k, 3.0]), rtol=1e-8, atol=1e-10, dt0=jnp.array(-1.0),
                                             max_steps=100_000, differentiable="none"))


# ----------------------------------------------------------------------------- accuracy
@pytest.mark.parametrize("method", ROSENBROCK + ["tsit5"])
def test_linear_system_matches_expm(method):
    # y' = A y with eigenvalues spread over two decades (mildly stiff); oracle: scipy expm.
    a = np.array([[-1.0, 0.5, 0.0], [0.2, -3.0, 1.0], [0.0, 2.0, -40.0]])
    y0 = np.array([1.0, -2.0, 3.0])
    f = lambda t, y, a_: a_ @ y
    jac = lambda t, y, a_: a_
    y1, dt, n, ok = jax.jit(lambda a_: _solver(method)(f, jac, 0.0, 2.0, jnp.asarray(y0), a_, rtol=1e-8, atol=1e-10,
                                                       dt0=jnp.array(-1.0), max_steps=10_000,
                                                       differentiable="none"))(jnp.asarray(a))
    ref = scipy.linalg.expm(2.0 * a) @ y0
    assert bool(ok)
    assert np.max(np.abs(np.asarray(y1) - ref) / np.abs(ref)) < 1e-6
    assert float(dt) > 0 and int(n) > 1


ROBERTSON_T1 = 4e10
# y(4e10) from SciPy 1.17.1 solve_ivp(method="Radau", rtol=1e-12, atol=1e-20, exact Jacobian),
# 15509 steps; a rtol 1e-13 run agrees to ~1e-12 relative. Stored rather than recomputed: the
# Radau run takes 5-10 s, longer than everything else it would check.
ROBERTSON_REF = np.array([5.208345176793563e-08, 2.0833381779232053e-13, 0.9999999479163462])


@pytest.mark.parametrize("method", ROSENBROCK)
def test_robertson_matches_radau(method):
    # The classic stiff test (eigenvalues down to ~ -1e4, a time span of 4e10: steps grow from
    # ~1e-6 to ~1e9). At rtol 1e-8 (atol 1e-20: pure relative control) each component must
    # agree with the reference to 1e-6 relative (measured: ~1e-8).
    y1, _, n, ok = _solver(method)(robertson, _jac(robertson), 0.0, ROBERTSON_T1, jnp.array([1.0, 0.0, 0.0]), None,
                                   rtol=1e-8, atol=1e-20, dt0=jnp.array(-1.0), max_steps=10_000,
                                   differentiable="none")
    assert bool(ok)
    assert int(n) < 2_000  # an explicit method would need ~1e13 steps
    np.testing.assert_allclose(np.asarray(y1), ROBERTSON_REF, rtol=1e-6, atol=0)


@pytest.mark.parametrize("method,kon_scale", [("rodas5p", 1.0), ("rodas5p", 1000.0), ("rodas5", 1000.0),
                                              ("tsit5", 1.0)])
def test_tmdd_matches_radau(method, kon_scale, tmdd_reference):
    # kon x 1000 makes binding ~1e5/day fast against days-long kinetics (stiff: the explicit
    # pair is stability-bound there and is only checked on the non-stiff variant)
    p, ref = tmdd_reference[kon_scale]
    y1, _, n, ok = _tmdd_runner(method)(jnp.asarray(p), jnp.asarray(14.0))
    assert bool(ok)
    assert np.max(np.abs(np.asarray(y1) - ref) / np.abs(ref)) < 1e-6


@pytest.mark.parametrize("method,k", [("rodas5p", 0.5), ("rodas5p", 200.0), ("rodas5", 200.0), ("tsit5", 0.5)])
def test_non_autonomous_closed_form(method, k):
    # exercises the f_t (df/dt) term: with it wrong, Rosenbrock methods drop to order 1-2 here
    # (k = 200 is stiff: the explicit pair is only checked at k = 0.5)
    y1, _, _, ok = _forced_runner(method)(jnp.asarray(k))
    ref = forced_exact(7.0, 2.0, k, 3.0)
    assert bool(ok)
    assert abs(float(y1[0]) - ref) < 1e-6 * max(abs(ref), 1.0)


def test_rodas5p_step_control_on_pure_quadrature():
    # y' = cos(2t): Rodas5's embedded estimate is identically ~0 here (its step control fails;
    # the reason Rodas5P is the default). Rodas5P must meet the tolerance. Exact: 1 + sin(2t)/2.
    f = lambda t, y, a: jnp.cos(2.0 * t) * jnp.ones_like(y)
    y1, _, _, ok = rb.integrate(f, lambda t, y, a: jnp.zeros((1, 1)), 0.0, 10.0, jnp.array([1.0]), None,
                                rtol=1e-8, atol=1e-8, dt0=jnp.array(-1.0), max_steps=10_000, differentiable="none")
    assert bool(ok)
    assert abs(float(y1[0]) - (1.0 + np.sin(20.0) / 2.0)) < 1e-6


def test_order_of_convergence_fixed_steps():
    # each method's order on a nonlinear non-autonomous 2-state problem: halving h must divide
    # the global error by ~2^5 (oracle: DOP853 at rtol 1e-13)
    def f(t, y, a):
        return jnp.stack([-a * y[0] + jnp.sin(3 * t) * y[1], 0.1 * y[0] * y[1] - y[1] + jnp.cos(t)])
    jac = _jac(f)
    y0 = np.array([1.0, 0.5])
    ref = solve_ivp(lambda t, y: np.asarray(f(t, jnp.asarray(y), 2.0)), (0, 2.0), y0, method="DOP853",
                    rtol=1e-13, atol=1e-14).y[:, -1]

    def run(step):
        def fixed_steps(nsteps):  # one compile per method: the step count is traced
            h = 2.0 / nsteps
            return jax.lax.fori_loop(0, nsteps, lambda i, y: step(i * h, y, h), jnp.asarray(y0))
        return jax.jit(fixed_steps)

    steps = {m: (lambda t, y, h, m=m: rb._rosenbrock_step(rb._TABLEAUS[m], f, jac, t, y, h, 2.0, "auto")[0])
             for m in ROSENBROCK}
    steps["tsit5"] = lambda t, y, h: rb._tsit5_step(f, t, y, h, 2.0, f(t, y, 2.0))[0]
    for name, step in steps.items():
        solve = run(step)
        e20, e40 = (np.max(np.abs(np.asarray(solve(n)) - ref)) for n in (20, 40))
        assert 4.7 < np.log2(e20 / e40) < 5.6, name


# ----------------------------------------------------------------------------- derivatives
def _tmdd_y1(p, t1, y0, differentiable):
    y1, _, _, ok = rb.integrate(tmdd, _jac(tmdd), 0.0, t1, y0, p, rtol=1e-11, atol=1e-11, dt0=jnp.array(-1.0),
                                max_steps=20_000, differentiable=differentiable)
    return y1


@pytest.fixture(scope="module")
def tmdd_fd():
    """Central finite differences of y1 (TMDD, t1 = 3 days) in kon, in t1 and in Lc(0)
    (relative steps 1e-4), solved at rtol 1e-11: truncation error ~1e-8 relative, solver
    noise ~1e-11 / 1e-4 = 1e-7 relative."""
    p0, t1, y0 = jnp.asarray(TMDD_P), 3.0, jnp.asarray(TMDD_Y0)
    run = jax.jit(lambda p, t, y: _tmdd_y1(p, t, y, "none"))
    dp, dt, dy = 1e-4 * p0[4], 1e-4 * t1, 1e-4 * y0[0]
    d_kon = (run(p0.at[4].add(dp), t1, y0) - run(p0.at[4].add(-dp), t1, y0)) / (2 * dp)
    d_t1 = (run(p0, t1 + dt, y0) - run(p0, t1 - dt, y0)) / (2 * dt)
    d_lc0 = (run(p0, t1, y0.at[0].add(dy)) - run(p0, t1, y0.at[0].add(-dy))) / (2 * dy)
    fd = dict(kon=np.asarray(d_kon), t1=np.asarray(d_t1), lc0=np.asarray(d_lc0))
    return p0, t1, y0, fd, np.asarray(run(p0, t1, y0))


def _close(actual, expected, rel=1e-5):
    scale = np.max(np.abs(expected))
    np.testing.assert_allclose(np.asarray(actual), expected, rtol=rel, atol=rel * 1e-3 * scale)


def test_reverse_gradient_matches_finite_differences(tmdd_fd):
    p0, t1, y0, fd, y_ref = tmdd_fd
    w = np.array([1.0, -0.5, 2.0, 0.25])  # a scalar loss touching every component
    loss = lambda p, t, y: jnp.dot(jnp.asarray(w), _tmdd_y1(p, t, y, "reverse"))
    grad = jax.jit(jax.grad(loss, argnums=(0, 1, 2)))
    g_p, g_t, g_y = grad(p0, jnp.asarray(t1), y0)
    _close(g_p[4], w @ fd["kon"])
    _close(g_t, w @ fd["t1"])
    _close(g_y[0], w @ fd["lc0"])
    # d y1 / d t1 = f(t1, y1): a second, FD-free oracle for the t1 derivative
    _close(g_t, w @ np.asarray(tmdd(t1, jnp.asarray(y_ref), p0)))
    # t1 == t0: y1 = y0 exactly, so the gradient is w in y0 and 0 in p, with no NaN (the loop
    # does not run, so d y1 / d t1 is 0 there rather than f(t0, y0))
    g_p, g_t, g_y = grad(p0, jnp.asarray(0.0), y0)
    assert np.array_equal(np.asarray(g_y), w) and not np.any(np.asarray(g_p)) and float(g_t) == 0.0


def test_forward_jacobian_matches_finite_differences(tmdd_fd):
    p0, t1, y0, fd, _ = tmdd_fd
    j_p, j_t, j_y = jax.jit(jax.jacfwd(lambda p, t, y: _tmdd_y1(p, t, y, "forward"), argnums=(0, 1, 2)))(
        p0, jnp.asarray(t1), y0)
    _close(j_p[:, 4], fd["kon"])
    _close(j_t, fd["t1"])
    _close(j_y[:, 0], fd["lc0"])


def test_batched_reverse_gradient_has_no_nan():
    # population fitting: vmap of jax.grad. Finished trajectories keep being stepped (results
    # discarded) while others run; that must not leak NaN into the batched gradient (it did
    # when a finished trajectory stepped with h = t1 - t = 0). Oracle: y' = -k (y - cos 3t) is
    # linear in y0, d y1 / d y0 = exp(-k t1) exactly; t1 = 0 is the zero-length case.
    def y1(y0, k, t1):
        return rb.integrate(forced, lambda t, y, a: -a[0] * jnp.eye(1), 0.0, t1, jnp.stack([y0]), jnp.stack([k, 3.0]),
                            rtol=1e-10, atol=1e-12, dt0=jnp.array(-1.0), max_steps=1_000,
                            differentiable="reverse")[0][0]
    ks, ts = np.array([0.7, 50.0, 2.0, 1.0]), np.array([2.0, 0.5, 7.0, 0.0])
    g = jax.jit(jax.vmap(jax.grad(y1), in_axes=(None, 0, 0)))(2.0, jnp.asarray(ks), jnp.asarray(ts))
    np.testing.assert_allclose(np.asarray(g), np.exp(-ks * ts), rtol=1e-8, atol=1e-14)


def test_tsit5_derivatives_closed_form():
    # y' = -k (y - cos w t) is linear in y0: d y1 / d y0 = exp(-k t1) exactly, and
    # d y1 / d t1 = f(t1, y1)
    k, w, t1 = 0.7, 3.0, 2.0

    def y1(y0, t, diff):
        return rb.integrate_explicit(forced, None, 0.0, t, jnp.stack([y0]), jnp.array([k, w]), rtol=1e-10,
                                     atol=1e-12, dt0=jnp.array(-1.0), max_steps=10_000, differentiable=diff)[0][0]

    exact_t1 = float(forced(t1, forced_exact(t1, 2.0, k, w), jnp.array([k, w])))
    for diff, ad in (("reverse", jax.grad), ("forward", jax.jacfwd)):
        d = jax.jit(ad(y1, argnums=(0, 1)), static_argnums=2)
        d_y0, d_t1 = d(2.0, t1, diff)
        assert abs(float(d_y0) - np.exp(-k * t1)) < 1e-8
        assert abs(float(d_t1) - exact_t1) < 1e-6 * abs(exact_t1)
        d_y0, d_t1 = d(2.0, 0.0, diff)  # t1 == t0: identity, no NaN
        assert float(d_y0) == 1.0 and float(d_t1) == 0.0


# ----------------------------------------------------------------------------- batching and carrying
def test_vmap_equals_loop():
    rng = np.random.default_rng(1)
    ps = jnp.asarray(TMDD_P * np.exp(0.3 * rng.normal(size=(8, 9))))
    t1s = jnp.asarray(rng.uniform(5.0, 14.0, size=8))
    run = _tmdd_runner("rodas5p")
    yv, dtv, nv, okv = jax.vmap(run)(ps, t1s)
    for i in range(8):
        y, dt, n, ok = run(ps[i], t1s[i])
        np.testing.assert_allclose(np.asarray(yv[i]), np.asarray(y), rtol=1e-12, atol=1e-12)
        assert int(nv[i]) == int(n) and bool(okv[i]) and bool(ok)
        # the step-size proposal comes from err^(-1/5) of a tiny, cancellation-prone error
        # estimate; batched XLA code, and the natively compiled unbatched loop
        # (qsp._small_loops, which contracts to FMAs differently), may round it differently:
        # measured up to 4e-5 relative. A wrong controller would be off by far more than 1e-3
        np.testing.assert_allclose(float(dtv[i]), float(dt), rtol=1e-3)


def test_carried_step_size_in_scan(tmdd_reference):
    # the intended use: many short segments in a lax.scan, dt_next carried to the next call.
    # The result must match Radau; carrying dt must cost fewer steps than restarting every
    # segment from the heuristic, and not many more than one call over the whole span (the
    # same scan with one non-empty segment: zero-length segments cost nothing).
    p, ref = tmdd_reference[1.0]
    kw = dict(rtol=1e-8, atol=1e-10, max_steps=10_000, differentiable="none")

    @jax.jit
    def pieces(edges, carry_dt):
        def seg(carry, ts):
            y, dt = carry
            y1, dt1, n, ok = rb.integrate(tmdd, _jac(tmdd), ts[0], ts[1], y, jnp.asarray(p), dt0=dt, **kw)
            return (y1, jnp.where(carry_dt, dt1, -1.0)), (n, ok)
        (y, _), (ns, oks) = jax.lax.scan(seg, (jnp.asarray(TMDD_Y0), jnp.array(-1.0)),
                                         jnp.stack([edges[:-1], edges[1:]], 1))
        return y, ns.sum(), oks.all()

    edges = jnp.linspace(0.0, 14.0, 57)  # 56 segments of 0.25 day
    y_c, n_c, ok_c = pieces(edges, True)
    y_r, n_r, ok_r = pieces(edges, False)
    y_w, n_w, ok_w = pieces(jnp.full(57, 14.0).at[0].set(0.0), True)
    assert bool(ok_c) and bool(ok_r) and bool(ok_w)
    for y in (y_c, y_r, y_w):
        assert np.max(np.abs(np.asarray(y) - ref) / np.abs(ref)) < 1e-6
    assert int(n_c) < int(n_r)
    # each boundary forces one step to be clipped short (about one extra step per boundary);
    # a lost step size would instead cost the ~5 steps the restarts need (n_r)
    assert int(n_c) < int(n_w) + 2 * 56


# ----------------------------------------------------------------------------- edge cases
@pytest.mark.parametrize("method", ["rodas5p", "tsit5"])
def test_zero_length_interval_returns_y0(method):
    y0 = jnp.array([2.0, -1.0])
    f = lambda t, y, a: -y * jnp.array([1.0, 100.0])
    jac = lambda t, y, a: -jnp.diag(jnp.array([1.0, 100.0]))
    y1, dt, n, ok = _solver(method)(f, jac, 1.5, 1.5, y0, None, rtol=1e-8, atol=1e-10, dt0=jnp.array(-1.0),
                                    max_steps=100, differentiable="none")
    assert np.array_equal(np.asarray(y1), np.asarray(y0))
    assert int(n) == 0 and bool(ok) and np.isfinite(float(dt)) and float(dt) > 0


@pytest.mark.parametrize("method", ["rodas5p", "tsit5"])
def test_max_steps_reached_is_reported_not_raised(method):
    y1, dt, n, ok = _solver(method)(forced, lambda t, y, a: -a[0] * jnp.eye(1), 0.0, 10.0, jnp.array([2.0]),
                                    jnp.array([1.0, 3.0]), rtol=1e-10, atol=1e-12, dt0=jnp.array(1e-3), max_steps=5,
                                    differentiable="none")
    assert not bool(ok) and int(n) == 5
    assert np.all(np.isfinite(np.asarray(y1)))  # the last state reached


def test_non_finite_rhs_is_reported_not_raised():
    f = lambda t, y, a: jnp.where(t > 1.0, jnp.nan, -y)
    y1, dt, n, ok = rb.integrate(f, lambda t, y, a: -jnp.eye(1), 0.0, 2.0, jnp.array([1.0]), None, rtol=1e-6,
                                 atol=1e-8, dt0=jnp.array(-1.0), max_steps=1_000, differentiable="none")
    assert not bool(ok)
    assert int(n) < 1_000  # gave up on step-size underflow, not by exhausting max_steps


def test_explicit_inverse_with_pivoting():
    # the unrolled Gauss-Jordan inverse against numpy, including matrices that need row swaps
    # (zero or tiny leading pivots)
    rng = np.random.default_rng(0)
    mats = [rng.normal(size=(4, 4)) for _ in range(20)]
    mats += [np.array([[0.0, 1.0, 2.0, 3.0], [1.0, 0.0, 1.0, 0.0], [2.0, 1.0, 0.0, 1.0], [1e-14, 3.0, 1.0, 1.0]])]
    mats += [np.roll(np.diag([1.0, 2.0, 3.0, 4.0]), 1, axis=0)]  # a permutation matrix times a diagonal
    inv = jax.jit(jax.vmap(rb._gj_inverse_unrolled))(jnp.asarray(np.stack(mats)))
    for m, mi in zip(mats, np.asarray(inv)):
        np.testing.assert_allclose(mi, np.linalg.inv(m), rtol=1e-10, atol=1e-12)
    for n in (1, 2, 3):
        m = rng.normal(size=(n, n))
        np.testing.assert_allclose(np.asarray(rb._gj_inverse_unrolled(jnp.asarray(m))), np.linalg.inv(m),
                                   rtol=1e-10, atol=1e-12)


def test_looped_gauss_jordan_inverse_against_numpy():
    # the LAPACK-free elimination used when the step loop compiles natively (n = 5..12); the
    # first matrix has a zero leading diagonal entry, so pivoting is exercised. Tolerance: these
    # matrices have condition numbers below 1e3, so 1e-10 leaves a wide margin over rounding
    rng = np.random.default_rng(5)
    for n in (5, 8, 12, 16):
        m = rng.normal(size=(n, n)) + n * np.eye(n)
        m[0, 0] = 0.0
        got = np.asarray(jax.jit(rb._gj_inverse_looped)(jnp.asarray(m)))
        np.testing.assert_allclose(got, np.linalg.inv(m), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("linsolve", ["inv", "lu", "looped"])
def test_other_linear_solvers_agree(linsolve):
    # n > 4 takes the LAPACK paths or the looped elimination; check each on the linear system against expm
    rng = np.random.default_rng(2)
    n = 6
    a = -np.diag(np.logspace(0, 3, n)) + 0.3 * rng.normal(size=(n, n))
    y0 = rng.normal(size=n)
    y1, _, _, ok = rb._integrate_rosenbrock(lambda t, y, a_: a_ @ y, lambda t, y, a_: a_, 0.0, 1.0, jnp.asarray(y0),
                                            jnp.asarray(a), rtol=1e-9, atol=1e-12, dt0=jnp.array(-1.0),
                                            max_steps=10_000, differentiable="none", linsolve=linsolve)
    ref = scipy.linalg.expm(a) @ y0
    assert bool(ok)
    np.testing.assert_allclose(np.asarray(y1), ref, rtol=1e-6, atol=1e-9 * np.max(np.abs(ref)))


def test_bad_arguments_raise():
    kw = dict(rtol=1e-6, atol=1e-8, dt0=jnp.array(-1.0), max_steps=10)
    f = lambda t, y, a: -y
    with pytest.raises(ValueError):
        rb.integrate(f, None, 0.0, 1.0, jnp.ones(1), None, differentiable="backward", **kw)
    with pytest.raises(ValueError):
        rb.integrate(f, None, 0.0, 1.0, jnp.ones(1), None, method="rodas4", **kw)


# ----------------------------------------------------------------------------- outputs
def _padded(ts):
    pad = max(0, rb.OUTPUT_WINDOW - ts.shape[0])
    return jnp.concatenate([jnp.asarray(ts), jnp.full((pad,), jnp.inf)])


@functools.lru_cache(maxsize=None)
def _forced_outputs_runner(method, dense):
    """jitted outputs of y' = -k (y - cos 3t) on 301 times in [0, 7], as a function of (k, ts)."""
    def run(k, ts):
        n_out = ts.shape[0]
        return _solver(method)(forced, lambda t, y, a: -a[0] * jnp.eye(1), 0.0, 7.0, jnp.array([2.0]),
                               jnp.stack([k, 3.0]), rtol=1e-8, atol=1e-10, dt0=jnp.array(-1.0), max_steps=100_000,
                               differentiable="forward", outputs=(ts, 0, n_out), out=jnp.zeros((n_out, 1)),
                               dense_output=dense)
    return jax.jit(run)


@pytest.mark.parametrize("method,dense", [("rodas5p", True), ("rodas5", True), ("tsit5", True), ("rodas5p", False)])
def test_outputs_match_closed_form(method, dense):
    # 301 outputs in [0, 7] (many per step: the dense window cuts steps only beyond 16): each
    # output against the closed form. The continuous extensions are 4th order (local error
    # O(h^5), the order of the controlling error estimate), so outputs are as accurate as the
    # step ends: 1e-6 as for the end point. Exact mode must also land on every output.
    k = 0.5
    ts = np.linspace(0.0, 7.0, 301)
    y1, _, n_steps, ok, out = _forced_outputs_runner(method, dense)(jnp.asarray(k), _padded(ts))
    assert bool(ok)
    ref = forced_exact(ts, 2.0, k, 3.0)
    np.testing.assert_allclose(np.asarray(out)[:, 0], ref, rtol=1e-6, atol=1e-7)
    assert abs(float(y1[0]) - ref[-1]) < 1e-6
    if dense:  # far fewer steps than outputs: the outputs did not end steps
        assert int(n_steps) < 200  # 154 measured for Rodas5P; exact mode needs >= 300
    else:
        assert int(n_steps) >= 300


def test_dense_outputs_are_differentiable():
    # d y(t_i) / dk through the continuous extension, against central differences (h = 1e-5,
    # truncation ~1e-10; both evaluations at rtol 1e-8, so agreement to 1e-5 relative)
    ts = _padded(np.linspace(0.0, 7.0, 41))
    run = _forced_outputs_runner("rodas5p", True)
    jac = jax.jacfwd(lambda k: run(k, ts)[4][:41, 0])(jnp.asarray(0.5))
    step = 1e-5
    fd = (np.asarray(run(jnp.asarray(0.5 + step), ts)[4][:41, 0])
          - np.asarray(run(jnp.asarray(0.5 - step), ts)[4][:41, 0])) / (2 * step)
    np.testing.assert_allclose(np.asarray(jac), fd, rtol=1e-5, atol=1e-7)
