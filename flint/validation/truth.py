"""The fluxes a catalogue should find: truth sky models evaluated for one image."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from astropy.table import Table

from flint.primary_beam import band_frequencies_hz, primary_beam
from flint.sky import SkyModel, read_sky


def expected_truth(
    truth: SkyModel | str | os.PathLike[str],
    frequency_hz: float,
    pointing_deg: tuple[float, float] | None = None,
    pb_model: str = "gaussian",
    bandwidth_hz: float = 0.0,
) -> Table:
    """Truth components, their intrinsic sizes and the flux each should show in an image.

    ``truth`` is a SkyModel or a file ``read_sky`` reads (a simulated truth, or a
    reference catalogue the user supplies). With ``pointing_deg`` the image is taken
    to be a beam image that is not primary-beam corrected, and fluxes are attenuated.
    An image made over ``bandwidth_hz`` (multi-frequency synthesis) shows each source's
    spectrum, attenuated at each frequency, averaged over the band.
    """
    sky = truth if isinstance(truth, SkyModel) else read_sky(Path(truth), reference_hz=frequency_hz)
    frequencies = band_frequencies_hz(frequency_hz, bandwidth_hz)
    flux = sky.flux_at(frequencies)  # [component, frequency]
    if pointing_deg is not None:
        offsets = np.deg2rad(sky.separation_deg(*pointing_deg))
        flux = flux * primary_beam(offsets[:, np.newaxis], frequencies, model=pb_model)
    return Table(
        {
            "name": sky.names,
            "ra_deg": sky.ra_deg,
            "dec_deg": sky.dec_deg,
            "flux_jy": flux.mean(axis=1),
            "major_arcsec": sky.major_arcsec,
            "minor_arcsec": sky.minor_arcsec,
        }
    )


def find_simulation_truth(directory: str | os.PathLike[str]) -> Path | None:
    """The truth directory of a flint simulation under ``directory`` (None if there is none)."""
    manifests = sorted(Path(directory).glob("**/truth/manifest.json"))
    return manifests[0].parent if manifests else None


def simulation_sky(truth_dir: str | os.PathLike[str]) -> SkyModel:
    """Every component a simulation put in any beam, once each (intrinsic fluxes)."""
    from flint.simulation import read_truth

    truth = read_truth(truth_dir)
    skies = [read_sky(Path(truth.directory) / beam.sky) for beam in truth.beams]
    sky = SkyModel.concatenate(skies)
    _, first = np.unique(np.asarray(sky.names), return_index=True)
    return sky.select(np.sort(first))
