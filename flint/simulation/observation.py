"""Simulation options (one frozen model) and the spectral/time set-up they imply."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import Field, field_validator, model_validator

from flint.options import BaseOptions

# The real RACS-low files (e.g. SB39400) start at 743.990740740 MHz with 1 MHz channels.
ASKAP_LOW_START_HZ = 743_990_740.7407408
ASKAP_CHANNEL_WIDTH_HZ = 1_000_000.0
# ASKAP's correlator integration time (real files: 9.95328 s = 5184 cycles of 1.92 ms).
ASKAP_INTEGRATION_S = 9.95328


class SimulationOptions(BaseOptions):
    """Everything that defines a simulated ASKAP observation (one SBID, one MS per beam)."""

    sbid: int = Field(50000, ge=0)
    """Scheduling block ID: names the output directory and the measurement sets."""
    layout: Literal["raw", "casda", "flint"] = "raw"
    """How the data are delivered: ``raw`` as the telescope writes them (boresight FIELD,
    BEAM_OFFSET, PAF-frame correlations, a calibrator block with one field per beam
    position), ``casda`` as CASDA serves ASKAPsoft's calibrated science data, ``flint``
    already preprocessed (FIELD at the beam, sky frame)."""
    field_name: str = Field("SIM_FIELD", pattern=r"^[^.\s/]+$")
    """Field name used in the MS names and the FIELD table (calibrators use their own name)."""
    ra_deg: float = Field(98.21196, ge=0.0, lt=360.0)
    """Footprint centre (boresight) right ascension, J2000 degrees (ignored for calibrators)."""
    dec_deg: float = Field(-30.861, ge=-90.0, le=90.0)
    """Footprint centre declination, J2000 degrees (ignored for calibrators)."""
    footprint: Literal["closepack36", "square_6x6"] = "square_6x6"
    """ASKAP beam footprint."""
    pitch_deg: float = Field(1.05, gt=0.0, le=5.0)
    """Beam pitch of the footprint (RACS-low uses square_6x6 at 1.05 deg)."""
    footprint_pa_deg: float = 0.0
    """Position angle of the footprint, degrees."""
    beams: list[int] | None = None
    """Beams to simulate (0-35); None means all 36."""
    n_antennas: int = Field(36, ge=2, le=36)
    """Use the first N of the 36 real ASKAP antennas."""
    n_channels: int = Field(288, ge=1)
    """Number of native channels before averaging."""
    start_hz: float = Field(ASKAP_LOW_START_HZ, gt=0.0)
    """Centre frequency of the first native channel."""
    channel_width_hz: float = Field(ASKAP_CHANNEL_WIDTH_HZ, gt=0.0)
    """Native channel width."""
    channel_average: int = Field(1, ge=1)
    """Average this many native channels into one output channel (must divide n_channels)."""
    duration_s: float = Field(900.0, gt=0.0)
    """Length of each beam's observation."""
    integration_s: float = Field(ASKAP_INTEGRATION_S, gt=0.0)
    """Integration time (ASKAP's real value by default)."""
    start_hour_angle_h: float = Field(-0.125, ge=-12.0, le=12.0)
    """Hour angle of the phase centre at the start (centre of the first integration)."""
    date: str = Field("2022-06-01", pattern=r"^\d{4}-\d{2}-\d{2}$")
    """UTC date; the observation starts at the first moment of that day with the hour angle."""
    include_autos: bool = False
    """Also write auto-correlations (sky + noise only; no system-temperature term)."""
    sefd_jy: float | None = Field(1800.0, gt=0.0)
    """System equivalent flux density per polarisation; sets the noise unless sigma_jy is given."""
    sigma_jy: float | None = Field(None, ge=0.0)
    """Noise per real/imaginary part of each correlation (overrides sefd_jy; 0 = no noise)."""
    bandpass: str = "generated"
    """``none``, ``generated`` (smooth ripple + delay, seeded) or the path of an AO solutions file."""
    bandpass_normalise: bool = True
    """Scale a bandpass read from a file so the median |XX|, |YY| gain is 1 (shape kept)."""
    bandpass_ripple: float = Field(0.05, ge=0.0, lt=0.5)
    """Fractional amplitude ripple of generated bandpasses."""
    bandpass_delay_ns: float = Field(3.0, ge=0.0)
    """RMS residual delay of generated bandpasses (phase slope across the band)."""
    phase_rms_deg: float = Field(20.0, ge=0.0)
    """RMS of the slowly varying antenna phases (what self-calibration must remove)."""
    phase_timescale_s: float = Field(600.0, gt=0.0)
    """Correlation time of the antenna phases."""
    rfi: bool = False
    """Add RFI: persistent narrow-band channels and broadband impulsive bursts."""
    rfi_channel_fraction: float = Field(0.02, ge=0.0, le=1.0)
    """Fraction of channels with narrow-band RFI."""
    rfi_burst_fraction: float = Field(0.01, ge=0.0, le=1.0)
    """Fraction of integrations with a broadband burst."""
    rfi_amplitude_jy: float = Field(50.0, ge=0.0)
    """Typical RFI amplitude on a visibility."""
    primary_beam: Literal["gaussian", "airy", "gaussian_sidelobes", "none"] = "gaussian"
    """Primary-beam model that attenuates the sky of each beam (see flint.primary_beam;
    ``airy`` keeps its main lobe only, ``gaussian_sidelobes`` its sidelobes too)."""
    pb_cutoff: float = Field(1e-3, ge=0.0, lt=1.0)
    """Drop components whose primary-beam gain is below this across the whole band."""
    predict: Literal["auto", "dft", "gridder"] = "auto"
    """``dft`` (exact), ``gridder`` (ducc0, approximate, for many sources) or ``auto``."""
    dft_max_components: int = Field(20000, ge=0)
    """``auto`` uses the DFT up to this many components in a beam, the gridder above."""
    gridder_epsilon: float = Field(1e-5, gt=1e-12, lt=0.1)
    """Requested accuracy of the ducc0 gridder."""
    chunk_visibilities: int = Field(2_000_000, ge=1000)
    """Visibilities (row × channel) per chunk: bounds the memory of one beam."""
    threads: int = Field(0, ge=0)
    """Threads for predict (0 = numba's default)."""
    seed: int = Field(0, ge=0)
    """Seed of every random number (gains, phases, noise, RFI)."""
    overwrite: bool = False
    """Rewrite beams that are already complete (otherwise they are skipped)."""

    @field_validator("beams")
    @classmethod
    def _beams_valid(cls, beams: list[int] | None) -> list[int] | None:
        if beams is None:
            return None
        if not beams or any(not 0 <= beam <= 35 for beam in beams) or len(set(beams)) != len(beams):
            raise ValueError(f"beams must be distinct numbers 0-35, got {beams}")
        return sorted(beams)

    @field_validator("bandpass")
    @classmethod
    def _bandpass_valid(cls, value: str) -> str:
        if value in ("none", "generated"):
            return value
        if not Path(value).is_file():
            raise ValueError(f"bandpass must be 'none', 'generated' or an existing file: {value}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SimulationOptions:
        problems = []
        if self.n_channels % self.channel_average:
            problems.append(
                f"channel_average {self.channel_average} does not divide n_channels {self.n_channels}"
            )
        if self.duration_s < self.integration_s:
            problems.append(
                f"duration_s {self.duration_s} is shorter than one integration ({self.integration_s})"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def beam_list(self) -> list[int]:
        """The beams to simulate."""
        return list(range(36)) if self.beams is None else list(self.beams)

    @property
    def noise_sigma_jy(self) -> float:
        """Noise per real/imaginary part of one correlation: SEFD / sqrt(2 Δν τ), or sigma_jy."""
        if self.sigma_jy is not None:
            return self.sigma_jy
        if self.sefd_jy is None:
            return 0.0
        width = self.channel_width_hz * self.channel_average
        return self.sefd_jy / np.sqrt(2.0 * width * self.integration_s)


@dataclass(frozen=True)
class SpectralSetup:
    """Output channels: centres and widths (Hz)."""

    frequencies_hz: NDArray[np.float64]
    width_hz: float

    @property
    def n_channels(self) -> int:
        """Number of output channels."""
        return len(self.frequencies_hz)


def spectral_setup(options: SimulationOptions) -> SpectralSetup:
    """Output channels after averaging ``channel_average`` native channels."""
    native = options.start_hz + options.channel_width_hz * np.arange(options.n_channels)
    averaged = native.reshape(-1, options.channel_average).mean(axis=1)
    return SpectralSetup(averaged, options.channel_width_hz * options.channel_average)


def n_integrations(options: SimulationOptions) -> int:
    """Number of integrations in one beam's observation."""
    return max(1, round(options.duration_s / options.integration_s))
