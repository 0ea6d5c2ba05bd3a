"""The automatic Tsit5/Rodas5P switching integrator (``rosenbrock.integrate_auto``) and the
default ``solver="auto"`` of ``qsp.simulate``.

Oracles: scipy ``expm`` for linear systems, stored Radau results, ``solve_ivp(Radau)`` at
rtol 1e-11 on hand-written right-hand sides, closed forms, central finite differences. Beside
accuracy, each test checks *which* method ran where that is the point (the switching state
returned by the integrator): a switching rule that never switches, or always does, fails here.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
from scipy.integrate import solve_ivp

import qsp
from qsp.simulate import rosenbrock as rb
from qsp.simulate.solve import AUTO_STIFF_ONLY_MAX_STATES

from test_rosenbrock import ROBERTSON_REF, ROBERTSON_T1, _padded, robertson


def _auto(f, y0, t1, args, *, cost, rtol=1e-8, atol=1e-10, jac=None, differentiable="none", **kwargs):
    jac = jac or (lambda t, y, a: jax.jacfwd(f, argnums=1)(t, y, a))
    return rb.integrate_auto(f, jac, 0.0, t1, y0, args, rtol=rtol, atol=atol, dt0=jnp.array(-1.0),
                             max_steps=100_000, differentiable=differentiable, cost=cost, **kwargs)


# --------------------------------------------------------------------------- the switching rule
def test_non_stiff_problem_stays_explicit():
    # eigenvalues -1, -3 +- 1i: no step is stability-limited at rtol 1e-8, so no trial at all
    a = np.array([[-1.0, 0.5, 0.0], [0.0, -3.0, 1.0], [0.0, -1.0, -3.0]])
    y0 = np.array([1.0, -2.0, 3.0])
    y1, (h, state), n, ok = jax.jit(lambda a_: _auto(lambda t, y, m: m @ y, jnp.asarray(y0), 2.0, a_, cost=3.0))(
        jnp.asarray(a))
    assert bool(ok)
    ref = scipy.linalg.expm(2.0 * a) @ y0
    assert np.max(np.abs(np.asarray(y1) - ref) / np.abs(ref)) < 1e-6  # as the fixed methods' expm test
    assert not bool(state.stiff) and np.isinf(float(state.h_stiff))  # never tried the stiff method


def test_strongly_stiff_problem_moves_to_rodas5p():
    # Robertson over 4e10 (eigenvalues to -1e4, steps must grow to ~1e9): an explicit method
    # would need ~1e13 steps. The switch must happen within the first few steps and stay.
    y1, (_, state), n, ok = jax.jit(lambda: _auto(robertson, jnp.array([1.0, 0.0, 0.0]), ROBERTSON_T1, None,
                                                  cost=3.0, atol=1e-20))()
    assert bool(ok)
    assert bool(state.stiff)
    assert int(n) < 2_000  # Rodas5P alone: ~600 (tests/test_rosenbrock.py bounds it by 2,000 too)
    np.testing.assert_allclose(np.asarray(y1), ROBERTSON_REF, rtol=1e-6, atol=0)


def _chain(t, y, k):
    """Linear chain y0 -> y1 -> ... with rates k: y_i' = k_{i-1} y_{i-1} - k_i y_i."""
    inflow = jnp.concatenate([jnp.zeros((1,)), k[:-1] * y[:-1]])
    return inflow - k * y


CHAIN_K = np.geomspace(0.2, 60.0, 6)  # mildly stiff: fastest 60/time against a horizon of 20


@pytest.mark.parametrize("cost,stiff_at_end,tried", [(100.0, False, True), (1e4, False, False), (2.0, True, True)])
def test_cost_decides_on_a_mildly_stiff_problem(cost, stiff_at_end, tried):
    # Stability limits the explicit steps (h ~ 3.5/60) while Rodas5P takes ~1 time unit: a
    # stiff step is worth ~20 explicit ones. Dearer than that (cost 100), the trial gives up and
    # Tsit5 finishes; cheaper (cost 2), Rodas5P does. Dearer than all ~340 explicit steps
    # together (cost 1e4), no trial is made at all: the first waits for `cost` explicit steps.
    # All must be accurate (expm oracle).
    a = np.diag(-CHAIN_K) + np.diag(CHAIN_K[:-1], -1)
    y0 = np.ones(6)
    y1, (_, state), n, ok = _auto(_chain, jnp.asarray(y0), 20.0, jnp.asarray(CHAIN_K), cost=cost)
    ref = scipy.linalg.expm(20.0 * a) @ y0
    assert bool(ok)
    np.testing.assert_allclose(np.asarray(y1), ref, rtol=1e-6, atol=1e-10)
    assert bool(state.stiff) == stiff_at_end
    assert np.isfinite(float(state.h_stiff)) == tried  # whether the stiff method was tried
    if not stiff_at_end:
        assert int(n) > 200  # explicit, stability-bound: 20 / (3.5 / 60) ~ 340 steps


# --------------------------------------------------------------------------- with ROCK4 between them
MILD_K = np.geomspace(0.2, 400.0, 24)  # fastest 400/time over 20: Tsit5 ~2,300 limited steps


@pytest.mark.parametrize("rock4", [True, "only"])  # after Tsit5, or from the start
def test_mildly_stiff_problem_moves_to_rock4_and_stays(rock4):
    # Tsit5's steps are stability-limited (h rho = 3.5) long before ROCK4's (h rho ~ 5,400), so
    # the integration ends in ROCK4 without ever trying Rodas5P, in far fewer steps than Tsit5
    # alone; oracle: expm (tolerance as the fixed methods' expm tests)
    a = np.diag(-MILD_K) + np.diag(MILD_K[:-1], -1)
    y0 = np.ones(24)
    y1, (_, state), n, ok = _auto(_chain, jnp.asarray(y0), 20.0, jnp.asarray(MILD_K), cost=50.0, rock4=rock4)
    assert bool(ok)
    ref = scipy.linalg.expm(20.0 * a) @ y0
    np.testing.assert_allclose(np.asarray(y1), ref, rtol=1e-6, atol=1e-10)
    assert bool(state.rock) and not bool(state.stiff) and np.isinf(float(state.h_stiff))
    _, _, n_tsit5, _ = rb.integrate_explicit(_chain, None, 0.0, 20.0, jnp.asarray(y0), jnp.asarray(MILD_K),
                                             rtol=1e-8, atol=1e-10, dt0=jnp.array(-1.0), max_steps=100_000,
                                             differentiable="none")
    assert int(n) < int(n_tsit5) / 3


@pytest.mark.parametrize("rock4", [True, "only"])
def test_strongly_stiff_problem_goes_through_rock4_to_rodas5p(rock4):
    # Robertson: ROCK4's steps grow dear at once, so Rodas5P takes over and stays
    y1, (_, state), n, ok = jax.jit(lambda: _auto(robertson, jnp.array([1.0, 0.0, 0.0]), ROBERTSON_T1, None,
                                                  cost=3.0, atol=1e-20, rock4=rock4))()
    assert bool(ok)
    assert bool(state.stiff)
    assert int(n) < 3_000  # Rodas5P alone: ~600
    np.testing.assert_allclose(np.asarray(y1), ROBERTSON_REF, rtol=1e-6, atol=0)


def _pulse(t, y, a):
    """y' = -k(t) (y - c cos t) with k(t) = 1 + K exp(-(t - 5)^2 / 0.5), ``a = (K, c)``: stiff only
    around t = 5."""
    k = 1.0 + a[0] * jnp.exp(-((t - 5.0) ** 2) / 0.5)
    return -k * (y - a[1] * jnp.cos(t))


@pytest.fixture(scope="module")
def pulse_reference():
    ts = np.linspace(0.0, 10.0, 301)

    def rhs(t, y):
        return -(1.0 + 1e4 * np.exp(-((t - 5.0) ** 2) / 0.5)) * (y - np.cos(t))
    sol = solve_ivp(rhs, (0.0, 10.0), [2.0], method="Radau", t_eval=ts, rtol=1e-11, atol=1e-13,
                    jac=lambda t, y: [[-(1.0 + 1e4 * np.exp(-((t - 5.0) ** 2) / 0.5))]])
    return ts, sol.y[0]


@functools.lru_cache(maxsize=None)
def _pulse_runner(dense, n_out, differentiable="none", rock4=False):
    def run(big, ts, c=1.0):
        return _auto(_pulse, jnp.array([2.0]), 10.0, jnp.stack([big, jnp.asarray(c)]), cost=2.0,
                     differentiable=differentiable, rock4=rock4,
                     outputs=(ts, 0, n_out), out=jnp.zeros((ts.shape[0], 1)), dense_output=dense)
    return jax.jit(run)


@pytest.mark.parametrize("dense,n_out,rock4", [(True, 301, False), (False, 31, False), (True, 301, True),
                                             (False, 31, True)])
def test_switches_both_ways_and_outputs_survive_the_hand_over(dense, n_out, rock4, pulse_reference):
    # Explicit at first, stiff around t = 5 (k up to 1e4), explicit again once k has decayed:
    # the outputs of each spell must be kept by the next (dense output and exact mode).
    ts_all, ref_all = pulse_reference
    index = np.linspace(0, 300, n_out).astype(int)
    ts, ref = ts_all[index], ref_all[index]
    y1, (_, state), n, ok, out = _pulse_runner(dense, n_out, rock4=rock4)(jnp.asarray(1e4), _padded(ts))
    assert bool(ok)
    # 1e-6 with rtol 1e-8: the same margin as the fixed methods' output tests (ROCK4's dense
    # output is a cubic Hermite interpolant: 1e-5)
    np.testing.assert_allclose(np.asarray(out)[:n_out, 0], ref, rtol=1e-5 if rock4 and dense else 1e-6, atol=1e-7)
    assert not bool(state.stiff)  # back to explicit at the end
    assert not bool(state.rock)  # (with ROCK4: back to Tsit5 too)
    assert np.isfinite(float(state.h_stiff))  # and stiff on the way (at cost 2 a stiff step is cheap)
    # more than Rodas5P's handful of steps on the smooth parts, far fewer than Tsit5 at k = 1e4
    assert int(n) < 3_000


def test_gradient_through_switches_matches_finite_differences(pulse_reference):
    # d y(t_i) / d c (the forcing amplitude) by forward mode through all three spells, against
    # central differences. y is linear in c, so the differences have no truncation error; with
    # step 0.1 the solver's error (rtol 1e-8) contributes ~1e-7. The derivative is O(1).
    ts = _padded(pulse_reference[0][::10])
    run = _pulse_runner(True, 31, "forward")
    big = jnp.asarray(1e4)
    jac = jax.jacfwd(lambda c: run(big, ts, c)[4][:31, 0])(jnp.asarray(1.0))
    step = 0.1
    up, down = run(big, ts, 1.0 + step)[4][:31, 0], run(big, ts, 1.0 - step)[4][:31, 0]
    fd = (np.asarray(up) - np.asarray(down)) / (2 * step)
    np.testing.assert_allclose(np.asarray(jac), fd, rtol=1e-5, atol=1e-6)
    assert np.max(np.abs(fd)) > 0.5


@pytest.mark.parametrize("rock4", [False, True])
def test_reverse_gradient_through_switches_matches_forward(rock4):
    # reverse mode (checkpointed spells inside a checkpointed outer loop; with ROCK4 also its
    # checkpointed recurrence loop) = forward mode: the same discrete map differentiated two
    # ways, so agreement to rounding (1e-9)
    def loss(c, differentiable):
        return _auto(_pulse, jnp.array([2.0]), 10.0, jnp.stack([jnp.asarray(1e4), c]), cost=2.0,
                     differentiable=differentiable, rock4=rock4)[0][0]
    reverse = jax.grad(lambda c: loss(c, "reverse"))(jnp.asarray(1.0))
    forward = jax.jacfwd(lambda c: loss(c, "forward"))(jnp.asarray(1.0))
    np.testing.assert_allclose(float(reverse), float(forward), rtol=1e-9)
    assert abs(float(forward)) > 0.1


def test_event_in_explicit_mode():
    # y' = -y from 1; when y falls below 0.5 it is reset to 1: the resets come every ln 2
    # (closed form), and the mode stays explicit (non-stiff)
    events = rb.StateEvents(trigger=lambda t, y: y[:1] < 0.5, apply=lambda t, y, fired: jnp.where(fired[0], 1.0, y),
                            active=jnp.array([False]))
    ts = _padded(np.array([0.5, 1.0, 2.0, 3.0]))
    y1, (_, state), _, ok, out, _ = _auto(lambda t, y, a: -y, jnp.array([1.0]), 3.0, None, cost=3.0,
                                          outputs=(ts, 0, 4), out=jnp.zeros((ts.shape[0], 1)), dense_output=True,
                                          events=events)
    period = np.log(2.0)
    ref = np.exp(-(np.array([0.5, 1.0, 2.0, 3.0]) % period))
    assert bool(ok) and not bool(state.stiff)
    np.testing.assert_allclose(np.asarray(out)[:4, 0], ref, rtol=1e-6)


# --------------------------------------------------------------------------- the front door
def _cascade_model(n: int, fast: float):
    """A linear absorption cascade of ``n`` compartments (1 L) ending in elimination, with one
    ``fast`` transfer: ``x_i' = k_{i-1} x_{i-1} - k_i x_i``."""
    cmt = qsp.Compartment("central", volume=1.0)
    xs = [qsp.Species(f"x{i}", cmt, initial_amount=0.0) for i in range(n)]
    rates = np.geomspace(0.3, 3.0, n)
    rates[n // 2] = fast
    ks = [qsp.Parameter(f"k{i}", float(r)) for i, r in enumerate(rates)]
    reactions = [qsp.mass_action(ks[i], [xs[i]], [xs[i + 1]]) for i in range(n - 1)]
    reactions.append(qsp.mass_action(ks[-1], [xs[-1]], []))
    return qsp.Model("cascade", reactions=reactions), rates


def _cascade_reference(rates, times, dose_times, amount):
    n = len(rates)
    a = np.diag(-rates) + np.diag(rates[:-1], -1)
    out, y, t = [], np.zeros(n), 0.0
    events = sorted(dose_times)
    for target in times:
        while events and events[0] <= target:
            y = scipy.linalg.expm((events[0] - t) * a) @ y
            y[0] += amount
            t = events.pop(0)
        out.append(scipy.linalg.expm((target - t) * a) @ y)
    return np.array(out)


@pytest.mark.parametrize("fast", [5.0, 5e4])
def test_default_solver_on_a_large_model_with_doses(fast):
    # 40 states (above AUTO_STIFF_ONLY_MAX_STATES, and STAGE_LOOP_MIN_STATES: the stages run
    # in a loop): the default runs the switching method;
    # non-stiff (fast = 5) and stiff (fast = 5e4 per time unit), with three doses whose
    # intervals carry the mode across. Oracle: matrix exponentials between the doses.
    model, rates = _cascade_model(40, fast)
    compiled = qsp.compile(model)
    assert compiled.n_states > AUTO_STIFF_ONLY_MAX_STATES
    times = np.linspace(0.0, 30.0, 61)
    regimen = qsp.Regimen([qsp.Bolus("x0", 100.0, time=t) for t in (0.0, 8.0, 16.0)])
    sol = qsp.simulate(compiled, times, regimen=regimen)
    ref = _cascade_reference(rates, list(times), [0.0, 8.0, 16.0], 100.0)
    np.testing.assert_allclose(np.asarray(sol.ys), ref, rtol=1e-6, atol=1e-8)
    if fast > 1e3:  # explicit would need ~fast * 30 / 3.5 = 4e5 steps
        assert int(sol.n_steps) < 5_000


@pytest.mark.parametrize("method", ["rodas5p", "tsit5"])
def test_stage_loop_equals_unrolled_stages(method, monkeypatch):
    # A 40-state linear chain: the looped stages (n >= STAGE_LOOP_MIN_STATES) and the unrolled
    # ones are the same arithmetic, so they agree to rounding (1e-12 relative), and both match
    # the matrix exponential (1e-6, rtol 1e-8)
    k = np.geomspace(0.5, 20.0, 40)
    a = np.diag(-k) + np.diag(k[:-1], -1)
    y0 = np.linspace(1.0, 2.0, 40)
    jac = lambda t, y, kk: jnp.diag(-kk) + jnp.diag(kk[:-1], -1)
    integrate = rb.integrate_explicit if method == "tsit5" else rb.integrate

    def run():
        return integrate(_chain, jac, 0.0, 3.0, jnp.asarray(y0), jnp.asarray(k), rtol=1e-8, atol=1e-10,
                         dt0=jnp.array(-1.0), max_steps=100_000, differentiable="none")[0]
    assert 40 >= rb.STAGE_LOOP_MIN_STATES
    looped = np.asarray(run())
    monkeypatch.setattr(rb, "STAGE_LOOP_MIN_STATES", 10**9)
    unrolled = np.asarray(run())
    np.testing.assert_allclose(looped, unrolled, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(looped, scipy.linalg.expm(3.0 * a) @ y0, rtol=1e-6, atol=1e-10)
