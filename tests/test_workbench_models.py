"""The workbench's UI-free models (flint.prefect.workbench) against a real Prefect server and
a real serve runner, with no widget in sight."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
from fixtures_workbench import UNCLOSED_API_SOCKET, sync, wait_for

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
