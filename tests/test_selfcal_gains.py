"""Self-calibration gains recover the simulated time-variable antenna phases."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from astropy.table import Table
from casacore.tables import table

from flint.calibration import read_solutions
from flint.calibration.apply import apply_solutions
from flint.errors import MeasurementSetError
from flint.footprint import Footprint
from flint.selfcal import solve_selfcal_gains
from flint.selfcal.components import predict_components, with_constant_phases
from flint.selfcal.gains import SPEED_OF_LIGHT, compute_selfcal_gains
from flint.simulate import SimulationOptions, read_truth, simulate_field
from flint.sky import SkyModel
from flint.strategy.stages import GainSolveOptions

SOLINT_S = 60.0


@pytest.fixture(scope="module")
def phase_corrupted(tmp_path_factory):
    """One beam, a bright source near the centre, 20 deg rms phases; and its noise-free model."""
    where = tmp_path_factory.mktemp("selfcal")
    options = SimulationOptions(
        layout="flint",  # the steps under test work on preprocessed data (tests/test_preprocess.py)
        n_antennas=12,
        n_channels=16,
        channel_average=4,
        duration_s=600.0,
        beams=[0],
        bandpass="none",
        phase_rms_deg=20.0,
        phase_timescale_s=300.0,
        sigma_jy=0.5,
        seed=3,
    )
    ras, decs = Footprint(name=options.footprint, pitch_deg=options.pitch_deg).beam_centres(
        options.ra_deg, options.dec_deg, beams=[0]
    )
    ra, dec = float(ras[0]), float(decs[0])
    sky = SkyModel(
        ra_deg=[ra + 0.05, ra - 0.1],
        dec_deg=[dec, dec + 0.08],
        flux_jy=[2.0, 1.0],
        reference_hz=888e6,
    )
    data = simulate_field(where / "data", sky, options)
    model = simulate_field(
        where / "model", sky, options.with_options(phase_rms_deg=0.0, sigma_jy=0.0)
    )
    (ms,) = data.measurement_sets
    with table(str(model.measurement_sets[0]), ack=False) as tab:
        model_vis = tab.getcol("DATA")
    with table(str(ms), readonly=False, ack=False) as tab:
        desc = tab.getcoldesc("DATA")
        desc["name"] = "MODEL_DATA"
        tab.addcols(desc)
        tab.putcol("MODEL_DATA", model_vis)
    return ms, read_truth(data.truth_dir)


def _true_phases_per_interval(truth, n_intervals, start):
    corruptions = truth.corruptions(0)
    index = np.clip(((corruptions.times_mjd_s - start) // SOLINT_S).astype(int), 0, n_intervals - 1)
    phasors = np.exp(1j * corruptions.phases_rad)  # [time, antenna]
    mean = np.stack([phasors[index == i].mean(axis=0) for i in range(n_intervals)])
    return np.angle(mean * np.conj(mean[:, :1]))  # referenced to antenna 0


def test_phase_only_gains_match_truth_and_apply_removes_them(phase_corrupted, tmp_path):
    ms, truth = phase_corrupted
    result = solve_selfcal_gains(
        ms, tmp_path / "round1.bin", GainSolveOptions(mode="phase", solint_s=SOLINT_S)
    )
    solutions = read_solutions(result.solutions_path)
    assert result.n_intervals == solutions.n_sol == 10
    assert solutions.n_chan == 1
    assert np.allclose(np.abs(solutions.gains[..., [0, 3]]), 1.0)
    solved = np.angle(solutions.gains[:, :, 0, 0])  # [interval, antenna], XX
    expected = _true_phases_per_interval(truth, solutions.n_sol, solutions.start_time)
    error = np.degrees(np.angle(np.exp(1j * (solved - expected))))
    # phases drift within an interval, so allow a few degrees; 20 deg rms were injected
    assert np.sqrt(np.mean(error**2)) < 3.0
    assert result.phase_rms_deg > 10.0
    # applying the gains brings the data back to the model
    applied = apply_solutions(ms, result.solutions_path, tmp_path / "applied.ms")
    with table(str(applied.ms), ack=False) as tab:
        corrected = tab.getcol("CORRECTED_DATA")[..., 0]
        model = tab.getcol("MODEL_DATA")[..., 0]
        raw = tab.getcol("DATA")[..., 0]
    before = np.sqrt(np.mean(np.abs(raw - model) ** 2))
    after = np.sqrt(np.mean(np.abs(corrected - model) ** 2))
    noise = np.sqrt(2) * 0.5  # rms of the complex noise (sigma_jy per part)
    assert before > 1.5 * noise
    assert after < 1.05 * noise  # back to the thermal noise
    # a rerun finds the gains and does not solve again
    assert solve_selfcal_gains(ms, tmp_path / "round1.bin").skipped


def test_amplitude_and_phase_mode_and_uv_cut(phase_corrupted, tmp_path):
    ms, _ = phase_corrupted
    options = GainSolveOptions(mode="amplitude+phase", solint_s=None, min_uv_lambda=50.0)
    result = solve_selfcal_gains(ms, tmp_path / "ap.bin", options)
    gains = read_solutions(result.solutions_path).gains[..., [0, 3]]
    assert gains.shape[0] == 1
    # no amplitude errors were simulated: amplitudes stay near 1 (phase smearing lowers them a little)
    assert np.all(np.abs(np.abs(gains) - 1.0) < 0.15)


def test_missing_model_column_is_a_clear_error(real_ms, tmp_path):
    with pytest.raises(MeasurementSetError, match="MODEL_DATA"):
        solve_selfcal_gains(real_ms, tmp_path / "x.bin")


def test_uv_taper_keeps_model_errors_on_long_baselines_from_steering_the_gains(
    phase_corrupted, tmp_path
):
    """A model good only at its image's resolution: with the taper, gains are solved as it sees.

    Clean components on a grid of pixels miss a point source's phase on the baselines longer
    than the pixels resolve; here the model is exact up to half the longest baseline, and its
    phase errors grow from there to two radians rms on the longest.
    """
    ms, truth = phase_corrupted
    copy = tmp_path / "rough-model.ms"
    shutil.copytree(ms, copy)
    with table(str(copy), readonly=False, ack=False) as tab:
        uv_m = np.hypot(*tab.getcol("UVW")[:, :2].T)
        beyond = np.clip(2 * uv_m / uv_m.max() - 1, 0, None)  # 0 up to half the longest
        error = np.random.default_rng(5).standard_normal(len(uv_m)) * 2.0 * beyond
        tab.putcol("MODEL_DATA", tab.getcol("MODEL_DATA") * np.exp(1j * error)[:, None, None])

    def phase_error(measurement_set, **taper) -> float:
        options = GainSolveOptions(mode="phase", solint_s=SOLINT_S, **taper)
        gains = tmp_path / "gains.bin"
        result = solve_selfcal_gains(measurement_set, gains, options, overwrite=True)
        solutions = read_solutions(result.solutions_path)
        solved = np.angle(solutions.gains[:, :, 0, 0])
        expected = _true_phases_per_interval(truth, solutions.n_sol, solutions.start_time)
        return float(np.degrees(np.sqrt(np.mean(np.angle(np.exp(1j * (solved - expected))) ** 2))))

    taper = {"uv_taper_lambda": 0.15 * uv_m.max() * 888e6 / SPEED_OF_LIGHT}
    exact, exact_tapered = phase_error(ms), phase_error(ms, **taper)
    rough, rough_tapered = phase_error(copy), phase_error(copy, **taper)
    print(
        f"phase error (deg): exact model {exact:.2f} / tapered {exact_tapered:.2f}; "
        f"rough model {rough:.2f} / tapered {rough_tapered:.2f}"
    )
    # untapered, the rough model's long baselines pull the gains off; tapered, the gains are
    # those the exact model gives with the same taper
    assert rough > exact + 1.5
    assert abs(rough_tapered - exact_tapered) < 0.3


def _constant_and_varying_errors(solutions, truth) -> tuple[float, float]:
    """RMS (deg) of the XX phase errors' part constant over the intervals and of the rest."""
    solved = np.angle(solutions.gains[:, :, 0, 0])
    expected = _true_phases_per_interval(truth, solutions.n_sol, solutions.start_time)
    error = np.angle(np.exp(1j * (solved - expected)))
    constant = error.mean(axis=0)
    return float(np.degrees(constant.std())), float(np.degrees((error - constant).std()))


def test_fitted_components_remove_the_constant_phases_an_image_model_hands_on(
    phase_corrupted, tmp_path
):
    """A model made from an image holds the constant phase errors that image was made with,
    and gains solved against it give them back. One phase per antenna for the whole
    observation, solved against fitted components (a source finder's table) on the data
    those gains correct, takes them out and leaves the changes in time as they were."""
    ms, truth = phase_corrupted
    copy = tmp_path / "imprinted.ms"
    shutil.copytree(ms, copy)
    with table(str(copy / "ANTENNA"), ack=False) as antennas:
        imprint = np.radians(10.0) * np.random.default_rng(11).standard_normal(antennas.nrows())
    with table(str(copy), readonly=False, ack=False) as tab:
        baseline = imprint[tab.getcol("ANTENNA1")] - imprint[tab.getcol("ANTENNA2")]
        tab.putcol("MODEL_DATA", tab.getcol("MODEL_DATA") * np.exp(1j * baseline)[:, None, None])
    sky = truth.sky(0)
    catalogue = tmp_path / "components.fits"  # positions and fluxes, as Aegean writes them
    Table({"ra": sky["ra"], "dec": sky["dec"], "int_flux": sky["apparent_flux"]}).write(catalogue)

    options = GainSolveOptions(mode="phase", solint_s=SOLINT_S)
    first = compute_selfcal_gains(copy, options)
    assert predict_components(copy, catalogue, "COMPONENT_MODEL") == 2
    once = options.with_options(solint_s=None)
    constant = compute_selfcal_gains(copy, once, "DATA", ["COMPONENT_MODEL"], model_gains=first)
    both = with_constant_phases(first, constant, options.refant)

    first_constant, first_varying = _constant_and_varying_errors(first, truth)
    both_constant, both_varying = _constant_and_varying_errors(both, truth)
    print(
        f"constant / varying phase errors (deg): image model {first_constant:.2f} / "
        f"{first_varying:.2f}; times the components' constant {both_constant:.2f} / "
        f"{both_varying:.2f}"
    )
    assert first_constant > 7.0  # the imprint (10 deg rms, referenced to antenna 0)
    assert both_constant < 1.0
    assert both_varying < first_varying + 0.1
    assert np.allclose(np.angle(both.gains[:, options.refant, 0, 0]), 0.0)
