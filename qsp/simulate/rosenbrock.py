"""Lean pure-JAX adaptive integrators for (stiff) ODE systems, small and large.

``integrate``          8-stage Rosenbrock method of order 5 with an embedded order-4 error
                       estimate, L-stable and stiffly accurate: Rodas5P (Steinebach 2023, the
                       default) or Rodas5 (Di Marzo 1993; Hairer & Wanner's RODAS5(4)).
``integrate_explicit`` Tsitouras 5(4) ("Tsit5") explicit Runge-Kutta pair, for non-stiff models.
``integrate_auto``     Tsit5 and Rodas5P with automatic switching by stiffness and cost (large
                       models, where a stiff step's LU is expensive), optionally with ROCK4
                       (:mod:`qsp.simulate.rock4`, which runs on this module's ``_drive``)
                       between them.

All share the signature ``(f, jac, t0, t1, y0, args, *, rtol, atol, dt0, max_steps,
differentiable)`` and return ``(y1, dt_next, n_steps, ok)``. They are written for the segment
loop of the simulator: many short intervals integrated one after the other inside a
``lax.scan``. ``dt_next`` is the step-size proposal to pass as ``dt0`` of the next call, so
the controller's state survives across calls and no call pays a restart.

Design notes
------------
* State ``y`` is a 1-D float array of static length ``n``; ``jac(t, y, args)`` returns the
  exact ``(n, n)`` Jacobian ``df/dy`` (evaluated once per step, at ``(t_n, y_n)``).
* Rosenbrock stages, in the "W-transformed" form with Hairer's C matrix so that each stage
  costs one solve with the same matrix ``W = I/(gamma h) - J``:

      W k_i = f(t + c_i h, y + sum_j a_ij k_j) + sum_j (C_ij / h) k_j + h d_i f_t,

  ``y_{n+1} = y + sum_j a_8j k_j + k_8`` (the last stage value) and the error estimate is
  ``k_8``, as in Hairer's RODAS.
* Why Rodas5P rather than Rodas5 (the default of ``integrate``, and ``integrate_auto``'s stiff
  method): Rodas5's embedded estimate vanishes identically when a component's derivative
  depends on t only, so its step control fails on (near-)quadratures (measured:
  y' = cos 2t over [0, 10] ends after 5 steps with an error of 15; on the forced decay
  y' = -0.1 (y - cos 2t) at rtol 1e-6 its error is 1.9e-6 against Rodas5P's 5e-9, and at
  k = 100 it needs 305 steps against 115). Rodas5P was constructed to fix this, and took
  fewer steps on the forced and TMDD problems at rtol <= 1e-8 (more at 1e-6 on mildly stiff
  TMDD: 163 vs 116 steps). Same cost per step; ``method="rodas5"`` selects the original.
* The non-autonomous term ``f_t = df/dt(t_n, y_n)`` comes from ``jax.jvp`` of ``f`` in ``t``:
  it is exact (no difference increment to tune, no cancellation when ``f`` is large and its
  time dependence small) and the same call returns ``f(t_n, y_n)``, which stage 1 needs anyway,
  so the marginal cost is one tangent pass through ``f``. For an autonomous ``f`` the tangent
  is identically zero and XLA folds it away.
* Large models (``STAGE_LOOP_MIN_STATES`` states or more) run the stages of a step in a
  ``lax.fori_loop`` rather than unrolled: one traced evaluation of ``f`` instead of 7-8, so
  compile time stops growing with the stage count.
* Linear algebra: one factorisation per step, reused for all 8 stages (``_make_solver``):
  ``W^{-1}`` is formed once and every stage solve is a fused mat-vec. For n <= 4 without AD the
  inverse is an unrolled Gauss-Jordan elimination with partial pivoting (pure element-wise
  scalar code, no LAPACK call; measured ~10% faster per step unbatched and ~30% under vmap than
  ``jnp.linalg.inv``); otherwise LAPACK's inverse up to n = 12 and ``lu_factor``/``lu_solve``
  above; ``lu_solve`` per stage was 3-4x slower per step at n = 4. When the whole step loop can
  compile into one native function (``native_loop``: a straight-line model of up to 16 states,
  unbatched, ``qsp._small_loops`` in effect), LAPACK calls would prevent that, so the inverse is
  elimination in plain XLA operations: unrolled up to n = 4 and a ``fori_loop`` above, in every
  differentiation mode. The solve is wrapped in ``lax.custom_linear_solve`` so that AD
  differentiates ``W x = b`` (reusing the inverse for the tangent/cotangent solves) instead of
  the elimination.
* Step-size control (Hairer): ``err = RMS(k_8 / (atol + rtol max(|y_n|, |y_{n+1}|)))``; accept
  when ``err <= 1``; ``h <- h min(6, max(0.2, 0.9 err^{-1/5}))``, with no increase right after
  a rejection. A step that produces non-finite values is rejected with ``h <- 0.2 h``. The loop
  gives up (``ok = False``) when ``h`` no longer changes ``t`` or after 50 consecutive
  rejections. The last step is clipped to land exactly on ``t1``; after such a clipped step the
  returned proposal is the controller's previous unclipped proposal unless the clipped step's
  own error says that is too large, so a short interval (a dose just before an observation)
  does not shrink the step carried into the next interval.
* Differentiation: the controller (error norm, accept/reject, step-size proposals) is under
  ``lax.stop_gradient``. Derivatives are those of the discrete map for the step sequence
  actually taken (discretise-then-differentiate, as diffrax does), which converge to the exact
  sensitivities as the tolerances tighten. The last step's length ``t1 - t`` is *not* stopped, so
  ``d y1 / d t1`` is (to the method's accuracy) ``f(t1, y1)`` (but 0 when ``t1 == t0``: no step
  is taken). ``differentiable="reverse"`` uses ``equinox.internal.while_loop(kind=
  "checkpointed")`` (reverse mode only; O(sqrt(max_steps)) checkpoints, so reverse-mode cost and
  memory per call grow with ``max_steps``: keep it modest per segment); ``"forward"`` and
  ``"none"`` use ``kind="lax"`` (forward mode ``jvp``/``jacfwd``; no reverse mode).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import equinox.internal as eqxi
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

__all__ = ["integrate", "integrate_explicit", "integrate_auto", "AutoState", "StateEvents"]

# ----------------------------------------------------------------------------- Rosenbrock tableaus
# W-transformed coefficients (Hairer & Wanner's C-matrix form). Per method: gamma; ``a`` rows
# (stage arguments), ``C`` rows (stage couplings, divided by h in the stage equation), ``c``
# (stage times) and ``d`` (coefficients of h f_t), for stages 1..8. Both methods are stiffly
# accurate with c_6 = c_7 = c_8 = 1 and d_6 = d_7 = d_8 = 0; rows 7 and 8 of ``a`` are row 6
# plus ones (u_7 = u_6 + k_6, u_8 = u_7 + k_7, y_{n+1} = u_8 + k_8, error estimate k_8).


def _stiffly_accurate_a(rows_2_to_6):
    a6 = rows_2_to_6[-1]
    return ((),) + tuple(rows_2_to_6) + (a6 + (1.0,), a6 + (1.0, 1.0))


# Rodas5: Di Marzo (1993), "RODAS5(4) -- Methodes de Rosenbrock d'ordre 5(4) adaptees aux
# problemes differentiels-algebriques", MSc thesis, Univ. Geneva; Hairer & Wanner (1996).
_RODAS5 = dict(
    gamma=0.19,
    a=_stiffly_accurate_a((
        (2.0,),
        (3.040894194418781, 1.041747909077569),
        (2.576417536461461, 1.62208306077664, -0.9089668560264532),
        (2.760842080225597, 1.446624659844071, -0.3036980084553738, 0.2877498600325443),
        (-14.09640773051259, 6.925207756232704, -41.47510893210728, 2.343771018586405, 24.13215229196062),
    )),
    C=(
        (),
        (-10.31323885133993,),
        (-21.04823117650003, -7.234992135176716),
        (32.22751541853323, -4.943732386540191, 19.44922031041879),
        (-20.69865579590063, -8.816374604402768, 1.260436877740897, -0.7495647613787146),
        (-46.22004352711257, -17.49534862857472, -289.6389582892057, 93.60855400400906, 318.3822534212147),
        (34.20013733472935, -14.1553540271769, 57.823356409884, 25.83362985412365, 1.408950972071624,
         -6.551835421242162),
        (42.57076742291101, -13.80770672017997, 93.98938432427124, 18.77919633714503, -31.5835918722337,
         -6.685968952921985, -5.810979938412932),
    ),
    c=(0.0, 0.38, 0.3878509998321533, 0.483971893787384, 0.457047700881958, 1.0, 1.0, 1.0),
    d=(0.19, -0.1823079225333714636, -0.319231832186874912, 0.3449828624725343, -0.377417564392089818,
       0.0, 0.0, 0.0),
    # dense output (see _rosenbrock_interpolate): K_r = sum_j H[r][j] k_j
    H=(
        (27.354592673333357, -6.925207756232857, 26.40037733258859, 0.5635230501052979, -4.699151156849391,
         -1.6008677469422725, -1.5306074446748028, -1.3929872940716344),
        (44.19024239501722, 1.3677947663381929e-13, 202.93261852171622, -35.5669339789154, -181.91095152160645,
         3.4116351403665033, 2.5793540257308067, 2.2435122582734066),
        (-44.0988150021747, -5.755396159656812e-13, -181.26175034586677, 56.99302194811676, 183.21182741427398,
         -7.480257918273637, -5.792426076169686, -5.32503859794143),
    ),
)

# Rodas5P: Steinebach (2023), "Construction of Rosenbrock-Wanner method Rodas5P and numerical
# benchmarks within the Julia Differential Equations package", BIT Numer. Math. 63:27.
_RODAS5P = dict(
    gamma=0.21193756319429014,
    a=_stiffly_accurate_a((
        (3.0,),
        (2.849394379747939, 0.45842242204463923),
        (-6.954028509809101, 2.489845061869568, -10.358996098473584),
        (2.8029986275628964, 0.5072464736228206, -0.3988312541770524, -0.04721187230404641),
        (-7.502846399306121, 2.561846144803919, -11.627539656261098, -0.18268767659942256,
         0.030198172008377946),
    )),
    C=(
        (),
        (-14.155112264123755,),
        (-17.97296035885952, -2.859693295451294),
        (147.12150275711716, -1.41221402718213, 71.68940251302358),
        (165.43517024871676, -0.4592823456491126, 42.90938336958603, -5.961986721573306),
        (24.854864614690072, -3.0009227002832186, 47.4931110020768, 5.5814197821558125, -0.6610691825249471),
        (30.91273214028599, -3.1208243349937974, 77.79954646070892, 34.28646028294783, -19.097331116725623,
         -28.087943162872662),
        (37.80277123390563, -3.2571969029072276, 112.26918849496327, 66.9347231244047, -40.06618937091002,
         -54.66780262877968, -9.48861652309627),
    ),
    c=(0.0, 0.6358126895828704, 0.4095798393397535, 0.9769306725060716, 0.4288403609558664, 1.0, 1.0, 1.0),
    d=(0.21193756319429014, -0.42387512638858027, -0.3384627126235924, 1.8046452872882734, 2.325825639765069,
       0.0, 0.0, 0.0),
    H=(
        (25.948786856663858, -2.5579724845846235, 10.433815404888879, -2.3679251022685204, 0.524948541321073,
         1.1241088310450404, 0.4272876194431874, -0.17202221070155493),
        (-9.91568850695171, -0.9689944594115154, 3.0438037242978453, -24.495224566215796, 20.176138334709044,
         15.98066361424651, -6.789040303419874, -6.710236069923372),
        (11.419903575922262, 2.8879645146136994, 72.92137995996029, 80.12511834622643, -52.072871366152654,
         -59.78993625266729, -0.15582684282751913, 4.883087185713722),
    ),
)

_TABLEAUS = {"rodas5": _RODAS5, "rodas5p": _RODAS5P}

# ----------------------------------------------------------------------------- Tsit5 tableau
# Tsitouras (2011), "Runge-Kutta pairs of order 5(4) satisfying only the first column
# simplifying assumption", Comput. Math. Appl. 62, 770-775. FSAL: the 7th stage is f(t+h, y_{n+1}).
_T5_CT = (0.0, 0.161, 0.327, 0.9, 0.9800255409045097, 1.0, 1.0)
_T5_A = (
    (),
    (0.161,),
    (-0.008480655492356989, 0.335480655492357),
    (2.897153057105493, -6.359448489975075, 4.3622954328695815),
    (5.325864828439257, -11.748883564062828, 7.4955393428898365, -0.09249506636175525),
    (5.86145544294642, -12.92096931784711, 8.159367898576159, -0.071584973281401, -0.028269050394068383),
    (0.09646076681806523, 0.01, 0.4798896504144996, 1.379008574103742, -3.290069515436081, 2.324710524099774),
)
# b - b_hat (the 5th-order weights are row 7 of a; b7 = 0)
_T5_E = (
    0.09646076681806523 - 0.09468075576583945,
    0.01 - 0.009183565540343254,
    0.4798896504144996 - 0.4877705284247616,
    1.379008574103742 - 1.234297566930479,
    -3.290069515436081 + 2.7077123499835256,
    2.324710524099774 - 1.866628418170587,
    -1.0 / 66.0,
)

# ----------------------------------------------------------------------------- controller
_SAFETY = 0.9
_FACMIN = 0.2
_FACMAX = 6.0
_EXPONENT = 1.0 / 5.0  # 1 / (embedded order + 1) for both pairs
_MAX_REJECTIONS = 50  # consecutive rejections before giving up (ok = False)
_UNROLLED_N = 4  # scalar-unrolled Gauss-Jordan up to this size
_SMALL_N = 12  # explicit inverse (LAPACK getrf+getri) up to this size, LAPACK LU solves above
_LOOPED_N = 16  # LAPACK-free looped elimination up to this size in a natively compiled loop

_sg = lax.stop_gradient


def _lincomb(coeffs, vecs, scale=None):
    """sum_j coeffs[j] * vecs[j] for static Python-float coefficients (zeros skipped)."""
    out = None
    for c, v in zip(coeffs, vecs):
        if c == 0.0:
            continue
        term = (c * v) if scale is None else (c * scale) * v
        out = term if out is None else out + term
    return out


# ----------------------------------------------------------------------------- linear solves
def _gj_inverse_unrolled(a):
    """Inverse of a small (n, n) matrix by Gauss-Jordan elimination with partial pivoting,
    fully unrolled into scalar operations (static n).

    At column k the pivot is the row (among k..n-1) with the largest |a_ik|, found by a
    tournament on scalars; it is swapped into row k with selects, normalised, and column k is
    eliminated from every other row. Only element-wise scalar ops: XLA fuses them into a few
    kernels and ``vmap`` turns them into plain vector code. Fast for n <= 4; for larger n the
    unrolled graph grows as n^3 and XLA's CPU fusion degrades badly (measured: slower than
    LAPACK at n = 6 and pathological under vmap), so ``_make_solver`` uses it only up to
    ``_UNROLLED_N``.
    """
    n = a.shape[-1]
    one = jnp.ones((), a.dtype)
    zero = jnp.zeros((), a.dtype)
    rows = [[a[i, j] for j in range(n)] + [one if j == i else zero for j in range(n)] for i in range(n)]
    for k in range(n):
        best = jnp.asarray(k)
        best_abs = jnp.abs(rows[k][k])
        for i in range(k + 1, n):
            v = jnp.abs(rows[i][k])
            better = v > best_abs
            best = jnp.where(better, i, best)
            best_abs = jnp.where(better, v, best_abs)
        pivot_row, old_k = rows[k], rows[k]
        for i in range(k + 1, n):
            sel = best == i
            pivot_row = [jnp.where(sel, x, y) for x, y in zip(rows[i], pivot_row)]
            rows[i] = [jnp.where(sel, y, x) for x, y in zip(rows[i], old_k)]
        inv_p = 1.0 / pivot_row[k]
        rk = [x * inv_p for x in pivot_row]
        rows[k] = rk
        for i in range(n):
            if i != k:
                lik = rows[i][k]
                rows[i] = [x if j <= k else x - lik * y for j, (x, y) in enumerate(zip(rows[i], rk))]
    return jnp.stack([jnp.stack(r[n:]) for r in rows])


def _gj_inverse_looped(a):
    """Inverse of a small (n, n) matrix by Gauss-Jordan elimination with partial pivoting, one
    ``lax.fori_loop`` iteration per column, in plain XLA operations (no LAPACK custom call).

    Why it exists: XLA:CPU compiles a while loop that contains no custom call and touches few
    bytes into one native function (:mod:`qsp._small_loops`), which removes the per-kernel
    dispatch cost of every operation in the loop body. A LAPACK call inside an integrator's
    step loop rules that out for the whole loop; this elimination does not.
    """
    n = a.shape[-1]
    rows = jnp.arange(n)
    m = jnp.concatenate([a, jnp.eye(n, dtype=a.dtype)], axis=1)

    def column(k, m):
        p = jnp.argmax(jnp.where(rows >= k, jnp.abs(m[:, k]), -1.0))
        row_k, row_p = m[k], m[p]
        m = m.at[p].set(row_k).at[k].set(row_p)
        pivot_row = row_p / row_p[k]
        m = m - m[:, k][:, None] * pivot_row[None, :]
        return m.at[k].set(pivot_row)

    return lax.fori_loop(0, n, column, m)[:, n:]


def _make_solver(w, linsolve: str):
    """A function b -> W^{-1} b, factorising W once.

    The solve is a ``lax.custom_linear_solve``: derivatives are taken through ``W x = b``
    (tangent/cotangent solves reuse the same factorisation) rather than through the
    elimination itself, which halves AD run time and shrinks the differentiated graph.
    """
    matvec = lambda x: jnp.sum(w * x[None, :], axis=1)
    if linsolve in ("unrolled", "looped", "inv"):
        inverse = {"unrolled": _gj_inverse_unrolled, "looped": _gj_inverse_looped, "inv": jnp.linalg.inv}[linsolve]
        winv = _sg(inverse(w))
        solve = lambda _, b: jnp.sum(winv * b[None, :], axis=1)
        transpose_solve = lambda _, b: jnp.sum(winv * b[:, None], axis=0)
    elif linsolve == "lu":
        lu_piv = _sg(jax.scipy.linalg.lu_factor(w))
        solve = lambda _, b: jax.scipy.linalg.lu_solve(lu_piv, b)
        transpose_solve = lambda _, b: jax.scipy.linalg.lu_solve(lu_piv, b, trans=1)
    else:
        raise ValueError(f"unknown linsolve {linsolve!r}")
    return lambda b: lax.custom_linear_solve(matvec, b, solve, transpose_solve)


def _choose_linsolve(n: int, differentiable: str, batched: bool = False, native_loop: bool = False) -> str:
    """Measured on CPU (TMDD, n = 4; synthetic chains, n = 4..12): the unrolled inverse is the
    fastest for n <= 4 without AD (about 10% unbatched, 30% under vmap); with AD its unrolled
    graph compiles 1.5-2x slower and is not faster, so LAPACK's inverse is used there. Explicit
    inverse + fused mat-vecs beat ``lu_factor``/``lu_solve`` (one custom call per stage) up to
    n = 12.

    ``batched`` (many subjects in lockstep under ``vmap``, :func:`qsp.simulate_population`):
    LAPACK's batched 4x4 inverse is slow there (measured, 1024 TMDD patients: 22% of the run in
    ``getrf``/``trsm``), so the unrolled inverse is used unless forward-mode tangents are asked
    for (T2 1024 patients: 794 -> 633 ms; compile +0.8 s; unbatched there is no difference).

    ``native_loop``: the step loop can be compiled into one native function (``qsp._small_loops``:
    a small model with a straight-line right-hand side, unbatched, the option in effect; the
    caller decides), which a LAPACK call would prevent. Then the inverse is elimination in plain XLA operations, unrolled
    up to ``_UNROLLED_N`` and looped above, in every differentiation mode. Measured (2-core CPU):
    TMDD ``jax.grad`` 28 -> 2.3 ms; 8-state network, plain 1.7 -> 0.74 ms, reverse mode 14 -> 3.5 ms
    (the looped elimination *without* native compilation is 2x slower than LAPACK). Up to
    ``_LOOPED_N`` = 16 states, the largest with a straight-line right-hand side: a 16-state
    straight-line network took 2.3 ms natively against 8.9 ms with LAPACK's LU."""
    if native_loop and n <= _LOOPED_N:
        return "unrolled" if n <= _UNROLLED_N else "looped"
    if n <= _UNROLLED_N and (differentiable == "none" or (batched and differentiable != "forward")):
        return "unrolled"
    return "inv" if n <= _SMALL_N else "lu"


# ----------------------------------------------------------------------------- steps
#: From this many states on, the stages of a step run in a ``lax.fori_loop`` (one evaluation of
#: f traced instead of one per stage) rather than unrolled. The loop's bookkeeping costs a few
#: kernel launches per stage, which only small models notice, while a large model compiles
#: faster. Measured (random mass-action networks, ``"auto"``, jitted, 2-core CPU): first call
#: (tracing + XLA + run) 4.35 -> 3.51 s at 500 states and 3.34 -> 2.72 s at 100; per
#: simulation unchanged (74 vs 76 ms at 500, 12.0 vs 12.0 ms at 100).
STAGE_LOOP_MIN_STATES = 32


def _square(rows, size: int):
    """Ragged coefficient rows as a (size, size) numpy array (zeros elsewhere)."""
    out = np.zeros((size, size))
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


def _rosenbrock_step(tab, f, jac, t, y, h, args, linsolve, with_jacobian=False):
    """One Rodas5/Rodas5P step of size h from (t, y); returns (y_new, error_estimate, dense)
    with ``dense`` the data of the step's interpolant (:func:`_rosenbrock_interpolate`), and
    with ``with_jacobian`` also the Jacobian at (t, y). From ``STAGE_LOOP_MIN_STATES`` states
    the stages run in a ``lax.fori_loop`` (the same arithmetic, up to rounding)."""
    f0, ft = jax.jvp(lambda tt: f(tt, y, args), (t,), (jnp.ones_like(t),))
    jmat = jac(t, y, args)
    n = y.shape[0]
    w = jnp.eye(n, dtype=y.dtype) / (tab["gamma"] * h) - jmat
    solve = _make_solver(w, _choose_linsolve(n, "none") if linsolve == "auto" else linsolve)
    inv_h = 1.0 / h
    if n >= STAGE_LOOP_MIN_STATES:
        a, c_mat = jnp.asarray(_square(tab["a"], 8)), jnp.asarray(_square(tab["C"], 8))
        c, d = jnp.asarray(tab["c"]), jnp.asarray(tab["d"])

        def stage(i, ks):
            u = y + a[i] @ ks
            rhs = f(t + c[i] * h, u, args) + (c_mat[i] @ ks) * inv_h + (d[i] * h) * ft
            return ks.at[i].set(solve(rhs))

        stages = jnp.zeros((8, n), y.dtype).at[0].set(solve(f0 + (tab["d"][0] * h) * ft))
        stages = lax.fori_loop(1, 8, stage, stages)
        y_new = y + a[7] @ stages + stages[7]
        dense = jnp.concatenate([jnp.stack([y, y_new]), jnp.asarray(np.asarray(tab["H"])) @ stages])
        return (y_new, stages[7], dense) + ((jmat,) if with_jacobian else ())
    ks = []
    u = y
    for i in range(8):
        if i == 0:
            fi = f0
        else:
            u = y + _lincomb(tab["a"][i], ks)
            fi = f(t + tab["c"][i] * h, u, args)
        rhs = fi
        if i > 0:
            rhs = rhs + _lincomb(tab["C"][i], ks, inv_h)
        if tab["d"][i] != 0.0:
            rhs = rhs + (tab["d"][i] * h) * ft
        ks.append(solve(rhs))
    y_new = u + ks[7]
    dense = jnp.stack([y, y_new] + [_lincomb(row, ks) for row in tab["H"]])
    return (y_new, ks[7], dense) + ((jmat,) if with_jacobian else ())


def _rosenbrock_interpolate(dense, theta):
    """The Rodas 4th-order continuous extension at fractions ``theta`` (shape (W,)) of a step:

        y(t + theta h) = (1 - theta) y_n + theta (y_{n+1} + (1 - theta) (K_1 + theta (K_2 + theta K_3)))

    with ``K_r = sum_j H_rj k_j`` (the tableau's dense-output coefficients; Steinebach 2023 for
    Rodas5P, OrdinaryDiffEq's Rodas5 tableau for Rodas5). Exact at theta = 0 and 1; its local
    error is O(h^5), the order of the embedded estimate that controls the step.
    """
    y0, y1, k1, k2, k3 = dense
    th = theta[:, None]
    return (1.0 - th) * y0 + th * (y1 + (1.0 - th) * (k1 + th * (k2 + th * k3)))


def _tsit5_stages_looped(f, t, y, h, args, f0):
    """Tsit5's stages 2-7 in a ``lax.fori_loop`` (large models, ``STAGE_LOOP_MIN_STATES``):
    returns the stage derivatives (7, n) and the arguments of stages 6 and 7."""
    n = y.shape[0]
    a, c = jnp.asarray(_square(_T5_A, 7)), jnp.asarray(_T5_CT)
    ks = jnp.zeros((7, n), y.dtype).at[0].set(f0)

    def stage(i, carry):
        ks, _, u = carry
        # a weighted sum, not the mat-vec a[i] @ ks: a loop holding a dot never compiles into
        # one native function (qsp._small_loops); 7 x n multiply-adds cost less than the dot
        u_next = y + h * jnp.sum(a[i][:, None] * ks, axis=0)
        return ks.at[i].set(f(t + c[i] * h, u_next, args)), u, u_next

    ks, u_6, y_new = lax.fori_loop(1, 7, stage, (ks, y, y))
    return ks, u_6, y_new


def _tsit5_step(f, t, y, h, args, f0, probe=None):
    """One Tsit5 step; returns (y_new, error_estimate, f(t + h, y_new), dense).

    With a ``probe`` vector ``v`` (unit RMS norm) it also returns ``(rho, v_next)``, an estimate
    of the spectral radius of the Jacobian ``J`` at the step's end and the next probe: the
    larger of Hairer's ratio ``|f(t+h, y_new) - f(t+h, u_6)| / |y_new - u_6|`` (stages 6 and 7
    are both at ``t + h``; Hairer & Wanner II, IV.2: free, but it sees only the modes the step
    has excited) and one power-iteration step ``|J v|``, ``v_next = J v / |J v|``, with ``J v``
    a forward difference (one more evaluation of f). Carried from step to step, the probe
    converges to the dominant mode, which Hairer's ratio misses once a fast mode has relaxed
    (measured on Robertson's problem: h rho about 3.3 by power iteration, never above 3 by
    Hairer's ratio). Tried and slower: ``J v`` as a ``jvp`` (86 vs 63 ms for Tsit5 alone on a
    500-state network), and the difference's second evaluation batched with the last stage by
    ``vmap`` (a 2-row matrix product where a mat-vec was; 25 vs 33 ms at 100 states)."""
    if y.shape[0] >= STAGE_LOOP_MIN_STATES:
        stages, u_6, y_new = _tsit5_stages_looped(f, t, y, h, args, f0)
        ks = [stages[i] for i in range(7)]
        dense = jnp.concatenate([y[None], h * stages])
        error = h * (jnp.asarray(_T5_E) @ stages)
    else:
        ks, u = [f0], y
        for i in range(1, 7):
            u_6, u = u, y + h * _lincomb(_T5_A[i], ks)  # (u_6 ends as stage 6's argument)
            ks.append(f(t + _T5_CT[i] * h, u, args))
        y_new = u  # row 7 of a = 5th-order weights (FSAL)
        dense = jnp.stack([y] + [h * k for k in ks])
        error = h * _lincomb(_T5_E, ks)
    result = (y_new, error, ks[6], dense)
    if probe is not None:
        # the three norms in one reduction (each reduction is a kernel launch of its own)
        dy, df, size = jnp.sqrt(jnp.mean(jnp.square(_sg(jnp.stack([y_new - u_6, ks[6] - ks[5], y_new]))), axis=1))
        hairer = jnp.where(dy > 0, df / jnp.where(dy > 0, dy, 1.0), 0.0)
        # J v by a forward difference: a rough |J v| is all the switch needs, and one more
        # evaluation of f is cheaper than a tangent pass (jvp: 86 vs 63 ms for Tsit5 alone on
        # a 500-state network)
        power, v_next = _power_step(f, t + h, y_new, ks[6], args, probe, size)
        result = result + ((jnp.maximum(hairer, power), v_next),)
    return result


def _power_step(f, t, y, fy, args, probe, size):
    """One step of the nonlinear power method at ``(t, y)`` with ``fy = f(t, y)``: ``(|J v|,
    J v / |J v|)`` for the unit-RMS ``probe`` v, ``J v`` by a forward difference of step
    ``sqrt(eps) (1 + size)`` (``size``: the RMS of ``y``); ``(0, probe)`` if ``J v`` is zero or
    not finite. A decision aid only: no derivative flows through it."""
    y, fy, probe = _sg(y), _sg(fy), _sg(probe)
    eps = jnp.sqrt(jnp.finfo(y.dtype).eps) * (1.0 + _sg(size))
    jv = (f(_sg(t), y + eps * probe, args) - fy) / eps
    power = _rms(jv)
    usable = jnp.isfinite(power) & (power > 0)
    return jnp.where(usable, power, 0.0), jnp.where(usable, jv / jnp.where(usable, power, 1.0), probe)


def _initial_probe(n: int, dtype):
    """The power method's first vector: components of both signs and unequal sizes (so that it
    is unlikely to miss the dominant mode), unit RMS norm."""
    probe = 1.0 + 0.5 * jnp.sin(1.0 + 2.0 * jnp.arange(n, dtype=dtype))
    probe = probe * jnp.where(jnp.arange(n) % 3 == 1, -1.0, 1.0)
    return probe / _rms(probe)


def _tsit5_interpolate(dense, theta):
    """Tsitouras' free 4th-order interpolant, ``y(t + theta h) = y_n + sum_i b_i(theta) h k_i``
    (the polynomials b_i of Tsitouras 2011, as in diffrax and OrdinaryDiffEq)."""
    t = theta[:, None]
    t2 = t * t
    b = (
        -1.0530884977290216 * t * (t - 1.3299890189751412) * (t2 - 1.4364028541716351 * t + 0.7139816917074209),
        0.1017 * t2 * (t2 - 2.1966568338249754 * t + 1.2949852507374631),
        2.490627285651252793 * t2 * (t2 - 2.38535645472061657 * t + 1.57803468208092486),
        -16.54810288924490272 * (t - 1.21712927295533244) * (t - 0.61620406037800089) * t2,
        47.37952196281928122 * (t - 1.203071208372362603) * (t - 0.658047292653547382) * t2,
        -34.87065786149660974 * (t - 1.2) * (t - 0.666666666666666667) * t2,
        2.5 * (t - 1.0) * (t - 0.6) * t2,
    )
    out = dense[0][None, :]
    for bi, hk in zip(b, dense[1:]):
        out = out + bi * hk[None, :]
    return out


# ----------------------------------------------------------------------------- driver
def _rms(x):
    return jnp.sqrt(jnp.mean(x * x))


def _initial_step(f, t0, y0, args, rtol, atol, f0=None):
    """Hairer-Norsett-Wanner initial step heuristic (HINIT, order 5)."""
    if f0 is None:
        f0 = f(t0, y0, args)
    scale = atol + rtol * jnp.abs(y0)
    d0 = _rms(y0 / scale)
    d1 = _rms(f0 / scale)
    small = (d0 < 1e-5) | (d1 < 1e-5)
    h0 = jnp.where(small, 1e-6, 0.01 * d0 / jnp.where(small, 1.0, d1))
    f1 = f(t0 + h0, y0 + h0 * f0, args)
    d2 = _rms((f1 - f0) / scale) / h0
    dmax = jnp.maximum(d1, d2)
    h1 = jnp.where(dmax <= 1e-15, jnp.maximum(1e-6, h0 * 1e-3),
                   (0.01 / jnp.where(dmax <= 1e-15, 1.0, dmax)) ** _EXPONENT)
    return jnp.minimum(100.0 * h0, h1)


OUTPUT_WINDOW = 16  # outputs filled per accepted step (static); more force shorter steps


def _fill_window(outputs, out, j, t_lo, h, t_hi, values_at):
    """Write the unfilled outputs ``ts[j:]`` with ``ts <= t_hi`` (at most ``OUTPUT_WINDOW``
    of them) and return ``(out, j_new)``. ``values_at(theta) -> (W, n)`` evaluates the current
    step's interpolant at ``theta = (ts - t_lo) / h``.

    A fixed window keeps shapes static and the cost per step independent of the number of
    outputs; the slice starts at ``min(j, T - W)`` so it never runs off the end (``T >= W``
    is guaranteed by the caller padding ``ts`` with +inf)."""
    ts, _, hi = outputs
    n_out = ts.shape[0]
    start = jnp.minimum(j, n_out - OUTPUT_WINDOW)
    position = start + jnp.arange(OUTPUT_WINDOW)
    t_window = lax.dynamic_slice_in_dim(ts, start, OUTPUT_WINDOW)
    valid = (position >= j) & (position < hi) & (t_window <= t_hi)
    # padding is +inf: keep it out of the arithmetic, or its zero cotangent times inf is NaN
    theta = jnp.clip((jnp.where(valid, t_window, t_lo) - t_lo) / h, 0.0, 1.0)
    current = lax.dynamic_slice_in_dim(out, start, OUTPUT_WINDOW)
    window = jnp.where(valid[:, None], values_at(theta), current)
    out = lax.dynamic_update_slice_in_dim(out, window, start, axis=0)
    return out, j + jnp.sum(valid, dtype=j.dtype)


class StateEvents(NamedTuple):
    """Model events for :func:`integrate`: ``trigger(t, y) -> bool[E]``, ``apply(t, y, fired) -> y``
    and ``active`` (bool[E]), each trigger's value at the start (a trigger fires when it goes
    from false to true)."""

    trigger: Callable
    apply: Callable
    active: jax.Array


_BISECTIONS = 60  # halvings of the step fraction: 2^-60 is below one ulp of any step


def _locate_crossings(trigger, interpolate, dense, t, h, crossing):
    """For each event, the smallest step fraction at which its trigger is true (bisection on
    the step's continuous extension, the trigger false at 0 and true at 1 for crossing events).
    Returns the true side, so the event state does satisfy the trigger."""
    n_events = crossing.shape[0]

    def is_true(theta):
        ys = interpolate(dense, theta)  # (E, n): event e at its own fraction
        values = jax.vmap(lambda th, y: trigger(t + th * h, y))(theta, ys)  # (E, E)
        return jnp.diagonal(values)

    def halve(_, bounds):
        lo, hi = bounds
        mid = 0.5 * (lo + hi)
        true = is_true(mid)
        return jnp.where(true, lo, mid), jnp.where(true, mid, hi)

    dtype = jnp.result_type(t)
    _, hi = lax.fori_loop(0, _BISECTIONS, halve, (jnp.zeros((n_events,), dtype), jnp.ones((n_events,), dtype)))
    return _sg(jnp.where(crossing, hi, 2.0))


def _drive(step, interpolate, f, t0, t1, y0, args, rtol, atol, dt0, max_steps, differentiable, fsal,
           outputs=None, out=None, dense_output=True, events: StateEvents | None = None, aux_init=None,
           refresh=None, stop=None, skip=None, return_aux=False, exponent=None, h_limit=None, on_reject=None,
           initial_step=True):
    """The adaptive loop shared by all native methods.

    ``step(t, y, h, aux) -> (y_new, err_vec, aux_new, dense)``; ``aux`` is carried across
    accepted steps (the FSAL derivative for Tsit5; unused for Rodas5); ``interpolate(dense,
    theta)`` evaluates the step's continuous extension. ``aux`` may be any pytree: ``aux_init(f(t0,
    y0))`` gives its start value and ``refresh(t, y, aux)`` renews it after a model event changed
    the state (defaults, with ``fsal``: the derivative itself). ``stop(aux)`` (optional) ends the
    loop early after an accepted step (status 3: :func:`integrate_auto` changing method).
    ``return_aux`` returns ``(h, aux, t, j, status)`` in place of the step proposal ``h``:
    the final aux, time, next unfilled output and status (1 reached ``t1``); ``skip`` (a traced
    bool) returns at once, as for ``t1 == t0``. ``exponent`` is the controller's
    ``1 / (q + 1)`` for an embedded estimate of order ``q`` (default 1/5, the 5(4) pairs);
    ``h_limit(aux)`` (optional) caps every step (an explicit method's stability bound);
    ``on_reject(aux_new, aux)`` (optional) is the aux kept after a rejected step (default
    ``aux``: what the rejected step learnt is dropped). ``initial_step=False`` leaves out the
    initial-step heuristic (two more traced evaluations of ``f``) for a caller that always
    hands over ``dt0 > 0``. With ``outputs = (ts, lo, hi)`` (``ts``
    sorted, strictly increasing on ``[lo, hi)``, padded to at least ``OUTPUT_WINDOW`` entries)
    the rows ``lo <= i < hi`` of ``out`` receive y(ts[i]) from the dense output of the steps
    that cover them; at most ``OUTPUT_WINDOW`` outputs fall in one step (longer steps are cut
    at the next output beyond the window, without upsetting the controller).

    With ``events``, after each accepted step the triggers are evaluated at its end; a trigger
    that went from false to true is located inside the step by bisection on the continuous
    extension, the step is cut there, the events that fire at that instant are applied, and
    integration continues from the new state (outputs at the event time report the state
    after it).
    """
    if differentiable == "reverse":
        kind = "checkpointed"
    elif differentiable in ("forward", "none"):
        kind = "lax"
    else:
        raise ValueError(f"differentiable must be 'reverse', 'forward' or 'none', got {differentiable!r}")
    if not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError("max_steps must be a positive Python int")

    y0 = jnp.asarray(y0)
    if not jnp.issubdtype(y0.dtype, jnp.floating):
        y0 = y0.astype(jnp.result_type(float))
    dtype = y0.dtype
    t0 = jnp.asarray(t0, dtype=dtype)
    t1 = jnp.asarray(t1, dtype=dtype)
    dt0 = jnp.asarray(dt0, dtype=dtype)
    rtol = jnp.asarray(rtol, dtype=dtype)
    atol = jnp.asarray(atol, dtype=dtype)
    eps = jnp.finfo(dtype).eps
    with_outputs = outputs is not None
    if with_outputs:
        ts, lo, hi = outputs
        if ts.shape[0] < OUTPUT_WINDOW:
            raise ValueError(f"outputs must be padded to at least {OUTPUT_WINDOW} times")
        # outputs at the start time (or, defensively, before it) take the initial state
        out, j0 = _fill_window(outputs, out, jnp.asarray(lo, jnp.int32), t0, jnp.ones((), dtype), t0,
                               lambda theta: jnp.broadcast_to(y0, (OUTPUT_WINDOW,) + y0.shape))
    else:
        out, j0 = jnp.zeros((0,), dtype), jnp.zeros((), jnp.int32)

    f_start = f(t0, y0, args) if fsal else None
    dt_given = jnp.isfinite(dt0) & (dt0 > 0)
    if initial_step:
        h_init = _sg(lax.cond(dt_given, lambda: dt0,
                              lambda: _initial_step(f, t0, y0, args, rtol, atol, f_start)))
    else:  # the caller hands over a step size (a fallback, not a heuristic, if it did not)
        h_init = _sg(jnp.where(dt_given, dt0, 1e-6 * jnp.maximum(jnp.abs(t1 - t0), 1.0)))
    aux0 = aux_init(f_start) if aux_init is not None else (f_start if fsal else jnp.zeros((), dtype))
    if refresh is None:
        refresh = lambda t, y, aux: f(t, y, args)  # noqa: E731 - the FSAL derivative

    # status: 0 running, 1 reached t1, 2 step-size underflow
    status0 = jnp.where((t1 > t0) & (True if skip is None else ~skip), 0, 1).astype(jnp.int32)
    with_events = events is not None
    if with_events and not (with_outputs and dense_output):
        raise ValueError("events need outputs with dense_output=True")
    active0 = events.active if with_events else jnp.zeros((0,), bool)
    init = (t0, y0, h_init, aux0, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32), status0, j0, out, active0)

    def cond(carry):
        return carry[6] == 0

    exponent = _EXPONENT if exponent is None else exponent

    def body(carry):
        t, y, h_prop, aux, n, n_rejected, _, j, out, active = carry
        remaining = t1 - t
        if h_limit is not None:
            h_prop = jnp.minimum(h_prop, _sg(h_limit(aux)))
        h_cap = h_prop
        if with_outputs and dense_output:
            # never more than OUTPUT_WINDOW outputs inside one step
            beyond = jnp.minimum(j + OUTPUT_WINDOW, ts.shape[0] - 1)
            h_cap = jnp.where(j + OUTPUT_WINDOW < hi, jnp.minimum(h_prop, _sg(ts[beyond] - t)), h_prop)
        elif with_outputs:
            # exact mode: a step ends at every output. Its length keeps its gradient (as the last
            # step's does): t carries the derivative with respect to the segment's start (a dose time)
            t_next_output = ts[jnp.minimum(j, ts.shape[0] - 1)]
            to_output = (j < hi) & _sg(t_next_output - t <= h_prop)
            h_cap = jnp.where(to_output, t_next_output - t, h_prop)
        last = _sg(h_cap >= remaining)
        # gradient flows through t1 - t on the last step. remaining == 0 only happens for a
        # finished trajectory that vmap keeps stepping (its results are discarded): give it a
        # finite step, or its h = 0 (W = inf) poisons the batched reverse-mode gradient
        h = jnp.where(last & (remaining > 0), remaining, h_cap)
        clipped = last | _sg(h_cap < h_prop)
        y_new, err_vec, aux_new, dense = step(t, y, h, aux)
        scale = atol + rtol * jnp.maximum(jnp.abs(y), jnp.abs(y_new))
        err = _sg(_rms(err_vec / scale))
        finite = jnp.isfinite(err) & _sg(jnp.all(jnp.isfinite(y_new)))
        accept = finite & (err <= 1.0)
        err_safe = jnp.where(finite, err, 1.0)
        fac_free = _SAFETY * err_safe ** (-exponent)  # inf when err == 0
        fac = jnp.where(finite, jnp.clip(fac_free, _FACMIN, _FACMAX), _FACMIN)
        fac = jnp.where(n_rejected > 0, jnp.minimum(fac, 1.0), fac)
        h_sg = _sg(h)
        h_next = h_sg * fac
        # after an accepted step that was cut short (to land on t1, or by the output window):
        # keep the previous proposal unless this step's error estimate says it is too large
        h_next = jnp.where(clipped & accept,
                           jnp.maximum(h_next, jnp.minimum(h_prop, h_sg * fac_free)), h_next)
        t_new = jnp.where(last, t1, t + h)
        if with_outputs and not dense_output:
            # land exactly on the output time (t + (ts - t) may miss it by an ulp)
            t_new = jnp.where(~last & to_output, t_next_output, t_new)
        fired = jnp.zeros((), bool)
        if with_events:
            now = events.trigger(t_new, y_new)
            crossing = accept & ~active & now

            def at_event(_):
                theta = _locate_crossings(events.trigger, interpolate, dense, t, h, crossing)
                first = jnp.min(theta)
                simultaneous = crossing & (theta <= first + 1e-13)
                t_event = jnp.where(first >= 1.0, t_new, t + first * h)
                y_event = interpolate(dense, first[None])[0]
                y_after = events.apply(t_event, y_event, simultaneous)
                aux_after = refresh(t_event, y_after, aux_new) if fsal else aux_new
                return t_event, y_after, aux_after, events.trigger(t_event, y_after)

            def no_event(_):
                return t_new, y_new, aux_new, jnp.where(accept, now, active)

            fired = jnp.any(crossing)
            t_step_end = t_new
            t_new, y_new, aux_new, active = lax.cond(fired, at_event, no_event, None)
            last = last & ~(fired & (t_new < t_step_end))
            h_next = jnp.where(fired, jnp.maximum(h_next, h_prop), h_next)
        done = accept & (last | (t_new >= t1))
        n_rejected = jnp.where(accept, 0, n_rejected + 1)
        # underflow: the step no longer changes t, or the step has been cut 50 times in a row
        # (a factor >= 5^50); the latter ends NaN-producing problems started at t = 0 quickly
        underflow = ~accept & ((h_next <= 10.0 * eps * jnp.abs(t)) | (n_rejected >= _MAX_REJECTIONS))
        status = jnp.where(done, 1, jnp.where(underflow, 2, 0)).astype(jnp.int32)
        t_out = jnp.where(accept, t_new, t)
        y_out = jnp.where(accept, y_new, y)
        aux_kept = aux if on_reject is None else on_reject(aux_new, aux)
        aux_out = jax.tree_util.tree_map(lambda a, b: jnp.where(accept, a, b), aux_new, aux_kept)
        if stop is not None:
            status = jnp.where(accept & ~done & stop(aux_out), 3, status).astype(jnp.int32)
        if with_outputs and dense_output:
            # a rejected step fills nothing; outputs at an event's time report the state after
            # it, so the step cut at an event fills only those strictly before
            t_stop = _sg(t_new)  # (nextafter has no derivative rule; the fill bound needs none)
            t_reach = jnp.where(accept, jnp.where(fired, jnp.nextafter(t_stop, -jnp.inf), t_stop), -jnp.inf)
            out, j = _fill_window(outputs, out, j, t, h, t_reach, lambda theta: interpolate(dense, theta))
        elif with_outputs:
            jc = jnp.minimum(j, ts.shape[0] - 1)
            hit = accept & (j < hi) & (ts[jc] <= t_new)
            out = lax.dynamic_update_slice_in_dim(out, jnp.where(hit, y_new, out[jc])[None], jc, axis=0)
            j = j + hit.astype(j.dtype)
        return (t_out, y_out, h_next, aux_out, n + 1, n_rejected, status, j, out, active)

    t_f, y_f, h_f, aux_f, n_f, _, status_f, j_f, out_f, active_f = eqxi.while_loop(cond, body, init,
                                                                                   max_steps=max_steps, kind=kind)
    ok = (status_f == 1) & jnp.all(jnp.isfinite(y_f))
    if return_aux:
        h_f = (h_f, aux_f, t_f, j_f, status_f)
    if with_outputs:
        # the cut at the output beyond a full window can coincide with t1: that one output
        # (times are strictly increasing, so at most one) is at t1 exactly
        out_f, _ = _fill_window(outputs, out_f, j_f, t_f, jnp.ones((), dtype), t_f,
                                lambda theta: jnp.broadcast_to(y_f, (OUTPUT_WINDOW,) + y_f.shape))
        if with_events:
            return y_f, h_f, n_f, ok, out_f, active_f
        return y_f, h_f, n_f, ok, out_f
    return y_f, h_f, n_f, ok


def _integrate_rosenbrock(f, jac, t0, t1, y0, args, *, rtol, atol, dt0, max_steps, differentiable="reverse",
                          method="rodas5p", linsolve="auto", outputs=None, out=None, dense_output=True,
                          events=None, batched=False, native_loop=False):
    if method not in _TABLEAUS:
        raise ValueError(f"method must be one of {sorted(_TABLEAUS)}, got {method!r}")
    tab = _TABLEAUS[method]
    if linsolve == "auto":
        linsolve = _choose_linsolve(jnp.shape(y0)[0], differentiable, batched, native_loop)

    def step(t, y, h, aux):
        y_new, err, dense = _rosenbrock_step(tab, f, jac, t, y, h, args, linsolve)
        return y_new, err, aux, dense
    return _drive(step, _rosenbrock_interpolate, f, t0, t1, y0, args, rtol, atol, dt0, max_steps, differentiable,
                  fsal=False, outputs=outputs, out=out, dense_output=dense_output, events=events)


def integrate(f, jac, t0, t1, y0, args, *, rtol, atol, dt0, max_steps: int, differentiable: str = "reverse",
              method: str = "rodas5p", outputs=None, out=None, dense_output: bool = True,
              events: StateEvents | None = None, batched: bool = False, native_loop: bool = False):
    """Integrate y' = f(t, y, args) from t0 to t1 (t1 >= t0; t1 == t0 returns y0 immediately, no NaN).

    8-stage L-stable, stiffly accurate Rosenbrock method of order 5(4) with Hairer's step-size
    controller; ``method`` picks the coefficients: ``"rodas5p"`` (default; Steinebach 2023) or
    ``"rodas5"`` (Di Marzo 1993). Rodas5's embedded estimate vanishes identically for components
    whose derivative depends on t only (y' = g(t)), so its step control fails there (measured:
    y' = cos 2t on [0, 10] finished in 5 steps with error 15); Rodas5P fixes this and was also
    cheaper on the forced problems measured here. Same cost per step.

    Args:
        f: ``f(t, y, args) -> (n,)``.
        jac: ``jac(t, y, args) -> (n, n)``, the exact Jacobian df/dy.
        t0, t1: scalar start and end times, ``t1 >= t0`` (``t1 <= t0`` returns ``y0``).
        y0: ``(n,)`` initial state (floating point).
        args: any pytree passed through to ``f`` and ``jac``.
        rtol, atol: tolerances (scalars; may be traced).
        dt0: initial step proposal (scalar array). If ``<= 0`` or not finite, one is chosen
            with the standard Hairer initial-step heuristic (two extra ``f`` calls).
        max_steps: static bound on attempted steps (accepted + rejected) in this call.
        differentiable: ``"reverse"`` (checkpointed loop: ``jax.grad``/``vjp``; no forward
            mode), ``"forward"`` (``lax`` loop: ``jax.jvp``/``jacfwd``; no reverse mode) or
            ``"none"`` (same loop as forward).
        outputs: optional ``(ts, lo, hi)``: output times ``ts`` of static length >=
            ``OUTPUT_WINDOW`` (pad with +inf), sorted and strictly increasing on ``[lo, hi)``,
            all within ``[t0, t1]``; with ``out`` (shape ``(len(ts), n)``), rows ``lo..hi-1`` of
            ``out`` receive the solution at those times from the method's continuous extension
            (4th order, error O(h^5) per step) instead of ending a step at each of them
            (``dense_output=True``) or by ending a step at each of them.
        events: optional :class:`StateEvents` (model events located by root finding on the
            continuous extension; needs ``outputs`` with ``dense_output=True``).
        batched: the call runs under ``vmap`` over many subjects; only picks the linear solver
            that vectorises best (see ``_choose_linsolve``).
        native_loop: the step loop can compile into one native function (``qsp._small_loops``:
            ``f`` and ``jac`` free of gathers, scatters, dots and custom calls, and not under
            ``vmap``, whose batched loop exceeds the byte limit); only picks a linear solver
            without LAPACK calls (see ``_choose_linsolve``).

    Returns:
        ``(y1, dt_next, n_steps, ok)``: the state at ``t1`` (or the last state reached if not ok),
        the step-size proposal to pass as ``dt0`` of the next call, the number of attempted steps
        (int32), and ``ok`` (False if ``max_steps`` was reached, the step size underflowed, or the
        state is not finite); with ``outputs``, ``out`` (updated) is appended, and with
        ``events`` then the triggers' values at the end.
    """
    return _integrate_rosenbrock(f, jac, t0, t1, y0, args, rtol=rtol, atol=atol, dt0=dt0, max_steps=max_steps,
                                 differentiable=differentiable, method=method, outputs=outputs, out=out,
                                 dense_output=dense_output, events=events, batched=batched,
                                 native_loop=native_loop)


def integrate_explicit(f, jac, t0, t1, y0, args, *, rtol, atol, dt0, max_steps: int,
                       differentiable: str = "reverse", outputs=None, out=None, dense_output: bool = True,
                       events: StateEvents | None = None):
    """Same as :func:`integrate` but with the explicit Tsitouras 5(4) pair (``jac`` is unused).

    For non-stiff models, where it needs no Jacobian or linear solve: 6 new ``f`` evaluations
    per step (first-same-as-last), plus one per call. Dense output (``outputs``) uses Tsitouras'
    free 4th-order interpolant.
    """
    del jac

    def step(t, y, h, f0):
        return _tsit5_step(f, t, y, h, args, f0)
    return _drive(step, _tsit5_interpolate, f, t0, t1, y0, args, rtol, atol, dt0, max_steps, differentiable,
                  fsal=True, outputs=outputs, out=out, dense_output=dense_output, events=events)


# ----------------------------------------------------------------------------- automatic switching
#: |h λ| where Tsit5's stability region meets the negative real axis (OrdinaryDiffEq's
#: ``alg_stability_size(Tsit5())``): beyond it an explicit step is limited by stability, not accuracy.
TSIT5_STABILITY = 3.5068
_STIFF_AFTER = 10  # consecutive stability-limited explicit steps before the stiff method is tried
_STIFF_TRIAL = 3  # stiff steps taken before deciding whether the stiff method pays
_ROCK4_STIFF_AFTER = 3  # hard ROCK4 steps (see _switch_rock4) before the stiff method is tried
_POWER_EVERY = 2  # ROCK4 spells: a power-method step every this many steps (1: 15.0, 2: 13.6 ms on a 500-state network)
_CALM_STEPS = 10  # ROCK4 steps within half of Tsit5's stability before Tsit5 resumes


def stiff_step_cost(n: int) -> float:
    """Cost of one Rodas5P step in Tsit5 steps for an ``n``-state model (Rodas5P: 8 stages, an
    exact Jacobian and an LU factorisation of ``n x n``; Tsit5: 6 evaluations of f, plus the
    stiffness probe's one in :func:`integrate_auto`).

    Fitted to jitted runs of ``bench_spine``'s random mass-action networks on a 2-core CPU (µs
    per attempted step, Rodas5P / Tsit5 with the probe): n = 20: 22 / 1.4; 50: 59 / 3.0;
    100: 131 / 5.1; 200: 625 / 10.5; 500: 4060 / 28, i.e. ratios 16, 20, 26, 60, 145; the
    model below gives 19, 21, 28, 50, 150 (the LU's n^3 takes over above a hundred states):

    .. math:: \mathrm{cost}(n) = \frac{15 + 0.6\,n + 0.008\,n^2 + 1.5\times10^{-5}\,n^3}{0.5 + 0.055\,n}

    Example:
        >>> round(stiff_step_cost(100), 1), round(stiff_step_cost(500))
        (28.3, 150)
    """
    return (15.0 + 0.6 * n + 0.008 * n * n + 1.5e-5 * n ** 3) / (0.5 + 0.055 * n)


class AutoState(NamedTuple):
    """The switching state of :func:`integrate_auto`, carried across steps and calls.

    Attributes:
        stiff: the stiff method (Rodas5P) is in use.
        count: in explicit mode, consecutive stability-limited steps; in stiff mode, steps taken.
        since: explicit steps since the stiff method was last given up (trials back off).
        h_stiff: the last step size the stiff method reached (``inf`` before any trial): what a
            stiff step is worth is predicted from it and the current stiffness.
        probe: the power iteration's vector (unit RMS norm) for the spectral radius estimate of
            the explicit steps (:func:`_tsit5_step`).
        rho: the last spectral radius estimate of the explicit steps (ROCK4 chooses its stage
            count from it; 0 before any).
        rock: the explicit method in use is ROCK4 (else Tsit5).
        calm: consecutive ROCK4 steps that Tsit5 could have taken (see :func:`integrate_auto`).
    """

    stiff: jax.Array
    count: jax.Array
    since: jax.Array
    h_stiff: jax.Array
    probe: jax.Array
    rho: jax.Array
    rock: jax.Array
    calm: jax.Array

    @staticmethod
    def initial(n: int, dtype) -> "AutoState":
        """Start explicit, with no stiff step measured yet and the power method's first vector
        (:func:`_initial_probe`)."""
        return AutoState(jnp.zeros((), bool), jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32),
                         jnp.full((), jnp.inf, dtype), _initial_probe(n, dtype), jnp.zeros((), dtype),
                         jnp.zeros((), bool), jnp.zeros((), jnp.int32))


def _tally(count, limited):
    """The Hairer-style tally of limited steps (DOPRI5's IASTI/NONSTI) kept in ``count`` as
    tally + 16 x (current run of unlimited steps): each limited step adds one, and the tally is
    cleared only after 6 unlimited steps in a row. Returns ``(tally, run)``."""
    tally, run = count % 16, count // 16
    run = jnp.where(limited, 0, run + 1)
    return jnp.where(limited, tally + 1, jnp.where(run >= 6, 0, tally)), run


def _decided(state: AutoState, go, tally, run) -> AutoState:
    """The explicit mode's state after a step: stiff if ``go`` (tally, run and ``since`` reset)."""
    return state._replace(stiff=go, count=jnp.where(go, 0, tally + 16 * run).astype(jnp.int32),
                          since=jnp.where(go, 0, state.since + 1).astype(jnp.int32))


def _switch_explicit(state: AutoState, h, rho, cost: float) -> AutoState:
    """The mode after an accepted Tsit5 step of size ``h`` with spectral radius estimate
    ``rho`` (a decision only: no derivative flows through it).

    ``r = h rho / TSIT5_STABILITY`` is how many explicit steps stability alone forces to cover
    a step of size ``h``; the step was stability-limited if ``r > 0.9``. Those are tallied
    (:func:`_tally`: strictly consecutive counting missed Robertson's problem altogether, the
    estimate fluctuating under a controller working at the stability boundary).
    After ``_STIFF_AFTER`` the stiff method is tried if one step of the size it last reached is
    predicted to be worth more explicit steps than it costs (``h_stiff rho / 3.5 > cost``; before
    the first trial, once ``cost`` explicit steps have been taken), or, as a periodic re-check,
    after ``12 cost`` explicit steps since the last trial (so a trial that loses costs under
    about 25 %)."""
    rho = _sg(rho)
    tally, run = _tally(state.count, _sg(h) * rho > 0.9 * TSIT5_STABILITY)
    predicted = state.h_stiff * rho / TSIT5_STABILITY
    # before the first trial nothing predicts a stiff step's size: wait until the explicit
    # steps taken outnumber one stiff step's cost, so that a trial which loses (_STIFF_TRIAL
    # stiff steps) costs at most a few times the work done so far
    worth = jnp.where(jnp.isinf(state.h_stiff), state.since >= int(min(cost, 2 ** 30)), predicted > cost)
    go = (tally >= _STIFF_AFTER) & (worth | (state.since >= int(min(12 * cost, 2 ** 30))))
    return _decided(state, go, tally, run)


def _switch_rock4(state: AutoState, h, stages, cost: float) -> AutoState:
    """The mode after an accepted ROCK4 step of size ``h`` with ``stages`` stages (a decision
    only: no derivative flows through it).

    A step is *hard* when it costs at least a tenth of a stiff step (``stages + 0.5 >= 0.7
    cost`` evaluations, Rodas5P's step being ``cost`` Tsit5 steps of 7; or 152 stages): only
    then may Rodas5P pay. Hard steps are tallied (:func:`_tally`); after
    ``_ROCK4_STIFF_AFTER`` of them Rodas5P is tried if covering the step size it last reached
    takes more ROCK4 evaluations than one stiff step (before any trial, once ROCK4 has spent
    that much since entering), or after twelve times that as a periodic re-check. Judging by
    the stage count rather than by the longest member's reach matters where the estimate of
    ``rho`` lags the truth (Robertson's problem: ROCK4 kept failing steps at ~130 stages).
    """
    from .rock4 import MAX_STAGES
    h = _sg(h)
    evaluations = stages.astype(h.dtype) + 0.5
    stiff_evaluations = 7.0 * cost
    tally, run = _tally(state.count, (evaluations >= 0.1 * stiff_evaluations) | (stages >= MAX_STAGES))
    spent = state.since.astype(h.dtype) * evaluations  # ROCK4's work since entering, at this rate
    predicted = state.h_stiff / h * evaluations  # ROCK4 evaluations to cover one stiff step
    worth = jnp.where(jnp.isinf(state.h_stiff), spent >= stiff_evaluations, predicted > stiff_evaluations)
    go = (tally >= _ROCK4_STIFF_AFTER) & (worth | (spent >= 12.0 * stiff_evaluations))
    return _decided(state, go, tally, run)


def _switch_stiff(state: AutoState, h, rho, cost: float, rock4: bool = False) -> AutoState:
    """The mode after an accepted stiff step of size ``h`` (``rho`` as in :func:`_switch_explicit`).

    Explicit mode resumes after ``_STIFF_TRIAL`` stiff steps once a stiff step is worth less than
    half its cost in explicit steps (``h rho / 3.5 < cost / 2``, or with ``rock4`` ROCK4's
    evaluations for it, :func:`qsp.simulate.rock4.evaluations`, over 7: the hysteresis keeps
    the mode from flapping) and the step size has stopped doubling from step to step (or after
    twice ``_STIFF_TRIAL`` steps). (A trial starts from the explicit method's stability-limited
    step: judged after a fixed few steps, a stiff step looked worth too little on a 40-state
    cascade with one rate of 5e4, and Tsit5 ran 500,000 steps where Rodas5P needs 150.)"""
    h = _sg(h)
    if rock4:
        from .rock4 import evaluations
        r = evaluations(h, _sg(rho)) / 7.0
    else:
        r = h * _sg(rho) / TSIT5_STABILITY
    count = state.count + 1
    # a trial starts from the explicit method's stability-limited step; while the controller
    # still doubles it from step to step, the trial goes on (it has not shown its worth yet)
    # (up to twice the trial's length: a stiff step is dear exactly when cost is large)
    growing = ((count == 1) | (h > 2.0 * state.h_stiff)) & (count < 2 * _STIFF_TRIAL)
    give_up = (r < 0.5 * cost) & (count >= _STIFF_TRIAL) & ~growing
    return state._replace(stiff=~give_up, count=jnp.where(give_up, 0, count).astype(jnp.int32),
                          since=jnp.zeros((), jnp.int32), h_stiff=h.astype(state.h_stiff.dtype))


def integrate_auto(f, jac, t0, t1, y0, args, *, rtol, atol, dt0, state: AutoState | None = None, max_steps: int,
                   differentiable: str = "reverse", outputs=None, out=None, dense_output: bool = True,
                   events: StateEvents | None = None, cost: float | None = None, rock4: bool | str = False):
    """Same as :func:`integrate`, switching between Tsit5 (explicit) and Rodas5P (stiff) as the
    problem's stiffness and the cost of a stiff step dictate (the idea of LSODA and of
    OrdinaryDiffEq's ``AutoTsit5(Rodas5P())``), with ``rock4`` ROCK4 between them.

    Both 5(4) pairs share the step-size controller, so a switch keeps the step size.
    Stiffness is estimated along the way: in explicit mode by Hairer's ratio of the last two
    stages and a power iteration (:func:`_tsit5_step`; one more evaluation of ``f`` per step),
    in stiff mode by ``min(|J|_1, |J|_inf)`` of the exact Jacobian the step has formed anyway
    (a bound on the spectral radius). The switching rules are :func:`_switch_explicit` and
    :func:`_switch_stiff`; ``cost`` is a stiff step's cost in Tsit5 steps (default
    :func:`stiff_step_cost` of the state dimension). Worth it where a stiff step is expensive
    (large models: a dense LU) and the problem only mildly stiff, so that the explicit method's
    stability-limited steps are still cheaper; on a strongly stiff model it settles in the stiff
    method after a few explicit steps.

    With ``rock4`` (:mod:`qsp.simulate.rock4`; ``solve.AUTO_ROCK4_MIN_STATES``) stability-limited
    Tsit5 steps lead to ROCK4 instead, whose stage count grows with ``h rho`` so that its steps
    stay accuracy-limited at a cost of ``sqrt(h rho)`` evaluations; Rodas5P is tried when ROCK4's
    steps grow dear against a stiff one (:func:`_switch_rock4`, in evaluations of ``f``: a
    stiff step costs ``7 cost``); Rodas5P gives up to ROCK4 when ROCK4 could cover its step
    for less than half that (:func:`qsp.simulate.rock4.evaluations`), and ROCK4 returns to Tsit5 after
    ``_CALM_STEPS`` steps within half of Tsit5's stability bound. ``rock4="only"`` leaves Tsit5
    out (ROCK4 from the start; less to compile for a large model). Measured on a random 500-state mass-action
    network (rtol 1e-6, 2-core CPU): 14 ms, against 52 ms with Tsit5/Rodas5P switching.

    The integration runs in spells: each is the plain adaptive loop of one method
    (:func:`_drive`, compiled exactly as :func:`integrate` or :func:`integrate_explicit` would
    be) until its switching rule asks for another; an outer loop passes through them in turn.
    (One loop with a ``lax.cond`` between the methods in every step measured 107 against 64 ms
    on a 500-state network that stays explicit: the conditional cost a copy of its operands and
    the fusion of the stage arithmetic.) ``max_steps`` bounds each spell.

    ``state`` (an :class:`AutoState`, default explicit and untried) is returned with the step
    proposal: ``(y1, (dt_next, state), n_steps, ok, ...)``, so the next call continues in the
    same mode. Under ``vmap`` every method's spell would run in every iteration, so batched
    simulations use Rodas5P instead.

    Example (y' = -k y with k = 1e4 over [0, 1]: strongly stiff, so it ends in Rodas5P):
        >>> import jax.numpy as jnp
        >>> f = lambda t, y, k: -k * y
        >>> jac = lambda t, y, k: -k * jnp.eye(1)
        >>> y1, (h, state), n, ok = integrate_auto(f, jac, 0.0, 1.0, jnp.array([1.0]), 1e4, rtol=1e-8,
        ...                                        atol=1e-10, dt0=jnp.array(-1.0), max_steps=10_000,
        ...                                        differentiable="none", cost=3.0)
        >>> bool(ok), bool(state.stiff), abs(float(y1[0])) < 1e-9
        (True, True, True)
    """
    y0 = jnp.asarray(y0)
    n = y0.shape[0]
    dtype = jnp.result_type(y0, float)
    cost = stiff_step_cost(n) if cost is None else float(cost)
    tab = _TABLEAUS["rodas5p"]
    linsolve = _choose_linsolve(n, differentiable)
    state = AutoState.initial(n, dtype) if state is None else state
    with_outputs = outputs is not None
    with_events = events is not None
    t1 = jnp.asarray(t1, dtype)

    def tsit5_step(t, y, h, aux):
        f0, mode = aux
        y_new, err, f_new, dense, (rho, probe) = _tsit5_step(f, t, y, h, args, f0, probe=mode.probe)
        if rock4:  # stability-limited: on to ROCK4, which needs no LU (cost 0: no trial economics)
            switched = _switch_explicit(mode, h, rho, 0.0)
            mode = switched._replace(stiff=jnp.zeros((), bool), rock=switched.stiff, since=mode.since + 1)
        else:
            mode = _switch_explicit(mode, h, rho, cost)
        return y_new, err, (f_new, mode._replace(probe=probe)), dense

    def stiff_step(t, y, h, mode):
        y_new, err, dense, jmat = _rosenbrock_step(tab, f, jac, t, y, h, args, linsolve, with_jacobian=True)
        a = jnp.abs(_sg(jmat))
        rho = jnp.minimum(jnp.max(jnp.sum(a, axis=0)), jnp.max(jnp.sum(a, axis=1)))
        # giving up the stiff method is judged against the explicit method that precedes it
        mode = _switch_stiff(mode, h, rho, cost, rock4=bool(rock4))
        if rock4:  # given up: the problem was stiff enough for Rodas5P, so ROCK4 takes over
            mode = mode._replace(rock=jnp.asarray(True))
        return y_new, err, mode, dense

    only = rock4 == "only"
    spells = [] if only else [("tsit5", lambda mode: ~mode.stiff & ~mode.rock)]
    if rock4:
        from . import rock4 as rock
        loop_kind = "checkpointed" if differentiable == "reverse" else "lax"

        def rock4_step(t, y, h, aux):
            f0, mode = aux
            y_new, err, f_new, dense = rock.step(f, t, y, h, args, f0, rock.SAFETY_RHO * mode.rho, loop_kind)
            rho, probe = lax.cond(mode.since % _POWER_EVERY == 0,
                                  lambda: rock.power_step(f, t + h, y_new, f_new, args, mode.probe),
                                  lambda: (mode.rho, mode.probe))
            stages = rock.stages(_sg(h), rock.SAFETY_RHO * mode.rho)
            switched = _switch_rock4(mode, h, stages, cost)
            # back to Tsit5 after _CALM_STEPS steps that Tsit5 could have taken with half its
            # stability to spare (ROCK4, of order 4, then only costs more)
            calm = jnp.where(_sg(h) * rho < 0.5 * TSIT5_STABILITY, mode.calm + 1, 0).astype(jnp.int32)
            back = (calm >= _CALM_STEPS) & ~switched.stiff & (not only)
            mode = switched._replace(probe=probe, rho=rho, calm=jnp.where(back, 0, calm).astype(jnp.int32),
                                     rock=~back, count=jnp.where(back, 0, switched.count).astype(jnp.int32))
            return y_new, err, (f_new, mode), dense

        def rock4_start(t, y, f_start, mode):  # a spell starts with the power method warmed up
            rho, probe = rock.warm_up(f, t, y, f_start, args, mode.rho, mode.probe)
            return f_start, mode._replace(rho=rho, probe=probe, calm=jnp.zeros((), jnp.int32))
        spells.append(("rock4", lambda mode: ~mode.stiff & (mode.rock | only)))
    spells.append(("rodas5p", lambda mode: mode.stiff))

    def kwargs(j, out_c, active):
        return dict(outputs=(outputs[0], j, outputs[2]) if with_outputs else None,
                    out=out_c if with_outputs else None, dense_output=dense_output,
                    events=events._replace(active=active) if with_events else None, return_aux=True)

    def run_spell(method, carry, skip):
        """One spell of ``method`` from ``carry``, until it reaches t1, fails or switches. Only
        Tsit5's spell (ROCK4's with ``rock4="only"``) can start a call (``AutoState.initial``),
        so only it may need the initial-step heuristic; the others always receive a step size."""
        t, y, h, mode, j, out_c, active, n_total, _ = carry
        options = kwargs(j, out_c, active)
        if method == "tsit5":
            result = _drive(tsit5_step, _tsit5_interpolate, f, t, t1, y, args, rtol, atol, h, max_steps,
                            differentiable, fsal=True, aux_init=lambda f_start: (f_start, mode),
                            refresh=lambda tt, yy, aux: (f(tt, yy, args), aux[1]),
                            stop=lambda aux: aux[1].stiff | aux[1].rock, skip=skip, **options)
        elif method == "rock4":
            result = _drive(rock4_step, rock.interpolate, f, t, t1, y, args, rtol, atol, h, max_steps,
                            differentiable, fsal=True, aux_init=lambda f_start: rock4_start(t, y, f_start, mode),
                            refresh=lambda tt, yy, aux: (f(tt, yy, args), aux[1]),
                            stop=lambda aux: aux[1].stiff | ~aux[1].rock, skip=skip, exponent=0.25,
                            initial_step=only,
                            h_limit=lambda aux: rock.step_cap(aux[1].rho),
                            on_reject=lambda new, old: (old[0], old[1]._replace(
                                rho=jnp.maximum(old[1].rho, new[1].rho), probe=new[1].probe)), **options)
        else:
            result = _drive(stiff_step, _rosenbrock_interpolate, f, t, t1, y, args, rtol, atol, h, max_steps,
                            differentiable, fsal=False, aux_init=lambda _: mode, stop=lambda aux: ~aux.stiff,
                            skip=skip, initial_step=False, **options)
        y_f, (h_f, aux_f, t_f, j_f, status_f), n_f = result[:3]
        mode_f = aux_f if isinstance(aux_f, AutoState) else aux_f[1]
        out_f = result[4] if with_outputs else out_c
        active_f = result[5] if with_events else active
        return t_f, y_f, h_f, mode_f, j_f, out_f, active_f, n_total + n_f, status_f

    def one_pass(carry):
        """Each method's spell in turn (Tsit5, ROCK4, Rodas5P), those whose mode is not current
        skipped: a switch to a later method continues in the same pass, to an earlier one in
        the next. Status 3 (switched) keeps the outer loop going."""
        for method, current in spells:
            t, mode, status = carry[0], carry[3], carry[-1]
            runs = (status == 3) & current(mode) & (t < t1)
            result = run_spell(method, carry, ~runs)
            carry = jax.tree_util.tree_map(lambda a, b: jnp.where(runs, a, b), result, carry)
        # nothing left to do (t1 reached by the switch itself): done
        return carry[:-1] + (jnp.where((carry[-1] == 3) & (carry[0] >= t1), 1, carry[-1]).astype(jnp.int32),)

    j0 = jnp.asarray(outputs[1], jnp.int32) if with_outputs else jnp.zeros((), jnp.int32)
    out0 = out if with_outputs else jnp.zeros((0,), dtype)
    active0 = events.active if with_events else jnp.zeros((0,), bool)
    init = (jnp.asarray(t0, dtype), y0.astype(dtype), jnp.asarray(dt0, dtype), state, j0, out0, active0,
            jnp.zeros((), jnp.int32), jnp.asarray(3, jnp.int32))
    kind = "checkpointed" if differentiable == "reverse" else "lax"
    # a pass that switches has taken at least _STIFF_AFTER explicit steps, so passes are far
    # fewer than steps; past the bound the loop stops with status 3, reported as not ok
    _, y_f, h_f, state_f, _, out_f, active_f, n_f, status_f = eqxi.while_loop(
        lambda c: c[-1] == 3, one_pass, init, max_steps=max_steps // _STIFF_TRIAL + 2, kind=kind)
    ok = (status_f == 1) & jnp.all(jnp.isfinite(y_f))
    result = (y_f, (h_f, state_f), n_f, ok)
    if with_outputs:
        result = result + (out_f,)
        if with_events:
            result = result + (active_f,)
    return result
