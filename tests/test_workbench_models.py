"""The workbench's UI-free models (flint.prefect.workbench) against a real Prefect server and
a real serve runner, with no widget in sight."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest
from fixtures_workbench import UNCLOSED_API_SOCKET, run_to_end, sync, wait_for

from flint.prefect.submit import submit
from flint.prefect.workbench.follower import Change, RunFollower

pytestmark = UNCLOSED_API_SOCKET


def test_models_import_without_ipywidgets_or_bokeh():
    """The models are importable (and build) where ipywidgets and bokeh are absent."""
    code = (
        "import sys\n"
        "for name in ('ipywidgets', 'bokeh', 'jupyter_bokeh', 'traitlets'):\n"
        "    sys.modules[name] = None  # import fails as if not installed\n"
        "import flint.prefect.workbench as wb\n"
        "session = wb.Session()\n"
        "print(sorted(wb.__all__))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "RunFollower" in done.stdout and "Session" in done.stdout


def test_core_reads_for_display_never_import_prefect_or_widgets():
    """The science reads the Explore and Results panels draw are flint core."""
    code = (
        "import sys\n"
        "for name in ('prefect', 'ipywidgets', 'bokeh', 'jupyter_bokeh'):\n"
        "    sys.modules[name] = None\n"
        "import flint.ms.views, flint.calibration.curves, flint.imaging.preview, flint.products\n"
        "import flint.progress, flint.external\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _follow(follower: RunFollower, flow_run_id: str) -> list[Change]:
    changes: list[Change] = []
    lock = threading.Lock()

    def record(change: Change) -> None:
        with lock:
            changes.append(change)

    follower.subscribe(record)
    sync(follower.follow(flow_run_id))
    return changes


@pytest.mark.parametrize("events", [True, False], ids=["events", "polling"])
def test_follower_sees_every_task_start_and_finish(demo_runner, demo_spec, events):
    follower = RunFollower(events=events)
    # a different sleep per case: the demo flow's tasks are cached on their inputs
    params = {"beams": 2, "sleep": 1.0 if events else 1.1}
    sub = sync(submit(demo_spec.deployment_names()[0], params))
    try:
        changes = _follow(follower, sub.id)
        wait_for(lambda: follower.run is not None and follower.run.finished, 90)
        wait_for(lambda: follower.grid and set(follower.grid.totals) == {"COMPLETED"}, 30)
        assert follower.live == ("events" if events else "polling")
        grid = follower.grid
        assert grid.beams == ("00", "01", "all") and grid.columns == (
            "flag",
            "solve",
            "image 1",
            "mosaic",
        )
        assert sum(grid.totals.values()) == 7
        # every cell knows its task's run time (each task sleeps about 1 s)
        seconds = [cell.seconds for row in grid.cells.values() for cell in row.values()]
        assert all(s is not None and 1.0 <= s < 30 for s in seconds), (seconds, follower.tasks)
        finished = {
            c.task.id for c in changes if c.kind == "task" and c.task.state_type == "COMPLETED"
        }
        assert len(finished) == 7
        if events:  # pushed: each task was seen running before it completed
            running = {
                c.task.id for c in changes if c.kind == "task" and c.task.state_type == "RUNNING"
            }
            assert running == finished
        task = follower.task_of_cell("01", "solve")
        tails = []

        def tail_complete() -> bool:  # log lines reach the API in batches, after the states
            tails.append(sync(follower.task_log_tail(task.id)))
            return any("Finished in state Completed" in line.message for line in tails[-1])

        wait_for(tail_complete, 30, every=0.5)
        assert all(line.task_run_id == task.id for line in tails[-1])
    finally:
        follower.close()


# --- explore: a measurement set whose sky and flags are known ----------------------------


@pytest.fixture(scope="module")
def point_source_ms(real_ms_readonly, tmp_path_factory):
    """The real 36-antenna MS holding a 2 Jy point source (1 Jy noise per visibility), with
    antenna 5 flagged in channels 100-149 of the second integration only."""
    import shutil

    import numpy as np
    import test_wsclean as wsclean_helpers  # module import: its tests are not collected here
    from casacore.tables import table

    ms = tmp_path_factory.mktemp("explore") / real_ms_readonly.name
    shutil.copytree(real_ms_readonly, ms)
    with table(f"{ms}/FIELD", ack=False) as field:
        ra0, dec0 = np.rad2deg(field.getcol("PHASE_DIR")[0, 0])
    wsclean_helpers.fill_point_source(ms, ra0 + 0.02, dec0 - 0.01, 2.0, noise_jy=1.0)
    with table(str(ms), readonly=False, ack=False) as tab:
        flags = tab.getcol("FLAG")
        times = tab.getcol("TIME")
        second = times == np.unique(times)[1]
        five = (tab.getcol("ANTENNA1") == 5) | (tab.getcol("ANTENNA2") == 5)
        flags[second & five, 100:150, :] = True
        tab.putcol("FLAG", flags)
    return ms


def test_explorer_reads_a_measurement_set(point_source_ms):
    import numpy as np
    from scipy.constants import c

    from flint.prefect.workbench import Explorer

    explorer = Explorer(max_points=500)
    progress = []
    explorer.on_progress(lambda fraction, what: progress.append((what, fraction)))
    assert explorer.open(point_source_ms) == "ms"
    assert len(explorer.summary.antennas) == 36 and explorer.summary.n_times == 3
    assert explorer.layout.layout == "partly processed" and explorer.layout.needs == ("rotation",)
    uv = explorer.uv_coverage()
    # 1,890 cross-correlation rows (3 x 630) sampled every 4th row, mirrored
    assert uv.rows_total == 1998 and 400 <= uv.rows_sampled <= 500
    assert len(uv.u_klambda) == 2 * uv.rows_sampled
    longest = np.hypot(uv.u_klambda, uv.v_klambda).max()
    assert longest <= 6.45e3 * uv.frequency_hz / c / 1e3  # ASKAP's longest baseline, 6.4 km
    assert longest > 0.6 * 6.4e3 * uv.frequency_hz / c / 1e3
    amplitudes = explorer.amplitudes("DATA")
    # a point source: the same amplitude at every uv distance, its 2 Jy seen through noise of
    # 1/sqrt(2) Jy per component of Stokes I (XX and YY each 1 Jy): Rice-distributed
    from scipy.stats import rice

    sigma = 1 / np.sqrt(2)
    expected = rice.mean(2.0 / sigma, scale=sigma)
    filled = np.isfinite(amplitudes.bin_mean)
    assert filled.sum() > 30
    every = amplitudes.amplitude
    assert abs(every.mean() - expected) < 4 * rice.std(2.0 / sigma, scale=sigma) / np.sqrt(
        every.size
    )
    inner, outer = np.array_split(amplitudes.bin_mean[filled], 2)  # flat: no decorrelation
    assert abs(inner.mean() - outer.mean()) < 0.1
    waterfall = explorer.waterfall(antenna=5)
    assert waterfall.fraction.shape == (3, 288) and waterfall.selection == "antenna ak06"
    flagged = np.zeros((3, 288))
    flagged[1, 100:150] = 1.0
    np.testing.assert_allclose(waterfall.fraction, flagged)
    # a baseline of another antenna with antenna 5: flagged there too; without: never
    np.testing.assert_allclose(explorer.waterfall(6, baseline=(6, 5)).fraction, flagged)
    assert explorer.waterfall(antenna=7, baseline=(7, 8)).fraction.max() == 0.0
    one_in_35 = explorer.waterfall(antenna=7).fraction[1, 120]  # 1 of its 35 baselines
    assert one_in_35 == pytest.approx(1 / 35)
    assert {what for what, _ in progress} == {"uv coverage", "amplitudes", "flags"}
    assert all(f == 1.0 for what, f in progress if what == "uv coverage")


def test_explorer_pages_through_real_bandpass_solutions(real_solutions_path):
    from flint.calibration.solutions import read_solutions
    from flint.errors import InputError
    from flint.prefect.workbench import Explorer

    explorer = Explorer(page_size=6)
    assert explorer.open(real_solutions_path) == "solutions" and explorer.pages == 6
    gains = read_solutions(real_solutions_path).gains
    page = explorer.bandpass_page(5)
    assert [c.antenna for c in page] == [30, 31, 32, 33, 34, 35]
    for curve in page:
        xx = gains[0, curve.antenna, :, 0]
        flagged = ~np.isfinite(xx)
        np.testing.assert_array_equal(curve.flagged["XX"], flagged)
        assert flagged.sum() == 2  # the file's two channels flagged on every antenna
        np.testing.assert_allclose(curve.amplitude["XX"][~flagged], np.abs(xx[~flagged]))
    with pytest.raises(InputError, match="no page 7"):
        explorer.bandpass_page(6)
    with pytest.raises(InputError, match="open a measurement set first"):
        explorer.uv_coverage()


def test_explorer_identifies_what_a_path_holds(tmp_path, real_solutions_path, point_source_ms):
    from astropy.io import fits
    from astropy.table import Table

    from flint.errors import InputError
    from flint.prefect.workbench import identify

    fits.PrimaryHDU(np.zeros((1, 1, 8, 8))).writeto(tmp_path / "image.fits")
    Table({"ra": [1.0]}).write(tmp_path / "cat.fits")
    (tmp_path / "notes.txt").write_text("hello")
    assert identify(point_source_ms) == "ms"
    assert identify(real_solutions_path) == "solutions"
    assert identify(tmp_path / "image.fits") == "image"
    assert identify(tmp_path / "cat.fits") == "catalogue"
    with pytest.raises(InputError, match=r"notes\.txt"):
        identify(tmp_path / "notes.txt")
    with pytest.raises(InputError, match="not a measurement set"):
        identify(tmp_path)


@pytest.mark.parametrize("cleaned_noise", [True, False])
def test_results_browser_thermal_ratios_from_noise_images(tmp_path, cleaned_noise):
    """Each beam's last-round residual against its noise-alone image: the known ratio."""
    from astropy.io import fits

    from flint.prefect.workbench import ResultsBrowser

    def write(name: str, sigma: float, seed: int) -> None:
        path = tmp_path / "beam05" / "images" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(seed)
        fits.PrimaryHDU(rng.normal(0, sigma, (1, 1, 200, 200)).astype("f4")).writeto(path)

    stem = "SB1.F.beam05"
    for round_number, sigma in ((0, 5e-4), (1, 1.5e-4)):
        write(f"{stem}.round{round_number}-MFS-residual.fits", sigma, round_number)
        write(f"{stem}.round{round_number}-MFS-image.fits", sigma, 10 + round_number)
    if cleaned_noise:  # the noise cleaned as the data were: its dirty image is the reference
        write(f"{stem}.noise-MFS-dirty.fits", 1e-4, 99)
        write(f"{stem}.noise-MFS-image.fits", 3e-4, 98)  # restored: not the thermal limit
        write(f"{stem}.noise-MFS-residual.fits", 0.9e-4, 97)
    else:  # a run of an older flint: the noise imaged without cleaning
        write(f"{stem}.noise-MFS-image.fits", 1e-4, 99)
    browser = ResultsBrowser()
    browser.open_directory(tmp_path)
    (ratio,) = browser.thermal_ratios()
    assert (ratio.beam, ratio.round) == (5, 1)  # the last round, not round 0
    assert ratio.ratio == pytest.approx(1.5, rel=0.05)
    assert browser.sources() == [("beam 05", 5)] and browser.kinds(5, 1) == ["image", "residual"]
    assert browser.catalogue(5, 1) is None and browser.validation_summary() is None
    assert browser.image(5, 1, "model") is None  # nothing to draw: nothing returned


def test_flow_submitter_uses_a_live_runner_and_submits(demo_runner, demo_spec):
    """The submitter connects to the serve runner already offering its flows (it starts its
    own only when none does) and submits validated options; no widget involved."""
    from flint.prefect.submit import FlowChoice
    from flint.prefect.workbench import FlowSubmitter

    choice = FlowChoice(entrypoint=demo_spec.entrypoints[0], cluster_parameter="cluster")
    submitter = FlowSubmitter([choice])
    names, started = sync(submitter.connect())
    assert names == demo_spec.deployment_names() and not started and submitter.runner is None
    options = submitter.model(0).model_validate({"beams": 1, "sleep": 0.01})
    submission = sync(submitter.submit(0, options, address="tcp://127.0.0.1:1"))
    run = run_to_end(submission.id)
    assert run.state_type == "COMPLETED" and run.parameters["cluster"] == "tcp://127.0.0.1:1"
    assert submitter.submissions == [submission]
    assert "started elsewhere" in submitter.describe_runner()
