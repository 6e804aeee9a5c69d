"""Per-antenna Jones matrices acting on visibilities: corrupt (forward) and correct (inverse).

Visibilities are rows ``[nRow, nChan, 4]`` in the order XX, XY, YX, YY (the 2x2 coherency
``[[XX, XY], [YX, YY]]``), gains ``[nAnt, nChan, 4]`` in the AO order J00, J01, J10, J11.
A baseline transforms as ``V' = J_p V J_q^H``; correcting applies the inverses.
"""

from __future__ import annotations

import numpy as np


def _as_matrices(values: np.ndarray) -> np.ndarray:
    return values.reshape(*values.shape[:-1], 2, 2)


def _hermitian(matrices: np.ndarray) -> np.ndarray:
    return np.conj(np.swapaxes(matrices, -1, -2))


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


def sandwich(left: np.ndarray, vis: np.ndarray, right: np.ndarray) -> np.ndarray:
    """``L V R^H`` per row: Jones ``left``, ``right`` and ``vis`` all ``[..., 4]``.

    The Jones arrays broadcast against ``vis`` (for example one channel for all channels).
    """
    product = _as_matrices(left) @ _as_matrices(vis) @ _hermitian(_as_matrices(right))
    return product.reshape(vis.shape)


def corrupt(vis: np.ndarray, jones: np.ndarray, ant1: np.ndarray, ant2: np.ndarray) -> np.ndarray:
    """``J_p V J_q^H`` for every row (``jones`` is ``[nAnt, nChan, 4]``)."""
    return sandwich(jones[ant1], vis, jones[ant2])


def correct(vis: np.ndarray, jones: np.ndarray, ant1: np.ndarray, ant2: np.ndarray) -> np.ndarray:
    """``J_p^-1 V J_q^-H`` for every row; flagged (NaN) gains give NaN visibilities."""
    inverse = invert_jones(jones)
    return sandwich(inverse[ant1], vis, inverse[ant2])
