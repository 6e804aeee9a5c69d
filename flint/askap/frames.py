"""ASKAP's correlation frame and Stokes convention, to and from the sky frame.

ASKAP's phased-array feeds record correlations in the instrument (PAF) frame, rotated by
the third-axis (polarisation axis) angle ``P = 45 deg - RECEPTOR_ANGLE``; ASKAPsoft
calibrated products (CASDA) also use ``I = XX + YY``, half the usual ``(XX + YY) / 2``
values. ``fixms`` converts both to the sky frame; :func:`to_askap` is its exact inverse,
which the simulator uses to write data as the telescope and CASDA deliver them.
"""

from __future__ import annotations

import functools

import numba
import numpy as np
from numpy.typing import NDArray

PAF_POL_AXIS_DEG = -45.0
"""ASKAP's usual polarisation-axis angle (RECEPTOR_ANGLE 90 deg)."""


def sky_matrix(pol_axis_deg: float, fix_stokes_factor: bool) -> NDArray[np.float64]:
    """The 4x4 matrix fixms applies to (XX, XY, YX, YY) to reach the sky frame."""
    matrix = _fixms_matrix(float(pol_axis_deg))
    return matrix if fix_stokes_factor else 0.5 * matrix


@functools.lru_cache(maxsize=16)
def _fixms_matrix(pol_axis_deg: float) -> NDArray[np.float64]:
    from astropy import units as u
    from fixms.fix_ms_corrs import convert_correlations

    # convert_correlations maps each row x to M x: rows of the identity give M transposed
    matrix = np.asarray(convert_correlations(np.eye(4), pol_axis_deg * u.deg, True)).T.real
    matrix[np.abs(matrix) < 1e-12] = 0.0  # cos(2P) of P = -45 deg is exactly zero
    matrix.setflags(write=False)
    return matrix


@numba.njit(cache=True, nogil=True)
def _transform(matrix, correlations, out):  # pragma: no cover (compiled)
    for row in range(correlations.shape[0]):
        for i in range(4):
            total = 0j
            for j in range(4):
                total += matrix[i, j] * correlations[row, j]
            out[row, i] = total


def apply_matrix(matrix: NDArray, correlations: NDArray) -> NDArray:
    """Real ``matrix @ c`` for every correlation vector ``c`` of ``correlations`` ``[..., 4]``,
    in double precision, returned in ``correlations``' dtype."""
    flat = np.ascontiguousarray(correlations).reshape(-1, 4)
    out = np.empty(flat.shape, correlations.dtype)
    _transform(np.asarray(matrix, np.float64), flat, out)
    return out.reshape(correlations.shape)


def to_sky(correlations: NDArray, pol_axis_deg: float, fix_stokes_factor: bool = False) -> NDArray:
    """Instrument-frame correlations ``[..., 4]`` in the sky frame (as fixms converts them)."""
    matrix = sky_matrix(pol_axis_deg, fix_stokes_factor)
    return apply_matrix(matrix, correlations)


def to_askap(correlations: NDArray, pol_axis_deg: float, askapsoft_stokes: bool = False) -> NDArray:
    """Sky-frame correlations ``[..., 4]`` as the instrument records them (inverse of
    :func:`to_sky`); ``askapsoft_stokes`` halves them as ASKAPsoft's I = XX + YY does."""
    matrix = np.linalg.inv(sky_matrix(pol_axis_deg, askapsoft_stokes))
    return apply_matrix(matrix, correlations)


def receptor_angles_rad(pol_axis_deg: float) -> NDArray[np.float64]:
    """FEED ``RECEPTOR_ANGLE`` (X, Y) of a feed whose polarisation axis is ``pol_axis_deg``."""
    feed = 45.0 - pol_axis_deg
    return np.radians([feed, feed + 90.0])


def pol_axis_from_receptor_angle(receptor_angle_rad: float) -> float:
    """The polarisation-axis angle (deg) of a feed's first ``RECEPTOR_ANGLE``."""
    return float(45.0 - np.degrees(receptor_angle_rad))
