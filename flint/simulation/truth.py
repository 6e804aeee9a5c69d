"""What a simulation put into its data, written beside it and read back exactly.

Layout of ``<out>/<sbid>/truth/``:

- ``manifest.json``: the simulation options and one entry per beam (below);
- ``<field>.beamNN.json``: that beam's entry, written last: its presence marks the beam complete;
- ``<field>.beamNN.sky.fits``: the components used (Aegean-like columns) with ``apparent_flux``
  (intrinsic × primary beam at ``apparent_ref_freq``), ``pb_gain`` and ``offset_deg``;
- ``<field>.beamNN.bandpass.bin``: the true bandpass Jones matrices as an AO ``calibrate`` file
  (one interval; NaN where the input solutions were flagged);
- ``<field>.beamNN.corruptions.npz``: times, antenna phases [ntime, nant] (rad), RFI mask
  [ntime, nchan], channel frequencies.

Image-noise expectation: with σ per real/imaginary part of XX and YY, Stokes
I = (XX + YY)/2 has σ/√2 per part; a naturally weighted image averages the real parts
of N equally weighted unflagged cross-correlation samples (row, channel), so
σ_image = σ / √(2N). Autocorrelations do not enter. The thermal noise alone is also
written to the ``NOISE_DATA`` column, so imaging it gives the thermal limit.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

from flint.atomic import atomic_path
from flint.errors import InputError

MANIFEST = "manifest.json"


class BeamTruth(BaseModel):
    """The truth of one beam (paths are relative to the truth directory)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    beam: int
    """Beam number."""
    measurement_set: str
    """Path of the MS relative to the SBID directory."""
    field_name: str
    """FIELD name in the MS."""
    phase_centre_deg: tuple[float, float]
    """Phase centre (= beam pointing) RA, Dec, J2000 degrees."""
    boresight_deg: tuple[float, float]
    """Footprint centre (dish pointing) RA, Dec."""
    start_utc_mjd_s: float
    """Centre of the first integration."""
    n_integrations: int
    """Number of integrations."""
    n_components: int
    """Components inside the beam."""
    predict: str
    """Predict path used: dft or gridder."""
    noise_sigma_jy: float
    """Noise per real/imaginary part of each correlation."""
    n_unflagged_cross: int
    """Unflagged cross-correlation (row, channel) samples, N."""
    expected_image_noise_jy: float
    """Natural-weighting Stokes-I image noise σ / √(2N)."""
    n_rfi_samples: int
    """Cross-correlation (row, channel) samples carrying RFI (not flagged)."""
    sky: str
    """Sky table file."""
    bandpass: str
    """True bandpass (AO solutions file)."""
    corruptions: str
    """Phases, RFI mask, frequencies (.npz)."""


@dataclass(frozen=True, eq=False)
class BeamCorruptions:
    """Arrays of ``<field>.beamNN.corruptions.npz``."""

    times_mjd_s: NDArray[np.float64]
    phases_rad: NDArray[np.float64]
    rfi_mask: NDArray[np.bool_]
    frequencies_hz: NDArray[np.float64]

    def equals(self, other: BeamCorruptions) -> bool:
        """Exact equality of every array."""
        return all(
            np.array_equal(getattr(self, name), getattr(other, name))
            for name in ("times_mjd_s", "phases_rad", "rfi_mask", "frequencies_hz")
        )


@dataclass(frozen=True)
class SimulationTruth:
    """The manifest of a simulation: options, kind and every beam's truth."""

    directory: Path
    kind: str
    options: dict[str, Any]
    beams: tuple[BeamTruth, ...]

    def beam(self, number: int) -> BeamTruth:
        """The truth of beam ``number``."""
        for entry in self.beams:
            if entry.beam == number:
                return entry
        raise InputError(f"beam {number} is not in this simulation", self.directory / MANIFEST)

    def sky(self, number: int) -> Table:
        """The sky table of beam ``number``."""
        return Table.read(self.directory / self.beam(number).sky)

    def bandpass(self, number: int) -> NDArray[np.complex128]:
        """[nant, nchan, 4] true bandpass of beam ``number`` (XX, XY, YX, YY)."""
        from flint.calibration.solutions import read_solutions

        return read_solutions(self.directory / self.beam(number).bandpass).gains[0]

    def corruptions(self, number: int) -> BeamCorruptions:
        """Phases, RFI mask, times and frequencies of beam ``number``."""
        return read_corruptions(self.directory / self.beam(number).corruptions)


def write_json(path: Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` as indented JSON, atomically."""
    with atomic_path(path, overwrite=True) as temporary:
        temporary.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    return path


def write_sky_table(path: Path, table: Table) -> Path:
    """Write the beam's sky table (FITS), atomically."""
    with atomic_path(path, overwrite=True) as temporary:
        table.write(temporary, format="fits")
    return path


def write_corruptions(path: Path, corruptions: BeamCorruptions) -> Path:
    """Write the phases/RFI arrays (.npz), atomically."""
    with atomic_path(path, overwrite=True) as temporary, open(temporary, "wb") as handle:
        np.savez(
            handle,
            times_mjd_s=corruptions.times_mjd_s,
            phases_rad=corruptions.phases_rad,
            rfi_mask=corruptions.rfi_mask,
            frequencies_hz=corruptions.frequencies_hz,
        )
    return path


def read_corruptions(path: str | os.PathLike[str]) -> BeamCorruptions:
    """Read a ``<field>.beamNN.corruptions.npz`` file."""
    path = Path(path)
    try:
        with np.load(path) as data:
            return BeamCorruptions(**{name: data[name] for name in data.files})
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise InputError(f"unreadable corruptions file: {error}", path) from None


def read_beam_truth(path: str | os.PathLike[str]) -> BeamTruth:
    """Read a ``<field>.beamNN.json`` file."""
    path = Path(path)
    try:
        return BeamTruth.model_validate_json(path.read_text())
    except (OSError, ValueError) as error:
        raise InputError(f"unreadable beam truth: {error}", path) from None


def write_manifest(
    directory: Path, kind: str, options: dict[str, Any], markers: list[Path]
) -> Path:
    """Collect the beams' ``<field>.beamNN.json`` into ``manifest.json`` with the options.

    One SBID holds one field (as at ASKAP): a later run into the same SBID replaces it.
    """
    beams = [read_beam_truth(path) for path in markers]
    payload = {
        "kind": kind,
        "options": options,
        "beams": [beam.model_dump(mode="json") for beam in beams],
        "image_noise_formula": "sigma_image = sigma / sqrt(2 N), N unflagged cross (row, channel)",
    }
    return write_json(directory / MANIFEST, payload)


def read_truth(directory: str | os.PathLike[str]) -> SimulationTruth:
    """Read a truth directory (or an SBID directory containing ``truth/``)."""
    directory = Path(directory)
    if not (directory / MANIFEST).is_file() and (directory / "truth" / MANIFEST).is_file():
        directory = directory / "truth"
    path = directory / MANIFEST
    try:
        payload = json.loads(path.read_text())
        beams = tuple(BeamTruth.model_validate(beam) for beam in payload["beams"])
        return SimulationTruth(directory, payload["kind"], payload["options"], beams)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InputError(f"unreadable simulation manifest: {error}", path) from None
