"""The bandpass flow on a simulated PKS B1934-638 scan whose gains come from a real AO file."""

from __future__ import annotations

import numpy as np
import pytest
from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.task_runners import ThreadPoolTaskRunner

from flint.calibration import read_solutions
from flint.prefect.flows.bandpass import bandpass_flow, solutions_name
from flint.prefect.running import run_flow
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


def test_bandpass_flow_recovers_true_gains_and_reruns_from_cache(
    calibrator_scan, tmp_path, prefect_env
):
    output = tmp_path / "bandpass"
    run_flow(bandpass_flow, calibrator_dir=calibrator_scan.sbid_dir, output_dir=output)
    truth = read_truth(calibrator_scan.truth_dir)
    sigma = truth.beam(0).noise_sigma_jy
    n_times = truth.beam(0).n_integrations
    for beam, ms in zip(BEAMS, calibrator_scan.measurement_sets, strict=True):
        solutions = read_solutions(output / solutions_name(ms))
        frequencies = truth.corruptions(beam).frequencies_hz
        flux = calibrator_model().flux_at(frequencies)[0]
        true = truth.bandpass(beam)
        # aoflagger also takes samples next to RFI channels, so those channels have less
        # data than the statistics below assume: they are held to a looser bound
        rfi_channels = truth.corruptions(beam).rfi_mask.any(axis=0)
        near_rfi = np.convolve(rfi_channels, np.ones(5), mode="same") > 0
        for pol in (0, 3):
            solved = solutions.gains[0, :, :, pol]
            reference = int(np.argmax(np.isfinite(solved).sum(axis=1)))
            reference_phase = np.angle(true[reference, :, pol])
            expected = true[:, :, pol] * np.exp(-1j * reference_phase)[None, :]
            # sigma of the real/imaginary part of g_p from the noise and the model:
            # sigma / sqrt(n_times * sum_q |S g_q|^2)
            power = np.nan_to_num(np.abs(true[:, :, pol])) ** 2
            others = power.sum(axis=0)[None, :] - power
            with np.errstate(divide="ignore"):  # channels flagged in the truth file
                gain_sigma = sigma / np.sqrt(n_times * flux[None, :] ** 2 * others)
            gain_sigma = np.hypot(gain_sigma, gain_sigma[reference])  # the reference's own error
            good = np.isfinite(solved)
            assert good.mean() > 0.9, "too many gains flagged"
            clean = good & ~near_rfi[None, :]
            normalised = np.abs(solved - expected)[clean] / (np.sqrt(2) * gain_sigma[clean])
            assert np.sqrt(np.mean(normalised**2)) < 1.3
            assert np.mean(normalised < 3) > 0.99
            # flagging removes some samples the expected error assumes: a few gains reach ~6 sigma
            assert normalised.max() < 8
            ratio = solved[clean] / expected[clean]
            assert np.all(np.abs(np.abs(ratio) - 1) < 0.01)
            assert np.all(np.abs(np.degrees(np.angle(ratio))) < 1.0)
            near = solved[good & near_rfi[None, :]] / expected[good & near_rfi[None, :]]
            assert np.all(np.abs(near - 1) < 0.03)
    # a second run finds every task in the cache and recomputes nothing
    rerun = bandpass_flow.with_options(task_runner=ThreadPoolTaskRunner(max_workers=2))(
        calibrator_dir=calibrator_scan.sbid_dir, output_dir=output, return_state=True
    )
    assert rerun.is_completed()
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=[rerun.state_details.flow_run_id])
            )
        )
    assert sorted(run.state.name for run in runs) == ["Cached"] * (2 * len(BEAMS))
