r"""The feasible set of a dosing decision, and an exact unconstrained reparameterisation of it.

Constraints (all linear, so the feasible set is a convex polytope):

* **bounds** on dose amounts, dose times and infusion durations, and **clock hours**: each
  varying dose stays inside the allowed window of the day it starts in — boxes;
* **minimum interval**: doses keep their initial order and each comes at least ``min_interval``
  after the previous one — difference constraints :math:`t_j - t_i \ge g`;
* **maximum daily amount**: the amounts of the doses of each (clock) day sum to at most ``M`` —
  packing constraints :math:`\sum_i n_{d,i} a_i \le M` with :math:`n \ge 0`.

Time variables are shifts, so bounds, clock windows and minimum intervals are all
*difference constraints* :math:`x_b - x_a \le w_{ab}` among the time variables and a zero
node: a simple temporal network (Dechter, Meiri & Pearl, *Artificial Intelligence* 49, 1991).
Its all-pairs shortest paths :math:`D` (Floyd–Warshall) give the tightest implied bounds, and
in that minimal network *any* assignment made in order — each variable inside the interval
its already-assigned predecessors allow,

.. math:: L_k = \max\big(-D_{k0},\ \max_{j<k} x_j - D_{kj}\big),\quad
          U_k = \min\big(D_{0k},\ \min_{j<k} x_j + D_{jk}\big),

— extends to a full solution without backtracking. Amounts are boxes plus packing
constraints with non-negative coefficients, so setting the later variables to their lower
bounds is always the easiest completion: :math:`L_k = lo_k`, :math:`U_k = \min(hi_k,
\min_d (M_d - \sum_{j<k} n_{dj} a_j - \sum_{j>k} n_{dj} lo_j)/n_{dk})`.

So every unconstrained vector :math:`z` maps to a feasible decision, variable by variable:

.. math:: x_k = L_k + (U_k - L_k)\,\sigma(z_k)

(:math:`\sigma` the logistic function; :math:`L_k + s\,\mathrm{softplus}(z_k)` when only the
lower bound is finite, and so on), which is continuous, piecewise smooth and onto the interior
of the polytope. Any unconstrained optimiser can then work on :math:`z`; every point it visits
is feasible, and an optimum on a constraint is approached as :math:`z_k \to \pm\infty`
(to within the optimiser's tolerance). It generalises "sorted times through cumulative
softplus gaps": with only a minimum interval, :math:`t_k = t_{k-1} + g + s\,\mathrm{softplus}(z_k)`.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..analysis.dose_numbers import DoseNumbers
from ..errors import DosingError
from .decision import FIELDS, Decision

NONE, LOWER, UPPER, BOTH = 0, 1, 2, 3
_EPS = 1e-9  # how close to a bound the inverse map puts a starting point


def clock_window(t, hours, day: float, clock_at_zero: float) -> tuple[float, float]:
    """The allowed window (absolute times) of the day ``t`` falls in (or the nearest one).

    ``hours = (start, end)`` in clock hours; ``end < start`` wraps past midnight. The clock
    reads ``clock_at_zero`` at model time 0.

    Example:
        >>> clock_window(30.0, (8.0, 20.0), 24.0, 0.0)      # 06:00 on day 2: the nearest window that day
        (32.0, 44.0)
        >>> clock_window(23.0, (20.0, 6.0), 24.0, 0.0)
        (20.0, 30.0)
    """
    start, end = float(hours[0]), float(hours[1])
    if not (0.0 <= start <= day and 0.0 <= end <= day) or start == end:
        raise DosingError(f"clock_hours={tuple(hours)}: give (start, end) clock hours within 0..{day:g}, start != end.")
    length = end - start if end > start else end + day - start
    c = t + clock_at_zero
    k = math.floor((c - start) / day)  # the window opening at or before c
    best = None
    for kk in (k - 1, k, k + 1):
        lo = kk * day + start
        hi = lo + length
        distance = max(lo - c, 0.0, c - hi)
        if best is None or distance < best[0]:
            best = (distance, lo, hi)
    return best[1] - clock_at_zero, best[2] - clock_at_zero


def _closure(w: np.ndarray) -> np.ndarray:
    d = w.copy()
    for k in range(d.shape[0]):
        d = np.minimum(d, d[:, k:k + 1] + d[k:k + 1, :])
    return d


class FeasibleMap(eqx.Module):
    """z ↦ x: unconstrained vector to feasible decision (see the module docstring).

    Build it with :func:`feasible_map`. ``kind[k]`` says which of variable ``k``'s bounds
    can be finite (static); the bound data are arrays, so new bounds never recompile.
    """

    kind: tuple = eqx.field(static=True)
    n_time: int = eqx.field(static=True)
    n_amount: int = eqx.field(static=True)
    time_lower: tuple = eqx.field(static=True)  # per time variable: mask over (zero node, earlier variables)
    time_upper: tuple = eqx.field(static=True)
    amount_days: tuple = eqx.field(static=True)  # per amount variable: the day rows that bind it
    closure: jax.Array  # (G+1, G+1) shortest paths, inf replaced by 0 (masked)
    amount_lo: jax.Array
    amount_hi: jax.Array
    caps: jax.Array  # (days,)
    counts: jax.Array  # (days, amount variables)
    duration_lo: jax.Array
    duration_hi: jax.Array
    scale: jax.Array  # (n,): width used by softplus / free variables
    center: jax.Array  # (n,): value of a free variable at z = 0

    def _squash(self, k, z, lo, hi):
        kind, s = self.kind[k], self.scale[k]
        if kind == BOTH:
            return lo + (hi - lo) * jax.nn.sigmoid(z)
        if kind == LOWER:
            return lo + s * jax.nn.softplus(z)
        if kind == UPPER:
            return hi - s * jax.nn.softplus(-z)
        return self.center[k] + s * z

    def __call__(self, z):
        """The feasible decision vector for ``z`` (pure JAX)."""
        xs = []
        d = self.closure
        for k in range(self.n_time):
            prev = jnp.concatenate([jnp.zeros((1,)), jnp.stack(xs)]) if xs else jnp.zeros((1,))
            lo = jnp.max(jnp.where(np.asarray(self.time_lower[k]), prev - d[k + 1, :k + 1], -jnp.inf))
            hi = jnp.min(jnp.where(np.asarray(self.time_upper[k]), prev + d[:k + 1, k + 1], jnp.inf))
            xs.append(self._squash(k, z[k], lo, hi))
        amounts = []
        for j in range(self.n_amount):
            k = self.n_time + j
            hi = self.amount_hi[j]
            rows = list(self.amount_days[j])
            if rows:
                earlier = self.counts[:, :j] @ jnp.stack(amounts) if amounts else 0.0
                later = self.counts[:, j + 1:] @ self.amount_lo[j + 1:]
                room = (self.caps - earlier - later)[np.asarray(rows)] / self.counts[np.asarray(rows), j]
                hi = jnp.minimum(hi, jnp.min(room))
            amounts.append(self._squash(k, z[k], self.amount_lo[j], hi))
        durations = [self._squash(self.n_time + self.n_amount + j, z[self.n_time + self.n_amount + j],
                                  self.duration_lo[j], self.duration_hi[j])
                     for j in range(self.duration_lo.shape[0])]
        return jnp.stack(xs + amounts + durations)

    def inverse(self, x) -> np.ndarray:
        """A ``z`` that maps to ``x`` (moved just inside the feasible set if ``x`` is outside or on its edge)."""
        x = np.asarray(x, np.float64).copy()
        z = np.zeros_like(x)
        d = np.asarray(self.closure)
        counts, caps = np.asarray(self.counts), np.asarray(self.caps)
        a_lo, a_hi = np.asarray(self.amount_lo), np.asarray(self.amount_hi)
        for k in range(x.shape[0]):
            if k < self.n_time:
                prev = np.concatenate([[0.0], x[:k]])
                lo_terms = (prev - d[k + 1, :k + 1])[np.asarray(self.time_lower[k])]
                hi_terms = (prev + d[:k + 1, k + 1])[np.asarray(self.time_upper[k])]
                lo = lo_terms.max() if lo_terms.size else -np.inf
                hi = hi_terms.min() if hi_terms.size else np.inf
            elif k < self.n_time + self.n_amount:
                j = k - self.n_time
                lo, hi = a_lo[j], a_hi[j]
                rows = list(self.amount_days[j])
                if rows:
                    room = caps - counts[:, :j] @ x[self.n_time:k] - counts[:, j + 1:] @ a_lo[j + 1:]
                    hi = min(hi, np.min(room[rows] / counts[rows, j]))
            else:
                j = k - self.n_time - self.n_amount
                lo, hi = float(self.duration_lo[j]), float(self.duration_hi[j])
            z[k], x[k] = self._unsquash(k, x[k], lo, hi)
        return z

    def _unsquash(self, k, x, lo, hi):
        kind, s = self.kind[k], float(self.scale[k])
        if kind == BOTH:
            f = np.clip((x - lo) / (hi - lo), _EPS, 1 - _EPS) if hi > lo else 0.5
            return math.log(f / (1 - f)), lo + (hi - lo) * f
        if kind == LOWER:
            u = max((x - lo) / s, _EPS)
            return u + math.log(-math.expm1(-u)), lo + s * u  # softplus^-1(u) = log(e^u - 1)
        if kind == UPPER:
            u = max((hi - x) / s, _EPS)
            return -(u + math.log(-math.expm1(-u))), hi - s * u
        return (x - float(self.center[k])) / s, x


def feasible_map(decision: Decision, doses: DoseNumbers, *, time_range, bounds=None, clock_hours=None,
                 min_interval=None, max_daily=None, day=24.0, clock_at_zero=0.0) -> FeasibleMap:
    """Build the reparameterisation for a decision and its constraints (checks that they can hold).

    Args:
        time_range: (first, last) allowed dose time by default (the simulated span).
        bounds: ``{"amount": (lo, hi), "time": (lo, hi), "duration": (lo, hi)}``; ``None`` ends
            are open (amounts default to ``(0, None)``, times to ``time_range``, durations to
            ``(0.01 × initial, None)``).
        clock_hours, min_interval, max_daily, day, clock_at_zero: see :func:`qsp.optimize_regimen`.
    """
    bounds = dict(bounds or {})
    unknown = set(bounds) - set(FIELDS)
    if unknown:
        raise DosingError(f"bounds has {sorted(unknown)[0]!r}; bounds are for {FIELDS}.")
    sizes = decision.sizes
    x0 = decision.initial(doses)
    kinds = doses.kinds()
    t_base = np.asarray(doses.numbers["time"], np.float64)
    amounts = np.asarray(doses.numbers["amount"], np.float64)
    span = float(time_range[1] - time_range[0]) or 1.0

    def pair(field, default):
        lo, hi = bounds.get(field, default)
        lo = -np.inf if lo is None else float(lo)
        hi = np.inf if hi is None else float(hi)
        if lo > hi:
            raise DosingError(f"bounds[{field!r}] = {bounds[field]}: the lower bound is above the upper one.")
        return lo, hi

    # ---- times: a simple temporal network over (zero node, time variables)
    g = sizes["time"]
    node = decision.labels["time"] + 1  # 0: fixed dose (the zero node), k+1: time variable k
    w = np.full((g + 1, g + 1), np.inf)
    np.fill_diagonal(w, 0.0)
    t_lo, t_hi = pair("time", time_range)
    for i in np.nonzero(node > 0)[0]:
        lo, hi = t_lo, t_hi
        if clock_hours is not None:
            c_lo, c_hi = clock_window(float(t_base[i]), clock_hours, float(day), float(clock_at_zero))
            lo, hi = max(lo, c_lo), min(hi, c_hi)
        if lo > hi:
            raise DosingError(f"dose {i + 1} (at {t_base[i]:g}) has no allowed time: its bounds {(t_lo, t_hi)} and "
                              f"clock window do not overlap.")
        k = node[i]
        w[0, k] = min(w[0, k], hi - t_base[i])  # x_k - 0 <= hi - t_i
        w[k, 0] = min(w[k, 0], t_base[i] - lo)  # 0 - x_k <= t_i - lo
    if min_interval is not None and g:
        gap = float(min_interval)
        order = [i for i in np.argsort(t_base, kind="stable") if kinds[i] != "reset"]
        for i, j in zip(order[:-1], order[1:]):
            a, b = node[i], node[j]
            slack = t_base[j] - t_base[i] - gap  # x_a - x_b <= t_j - t_i - gap
            if a == b:
                if slack < -1e-12:
                    raise DosingError(f"doses {i + 1} and {j + 1} are {t_base[j] - t_base[i]:g} apart and move "
                                      f"together (or not at all): they can never be min_interval={gap:g} apart.")
                continue
            w[b, a] = min(w[b, a], slack)
    dist = _closure(w)
    if np.any(np.diag(dist) < -1e-9):
        raise DosingError("the time constraints cannot all hold (bounds, clock_hours and min_interval conflict); "
                          "widen the bounds or clock hours, or shorten min_interval.")
    time_lower = tuple(tuple(bool(np.isfinite(dist[k + 1, a])) for a in range(k + 1)) for k in range(g))
    time_upper = tuple(tuple(bool(np.isfinite(dist[a, k + 1])) for a in range(k + 1)) for k in range(g))

    # ---- amounts: boxes and daily caps
    ga = sizes["amount"]
    a_lo, a_hi = pair("amount", (0.0, None))
    if a_lo < 0:
        raise DosingError(f"bounds['amount'] = {bounds['amount']}: amounts cannot be negative.")
    caps, counts = np.zeros((0,)), np.zeros((0, ga))
    if max_daily is not None:
        if sizes["time"] and clock_hours is None:
            raise DosingError("max_daily with varying dose times needs clock_hours=(start, end), so that each dose "
                              "stays on its day (days are taken from the initial dose times).")
        days = np.floor((t_base + clock_at_zero) / day).astype(int)
        rows = sorted({int(d) for d, kind in zip(days, kinds) if kind != "reset"})
        caps, counts = np.zeros(len(rows)), np.zeros((len(rows), ga))
        labels = decision.labels["amount"]
        for r, dday in enumerate(rows):
            on_day = (days == dday) & np.array([k != "reset" for k in kinds])
            fixed = on_day & (labels < 0)
            caps[r] = float(max_daily) - amounts[fixed].sum()
            for k in labels[on_day & (labels >= 0)]:
                counts[r, k] += 1
            if caps[r] < counts[r] @ np.full(ga, a_lo) - 1e-12:
                raise DosingError(f"max_daily={max_daily:g} cannot hold on day {dday} (clock day from time "
                                  f"{dday * day - clock_at_zero:g}): its fixed doses and smallest allowed amounts "
                                  "already exceed it.")
    amount_days = tuple(tuple(int(r) for r in np.nonzero(counts[:, j] > 0)[0]) for j in range(ga))

    # ---- durations: boxes
    gd = sizes["duration"]
    sl = decision.slices()
    initial_durations = x0[sl["duration"]]
    d_lo = np.zeros(gd)
    d_hi = np.zeros(gd)
    for j in range(gd):
        lo, hi = pair("duration", (0.01 * initial_durations[j], None))
        if lo <= 0:
            raise DosingError(f"bounds['duration'] = {bounds.get('duration')}: infusion durations must stay positive.")
        d_lo[j], d_hi[j] = lo, hi

    kind = []
    for k in range(g):
        kind.append((LOWER if any(time_lower[k]) else NONE) | (UPPER if any(time_upper[k]) else NONE))
    for j in range(ga):
        kind.append(LOWER | (UPPER if (np.isfinite(a_hi) or amount_days[j]) else NONE))
    for j in range(gd):
        kind.append(LOWER | (UPPER if np.isfinite(d_hi[j]) else NONE))
    scale = np.concatenate([np.full(g, span / 10.0), np.maximum(np.abs(x0[sl["amount"]]), 1e-12),
                            np.maximum(initial_durations, 1e-12)])
    return FeasibleMap(tuple(kind), g, ga, time_lower, time_upper, amount_days,
                       jnp.asarray(np.where(np.isfinite(dist), dist, 0.0)), jnp.full(ga, a_lo), jnp.full(ga, a_hi),
                       jnp.asarray(caps), jnp.asarray(counts), jnp.asarray(d_lo), jnp.asarray(d_hi),
                       jnp.asarray(scale), jnp.asarray(x0))
