"""The problem of issue 5's engine benchmark, in plain numpy/scipy (no qsp, no JAX).

Shared by ``bench_engine.py`` (qsp, diffrax, scipy) and ``engine_peers.py`` (libRoadRunner,
AMICI in their own venv), so that every tool integrates the same equations, parameters,
doses and output times, and every result is scored against the same oracle.

The model (issue 5): full TMDD with two-compartment PK, states as concentrations (nM), time
in days, volumes in L::

    dLc/dt = -(CL/V1) Lc - (Q/V1)(Lc - Lp) - kon Lc R + koff RL
    dLp/dt =  (Q/V2)(Lc - Lp)
    dR/dt  =  ksyn - kdeg R - kon Lc R + koff RL
    dRL/dt =  kon Lc R - (koff + kint) RL,          R(0) = ksyn/kdeg, Lc(0) = Lp(0) = RL(0) = 0

with IV boluses of 2000 nmol into V1 (Lc jumps by 2000/V1) at days 0, 14, ..., 70 and a
horizon of 84 days. The oracle is scipy's LSODA at rtol 1e-12 with the analytic Jacobian,
integrated dose interval by dose interval (the state jumps exactly at each dose).
"""

from __future__ import annotations

import numpy as np

#: Parameter values of issue 5 (day, L, nM), in the order the gradients of T3 use.
PARAMS = {"CL": 0.2, "V1": 3.0, "Q": 0.5, "V2": 2.5, "kon": 0.5, "koff": 0.05, "kint": 0.3, "ksyn": 1.0,
          "kdeg": 0.25}
NAMES = tuple(PARAMS)
STATES = ("Lc", "Lp", "R", "RL")
DOSE = 2000.0  # nmol into V1
DOSE_TIMES = (0.0, 14.0, 28.0, 42.0, 56.0, 70.0)
HORIZON = 84.0
POPULATION_CV = 0.30  # log-normal, on CL, V1, ksyn, kdeg (T2)
POPULATION_PARAMS = ("CL", "V1", "ksyn", "kdeg")
STIFF_KON_FACTOR = 1000.0  # T4
REF_RTOL, REF_ATOL = 1e-12, 1e-14  # the oracle's tolerances
#: Floor of the accuracy measure, relative to each state's largest value (see ``max_rel_error``).
ERROR_FLOOR = 1e-6


def output_times(n: int) -> np.ndarray:
    """``n`` equally spaced output times on [0, 84] days (none falls on a dose time for n = 100, 1000)."""
    return np.linspace(0.0, HORIZON, n)


def observation_times() -> np.ndarray:
    """The 50 observation times of T3: equally spaced on [1, 84] days, none on a dose time."""
    ts = np.linspace(1.0, HORIZON, 50)
    assert not np.any(np.isin(ts, DOSE_TIMES))
    return ts


def population(n: int, seed: int = 2024) -> dict[str, np.ndarray]:
    """T2's virtual population: CL, V1, ksyn, kdeg log-normal around the typical values with a
    30 % coefficient of variation (omega^2 = log(1 + CV^2)); the other parameters typical."""
    rng = np.random.default_rng(seed)
    omega = np.sqrt(np.log1p(POPULATION_CV**2))
    out = {k: np.full(n, v) for k, v in PARAMS.items()}
    for k in POPULATION_PARAMS:
        out[k] = PARAMS[k] * np.exp(omega * rng.standard_normal(n))
    return out


# ----------------------------------------------------------------------------- numpy right-hand side
def rhs(t, y, p):
    """dy/dt of the four concentrations; ``p`` maps parameter names to values."""
    lc, lp, r, rl = y
    bind = p["kon"] * lc * r - p["koff"] * rl
    return np.array([
        -p["CL"] / p["V1"] * lc - p["Q"] / p["V1"] * (lc - lp) - bind,
        p["Q"] / p["V2"] * (lc - lp),
        p["ksyn"] - p["kdeg"] * r - bind,
        bind - p["kint"] * rl,
    ])


def jacobian(t, y, p):
    """The analytic Jacobian d(rhs)/dy."""
    lc, lp, r, rl = y
    kon, koff = p["kon"], p["koff"]
    a, b = p["CL"] / p["V1"] + p["Q"] / p["V1"], p["Q"] / p["V2"]
    return np.array([
        [-a - kon * r, p["Q"] / p["V1"], -kon * lc, koff],
        [b, -b, 0.0, 0.0],
        [-kon * r, 0.0, -p["kdeg"] - kon * lc, koff],
        [kon * r, 0.0, kon * lc, -koff - p["kint"]],
    ])


def initial_state(p) -> np.ndarray:
    return np.array([0.0, 0.0, p["ksyn"] / p["kdeg"], 0.0])


def solve_scipy(ts, p=None, *, method="LSODA", rtol=REF_RTOL, atol=REF_ATOL, max_step=np.inf,
                dose_times=DOSE_TIMES) -> np.ndarray:
    """States at ``ts`` (shape (len(ts), 4)) by ``scipy.integrate.solve_ivp``, one call per dose
    interval with the analytic Jacobian; the dose is added to Lc exactly at each dose time
    (``dose_times``, increasing; T6 moves them). An output at a dose time reports the state after
    the dose. Raises ``RuntimeError`` on failure."""
    from scipy.integrate import solve_ivp  # here, not at import: T7 times the import of this module
    p = {**PARAMS, **(p or {})}
    ts = np.asarray(ts, float)
    dose_times = tuple(float(t) for t in dose_times)
    y = initial_state(p)
    out = np.empty((ts.size, 4))
    edges = [*dose_times, max(HORIZON, float(ts[-1]))]
    f = lambda t, y: rhs(t, y, p)  # noqa: E731
    jac = lambda t, y: jacobian(t, y, p)  # noqa: E731
    for k, start in enumerate(dose_times):
        y = y + np.array([DOSE / p["V1"], 0.0, 0.0, 0.0])
        end = edges[k + 1]
        last = k == len(dose_times) - 1
        inside = (ts >= start) & ((ts <= end) if last else (ts < end))
        if end <= start:
            continue
        sol = solve_ivp(f, (start, end), y, method=method, jac=jac, rtol=rtol, atol=atol, max_step=max_step,
                        t_eval=np.unique(np.concatenate([ts[inside], [end]])))
        if not sol.success:
            raise RuntimeError(f"scipy {method} failed on [{start}, {end}]: {sol.message}")
        values = dict(zip(sol.t, sol.y.T))
        out[inside] = np.array([values[t] for t in ts[inside]])
        y = sol.y[:, -1]
    out[ts < dose_times[0]] = initial_state(p)
    return out


def reference(ts, p=None) -> np.ndarray:
    """The oracle: LSODA at rtol 1e-12, atol 1e-14 (analytic Jacobian)."""
    return solve_scipy(ts, p, method="LSODA", rtol=REF_RTOL, atol=REF_ATOL)


def max_rel_error(y, ref) -> float:
    """Accuracy of ``y`` against ``ref`` (both (times, 4) or (subjects, times, 4)): the largest
    ``|y - ref| / (|ref| + 1e-6 max_t |ref|)`` over all outputs and states, so a state that passes
    through zero is judged relative to its own scale. NaN if shapes differ or ``y`` is not finite."""
    y, ref = np.asarray(y, float), np.asarray(ref, float)
    if y.shape != ref.shape or not np.all(np.isfinite(y)):
        return float("nan")
    scale = np.max(np.abs(ref), axis=-2, keepdims=True)
    return float(np.max(np.abs(y - ref) / (np.abs(ref) + ERROR_FLOOR * scale)))


# ----------------------------------------------------------------------------- T3's loss and its oracle
def observations(seed: int = 7) -> np.ndarray:
    """50 noisy observations of Lc (10 % proportional noise on the oracle, fixed seed)."""
    rng = np.random.default_rng(seed)
    return reference(observation_times())[:, 0] * np.exp(0.1 * rng.standard_normal(50))


def sse(lc, obs) -> float:
    """T3's loss: the sum of squared errors of Lc against the observations."""
    return float(np.sum((np.asarray(lc) - obs) ** 2))


def fd_gradient(obs, *, h=1e-3, rtol=REF_RTOL, atol=REF_ATOL, method="LSODA", points=5) -> np.ndarray:
    """Gradient of T3's loss w.r.t. the 9 parameters by the 5-point central difference
    ``(-L(p+2d) + 8L(p+d) - 8L(p-d) + L(p-2d)) / 12d`` (or, with ``points=3``, the plain central
    difference ``(L(p+d) - L(p-d)) / 2d``), ``d = h p_i``, on ``solve_scipy`` solutions. Its error
    is the solver's noise in L divided by d: about 1e-8 of the gradient's largest component at
    rtol 1e-12, but much more, relatively, for the small components."""
    ts = observation_times()
    grad = np.empty(len(NAMES))
    for i, name in enumerate(NAMES):
        d = h * PARAMS[name]
        steps, weights = ((2, 1, -1, -2), (-1, 8, -8, 1)) if points == 5 else ((1, -1), (6, -6))
        total = 0.0
        for step, weight in zip(steps, weights):
            p = dict(PARAMS, **{name: PARAMS[name] + step * d})
            total += weight * sse(solve_scipy(ts, p, method=method, rtol=rtol, atol=atol)[:, 0], obs)
        grad[i] = total / (12 * d)
    return grad


def _df_dp(y, p):
    """(4, 9): the derivative of ``rhs`` w.r.t. the parameters, in ``NAMES`` order."""
    lc, lp, r, rl = y
    d = lc - lp
    out = np.zeros((4, 9))
    out[0, 0] = -lc / p["V1"]
    out[0, 1] = (p["CL"] * lc + p["Q"] * d) / p["V1"] ** 2
    out[0, 2], out[1, 2] = -d / p["V1"], d / p["V2"]
    out[1, 3] = -p["Q"] * d / p["V2"] ** 2
    out[:, 4] = [-lc * r, 0.0, -lc * r, lc * r]
    out[:, 5] = [rl, 0.0, rl, -rl]
    out[3, 6] = -rl
    out[2, 7] = 1.0
    out[2, 8] = -r
    return out


def sensitivity_gradient(obs, *, rtol=REF_RTOL, atol=REF_ATOL) -> np.ndarray:
    """T3's oracle gradient: forward sensitivities ``S' = J S + df/dp`` integrated with the
    states (LSODA, rtol 1e-12, analytic Jacobian of the augmented system), ``S(0) = dy0/dp``
    (R(0) = ksyn/kdeg), and each dose's jump ``dLc = D/V1`` moving ``dLc/dV1`` by ``-D/V1^2``;
    then ``dSSE/dp = 2 sum_i (Lc(t_i) - obs_i) S_Lc(t_i)``. No step sequence is differenced, so
    it is accurate to ~1e-10 relative in every component (finite differences are not: see
    ``fd_gradient``)."""
    from scipy.integrate import solve_ivp
    p = dict(PARAMS)
    ts = observation_times()
    n, m = 4, len(NAMES)

    def f(t, z):
        y, S = z[:n], z[n:].reshape(n, m)
        return np.concatenate([rhs(t, y, p), (jacobian(t, y, p) @ S + _df_dp(y, p)).ravel()])

    z = np.zeros(n + n * m)
    z[:n] = initial_state(p)
    S0 = np.zeros((n, m))
    S0[2, 7], S0[2, 8] = 1.0 / p["kdeg"], -p["ksyn"] / p["kdeg"] ** 2
    z[n:] = S0.ravel()
    edges = [*DOSE_TIMES, HORIZON]
    lc, s_lc = np.empty(ts.size), np.empty((ts.size, m))
    for k, start in enumerate(DOSE_TIMES):
        z[0] += DOSE / p["V1"]
        z[n + 1] += -DOSE / p["V1"] ** 2  # S[0, V1]
        end = edges[k + 1]
        inside = (ts >= start) & (ts < end) if k < len(DOSE_TIMES) - 1 else (ts >= start) & (ts <= end)
        sol = solve_ivp(f, (start, end), z, method="LSODA", rtol=rtol, atol=atol,
                        t_eval=np.unique(np.concatenate([ts[inside], [end]])))
        if not sol.success:
            raise RuntimeError(f"sensitivity oracle failed on [{start}, {end}]: {sol.message}")
        rows = {t: zz for t, zz in zip(sol.t, sol.y.T)}
        for i in np.nonzero(inside)[0]:
            lc[i], s_lc[i] = rows[ts[i]][0], rows[ts[i]][n:].reshape(n, m)[0]
        z = sol.y[:, -1]
    return 2.0 * (lc - obs) @ s_lc


def gradient_error(g, g_ref) -> float:
    """Norm-wise relative error ``max_i |g_i - ref_i| / max_i |ref_i|`` (NaN if not finite)."""
    g, g_ref = np.asarray(g, float), np.asarray(g_ref, float)
    if g.shape != g_ref.shape or not np.all(np.isfinite(g)):
        return float("nan")
    return float(np.max(np.abs(g - g_ref)) / np.max(np.abs(g_ref)))


def worst_component(g, g_ref, names=NAMES) -> tuple[float, str]:
    """The largest component-wise relative error ``|g_i - ref_i| / |ref_i|`` and its name in ``names``."""
    g, g_ref = np.asarray(g, float), np.asarray(g_ref, float)
    if g.shape != g_ref.shape or not np.all(np.isfinite(g)):
        return float("nan"), "?"
    rel = np.abs(g - g_ref) / np.abs(g_ref)
    return float(np.max(rel)), names[int(np.argmax(rel))]


# ----------------------------------------------------------------------------- SBML, as Antimony text
def antimony(p=None, dose_time_parameters=False) -> str:
    """The same model as Antimony text for libRoadRunner and AMICI: the four concentrations are
    species of a unit compartment, so each reaction rate is literally a term of the ODEs above;
    the first dose is the initial value of Lc and the others are events at their times. With
    ``dose_time_parameters`` the times of doses 2-6 are parameters ``t2``..``t6`` of the
    triggers (``at time >= t2``), so that sensitivities w.r.t. them can be asked for (T6)."""
    p = {**PARAMS, **(p or {})}
    lines = ["model tmdd_2cmt", "  compartment cell = 1;", "  species Lc in cell, Lp in cell, R in cell, RL in cell;"]
    lines += [f"  {k} = {v!r};" for k, v in p.items()]
    if dose_time_parameters:
        lines += [f"  t{k} = {t!r};" for k, t in enumerate(DOSE_TIMES[1:], start=2)]
    lines += [f"  dose = {DOSE!r};", "  Lc = dose / V1;", "  Lp = 0;", "  R = ksyn / kdeg;", "  RL = 0;",
              "  elimination: Lc -> ; CL / V1 * Lc",
              "  to_peripheral: Lc -> ; Q / V1 * (Lc - Lp)",
              "  in_peripheral: -> Lp; Q / V2 * (Lc - Lp)",
              "  binding: Lc + R -> RL; kon * Lc * R - koff * RL",
              "  synthesis: -> R; ksyn",
              "  degradation: R -> ; kdeg * R",
              "  internalisation: RL -> ; kint * RL"]
    for k, t in enumerate(DOSE_TIMES[1:], start=2):
        when = f"t{k}" if dose_time_parameters else repr(t)
        lines.append(f"  dose{k}: at time >= {when}: Lc = Lc + dose / V1;")
    lines.append("end")
    return "\n".join(lines) + "\n"
