"""Rounding optimised amounts to what can be given: whole units of the available strengths."""

from __future__ import annotations

from functools import reduce
from math import gcd

import numpy as np

from ..errors import DosingError


def achievable_amounts(strengths, limit: float) -> np.ndarray:
    """Every amount up to ``limit`` made of whole units of ``strengths`` (tablets, vials), sorted.

    Example:
        >>> achievable_amounts([250, 500], 1000).tolist()
        [0.0, 250.0, 500.0, 750.0, 1000.0]
        >>> achievable_amounts([100, 250], 500).tolist()
        [0.0, 100.0, 200.0, 250.0, 300.0, 350.0, 400.0, 450.0, 500.0]
    """
    s = np.asarray(strengths, np.float64)
    if s.ndim != 1 or s.size == 0 or not np.all(s > 0):
        raise DosingError(f"strengths={strengths!r}: give the available unit amounts, e.g. [250, 500].")
    # work on an integer grid: strengths are usually round numbers; keep 1e-6 resolution otherwise
    unit = 1e-6 * float(s.max())
    ints = np.rint(s / unit).astype(np.int64)
    step = reduce(gcd, ints.tolist())
    ints //= step
    base = float(s[0]) / int(ints[0])  # the amount of one grid step, exact for round strengths (40, 100 -> 20)
    top = int(np.floor(limit / base + 1e-9))
    if top > 200_000:
        raise DosingError(f"strengths={strengths!r} up to {limit:g}: too many combinations; use coarser strengths.")
    reachable = np.zeros(top + 1, bool)
    reachable[0] = True
    for v in ints:
        for a in range(int(v), top + 1):
            reachable[a] |= reachable[a - int(v)]
    return np.nonzero(reachable)[0].astype(np.float64) * base


def round_amounts(x, groups_per_day, caps, lo, hi, strengths) -> np.ndarray:
    """The achievable amounts nearest to ``x`` (one per amount variable) that keep the bounds
    ``[lo, hi]`` and the daily caps (``groups_per_day @ a <= caps``).

    Each amount goes to its nearest achievable value inside its bounds; while a day's cap is
    exceeded, the amount on that day that was rounded up the most is rounded down instead.

    Example:
        >>> round_amounts(np.array([620.0, 610.0]), np.array([[1.0, 1.0]]), np.array([1200.0]), 0.0, np.inf,
        ...               [250.0]).tolist()
        [500.0, 500.0]
    """
    x = np.asarray(x, np.float64)
    if x.size == 0:
        return x
    top = float(np.max(x)) * 2 + float(np.max(strengths))
    if np.isfinite(hi):
        top = min(top, float(hi))
    grid = achievable_amounts(strengths, top)
    grid = grid[(grid >= lo - 1e-9) & (grid <= hi + 1e-9)]
    if grid.size == 0:
        raise DosingError(f"no amount made of strengths {list(strengths)} lies within the bounds [{lo:g}, {hi:g}].")
    index = np.clip(np.searchsorted(grid, x), 1, max(grid.size - 1, 1))
    below = grid[index - 1]
    above = grid[np.minimum(index, grid.size - 1)]
    out = np.where(np.abs(x - below) <= np.abs(above - x), below, above)
    counts, caps = np.asarray(groups_per_day, np.float64), np.asarray(caps, np.float64)
    for _ in range(10 * x.size):
        excess = counts @ out - caps
        if not np.any(excess > 1e-9):
            return out
        day = int(np.argmax(excess))
        on_day = counts[day] > 0
        up = np.where(on_day & (out > x), out - x, -np.inf)
        k = int(np.argmax(up)) if np.isfinite(up).any() else int(np.argmax(np.where(on_day, out, -np.inf)))
        lower = grid[grid < out[k] - 1e-9]
        if lower.size == 0:
            break
        out[k] = lower[-1]
    raise DosingError("the amounts cannot be rounded to the available strengths within max_daily; "
                      "add a smaller strength or raise max_daily.")
