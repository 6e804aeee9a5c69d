"""End to end: wsclean images what the simulator put in, where it put it."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from flint.external import run_tool
from flint.footprint import Footprint
from flint.simulation import SimulationOptions, read_truth, simulate_field
from flint.sky import SkyModel

pytestmark = [
    pytest.mark.wsclean,
    pytest.mark.skipif(shutil.which("wsclean") is None, reason="wsclean not installed"),
]


def _image(
    ms: Path, name: Path, column: str = "DATA", weight: str = "uniform", scale: str = "3asec"
) -> tuple[np.ndarray, WCS]:
    argv = ["wsclean", "-size", "512", "512", "-scale", scale, "-niter", "0", "-weight", weight]
    argv += ["-data-column", column, "-name", str(name), str(ms)]
    run_tool(argv, log_path=name.with_suffix(".log"), timeout=600)
    with fits.open(f"{name}-image.fits") as hdul:
        header = hdul[0].header
        for key in ("MJD-OBS", "DATE-OBS"):  # keep astropy's WCS fixer quiet
            header.pop(key, None)
        return hdul[0].data[0, 0].astype(float), WCS(header).celestial


def test_wsclean_images_off_centre_source_at_true_position_and_flux(tmp_path: Path) -> None:
    options = SimulationOptions(
        layout="flint",  # the steps under test work on preprocessed data (tests/test_preprocess.py)
        n_channels=8,
        channel_width_hz=4e6,
        duration_s=300.0,
        beams=[14],
        sefd_jy=None,
        bandpass="none",
        phase_rms_deg=0,
        primary_beam="none",
    )
    ra, dec = Footprint(name=options.footprint, pitch_deg=options.pitch_deg).beam_centres(
        options.ra_deg, options.dec_deg, [14]
    )
    # 5.6' east and 3' north: an asymmetric offset, so a sign error shows as a mirror image
    source = (ra[0] + 0.1 / math.cos(math.radians(dec[0])), dec[0] + 0.05)
    sky = SkyModel(ra_deg=[source[0]], dec_deg=[source[1]], flux_jy=[2.0], reference_hz=[8e8])
    result = simulate_field(tmp_path, sky, options)
    image, wcs = _image(result.measurement_sets[0], tmp_path / "dirty")
    row, column = np.unravel_index(np.argmax(image), image.shape)

    # sub-pixel peak: parabola through the peak and its neighbours on each axis
    def vertex(left: float, centre: float, right: float) -> float:
        return 0.5 * (left - right) / (left - 2 * centre + right)

    x = column + vertex(*image[row, column - 1 : column + 2])
    y = row + vertex(*image[row - 1 : row + 2, column])
    true_x, true_y = wcs.world_to_pixel_values(*source)
    assert math.hypot(x - true_x, y - true_y) < 0.2  # pixels of 3 arcsec
    assert image.max() == pytest.approx(2.0, rel=0.01)


def test_noise_image_matches_expected_thermal_noise(tmp_path: Path) -> None:
    options = SimulationOptions(
        layout="flint",  # the steps under test work on preprocessed data (tests/test_preprocess.py)
        n_antennas=12,
        n_channels=8,
        channel_width_hz=4e6,
        duration_s=300.0,
        beams=[0],
        bandpass="none",
        phase_rms_deg=0,
    )
    ra, dec = Footprint(name=options.footprint, pitch_deg=options.pitch_deg).beam_centres(
        options.ra_deg, options.dec_deg, [0]
    )
    sky = SkyModel(ra_deg=[ra[0]], dec_deg=[dec[0]], flux_jy=[0.1], reference_hz=[8e8])
    result = simulate_field(tmp_path, sky, options)
    entry = read_truth(result.truth_dir).beam(0)
    # natural weighting; a wide (4.3 deg) image spans many fringes of every baseline,
    # so its pixel scatter estimates the per-pixel noise well
    image, _ = _image(
        result.measurement_sets[0], tmp_path / "noise", "NOISE_DATA", "natural", "30asec"
    )
    assert image.std() == pytest.approx(entry.expected_image_noise_jy, rel=0.1)
