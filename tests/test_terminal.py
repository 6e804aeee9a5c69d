"""The quiet terminal: tools' output in their log files only, one line per task start and
finish (from Prefect's events), progress bars, and key results as Prefect artifacts."""

from __future__ import annotations

import io
import json
import logging
import uuid
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from fixtures_workbench import UNCLOSED_API_SOCKET, sync, wait_for

from flint.errors import ToolError
from flint.external import TAIL_LINES, run_tool

pytestmark = UNCLOSED_API_SOCKET


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def external_log():
    logger = logging.getLogger("flint.external")
    handler, level = _Records(), logger.level
    logger.addHandler(handler)
    yield logger, handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_tool_output_goes_to_its_log_file_and_only_the_tail_to_the_log(tmp_path, external_log):
    logger, records = external_log
    logger.setLevel(logging.INFO)
    script = "for i in $(seq 500); do echo line $i; done"
    log = tmp_path / "tool.log"
    run_tool(["sh", "-c", script], log_path=log)
    assert log.read_text().splitlines() == [f"line {i}" for i in range(1, 501)]
    assert not any("line 1" in m for m in records.messages)  # nothing of the output at INFO
    assert any("finished" in m and str(log) in m for m in records.messages)
    logger.setLevel(logging.DEBUG)  # flint -v: the tail, once the tool has finished
    records.messages.clear()
    run_tool(["sh", "-c", script], log_path=log)
    (tail,) = [m for m in records.messages if "last" in m]
    assert tail.splitlines()[1:] == [f"line {i}" for i in range(501 - TAIL_LINES, 501)]
    with pytest.raises(ToolError) as failed:  # a failure carries the tail and names the log
        run_tool(["sh", "-c", script + "; exit 3"], log_path=log)
    assert "exited with code 3" in str(failed.value) and str(log) in str(failed.value)
    assert str(failed.value).endswith("line 500") and "line 400" not in str(failed.value)


def test_terminal_shows_one_line_per_task_start_and_finish(demo_runner, demo_spec):
    from rich.console import Console

    from flint.prefect.progress import TerminalReporter
    from flint.prefect.submit import submit
    from flint.prefect.workbench import RunFollower

    out = io.StringIO()
    reporter = TerminalReporter(Console(file=out, width=120), beams=2)
    follower = RunFollower()
    follower.subscribe(reporter)
    name = f"terminal-{uuid.uuid4().hex[:8]}"
    try:
        with reporter:
            follower.follow_name(name)  # as flint demo does: the run is found by its name
            sync(submit(demo_spec.deployment_names()[0], {"beams": 2, "sleep": 0.7}, name=name))
            wait_for(lambda: follower.run is not None and follower.run.finished, 90)
            wait_for(lambda: len(reporter.finished) == 7, 30)
    finally:
        follower.close()
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    names = {t.name for t in follower.tasks.values()}
    assert len(names) == 7
    for task in names:  # exactly one line as it starts, one as it finishes
        assert sum(line.split()[1:3] == ["started", task] for line in lines) == 1, lines
        assert sum(line.split()[1:3] == ["finished", task] for line in lines) == 1, lines
    assert len(lines) == reporter.lines == 14  # and nothing else: bars are drawn in place


def test_simulation_reports_progress_to_a_listener(tmp_path):
    from flint.progress import listening, report

    seen = []
    with listening(lambda step, done, total: seen.append((step, done, total))):
        report("simulate beam 14", 10, 30)
    report("simulate beam 14", 30, 30)  # nobody listens: nothing happens
    assert seen == [("simulate beam 14", 10, 30)]


def _image(path: Path, sigma: float, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.random.default_rng(seed).normal(0, sigma, (1, 1, 256, 256))
    fits.PrimaryHDU(data.astype(np.float32)).writeto(path)
    return path


def test_key_results_are_prefect_artifacts(prefect_api, tmp_path):
    """The thermal ratios and product paths published by a run are artifacts of that run."""
    from prefect import flow, get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    from flint.prefect.artifacts import publish_results
    from flint.validation.thermal import thermal_limit

    residual = _image(tmp_path / "beam14/images/b.round2-MFS-residual.fits", 2e-4, 1)
    noise = _image(tmp_path / "beam14/images/b.noise-MFS-image.fits", 1e-4, 2)
    limit = thermal_limit(residual, noise)

    @flow(name="publish-test")
    def publishing() -> list[str]:
        return publish_results(tmp_path, [limit], [residual, tmp_path / "missing.fits"])

    state = publishing(return_state=True)
    assert state.result() == ["thermal-ratios", "products"]

    async def artifacts() -> dict:
        async with get_client() as client:
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])
                )
            )
        return {a.key: a for a in found if a.key}  # (Prefect adds unkeyed result records)

    found = sync(artifacts())
    assert set(found) == {"thermal-ratios", "products"}
    table = found["thermal-ratios"].data
    (row,) = json.loads(table) if isinstance(table, str) else table
    assert row["ratio"] == pytest.approx(2.0, rel=0.05)  # residual 200 uJy over noise 100 uJy
    assert str(residual) in found["products"].data and "missing" not in found["products"].data


def test_printing_while_the_status_line_redraws_never_deadlocks():
    """Lines come from the follower's thread while rich redraws the status line in its own:
    neither may wait for a lock the other holds (flint demo once hung that way)."""
    import threading

    from rich.console import Console

    from flint.prefect.progress import TerminalReporter

    out = io.StringIO()
    reporter = TerminalReporter(Console(file=out, force_terminal=True, width=100), beams=3)

    def chatter() -> None:
        for i in range(300):
            reporter.core("simulate beam 14", i % 29, 30)
            reporter.say(f"line {i}")

    with reporter:
        threads = [threading.Thread(target=chatter) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
        assert not any(thread.is_alive() for thread in threads), "deadlocked"
    assert reporter.lines == 900
