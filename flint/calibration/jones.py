"""Per-antenna Jones matrices acting on visibilities: corrupt (forward) and correct (inverse).

Visibilities are rows ``[nRow, nChan, 4]`` in the order XX, XY, YX, YY (the 2x2 coherency
``[[XX, XY], [YX, YY]]``), gains ``[nAnt, nChan, 4]`` in the AO order J00, J01, J10, J11.
A baseline transforms as ``V' = J_p V J_q^H``; correcting applies the inverses.
"""

from __future__ import annotations

import numba
import numpy as np


def _as_matrices(values: np.ndarray) -> np.ndarray:
    return values.reshape(*values.shape[:-1], 2, 2)


def invert_jones(gains: np.ndarray) -> np.ndarray:
    """Inverse of each 2x2 Jones ``[..., 4]``; singular or NaN matrices give NaN."""
    j = _as_matrices(gains)
    det = j[..., 0, 0] * j[..., 1, 1] - j[..., 0, 1] * j[..., 1, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        inverse = np.stack(
            [j[..., 1, 1] / det, -j[..., 0, 1] / det, -j[..., 1, 0] / det, j[..., 0, 0] / det],
            axis=-1,
        )
    inverse[~np.isfinite(inverse).all(axis=-1) | (det == 0)] = np.nan
    return inverse


def diagonal_to_jones(gains: np.ndarray) -> np.ndarray:
    """``[..., 2]`` (gX, gY) to ``[..., 4]`` Jones with zero off-diagonal terms."""
    out = np.zeros((*gains.shape[:-1], 4), dtype=np.complex128)
    out[..., 0] = gains[..., 0]
    out[..., 3] = gains[..., 1]
    return out


@numba.njit(cache=True, nogil=True)
def _sandwich_rows(vis, jones, which, ant1, ant2, out):  # pragma: no cover (compiled)
    per_channel = jones.shape[2] > 1
    for row in range(vis.shape[0]):
        interval, p, q = which[row], ant1[row], ant2[row]
        for chan in range(vis.shape[1]):
            j = chan if per_channel else 0
            a0, a1 = jones[interval, p, j, 0], jones[interval, p, j, 1]
            a2, a3 = jones[interval, p, j, 2], jones[interval, p, j, 3]
            b0, b1 = np.conj(jones[interval, q, j, 0]), np.conj(jones[interval, q, j, 1])
            b2, b3 = np.conj(jones[interval, q, j, 2]), np.conj(jones[interval, q, j, 3])
            v0, v1, v2, v3 = (
                vis[row, chan, 0],
                vis[row, chan, 1],
                vis[row, chan, 2],
                vis[row, chan, 3],
            )
            t0, t1 = a0 * v0 + a1 * v2, a0 * v1 + a1 * v3  # L V
            t2, t3 = a2 * v0 + a3 * v2, a2 * v1 + a3 * v3
            out[row, chan, 0] = t0 * b0 + t1 * b1  # (L V) R^H
            out[row, chan, 1] = t0 * b2 + t1 * b3
            out[row, chan, 2] = t2 * b0 + t3 * b1
            out[row, chan, 3] = t2 * b2 + t3 * b3


def sandwich_rows(
    vis: np.ndarray,
    jones: np.ndarray,
    ant1: np.ndarray,
    ant2: np.ndarray,
    which: np.ndarray | None = None,
    dtype: np.dtype | type | None = None,
) -> np.ndarray:
    """``J_p V J_q^H`` for every row, without making per-row Jones arrays.

    ``jones`` is ``[nInterval, nAnt, nChan or 1, 4]`` (or ``[nAnt, nChan or 1, 4]``),
    ``which`` each row's interval (default 0), the result ``[nRow, nChan, 4]`` of ``dtype``
    (default: ``vis``'s), computed in double precision.
    """
    jones = np.asarray(jones, np.complex128)
    if jones.ndim == 3:
        jones = jones[None]
    if which is None:
        which = np.zeros(len(vis), np.intp)
    if jones.shape[2] not in (1, vis.shape[1]):
        raise ValueError(f"Jones of {jones.shape[2]} channels for data of {vis.shape[1]}")
    out = np.empty(vis.shape, dtype or vis.dtype)
    _sandwich_rows(
        np.ascontiguousarray(vis), np.ascontiguousarray(jones), np.asarray(which, np.intp),
        np.asarray(ant1, np.intp), np.asarray(ant2, np.intp), out,
    )  # fmt: skip
    return out


def corrupt(vis: np.ndarray, jones: np.ndarray, ant1: np.ndarray, ant2: np.ndarray) -> np.ndarray:
    """``J_p V J_q^H`` for every row (``jones`` is ``[nAnt, nChan, 4]``)."""
    return sandwich_rows(vis, jones, ant1, ant2, dtype=np.complex128)


def correct(vis: np.ndarray, jones: np.ndarray, ant1: np.ndarray, ant2: np.ndarray) -> np.ndarray:
    """``J_p^-1 V J_q^-H`` for every row; flagged (NaN) gains give NaN visibilities."""
    return sandwich_rows(vis, invert_jones(jones), ant1, ant2, dtype=np.complex128)
