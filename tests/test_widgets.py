"""Python-level tests of every panel: click buttons, read traits, see errors in the panel.

Real Prefect server, real serve runner and a real LocalCluster (fixtures from test_runs).
Panels are views over flint.prefect.workbench's models; these tests drive them as a user
would (buttons, pickers, selections in the bokeh tables) and read what the views show.
"""

from __future__ import annotations

import numpy as np
import pytest
from fixtures_workbench import (
    UNCLOSED_API_SOCKET,
    run_to_end,
    sync,
    wait_for,
)
from pydantic import Field

from flint.options import BaseOptions
from flint.prefect.submit import FlowChoice, submit
from flint_widgets import ClusterPanel, FlowPanel, ResultsPanel, RunsPanel, Workbench
from flint_widgets._form import OptionsForm
from flint_widgets._run_data import grid_data

pytestmark = UNCLOSED_API_SOCKET


class ImagingOptions(BaseOptions):
    """Options of a pretend imaging stage."""

    size: int = Field(512, ge=16)
    """Image size in pixels."""
    weighting: str = "briggs"
    """Visibility weighting."""
    robust: float | None = None
    """Briggs robustness."""
    rounds: int = 2
    """Self-calibration rounds."""
    multiscale: bool = False
    """Use multiscale cleaning."""


def test_form_from_options_flags_invalid_values_inline():
    form = OptionsForm(ImagingOptions)
    assert set(form.fields) == {"size", "weighting", "robust", "rounds", "multiscale"}
    assert form.validate() == ImagingOptions() and form.errors == {}
    size = form.fields["size"][0]
    assert size.tooltip == "Image size in pixels."
    size.value = 4
    assert "size" in form.errors and "greater than or equal to 16" in form.messages["size"].value
    size.value = 1024
    form.fields["robust"][0].value = "-0.5"
    assert form.validate() == ImagingOptions(size=1024, robust=-0.5)
    form.fields["robust"][0].value = "not a number"
    assert "robust" in form.errors


def test_runs_panel_follows_a_run_live_and_cancels(demo_runner, demo_spec):
    panel = RunsPanel(page_size=5)
    sub = sync(submit(demo_spec.deployment_names()[0], {"beams": 2, "sleep": 60}, tags=["panel"]))
    panel.tag_filter.value = "panel"
    panel.refresh_button.click()
    wait_for(lambda: panel.summaries and not panel.busy, 30)
    assert panel.page_label.value == "1–1 of 1"
    # the list shows when it started, for how long, its state and main parameters
    table = panel.runs_source.data
    assert table["id"] == [sub.id] and table["parameters"] == ["beams=2 sleep=60"]
    panel.runs_source.selected.indices = [0]  # a click on the row follows the run
    wait_for(lambda: panel.grid is not None and panel.grid.state("00", "flag") == "RUNNING", 60)
    wait_for(lambda: "RUNNING" in panel.view.grid_source.data["state"], 10)
    assert panel.follower.live == "events"
    assert not panel.cancel_button.disabled and panel.retry_button.disabled
    panel.cancel_button.click()
    wait_for(lambda: panel.run and panel.run.state_type == "CANCELLED", 90)
    # the killed process never reports its running tasks again: they show as cancelled
    wait_for(lambda: "RUNNING" not in panel.view.grid_source.data["state"], 10)
    shown = panel.view.grid_source.data
    assert "CANCELLED" in shown["state"] and "CANCELLED" in panel.grid.totals
    assert not {"RUNNING", "PENDING"} & set(panel.grid.totals)
    assert panel.cancel_button.disabled and not panel.retry_button.disabled
    assert "Prefect UI" in panel.view.header.value
    # the list follows the run's state
    wait_for(lambda: panel.runs_source.data["value"] == ["Cancelled"], 30)
    panel.close()


def test_runs_panel_shows_api_errors_and_recovers(prefect_api, monkeypatch):
    panel = RunsPanel()
    panel.flow_filter.value = "no-such-flow"
    panel.refresh().result(30)
    assert panel.summaries == [] and panel.page_label.value == "0–0 of 0"
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")  # nothing listens there
    from prefect.context import refresh_global_settings_context

    refresh_global_settings_context()
    with pytest.raises(Exception):  # noqa: B017  (the panel shows whatever went wrong)
        panel.refresh().result(60)
    assert panel.message_level == "error"
    assert "refresh failed" in panel.message or "cannot reach" in panel.message
    assert not panel.busy and not panel.refresh_button.disabled
    monkeypatch.setenv("PREFECT_API_URL", prefect_api)
    refresh_global_settings_context()
    panel.refresh().result(30)
    assert panel.page_label.value == "0–0 of 0"


def test_runs_panel_following_a_run_reports_a_lost_api_and_recovers(
    demo_runner, demo_spec, prefect_api, monkeypatch
):
    from prefect.context import refresh_global_settings_context

    sub = sync(submit(demo_spec.deployment_names()[0], {"beams": 1}))
    run_to_end(sub.id)
    panel = RunsPanel()
    panel.select(sub.id)
    wait_for(lambda: panel.run is not None and panel.run.finished, 30)
    wait_for(lambda: panel.follower.live == "events", 30)
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")  # the API went away
    refresh_global_settings_context()
    # the event stream's health check fails: polling takes over and reports the outage
    wait_for(lambda: panel.message.startswith("cannot reach the Prefect API"), 90)
    assert panel.message_level == "error" and panel.follower.live == "polling"
    monkeypatch.setenv("PREFECT_API_URL", prefect_api)
    refresh_global_settings_context()
    wait_for(lambda: panel.message == "Prefect API reachable again", 90)
    assert panel.message_level == "success" and panel.run.id == sub.id
    wait_for(lambda: panel.follower.live == "events", 60)  # the stream is opened again
    panel.close()


def test_flow_panel_connects_and_submits(demo_runner, demo_spec):
    choice = FlowChoice(
        entrypoint=demo_spec.entrypoints[0], label="demo", cluster_parameter="cluster"
    )
    panel = FlowPanel([choice])
    assert set(panel.form.fields) == {
        "beams",
        "rounds",
        "sleep",
        "fail_beam",
        "fail_if",
        "output_dir",
    }
    panel.runner_button.click()
    wait_for(lambda: panel.message_level == "success", 60)
    assert "connected" in panel.message and panel.runner is None  # reused the running one
    valid_form, panel.form = panel.form, OptionsForm(ImagingOptions)
    panel.form.fields["size"][0].value = 4  # invalid: the submission is refused
    panel.submit().exception(30)
    assert panel.message_level == "error" and "fix the form" in panel.message
    panel.form = valid_form
    panel.form.fields["beams"][0].value = 2
    sub = panel.submit().result(30)
    assert sub.name in panel.history.value and sub.url in panel.history.value


def test_cluster_panel_local_cluster(prefect_api):
    panel = ClusterPanel()
    assert "distributed.LocalCluster" in panel.settings.value
    panel.config.value = "/no/such/cluster.yaml"
    assert panel.message_level == "error" and panel.settings.value == ""
    panel.config.value = "local"
    panel.start_button.click()
    wait_for(lambda: panel.last_status.running and panel.last_status.workers >= 1, 120)
    assert panel.manager.cluster is not None
    port = panel.last_status.dashboard_port
    assert f"/proxy/{port}/individual-task-stream" in panel.dashboard.value
    assert f'href="/proxy/{port}/status"' in panel.summary.value
    assert panel.last_status.mode == "fixed"
    panel.workers.value = 1
    panel.scale_button.click()
    wait_for(lambda: panel.last_status.workers == 1, 60)
    assert "fixed at 1 worker<" in panel.summary.value  # the panel says which mode is active
    panel.minimum.value, panel.maximum.value = 0, 2
    panel.adapt().result(30)
    assert "adaptive, 0-2 workers" in panel.summary.value
    panel.minimum.value, panel.maximum.value = 3, 2
    panel.adapt().exception(30)
    assert "exceeds maximum" in panel.message
    panel.start().exception(30)
    assert "already running" in panel.message
    panel.stop().result(60)
    assert not panel.last_status.running and panel.summary.value == "No cluster running."


def test_results_panel_image_and_catalogue(tmp_path):
    from astropy.io import fits
    from astropy.table import Table
    from astropy.wcs import WCS

    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---SIN", "DEC--SIN"]
    wcs.wcs.crval = [98.0, -31.0]
    wcs.wcs.crpix = [1000, 1000]
    wcs.wcs.cdelt = [-0.001, 0.001]
    path = tmp_path / "image.fits"
    fits.PrimaryHDU(np.random.default_rng(1).normal(size=(2000, 2000)), wcs.to_header()).writeto(
        path
    )
    panel = ResultsPanel(max_pixels=500)
    view = panel.view
    assert view.image_view.layout.display == "none"  # nothing drawn before there is an image
    panel.show_image(path)
    assert panel.data.shape == (500, 500) and view.preview.factor == 4
    assert view.image_view.layout.display is None
    assert view.figure.xaxis[0].axis_label == "RA"
    assert any(":" in label for label in view.figure.xaxis[0].major_label_overrides.values())
    before = view.image_source.data["image"][0].copy()
    view.stretch.value = "log"
    assert not np.allclose(before, view.image_source.data["image"][0])
    Table({"ra": [98.0, 98.1], "dec": [-31.0, -30.95], "flux": [1.0, 0.5]}).write(
        tmp_path / "cat.fits"
    )
    panel.show_catalogue(tmp_path / "cat.fits")
    assert view.table_source.data["flux"] == [1.0, 0.5]
    assert len(view.points.data["x"]) == 2
    view.table_source.selected.indices = [1]  # a click on a row centres the image on it
    x, y = view.points.data["x"][1], view.points.data["y"][1]
    assert view.figure.x_range.start < x < view.figure.x_range.end
    assert view.figure.y_range.start < y < view.figure.y_range.end
    assert view.figure.x_range.end - view.figure.x_range.start < 100  # zoomed in
    panel.show_image(tmp_path / "missing.fits")
    assert panel.message_level == "error"


def test_workbench_tabs(prefect_api):
    bench = Workbench()
    titles = ["Cluster", "Flows", "Runs", "Results", "Explore"]
    assert [bench.get_title(i) for i in range(5)] == titles
    # one session shared by the panels, none reading another's widgets
    assert {id(p.session) for p in bench.children} == {id(bench.session)}
    assert [label for label, _ in bench.flows.picker.options] == [
        "simulate",
        "bandpass",
        "continuum",
    ]
    assert bench.flows.spec.deployment_names() == (
        "simulate/workbench",
        "bandpass/workbench",
        "continuum/workbench",
    )
    assert FlowPanel([]).message_level == "warning"  # nothing offered: the panel says so


def test_flint_flow_forms_build_from_their_options_and_flag_invalid_values(tmp_path):
    from flint.calibration.bandpass import BandpassOptions
    from flint.demo import DEMO_BEAMS

    panel = FlowPanel()
    forms = {}
    for index, (label, _) in enumerate(panel.picker.options):
        panel.picker.value = index
        forms[label] = panel.form
    assert set(forms["simulate"].fields) == {
        "output_dir", "beams", "min_flux_jy", "seed", "layout", "sky",
    }  # fmt: skip
    sky = forms["simulate"].fields["sky"][0]
    assert [value for _, value in sky.options] == ["simple", "realistic"] and sky.value == "simple"
    layout = forms["simulate"].fields["layout"][0]  # the layouts the simulator delivers
    assert [value for _, value in layout.options] == ["raw", "casda", "flint"]
    assert layout.value == "raw"
    assert set(forms["bandpass"].fields) == {
        "calibrator_dir",
        "output_dir",
        "beams",
        "bandpass",
        "repair",
    }
    assert set(forms["continuum"].fields) == {
        "science_dir",
        "bandpass_dir",
        "output_dir",
        "strategy",
        "beams",
        "truth",
        "keep_intermediates",
    }
    assert forms["continuum"].fields["keep_intermediates"][0].value is False
    # required directories left empty are flagged, not taken as "."
    assert set(forms["continuum"].errors) == {"science_dir", "bandpass_dir", "output_dir"}
    assert "Field required" in forms["simulate"].messages["output_dir"].value

    simulate = forms["simulate"]
    simulate.fields["output_dir"][0].value = str(tmp_path)
    assert simulate.validate() is not None and simulate.errors == {}
    simulate.fields["beams"][0].value = "[14, 15, 'x']"
    assert "beams" in simulate.errors
    simulate.fields["beams"][0].value = "[14]"
    layout.value = "casda"
    params = panel.choices[0].parameters(simulate.validate())
    assert params == {
        "output_dir": str(tmp_path),
        "beams": [14],
        "min_flux_jy": 2e-3,
        "seed": 1,
        "layout": "casda",
        "sky": "simple",
    }
    assert forms["simulate"].model.model_validate({"output_dir": "x"}).beams == list(DEMO_BEAMS)

    bandpass = forms["bandpass"]
    bandpass.fields["calibrator_dir"][0].value = str(tmp_path / "cal")
    bandpass.fields["output_dir"][0].value = str(tmp_path / "bp")
    assert bandpass.errors == {}
    bandpass.fields["bandpass"][0].value = '{"rounds": "many"}'
    assert "bandpass" in bandpass.errors
    bandpass.fields["bandpass"][0].value = '{"rounds": 1}'
    options = bandpass.validate()
    assert options.bandpass == BandpassOptions(rounds=1)
    assert panel.choices[1].parameters(options)["bandpass"]["rounds"] == 1

    continuum = forms["continuum"]
    for name in ("science_dir", "bandpass_dir", "output_dir"):
        continuum.fields[name][0].value = str(tmp_path / name)
    continuum.fields["beams"][0].value = "not json"
    assert set(continuum.errors) == {"beams"}
    continuum.fields["beams"][0].value = ""
    assert continuum.errors == {} and continuum.validate().beams is None


def test_grid_cells_are_coloured_by_state_and_show_run_times():
    from datetime import UTC, datetime, timedelta

    from flint.prefect.runs import TaskRunInfo, build_grid

    start = datetime(2026, 1, 1, tzinfo=UTC)
    task = TaskRunInfo(id="a", name="flag-beam01", state_type="FAILED", start_time=start,
                       end_time=start + timedelta(seconds=125))  # fmt: skip
    data = grid_data(build_grid("r", [task]))
    assert data["state"] == ["FAILED"] and data["colour"] == ["#c62828"]
    assert data["beam"] == ["01"] and data["column"] == ["flag"] and data["label"] == ["2m05"]


def test_explore_panel_draws_what_a_path_holds(real_ms, real_solutions_path):
    import test_wsclean as wsclean_helpers  # module import: its tests are not collected here

    from flint_widgets import ExplorePanel

    wsclean_helpers.fill_point_source(real_ms, 98.25, -30.85, 2.0, noise_jy=0.1)
    panel = ExplorePanel()
    assert all(part.layout.display == "none" for part in (panel.ms, panel.solutions, panel.image))
    assert panel.open_path(str(real_ms)).result(120) == "ms"
    assert panel.ms.layout.display is None and panel.solutions.layout.display == "none"
    assert "<th>antennas</th><td>36</td>" in panel.summary.value
    # the real RACS-low beam is partly processed: its correlations are still in the PAF frame
    assert "<th>layout</th><td>partly processed (to do: rotation)</td>" in panel.summary.value
    assert len(panel.ms.uv_source.data["u"]) == 2 * 1890  # every cross-correlation, mirrored
    amplitudes = np.asarray(panel.ms.amp_source.data["amp"])
    assert abs(np.median(amplitudes) - 2.0) < 0.1  # the 2 Jy point source
    assert panel.ms.flag_source.data["image"][0].shape == (3, 288)
    panel.ms.antenna.value, panel.ms.other.value = 3, 4  # the baseline ak04-ak05
    panel.ms.flags_button.click()
    wait_for(lambda: "ak04-ak05" in panel.ms.waterfall.title.text, 30)
    assert panel.open_path(str(real_solutions_path)).result(60) == "solutions"
    assert panel.ms.layout.display == "none" and panel.solutions.layout.display is None
    lines = panel.solutions.amp_source.data
    assert lines["label"][:2] == ["ant 0 XX", "ant 0 YY"] and len(lines["label"]) == 12
    assert len(panel.solutions.amp_flags.data["x"]) == 6 * 2 * 2  # 2 channels, 2 pols, 6 ants
    panel.solutions.next_button.click()
    wait_for(lambda: panel.solutions.amp_source.data["label"][0] == "ant 6 XX", 30)
    assert panel.solutions.page_label.value == "antennas 6-11 (page 2 of 6)"
    panel.open_path("/no/such/file.ms").exception(30)
    assert panel.message_level == "error" and "no such file" in panel.message
