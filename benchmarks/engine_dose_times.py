"""T6 of the engine benchmark: the gradient of T3's loss w.r.t. the times of doses 2-6, and its oracles.

Plain numpy/scipy (no qsp, no JAX), like ``engine_problem``: the loss is T3's sum of squared
errors of Lc against the 50 observations (``engine_problem.observations``), now a function of
the five dose times ``tau = (t2, ..., t6)`` (nominally 14, 28, 42, 56, 70 days; the first dose
stays at day 0). Two oracles, computed independently of each other:

* ``fd_gradient``: central differences of the loss over the dose times, the loss from scipy's
  LSODA at rtol 1e-12 integrated dose interval by dose interval (``engine_problem.solve_scipy``
  with ``dose_times``);
* ``sensitivity_gradient``: the exact sensitivity form. Moving a bolus later by ``dtau`` changes
  the state just after it by ``(f(y-) - f(y+)) dtau`` (the state keeps flowing under the pre-dose
  field, and the post-dose trajectory starts later), where ``y-``/``y+`` are the states just
  before/after the dose and ``f`` the right-hand side; after that, the sensitivity ``s_k = dy/dt_k``
  obeys ``s_k' = J s_k`` and later doses (constant jumps) leave it unchanged. Integrated with the
  states by LSODA at rtol 1e-12; ``dSSE/dt_k = 2 sum_i (Lc(t_i) - obs_i) s_k,Lc(t_i)``.

No observation time lies within 0.1 day of a dose time, so the loss is smooth in each ``t_k``
over the steps used here (at most 2e-3 day; an observation crossing a dose would make it jump).
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

import engine_problem as ep

#: The varied dose times (doses 2-6) and their names in the table's notes.
NOMINAL = np.asarray(ep.DOSE_TIMES[1:], float)
NAMES = tuple(f"t{k}" for k in range(2, len(ep.DOSE_TIMES) + 1))


def dose_times(tau) -> tuple[float, ...]:
    """All six dose times: day 0, then ``tau``."""
    return (ep.DOSE_TIMES[0], *map(float, tau))


def loss(tau, obs, *, rtol=ep.REF_RTOL, atol=ep.REF_ATOL, method="LSODA") -> float:
    """T3's loss with the doses 2-6 at ``tau``."""
    lc = ep.solve_scipy(ep.observation_times(), method=method, rtol=rtol, atol=atol, dose_times=dose_times(tau))[:, 0]
    return ep.sse(lc, obs)


def fd_gradient(obs, *, h=1e-3, rtol=ep.REF_RTOL, atol=ep.REF_ATOL, points=5) -> np.ndarray:
    """d loss / d tau by central differences with step ``h`` days: 5-point
    ``(-L(t+2h) + 8L(t+h) - 8L(t-h) + L(t-2h)) / 12h`` (20 solves) or, with ``points=3``,
    ``(L(t+h) - L(t-h)) / 2h`` (10 solves). Error: the solver's noise in L divided by h (at rtol
    1e-12 about 1e-8 relative for these components, which are all of one magnitude), plus the
    truncation error (h^4 or h^2 times a higher derivative of L; small at h = 1e-3 day)."""
    steps, weights = ((2, 1, -1, -2), (-1, 8, -8, 1)) if points == 5 else ((1, -1), (6, -6))
    grad = np.empty(NOMINAL.size)
    for k in range(NOMINAL.size):
        total = 0.0
        for step, weight in zip(steps, weights):
            tau = NOMINAL.copy()
            tau[k] += step * h
            total += weight * loss(tau, obs, rtol=rtol, atol=atol)
        grad[k] = total / (12 * h)
    return grad


def sensitivity_gradient(obs, *, rtol=ep.REF_RTOL, atol=ep.REF_ATOL) -> np.ndarray:
    """The exact sensitivity form of d loss / d tau (see the module docstring)."""
    p = dict(ep.PARAMS)
    ts = ep.observation_times()
    times = dose_times(NOMINAL)
    n, m = 4, NOMINAL.size

    def f(t, z):
        y, S = z[:n], z[n:].reshape(n, m)
        return np.concatenate([ep.rhs(t, y, p), (ep.jacobian(t, y, p) @ S).ravel()])

    z = np.zeros(n + n * m)
    z[:n] = ep.initial_state(p)
    edges = [*times, ep.HORIZON]
    lc, s_lc = np.empty(ts.size), np.empty((ts.size, m))
    for k, start in enumerate(times):
        before = ep.rhs(start, z[:n], p)
        z[0] += ep.DOSE / p["V1"]
        if k > 0:  # dose k+1 is the (k-1)-th varied time
            S = z[n:].reshape(n, m)
            S[:, k - 1] = before - ep.rhs(start, z[:n], p)
        end = edges[k + 1]
        last = k == len(times) - 1
        inside = (ts >= start) & ((ts <= end) if last else (ts < end))
        sol = solve_ivp(f, (start, end), z, method="LSODA", rtol=rtol, atol=atol,
                        t_eval=np.unique(np.concatenate([ts[inside], [end]])))
        if not sol.success:
            raise RuntimeError(f"dose-time sensitivity oracle failed on [{start}, {end}]: {sol.message}")
        rows = dict(zip(sol.t, sol.y.T))
        for i in np.nonzero(inside)[0]:
            lc[i], s_lc[i] = rows[ts[i]][0], rows[ts[i]][n:].reshape(n, m)[0]
        z = sol.y[:, -1].copy()
    return 2.0 * (lc - obs) @ s_lc
