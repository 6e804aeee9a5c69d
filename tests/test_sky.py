"""Sky models: spectral conventions, readers/writers, calibrators and random skies."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from flint.errors import InputError, SkyModelError
from flint.sky import (
    SkyModel,
    calibrator_model,
    concatenate,
    expected_source_count,
    load_source_counts,
    random_sky,
    read_sky,
    write_wsclean_components,
)
from flint.sky.random_sky import cap_solid_angle_sr

HEADER = (
    "Format = Name, Type, Ra, Dec, I, SpectralIndex, LogarithmicSI, "
    "ReferenceFrequency='125584411.621094', MajorAxis, MinorAxis, Orientation"
)
# lines in the form wsclean -save-source-list writes (wsclean ComponentList documentation)
WSCLEAN_LINES = [
    "s0c0,POINT,08:28:05.152,39.35.08.511,0.000748810650400475,"
    "[-0.00695379313004673,-0.0849693907803257],false,125584411.621094,,,",
    "s1c0,GAUSSIAN,08:31:10.37,41.47.17.131,0.000723326710524984,"
    "[0.00344317919656096,-0.115990377833407],false,125584411.621094,83.6144111272856,"
    "83.6144111272856,0",
]


def write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def small_sky() -> SkyModel:
    """Three components: a curved-spectrum point, an ordinary-polynomial point, a Gaussian."""
    return SkyModel(
        ra_deg=[0.001, 120.5, 359.9999],
        dec_deg=[-0.5, 45.25, -89.1],
        flux_jy=[1.5, -0.02, 0.3],
        reference_hz=[888e6, 1e9, 943.5e6],
        spectral_terms=[[-0.7, 0.1, -0.05], [0.01, 0.002, 0.0], [-1.1, 0.0, 0.0]],
        logarithmic=[True, False, True],
        kinds=["point", "point", "gaussian"],
        major_arcsec=[0.0, 0.0, 30.0],
        minor_arcsec=[0.0, 0.0, 12.5],
        pa_deg=[0.0, 0.0, 123.0],
        names=["a", "b", "c"],
    )


def assert_same_sky(left: SkyModel, right: SkyModel, position_atol_deg: float = 1e-8) -> None:
    assert len(left) == len(right)
    np.testing.assert_array_equal(left.names, right.names)
    np.testing.assert_array_equal(left.kinds, right.kinds)
    np.testing.assert_array_equal(left.logarithmic, right.logarithmic)
    separation = left.separation_deg(0.0, 90.0) - right.separation_deg(0.0, 90.0)
    np.testing.assert_allclose(separation, 0.0, atol=position_atol_deg)
    ra_difference = (left.ra_deg - right.ra_deg + 180.0) % 360.0 - 180.0
    np.testing.assert_allclose(ra_difference, 0.0, atol=position_atol_deg / 1e-2)
    for name in ("flux_jy", "reference_hz", "major_arcsec", "minor_arcsec", "pa_deg"):
        np.testing.assert_allclose(getattr(left, name), getattr(right, name), rtol=1e-12)
    nterms = max(left.nterms, right.nterms)
    pad = [np.pad(s.spectral_terms, ((0, 0), (0, nterms - s.nterms))) for s in (left, right)]
    np.testing.assert_allclose(pad[0], pad[1], rtol=1e-12)


# --- spectral conventions -------------------------------------------------------------


def test_logarithmic_polynomial_matches_wsclean_formula():
    sky = SkyModel(0.0, 0.0, 2.0, 1e9, spectral_terms=[[-0.7, 0.2, -0.1]], logarithmic=True)
    frequencies = np.array([0.5e9, 1e9, 1.7e9])
    x = np.log10(frequencies / 1e9)
    expected = 2.0 * 10 ** (-0.7 * x + 0.2 * x**2 - 0.1 * x**3)
    np.testing.assert_allclose(sky.flux_at(frequencies), expected[np.newaxis, :], rtol=1e-12)
    # a pure power law: S ∝ ν^α
    power_law = SkyModel(0.0, 0.0, 2.0, 1e9, spectral_terms=[[-0.7]])
    np.testing.assert_allclose(power_law.flux_at(2e9), [[2.0 * 2**-0.7]], rtol=1e-12)


def test_ordinary_polynomial_matches_wsclean_formula():
    sky = SkyModel(0.0, 0.0, 2.0, 1e9, spectral_terms=[[0.5, -0.25]], logarithmic=False)
    frequencies = np.array([0.8e9, 1.2e9])
    r = frequencies / 1e9 - 1.0
    np.testing.assert_allclose(sky.flux_at(frequencies), [2.0 + 0.5 * r - 0.25 * r**2])


def test_flux_at_shape_and_flat_spectrum():
    sky = SkyModel([1.0, 2.0], [0.0, 1.0], [3.0, 4.0], 1e9)
    flux = sky.flux_at(np.linspace(0.7e9, 1.5e9, 5))
    assert flux.shape == (2, 5)
    np.testing.assert_array_equal(flux, [[3.0] * 5, [4.0] * 5])


# --- calibrators ----------------------------------------------------------------------


def test_b1934_model_flux_and_position():
    sky = calibrator_model("B1934-638")
    assert len(sky) == 1 and sky.kinds[0] == "point"
    s0, nu0 = 14.23058308, 888.5e6
    c0, c1, c2 = 0.42280414, -1.74293221, 0.605334
    flux = sky.flux_at([888.5e6, 744e6, 1032e6])[0]
    for value, nu in zip(flux, [888.5e6, 744e6, 1032e6], strict=True):
        x = np.log10(nu / nu0)
        assert value == pytest.approx(s0 * 10 ** (c0 * x + c1 * x**2 + c2 * x**3), rel=1e-12)
    assert flux[0] == pytest.approx(14.23058, abs=1e-5)
    assert sky.ra_deg[0] == pytest.approx((19 + 39 / 60 + 25.0261 / 3600) * 15, abs=1e-9)
    assert sky.dec_deg[0] == pytest.approx(-(63 + 42 / 60 + 45.625 / 3600), abs=1e-9)


def test_b1934_model_is_the_reynolds_1994_polynomial():
    """The packaged model re-expands log10 S = -30.7667 + 26.4908 L - 7.0977 L² + 0.605334 L³."""
    frequencies_mhz = np.linspace(700.0, 1800.0, 12)
    log_nu = np.log10(frequencies_mhz)
    reynolds = 10 ** (-30.7667 + 26.4908 * log_nu - 7.0977 * log_nu**2 + 0.605334 * log_nu**3)
    model = calibrator_model("PKS B1934-638").flux_at(frequencies_mhz * 1e6)[0]
    np.testing.assert_allclose(model, reynolds, rtol=1e-7)


def test_unknown_calibrator_lists_known_ones():
    with pytest.raises(SkyModelError, match="B1934-638"):
        calibrator_model("3C286")


# --- wsclean component lists ----------------------------------------------------------


def test_reads_wsclean_written_lines(tmp_path):
    sky = read_sky(write(tmp_path / "sources.txt", HEADER, *WSCLEAN_LINES))
    assert list(sky.names) == ["s0c0", "s1c0"]
    assert list(sky.kinds) == ["point", "gaussian"]
    assert sky.ra_deg[0] == pytest.approx((8 + 28 / 60 + 5.152 / 3600) * 15, abs=1e-10)
    assert sky.dec_deg[0] == pytest.approx(39 + 35 / 60 + 8.511 / 3600, abs=1e-10)
    assert sky.flux_jy[0] == 0.000748810650400475
    assert not sky.logarithmic.any()
    np.testing.assert_array_equal(
        sky.spectral_terms[0], [-0.00695379313004673, -0.0849693907803257]
    )
    assert sky.major_arcsec[1] == pytest.approx(83.6144111272856)
    assert sky.minor_arcsec[1] == pytest.approx(83.6144111272856)
    assert sky.major_arcsec[0] == 0.0


def test_reads_reordered_columns_defaults_patches_and_comments(tmp_path):
    path = write(
        tmp_path / "model.skymodel",
        "# a DP3-style sky model",
        "FORMAT = Type, Name, Patch, Dec, Ra, I, ReferenceFrequency='1.4e9', SpectralIndex, "
        "MajorAxis, MinorAxis, Orientation",
        "",
        " , , P1, -30.00.00, 01:00:00",
        "GAUSSIAN, g1, P1, -00.30.00.0, 01:00:00.0, 2.5, , [-0.8], 20, 10, 45",
        "POINT, p1, P1, +10.00.00, 23:59:59.9, 1.0, 1e9",
    )
    sky = read_sky(path)
    assert list(sky.names) == ["g1", "p1"]
    assert sky.dec_deg[0] == pytest.approx(-0.5)
    assert sky.ra_deg[0] == pytest.approx(15.0)
    np.testing.assert_array_equal(sky.reference_hz, [1.4e9, 1e9])
    assert sky.logarithmic.all()  # DP3's default
    np.testing.assert_array_equal(sky.spectral_terms, [[-0.8], [0.0]])
    assert (sky.major_arcsec[0], sky.minor_arcsec[0], sky.pa_deg[0]) == (20.0, 10.0, 45.0)


def test_wsclean_round_trip(tmp_path):
    sky = small_sky()
    path = write_wsclean_components(sky, tmp_path / "sky.txt")
    again = read_sky(path)
    assert_same_sky(sky, again)
    np.testing.assert_allclose(again.flux_at([0.8e9, 1.3e9]), sky.flux_at([0.8e9, 1.3e9]))
    # writing the re-read model gives the same text: the format is a fixed point
    write_wsclean_components(again, tmp_path / "again.txt")
    assert (tmp_path / "again.txt").read_text() == path.read_text()


def test_write_refuses_to_overwrite_and_names_with_commas(tmp_path):
    path = write_wsclean_components(small_sky(), tmp_path / "sky.txt")
    with pytest.raises(FileExistsError):
        write_wsclean_components(small_sky(), path)
    bad = SkyModel(0.0, 0.0, 1.0, 1e9, names=["a,b"])
    with pytest.raises(SkyModelError, match="commas"):
        write_wsclean_components(bad, tmp_path / "bad.txt")
    assert not (tmp_path / "bad.txt").exists()


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ((HEADER.replace("MajorAxis", "Colour"),), "unknown column.*Colour.*expected columns"),
        (("Format = Name, Type, Ra, Dec",), "missing required column.*I"),
        ((HEADER, WSCLEAN_LINES[0], "s2,POINT,08:00:00,10.00.00,abc,[],true,1e8,,,"), "line 3: I"),
        ((HEADER, "s2,SHAPELET,08:00:00,10.00.00,1,[],true,1e8,,,"), "line 2: Type"),
        ((HEADER, "s2,POINT,120.0,10.00.00,1,[],true,1e8,,,"), "line 2: angle .* no unit"),
        ((HEADER, "s2,GAUSSIAN,08:00:00,10.00.00,1,[],true,1e8,,,"), "line 2: MajorAxis is empty"),
        (("Format = Ra, Dec, I", "08:00:00, 10.00.00, 1"), "line 2: no ReferenceFrequency"),
        ((HEADER,), "no components"),
    ],
)
def test_component_list_errors_name_file_and_problem(tmp_path, lines, message):
    path = write(tmp_path / "broken.txt", *lines)
    with pytest.raises(SkyModelError, match=message) as error:
        read_sky(path)
    assert error.value.path == str(path)


def test_empty_unknown_and_missing_files(tmp_path):
    (tmp_path / "empty.txt").write_text("\n \n")
    with pytest.raises(SkyModelError, match="empty file"):
        read_sky(tmp_path / "empty.txt")
    (tmp_path / "notes.txt").write_text("just some text\n")
    with pytest.raises(SkyModelError, match=r"unknown sky-model format.*Format ="):
        read_sky(tmp_path / "notes.txt")
    with pytest.raises(SkyModelError, match="no such file"):
        read_sky(tmp_path / "absent.txt")


# --- Aegean-style tables --------------------------------------------------------------


def test_table_round_trip_fits_and_csv(tmp_path):
    sky = small_sky()
    table = sky.to_table()
    assert {"ra", "dec", "peak_flux", "int_flux", "a", "b", "pa", "name"} <= set(table.colnames)
    assert table["peak_flux"][0] == table["int_flux"][0] == 1.5
    for name in ("sky.fits", "sky.csv"):
        table.write(tmp_path / name)
        assert_same_sky(sky, read_sky(tmp_path / name), position_atol_deg=1e-12)


def test_csv_table_rules_for_kind_flux_and_reference(tmp_path):
    path = tmp_path / "aegean.csv"
    path.write_text(
        "island,source,RA,Dec,peak_flux,int_flux,a,b,pa,alpha,local_rms\n"
        "1,0,10.0,-30.0,0.5,0.8,25.0,15.0,30.0,-0.9,1e-4\n"
        "2,0,11.0,-31.0,0.2,0.2,0.0,0.0,0.0,,1e-4\n"
    )
    with pytest.raises(SkyModelError, match="no reference frequency"):
        read_sky(path)
    sky = read_sky(path, reference_hz=943.5e6)
    assert list(sky.kinds) == ["gaussian", "point"]
    np.testing.assert_array_equal(sky.flux_jy, [0.8, 0.2])  # int_flux is the total flux
    # a row without a spectral index gets the default one (-0.8 unless given)
    np.testing.assert_array_equal(sky.spectral_terms[:, 0], [-0.9, -0.8])
    np.testing.assert_array_equal(sky.reference_hz, [943.5e6, 943.5e6])
    np.testing.assert_allclose(sky.flux_at([2 * 943.5e6])[:, 0], [0.8 * 2**-0.9, 0.2 * 2**-0.8])
    flat = read_sky(path, reference_hz=943.5e6, spectral_index=0.0)
    np.testing.assert_array_equal(flat.spectral_terms[:, 0], [-0.9, 0.0])


def test_fits_table_units_meta_frequency_and_type_column(tmp_path):
    table = Table(
        {
            "ra": [150.0, 151.0],
            "dec": [2.0, 2.5],
            "int_flux": [250.0, 40.0],
            "a": [0.01, 0.005],
            "b": [0.005, 0.005],
            "type": ["gaussian", "point"],
        },
        meta={"REF_FREQ": 1.4e9},
    )
    table["int_flux"].unit = "mJy"
    table["a"].unit = table["b"].unit = "deg"
    table.write(tmp_path / "cat.fits")
    sky = read_sky(tmp_path / "cat.fits")
    np.testing.assert_allclose(sky.flux_jy, [0.25, 0.04])
    np.testing.assert_allclose(sky.major_arcsec, [36.0, 0.0])  # the type column wins
    np.testing.assert_allclose(sky.minor_arcsec, [18.0, 0.0])
    np.testing.assert_array_equal(sky.reference_hz, [1.4e9, 1.4e9])


def _convolve(major, minor, pa_deg, psf):
    """FWHM and PA of Gaussians convolved with ``psf``: the sum of their covariance matrices."""

    def covariance(a, b, pa):
        theta = np.deg2rad(pa)
        rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        return rotation @ np.diag([a**2, b**2]) @ rotation.T  # axes along (north, east)

    out = []
    for a, b, pa in zip(major, minor, pa_deg, strict=True):
        values, vectors = np.linalg.eigh(covariance(a, b, pa) + covariance(*psf))
        north, east = vectors[:, 1]
        out.append(
            (np.sqrt(values[1]), np.sqrt(values[0]), np.degrees(np.arctan2(east, north)) % 180)
        )
    return np.array(out).T


def test_catalogue_sizes_convolved_with_a_25_arcsec_psf_are_deconvolved(tmp_path):
    """An Aegean catalogue gives sizes convolved with its PSF (psf_a, psf_b, psf_pa): the
    intrinsic sizes come back within 1 arcsec; components the PSF hides become points."""
    rng = np.random.default_rng(3)
    count = 40
    major = rng.uniform(8.0, 60.0, count)
    minor = major * rng.uniform(0.4, 1.0, count)
    pa = rng.uniform(0.0, 180.0, count)
    psf = (25.0, 25.0, 0.0)
    a, b, fitted_pa = _convolve(major, minor, pa, psf)
    table = Table(
        {
            "ra": rng.uniform(10, 11, count + 1),
            "dec": rng.uniform(-31, -30, count + 1),
            "peak_flux": np.full(count + 1, 0.1),
            "int_flux": np.full(count + 1, 0.2),
            "a": [*a, 25.0],  # the last one is unresolved
            "b": [*b, 25.0],
            "pa": [*fitted_pa, 0.0],
            "psf_a": np.full(count + 1, psf[0]),
            "psf_b": np.full(count + 1, psf[1]),
            "psf_pa": np.full(count + 1, psf[2]),
        }
    )
    table.write(tmp_path / "aegean_comp.fits")
    sky = read_sky(tmp_path / "aegean_comp.fits", reference_hz=887.5e6)
    assert list(sky.kinds) == ["gaussian"] * count + ["point"]
    assert np.abs(sky.major_arcsec[:count] - major).max() < 1.0
    assert np.abs(sky.minor_arcsec[:count] - minor).max() < 1.0
    elongated = major > 1.2 * minor
    difference = (sky.pa_deg[:count] - pa + 90.0) % 180.0 - 90.0
    assert np.abs(difference[elongated]).max() < 1.0
    # an elliptical PSF with a position angle, given as table keywords (degrees)
    psf = (30.0, 20.0, 40.0)
    a, b, fitted_pa = _convolve(major, minor, pa, psf)
    keywords = Table(
        {"ra": table["ra"][:count], "dec": table["dec"][:count], "int_flux": table["int_flux"][:count],
         "a": a, "b": b, "pa": fitted_pa},
        meta={"BMAJ": psf[0] / 3600, "BMIN": psf[1] / 3600, "BPA": psf[2], "FREQ": 887.5e6},
    )  # fmt: skip
    keywords.write(tmp_path / "keywords.fits")
    sky = read_sky(tmp_path / "keywords.fits")
    assert np.abs(sky.major_arcsec - major).max() < 1.0
    assert np.abs(sky.minor_arcsec - minor).max() < 1.0
    assert (sky.reference_hz == 887.5e6).all()


def test_pybdsf_source_list_as_it_comes(tmp_path):
    """PyBDSF: Total_flux, Maj/Min in degrees, deconvolved DC_ sizes, FREQ0 keyword; or
    only the convolved sizes with the image's beam as I_BMAJ... keywords."""
    table = Table(
        {
            "Source_id": [0, 1],
            "RA": [120.0, 120.1],
            "DEC": [-40.0, -40.1],
            "Total_flux": [0.05, 0.01],
            "Peak_flux": [0.03, 0.01],
            "Maj": [40.0 / 3600, 20.0 / 3600],
            "Min": [30.0 / 3600, 20.0 / 3600],
            "PA": [20.0, 0.0],
            "DC_Maj": [31.0 / 3600, 0.0],
            "DC_Min": [17.5 / 3600, 0.0],
            "DC_PA": [21.0, 0.0],
            "S_Code": ["S", "S"],
        },
        meta={"FREQ0": 8.875e8},
    )
    for name in ("Maj", "Min", "DC_Maj", "DC_Min", "RA", "DEC", "PA", "DC_PA"):
        table[name].unit = "deg"
    table["Total_flux"].unit = table["Peak_flux"].unit = "Jy"
    table.write(tmp_path / "image.pybdsf.srl.fits")
    sky = read_sky(tmp_path / "image.pybdsf.srl.fits")
    assert list(sky.kinds) == ["gaussian", "point"]
    np.testing.assert_allclose(sky.flux_jy, [0.05, 0.01])
    np.testing.assert_allclose(sky.major_arcsec[0], 31.0)
    np.testing.assert_allclose(sky.reference_hz, 8.875e8)
    np.testing.assert_allclose(sky.spectral_terms[:, 0], -0.8)
    table.remove_columns(["DC_Maj", "DC_Min", "DC_PA"])
    table.meta.update(I_BMAJ=20.0 / 3600, I_BMIN=20.0 / 3600, I_BPA=0.0)
    table.write(tmp_path / "convolved.srl.fits")
    sky = read_sky(tmp_path / "convolved.srl.fits")
    assert list(sky.kinds) == ["gaussian", "point"]
    np.testing.assert_allclose(sky.major_arcsec[0], np.sqrt(40.0**2 - 20.0**2), rtol=1e-6)
    np.testing.assert_allclose(sky.minor_arcsec[0], np.sqrt(30.0**2 - 20.0**2), rtol=1e-6)
    # PyBDSF's BBS sky model is a component list (deconvolved sizes, its own frequency)
    bbs = write(
        tmp_path / "image.sky_in",
        "format = Name, Type, Ra, Dec, I, Q, U, V, MajorAxis, MinorAxis, Orientation, "
        "ReferenceFrequency='8.87500e+08', SpectralIndex='[]'",
        "",
        "image_i0_s0_g0, GAUSSIAN, 08:00:00.000000, -40.00.00.000000, 5.000e-02, 0.0, 0.0, "
        "0.0, 3.10000e+01, 1.75000e+01, 2.10000e+01, 8.87500e+08, [-8.000e-01]",
    )
    sky = read_sky(bbs)
    np.testing.assert_allclose([sky.major_arcsec[0], sky.minor_arcsec[0]], [31.0, 17.5])


def test_catalogue_errors_say_what_is_missing(tmp_path):
    table = Table({"ra": [1.0], "dec": [2.0], "int_flux": [0.1], "a": [30.0], "b": [20.0],
                   "pa": [0.0], "psf_a": [25.0]})  # fmt: skip
    table.write(tmp_path / "partial_psf.fits")
    with pytest.raises(SkyModelError, match=r"PSF columns .* incomplete"):
        read_sky(tmp_path / "partial_psf.fits", reference_hz=887.5e6)
    table.remove_column("psf_a")
    table.write(tmp_path / "no_frequency.fits")
    with pytest.raises(
        SkyModelError, match=r"no_frequency.fits: no reference frequency.*--sky-reference-hz"
    ):
        read_sky(tmp_path / "no_frequency.fits")


def test_table_missing_columns_lists_expected(tmp_path):
    (tmp_path / "bad.csv").write_text("ra,declination,flux\n1,2,3\n")
    with pytest.raises(
        SkyModelError, match=r"missing required column\(s\) dec, int_flux.*expected"
    ):
        read_sky(tmp_path / "bad.csv")


# --- the container --------------------------------------------------------------------


def test_select_concatenate_and_separation():
    sky = small_sky()
    joined = concatenate([sky, SkyModel(10.0, 0.0, 7.0, 1e9, names=["d"])])
    assert len(joined) == 4 and joined.nterms == 3
    np.testing.assert_array_equal(joined.spectral_terms[3], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(joined.flux_at([1e9])[3], [7.0])
    picked = joined.select(joined.flux_jy > 1.0)
    assert list(picked.names) == ["a", "d"]
    assert list(joined.select([2]).names) == ["c"]
    origin = SkyModel([0.0, 10.0, 0.0, 180.0], [0.0, 0.0, 89.0, 0.0], 1.0, 1e9)
    np.testing.assert_allclose(origin.separation_deg(0.0, 0.0), [0.0, 10.0, 89.0, 180.0])


def test_inconsistent_models_are_rejected():
    with pytest.raises(SkyModelError, match="dec_deg has 1 entries, expected 2"):
        SkyModel([0.0, 1.0], [0.0], 1.0, 1e9)
    with pytest.raises(SkyModelError, match="gaussian components need"):
        SkyModel(0.0, 0.0, 1.0, 1e9, kinds=["gaussian"])
    with pytest.raises(SkyModelError, match="unknown component kind"):
        SkyModel(0.0, 0.0, 1.0, 1e9, kinds=["shapelet"])
    sky = small_sky()
    with pytest.raises(ValueError, match="read-only"):
        sky.flux_jy[0] = 2.0


# --- random skies ---------------------------------------------------------------------


def skads_table() -> Table:
    return Table.read(resources.files("flint") / "data" / "source_counts" / "SKADS_1p4GHz.fits")


def test_source_counts_integral_matches_the_skads_bins():
    """∫ dN/dS between bin edges equals Σ SC·(2/3)(S_lo^-1.5 − S_hi^-1.5) over the bins."""
    table = skads_table()
    for first, last in [(13, 39), (0, 20)]:
        rows = table[first : last + 1]
        per_bin = rows["SC"] * (2 / 3) * (rows["fl_bin_min"] ** -1.5 - rows["fl_bin_max"] ** -1.5)
        integral = load_source_counts("skads").number_per_sr(
            rows["fl_bin_min"][0], rows["fl_bin_max"][-1]
        )
        assert integral == pytest.approx(np.sum(per_bin), rel=0.02)


def test_random_sky_counts_follow_the_input_counts():
    table = skads_table()
    low, high = float(table["fl_bin_min"][13]), float(table["fl_bin_max"][39])
    rows = table[13:40]
    per_sr = np.sum(
        rows["SC"] * (2 / 3) * (rows["fl_bin_min"] ** -1.5 - rows["fl_bin_max"] ** -1.5)
    )
    radius = 3.0
    expected = per_sr * cap_solid_angle_sr(radius)
    sky = random_sky(
        30.0,
        -45.0,
        radius,
        low,
        reference_hz=1.4e9,
        max_flux_jy=high,
        seed=7,
        spectral_index_scatter=0.0,
    )
    tolerance = 4 * np.sqrt(expected) + 0.02 * expected
    assert abs(len(sky) - expected) < tolerance
    assert low <= sky.flux_jy.min() and sky.flux_jy.max() < high
    # the number above a brighter cut also follows the counts
    bright = float(table["fl_bin_min"][26])
    rows = table[26:40]
    expected_bright = cap_solid_angle_sr(radius) * np.sum(
        rows["SC"] * (2 / 3) * (rows["fl_bin_min"] ** -1.5 - rows["fl_bin_max"] ** -1.5)
    )
    observed_bright = np.count_nonzero(sky.flux_jy >= bright)
    assert (
        abs(observed_bright - expected_bright)
        < 4 * np.sqrt(expected_bright) + 0.02 * expected_bright
    )


def test_random_sky_positions_uniform_on_the_cap():
    radius = 4.0
    sky = random_sky(200.0, 60.0, radius, 2e-3, seed=3)
    separation = sky.separation_deg(200.0, 60.0)
    assert separation.max() <= radius + 1e-9
    inner_fraction = cap_solid_angle_sr(radius / 2) / cap_solid_angle_sr(radius)
    observed = np.mean(separation < radius / 2)
    assert abs(observed - inner_fraction) < 4 * np.sqrt(
        inner_fraction * (1 - inner_fraction) / len(sky)
    )


def test_random_sky_is_reproducible_with_a_seed():
    first = random_sky(10.0, -20.0, 2.0, 5e-3, seed=42, gaussian_fraction=0.3)
    second = random_sky(10.0, -20.0, 2.0, 5e-3, seed=42, gaussian_fraction=0.3)
    assert_same_sky(first, second, position_atol_deg=0.0)
    other = random_sky(10.0, -20.0, 2.0, 5e-3, seed=43, gaussian_fraction=0.3)
    assert len(other) != len(first) or not np.array_equal(other.flux_jy, first.flux_jy)


def test_random_sky_spectral_scaling_and_scatter():
    # a 888 MHz cut equals the 1.4 GHz cut scaled by (1.4 GHz / 888 MHz)^alpha
    alpha = -0.8
    at_888 = expected_source_count(3.0, 2e-3, 0.5, reference_hz=888e6, spectral_index=alpha)
    scale = (1.4e9 / 888e6) ** alpha
    at_1400 = expected_source_count(3.0, 2e-3 * scale, 0.5 * scale, reference_hz=1.4e9)
    assert at_888 == pytest.approx(at_1400, rel=1e-9)
    sky = random_sky(0.0, -30.0, 3.0, 2e-3, max_flux_jy=0.5, seed=11, spectral_index_scatter=0.0)
    assert abs(len(sky) - at_888) < 4 * np.sqrt(at_888)
    np.testing.assert_allclose(sky.spectral_terms[:, 0], alpha)
    scattered = random_sky(0.0, -30.0, 3.0, 2e-3, seed=11, spectral_index_scatter=0.3)
    assert np.std(scattered.spectral_terms[:, 0]) == pytest.approx(0.3, rel=0.1)
    assert scattered.logarithmic.all() and (scattered.reference_hz == 888e6).all()


def test_random_sky_gaussians_and_other_counts():
    sky = random_sky(0.0, 0.0, 2.0, 2e-3, seed=5, gaussian_fraction=0.5, counts="de_zotti")
    gaussian = sky.kinds == "gaussian"
    assert abs(gaussian.mean() - 0.5) < 4 * np.sqrt(0.25 / len(sky))
    assert ((sky.major_arcsec[gaussian] >= 5.0) & (sky.major_arcsec[gaussian] <= 60.0)).all()
    assert (sky.minor_arcsec[gaussian] <= sky.major_arcsec[gaussian]).all()
    assert (sky.major_arcsec[~gaussian] == 0).all()
    expected = expected_source_count(2.0, 2e-3, counts="de_zotti")
    assert abs(len(sky) - expected) < 4 * np.sqrt(expected) + 0.05 * expected
    with pytest.raises(InputError, match="unknown source counts"):
        random_sky(0.0, 0.0, 1.0, 1e-3, counts="nvss")
    with pytest.raises(InputError, match="min_flux_jy < max_flux_jy"):
        random_sky(0.0, 0.0, 1.0, 2.0, max_flux_jy=1.0)


# --- realistic skies ------------------------------------------------------------------


def test_realistic_sizes_follow_the_windhorst_distribution():
    from flint.sky.realistic import angular_sizes

    rng = np.random.default_rng(1)
    for flux_jy in (1e-3, 0.1):
        sizes = angular_sizes(np.full(20000, flux_jy), rng)
        median = 2.0 * (flux_jy / 1e-3) ** 0.30
        assert np.median(sizes) == pytest.approx(median, rel=0.03)
        # fraction larger than twice the median: exp(-ln 2 · 2^0.62)
        assert np.mean(sizes > 2 * median) == pytest.approx(np.exp(-np.log(2) * 2**0.62), abs=0.01)


def test_realistic_field_sky_morphology_and_bright_sources():
    from flint.primary_beam import first_sidelobe_offset_rad, primary_beam
    from flint.sky.realistic import outside_images, realistic_field_sky

    centres = [(98.82, -30.33), (97.60, -30.33), (98.83, -31.38)]
    half_width = 2.1333
    sky = realistic_field_sky(centres, half_width, seed=4)
    again = realistic_field_sky(centres, half_width, seed=4)
    assert_same_sky(sky, again, position_atol_deg=0.0)
    names = np.asarray(sky.names)
    lobes = np.char.endswith(names, "_a")
    cores = np.char.endswith(names, "_c")
    assert lobes.sum() > 50 and cores.sum() > 20  # doubles and triples
    gaussian = sky.kinds == "gaussian"
    assert 0.3 < gaussian.mean() < 0.8
    assert np.percentile(sky.major_arcsec[gaussian], 90) > 20.0
    # each radio galaxy's lobes share its name and sit apart by less than its size
    first = names[lobes][0].removesuffix("_a")
    pair = sky.select(np.isin(names, [f"{first}_a", f"{first}_b"]))
    assert len(pair) == 2
    # sources beyond the main lobes (the wide annulus) are bright ones only
    distance = sky.separation_deg(98.42, -30.68)
    assert distance.max() > 5.0
    far_sources = {name.split("_")[0] for name in names[distance > 4.0]}
    flux_by_source = {
        source: sky.flux_jy[np.char.startswith(names, source)].sum() for source in far_sources
    }
    assert min(flux_by_source.values()) >= 0.02 * 0.999
    # the three placed bright sources are the last three sources drawn
    order = sorted({name.split("_")[0] for name in names})
    placed = [sky.select(np.char.startswith(names, source)) for source in order[-3:]]
    inside, outside, sidelobe = placed
    offsets = [np.min([part.separation_deg(*c).mean() for c in centres]) for part in placed]
    gain = primary_beam(np.deg2rad(offsets[0]), 888e6)
    assert inside.flux_jy.sum() * gain >= 1.0 * 0.99  # >= 1 Jy apparent
    for part in (outside, sidelobe):
        assert 1.0 <= part.flux_jy.sum() <= 1.5
        ra, dec = np.mean(part.ra_deg), np.mean(part.dec_deg)
        assert outside_images(ra, dec, centres, half_width)
    assert half_width < offsets[1] < half_width + 0.2  # just outside an image
    peak = np.rad2deg(first_sidelobe_offset_rad(888e6))
    assert offsets[2] == pytest.approx(peak, abs=0.31)  # and in the first sidelobe


def test_simulate_field_cli_realistic_sky_and_catalogue(tmp_path, capsys):
    """``flint simulate field --random-sky realistic`` sees the sky through a beam with
    sidelobes; ``--sky`` reads a catalogue as it comes, with ``--sky-reference-hz``."""
    from flint.cli import main
    from flint.simulation import read_truth

    tiny = ["--beams", "14", "--n-antennas", "6", "--n-channels", "4", "--duration-s", "60"]
    assert main(["simulate", "field", "--output", str(tmp_path / "r"), "--random-sky",
                 "realistic", "--seed", "3", *tiny]) == 0  # fmt: skip
    truth = read_truth(next((tmp_path / "r").glob("*/truth")))
    assert truth.options["primary_beam"] == "gaussian_sidelobes"
    sky = truth.sky(14)
    assert (sky["type"] == "gaussian").any() and any(str(n).endswith("_b") for n in sky["name"])
    assert sky["offset_deg"].max() > 2.5  # beyond the main lobe, in the sidelobes
    catalogue = tmp_path / "cat.csv"
    catalogue.write_text(
        "ra,dec,int_flux,a,b,pa,psf_a,psf_b,psf_pa\n"
        f"{sky['ra'][0]},{sky['dec'][0]},0.5,40.0,30.0,10.0,25.0,25.0,0.0\n"
    )
    argv = ["simulate", "field", "--output", str(tmp_path / "c"), "--sky", str(catalogue), *tiny]
    assert main(argv) == 1
    assert "no reference frequency" in capsys.readouterr().err
    assert main([*argv, "--sky-reference-hz", "887.5e6"]) == 0
    (row,) = read_truth(next((tmp_path / "c").glob("*/truth"))).sky(14)
    assert row["a"] == pytest.approx(np.sqrt(40.0**2 - 25.0**2), abs=0.5)
    assert row["si_0"] == pytest.approx(-0.8)


def test_bright_sources_for_an_image_that_reaches_past_the_first_sidelobe():
    """An image wider than the first sidelobe's distance (1792 pixels of 12"): the
    just-outside source still lies outside every image, the sidelobe source sits at the
    sidelobe's peak (inside the image now), and no error is raised."""
    from flint.primary_beam import first_sidelobe_offset_rad
    from flint.sky.realistic import bright_source_positions, outside_images

    centres = [(98.82, -30.33), (97.60, -30.33), (98.83, -31.38)]
    half_width = 1792 * 12 / 3600 / 2
    peak = float(np.rad2deg(first_sidelobe_offset_rad(888e6)))
    assert peak < half_width
    inside, outside, sidelobe = bright_source_positions(centres, half_width, 888e6, seed=3)
    assert not outside_images(inside[0], inside[1], centres, half_width)
    assert outside_images(outside[0], outside[1], centres, half_width)
    assert not outside_images(sidelobe[0], sidelobe[1], centres, half_width)
    from astropy.coordinates import SkyCoord

    distances = [
        SkyCoord(*c, unit="deg").separation(SkyCoord(*sidelobe[:2], unit="deg")).deg
        for c in centres
    ]
    assert min(abs(d - peak) for d in distances) < 0.31
