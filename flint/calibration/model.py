"""Model visibilities of a calibrator (a few point components) by direct Fourier transform.

Convention (measurement sets, wsclean): ``V(u, v, w) = sum S exp(+2 pi i (u l + v m + w (n - 1)))``
with u, v, w in wavelengths and UVW = X[ANTENNA2] - X[ANTENNA1] (see
:mod:`flint.simulation.predict`); an unpolarised source gives XX = YY = I and XY = YX = 0.
"""

from __future__ import annotations

import os
from typing import Protocol

import numpy as np
from astropy.constants import c

from flint.errors import MeasurementSetError
from flint.ms import open_ms

SPEED_OF_LIGHT = c.value
CALIBRATORS = {"B1934-638": (294.85427542, -63.71267361)}
"""Known bandpass calibrators: J2000 (RA, Dec) in degrees."""


class PointSky(Protocol):
    """What the model needs from :class:`flint.sky.model.SkyModel`."""

    ra_deg: np.ndarray
    dec_deg: np.ndarray

    def flux_at(self, frequencies_hz: np.ndarray) -> np.ndarray: ...


def direction_cosines(
    ra_deg: np.ndarray, dec_deg: np.ndarray, centre_deg: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(l, m, n) of directions relative to the phase centre (SIN projection)."""
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    ra0, dec0 = np.radians(centre_deg[0]), np.radians(centre_deg[1])
    ell = np.cos(dec) * np.sin(ra - ra0)
    m = np.sin(dec) * np.cos(dec0) - np.cos(dec) * np.sin(dec0) * np.cos(ra - ra0)
    n = np.sqrt(np.maximum(0.0, 1.0 - ell**2 - m**2))
    return ell, m, n


def point_visibilities(
    uvw_m: np.ndarray,
    frequencies_hz: np.ndarray,
    sky: PointSky,
    phase_centre_deg: tuple[float, float],
) -> np.ndarray:
    """Stokes-I model ``[nRow, nChan]`` of the point components of ``sky``.

    Uses flint's one DFT (:func:`flint.simulation.predict.predict_dft`), so models and
    simulated data share the measurement-set sign convention.
    """
    from flint.simulation.predict import direction_cosines as lmn_of
    from flint.simulation.predict import predict_dft

    ra0, dec0 = np.radians(phase_centre_deg)
    lmn = lmn_of(np.radians(sky.ra_deg), np.radians(sky.dec_deg), float(ra0), float(dec0))
    flux = np.asarray(sky.flux_at(np.asarray(frequencies_hz, dtype=np.float64)), dtype=np.float64)
    return predict_dft(np.asarray(uvw_m, dtype=np.float64), np.asarray(frequencies_hz), lmn, flux)


def calibrator_visibilities(
    uvw_m: np.ndarray,
    frequencies_hz: np.ndarray,
    sky: PointSky,
    phase_centre_deg: tuple[float, float],
    max_phase_rad: float = 1e-6,
) -> np.ndarray:
    """Stokes-I model of ``sky``: ``[1, nChan]`` if it is the same on every row, else ``[nRow, nChan]``.

    A calibrator at the phase centre has no fringe: when every component's phase
    ``2 pi (u l + v m + w (n - 1)) / lambda`` stays below ``max_phase_rad`` on every row
    and channel, the model is its spectrum alone and the DFT is skipped.
    """
    from flint.simulation.predict import direction_cosines as lmn_of

    frequencies_hz = np.asarray(frequencies_hz, dtype=np.float64)
    ra0, dec0 = np.radians(phase_centre_deg)
    lmn = lmn_of(np.radians(sky.ra_deg), np.radians(sky.dec_deg), float(ra0), float(dec0))
    uvw_m = np.asarray(uvw_m, dtype=np.float64)
    delay_m = np.abs(uvw_m @ lmn.T).max() if len(uvw_m) else 0.0
    if 2 * np.pi * delay_m * frequencies_hz.max() / SPEED_OF_LIGHT < max_phase_rad:
        flux = np.asarray(sky.flux_at(frequencies_hz), dtype=np.float64)
        return flux.sum(axis=0)[None, :].astype(np.complex128)
    return point_visibilities(uvw_m, frequencies_hz, sky, phase_centre_deg)


def stokes_i_to_correlations(stokes_i: np.ndarray, n_corr: int) -> np.ndarray:
    """``[nRow, nChan]`` Stokes I to linear correlations ``[nRow, nChan, nCorr]`` (2 or 4)."""
    out = np.zeros((*stokes_i.shape, n_corr), dtype=np.complex128)
    out[..., 0] = stokes_i
    out[..., -1] = stokes_i
    return out


def calibrator_sky(name: str = "B1934-638") -> PointSky:
    """The component model flint ships for calibrator ``name``."""
    from flint.sky import calibrator_model

    return calibrator_model(name)


def field_centre_deg(ms: str | os.PathLike[str]) -> tuple[float, float]:
    """Phase centre (RA, Dec) in degrees of the first field of ``ms``."""
    with open_ms(ms, "FIELD") as tab:
        ra, dec = np.degrees(tab.getcol("PHASE_DIR")[0, 0])
    return float(ra % 360.0), float(dec)


def check_calibrator_in_field(
    ms: str | os.PathLike[str], sky: PointSky, max_offset_deg: float = 1.0
) -> float:
    """Offset (deg) of the brightest component from the phase centre; raise if too far."""
    ra0, dec0 = field_centre_deg(ms)
    flux = sky.flux_at(np.array([1e9]))[:, 0]
    brightest = int(np.argmax(flux))
    ell, m, _ = direction_cosines(sky.ra_deg[brightest], sky.dec_deg[brightest], (ra0, dec0))
    offset = float(np.degrees(np.arcsin(min(1.0, float(np.hypot(ell, m))))))
    behind = float(
        np.sin(np.radians(dec0)) * np.sin(np.radians(sky.dec_deg[brightest]))
        + np.cos(np.radians(dec0))
        * np.cos(np.radians(sky.dec_deg[brightest]))
        * np.cos(np.radians(ra0 - sky.ra_deg[brightest]))
    )
    if behind < 0 or offset > max_offset_deg:
        where = f"{offset:.2f} deg" if behind >= 0 else "more than 90 deg"
        raise MeasurementSetError(
            f"the calibrator is {where} from the phase centre ({ra0:.4f}, {dec0:.4f}) deg; "
            f"expected within {max_offset_deg} deg - is this a calibrator observation "
            "(and was the field direction fixed by preprocessing)?",
            ms,
        )
    return offset
