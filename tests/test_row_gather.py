"""The gather-only sparse mat-vec (``qsp.compile.row_gather``) against numpy's dense product,
and its band widths against an exhaustive search."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from qsp.compile.row_gather import band_widths, row_gather


def _dense(rows, cols, vals, shape):
    out = np.zeros(shape)
    np.add.at(out, (rows, cols), vals)
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_the_dense_product(seed):
    """Random sparse matrices with repeated coordinates (which add up), rows without entries,
    columns no row uses and one hub row of 300 entries (wider than any listed band); the same
    sums in another order, so agreement to 1e-13 relative to the largest term."""
    rng = np.random.default_rng(seed)
    n_rows, n_cols, nnz = 60, 400, 500
    rows = rng.integers(0, n_rows - 5, nnz)  # the last five rows stay empty...
    cols = rng.integers(0, n_cols - 7, nnz)  # ...and the last seven columns unused
    vals = rng.choice([-2.0, -1.0, 1.0, 0.5, 3.0], nnz)
    rows = np.concatenate([rows, rows[:20], np.full(300, 7)])  # repeats, and the hub row 7
    cols = np.concatenate([cols, cols[:20], np.arange(300)])
    vals = np.concatenate([vals, vals[:20], rng.normal(size=300)])
    S = row_gather(rows, cols, vals, (n_rows, n_cols))
    v = rng.normal(size=n_cols)
    want = _dense(rows, cols, vals, (n_rows, n_cols)) @ v
    got = np.asarray(jax.jit(S.apply)(jnp.asarray(v)))
    scale = np.max(np.abs(_dense(rows, cols, vals, (n_rows, n_cols)))) * np.max(np.abs(v))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-13 * scale * 300)
    assert np.all(got[-5:] == 0.0)


def test_entries_that_cancel_are_dropped_and_an_empty_matrix_gives_zeros():
    S = row_gather([0, 0, 1], [2, 2, 0], [1.0, -1.0, 4.0], (3, 3))
    assert sum(b.coefficients.size for b in S.bands) == 1  # row 0's entries cancelled
    np.testing.assert_array_equal(np.asarray(S.apply(jnp.array([1.0, 2.0, 3.0]))), [0.0, 4.0, 0.0])
    empty = row_gather([], [], [], (4, 2))
    np.testing.assert_array_equal(np.asarray(empty.apply(jnp.array([1.0, 2.0]))), np.zeros(4))


def _padded(degrees, widths):
    return sum(min(w for w in widths if w >= d) for d in degrees)


@pytest.mark.parametrize("seed", range(6))
def test_band_widths_are_the_least_padding(seed):
    """The dynamic programme's widths pad no more than the best of every choice of at most
    ``max_bands`` distinct degrees that includes the largest (exhaustive search)."""
    rng = np.random.default_rng(seed)
    degrees = list(rng.integers(1, 15, 40)) + [int(rng.integers(15, 40))]
    distinct = sorted(set(degrees))
    for max_bands in (1, 2, 3, 4):
        widths = band_widths(degrees, max_bands)
        assert len(widths) <= max_bands and widths[-1] == max(degrees)
        best = min(_padded(degrees, list(extra) + [distinct[-1]])
                   for k in range(max_bands) for extra in itertools.combinations(distinct[:-1], k))
        assert _padded(degrees, widths) == best
