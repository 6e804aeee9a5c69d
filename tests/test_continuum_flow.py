"""The continuum flow on the demo observation: science against the truth, and a resumed run.

The flow is killed part-way (SIGKILL to the ``flint continuum`` process) and started again;
the second run must find the finished work cached and compute only the rest.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table
from prefect import get_client
from prefect.client.schemas.filters import FlowFilter, FlowFilterName
from prefect.client.schemas.sorting import FlowRunSort
from prefect.utilities.asyncutils import run_coro_as_sync

from flint.demo import demo_strategy_path, simulate_demo
from flint.mosaic.headers import frequency_hz, pointing_deg
from flint.prefect.flows.bandpass import bandpass_flow
from flint.prefect.flows.continuum import continuum_flow
from flint.prefect.running import run_flow
from flint.prefect.runs import read_settled_task_runs
from flint.primary_beam import primary_beam
from flint.simulation.truth import read_truth
from flint.validation import ValidationResult
from flint.validation.thermal import ThermalLimit

# the demo runs twice (killed, then resumed) inside the fixture: longer than the default timeout
pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]


def _continuum_command(observation, output: Path) -> list[str]:
    return [
        sys.executable, "-m", "flint.cli", "continuum", str(observation.field.sbid_dir),
        "--bandpass", str(output / "bandpass"), "--output", str(output / "continuum"),
        "--strategy", str(demo_strategy_path()),
    ]  # fmt: skip


def _task_states_of_last_run() -> dict[str, list[str]]:
    """Task-run state names of the newest continuum flow run, by task name prefix."""
    with get_client(sync_client=True) as client:
        (run,) = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["continuum"])),
            sort=FlowRunSort.START_TIME_DESC,
            limit=1,
        )
    # (the server records task-run states from events, a little after the flow returns)
    tasks = run_coro_as_sync(read_settled_task_runs(run.id))
    states: dict[str, list[str]] = {}
    for task in tasks:
        states.setdefault(task.name.split("-", 1)[0], []).append(task.state.name)
    return states


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, prefect_home_server):
    home, api_url = prefect_home_server
    saved = dict(os.environ)
    os.environ.update(PREFECT_HOME=str(home), PREFECT_API_URL=api_url)
    try:
        output = tmp_path_factory.mktemp("demo")
        observation = simulate_demo(output / "data")
        run_flow(
            bandpass_flow,
            calibrator_dir=observation.calibrator.sbid_dir,
            output_dir=output / "bandpass",
        )
        # first attempt: killed once every beam's first image is complete
        process = subprocess.Popen(_continuum_command(observation, output), start_new_session=True)
        deadline = time.monotonic() + 900
        images = output / "continuum"
        # the sidecar of wsclean's options record is written last, once a beam's round-0
        # image is complete (flint.identity.Recipe.record)
        while len(list(images.glob("beam*/images/*round0-flint-options.json.flint.json"))) < 3:
            assert process.poll() is None, "the flow ended before it could be interrupted"
            assert time.monotonic() < deadline, "no round-0 images after 15 minutes"
            time.sleep(1)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        finished_before = {
            p: p.stat().st_mtime_ns for p in images.glob("beam*/images/*round0-MFS-image.fits")
        }
        results = run_flow(
            continuum_flow,
            science_dir=observation.field.sbid_dir,
            bandpass_dir=output / "bandpass",
            output_dir=output / "continuum",
            strategy=demo_strategy_path(),
        )
        yield observation, output, results, finished_before, _task_states_of_last_run()
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.mark.fault
def test_restart_reruns_only_unfinished_work(demo_run):
    _, _, _, finished_before, states = demo_run
    assert len(finished_before) == 3
    # everything up to the round-0 images had finished: the rerun finds it cached (the
    # working copies, bandpass and flags applied in place, their markers intact, even where
    # the kill caught a copy changing: the next step that uses it repairs it)...
    for name in ("preprocess", "apply", "flag"):
        assert states[name].count("Cached") >= 3, (name, states[name])
    # ...and does not image again (wsclean's products are untouched)
    for image, modified in finished_before.items():
        assert image.stat().st_mtime_ns == modified, image
    # while the rest was computed
    assert states["validate"] == ["Completed"] * 4  # three thermal-limit checks, one validation
    # self-calibration (2 rounds x 3 beams) ran or was found finished, never twice
    assert len(states["selfcal"]) == 3 * 2
    assert set(states["selfcal"]) <= {"Completed", "Cached"}


def test_selfcal_improves_the_images(demo_run):
    """Self-calibration lowers the residual rms and restores the peak the phases scattered:
    the brightest source's peak reaches its true apparent flux (band centre) within 3 %."""
    observation, output, _, _, _ = demo_run
    truth = read_truth(observation.field.sbid_dir)
    for beam_dir in sorted((output / "continuum").glob("beam*")):
        rms, peak = [], []
        for round_number in (0, 2):
            (residual,) = beam_dir.glob(f"images/*round{round_number}-MFS-residual.fits")
            (image,) = beam_dir.glob(f"images/*round{round_number}-MFS-image.fits")
            rms.append(float(np.nanstd(fits.getdata(residual))))
            peak.append(float(np.nanmax(fits.getdata(image))))
        sky = truth.sky(int(beam_dir.name.removeprefix("beam")))
        brightest = float(np.max(sky["apparent_flux"]))
        print(f"{beam_dir.name}: peak {peak[0]:.3f} -> {peak[1]:.3f} Jy, true {brightest:.3f}")
        assert rms[1] < 0.9 * rms[0], (beam_dir.name, rms)
        assert peak[1] > 1.05 * peak[0], (beam_dir.name, peak)
        assert abs(peak[1] / brightest - 1) <= 0.03, (beam_dir.name, peak, brightest)


def test_validation_against_the_simulated_truth(demo_run):
    _, _, results, _, _ = demo_run
    (validation,) = [r for r in results if isinstance(r, ValidationResult)]
    summary = validation.summary
    print(summary.describe())
    limits = [r for r in results if isinstance(r, ThermalLimit)]
    for limit in limits:
        print(f"{limit.residual.name}: {limit.ratio:.2f} x the noise-only image")
    assert len(limits) == 3
    # issue 4's thermal limit; the demo gives 1.04 / 1.01 / 1.03 (with 3 channels per final
    # sub-band instead of 2 it gave 1.09 / 1.17 / 1.04: the flat sub-band models left
    # chromatic sidelobes)
    assert max(limit.ratio for limit in limits) <= 1.05
    # below 1 the clean moved noise into the model (auto-mask 2 sigma gave 0.67): not deeper
    assert min(limit.ratio for limit in limits) > 0.95
    assert summary.completeness_above_snr >= 0.95
    assert abs(summary.median_flux_ratio - 1) <= 0.03
    assert summary.median_offset_beams < 0.1


def test_mosaic_flux_of_a_source_seen_by_two_beams(demo_run):
    """The brightest true source inside the primary beams (>= 30 %) of two beams has its
    true flux in the mosaic within 3 % (both beams' data combined, primary-beam corrected)."""
    _, output, results, _, _ = demo_run
    (validation,) = [r for r in results if isinstance(r, ValidationResult)]
    matches = Table.read(validation.matches, format="ascii.csv")
    (mosaic,) = (output / "continuum" / "mosaic").glob("round2/mosaic.round2.fits")
    frequency = frequency_hz(fits.getheader(mosaic), mosaic)
    sources = SkyCoord(matches["ra_deg"], matches["dec_deg"], unit="deg")
    gains = []
    for image in sorted((output / "continuum").glob("beam*/images/*round2-MFS-image.fits")):
        centre = SkyCoord(*pointing_deg(fits.getheader(image)), unit="deg")
        gains.append(primary_beam(sources.separation(centre).rad, frequency))
    in_two = (np.array(gains) >= 0.3).sum(axis=0) >= 2
    assert in_two.sum() >= 10  # the demo's beams overlap
    brightest = int(np.argmax(np.where(in_two, matches["flux_jy"], -np.inf)))
    source = matches[brightest]
    assert str(source["matched"]) == "True", source
    assert source["snr"] > 100, source  # noise does not decide this comparison
    ratio = source["flux_cat"] / source["flux_jy"]
    print(f"two-beam source {source['flux_jy']:.3f} Jy: mosaic/true = {ratio:.3f}")
    assert abs(ratio - 1) <= 0.03
