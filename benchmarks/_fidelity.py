"""How far a restored image is from the true sky: the simulated components, each with the
flux the image should show (its apparent spectrum averaged as the MFS image averages its
output channels), convolved with the image's restoring beam and drawn on its pixels.

``restored - true`` holds the residual and what the clean model got wrong (flux taken
from noise or artefacts, sources missed or misplaced). Its rms against the noise image's is
the fidelity ratio: unlike the residual's, it does not fall when clean takes artefacts
into its model.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np


def truth_sky_path(run_dir: Path, beam: int) -> Path:
    """The simulated components of ``beam`` in a finished demo run."""
    return next(run_dir.glob(f"data/field/SB*/truth/*beam{beam:02d}.sky.fits"))


def phase_centre_deg(run_dir: Path, beam: int) -> tuple[float, float]:
    """``beam``'s phase centre (RA, Dec) as the simulation recorded it."""
    truth = truth_sky_path(run_dir, beam).parent
    entry = json.loads(next(truth.glob(f"*beam{beam:02d}.json")).read_text())
    return tuple(entry["phase_centre_deg"])


def output_channels(images: Path, tag: str) -> tuple[np.ndarray, np.ndarray]:
    """Centre frequencies and imaging weights (``WSCIMGWG``) of ``tag``'s output channels."""
    from astropy.io import fits

    paths = sorted(images.glob(f"*{tag}-0[0-9][0-9][0-9]-image.fits"))
    headers = [fits.getheader(path) for path in paths]
    frequencies = np.array([header["CRVAL3"] for header in headers])
    weights = np.array([header.get("WSCIMGWG", 1.0) for header in headers])
    return frequencies, weights


def output_channel_flux(
    run_dir: Path, beam: int, sky, images: Path, tag: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``tag``'s output channels (frequencies, weights) and, per component of ``sky``, its
    apparent flux in each ([comp, channel]: the mean over the channel's data channels, as
    an output channel's model is flat across them)."""
    from flint.simulation.beam import pb_gain
    from flint.simulation.observation import SimulationOptions

    truth = truth_sky_path(run_dir, beam).parent
    manifest = json.loads((truth / "manifest.json").read_text())
    simulated = SimulationOptions.model_validate(manifest["options"])
    channels = np.load(next(truth.glob(f"*beam{beam:02d}.corruptions.npz")))
    frequencies = channels["frequencies_hz"]
    out_freq, weights = output_channels(images, tag)
    offsets = sky.separation_deg(*phase_centre_deg(run_dir, beam))
    flux = sky.flux_at(frequencies) * pb_gain(offsets, frequencies, simulated)
    return out_freq, weights, flux.reshape(len(flux), len(out_freq), -1).mean(axis=2)


def mfs_apparent_flux(run_dir: Path, beam: int, sky, images: Path, tag: str) -> np.ndarray:
    """Per component of ``sky``: its apparent flux as ``tag``'s MFS image shows it (Jy)."""
    _, weights, out_flux = output_channel_flux(run_dir, beam, sky, images, tag)
    return np.average(out_flux, weights=weights, axis=1)


def true_image(sky, flux_jy: np.ndarray, header) -> np.ndarray:
    """``sky``'s components with ``flux_jy`` convolved with ``header``'s restoring beam
    (BMAJ, BMIN, BPA), in Jy/beam on ``header``'s pixels (SIN projection, square pixels)."""
    import astropy.units as u
    from astropy.wcs import WCS
    from radio_beam import Beam

    wcs = WCS(header).celestial
    ny, nx = header["NAXIS2"], header["NAXIS1"]
    pixel_arcsec = abs(header["CDELT1"]) * 3600.0
    restoring = Beam(header["BMAJ"] * u.deg, header["BMIN"] * u.deg, header["BPA"] * u.deg)
    x, y = wcs.world_to_pixel_values(sky.ra_deg, sky.dec_deg)
    image = np.zeros((ny, nx))
    for index in np.flatnonzero(np.isfinite(x) & np.isfinite(y)):
        major, minor = sky.major_arcsec[index], sky.minor_arcsec[index]
        if major > 0:
            own = Beam(major * u.arcsec, minor * u.arcsec, sky.pa_deg[index] * u.deg)
            shape = restoring.convolve(own)
        else:
            shape = restoring
        a = shape.major.to_value(u.arcsec) / pixel_arcsec / math.sqrt(8 * math.log(2))
        b = shape.minor.to_value(u.arcsec) / pixel_arcsec / math.sqrt(8 * math.log(2))
        angle = shape.pa.to_value(u.rad)  # east of north; east is -x on the sky's pixels
        half = math.ceil(5 * a) + 1
        x0, y0 = int(np.rint(x[index])), int(np.rint(y[index]))
        xs = slice(max(x0 - half, 0), min(x0 + half + 1, nx))
        ys = slice(max(y0 - half, 0), min(y0 + half + 1, ny))
        if xs.start >= xs.stop or ys.start >= ys.stop:
            continue
        grid_y, grid_x = np.mgrid[ys, xs]
        east, north = -(grid_x - x[index]), grid_y - y[index]
        along = east * math.sin(angle) + north * math.cos(angle)  # along the major axis
        across = east * math.cos(angle) - north * math.sin(angle)
        peak = flux_jy[index] * (restoring.sr / shape.sr).decompose().value
        image[ys, xs] += peak * np.exp(-0.5 * ((along / a) ** 2 + (across / b) ** 2))
    return image
