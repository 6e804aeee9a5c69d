"""How close an image is to the thermal limit: its residual noise against an image of the noise alone."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from pydantic import BaseModel

from flint.errors import InputError
from flint.mosaic.headers import read_plane
from flint.validation.metrics import robust_scatter


class ThermalLimit(BaseModel):
    """Residual rms against the rms of the noise-alone image made with the same settings.

    With the noise also cleaned as the data were (``noise_cleaned_rms_jy``, the rms of that
    clean's residual), ``clean_floor`` says how much of the noise alone clean takes into its
    model: a residual can fall below the thermal limit by that much without being better.
    """

    residual: Path
    noise_image: Path
    residual_rms_jy: float
    noise_rms_jy: float
    noise_cleaned_rms_jy: float | None = None

    @property
    def ratio(self) -> float:
        """``residual_rms / noise_rms``: 1 is the thermal limit."""
        return self.residual_rms_jy / self.noise_rms_jy

    @property
    def clean_floor(self) -> float | None:
        """``noise_cleaned_rms / noise_rms``: the ratio a perfect model of the sky would give
        with these settings (below 1 where clean takes noise into its model)."""
        if self.noise_cleaned_rms_jy is None:
            return None
        return self.noise_cleaned_rms_jy / self.noise_rms_jy


def _inner_rms(path: Path, fraction: float) -> float:
    data = np.squeeze(fits.getdata(path)).astype(float)
    ny, nx = data.shape
    dy, dx = int(ny * (1 - fraction) / 2), int(nx * (1 - fraction) / 2)
    return robust_scatter(data[dy : ny - dy, dx : nx - dx])


def thermal_limit(
    residual: str | os.PathLike[str],
    noise_image: str | os.PathLike[str],
    inner_fraction: float = 0.5,
    noise_residual: str | os.PathLike[str] | None = None,
) -> ThermalLimit:
    """Compare robust rms of the inner part (``inner_fraction`` of each side) of both images;
    with ``noise_residual`` (the noise alone cleaned as the data were) also its rms."""
    residual, noise_image = Path(residual), Path(noise_image)
    return ThermalLimit(
        residual=residual,
        noise_image=noise_image,
        residual_rms_jy=_inner_rms(residual, inner_fraction),
        noise_rms_jy=_inner_rms(noise_image, inner_fraction),
        noise_cleaned_rms_jy=None
        if noise_residual is None
        else _inner_rms(Path(noise_residual), inner_fraction),
    )


def thermal_limit_near(
    residual: str | os.PathLike[str],
    noise_image: str | os.PathLike[str],
    ra_deg: float,
    dec_deg: float,
    radius_deg: float,
) -> ThermalLimit:
    """:func:`thermal_limit` over the pixels within ``radius_deg`` of a direction.

    The direction may lie outside the image (a bright source beyond its edge): the
    pixels nearest it are compared. Raises when no pixel is that close.
    """
    residual, noise_image = Path(residual), Path(noise_image)
    data, wcs, _ = read_plane(residual)
    rows, columns = np.indices(data.shape)
    pixels = wcs.pixel_to_world(columns.ravel(), rows.ravel())
    near = (pixels.separation(SkyCoord(ra_deg * u.deg, dec_deg * u.deg)).deg < radius_deg).reshape(
        data.shape
    )
    if not near.any():
        raise InputError(f"no pixel within {radius_deg} deg of ({ra_deg}, {dec_deg})", residual)
    noise = np.squeeze(fits.getdata(noise_image)).astype(float)
    return ThermalLimit(
        residual=residual,
        noise_image=noise_image,
        residual_rms_jy=robust_scatter(data[near]),
        noise_rms_jy=robust_scatter(noise[near]),
    )
