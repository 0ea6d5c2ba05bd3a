"""ROCK4: Abdulle's fourth-order stabilized explicit Runge-Kutta (Chebyshev) method.

A. Abdulle, "Fourth order Chebyshev methods with recurrence relation", SIAM J. Sci. Comput.
23(6):2041-2054, 2002; the coefficients are those of his ``rock4.f`` (``_rock4_tables``).

Why: an explicit method's step is limited by stability to ``h ≲ β / ρ`` (``ρ`` the spectral
radius of the Jacobian), and Tsit5's ``β ≈ 3.5`` costs 6 evaluations of ``f``, so a mildly
stiff model of many states (a random 500-state network has ``ρ ≈ 60`` over 50 time units)
needs thousands of tiny steps, while a stiff method's dense LU of ``n × n`` is dearer still.
ROCK4 chooses, in each step, the number of stages ``s`` from 5 to 152 so that ``h ρ`` lies in
its stability interval ``[-0.353 s² + 3, 0]``: its steps are as long as accuracy allows and
their cost grows only as ``sqrt(h ρ)``. No Jacobian, no linear algebra: for large models the
step loop is plain vector code.

One step of size ``h`` from ``(t_n, y_n)`` with ``m = s - 4``
(``μ_i, κ_i`` from ``RECF``; a three-term recurrence of orthogonal polynomials):

.. math::

    u_1 = y_n + h μ_1 f(t_n, y_n), \\qquad
    u_i = h μ_i f(t_{i-1}, u_{i-1}) + (1 + κ_i) u_{i-1} - κ_i u_{i-2} \\quad (i = 2..m)

then a four-stage explicit finishing procedure from ``u_m`` (``FPA``, weights ``FPB``) gives
``y_{n+1}``, and an embedded third-order solution (``FPBE``, which also uses
``f(t_{n+1}, y_{n+1})``, the next step's first evaluation) the error estimate. The step's
stability polynomial is ``R(z) = P_m(z) w(z)`` with ``w`` the finishing procedure's quartic;
``R(z) = e^z + O(z^5)`` for every degree (tests/test_rock4.py checks all 50).

The spectral radius is estimated as in Abdulle's code by a nonlinear power method: ``J v`` by
a forward difference of ``f`` (one evaluation per step, every second step inside
``"auto"``; warm-started from the last vector; ``POWER_WARMUP`` iterations at the start of each
call; a rejected step's estimate is kept if larger), times a safety factor 1.2.
Dense output is the cubic Hermite interpolant of ``y`` and ``f`` at the step's ends (local
error ``O(h^4)``, used only for dense outputs and event location).
"""

from __future__ import annotations

import equinox.internal as eqxi
import jax.numpy as jnp
from jax import lax

from . import _rock4_tables as tables
from . import rosenbrock
from .rosenbrock import StateEvents

_sg = lax.stop_gradient

MAX_STAGES = int(tables.MS[-1]) + 4  # 152
SAFETY_RHO = 1.2  # the power method underestimates ρ: Abdulle's factor
POWER_WARMUP = 12  # power iterations before the first step of a call
_BETA = 0.353  # the stability interval of s stages is about [-(0.353 s² - 3), 0]
#: h ρ (ρ with the safety factor) that Abdulle's code lets the 152-stage member take
_LONGEST_REACH = 0.8 * (_BETA * MAX_STAGES ** 2 - 3.0)
#: the same for the raw estimate of ρ (the switching rules of ``rosenbrock.integrate_auto``)
REACH = _LONGEST_REACH / SAFETY_RHO


def _stages_for(h_rho):
    """Abdulle's ``mdegre``: the fewest stages whose interval holds ``h ρ``, before tabulation."""
    return jnp.floor(jnp.sqrt((3.0 + h_rho) / _BETA)) + 1.0


def degree_index(h, rho):
    """Index ``k`` into the tables of the fewest stages whose stability interval holds ``h ρ``
    (Abdulle's ``mdegre``): ``s = floor(sqrt((3 + h ρ) / 0.353)) + 1``, ``m = max(s, 5) - 4``,
    then the first tabulated ``MS[k] >= m`` (the last if none: see :func:`stable_step`).

    Example:
        >>> int(degree_index(0.1, 10.0)), int(degree_index(10.0, 1e3))   # 5 and 170 stages
        (0, 49)
    """
    m = jnp.maximum(_stages_for(h * rho), 5.0) - 4.0
    ms = jnp.asarray(tables.MS, jnp.int32)  # (numpy at module level: importing starts no JAX backend)
    k = jnp.searchsorted(ms, jnp.minimum(m, float(tables.MS[-1])).astype(jnp.int32), side="left")
    return jnp.minimum(k, len(tables.MS) - 1)


def stages(h, rho):
    """The number of stages ``s = MS[k] + 4`` of the step :func:`step` takes for ``h`` and ``rho``.

    Example:
        >>> int(stages(0.1, 60.0)), int(stages(1.0, 1e3)), int(stages(1e3, 1e3))   # h rho = 6, 1e3, 1e6
        (6, 54, 152)
    """
    return jnp.asarray(tables.MS, jnp.int32)[degree_index(h, rho)] + 4


def stable_step(rho):
    """The longest step the 152-stage member keeps stable for spectral radius ``rho``
    (``0.8 (0.353 · 152² - 3) / ρ``, Abdulle's cut when ``h ρ`` is beyond every degree).

    Example:
        >>> round(float(stable_step(1e4)), 3)
        0.652
    """
    return _LONGEST_REACH / rho


def step_cap(rho):
    """The step cap for the raw estimate ``rho`` (:func:`stable_step` of ``1.2 rho``; none for 0).

    Example:
        >>> round(float(step_cap(1e4)), 3), bool(step_cap(0.0) > 1e300)
        (0.544, True)
    """
    return stable_step(SAFETY_RHO * jnp.maximum(rho, 1e-300))


def evaluations(h, rho):
    """Evaluations of f that ROCK4 needs to cover a step of size ``h`` at the raw spectral radius
    estimate ``rho`` (stability alone): one step of ``s(1.2 h rho)`` stages (``s`` evaluations
    with the FSAL one) and half a power-method step, or, beyond the longest member's reach,
    that many steps of 152 stages.

    Example:
        >>> float(evaluations(0.1, 60.0)), round(float(evaluations(1.0, 1e5)), 1)
        (6.5, 2805.8)
    """
    hr = h * rho
    one_step = jnp.maximum(_stages_for(SAFETY_RHO * hr), 5.0) + 0.5
    return jnp.where(h <= stable_step(SAFETY_RHO * rho), one_step, hr / REACH * 152.5)


def step(f, t, y, h, args, f0, rho, loop_kind: str = "lax"):
    """One ROCK4 step; returns ``(y_new, error_estimate, f(t + h, y_new), dense)``.

    ``f0 = f(t, y)``; ``rho`` the spectral radius estimate (safety factor included) that picks
    the degree. ``loop_kind`` is the recurrence loop's ``equinox.internal.while_loop`` kind
    (``"checkpointed"`` keeps it reverse-differentiable).

    Example (y' = -y, one step of 0.1 against e^-0.1; a stiff mode ``rho = 50`` picks 6 stages,
    which damp it, |R(-5)| < 1, without resolving it):
        >>> import jax.numpy as jnp
        >>> f = lambda t, y, k: -k * y
        >>> y1, err, f1, _ = step(f, 0.0, jnp.ones(1), 0.1, 1.0, -jnp.ones(1), 50.0)
        >>> abs(float(y1[0]) - float(jnp.exp(-0.1))) < 1e-7, abs(float(err[0])) < 1e-6   # O(h^5), O(h^4)
        (True, True)
    """
    k = degree_index(_sg(h), _sg(rho))
    m, start = jnp.asarray(tables.MS, jnp.int32)[k], jnp.asarray(tables.RECF_START, jnp.int32)[k]
    recf = jnp.asarray(tables.RECF, y.dtype)
    mu1 = recf[start]
    u1 = y + (h * mu1) * f0
    t1 = t + h * mu1

    def body(carry):
        i, u_prev2, u_prev1, t_prev2, t_prev1 = carry
        mu, kappa = recf[start + 2 * (i - 2) + 1], recf[start + 2 * (i - 2) + 2]
        u = (h * mu) * f(t_prev1, u_prev1, args) + (1.0 + kappa) * u_prev1 - kappa * u_prev2
        t_i = h * mu + (1.0 + kappa) * t_prev1 - kappa * t_prev2
        return i + 1, u_prev1, u, t_prev1, t_i

    _, _, u, _, t_m = eqxi.while_loop(lambda c: c[0] <= m, body, (jnp.asarray(2, jnp.int32), y, u1, t, t1),
                                      max_steps=int(tables.MS[-1]), kind=loop_kind)
    fpa = jnp.asarray(tables.FPA, y.dtype)[k]
    b = jnp.asarray(tables.FPB, y.dtype)[k]
    bhat = jnp.asarray(tables.FPBE, y.dtype)[k]
    a21, a31, a32, a41, a42, a43 = (fpa[i] for i in range(6))
    if y.shape[0] >= rosenbrock.STAGE_LOOP_MIN_STATES:
        # the four finishing stages and the FSAL evaluation in one loop: one traced evaluation
        # of f instead of five (compile time; the same arithmetic up to rounding)
        zero = jnp.zeros((), y.dtype)
        a = jnp.stack([jnp.stack([zero, zero, zero, zero]), jnp.stack([a21, zero, zero, zero]),
                       jnp.stack([a31, a32, zero, zero]), jnp.stack([a41, a42, a43, zero]), b])
        times = jnp.stack([t_m, t_m + h * a21, t_m + h * (a31 + a32), t_m + h * (a41 + a42 + a43), t + h])

        def stage(j, ks):
            arg = u + h * jnp.sum(a[j][:, None] * ks[:4], axis=0)
            return ks.at[j].set(f(times[j], arg, args))
        ks = lax.fori_loop(0, 5, stage, jnp.zeros((5,) + y.shape, y.dtype))
        k1, k2, k3, k4, k5 = (ks[i] for i in range(5))
        y_new = u + h * jnp.sum(b[:, None] * ks[:4], axis=0)
    else:
        k1 = f(t_m, u, args)
        k2 = f(t_m + h * a21, u + (h * a21) * k1, args)
        k3 = f(t_m + h * (a31 + a32), u + h * (a31 * k1 + a32 * k2), args)
        k4 = f(t_m + h * (a41 + a42 + a43), u + h * (a41 * k1 + a42 * k2 + a43 * k3), args)
        y_new = u + h * (b[0] * k1 + b[1] * k2 + b[2] * k3 + b[3] * k4)
        k5 = f(t + h, y_new, args)
    error = h * ((bhat[0] - b[0]) * k1 + (bhat[1] - b[1]) * k2 + (bhat[2] - b[2]) * k3
                 + (bhat[3] - b[3]) * k4 + bhat[4] * k5)
    dense = jnp.stack([y, y_new, h * f0, h * k5])
    return y_new, error, k5, dense


def interpolate(dense, theta):
    """Cubic Hermite interpolant on the step: ``y(t + θ h)`` from ``y_n, y_{n+1}, h f_n, h f_{n+1}``:

    .. math:: y(θ) = (2θ^3 - 3θ^2 + 1) y_n + (θ^3 - 2θ^2 + θ) h f_n + (3θ^2 - 2θ^3) y_{n+1} + (θ^3 - θ^2) h f_{n+1}

    Example (exact for a cubic: y = t³ on [0, 1] at θ = 0.5):
        >>> import jax.numpy as jnp
        >>> dense = jnp.array([[0.0], [1.0], [0.0], [3.0]])
        >>> float(interpolate(dense, jnp.array([0.5]))[0, 0])
        0.125
    """
    y0, y1, hf0, hf1 = dense
    th = theta[:, None]
    th2, th3 = th * th, th * th * th
    return ((2 * th3 - 3 * th2 + 1) * y0 + (th3 - 2 * th2 + th) * hf0
            + (-2 * th3 + 3 * th2) * y1 + (th3 - th2) * hf1)


def power_step(f, t, y, fy, args, probe):
    """One step of the nonlinear power method for ρ at ``(t, y)`` (``fy = f(t, y)``):
    ``(|J v|, J v / |J v|)`` for the unit-RMS ``probe`` v (``rosenbrock._power_step``, which
    Tsit5's stiffness probe uses too).

    Example (y' = A y, A = diag(-1, -100): from an even vector the estimate moves toward 100):
        >>> import jax.numpy as jnp
        >>> f = lambda t, y, a: a * y
        >>> a, y = jnp.array([-1.0, -100.0]), jnp.ones(2)
        >>> rho, v = power_step(f, 0.0, y, f(0.0, y, a), a, jnp.ones(2))
        >>> round(float(rho), 1)
        70.7
    """
    return rosenbrock._power_step(f, t, y, fy, args, probe, rosenbrock._rms(_sg(y)))


def warm_up(f, t, y, fy, args, rho, probe):
    """``POWER_WARMUP`` steps of :func:`power_step` from ``probe`` (``rho`` is returned as is if
    there are none): the estimate a call's first step chooses its stage count from.

    Example (as for :func:`power_step`: after 12 steps the dominant mode, 100):
        >>> import jax.numpy as jnp
        >>> f = lambda t, y, a: a * y
        >>> a, y = jnp.array([-1.0, -100.0]), jnp.ones(2)
        >>> rho, v = warm_up(f, 0.0, y, f(0.0, y, a), a, jnp.zeros(()), jnp.ones(2))
        >>> round(float(rho), 3)
        100.0
    """
    return lax.fori_loop(0, POWER_WARMUP, lambda _, carry: power_step(f, t, y, fy, args, carry[1]), (rho, probe))


def integrate(f, jac, t0, t1, y0, args, *, rtol, atol, dt0, max_steps: int, differentiable: str = "reverse",
              outputs=None, out=None, dense_output: bool = True, events: StateEvents | None = None):
    """Integrate ``y' = f(t, y, args)`` from ``t0`` to ``t1`` with ROCK4; the interface and
    results of :func:`qsp.simulate.rosenbrock.integrate` (``jac`` is not used).

    The controller is the shared one (:func:`rosenbrock._drive`) with the exponent 1/4 of the
    embedded third-order estimate, and each step is capped by :func:`stable_step`.

    Example (a mildly stiff linear chain, fastest rate 300, against its exact solution):
        >>> import jax.numpy as jnp, numpy as np, scipy.linalg
        >>> k = jnp.geomspace(0.5, 300.0, 20)
        >>> f = lambda t, y, k: jnp.concatenate([jnp.zeros(1), k[:-1] * y[:-1]]) - k * y
        >>> y1, h, n, ok = integrate(f, None, 0.0, 5.0, jnp.ones(20), k, rtol=1e-8, atol=1e-10,
        ...                          dt0=jnp.array(-1.0), max_steps=10_000, differentiable="none")
        >>> a = np.diag(-np.asarray(k)) + np.diag(np.asarray(k)[:-1], -1)
        >>> bool(ok), bool(np.allclose(y1, scipy.linalg.expm(5.0 * a) @ np.ones(20), rtol=1e-6))
        (True, True)
    """
    y0 = jnp.asarray(y0)
    dtype = jnp.result_type(y0, float)
    y0 = y0.astype(dtype)
    loop_kind = "checkpointed" if differentiable == "reverse" else "lax"

    def aux_init(f_start):
        rho, probe = warm_up(f, t0, y0, f_start, args, jnp.zeros((), dtype),
                             rosenbrock._initial_probe(y0.shape[0], dtype))
        return f_start, probe, rho

    def rock_step(t, y, h, aux):
        f0, probe, rho = aux
        y_new, error, f_new, dense = step(f, t, y, h, args, f0, SAFETY_RHO * rho, loop_kind)
        rho_new, probe_new = power_step(f, t + h, y_new, f_new, args, probe)
        return y_new, error, (f_new, probe_new, rho_new), dense

    def refresh(t, y, aux):  # after a model event: the new state's derivative, same probe
        return f(t, y, args), aux[1], aux[2]

    return rosenbrock._drive(rock_step, interpolate, f, t0, t1, y0, args, rtol, atol, dt0, max_steps,
                             differentiable, fsal=True, outputs=outputs, out=out, dense_output=dense_output,
                             events=events, aux_init=aux_init, refresh=refresh, exponent=0.25,
                             # a rejected step may have met a mode the estimate had missed: keep it
                             on_reject=lambda new, old: (old[0], new[1], jnp.maximum(old[2], new[2])),
                             h_limit=lambda aux: step_cap(aux[2]))
