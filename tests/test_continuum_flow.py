"""The continuum flow on the demo observation: science against the truth, and a resumed run.

The demo runs on its simple sky (point sources from the counts, nothing beyond the
images): issue 4's targets. The realistic sky (issue 17) does not meet them yet (the
residual is 1.26-1.41 x thermal: the sidelobes of sources beyond the images);
``benchmarks/bench_pipeline.py --sky realistic`` records its numbers until it does. The
flow is killed part-way (SIGKILL to the ``flint continuum`` process) and started again;
the second run must find the finished work cached and compute only the rest.
"""

from __future__ import annotations

import json
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

from flint.demo import (
    demo_strategy_path,
    demo_summary,
    simulate_demo,
    write_demo_summary,
)
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


class TerminalCapture:
    """Run a command on a pseudo-terminal (as a user's shell would) and keep what it prints."""

    def __init__(self, argv: list[str]) -> None:
        import fcntl
        import pty
        import struct
        import termios
        import threading

        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # 120 x 40
        self.process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, start_new_session=True
        )
        os.close(slave)
        self.chunks: list[bytes] = []

        def read() -> None:
            while True:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the terminal closed with the process
                    break
                if not chunk:
                    break
                self.chunks.append(chunk)
            os.close(master)

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()

    def lines(self) -> list[str]:
        """The rows a terminal of 120 x 40 keeps (scrollback first), replayed with pyte: lines
        printed stay, the live region of running tasks and bars is redrawn in place."""
        import pyte

        screen = pyte.HistoryScreen(120, 40, history=100_000, ratio=0.5)
        pyte.ByteStream(screen).feed(b"".join(self.chunks))  # (the pty turned \n into \r\n)
        scrolled = ["".join(row[x].data for x in range(120)) for row in screen.history.top]
        return [row.rstrip() for row in [*scrolled, *screen.display] if row.strip()]

    def drawn(self) -> str:
        """Everything drawn, escape sequences removed (the live region's rows included)."""
        import re

        text = b"".join(self.chunks).decode(errors="replace")
        return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


def _images_shown_finished(lines: list[str]) -> bool:
    """Whether every beam's round-0 image task has its finished line on the terminal."""
    return all(
        any(
            f"image-beam{beam}-round0" in line and line.split()[1:2] == ["finished"]
            for line in lines
        )
        for beam in ("14", "15", "20")
    )


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
        observation = simulate_demo(output / "data", sky="simple")
        run_flow(
            bandpass_flow,
            calibrator_dir=observation.calibrator.sbid_dir,
            output_dir=output / "bandpass",
        )
        # first attempt, on a terminal: killed once every beam's first image is complete
        terminal = TerminalCapture(_continuum_command(observation, output))
        process = terminal.process
        deadline = time.monotonic() + 900
        images = output / "continuum"
        # the sidecar of wsclean's options record is written last, once a beam's round-0
        # image is complete (flint.identity.Recipe.record)
        while len(list(images.glob("beam*/images/*round0-flint-options.json.flint.json"))) < 3:
            assert process.poll() is None, "the flow ended before it could be interrupted"
            assert time.monotonic() < deadline, "no round-0 images after 15 minutes"
            time.sleep(1)
        # ...and once the terminal has printed their tasks' lines (the task ends, and its
        # state reaches the terminal, a moment after the sidecar is written)
        shown = time.monotonic() + 60
        while time.monotonic() < shown and not _images_shown_finished(terminal.lines()):
            time.sleep(0.5)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        terminal.reader.join(10)
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
        yield (
            observation, output, results, finished_before, _task_states_of_last_run(),
            (terminal.lines(), terminal.drawn()),
        )  # fmt: skip
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_the_terminal_shows_tasks_not_tool_output(demo_run):
    """``flint continuum`` on a terminal: each task drawn as it starts (in the live region,
    redrawn in place) and one line as it finishes; wsclean's output only in the log files
    beside the images, other programs' console output in the run's console log."""
    _, output, _, _, _, (lines, drawn) = demo_run
    finished = [line for line in lines if line.split()[1:2] in (["finished"], ["cached"])]
    for beam in ("14", "15", "20"):
        assert f"running   image-beam{beam}-round0" in drawn  # seen as it started
        assert sum(f"image-beam{beam}-round0" in line for line in finished) == 1, lines
    # killed (SIGKILL) while running: its live region stays on the screen, as a user would see
    running = [line for line in lines if line.split()[1:2] == ["running"] or "more running" in line]
    others = [line for line in lines if line not in finished and line not in running]
    assert len(others) <= 6, others  # the observation, the flow run (wrapped rows), the bars
    assert not any("WSClean" in line or "== Deconvolving" in line for line in lines)
    assert not any("SEVERE" in line or "Prefect collects" in line for line in lines)
    logs = sorted((output / "continuum").glob("beam*/images/*round0-wsclean.log"))
    assert len(logs) == 3 and all("WSClean version" in log.read_text() for log in logs)
    assert (output / "continuum/logs/console.log").is_file()


@pytest.mark.fault
def test_restart_reruns_only_unfinished_work(demo_run):
    _, _, _, finished_before, states, _ = demo_run
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


def _expected_peak(sky: Table, near: int, header: fits.Header) -> float:
    """The restored image's peak [Jy/beam] at the true source ``near`` (a row of the beam's
    truth): every true component within 2' convolved with the restoring beam, summed."""
    bmaj, bmin = header["BMAJ"] * 3600, header["BMIN"] * 3600
    bpa = np.deg2rad(header["BPA"])
    centre = SkyCoord(sky["ra"][near], sky["dec"][near], unit="deg")
    coords = SkyCoord(sky["ra"], sky["dec"], unit="deg")
    parts = sky[coords.separation(centre).arcsec < 120]
    east, north = (
        offset.to_value("arcsec")
        for offset in centre.spherical_offsets_to(SkyCoord(parts["ra"], parts["dec"], unit="deg"))
    )

    def covariance(major, minor, pa):  # of a Gaussian of these FWHM, (east, north) axes
        rotation = np.array([[np.sin(pa), np.cos(pa)], [np.cos(pa), -np.sin(pa)]])
        scale = np.diag([major, minor]) ** 2 / (8 * np.log(2))
        return rotation @ scale @ rotation.T

    beam = covariance(bmaj, bmin, bpa)
    grid = np.stack(np.meshgrid(np.arange(-90, 91, 1.0), np.arange(-90, 91, 1.0)), axis=-1)
    image = np.zeros(grid.shape[:2])
    for index in range(len(parts)):
        total = beam + covariance(
            parts["a"][index], parts["b"][index], np.deg2rad(parts["pa"][index])
        )
        offset = grid - [east[index], north[index]]
        exponent = np.einsum("...i,ij,...j->...", offset, np.linalg.inv(total), offset)
        peak = parts["apparent_flux"][index] * np.sqrt(np.linalg.det(beam) / np.linalg.det(total))
        image += peak * np.exp(-0.5 * exponent)
    return float(image.max())


def test_selfcal_improves_the_images(demo_run):
    """Self-calibration lowers the residual rms and restores the peak the phases scattered:
    the brightest peak reaches the truth's (components convolved with the restoring beam,
    band centre) within 3 %."""
    observation, output, _, _, _, _ = demo_run
    truth = read_truth(observation.field.sbid_dir)
    for beam_dir in sorted((output / "continuum").glob("beam*")):
        rms, peak = [], []
        for round_number in (0, 2):
            (residual,) = beam_dir.glob(f"images/*round{round_number}-MFS-residual.fits")
            (image,) = beam_dir.glob(f"images/*round{round_number}-MFS-image.fits")
            rms.append(float(np.nanstd(fits.getdata(residual))))
            peak.append(float(np.nanmax(fits.getdata(image))))
        sky = truth.sky(int(beam_dir.name.removeprefix("beam")))
        candidates = np.argsort(sky["apparent_flux"])[-10:]  # the peak: not always the most flux
        brightest = max(_expected_peak(sky, int(row), fits.getheader(image)) for row in candidates)
        print(f"{beam_dir.name}: peak {peak[0]:.3f} -> {peak[1]:.3f} Jy, true {brightest:.3f}")
        assert rms[1] < 0.9 * rms[0], (beam_dir.name, rms)
        assert peak[1] > 1.05 * peak[0], (beam_dir.name, peak)
        assert abs(peak[1] / brightest - 1) <= 0.03, (beam_dir.name, peak, brightest)


def test_validation_against_the_simulated_truth(demo_run):
    """Issue 4's targets: each beam's residual within 5 % of the noise image, completeness
    above 10 sigma, flux ratio, astrometry, and no clean that had to be retried."""
    _, output, results, _, _, _ = demo_run
    (validation,) = [r for r in results if isinstance(r, ValidationResult)]
    summary = validation.summary
    print(summary.describe())
    limits = [r for r in results if isinstance(r, ThermalLimit)]
    for limit in limits:
        print(f"{limit.residual.name}: {limit.ratio:.3f} x the noise-only image")
    assert len(limits) == 3
    # with self-calibration weighting baselines as the tapered images do: 0.99/1.00/1.04
    # (seed 1); solving on every baseline gave 1.04/1.13/1.03 (beam 15's outer antennas
    # pulled by a model on 12" pixels)
    assert max(limit.ratio for limit in limits) <= 1.05
    # below 1 the clean moved noise into the model (auto-mask 2 sigma gave 0.67): not deeper
    assert min(limit.ratio for limit in limits) > 0.95
    # the noise alone, cleaned as the data were: the demo's clean takes about a tenth of it
    # into its model (0.90 on each beam, seed 1), and the data's residual stays above that
    for limit in limits:
        print(f"{limit.residual.name}: clean floor {limit.clean_floor:.3f}")
        assert 0.85 < limit.clean_floor < 0.97
        assert limit.ratio > limit.clean_floor
    assert summary.completeness_above_snr >= 0.95
    assert abs(summary.median_flux_ratio - 1) <= 0.03
    assert summary.median_offset_beams < 0.1
    assert not list((output / "continuum").glob("beam*/**/*diverged*"))


def test_mosaic_flux_of_a_source_seen_by_two_beams(demo_run):
    """The brightest true source inside the primary beams (>= 30 %) of two beams has its
    true flux in the mosaic within 3 % (both beams' data combined, primary-beam corrected)."""
    _, output, results, _, _, _ = demo_run
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


def test_demo_summary_holds_the_runs_numbers(demo_run, tmp_path):
    """``flint demo``'s summary.json: each beam's thermal ratio, completeness and median flux
    ratio as the flow computed them, and what was run."""
    _, _, results, _, _, _ = demo_run
    (validation,) = [r for r in results if isinstance(r, ValidationResult)]
    limits = {r.residual.name.split(".beam")[1][:2]: r.ratio for r in results
              if isinstance(r, ThermalLimit)}  # fmt: skip
    path = write_demo_summary(tmp_path, demo_summary(results, 12.5, "simple", "raw"))
    summary = json.loads(path.read_text())
    assert path.name == "summary.json"
    assert summary["thermal_ratio"] == {str(int(beam)): ratio for beam, ratio in limits.items()}
    assert list(summary["thermal_ratio"]) == ["14", "15", "20"]
    floors = {r.residual.name.split(".beam")[1][:2]: r.clean_floor for r in results
              if isinstance(r, ThermalLimit)}  # fmt: skip
    assert summary["clean_floor"] == {str(int(beam)): floor for beam, floor in floors.items()}
    assert summary["completeness"] == validation.summary.completeness_above_snr
    assert summary["median_flux_ratio"] == validation.summary.median_flux_ratio
    assert (summary["wall_s"], summary["sky"], summary["layout"]) == (12.5, "simple", "raw")
