"""Common resolution: the smallest common beam, and convolution that keeps Jy/beam right."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits
from astropy.table import Table
from image_factory import FWHM_TO_SIGMA, ImageSpec, Restoring, write_image
from radio_beam import Beam

from flint.convolve import common_beam, convolve_image, convolve_images
from flint.errors import InputError

CELL = 2.5
ONE_SOURCE = Table({"ra_deg": [150.0], "dec_deg": [-30.0], "flux_jy": [1.0]})
BEAM_A = Restoring(10.0, 8.0, 20.0)
BEAM_B = Restoring(14.0, 9.0, 80.0)


def measured_beam(data: np.ndarray) -> tuple[float, float, float]:
    """FWHM major, minor (arcsec) and PA (deg, N through E) from the image's second moments."""
    y, x = np.indices(data.shape, dtype=float)
    weight = data / data.sum()
    east = -(x - (x * weight).sum()) * CELL
    north = (y - (y * weight).sum()) * CELL
    cov = np.array(
        [
            [(weight * east * east).sum(), (weight * east * north).sum()],
            [(weight * east * north).sum(), (weight * north * north).sum()],
        ]
    )
    values, vectors = np.linalg.eigh(cov)
    major_e, major_n = vectors[:, 1]
    pa = np.rad2deg(np.arctan2(major_e, major_n)) % 180.0
    fwhm = np.sqrt(values) / FWHM_TO_SIGMA
    return float(fwhm[1]), float(fwhm[0]), float(pa)


@pytest.fixture
def two_images(tmp_path: Path) -> list[Path]:
    """The same 1 Jy point source restored with two different beams (no noise)."""
    return [
        write_image(tmp_path / "a.fits", ImageSpec(beam=BEAM_A), ONE_SOURCE, noise=False),
        write_image(
            tmp_path / "b.fits", ImageSpec(beam=BEAM_B, four_d=True), ONE_SOURCE, noise=False
        ),
    ]


def test_common_beam_is_smallest_containing_both(two_images: list[Path]) -> None:
    beam = common_beam(two_images)
    a = Beam(BEAM_A.bmaj_arcsec * u.arcsec, BEAM_A.bmin_arcsec * u.arcsec, BEAM_A.bpa_deg * u.deg)
    b = Beam(BEAM_B.bmaj_arcsec * u.arcsec, BEAM_B.bmin_arcsec * u.arcsec, BEAM_B.bpa_deg * u.deg)
    for original in (a, b):
        beam.deconvolve(original)  # raises when the common beam does not contain it
    # smallest: barely larger than the larger input beam's area (rounded up to 0.1")
    assert beam.sr > b.sr
    assert beam.sr < 1.15 * b.sr
    assert beam.major.to_value(u.arcsec) == pytest.approx(14.1, abs=0.11)


def test_convolution_keeps_flux_and_reaches_the_target_beam(two_images: list[Path]) -> None:
    result = convolve_images(two_images)
    target = result.beam
    area_target_px = target.sr.to_value(u.arcsec**2) / CELL**2
    for original, convolved, restoring in zip(
        two_images, result.images, (BEAM_A, BEAM_B), strict=True
    ):
        assert convolved.name == original.name.replace(".fits", ".conv.fits")
        header = fits.getheader(convolved)
        assert header["BMAJ"] * 3600 == pytest.approx(target.major.to_value(u.arcsec))
        before = fits.getdata(original).squeeze().astype(float)
        after = fits.getdata(convolved).squeeze().astype(float)
        assert after.shape == before.shape
        # integrated flux (sum over pixels / beam area in pixels) stays 1 Jy
        assert after.sum() / area_target_px == pytest.approx(1.0, rel=1e-3)
        # in Jy/beam a point source keeps peak = flux; in Jy/pixel the peak falls as
        # (area of the old beam) / (area of the new beam)
        assert after.max() == pytest.approx(1.0, rel=2e-3)
        area_old_px = restoring.area_arcsec2 / CELL**2
        assert (after.max() / area_target_px) / (before.max() / area_old_px) == pytest.approx(
            area_old_px / area_target_px, rel=2e-3
        )
        bmaj, bmin, bpa = measured_beam(after)
        assert bmaj == pytest.approx(target.major.to_value(u.arcsec), rel=0.01)
        assert bmin == pytest.approx(target.minor.to_value(u.arcsec), rel=0.01)
        assert bpa == pytest.approx(target.pa.to_value(u.deg) % 180, abs=1.0)


def test_noise_in_jy_per_beam_follows_the_beam_ratio(tmp_path: Path) -> None:
    """Convolving Jy/beam noise correlated on beam A to beam B scales its rms by ~sqrt(B/A)."""
    spec = ImageSpec(size=256, beam=Restoring(10.0, 10.0, 0.0), noise_jy=1e-3, seed=5)
    image = write_image(tmp_path / "noise.fits", spec, ONE_SOURCE[:0])
    target = Beam(20 * u.arcsec, 20 * u.arcsec, 0 * u.deg)
    after = fits.getdata(convolve_image(image, target)).astype(float)
    # for Gaussian-correlated noise: rms' = rms · (B/A) · sqrt(A / B) = rms · sqrt(B / A)
    assert after[20:-20, 20:-20].std() == pytest.approx(1e-3 * 2.0, rel=0.1)


def test_target_smaller_than_the_beam_is_refused(two_images: list[Path]) -> None:
    with pytest.raises(InputError, match="smaller than the image's beam"):
        convolve_image(two_images[1], Beam(12 * u.arcsec, 12 * u.arcsec, 0 * u.deg))


def test_rerun_keeps_a_product_at_the_same_beam_and_redoes_another(two_images: list[Path]) -> None:
    first = convolve_images(two_images)
    stamps = [p.stat().st_mtime_ns for p in first.images]
    again = convolve_images(two_images, beam=first.beam)
    assert [p.stat().st_mtime_ns for p in again.images] == stamps
    wider = Beam(20 * u.arcsec, 20 * u.arcsec, 0 * u.deg)
    redone = convolve_image(two_images[0], wider)
    assert fits.getheader(redone)["BMAJ"] * 3600 == pytest.approx(20.0)
    assert redone.stat().st_mtime_ns != stamps[0]


def test_images_over_the_cutoff_are_left_out(two_images: list[Path]) -> None:
    result = convolve_images(two_images, cutoff_arcsec=12.0)
    assert [p.name for p in result.images] == ["a.conv.fits"]
    assert result.beam.major.to_value(u.arcsec) == pytest.approx(10.0, abs=0.11)
