"""flint.prefect.runs against a real Prefect server and a real serve runner."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fixtures_workbench import (
    UNCLOSED_API_SOCKET,
    grid_settles,
    logs_settle,
    run_to_end,
    sync,
    wait_for,
)

from flint.errors import FlintError
from flint.prefect import runs
from flint.prefect.submit import ServeRunner, ServeSpec, submit

pytestmark = UNCLOSED_API_SOCKET


@pytest.mark.parametrize(
    ("name", "tags", "expected"),
    [
        ("step-3af", ["beam:3", "stage:image", "round:2"], ("03", "image", 2, "image 2")),
        ("image-beam07-round1", [], ("07", "image", 1, "image 1")),
        ("flag_beam_12", [], ("12", "flag", None, "flag")),
        ("mosaic-9c2", ["stage:mosaic"], ("all", "mosaic", None, "mosaic")),
        ("solve-beam2", ["beam:05"], ("05", "solve", None, "solve")),  # tags win over the name
    ],
)
def test_parse_task_label(name, tags, expected):
    label = runs.parse_task_label(name, tags)
    assert (label.beam, label.stage, label.round, label.column) == expected


def test_build_grid_orders_and_summarises():
    rows = [
        ("a", "x", ["beam:1", "stage:mosaic"], "PENDING"),
        ("b", "x", ["beam:1", "stage:image", "round:2"], "RUNNING"),
        ("c", "x", ["beam:1", "stage:image", "round:1"], "COMPLETED"),
        ("d", "x", ["beam:10", "stage:flag"], "COMPLETED"),
        ("e", "x", ["beam:10", "stage:flag"], "FAILED"),
        ("f", "x", ["beam:2", "stage:custom"], "COMPLETED"),
        ("g", "x", ["stage:mosaic"], "SCHEDULED"),
    ]
    grid = runs.build_grid("run", rows)
    assert grid.beams == ("01", "02", "10", "all")
    assert grid.columns == ("flag", "image 1", "image 2", "mosaic", "custom")
    assert grid.state("10", "flag") == "FAILED"  # the most pressing state is shown
    assert grid.cells["10"]["flag"].counts == {"COMPLETED": 1, "FAILED": 1}
    assert grid.state("02", "flag") is None
    assert grid.totals == {"PENDING": 1, "RUNNING": 1, "COMPLETED": 3, "FAILED": 1, "SCHEDULED": 1}
    assert runs.RunGrid.model_validate_json(grid.model_dump_json()) == grid  # JSON-ready


def test_grid_columns_follow_the_pipeline():
    """The continuum flow's task names, in the order its task runs were created (rounds of
    different beams interleave): columns come out in pipeline order, not split after mosaics."""
    beam = [
        "apply-beam14", "flag-beam14", "split-beam14", "image-beam14-round0",
        "mask-beam14-round1", "selfcal-beam14-round1", "apply-beam14-round1",
        "image-beam14-round1", "mask-beam14-round2", "selfcal-beam14-round2",
        "apply-beam14-round2", "image-beam14-round2", "find-beam14-round2",
        "noise-beam14-round2", "validate-beam14-round2",
    ]  # fmt: skip
    joins = ["convolve-round0", "mosaic-round0", "convolve-round1", "mosaic-round1",
             "convolve-round2", "mosaic-round2", "find-round2", "validate-round2"]  # fmt: skip
    created = [beam[0], beam[1], joins[0], beam[4], beam[2], *beam[3:], *joins[1:]]
    grid = runs.build_grid(
        "run", [(str(i), name, [], "COMPLETED") for i, name in enumerate(created)]
    )
    assert grid.columns == (
        "apply", "flag", "split", "image 0", "convolve 0", "mosaic 0",
        "mask 1", "selfcal 1", "apply 1", "image 1", "convolve 1", "mosaic 1",
        "mask 2", "selfcal 2", "apply 2", "image 2", "noise 2", "convolve 2", "mosaic 2",
        "find 2", "validate 2",
    )  # fmt: skip
    assert grid.beams == ("14", "all")


def test_task_run_time_and_parameter_summary():
    from datetime import UTC, datetime, timedelta

    start = datetime(2026, 1, 1, tzinfo=UTC)
    running = runs.TaskRunInfo(id="a", name="x", state_type="RUNNING", start_time=start)
    assert running.seconds(start + timedelta(seconds=30)) == 30
    assert runs.TaskRunInfo(id="b", name="x").seconds(start) is None  # not started
    summary = runs.parameter_summary(
        {"science_dir": "/data/SB50001/", "beams": [14, 15], "truth": None, "options": {"a": 1}}
    )
    assert summary == "science_dir=SB50001 beams=14,15 options={…}"


# --- real server -----------------------------------------------------------------------


def test_run_grid_list_and_logs(demo_runner: ServeRunner, demo_spec: ServeSpec):
    name = demo_spec.deployment_names()[0]
    sub = sync(submit(name, {"beams": 3, "rounds": 2}, tags=["grid-test"]))
    assert sub.url.endswith(f"/runs/flow-run/{sub.id}")
    assert run_to_end(sub.id).state_type == "COMPLETED"
    grid = grid_settles(sub.id)
    assert grid.beams == ("00", "01", "02", "all")
    assert grid.columns == ("flag", "solve", "image 1", "image 2", "mosaic")
    assert grid.totals == {"COMPLETED": 13}
    page, total = sync(runs.list_flow_runs(runs.RunFilter(tag="grid-test")))
    assert total == 1 and page[0].id == sub.id and page[0].flow_name == "demo-continuum"
    none, zero = sync(runs.list_flow_runs(runs.RunFilter(states=("FAILED",), tag="grid-test")))
    assert (none, zero) == ([], 0)
    lines = logs_settle(sub.id)
    assert any("Finished in state Completed" in line.message for line in lines)
    assert sync(runs.read_logs(sub.id, after=lines[-1].timestamp)) == []


def test_task_runs_paginate_past_200(prefect_api: str):
    """A flow run with 450 task runs (made through the API): all are read and gridded."""
    from prefect import flow, get_client, task
    from prefect.states import Completed

    @task
    def tiny() -> None: ...

    @flow(name="many-tasks")
    def many() -> None: ...

    async def make() -> str:
        async with get_client() as client:
            run = await client.create_flow_run(many, state=Completed())
            requests = asyncio.Semaphore(8)  # a few at a time: one by one takes ~50 s

            async def create(beam: int) -> None:
                async with requests:
                    await client.create_task_run(
                        tiny,
                        run.id,
                        dynamic_key=str(beam),
                        state=Completed(),
                        extra_tags=[f"beam:{beam}", "stage:flag"],
                    )

            await asyncio.gather(*(create(beam) for beam in range(450)))
            return str(run.id)

    grid = sync(runs.read_run_grid(sync(make())))
    assert len(grid.beams) == 450 and grid.totals == {"COMPLETED": 450}


def test_retry_reruns_only_unfinished_work(demo_runner, demo_spec, tmp_path: Path):
    marker = tmp_path / "fail-beam-1"
    marker.touch()
    params = {"beams": 3, "sleep": 0.1, "fail_beam": 1, "fail_if": str(marker)}
    first = sync(submit(demo_spec.deployment_names()[0], params))
    assert run_to_end(first.id).state_type == "FAILED"
    # task-run states reach the API a little after the flow run's
    wait_for(lambda: sync(runs.read_run_grid(first.id)).state("01", "solve") == "FAILED", 30)
    grid_settles(first.id)
    done_first = [t.state.name for t in sync(runs.read_task_runs(first.id))].count("Completed")
    marker.unlink()
    second = sync(runs.retry_flow_run(first.id))
    assert f"retry-of:{first.id}" in second.tags and second.parameters == params
    assert run_to_end(second.id).state_type == "COMPLETED"
    grid_settles(second.id)
    names = [t.state.name for t in sync(runs.read_task_runs(second.id))]
    # everything the first run finished is reused; only what it left undone runs
    assert names.count("Cached") == done_first > 0
    assert names.count("Completed") == len(names) - done_first
    with pytest.raises(FlintError, match="already finished"):
        sync(runs.cancel_flow_run(second.id))


def test_cancel_stops_a_served_run(demo_runner, demo_spec):
    sub = sync(submit(demo_spec.deployment_names()[0], {"beams": 1, "sleep": 4}))
    wait_for(lambda: sync(runs.read_flow_run(sub.id)).state_type == "RUNNING", 60)
    assert sync(runs.cancel_flow_run(sub.id)) == "CANCELLING"
    assert run_to_end(sub.id, timeout=40).state_type == "CANCELLED"


def test_retry_needs_a_deployment(prefect_api: str):
    from prefect import flow

    @flow(name="no-deployment")
    def plain() -> int:
        return 1

    state = plain(return_state=True)
    with pytest.raises(FlintError, match="no deployment"):
        sync(runs.retry_flow_run(state.state_details.flow_run_id))
