"""Options of the primary-beam and inverse-variance weighted linear mosaic."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from flint.options import BaseOptions


class MosaicOptions(BaseOptions):
    """How beam images are weighted, reprojected and co-added."""

    pb_model: Literal["gaussian", "airy"] = "gaussian"
    """Primary-beam model (see flint.primary_beam)."""
    dish_diameter_m: float = Field(12.0, gt=0)
    """Dish diameter the primary beam is scaled by (ASKAP: 12 m)."""
    pb_spectral_index: float = -0.7
    """Spectrum S ∝ ν^α the primary beam of a wide-band image is averaged with (see
    flint.primary_beam.band_primary_beam); -0.7 is typical of the continuum sky."""
    pb_cutoff: float = Field(0.2, gt=0, lt=1)
    """Pixels of a beam image where its primary beam is below this are not used."""
    interpolation: Literal["nearest-neighbor", "bilinear", "biquadratic", "bicubic"] = "bicubic"
    """Interpolation of reproject_interp; bicubic keeps peaks of beams a few pixels wide."""
    beam_rtol: float = Field(0.01, ge=0)
    """Restoring beams of the inputs may differ by this fraction (convolve them first)."""
    trim: bool = True
    """Crop the mosaic to the pixels that have data."""
