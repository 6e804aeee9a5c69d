"""wsclean: pure command building, and real runs recovering a known point source."""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning
from casacore.tables import table

from flint.errors import ConfigError, InputError
from flint.imaging import (
    CleanDivergenceError,
    WSCleanOptions,
    build_predict_command,
    build_wsclean_command,
    detect_divergence,
    predict_model_column,
    run_wsclean,
)
from flint.masking import flood_fill_mask, write_mask
from flint.options import validated

SPEED_OF_LIGHT = 299_792_458.0
ASKAP_LONGITUDE = np.deg2rad(116.637)


def fill_point_source(
    ms: Path, ra_deg: float, dec_deg: float, flux_jy: float, noise_jy: float
) -> None:
    """Overwrite UVW, DATA (XX = YY = flux) and FLAG of ``ms`` with one point source.

    UVW come from the real antenna positions at hour angles -1, 0, +1 h (one per
    integration); the phase sign matches wsclean's convention.
    """
    with table(f"{ms}/FIELD", ack=False) as field:
        ra0, dec0 = field.getcol("PHASE_DIR")[0, 0]
    with table(f"{ms}/ANTENNA", ack=False) as antennas:
        xyz = antennas.getcol("POSITION")
    with table(f"{ms}/SPECTRAL_WINDOW", ack=False) as spw:
        freqs = spw.getcol("CHAN_FREQ")[0]
    with table(str(ms), readonly=False, ack=False) as tab:
        a1, a2, time = tab.getcol("ANTENNA1"), tab.getcol("ANTENNA2"), tab.getcol("TIME")
        step = np.searchsorted(np.unique(time), time)
        gha = np.deg2rad(15.0 * np.array([-1.0, 0.0, 1.0]))[step] - ASKAP_LONGITUDE
        bx, by, bz = (xyz[a2] - xyz[a1]).T
        sd, cd = np.sin(dec0), np.cos(dec0)
        uvw = np.stack(
            [
                np.sin(gha) * bx + np.cos(gha) * by,
                -sd * np.cos(gha) * bx + sd * np.sin(gha) * by + cd * bz,
                cd * np.cos(gha) * bx - cd * np.sin(gha) * by + sd * bz,
            ],
            axis=1,
        )
        ra, dec = np.deg2rad(ra_deg), np.deg2rad(dec_deg)
        lmn = np.array(
            [
                np.cos(dec) * np.sin(ra - ra0),
                np.sin(dec) * cd - np.cos(dec) * sd * np.cos(ra - ra0),
                0.0,
            ]
        )
        lmn[2] = np.sqrt(1 - lmn[0] ** 2 - lmn[1] ** 2) - 1
        vis = flux_jy * np.exp(2j * np.pi * (uvw @ lmn)[:, None] * freqs[None, :] / SPEED_OF_LIGHT)
        rng = np.random.default_rng(42)
        data = noise_jy * (
            rng.standard_normal((*vis.shape, 4)) + 1j * rng.standard_normal((*vis.shape, 4))
        )
        data[..., 0] += vis
        data[..., 3] += vis
        tab.putcol("UVW", uvw)
        tab.putcol("DATA", data)
        tab.putcol("FLAG", np.broadcast_to((a1 == a2)[:, None, None], data.shape))


TRUE_FLUX = 2.0


@pytest.fixture
def point_source_ms(real_ms: Path) -> tuple[Path, float, float]:
    """The real MS holding a 2 Jy point source 1.5' east and 1' north of the phase centre."""
    with table(f"{real_ms}/FIELD", ack=False) as field:
        ra0, dec0 = np.rad2deg(field.getcol("PHASE_DIR")[0, 0])
    ra = ra0 + 1.5 / 60 / np.cos(np.deg2rad(dec0))
    dec = dec0 + 1.0 / 60
    fill_point_source(real_ms, ra, dec, TRUE_FLUX, noise_jy=1.0)
    return real_ms, ra, dec


SMALL = WSCleanOptions(
    size=256,
    scale="3asec",
    data_column="DATA",
    channels_out=2,
    join_channels=True,
    fit_spectral_pol=2,
    niter=2000,
    mgain=0.8,
    auto_threshold=3.0,
    auto_mask=None,
    local_rms=False,
    multiscale=False,
    threads=1,
    save_source_list=True,
)


def _plane(path: Path) -> np.ndarray:
    """The first image plane of a FITS file."""
    with fits.open(path, memmap=False) as hdus:
        return hdus[0].data[0, 0]


def _peak(path: Path) -> tuple[float, float, float]:
    """Peak value of an image and its sky position (deg), refined by a 3x3 centroid."""
    data = _plane(path)
    y, x = np.unravel_index(np.nanargmax(data), data.shape)
    box = np.clip(data[y - 1 : y + 2, x - 1 : x + 2], 0, None)
    dy, dx = np.mgrid[-1:2, -1:2]
    cx, cy = x + (box * dx).sum() / box.sum(), y + (box * dy).sum() / box.sum()
    with warnings.catch_warnings():  # wsclean headers trigger astropy's harmless DATE fix-up
        warnings.simplefilter("ignore", FITSFixedWarning)
        sky = WCS(fits.getheader(path)).celestial.pixel_to_world(cx, cy)
    return float(data[y, x]), float(sky.ra.deg), float(sky.dec.deg)


def test_argv_is_built_from_options() -> None:
    options = SMALL.with_options(
        weight="briggs",
        robust=0.25,
        multiscale=True,
        multiscale_scales=(0, 4, 8),
        fits_mask=Path("m.fits"),
        wgridder_accuracy=1e-5,
    )
    command = build_wsclean_command(["a.ms", "b.ms"], options, "out/beam0")
    argv = command.argv
    assert argv[:3] == ["wsclean", "-name", "out/beam0"]
    assert argv[-2:] == ["a.ms", "b.ms"]

    def value(flag: str, count: int = 1) -> list[str]:
        index = argv.index(flag)
        return argv[index + 1 : index + 1 + count]

    assert value("-size", 2) == ["256", "256"]
    assert value("-weight", 2) == ["briggs", "0.25"]
    assert value("-multiscale-scales") == ["0,4,8"]
    assert value("-fits-mask") == ["m.fits"]
    assert value("-channels-out") == ["2"]
    assert value("-fit-spectral-pol") == ["2"]
    assert value("-j") == ["1"]
    assert value("-wgridder-accuracy") == ["1e-05"]
    assert {"-join-channels", "-multiscale", "-save-source-list", "-use-wgridder"} <= set(argv)
    assert "-auto-mask" not in argv and "-local-rms" not in argv
    assert "-reorder" not in argv and "-no-reorder" not in argv  # wsclean's default
    for reorder, flag in ((False, "-no-reorder"), (True, "-reorder")):
        assert (
            flag in build_wsclean_command("a.ms", options.with_options(reorder=reorder), "x").argv
        )
    # products: two sub-bands plus MFS, five kinds each (PSF without pol), and the source list
    assert sorted(command.products)[:5] == [
        "0000-dirty",
        "0000-image",
        "0000-model",
        "0000-psf",
        "0000-residual",
    ]
    assert len(command.products) == 3 * 5 + 1
    assert command.products["MFS-image"] == Path("out/beam0-MFS-image.fits")
    natural = build_wsclean_command("a.ms", SMALL.with_options(weight="natural"), "x").argv
    assert natural[natural.index("-weight") + 1 : natural.index("-weight") + 3] == [
        "natural",
        "-pol",
    ]


def test_multi_polarisation_products_follow_wsclean_naming() -> None:
    options = WSCleanOptions(size=64, pol="xx,yy", niter=0, make_psf=True)
    products = build_wsclean_command("a.ms", options, "p").products
    assert sorted(products) == ["XX-dirty", "XX-image", "YY-dirty", "YY-image", "psf"]


def test_inconsistent_options_are_all_reported() -> None:
    with pytest.raises(ConfigError) as error:
        validated(
            WSCleanOptions,
            {"size": 255, "scale": "3 parsecs", "fit_spectral_pol": 2, "mgain": 1.5, "pol": "iz"},
            "imaging",
        )
    text = str(error.value)
    for key in ("size", "scale", "mgain", "pol"):
        assert f"{key}:" in text
    # cross-field checks run once the fields are valid, and are reported together
    with pytest.raises(ConfigError) as error:
        validated(WSCleanOptions, {"fit_spectral_pol": 2, "deconvolution_channels": 3}, "imaging")
    assert "fit_spectral_pol needs join_channels" in str(error.value)
    assert "deconvolution_channels is larger than channels_out" in str(error.value)


def test_predict_command_reads_the_model_prefix() -> None:
    argv = build_predict_command(
        "a.ms", "out/beam0", SMALL.with_options(wgridder_accuracy=1e-5, reorder=False)
    )
    assert "-no-reorder" in argv
    assert argv[argv.index("-wgridder-accuracy") + 1] == "1e-05"  # the same gridder as imaging
    assert argv[:4] == ["wsclean", "-predict", "-name", "out/beam0"]
    assert argv[argv.index("-channels-out") + 1] == "2"
    assert argv[-1] == "a.ms"


@pytest.mark.wsclean
def test_wsclean_recovers_point_source_and_skips_on_rerun(point_source_ms, tmp_path: Path) -> None:
    ms, ra, dec = point_source_ms
    products = run_wsclean(ms, SMALL, tmp_path / "images", "beam0")
    assert products.attempts == 1
    peak, found_ra, found_dec = _peak(products.image)
    assert peak == pytest.approx(TRUE_FLUX, rel=0.03)
    offset_arcsec = 3600 * np.hypot((found_ra - ra) * np.cos(np.deg2rad(dec)), found_dec - dec)
    beam_arcsec = 3600 * fits.getheader(products.image)["BMAJ"]
    assert offset_arcsec < 0.1 * beam_arcsec
    # every clean component sits on the source, and together they hold its flux
    model = _plane(products.model)
    assert model.sum() == pytest.approx(TRUE_FLUX, rel=0.03)
    for sub_band in products.channel_images:
        assert _peak(sub_band)[0] == pytest.approx(TRUE_FLUX, rel=0.05)
    residual = _plane(products.residual)
    assert np.abs(residual).max() < 0.02 * TRUE_FLUX
    assert products.source_list is not None and "POINT" in products.source_list.read_text()
    assert not [p for p in (tmp_path / "images").iterdir() if p.name.startswith(".")]

    stamps = {path: path.stat().st_mtime_ns for path in products.files.values()}
    again = run_wsclean(ms, SMALL, tmp_path / "images", "beam0")
    assert again.files == products.files
    assert {path: path.stat().st_mtime_ns for path in again.files.values()} == stamps

    # wsclean honours a flint clean mask: every component lands inside it
    rms = 1.4826 * np.median(np.abs(residual - np.median(residual)))
    with fits.open(products.image, memmap=False) as hdus:
        mask = flood_fill_mask(hdus[0].data / rms, seed_snr=50, floor_snr=10)
        mask_path = write_mask(mask, hdus[0].header, tmp_path / "beam0.mask.fits")
    # ... and, asked to, keeps only the sub-band models (what a next round predicts from)
    masked = run_wsclean(
        ms,
        SMALL.with_options(fits_mask=mask_path, no_dirty=True),
        tmp_path / "images",
        "masked",
        channel_kinds=("model",),
    )
    components = _plane(masked.model) != 0
    assert components.any() and not (components & ~mask[0, 0]).any()
    assert _plane(masked.model).sum() == pytest.approx(TRUE_FLUX, rel=0.03)
    written = {p.name.removeprefix("masked-") for p in (tmp_path / "images").glob("masked-*.fits")}
    assert written == {"0000-model.fits", "0001-model.fits"} | {
        f"MFS-{kind}.fits" for kind in ("image", "residual", "model", "psf")
    }
    assert masked.channel_images == [] and set(masked.files) == {
        name.removesuffix(".fits") for name in written
    } | {"sources"}


@pytest.mark.wsclean
def test_temporary_files_go_to_the_tool_scratch(
    point_source_ms, tmp_path: Path, monkeypatch
) -> None:
    """With FLINT_TOOL_SCRATCH set (node-local, often another file system: /dev/shm here),
    wsclean reorders and writes its images there; finished products are moved into place."""
    ms, _, _ = point_source_ms
    shm = Path("/dev/shm")
    base = shm if shm.is_dir() and os.access(shm, os.W_OK) else tmp_path
    scratch = Path(tempfile.mkdtemp(prefix="flint-test-scratch-", dir=base))
    try:
        monkeypatch.setenv("FLINT_TOOL_SCRATCH", str(scratch))
        products = run_wsclean(ms, SMALL, tmp_path / "images", "beam0")
        assert _peak(products.image)[0] == pytest.approx(TRUE_FLUX, rel=0.03)
        assert all(path.parent == tmp_path / "images" for path in products.files.values())
        assert "Reordering" in products.log.read_text()  # two sub-bands: reordered files
        assert not list(scratch.iterdir())  # nothing left behind
        assert not [p for p in ms.parent.iterdir() if p.name.endswith(".tmp")]
        predict_model_column(ms, products.prefix, products.options)
        assert not list(scratch.iterdir())
        monkeypatch.setenv("FLINT_TOOL_SCRATCH", str(tmp_path / "missing"))
        with pytest.raises(InputError, match=r"FLINT_TOOL_SCRATCH=.*missing: not a directory"):
            run_wsclean(ms, SMALL.with_options(niter=10), tmp_path / "images", "other")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.mark.wsclean
def test_diverging_clean_is_retried_with_safer_settings(point_source_ms, tmp_path: Path) -> None:
    ms, _, _ = point_source_ms
    # a minor-loop gain of 2.5 overshoots by 150 % per iteration: wsclean's clean runs away
    reckless = SMALL.with_options(
        gain=2.5, channels_out=1, join_channels=False, fit_spectral_pol=None
    )
    products = run_wsclean(ms, reckless, tmp_path, "reckless", max_retries=1)
    assert products.attempts == 2
    assert products.options.gain == pytest.approx(0.1)
    diverged_log = (tmp_path / "reckless-wsclean.diverged-1.log").read_text().splitlines()
    assert detect_divergence(diverged_log) is not None  # the kept log shows the runaway
    assert _peak(products.image)[0] == pytest.approx(TRUE_FLUX, rel=0.03)

    with pytest.raises(CleanDivergenceError, match="diverged in all 1 attempt"):
        run_wsclean(ms, reckless, tmp_path / "never", "reckless", max_retries=0)
    assert not any(path.suffix == ".fits" for path in (tmp_path / "never").iterdir())


def test_divergence_detection_on_peak_growth() -> None:
    healthy = [
        "Initial peak: 2 Jy at 1,1",
        "Iteration 0: 2 Jy at 1,1",
        "Initial peak: 370.48 mJy at 1,1",
    ]
    assert detect_divergence(healthy) is None
    runaway = [*healthy, "Initial peak: 25 Jy at 3,3"]
    assert "grew beyond 10 x" in detect_divergence(runaway)
    assert "non-finite" in detect_divergence(["Iteration 7, scale 12 px : nan Jy at 4,4"])


@pytest.mark.wsclean
def test_predicted_model_column_matches_the_data(point_source_ms, tmp_path: Path) -> None:
    ms, _, _ = point_source_ms
    options = SMALL.with_options(no_update_model_required=True, save_source_list=False)
    products = run_wsclean(ms, options, tmp_path, "beam0")
    with table(str(ms), ack=False) as tab:
        assert "MODEL_DATA" not in tab.colnames()
    predict_model_column(ms, products.prefix, products.options)
    with table(str(ms), ack=False) as tab:
        cross = tab.getcol("ANTENNA1") != tab.getcol("ANTENNA2")
        model = tab.getcol("MODEL_DATA")[cross][..., 0]
        data = tab.getcol("DATA")[cross][..., 0]
    # the model is the 2 Jy source: |model| = 2 Jy everywhere, and data - model is the noise alone
    assert np.median(np.abs(model)) == pytest.approx(TRUE_FLUX, rel=0.03)
    assert np.std(data - model) == pytest.approx(np.sqrt(2.0), rel=0.03)


def test_nothing_to_clean_is_not_divergence() -> None:
    # wsclean 3.1 on a noise-only image: the threshold is reached before any iteration
    lines = [
        "Major iteration threshold reached global threshold of 883.41 µJy: final major iteration.",
        "Performed 0 iterations in total, 0 in this major iteration with sub-minor optimization.",
        "Deconvolution aborted.",
    ]
    assert detect_divergence(lines) is None
    runaway = [
        "Performed 12 iterations in total, 12 in this major iteration",
        "Deconvolution aborted.",
    ]
    assert detect_divergence(runaway) is not None
