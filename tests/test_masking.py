"""Clean masks: a synthetic image with known Gaussian sources and noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from scipy import ndimage

from flint.errors import ConfigError, InputError
from flint.masking import (
    MaskingOptions,
    build_bane_command,
    flood_fill_mask,
    make_clean_mask,
    run_bane,
)
from flint.options import validated

SIZE = 256
NOISE_JY = 1e-3
BEAM_SIGMA_PX = 1.5
# (x, y, peak in units of the noise, sigma in pixels)
SOURCES = [
    (60, 70, 200.0, BEAM_SIGMA_PX),
    (190, 60, 20.0, BEAM_SIGMA_PX),
    (80, 190, 10.0, BEAM_SIGMA_PX),
    (200, 200, 12.0, 6.0),  # extended
    (128, 128, 8.0, BEAM_SIGMA_PX),
    (30, 220, 2.5, BEAM_SIGMA_PX),  # below the seed threshold: must stay unmasked
]


def _model() -> np.ndarray:
    y, x = np.mgrid[:SIZE, :SIZE]
    model = np.zeros((SIZE, SIZE))
    for x0, y0, snr, sigma in SOURCES:
        model += snr * NOISE_JY * np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2 * sigma**2))
    return model


@pytest.fixture(scope="module")
def synthetic_image(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """A 4-axis FITS image (as wsclean writes) of known sources plus beam-correlated noise."""
    rng = np.random.default_rng(7)
    noise = ndimage.gaussian_filter(rng.standard_normal((SIZE, SIZE)), BEAM_SIGMA_PX, mode="wrap")
    noise *= NOISE_JY / noise.std()
    model = _model()
    header = fits.Header()
    for key, value in {
        "CTYPE1": "RA---SIN",
        "CRVAL1": 98.2,
        "CRPIX1": SIZE / 2 + 1,
        "CDELT1": -2.5 / 3600,
        "CUNIT1": "deg",
        "CTYPE2": "DEC--SIN",
        "CRVAL2": -30.9,
        "CRPIX2": SIZE / 2 + 1,
        "CDELT2": 2.5 / 3600,
        "CUNIT2": "deg",
        "CTYPE3": "FREQ",
        "CRVAL3": 888e6,
        "CRPIX3": 1.0,
        "CDELT3": 288e6,
        "CUNIT3": "Hz",
        "CTYPE4": "STOKES",
        "CRVAL4": 1.0,
        "CRPIX4": 1.0,
        "CDELT4": 1.0,
        "CUNIT4": "",
        "BMAJ": 2.3548 * BEAM_SIGMA_PX * 2.5 / 3600,
        "BMIN": 2.3548 * BEAM_SIGMA_PX * 2.5 / 3600,
        "BPA": 0.0,
        "BUNIT": "JY/BEAM",
    }.items():
        header[key] = value
    path = tmp_path_factory.mktemp("masking") / "image.fits"
    fits.PrimaryHDU((model + noise)[None, None].astype(np.float32), header).writeto(path)
    return path, model


def _read(path: Path) -> tuple[np.ndarray, fits.Header]:
    with fits.open(path, memmap=False) as hdus:
        return hdus[0].data, hdus[0].header


def test_flood_fill_keeps_seeded_islands_only() -> None:
    snr = np.zeros((20, 20))
    snr[2:5, 2:5] = 5.0  # island above the floor with a seed
    snr[3, 3] = 9.0
    snr[10:14, 10:14] = 5.0  # island above the floor, no seed
    snr[18, 18] = 20.0  # single bright pixel
    mask = flood_fill_mask(snr, seed_snr=8.0, floor_snr=4.0)
    assert mask[2:5, 2:5].all() and mask[18, 18]
    assert mask.sum() == 9 + 1
    assert flood_fill_mask(snr, 8.0, 4.0, min_island_pixels=2).sum() == 9
    grown = flood_fill_mask(snr, 8.0, 4.0, grow_pixels=1)
    assert grown.sum() == 25 + 9  # 3x3 -> 5x5, the single pixel -> 3x3
    with pytest.raises(InputError):
        flood_fill_mask(snr, seed_snr=3.0, floor_snr=4.0)


def test_mask_covers_the_sources_and_little_else(synthetic_image, tmp_path: Path) -> None:
    image, model = synthetic_image
    options = MaskingOptions(seed_snr=6.0, floor_snr=4.0)
    maps = run_bane(image, options, tmp_path / "image")
    rms, _ = _read(maps.rms)
    assert np.nanmedian(rms) == pytest.approx(NOISE_JY, rel=0.1)

    output = make_clean_mask(image, tmp_path / "image.mask.fits", options, maps=maps)
    mask, header = _read(output)
    image_data, image_header = _read(image)
    assert mask.shape == image_data.shape
    assert set(np.unique(mask)) == {0, 1}
    for key in ("CRVAL1", "CRVAL2", "CDELT1", "CDELT2", "CRPIX1", "CRPIX2", "CTYPE3"):
        assert header[key] == image_header[key]
    mask = mask[0, 0].astype(bool)

    truth = model / NOISE_JY
    for x0, y0, snr, _ in SOURCES:
        assert mask[y0, x0] == (snr > options.seed_snr), (x0, y0, snr)
    bright = truth > 6
    assert mask[bright].mean() > 0.99  # every pixel clearly on a seeded source is cleaned
    # little else: almost nothing where the sky holds less than 1 sigma, and no stray islands
    assert (mask & (truth < 1)).sum() < 0.05 * mask.sum()
    assert ndimage.label(mask)[1] == sum(snr > options.seed_snr for *_, snr, _ in SOURCES)

    grown = make_clean_mask(
        image, tmp_path / "grown.fits", options.with_options(grow_pixels=3), maps=maps
    )
    grown_mask = _read(grown)[0][0, 0].astype(bool)
    assert (grown_mask >= mask).all() and grown_mask.sum() > 1.5 * mask.sum()

    # a rerun with the same inputs finds the finished mask and leaves it alone
    stamp = output.stat().st_mtime_ns
    assert make_clean_mask(image, output, options, maps=maps) == output
    assert output.stat().st_mtime_ns == stamp
    # other options make it again
    make_clean_mask(image, output, options.with_options(floor_snr=4.5), maps=maps)
    assert output.stat().st_mtime_ns != stamp


def test_bane_command_and_options_are_checked() -> None:
    argv = build_bane_command(
        "img.fits", "out/img", MaskingOptions(bane_grid=(20, 20), bane_cores=2)
    )
    assert argv[0].endswith("BANE")
    assert argv[1:] == ["--out", "out/img", "--cores", "2", "--grid", "20", "20", "img.fits"]
    with pytest.raises(ConfigError) as error:
        validated(MaskingOptions, {"seed_snr": -1, "grow_pixels": 1.5, "colour": "red"}, "masking")
    assert len(error.value.problems) == 3
    with pytest.raises(ConfigError, match="floor_snr must not exceed seed_snr"):
        validated(MaskingOptions, {"seed_snr": 3, "floor_snr": 5}, "masking")
