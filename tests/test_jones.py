"""The compiled per-row Jones and correlation-frame kernels against numpy's matrix algebra,
and the row chunks visibility loops use."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from flint.askap.frames import apply_matrix, sky_matrix, to_askap, to_sky
from flint.calibration.jones import invert_jones, sandwich_rows
from flint.ms.access import CHUNK_BYTES, row_chunks


def _sandwich(left: np.ndarray, vis: np.ndarray, right: np.ndarray) -> np.ndarray:
    """``L V R^H`` per row with numpy's 2x2 matrix products: the reference."""
    matrices = [m.reshape(*m.shape[:-1], 2, 2) for m in (left, vis, right)]
    product = matrices[0] @ matrices[1] @ np.conj(np.swapaxes(matrices[2], -1, -2))
    return product.reshape(vis.shape)


def _complex(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.normal(size=shape) + 1j * rng.normal(size=shape)


@pytest.mark.parametrize("jones_channels", [1, 7])
def test_sandwich_rows_is_the_matrix_product_per_row_interval_and_channel(jones_channels):
    rng = np.random.default_rng(3)
    n_row, n_chan, n_ant, n_interval = 500, 7, 6, 3
    vis = _complex(rng, n_row, n_chan, 4).astype(np.complex64)
    jones = _complex(rng, n_interval, n_ant, jones_channels, 4)
    ant1, ant2 = rng.integers(0, n_ant, n_row), rng.integers(0, n_ant, n_row)
    which = rng.integers(0, n_interval, n_row)
    expected = _sandwich(jones[which, ant1], vis.astype(np.complex128), jones[which, ant2])
    got = sandwich_rows(vis, jones, ant1, ant2, which, np.complex128)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    single = sandwich_rows(vis, jones, ant1, ant2, which)  # the data's own precision
    assert single.dtype == np.complex64
    np.testing.assert_allclose(single, expected, rtol=1e-5, atol=1e-5)
    # correcting with the inverses undoes it, and flagged (NaN) gains give NaN rows
    inverse = invert_jones(jones)
    restored = sandwich_rows(got, inverse, ant1, ant2, which)
    np.testing.assert_allclose(restored, vis, rtol=1e-9, atol=1e-9)
    jones[0, 2] = np.nan
    hit = (which == 0) & ((ant1 == 2) | (ant2 == 2))
    nan_rows = ~np.isfinite(sandwich_rows(vis, jones, ant1, ant2, which)).all(axis=(1, 2))
    np.testing.assert_array_equal(nan_rows, hit)


def test_sandwich_rows_refuses_jones_of_other_channels():
    vis = np.zeros((4, 5, 4), np.complex64)
    with pytest.raises(ValueError, match="3 channels for data of 5"):
        sandwich_rows(vis, np.zeros((2, 3, 4)), np.zeros(4, int), np.zeros(4, int))


def test_frame_conversion_matches_the_fixms_matrix_and_inverts():
    rng = np.random.default_rng(4)
    correlations = _complex(rng, 40, 9, 4).astype(np.complex64)
    matrix = sky_matrix(-45.0, True)
    expected = np.einsum("ij,...j->...i", matrix, correlations.astype(np.complex128))
    np.testing.assert_allclose(to_sky(correlations, -45.0, True), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(apply_matrix(matrix, correlations.astype(complex)), expected)
    back = to_askap(to_sky(correlations, -45.0, True), -45.0, True)
    np.testing.assert_allclose(back, correlations, rtol=1e-5, atol=1e-5)


class _Table:
    """What row_chunks reads of an open table."""

    def __init__(self, rows: int, cell: tuple[int, ...]) -> None:
        self.rows, self.cell = rows, cell

    def nrows(self) -> int:
        return self.rows

    def colnames(self) -> list[str]:
        return ["DATA", "FLAG"]

    def iscelldefined(self, column: str, row: int) -> bool:
        return True

    def getcell(self, column: str, row: int) -> np.ndarray:
        return np.zeros(self.cell, np.complex64)


@pytest.mark.parametrize("channels", [36, 288])
def test_row_chunks_cover_every_row_once_in_chunks_of_the_target_size(channels):
    table = _Table(56_701, (channels, 4))
    spans = list(row_chunks(table))
    starts = [first for first, _ in spans]
    assert starts == sorted(starts) and starts[0] == 0
    assert sum(rows for _, rows in spans) == 56_701
    assert all(a + n == b for (a, n), (b, _) in itertools.pairwise(spans))
    assert max(rows for _, rows in spans) * channels * 4 * 8 <= CHUNK_BYTES
    assert list(row_chunks(table, 10)) == [(0, 10)]
