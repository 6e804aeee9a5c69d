"""Options of catalogue validation."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from flint.options import BaseOptions


class ValidationOptions(BaseOptions):
    """How a catalogue is compared with the truth and summarised."""

    match_radius_beams: float = Field(0.5, gt=0)
    """A truth source and a component match when closer than this many restoring-beam majors."""
    snr_threshold: float = Field(10.0, gt=0)
    """Truth sources whose expected peak is above this signal-to-noise define the headline
    completeness and flux ratio."""
    resolved_beams: float = Field(0.5, gt=0)
    """A source (a group of blended components) counts as resolved when its extent is at
    least this many restoring-beam majors."""
    flux_column: Literal["int_flux", "peak_flux"] = "int_flux"
    """Catalogue column compared with the true flux."""
    completeness_bins: int = Field(10, ge=2)
    """Logarithmic bins of true flux for completeness."""
    counts_bins: int = Field(8, ge=2)
    """Logarithmic bins of flux for the differential source counts."""
    counts_detection_snr: float = Field(5.0, gt=0)
    """Signal-to-noise a source needs to be found; sets the area over which it could have been."""
    counts_spectral_index: float = -0.8
    """Spectral index used to scale catalogue fluxes to 1.4 GHz for the reference counts."""
    pb_model: Literal["gaussian", "airy"] = "gaussian"
    """Primary-beam model for images that are not primary-beam corrected (a pointing is given)."""
    pb_spectral_index: float = -0.7
    """Spectrum the band-averaged primary beam assumes for catalogue sources (source counts)."""
