"""The observation simulator against independent truths (numpy DFT, casacore measures)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from casacore.tables import table, taql

from flint.errors import ConfigError, InputError, SkyModelError, SolutionsError
from flint.footprint import Footprint
from flint.options import validated
from flint.simulation import SimulationOptions, read_truth, simulate_calibrator, simulate_field
from flint.simulation.array_layout import askap_layout
from flint.simulation.predict import direction_cosines, predict_dft, predict_gridder
from flint.simulation.truth import BeamCorruptions, read_corruptions, write_corruptions
from flint.simulation.uvw import antenna_uvw, baseline_uvw
from flint.sky import SkyModel

C = 299_792_458.0
SMALL = {
    "n_antennas": 6,
    "n_channels": 8,
    "channel_width_hz": 4e6,
    "duration_s": 60.0,
    "beams": [0],
}


def _read(ms: Path, *columns: str) -> dict[str, np.ndarray]:
    with table(str(ms), ack=False) as tab:
        return {name: tab.getcol(name) for name in columns}


def _numpy_dft(uvw, freqs, ra, dec, ra0, dec0, flux):
    """Independent direct sum: V = Σ S exp(+2πi (ul + vm + w(n−1)) ν/c)."""
    east = np.cos(dec) * np.sin(ra - ra0)
    north = np.sin(dec) * np.cos(dec0) - np.cos(dec) * np.sin(dec0) * np.cos(ra - ra0)
    n = np.sqrt(1 - east**2 - north**2)
    delay = uvw @ np.stack([east, north, n - 1])  # [nrow, ncomp] metres
    return np.einsum(
        "rc,rck->rk",
        np.ones_like(delay),
        flux[None] * np.exp(2j * np.pi * delay[..., None] * freqs / C),
    )


def _centre(options: SimulationOptions, beam: int) -> tuple[float, float]:
    ra, dec = Footprint(name=options.footprint, pitch_deg=options.pitch_deg).beam_centres(
        options.ra_deg, options.dec_deg, [beam]
    )
    return float(ra[0]), float(dec[0])


def test_unit_point_at_phase_centre_gives_unit_xx_yy(tmp_path: Path) -> None:
    options = SimulationOptions(
        **SMALL, sefd_jy=None, bandpass="none", phase_rms_deg=0, primary_beam="none"
    )
    ra, dec = _centre(options, 0)
    sky = SkyModel(
        ra_deg=[ra], dec_deg=[dec], flux_jy=[1.0], reference_hz=[9e8], spectral_terms=[[0.0]]
    )
    result = simulate_field(tmp_path, sky, options)
    data = _read(result.measurement_sets[0], "DATA")["DATA"]
    assert data.shape == (15 * 6, 8, 4)
    assert np.all(data[..., [0, 3]] == 1.0)
    assert np.all(data[..., [1, 2]] == 0.0)


def test_off_centre_sources_match_numpy_dft(tmp_path: Path) -> None:
    options = SimulationOptions(**SMALL, sefd_jy=None, bandpass="none", phase_rms_deg=0)
    ra, dec = _centre(options, 0)
    sky = SkyModel(
        ra_deg=[ra + 0.3, ra - 0.2],
        dec_deg=[dec - 0.25, dec + 0.4],
        flux_jy=[2.0, 0.5],
        reference_hz=[8e8, 8e8],
        spectral_terms=[[-0.7], [0.3]],
    )
    result = simulate_field(tmp_path, sky, options)
    columns = _read(result.measurement_sets[0], "DATA", "UVW")
    truth = read_truth(result.truth_dir)
    table_ = truth.sky(0)
    freqs = truth.corruptions(0).frequencies_hz
    from flint.primary_beam import primary_beam

    pb = primary_beam(np.deg2rad(np.asarray(table_["offset_deg"]))[:, None], freqs)
    flux = sky.flux_at(freqs) * pb
    expected = _numpy_dft(
        columns["UVW"],
        freqs,
        np.deg2rad(sky.ra_deg),
        np.deg2rad(sky.dec_deg),
        math.radians(ra),
        math.radians(dec),
        flux,
    )
    np.testing.assert_allclose(
        columns["DATA"][..., 0], expected, rtol=0, atol=2e-6 * np.abs(expected).max()
    )
    np.testing.assert_allclose(
        columns["DATA"][..., 3], expected, rtol=0, atol=2e-6 * np.abs(expected).max()
    )
    # the truth records intrinsic and apparent flux at the band centre
    centre = freqs.mean()
    np.testing.assert_allclose(
        table_["apparent_flux"], sky.flux_at([centre])[:, 0] * np.asarray(table_["pb_gain"])
    )
    assert np.all(np.asarray(table_["pb_gain"]) < 1.0)


def test_gaussian_dft_matches_analytic_taper() -> None:
    rng = np.random.default_rng(3)
    uvw = rng.normal(0, 500, (50, 3))
    freqs = 8e8 + 1e6 * np.arange(20)
    lmn = direction_cosines(np.array([1.01]), np.array([-0.49]), 1.0, -0.5)
    flux = np.ones((1, 20)) * 3.0
    major, minor, pa = np.deg2rad(40 / 3600), np.deg2rad(15 / 3600), np.deg2rad(30)
    got = predict_dft(uvw, freqs, lmn, flux, np.array([[major, minor, pa]]))
    u, v = (uvw[:, :1] * freqs / C), (uvw[:, 1:2] * freqs / C)
    along = u * np.sin(pa) + v * np.cos(pa)
    across = u * np.cos(pa) - v * np.sin(pa)
    taper = np.exp(-(np.pi**2) / (4 * np.log(2)) * ((major * along) ** 2 + (minor * across) ** 2))
    point = predict_dft(uvw, freqs, lmn, flux)
    np.testing.assert_allclose(got, point * taper, atol=1e-10)


def test_gridder_matches_dft() -> None:
    rng = np.random.default_rng(1)
    uvw = rng.normal(0, 400, (3000, 3))  # the model image is (extent · u_max)²: keep it small
    uvw[:, 2] *= 0.3
    freqs = 7.44e8 + 4e6 * np.arange(24)
    ra0, dec0 = 1.2, -0.6
    count = 300
    ra = ra0 + rng.normal(0, 0.01, count) / np.cos(dec0)
    dec = dec0 + rng.normal(0, 0.01, count)
    lmn = direction_cosines(ra, dec, ra0, dec0)
    flux = rng.uniform(0.01, 1, (count, 1)) * (freqs / 8e8) ** rng.normal(-0.8, 0.2, (count, 1))
    exact = predict_dft(uvw, freqs, lmn, flux)
    approximate = predict_gridder(uvw, freqs, lmn, flux, epsilon=1e-6)
    error = np.sqrt(np.mean(np.abs(approximate - exact) ** 2) / np.mean(np.abs(exact) ** 2))
    assert error < 1e-2
    assert np.abs(approximate - exact).max() < 1e-2 * np.abs(exact).max()


def test_uvw_matches_casacore_measures_and_mscal(tmp_path: Path) -> None:
    from casacore import quanta as qa
    from casacore.measures import measures

    layout = askap_layout()
    ra0, dec0 = math.radians(300.0), math.radians(-50.0)
    times = 59731.3 * 86400 + np.array([0.0, 1800.0])
    ant = antenna_uvw(layout.itrf_m, times, ra0, dec0)
    dm = measures()
    dm.do_frame(dm.position("itrf", *[qa.quantity(x, "m") for x in layout.centre_itrf_m]))
    dm.do_frame(dm.direction("j2000", qa.quantity(ra0, "rad"), qa.quantity(dec0, "rad")))
    for index, time in enumerate(times):
        dm.do_frame(dm.epoch("utc", qa.quantity(time, "s")))
        baseline = layout.itrf_m - layout.itrf_m[0]  # ak01 -> every antenna
        measure = dm.baseline("itrf", *[qa.quantity(list(baseline[:, k]), "m") for k in range(3)])
        expected = np.array(dm.to_uvw(measure)["xyz"].get_value()).reshape(-1, 3)
        mine = baseline_uvw(ant[index : index + 1], np.zeros(36, int), np.arange(36))
        assert np.abs(mine - expected).max() < 1e-3
        assert np.linalg.norm(expected, axis=1).max() > 3000  # km baselines really tested
    # and the UVW column agrees with casacore's own per-row UVW of the written MS
    options = SimulationOptions(
        layout="flint",  # the FIELD table holds the beam's pointing, as mscal needs
        n_antennas=36,
        n_channels=1,
        duration_s=20.0,
        beams=[3],
        sefd_jy=None,
        bandpass="none",
        phase_rms_deg=0,
    )
    sky = SkyModel(
        ra_deg=[_centre(options, 3)[0]],
        dec_deg=[_centre(options, 3)[1]],
        flux_jy=[1.0],
        reference_hz=[9e8],
    )
    ms = simulate_field(tmp_path, sky, options).measurement_sets[0]
    with table(str(ms), ack=False) as main:  # noqa: F841 (TaQL reads $main from locals)
        derived = taql("select UVW, mscal.uvwj2000() as REF from $main")
        assert np.abs(derived.getcol("UVW") - derived.getcol("REF")).max() < 1e-3


def test_corrupted_data_divided_by_true_gains_is_the_model(tmp_path: Path) -> None:
    options = SimulationOptions(
        **SMALL,
        layout="flint",  # sky-frame correlations: the corruptions alone on the model
        sefd_jy=None,
        bandpass="generated",
        phase_rms_deg=30.0,
        phase_timescale_s=30.0,
    )
    ra, dec = _centre(options, 0)
    sky = SkyModel(ra_deg=[ra + 0.2], dec_deg=[dec], flux_jy=[1.5], reference_hz=[9e8])
    result = simulate_field(tmp_path, sky, options)
    columns = _read(result.measurement_sets[0], "DATA", "UVW", "ANTENNA1", "ANTENNA2", "TIME")
    truth = read_truth(result.truth_dir)
    gains = truth.bandpass(0).reshape(6, -1, 2, 2)
    corruptions = truth.corruptions(0)
    assert np.abs(corruptions.phases_rad).max() > 0.1
    time_index = np.searchsorted(corruptions.times_mjd_s, columns["TIME"])
    p, q = columns["ANTENNA1"], columns["ANTENNA2"]
    jones_p = gains[p] * np.exp(1j * corruptions.phases_rad[time_index, p])[:, None, None, None]
    jones_q = gains[q] * np.exp(1j * corruptions.phases_rad[time_index, q])[:, None, None, None]
    observed = columns["DATA"].reshape(-1, 8, 2, 2)
    corrected = (
        np.linalg.inv(jones_p) @ observed @ np.linalg.inv(np.conj(np.swapaxes(jones_q, -1, -2)))
    )
    table_ = truth.sky(0)
    flux = sky.flux_at(corruptions.frequencies_hz) * np.asarray(table_["pb_gain"])[:, None] ** 0
    from flint.primary_beam import primary_beam

    flux = sky.flux_at(corruptions.frequencies_hz) * primary_beam(
        np.deg2rad(np.asarray(table_["offset_deg"]))[:, None], corruptions.frequencies_hz
    )
    model = _numpy_dft(
        columns["UVW"],
        corruptions.frequencies_hz,
        np.deg2rad(sky.ra_deg),
        np.deg2rad(sky.dec_deg),
        math.radians(ra),
        math.radians(dec),
        flux,
    )
    np.testing.assert_allclose(corrected[..., 0, 0], model, atol=1e-5)
    np.testing.assert_allclose(corrected[..., 1, 1], model, atol=1e-5)
    np.testing.assert_allclose(corrected[..., 0, 1], 0, atol=1e-5)


def test_noise_has_the_stated_sigma_and_image_expectation(tmp_path: Path) -> None:
    options = SimulationOptions(
        **{**SMALL, "duration_s": 300.0}, sefd_jy=2000.0, bandpass="none", phase_rms_deg=0
    )
    ra, dec = _centre(options, 0)
    sky = SkyModel(ra_deg=[ra], dec_deg=[dec], flux_jy=[1.0], reference_hz=[9e8])
    result = simulate_field(tmp_path, sky, options)
    columns = _read(result.measurement_sets[0], "DATA", "NOISE_DATA", "SIGMA", "WEIGHT")
    sigma = 2000.0 / math.sqrt(2 * 4e6 * options.integration_s)
    noise = columns["NOISE_DATA"]
    samples = noise.size
    for part in (noise.real, noise.imag):
        assert abs(part.std() / sigma - 1) < 5 / math.sqrt(samples)
        assert abs(part.mean()) < 5 * sigma / math.sqrt(samples)
    np.testing.assert_allclose(
        columns["DATA"] - noise, np.broadcast_to([1, 0, 0, 1], noise.shape), atol=1e-4
    )
    np.testing.assert_allclose(columns["SIGMA"], sigma, rtol=1e-6)
    np.testing.assert_allclose(columns["WEIGHT"], sigma**-2, rtol=1e-5)
    entry = read_truth(result.truth_dir).beam(0)
    n = 15 * 30 * 8
    assert entry.n_unflagged_cross == n
    assert entry.expected_image_noise_jy == pytest.approx(sigma / math.sqrt(2 * n))
    # the Stokes-I average of all samples has exactly that scatter: check the formula statistically
    stokes = 0.5 * (noise[..., 0] + noise[..., 3]).real
    assert abs(stokes.std() / (sigma / math.sqrt(2)) - 1) < 0.05


def test_calibrator_layout_feed_and_truth_round_trip(
    tmp_path: Path, real_solutions_path: Path
) -> None:
    options = SimulationOptions(
        n_antennas=36,
        n_channels=288,
        channel_average=72,
        duration_s=20.0,
        beams=[0, 35],
        bandpass=str(real_solutions_path),
        rfi=True,
        rfi_channel_fraction=0.25,
        rfi_burst_fraction=0.5,
    )
    result = simulate_calibrator(tmp_path, options)
    assert result.sbid_dir == tmp_path / "SB50000"
    names = [path.name for path in result.measurement_sets]
    # raw: YYYY-MM-DD_HHMMSS_<beam>.ms, every beam with the block's start
    assert re.fullmatch(r"2022-06-01_\d{6}_0\.ms", names[0])
    assert names[1] == names[0].replace("_0.ms", "_35.ms")
    ms = result.measurement_sets[1]
    with table(f"{ms}/FEED", ack=False) as feed:
        assert feed.nrows() == 1296
        offsets = feed.getcol("BEAM_OFFSET")[:36, 0, :]
        assert np.abs(offsets).max() > 0.03  # the footprint's offsets, in radians
        np.testing.assert_allclose(feed.getcol("RECEPTOR_ANGLE")[0], [math.pi / 2, math.pi])
        assert list(feed.getcell("POLARIZATION_TYPE", 0)) == ["X", "Y"]
    with table(f"{ms}/FIELD", ack=False) as field:
        # one field per beam position, each at that scan's boresight
        assert list(field.getcol("NAME")) == ["B1934-638_beam0", "B1934-638_beam35"]
        boresights = np.rad2deg(field.getcol("PHASE_DIR")[:, 0])
    truth = read_truth(result.truth_dir)
    entry = truth.beam(35)
    assert entry.field_name == "B1934-638_beam35"
    np.testing.assert_allclose(boresights[1], entry.boresight_deg, atol=1e-9)
    phase = np.asarray(entry.phase_centre_deg)
    np.testing.assert_allclose(phase, [294.854276, -63.712674], atol=1e-5)  # PKS B1934-638
    # fix_ms_dir's shift of the boresight by BEAM_OFFSET lands on the beam's phase centre
    lon, lat = np.deg2rad(entry.boresight_deg)
    dl, dlat = -offsets[35, 0], offsets[35, 1]
    vector = np.array(
        [np.cos(dl) * np.cos(lat + dlat), np.sin(dl), np.cos(dl) * np.sin(lat + dlat)]
    )
    ra = (lon + math.atan2(vector[1], vector[0])) % (2 * math.pi)
    np.testing.assert_allclose(np.rad2deg([ra, math.asin(vector[2])]), phase, atol=1e-7)
    with table(str(ms), ack=False) as main:
        scans = main.getcol("FIELD_ID")
        assert (np.diff(scans) >= 0).all() and set(scans) == {0, 1}  # scan 0, then scan 35
    with table(f"{ms}/OBSERVATION", ack=False) as obs:
        assert obs.getcell("TELESCOPE_NAME", 0) == "ASKAP"
    with table(f"{ms}/POLARIZATION", ack=False) as pol:
        assert list(pol.getcell("CORR_TYPE", 0)) == [9, 10, 11, 12]
    with table(f"{ms}/ANTENNA", ack=False) as ant:
        assert [ant.getcol("NAME")[i] for i in (0, 35)] == ["ak01", "ak36"]
        np.testing.assert_allclose(ant.getcol("DISH_DIAMETER"), 12.0)
    columns = _read(ms, "FEED1", "FEED2", "FLAG", "DATA", "FIELD_ID")
    assert set(columns["FEED1"]) == set(columns["FEED2"]) == {35}
    columns["FLAG"] = columns["FLAG"][columns["FIELD_ID"] == 1]
    # the real solutions flag two channels: their 72-channel averages are flagged, nothing else
    flagged_channels = columns["FLAG"].all(axis=(0, 2))
    assert truth.bandpass(35).shape == (36, 4, 4)
    assert np.array_equal(flagged_channels, np.isnan(truth.bandpass(35)).any(axis=(0, 2)))
    assert np.median(
        np.abs(truth.bandpass(35)[..., 0][~np.isnan(truth.bandpass(35)[..., 0])])
    ) == pytest.approx(1.0, rel=0.05)
    corruptions = truth.corruptions(35)
    assert corruptions.rfi_mask.any() and not corruptions.rfi_mask.all()
    assert entry.n_rfi_samples == corruptions.rfi_mask.sum() * 630
    # truth files round-trip exactly
    again = tmp_path / "copy.npz"
    write_corruptions(again, corruptions)
    assert read_corruptions(again).equals(corruptions)
    assert isinstance(corruptions, BeamCorruptions)
    assert truth.options == options.model_dump(mode="json")
    assert truth.kind == "calibrator"
    # a rerun skips complete beams and leaves them untouched
    stamp = (ms / "table.f0").stat().st_mtime_ns
    rerun = simulate_calibrator(tmp_path, options)
    assert set(rerun.skipped) == set(result.measurement_sets)
    assert (ms / "table.f0").stat().st_mtime_ns == stamp
    assert read_truth(result.sbid_dir).beams == truth.beams
    # ...but never passes off beams simulated with other options as the ones asked for
    with pytest.raises(InputError, match=r"manifest\.json: .*\(duration_s 20\.0 -> 40\.0\)"):
        simulate_calibrator(tmp_path, options.with_options(duration_s=40.0))
    assert (ms / "table.f0").stat().st_mtime_ns == stamp
    # (running with other threads is the same simulation; in a raw block, fewer beams is not:
    # each beam's MS holds a scan of every beam position)
    again = simulate_calibrator(tmp_path, options.with_options(threads=1))
    assert set(again.skipped) == set(result.measurement_sets)
    with pytest.raises(InputError, match=r"beams \[0, 35\] -> \[35\]"):
        simulate_calibrator(tmp_path, options.with_options(beams=[35]))


def test_bad_inputs_raise_flint_errors(tmp_path: Path) -> None:
    options = SimulationOptions(**SMALL)
    far = SkyModel(ra_deg=[options.ra_deg + 90], dec_deg=[0.0], flux_jy=[1.0], reference_hz=[9e8])
    with pytest.raises(SkyModelError, match="no component falls inside any of beams"):
        simulate_field(tmp_path, far, options)
    sky_file = tmp_path / "far.csv"
    sky_file.write_text(f"ra,dec,int_flux\n{options.ra_deg + 90},0.0,1.0\n")
    with pytest.raises(SkyModelError, match=str(sky_file)):
        simulate_field(tmp_path, sky_file, options)
    broken = tmp_path / "broken.bin"
    broken.write_bytes(b"MWAOCAL\0" + b"\0" * 10)
    with pytest.raises(SolutionsError, match=r"broken\.bin"):
        simulate_calibrator(tmp_path, options.with_options(bandpass=str(broken)))
    with pytest.raises(ConfigError) as error:
        validated(
            SimulationOptions,
            {"n_channels": 0, "beams": [40], "colour": "red", "bandpass": "nope"},
            "sim.yaml",
        )
    message = str(error.value)
    for word in ("sim.yaml", "n_channels", "beams", "colour", "bandpass"):
        assert word in message
    with pytest.raises(ConfigError, match="does not divide"):
        validated(SimulationOptions, {"n_channels": 10, "channel_average": 3})
