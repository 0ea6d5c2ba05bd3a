"""Exposure summaries of simulated concentration–time profiles (NCA-style, on the output grid)."""

from __future__ import annotations

import numpy as np


def _window_fraction(t, c, lo, hi):
    """Time with lo <= c <= hi, by linear interpolation between grid points."""
    total = 0.0
    for i in range(len(t) - 1):
        t0, t1, c0, c1 = t[i], t[i + 1], c[i], c[i + 1]
        if t1 <= t0:
            continue
        if c1 == c0:
            total += (t1 - t0) * float(lo <= c0 <= hi)
            continue
        # the part of [t0, t1] where the linear segment lies in [lo, hi]
        a = (lo - c0) / (c1 - c0)
        b = (hi - c0) / (c1 - c0)
        s0, s1 = max(0.0, min(a, b)), min(1.0, max(a, b))
        total += max(0.0, s1 - s0) * (t1 - t0)
    return total


def summarise(ts, values, ids=None, *, start=None, end=None, window=None):
    """Per-subject exposure metrics of ``values`` (S, T) at times ``ts`` (T,) or (S, T).

    Over the outputs with ``start <= t <= end``:

    * ``Cmax``, ``Tmax``: the largest value and its (first) time;
    * ``Cmin``: the smallest value; ``Ctrough``: the value at the last time (``end``);
    * ``AUC``: the area by the linear trapezoidal rule, :math:`\\sum (t_{i+1}-t_i)(c_i+c_{i+1})/2`
      (exact for piecewise-linear profiles; refine the grid for curvature);
    * ``Cavg`` = AUC / (end − start);
    * with ``window=(lo, hi)``: ``time_in_window`` and ``fraction_in_window``, with linear
      interpolation between outputs.

    Returns a pandas DataFrame with one row per subject.

    Example:
        >>> import numpy as np
        >>> t = np.array([0.0, 1.0, 2.0])
        >>> df = summarise(t, np.array([[0.0, 2.0, 1.0]]))
        >>> float(df["AUC"][0]), float(df["Cmax"][0]), float(df["Tmax"][0])
        (2.5, 2.0, 1.0)
    """
    import pandas as pd

    values = np.atleast_2d(np.asarray(values, dtype=float))
    n = values.shape[0]
    ts = np.broadcast_to(np.asarray(ts, dtype=float), values.shape)
    ids = np.arange(1, n + 1) if ids is None else np.asarray(ids)
    rows = []
    for s in range(n):
        t, c = ts[s], values[s]
        keep = np.ones_like(t, dtype=bool)
        if start is not None:
            keep &= t >= start
        if end is not None:
            keep &= t <= end
        t, c = t[keep], c[keep]
        if t.size == 0:
            raise ValueError(f"no output times in [{start}, {end}]; widen the interval or add output times.")
        i_max = int(np.argmax(c))
        auc = float(np.sum(np.diff(t) * (c[1:] + c[:-1]) / 2.0))
        span = float(t[-1] - t[0])
        row = dict(ID=ids[s], Cmax=float(c[i_max]), Tmax=float(t[i_max]), Cmin=float(np.min(c)),
                   Ctrough=float(c[-1]), AUC=auc, Cavg=auc / span if span > 0 else float(c[0]))
        if window is not None:
            lo, hi = window
            tin = _window_fraction(t, c, float(lo), float(hi))
            row["time_in_window"] = tin
            row["fraction_in_window"] = tin / span if span > 0 else float(lo <= c[0] <= hi)
        rows.append(row)
    return pd.DataFrame(rows)
