"""How close an image is to the thermal limit: its residual noise against an image of the noise alone."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from astropy.io import fits
from pydantic import BaseModel

from flint.validation.metrics import robust_scatter


class ThermalLimit(BaseModel):
    """Residual rms against the rms of the noise-alone image made with the same settings."""

    residual: Path
    noise_image: Path
    residual_rms_jy: float
    noise_rms_jy: float

    @property
    def ratio(self) -> float:
        """``residual_rms / noise_rms``: 1 is the thermal limit."""
        return self.residual_rms_jy / self.noise_rms_jy


def _inner_rms(path: Path, fraction: float) -> float:
    data = np.squeeze(fits.getdata(path)).astype(float)
    ny, nx = data.shape
    dy, dx = int(ny * (1 - fraction) / 2), int(nx * (1 - fraction) / 2)
    return robust_scatter(data[dy : ny - dy, dx : nx - dx])


def thermal_limit(
    residual: str | os.PathLike[str],
    noise_image: str | os.PathLike[str],
    inner_fraction: float = 0.5,
) -> ThermalLimit:
    """Compare robust rms of the inner part (``inner_fraction`` of each side) of both images."""
    residual, noise_image = Path(residual), Path(noise_image)
    return ThermalLimit(
        residual=residual,
        noise_image=noise_image,
        residual_rms_jy=_inner_rms(residual, inner_fraction),
        noise_rms_jy=_inner_rms(noise_image, inner_fraction),
    )
