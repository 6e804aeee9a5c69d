"""The bandpass flow on a raw PKS B1934-638 calibrator block (one scan per beam position in
every beam's MS, as the telescope writes it) whose gains come from a real AO file."""

from __future__ import annotations

import numpy as np
import pytest
from casacore.tables import table
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.asyncutils import run_coro_as_sync
from scipy import stats

from flint.calibration import read_solutions
from flint.calibration.repair import choose_reference_antenna
from flint.ms import find_observation
from flint.prefect.flows.bandpass import bandpass_flow, solutions_name
from flint.prefect.running import run_flow
from flint.prefect.runs import read_settled_task_runs
from flint.simulate import SimulationOptions, read_truth, simulate_calibrator
from flint.sky import calibrator_model

pytestmark = pytest.mark.slow

BEAMS = [0, 1]


@pytest.fixture(scope="module")
def calibrator_scan(tmp_path_factory, real_solutions_path):
    """Two beams, 36 antennas, 288 channels, 5 min, default SEFD, real bandpass shapes, RFI."""
    options = SimulationOptions(
        beams=BEAMS,
        duration_s=300.0,
        bandpass=str(real_solutions_path),
        phase_rms_deg=0.0,
        rfi=True,
        seed=11,
    )
    return simulate_calibrator(tmp_path_factory.mktemp("calibrator"), options)


def unflagged_counts(working_ms, n_ant: int) -> np.ndarray:
    """Unflagged XX and YY samples per baseline and channel ``[2, nAnt, nAnt, nChan]``
    in the flow's flagged working copy (symmetric, autocorrelations excluded)."""
    with table(str(working_ms), ack=False) as tab:
        flags = tab.getcol("FLAG")[..., [0, 3]]
        ant1, ant2 = tab.getcol("ANTENNA1"), tab.getcol("ANTENNA2")
    cross = ant1 != ant2
    counts = np.zeros((2, n_ant, n_ant, flags.shape[1]))
    for k in range(2):
        np.add.at(counts[k], (ant1[cross], ant2[cross]), ~flags[cross, :, k])
    return counts + counts.transpose(0, 2, 1, 3)


def normalised_errors(solved, true, counts, sigma_jy, flux):
    """Amplitude and phase errors of ``solved`` [ant, chan] in units of their expected error.

    The expected 1-sigma error of the real and imaginary part of ``g_p`` follows from the
    noise and the samples actually left after flagging:
    ``sigma / sqrt(sum_q n_pq |S g_q|^2)``. The phase of each channel is only defined
    relative to the others, so the best-fit (inverse-variance weighted) common phase is
    removed first. Returns ``(z_amplitude, z_phase, relative_sigma)``; NaN where unsolved.
    """
    power = np.nan_to_num(np.abs(true)) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        information = np.einsum("pqc,qc->pc", counts, power) * flux[None, :] ** 2
        relative = sigma_jy / np.sqrt(information) / np.abs(true)
        ratio = solved / true
    good = np.isfinite(ratio) & np.isfinite(relative)
    weight = np.where(good, 1 / np.where(good, relative, 1) ** 2, 0)
    unit = np.where(good, ratio / np.abs(np.where(good, ratio, 1)), 0)
    rough = np.angle((weight * unit).sum(axis=0))
    phase = np.where(good, np.angle(ratio * np.exp(-1j * rough)), 0)
    offset = rough + (weight * phase).sum(axis=0) / np.maximum(weight.sum(axis=0), 1e-300)
    with np.errstate(invalid="ignore"):
        z_amplitude = np.where(good, (np.abs(ratio) - 1) / relative, np.nan)
        z_phase = np.where(good, np.angle(ratio * np.exp(-1j * offset)) / relative, np.nan)
    return z_amplitude, z_phase, np.where(good, relative, np.nan)


def test_bandpass_flow_recovers_true_gains_and_reruns_from_cache(
    calibrator_scan, tmp_path, prefect_env
):
    output = tmp_path / "bandpass"
    run_flow(bandpass_flow, calibrator_dir=calibrator_scan.sbid_dir, output_dir=output)
    truth = read_truth(calibrator_scan.truth_dir)
    z_all, channel_chi2 = [], []
    observation = find_observation(calibrator_scan.sbid_dir)
    assert (
        observation.layout == "raw" and observation.beams[1].field_for_beam() == "B1934-638_beam1"
    )
    for beam in BEAMS:
        stem = observation.beams[beam].stem
        solutions = read_solutions(output / solutions_name(stem))
        sigma = truth.beam(beam).noise_sigma_jy
        flux = calibrator_model().flux_at(truth.corruptions(beam).frequencies_hz)[0]
        true = truth.bandpass(beam)
        # the solve ran on beam's own scan, selected and preprocessed into work/<stem>.ms
        counts = unflagged_counts(output / "work" / f"{stem}.flagged.ms", true.shape[0])
        reference = choose_reference_antenna(solutions.gains[0])
        for k, pol in enumerate((0, 3)):
            solved = solutions.gains[0, :, :, pol]
            good = np.isfinite(solved)
            assert good.mean() > 0.9, "too many gains flagged"
            assert np.isfinite(true[:, :, pol][good]).all(), "a gain flagged in the truth solved"
            z_amplitude, z_phase, relative = normalised_errors(
                solved, true[:, :, pol], counts[k], sigma, flux
            )
            # the expected errors are honest: unit rms in amplitude and in phase
            for z in (z_amplitude[good], z_phase[good]):
                assert np.sqrt(np.mean(z**2)) == pytest.approx(1.0, abs=0.05)
            z_all += [z_amplitude[good], z_phase[good]]
            # every channel: its antennas' errors are consistent with the noise
            n_solved = good.sum(axis=0)
            solved_channels = n_solved > 1
            chi2 = np.nansum(z_amplitude**2 + z_phase**2, axis=0)[solved_channels]
            channel_chi2.append(stats.chi2.sf(chi2, 2 * n_solved[solved_channels] - 1))
            # 1 % and 1 degree (phase referenced as in the file) wherever the samples left
            # after flagging make 1 % at least 5 sigma (all but a few channels next to RFI)
            expected = true[:, :, pol] * np.exp(-1j * np.angle(true[reference, :, pol]))[None]
            precise = good & (relative < 0.002)
            assert precise.sum() > 0.95 * good.sum()
            ratio = solved[precise] / expected[precise]
            assert np.all(np.abs(np.abs(ratio) - 1) < 0.01)
            assert np.all(np.abs(np.degrees(np.angle(ratio))) < 1.0)
    # ~4e4 Gaussian errors: 0.27 % beyond 3 sigma is expected, so the test is on their
    # distribution: the count beyond 3 sigma (binomial, 5 sigma margin), the largest
    # error (0.1 % chance of exceeding for this many) and every channel's chi-square
    # (Bonferroni: 0.1 % chance that any channel fails)
    z_all = np.concatenate(z_all)
    tail = 2 * stats.norm.sf(3.0)
    beyond = np.sum(np.abs(z_all) > 3)
    assert beyond < z_all.size * tail + 5 * np.sqrt(z_all.size * tail)
    assert np.abs(z_all).max() < stats.norm.isf(1e-3 / (2 * z_all.size))
    channel_chi2 = np.concatenate(channel_chi2)
    assert channel_chi2.min() > 1e-3 / channel_chi2.size
    # a second run finds every task in the cache and recomputes nothing (it only publishes
    # the product paths again as an artifact of the new run)
    rerun = bandpass_flow.with_options(task_runner=ThreadPoolTaskRunner(max_workers=2))(
        calibrator_dir=calibrator_scan.sbid_dir, output_dir=output, return_state=True
    )
    assert rerun.is_completed()
    # (the server records task-run states from events, a little after the flow returns)
    task_runs = run_coro_as_sync(
        read_settled_task_runs(rerun.state_details.flow_run_id, expected=3 * len(BEAMS) + 1)
    )
    work = [run for run in task_runs if run.name != "publish"]
    assert sorted(run.state.name for run in work) == ["Cached"] * (3 * len(BEAMS))
