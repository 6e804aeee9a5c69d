"""Catalogue validation against a truth whose answers are known by construction."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table
from image_factory import ImageSpec, grid_sources, make_wcs
from matplotlib.image import imread

from flint.primary_beam import primary_beam
from flint.sky import SkyModel
from flint.sourcefind import empty_catalogue
from flint.validation import ValidationOptions, crossmatch, read_summary, validate

SPEC = ImageSpec(size=256, cell_arcsec=2.5, noise_jy=1e-4, frequency_hz=1.4e9)
RMS = 1e-4
BMAJ = SPEC.beam.bmaj_arcsec


def write_map(path: Path, value: float, spec: ImageSpec = SPEC) -> Path:
    """A constant map (an image header or an rms map) on the spec's grid."""
    header = make_wcs(spec).to_header()
    header["BMAJ"], header["BMIN"], header["BPA"] = (
        spec.beam.bmaj_arcsec / 3600,
        spec.beam.bmin_arcsec / 3600,
        spec.beam.bpa_deg,
    )
    header["RESTFRQ"] = spec.frequency_hz
    data = np.full((spec.size, spec.size), value, dtype=np.float32)
    fits.PrimaryHDU(data, header).writeto(path)
    return path


def catalogue_rows(ra: np.ndarray, dec: np.ndarray, flux: np.ndarray) -> Table:
    """An Aegean component table with the given positions and integrated fluxes."""
    empty = empty_catalogue()
    n = len(ra)
    columns = {name: np.zeros(n, dtype=empty[name].dtype) for name in empty.colnames}
    columns.update(ra=ra, dec=dec, int_flux=flux, peak_flux=flux, local_rms=np.full(n, RMS))
    return Table(columns)


def shifted(ra: np.ndarray, dec: np.ndarray, east_arcsec: float, north_arcsec: float):
    coords = SkyCoord(ra * u.deg, dec * u.deg)
    moved = coords.spherical_offsets_by(east_arcsec * u.arcsec, north_arcsec * u.arcsec)
    return moved.ra.deg, moved.dec.deg


@pytest.fixture
def known_case(tmp_path: Path):
    """20 bright (20-100 σ) and 20 faint (3-9 σ) true sources; a catalogue built from them.

    Found: 19 of the bright ones, flux × 1.04, moved 1.2" east and 0.6" south; 10
    faint ones, flux × 0.9; plus 3 spurious components. One true source lies
    outside the image and must not count.
    """
    rng = np.random.default_rng(4)
    bright = RMS * rng.uniform(20, 100, 20)
    faint = RMS * rng.uniform(3, 9, 20)
    truth = grid_sources(SPEC, np.concatenate([bright, faint]), spacing_px=35, seed=5)
    outside = SkyCoord(SPEC.ra_deg * u.deg, SPEC.dec_deg * u.deg).directional_offset_by(
        0 * u.deg, 1 * u.deg
    )
    sky = SkyModel(
        ra_deg=np.append(truth["ra_deg"], outside.ra.deg),
        dec_deg=np.append(truth["dec_deg"], outside.dec.deg),
        flux_jy=np.append(truth["flux_jy"], 1.0),
        reference_hz=SPEC.frequency_hz,
    )
    found_bright = np.arange(1, 20)
    found_faint = np.arange(20, 30)
    ra_b, dec_b = shifted(truth["ra_deg"][found_bright], truth["dec_deg"][found_bright], 1.2, -0.6)
    spurious = make_wcs(SPEC).pixel_to_world([5, 250, 128], [250, 5, 3])  # image corners/edge
    catalogue = catalogue_rows(
        np.concatenate([ra_b, truth["ra_deg"][found_faint], spurious.ra.deg]),
        np.concatenate([dec_b, truth["dec_deg"][found_faint], spurious.dec.deg]),
        np.concatenate(
            [1.04 * truth["flux_jy"][found_bright], 0.9 * truth["flux_jy"][found_faint], [1e-3] * 3]
        ),
    )
    path = tmp_path / "beam_comp.fits"
    catalogue.write(path)
    image = write_map(tmp_path / "image.fits", 0.0)
    rms = write_map(tmp_path / "image_rms.fits", RMS)
    return sky, path, image, rms


def test_summary_reproduces_the_known_answers(known_case, tmp_path: Path) -> None:
    sky, catalogue, image, rms = known_case
    result = validate(catalogue, sky, image, rms, tmp_path / "out", psf_images=[image, image])
    s = result.summary
    assert (s.n_truth, s.n_catalogue, s.n_matched, s.n_unmatched_components) == (40, 32, 29, 3)
    assert s.n_truth_above_snr == 20
    assert s.completeness_above_snr == pytest.approx(19 / 20)
    assert s.median_flux_ratio == pytest.approx(1.04, rel=1e-4)
    assert s.flux_ratio_scatter == pytest.approx(0.0, abs=1e-4)
    assert s.median_ra_offset_arcsec == pytest.approx(1.2, abs=0.01)
    assert s.median_dec_offset_arcsec == pytest.approx(-0.6, abs=0.01)
    assert s.median_offset_beams == pytest.approx(np.hypot(1.2, 0.6) / BMAJ, rel=0.01)
    assert s.rms_median_jy == pytest.approx(RMS, rel=1e-5)

    matches = Table.read(result.matches, format="ascii.csv")
    assert len(matches) == 40
    assert np.sum(matches["matched"].astype(str) == "True") == 29
    completeness = Table.read(result.completeness, format="ascii.csv")
    assert completeness["n_true"].sum() == 40 and completeness["n_found"].sum() == 29
    # the brightest bin holds only bright sources, all but at most one found
    assert completeness["completeness"][-1] >= 0.75
    psf = Table.read(result.psf, format="ascii.csv")
    assert np.allclose(psf["bmaj_arcsec"], BMAJ)
    assert read_summary(result.summary_json).model_dump_json() == s.model_dump_json()
    assert json.loads(result.summary_json.read_text())["n_matched"] == 29
    assert imread(result.figure).shape[:2] == (855, 1350)


def test_crossmatch_is_one_to_one() -> None:
    truth = Table({"ra_deg": [10.0, 10.0 + 2 / 3600], "dec_deg": [0.0, 0.0], "flux_jy": [1.0, 1.0]})
    catalogue = catalogue_rows(np.array([10.0 + 0.5 / 3600]), np.array([0.0]), np.array([1.0]))
    matches = crossmatch(truth, catalogue, radius_arcsec=5.0)
    assert list(matches["matched"]) == [True, False]  # the closer truth source wins
    assert matches["separation_arcsec"][0] == pytest.approx(0.5, abs=1e-3)


def test_euclidean_counts_recover_the_injected_normalisation(tmp_path: Path) -> None:
    """Sources drawn from S^2.5 dN/dS = K (flat) give flat counts at K."""
    rng = np.random.default_rng(8)
    s_min, s_max, count = 1e-3, 1e-1, 3000
    # inverse-CDF draw from dN/dS ∝ S^-2.5
    u_draw = rng.uniform(size=count)
    flux = (s_min**-1.5 - u_draw * (s_min**-1.5 - s_max**-1.5)) ** (-1 / 1.5)
    wcs = make_wcs(SPEC)
    sky = wcs.pixel_to_world(*rng.uniform(-0.5, SPEC.size - 0.5, size=(2, count)))
    area_sr = (SPEC.size * SPEC.cell_arcsec * u.arcsec).to_value(u.rad) ** 2
    normalisation = count / (area_sr * (2 / 3) * (s_min**-1.5 - s_max**-1.5))
    catalogue = catalogue_rows(sky.ra.deg, sky.dec.deg, flux)
    image = write_map(tmp_path / "image.fits", 0.0)
    rms = write_map(tmp_path / "rms.fits", 1e-5)
    truth = SkyModel(ra_deg=sky.ra.deg, dec_deg=sky.dec.deg, flux_jy=flux, reference_hz=1.4e9)
    result = validate(catalogue, truth, image, rms, tmp_path / "out")
    counts = Table.read(result.counts, format="ascii.csv")
    assert counts["area_sr"] == pytest.approx(area_sr, rel=0.01)
    ratio = counts["euclidean"] / normalisation
    pull = (counts["euclidean"] - normalisation) / counts["error"]
    # bin centres at the geometric mean bias a steep power law by < 2 %
    assert np.average(ratio, weights=counts["n"]) == pytest.approx(1.0, abs=0.05)
    assert np.all(np.abs(pull) < 3.5)
    assert result.summary.completeness_above_snr == 1.0
    assert result.summary.median_flux_ratio == pytest.approx(1.0)


def test_beam_images_compare_with_the_attenuated_truth(tmp_path: Path) -> None:
    """For an image that is not primary-beam corrected, truth is attenuated by the beam."""
    spec = ImageSpec(size=256, cell_arcsec=20.0, frequency_hz=1.4e9, beam=SPEC.beam)
    truth = grid_sources(spec, np.full(16, 0.01), spacing_px=50, seed=3)
    pointing = (spec.ra_deg, spec.dec_deg)
    coords = SkyCoord(truth["ra_deg"] * u.deg, truth["dec_deg"] * u.deg)
    offsets = coords.separation(SkyCoord(*pointing, unit="deg")).rad
    attenuation = primary_beam(offsets, 1.4e9)
    assert attenuation.min() < 0.7  # the beam matters across this image
    catalogue = catalogue_rows(truth["ra_deg"], truth["dec_deg"], 0.01 * attenuation)
    truth_path = tmp_path / "reference.fits"  # a user-supplied reference catalogue
    Table(
        {"ra": truth["ra_deg"], "dec": truth["dec_deg"], "int_flux": truth["flux_jy"]},
        meta={"REF_FREQ": 1.4e9},
    ).write(truth_path)
    image = write_map(tmp_path / "beam.fits", 0.0, spec)
    rms = write_map(tmp_path / "beam_rms.fits", RMS, spec)
    options = ValidationOptions(snr_threshold=5)
    attenuated = validate(
        catalogue, truth_path, image, rms, tmp_path / "a", pointing_deg=pointing, options=options
    )
    assert attenuated.summary.median_flux_ratio == pytest.approx(1.0, rel=1e-4)
    assert attenuated.summary.completeness_above_snr == 1.0
    naive = validate(catalogue, truth_path, image, rms, tmp_path / "b", options=options)
    assert naive.summary.median_flux_ratio == pytest.approx(np.median(attenuation), rel=0.05)


def test_blended_truth_is_grouped_and_resolved_sources_use_integrated_flux(tmp_path: Path) -> None:
    """Truth components closer than their sizes as the image shows them are one expected
    source (fluxes summed); a catalogue that splits a source is grouped the same way; the
    resolved sources' integrated-flux ratio is reported on its own."""
    centre = SkyCoord(SPEC.ra_deg * u.deg, SPEC.dec_deg * u.deg)

    def at(east_arcsec, north_arcsec):
        moved = centre.spherical_offsets_by(east_arcsec * u.arcsec, north_arcsec * u.arcsec)
        return moved.ra.deg, moved.dec.deg

    # a blended pair of points (0.4 beam apart: unresolved), a double resolved into two points
    # (3 beams apart), and a resolved Gaussian (2 beams wide)
    places = [
        at(-120, 0),
        at(-120 + 0.4 * BMAJ, 0),
        at(60, -90),
        at(60 + 3 * BMAJ, -90),
        at(0, 120),
    ]
    ra, dec = (np.array(values) for values in zip(*places, strict=True))
    flux = np.array([0.01, 0.005, 0.008, 0.006, 0.02])
    major = np.array([0.0, 0.0, 0.0, 0.0, 2 * BMAJ])
    sky = SkyModel(ra, dec, flux, SPEC.frequency_hz, major_arcsec=major, minor_arcsec=major,
                   names=["pair_a", "pair_b", "double_a", "double_b", "blob"])  # fmt: skip
    # the finder: one component for the pair, two for the double, two pieces of the blob
    blob = [at(-0.2 * BMAJ, 120), at(0.2 * BMAJ, 120)]
    catalogue = catalogue_rows(
        np.array([np.average(ra[:2], weights=flux[:2]), ra[2], ra[3], blob[0][0], blob[1][0]]),
        np.array([dec[0], dec[2], dec[3], blob[0][1], blob[1][1]]),
        np.array([0.015, 0.008, 0.006, 0.0095, 0.0095]),
    )
    catalogue["a"] = [BMAJ, BMAJ, BMAJ, 2.2 * BMAJ, 2.2 * BMAJ]
    image = write_map(tmp_path / "image.fits", 0.0)
    rms = write_map(tmp_path / "image_rms.fits", RMS)
    result = validate(catalogue, sky, image, rms, tmp_path / "out")
    s = result.summary
    assert (s.n_truth_components, s.n_truth, s.n_blended) == (5, 4, 1)
    assert s.completeness_above_snr == 1.0
    assert s.n_resolved_above_snr == 1
    assert s.median_flux_ratio_resolved == pytest.approx(0.95)
    assert s.median_flux_ratio == pytest.approx(1.0)
    groups = Table.read(result.groups, format="ascii.csv")
    assert list(groups["members"]) == ["pair_a;pair_b"]
    assert groups["flux_jy"][0] == pytest.approx(0.015)
    # the resolved blob's expected peak is its flux over its area in beams
    matches = Table.read(result.matches, format="ascii.csv")
    blob_row = matches[np.char.find(np.asarray(matches["members"], str), "blob") >= 0][0]
    bmin = SPEC.beam.bmin_arcsec
    area = np.hypot(2 * BMAJ, BMAJ) * np.hypot(2 * BMAJ, bmin) / (BMAJ * bmin)
    assert blob_row["peak_jy"] == pytest.approx(0.02 / area, rel=1e-3)
