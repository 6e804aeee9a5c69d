"""Linear mosaics: primary-beam-corrected fluxes, lower noise in overlaps, weights, trimming."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
from image_factory import ImageSpec, Restoring, fit_point_source, write_image

from flint.errors import InputError
from flint.mosaic import MosaicOptions, frequency_hz, mosaic_images
from flint.mosaic.headers import offsets_rad
from flint.primary_beam import primary_beam

FREQUENCY = 1.4e9  # primary-beam FWHM 0.93 deg
BEAM = Restoring(60.0, 50.0, 30.0)
CELL = 10.0
NOISE = (2e-4, 3e-4)
CENTRES = (
    SkyCoord(150.0 * u.deg, -30.0 * u.deg),
    SkyCoord(150.0 * u.deg, -30.0 * u.deg).directional_offset_by(90 * u.deg, 30 * u.arcmin),
)


@dataclass(frozen=True)
class Field:
    truth: Table
    images: list[Path]
    noise_images: list[Path]
    specs: list[ImageSpec]


def _pb_at(centre: SkyCoord):
    def attenuation(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
        return primary_beam(centre.separation(SkyCoord(ra * u.deg, dec * u.deg)).rad, FREQUENCY)

    return attenuation


@pytest.fixture(scope="module")
def two_beams(tmp_path_factory: pytest.TempPathFactory) -> Field:
    """Two overlapping 300² beam images of one sky, attenuated by their primary beams."""
    where = tmp_path_factory.mktemp("mosaic")
    first, second = CENTRES
    # one source between the beams (seen by both), one near each beam centre
    sources = [
        first.directional_offset_by(90 * u.deg, 20 * u.arcmin).directional_offset_by(
            0 * u.deg, 8 * u.arcmin
        ),
        first.directional_offset_by(180 * u.deg, 10 * u.arcmin),
        second.directional_offset_by(200 * u.deg, 12 * u.arcmin),
    ]
    truth = Table(
        {
            "ra_deg": [s.ra.deg for s in sources],
            "dec_deg": [s.dec.deg for s in sources],
            "flux_jy": [0.05, 0.03, 0.04],
        }
    )
    images, noise_images, specs = [], [], []
    for index, (centre, noise) in enumerate(zip(CENTRES, NOISE, strict=True)):
        spec = ImageSpec(
            ra_deg=centre.ra.deg,
            dec_deg=centre.dec.deg,
            size=300,
            cell_arcsec=CELL,
            frequency_hz=FREQUENCY,
            beam=BEAM,
            noise_jy=noise,
            seed=10 + index,
            four_d=index == 1,
        )
        specs.append(spec)
        images.append(write_image(where / f"beam{index}.fits", spec, truth, _pb_at(centre)))
        noise_images.append(write_image(where / f"noise{index}.fits", spec, truth[:0]))
    return Field(truth, images, noise_images, specs)


def test_source_seen_by_both_beams_has_its_true_flux(two_beams: Field, tmp_path: Path) -> None:
    result = mosaic_images(two_beams.images, tmp_path / "field.fits", noise=list(NOISE))
    data = fits.getdata(result.mosaic).astype(float)
    header = fits.getheader(result.mosaic)
    wcs = WCS(header)
    assert header["BMAJ"] * 3600 == pytest.approx(BEAM.bmaj_arcsec)
    cell = abs(header["CDELT1"]) * 3600
    attenuation = [
        _pb_at(c)(two_beams.truth["ra_deg"], two_beams.truth["dec_deg"]) for c in CENTRES
    ]
    # the first source is attenuated by both beams, differently
    assert min(attenuation[0][0], attenuation[1][0]) > 0.6
    assert abs(attenuation[0][0] - attenuation[1][0]) > 0.1
    for row in two_beams.truth:
        flux, ra, dec = fit_point_source(data, wcs, row["ra_deg"], row["dec_deg"], BEAM, cell)
        assert flux == pytest.approx(row["flux_jy"], rel=0.03)
        offset = SkyCoord(ra * u.deg, dec * u.deg).separation(
            SkyCoord(row["ra_deg"] * u.deg, row["dec_deg"] * u.deg)
        )
        assert offset.to_value(u.arcsec) < 0.1 * BEAM.bmaj_arcsec


def test_overlap_noise_is_lower_and_matches_the_weights(two_beams: Field, tmp_path: Path) -> None:
    result = mosaic_images(two_beams.noise_images, tmp_path / "noise.fits", noise=list(NOISE))
    data = fits.getdata(result.mosaic).astype(float)
    weight = fits.getdata(result.weight).astype(float)
    wcs = WCS(fits.getheader(result.mosaic))
    pb = [
        primary_beam(offsets_rad(wcs, data.shape, (c.ra.deg, c.dec.deg)), FREQUENCY)
        for c in CENTRES
    ]
    corrected_noise = [sigma / beam for sigma, beam in zip(NOISE, pb, strict=True)]
    # where both beams contribute with comparable noise, the mosaic is quieter than either
    balance = corrected_noise[1] / corrected_noise[0]
    overlap = (pb[0] > 0.5) & (pb[1] > 0.5) & (balance > 0.8) & (balance < 1.25)
    both = pb[0] ** 2 / NOISE[0] ** 2 + pb[1] ** 2 / NOISE[1] ** 2
    overlap &= np.isfinite(data) & (weight > 0.99 * both)  # inside both images
    assert overlap.sum() > 2000
    # noise relative to each single corrected beam, pixel by pixel: 1/sqrt(1 + b^∓2) for a
    # noise balance b, i.e. 0.62-0.78 here (0.71 for equal noise)
    for single in corrected_noise:
        relative = (data[overlap] / single[overlap]).std()
        assert relative < 0.9
        assert relative == pytest.approx(
            np.median(1 / np.sqrt(weight[overlap]) / single[overlap]), rel=0.1
        )
    # everywhere, the noise is what the weights predict: 1 / sqrt(sum of PB^2 / sigma^2)
    everywhere = np.isfinite(data)
    assert (data * np.sqrt(weight))[everywhere].std() == pytest.approx(1.0, rel=0.05)
    assert weight[overlap] / both[overlap] == pytest.approx(1.0, rel=0.01)


def test_mosaic_is_trimmed_to_pixels_above_the_cutoff(two_beams: Field, tmp_path: Path) -> None:
    options = MosaicOptions(pb_cutoff=0.5)
    result = mosaic_images(
        two_beams.images, tmp_path / "cut.fits", noise=list(NOISE), options=options
    )
    data = fits.getdata(result.mosaic)
    weight = fits.getdata(result.weight)
    wcs = WCS(fits.getheader(result.mosaic))
    valid = np.isfinite(data)
    # every edge row and column holds data; outside the data there is no weight
    for edge in (valid[0], valid[-1], valid[:, 0], valid[:, -1]):
        assert edge.any()
    assert np.all(weight[~valid] == 0)
    best = np.maximum(
        *[
            primary_beam(offsets_rad(wcs, data.shape, (c.ra.deg, c.dec.deg)), FREQUENCY)
            for c in CENTRES
        ]
    )
    assert best[valid].min() > 0.5 - 0.02
    assert not valid[best < 0.45].any()


def test_rerun_skips_and_bad_inputs_are_refused(two_beams: Field, tmp_path: Path) -> None:
    first = mosaic_images(two_beams.images, tmp_path / "m.fits", noise=list(NOISE))
    stamp = first.mosaic.stat().st_mtime_ns
    again = mosaic_images(two_beams.images, tmp_path / "m.fits", noise=list(NOISE))
    assert again.skipped and first.mosaic.stat().st_mtime_ns == stamp
    with pytest.raises(InputError, match="2 images"):
        mosaic_images(two_beams.images, tmp_path / "n.fits", noise=[1e-4])
    other = ImageSpec(**{**vars(two_beams.specs[0]), "beam": Restoring(80.0, 50.0, 30.0)})
    wider = write_image(tmp_path / "wide.fits", other, two_beams.truth)
    with pytest.raises(InputError, match="common resolution"):
        mosaic_images([two_beams.images[0], wider], tmp_path / "x.fits")


def test_frequency_comes_from_the_axis_or_the_keywords(two_beams: Field) -> None:
    for image in two_beams.images:  # one with a FREQ axis, one with RESTFRQ
        assert frequency_hz(fits.getheader(image)) == FREQUENCY
    with pytest.raises(InputError, match="no frequency"):
        frequency_hz(fits.Header({"NAXIS": 2}))
