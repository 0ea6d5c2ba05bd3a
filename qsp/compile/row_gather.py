"""A sparse matrix-vector product ``S · v`` made of gathers only, no scatter and no dense dot.

Why: XLA:CPU runs a scatter-add element by element in a serial loop and a dense ``S @ v`` does
``n × R`` multiplications for ``nnz ≈ 2.5 n`` useful ones; and a loop that holds a scatter or a
dot can never compile into one native function (``qsp._small_loops``). Gathering each row's
entries instead — padded to a common width, rows grouped by their number of entries so the
padding stays small — is plain element-wise code. Measured per right-hand-side evaluation of
``bench_spine``'s random mass-action networks (jitted, 2-core CPU): 100 states 2.6 µs (dense
``S @ v``) -> 0.8 µs; 500 states 5.8 µs (scatter-add) -> 3.7 µs.

The layout (ELLPACK in bands): rows with ``d`` entries go to the band of the smallest width
``w >= d`` among at most ``MAX_BANDS`` widths (:func:`band_widths`); a band of ``m`` rows holds an index array of shape ``(w, m)`` into
``[v, 0]`` (padding points at the trailing zero) and the matching coefficients, and computes
``Σ_k coeffs[k] · v[index[k]]``. The bands' results are concatenated and permuted back into row
order (rows with no entry read a zero).
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

#: Bands per matrix. Each band is a few more XLA operations in every traced evaluation, and each
#: fewer band more padding. Measured (``"auto"`` simulation of a random 500-state network,
#: 2-core CPU): 1 band 282 ms (one 11-wide band: XLA:CPU's slow case), 2 bands 53 ms, 3 bands
#: 49 ms, 5 bands 44 ms; the first call 0.1 s slower from 1 to 5 bands.
MAX_BANDS = 5


def band_widths(degrees, max_bands: int) -> list[int]:
    """At most ``max_bands`` widths that minimise the padded size ``Σ_rows width(row)``, each
    row going to the smallest width that holds its ``degree`` entries (dynamic programming over
    the distinct degrees; the largest degree is always a width)."""
    if not degrees:
        return []
    distinct = sorted(set(degrees))
    count = {d: 0 for d in distinct}
    for d in degrees:
        count[d] += 1
    m = len(distinct)
    prefix = np.concatenate([[0], np.cumsum([count[d] for d in distinct])])

    def cost(i, j):  # rows of distinct[i..j] padded to distinct[j]
        return distinct[j] * int(prefix[j + 1] - prefix[i])
    # best[b][j]: least padded size of the rows of distinct[0..j] in at most b + 1 bands, the
    # widest distinct[j]; choice[b][j]: the last degree of the band below (-1: none)
    best, choice = [[cost(0, j) for j in range(m)]], [[-1] * m]
    for b in range(1, max_bands):
        options = [[(best[b - 1][i] + cost(i + 1, j), i) for i in range(j)] + [(cost(0, j), -1)] for j in range(m)]
        best.append([min(o)[0] for o in options])
        choice.append([min(o)[1] for o in options])
    widths, j, b = [], m - 1, max_bands - 1
    while j >= 0:
        widths.append(distinct[j])
        j, b = choice[b][j], b - 1
    return sorted(widths)


class Band(NamedTuple):
    index: np.ndarray  # (w * m,) int32, column-major over (w, m): entry k of row i at k * m + i
    coefficients: np.ndarray  # (w, m)


class RowGather(NamedTuple):
    """``S · v`` for a fixed sparse ``S`` (see the module docstring); build with :func:`row_gather`.

    Example::

        >>> import numpy as np, jax.numpy as jnp
        >>> S = row_gather(rows=[0, 0, 1], cols=[0, 1, 1], vals=[-1.0, 2.0, 1.0], shape=(3, 2))
        >>> S.apply(jnp.array([1.0, 10.0]))   # [-1 + 20, 10, 0]
        Array([19., 10.,  0.], dtype=float64)
    """

    bands: tuple  # of Band
    order: np.ndarray  # (n_rows,) int32: row i's position in the bands' concatenated results
    n_cols: int

    def apply(self, v):
        """``S · v`` for ``v`` of shape ``(n_cols,)``."""
        padded = jnp.concatenate([v, jnp.zeros((1,), v.dtype)])
        parts = []
        for band in self.bands:
            width, m = band.coefficients.shape
            # one flat gather per band (a 2-D index array made XLA:CPU's gather 5x slower)
            taken = padded[band.index].reshape(width, m)
            parts.append(jnp.sum(band.coefficients * taken, axis=0))
        parts.append(jnp.zeros((1,), v.dtype))  # what rows without entries read
        return jnp.concatenate(parts)[self.order]


def row_gather(rows, cols, vals, shape: tuple[int, int]) -> RowGather:
    """The banded layout of the sparse matrix with entries ``(rows[e], cols[e]) = vals[e]``
    (repeated coordinates add up) and ``shape = (n_rows, n_cols)``."""
    n_rows, n_cols = shape
    rows, cols, vals = np.asarray(rows, np.int64), np.asarray(cols, np.int64), np.asarray(vals, np.float64)
    entries: list[list[tuple[int, float]]] = [[] for _ in range(n_rows)]
    merged: dict[tuple[int, int], float] = {}
    for r, c, x in zip(rows.tolist(), cols.tolist(), vals.tolist()):
        merged[r, c] = merged.get((r, c), 0.0) + x
    for (r, c), x in merged.items():
        if x != 0.0:
            entries[r].append((c, x))
    widths = band_widths([len(e) for e in entries if e], MAX_BANDS)
    band_of = [next(w for w in widths if w >= len(e)) if e else 0 for e in entries]
    bands, order = [], np.full(n_rows, -1, np.int64)
    position = 0
    for w in widths:
        members = [i for i in range(n_rows) if band_of[i] == w]
        if not members:
            continue
        index = np.full((w, len(members)), n_cols, np.int32)  # padding: the trailing zero
        coefficients = np.zeros((w, len(members)))
        for j, i in enumerate(members):
            for k, (c, x) in enumerate(sorted(entries[i])):
                index[k, j], coefficients[k, j] = c, x
            order[i] = position + j
        position += len(members)
        bands.append(Band(index.reshape(-1), coefficients))
    order[order < 0] = position  # rows without entries: the zero appended after the bands
    return RowGather(tuple(bands), order.astype(np.int32), n_cols)
