"""Peeling on small simulated fields: an outside source found and subtracted, a bright double
remodelled at full resolution (wsclean runs on a few channels and minutes of data)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from casacore.tables import table

from flint.footprint import Footprint
from flint.imaging import WSCleanOptions
from flint.imaging.options import angle_deg
from flint.imaging.run import run_wsclean
from flint.peel import (
    FIELD_COLUMN,
    OUTLIER_COLUMN,
    PEELED_COLUMN,
    PeelOptions,
    find_outliers,
    refine_bright,
    subtract_outliers,
)
from flint.peel.find import phase_centre_deg
from flint.primary_beam import primary_beam
from flint.simulation import SimulationOptions, simulate_field
from flint.simulation.predict import direction_cosines, predict_dft
from flint.sky import SkyModel

pytestmark = [
    pytest.mark.wsclean,
    pytest.mark.skipif(shutil.which("wsclean") is None, reason="wsclean not installed"),
]

OPTIONS = SimulationOptions(
    n_channels=8,
    channel_width_hz=8e6,
    duration_s=300.0,
    integration_s=30.0,
    beams=[14],
    sigma_jy=0.05,
    bandpass="none",
    phase_rms_deg=0,
    primary_beam="gaussian_sidelobes",
    layout="flint",  # peeling works on preprocessed data (the beam's phase centre in FIELD)
)
# a small, tapered image, 1.07 deg wide
IMAGE = WSCleanOptions(
    size=320, scale="12asec", taper_gaussian="45asec", weight="briggs", robust=0.0,
    data_column="DATA", channels_out=2, join_channels=True, niter=5000, nmiter=5, mgain=0.8,
    auto_threshold=1.0, auto_mask=3.0, local_rms=False, multiscale=False,
)  # fmt: skip


def _centre() -> tuple[float, float]:
    ras, decs = Footprint(name=OPTIONS.footprint, pitch_deg=OPTIONS.pitch_deg).beam_centres(
        OPTIONS.ra_deg, OPTIONS.dec_deg, [14]
    )
    return float(ras[0]), float(decs[0])


def _offset(east_deg: float, north_deg: float) -> tuple[float, float]:
    ra, dec = _centre()
    return ra + east_deg / math.cos(math.radians(dec)), dec + north_deg


def _true_visibilities(ms: Path, sky: SkyModel) -> np.ndarray:
    """Stokes-I visibilities [row, chan] of ``sky`` as the simulator made them."""
    ra0, dec0 = phase_centre_deg(ms)
    with table(str(ms), ack=False) as tab:
        uvw = tab.getcol("UVW")
    with table(str(ms / "SPECTRAL_WINDOW"), ack=False) as tab:
        frequencies = tab.getcell("CHAN_FREQ", 0)
    offsets = np.deg2rad(sky.separation_deg(ra0, dec0))[:, np.newaxis]
    flux = sky.flux_at(frequencies) * (
        primary_beam(offsets, frequencies, OPTIONS.primary_beam)
        if OPTIONS.primary_beam != "none"
        else 1.0
    )
    lmn = direction_cosines(
        np.deg2rad(sky.ra_deg), np.deg2rad(sky.dec_deg), math.radians(ra0), math.radians(dec0)
    )
    shape = np.zeros((len(sky), 3))
    return predict_dft(uvw, frequencies, lmn, flux, shape)


def _taper_weights(ms: Path, image: WSCleanOptions) -> np.ndarray:
    """[row, chan] weights of the image's Gaussian taper (FWHM theta: sigma = sqrt(2 ln 2) /
    (pi theta) wavelengths)."""
    with table(str(ms), ack=False) as tab:
        uvw = tab.getcol("UVW")
    with table(str(ms / "SPECTRAL_WINDOW"), ack=False) as tab:
        frequencies = tab.getcell("CHAN_FREQ", 0)
    sigma = math.sqrt(2 * math.log(2)) / (math.pi * math.radians(angle_deg(image.taper_gaussian)))
    uv = np.hypot(uvw[:, 0], uvw[:, 1])[:, np.newaxis] * frequencies / 299_792_458.0
    return np.exp(-0.5 * (uv / sigma) ** 2)


def _column(ms: Path, name: str) -> np.ndarray:
    with table(str(ms), ack=False) as tab:
        return tab.getcol(name)[..., 0]


def test_outside_source_is_found_and_subtracted(tmp_path: Path) -> None:
    """A 1 Jy source 4' beyond the image's edge is found in the wide image, alone, and its
    model subtracted: what is left is the inside sources (to 2 % of the outside one)."""
    inside = SkyModel(
        *zip(_offset(0.1, 0.2), _offset(-0.3, -0.1), strict=True), [0.05, 0.03], 888e6
    )
    outside = SkyModel(*zip(_offset(0.60, 0.1), strict=True), [1.0], 888e6, names=["bright"])
    sky = SkyModel.concatenate([inside, outside])
    ms = simulate_field(tmp_path / "sim", sky, OPTIONS).measurement_sets[0]
    peel = PeelOptions(subtract_outside=True, wide_size=256)
    found = find_outliers(ms, IMAGE, peel, "DATA", tmp_path / "peel" / "outliers.json")
    assert len(found) == 1
    separation = outside.separation_deg(found[0].ra_deg, found[0].dec_deg)[0] * 3600
    assert separation < 60.0  # a wide-image pixel
    assert find_outliers(ms, IMAGE, peel, "DATA", tmp_path / "peel" / "outliers.json") == found
    # no field model yet (an image of data still holding the source models part of it at
    # its edge): the first peeling round starts from the data alone
    result = subtract_outliers(ms, found, IMAGE, peel, "DATA", tmp_path / "peel", None)
    assert result.column == PEELED_COLUMN and not result.skipped
    true_outside = _true_visibilities(ms, outside)
    apparent = np.abs(true_outside).mean()
    left = _column(ms, PEELED_COLUMN) - _true_visibilities(ms, inside) - _column(ms, "NOISE_DATA")
    model_error = _column(ms, OUTLIER_COLUMN) - true_outside
    # what the round's image sees: baselines weighted by its taper (a model on its pixels
    # cannot represent the source on the longest baselines, which the image hardly weights)
    weights = _taper_weights(ms, IMAGE)
    left, model_error = (np.average(np.abs(v), weights=weights) for v in (left, model_error))
    print(f"apparent {apparent:.4f} Jy; left {left:.5f}, model error {model_error:.5f}")
    assert left < 0.02 * apparent
    assert model_error < 0.02 * apparent
    # the source's own image is centred on it: its mask lies on that image's grid
    stamp = fits.getheader(tmp_path / "peel" / f"{ms.stem}.peel0-MFS-image.fits")
    mask = fits.getheader(tmp_path / "peel" / f"{ms.stem}.peel0.mask.fits")
    for key in ("CRPIX1", "CRPIX2", "CRVAL1", "CRVAL2"):  # wsclean writes CRPIX to ~1e-5
        assert mask[key] == pytest.approx(stamp[key], abs=1e-3), key
    assert subtract_outliers(ms, found, IMAGE, peel, "DATA", tmp_path / "peel", None).skipped


def test_bright_double_is_remodelled_at_full_resolution(tmp_path: Path) -> None:
    """A 1 Jy double 22" across is not resolved by the tapered image: its model misses the
    long baselines; the full-resolution refinement brings it within a few per cent."""
    lobes = [_offset(0.05 - 11 / 3600, 0.05), _offset(0.05 + 11 / 3600, 0.05)]
    double = SkyModel(*zip(*lobes, strict=True), [0.6, 0.4], 888e6)
    ms = simulate_field(tmp_path / "sim", double, OPTIONS).measurement_sets[0]
    products = run_wsclean(ms, IMAGE, tmp_path / "images", "round", channel_kinds=())
    truth = _true_visibilities(ms, double)
    with table(str(ms), ack=False) as tab:
        uvw = tab.getcol("UVW")
    long = np.hypot(uvw[:, 0], uvw[:, 1]) > 2000.0  # metres: about 6000 wavelengths
    tapered = np.abs(_column(ms, "MODEL_DATA") - truth)[long].mean()
    peel = PeelOptions(refine_bright=True, bright_min_jy=0.2)
    result = refine_bright(ms, products.image, IMAGE, peel, tmp_path / "peel")
    assert result.column == FIELD_COLUMN and result.n_sources == 1
    refined = np.abs(_column(ms, FIELD_COLUMN) - truth)[long].mean()
    print(f"long-baseline model error: tapered {tapered:.4f} Jy, refined {refined:.4f} Jy")
    assert refined < 0.3 * tapered
    assert refined < 0.03


def test_wide_model_subtracts_the_many_sources_outside(tmp_path: Path) -> None:
    """Twelve faint sources beyond the image (each too faint to find and peel alone) are
    modelled in one wide image and subtracted; the inside sources stay in the data."""
    inside = SkyModel(
        *zip(_offset(0.1, 0.2), _offset(-0.3, -0.1), strict=True), [0.05, 0.03], 888e6
    )
    rng = np.random.default_rng(3)
    angles = rng.uniform(0, 2 * math.pi, 12)
    radii = rng.uniform(0.65, 1.1, 12)  # deg: beyond the 0.53 deg half-width, inside 1.5 deg
    positions = [
        _offset(r * math.cos(a), r * math.sin(a)) for r, a in zip(radii, angles, strict=True)
    ]
    outside = SkyModel(*zip(*positions, strict=True), rng.uniform(0.1, 0.4, 12), 888e6)
    sky = SkyModel.concatenate([inside, outside])
    ms = simulate_field(tmp_path / "sim", sky, OPTIONS).measurement_sets[0]
    peel = PeelOptions(subtract_outside=True, outside_model="wide", wide_model_width_deg=3.0)
    result = subtract_outliers(ms, [], IMAGE, peel, "DATA", tmp_path / "peel", None)
    assert result.column == PEELED_COLUMN and result.n_sources > 0
    weights = _taper_weights(ms, IMAGE)
    true_outside, true_inside = _true_visibilities(ms, outside), _true_visibilities(ms, inside)
    outside_size = np.average(np.abs(true_outside), weights=weights)
    left = _column(ms, PEELED_COLUMN) - true_inside - _column(ms, "NOISE_DATA")
    model_error = _column(ms, OUTLIER_COLUMN) - true_outside
    left, model_error = (np.average(np.abs(v), weights=weights) for v in (left, model_error))
    print(f"outside {outside_size:.4f} Jy; left {left:.5f}, model error {model_error:.5f}")
    assert left < 0.08 * outside_size  # 0.047 measured; the inside sources alone are 0.16
    assert model_error < 0.08 * outside_size
    # the inside is the round's to model: the blanked model holds none of it
    model = fits.getdata(tmp_path / "peel" / f"{ms.stem}.outside-blanked-0000-model.fits")
    centre = model.shape[-1] // 2
    half = IMAGE.size * angle_deg(IMAGE.scale) / 2 / (22.5 / 3600)  # half the 45" taper
    inner = model[
        ...,
        int(centre - half) + 1 : int(centre + half) - 1,
        int(centre - half) + 1 : int(centre + half) - 1,
    ]
    assert not inner.any() and model.any()
    assert subtract_outliers(ms, [], IMAGE, peel, "DATA", tmp_path / "peel", None).skipped
