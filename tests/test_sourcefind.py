"""BANE + Aegean as subprocesses: argument lists, recovery of injected sources, reruns, timeouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from image_factory import ImageSpec, grid_sources, write_image

from flint.errors import ConfigError, ToolError
from flint.options import validated
from flint.sourcefind import (
    SourceFindOptions,
    SourceFindPaths,
    build_aegean_command,
    build_bane_command,
    find_sources,
    source_find_paths,
)
from flint.sourcefind.run import run_aegean
from flint.validation import crossmatch

AEGEAN_COLUMNS = {"ra", "dec", "int_flux", "peak_flux", "local_rms", "a", "b", "pa", "err_ra"}
SPEC = ImageSpec(size=256, cell_arcsec=2.5, noise_jy=1e-4, seed=7, four_d=True)


def test_commands_carry_the_options() -> None:
    options = SourceFindOptions(bane_cores=1, bane_grid=(8, 8), seedclip=6, floodclip=3.5)
    bane = build_bane_command("/d/beam0.fits", "/d/tmp/beam0", options, executable="/x/BANE")
    assert bane == [
        "/x/BANE", "--cores", "1", "--grid", "8", "8", "--out", "/d/tmp/beam0", "/d/beam0.fits"
    ]  # fmt: skip
    aegean = build_aegean_command("/d/i.fits", "/d/i_bkg.fits", "/d/i_rms.fits", "/t/i", options)
    assert aegean[0] == "aegean" and aegean[-1] == "/d/i.fits"
    pairs = dict(zip(aegean[1:-1:2], aegean[2:-1:2], strict=True))
    assert pairs == {
        "--cores": "1",
        "--background": "/d/i_bkg.fits",
        "--noise": "/d/i_rms.fits",
        "--seedclip": "6.0",
        "--floodclip": "3.5",
        "--table": "/t/i.fits,/t/i.csv",
    }
    paths = source_find_paths("/d/beam0.conv.fits", "/out")
    assert paths.rms == Path("/out/beam0.conv_rms.fits")
    assert paths.catalogue_csv == Path("/out/beam0.conv_comp.csv")


def test_flood_threshold_above_seed_is_rejected() -> None:
    with pytest.raises(ConfigError, match="floodclip"):
        validated(SourceFindOptions, {"seedclip": 4, "floodclip": 5})


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory):
    """A 256² image with 24 sources at 10-200 σ, searched once."""
    where = tmp_path_factory.mktemp("sourcefind")
    rng = np.random.default_rng(11)
    fluxes = SPEC.noise_jy * np.exp(rng.uniform(np.log(10), np.log(200), 24))
    truth = grid_sources(SPEC, fluxes, spacing_px=40, seed=2)
    image = write_image(where / "beam0.image.fits", SPEC, truth)
    result = find_sources(image, where / "products")
    return truth, result


def test_aegean_recovers_injected_sources(searched) -> None:
    truth, result = searched
    catalogue = Table.read(result.catalogue_fits)
    assert result.n_sources == len(catalogue)
    assert set(catalogue.colnames) >= AEGEAN_COLUMNS
    beam = SPEC.beam.bmaj_arcsec
    matches = crossmatch(truth, catalogue, radius_arcsec=0.5 * beam)
    found = np.asarray(matches["matched"])
    assert found.mean() >= 0.95  # every source is above 10 sigma
    assert len(catalogue) - found.sum() <= 1  # at most one spurious component
    ratio = matches["flux_cat"][found] / matches["flux_jy"][found]
    assert abs(np.median(ratio) - 1) < 0.03
    assert np.median(matches["separation_arcsec"][found]) < 0.1 * beam
    # the CSV holds the same components
    assert np.allclose(Table.read(result.catalogue_csv)["int_flux"], catalogue["int_flux"])


def test_bane_noise_map_matches_injected_noise(searched) -> None:
    _, result = searched
    rms = fits.getdata(result.rms)
    assert np.nanmedian(rms) == pytest.approx(SPEC.noise_jy, rel=0.1)
    assert abs(np.nanmedian(fits.getdata(result.background))) < 0.2 * SPEC.noise_jy


def test_rerun_skips_existing_products(searched) -> None:
    _, first = searched
    stamps = [p.stat().st_mtime_ns for p in (first.rms, first.background, first.catalogue_fits)]
    again = find_sources(first.image, first.rms.parent)
    assert again.skipped and again.n_sources == first.n_sources
    assert [p.stat().st_mtime_ns for p in (again.rms, again.background, again.catalogue_fits)] == (
        stamps
    )


def test_no_components_gives_empty_aegean_catalogues(searched, tmp_path: Path) -> None:
    _, result = searched
    paths = SourceFindPaths(
        image=result.image,
        background=result.background,
        rms=result.rms,
        catalogue_fits=tmp_path / "none_comp.fits",
        catalogue_csv=tmp_path / "none_comp.csv",
    )
    # no source reaches 1000 sigma
    options = SourceFindOptions(seedclip=1000, floodclip=4)
    assert run_aegean(result.image, paths, options, tmp_path / "aegean.log") == 0
    for path in (paths.catalogue_fits, paths.catalogue_csv):
        table = Table.read(path)
        assert len(table) == 0
        assert set(table.colnames) >= AEGEAN_COLUMNS


def test_bane_timeout_fails_cleanly(tmp_path: Path) -> None:
    image = write_image(
        tmp_path / "img.fits",
        ImageSpec(size=64),
        Table({"ra_deg": [], "dec_deg": [], "flux_jy": []}),
    )
    with pytest.raises(ToolError, match="timed out") as error:
        find_sources(image, options=SourceFindOptions(bane_timeout_s=0.05))
    assert error.value.returncode is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img.fits", "logs"]
