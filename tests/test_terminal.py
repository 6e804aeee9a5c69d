"""The quiet terminal: tools' output in their log files only, other programs' console output
in the run's console log, running tasks drawn in place and one line per finished task (from
Prefect's events), progress bars, and key results as Prefect artifacts."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

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


def _rows(raw: str, columns: int = 120, rows: int = 40) -> list[str]:
    """The rows a terminal keeps after ``raw`` (scrollback first), as a user would see them."""
    import pyte

    screen = pyte.HistoryScreen(columns, rows, history=10_000, ratio=0.5)
    screen.set_mode(pyte.modes.LNM)  # a terminal's newline returns the cursor too
    pyte.Stream(screen).feed(raw)
    scrolled = ["".join(row[x].data for x in range(columns)) for row in screen.history.top]
    kept = [row.rstrip() for row in [*scrolled, *screen.display]]
    while kept and not kept[-1]:
        kept.pop()
    return kept


def test_terminal_shows_running_tasks_in_place_and_one_line_per_finished_task(
    demo_runner, demo_spec
):
    """On a terminal each task is drawn as it starts (in the live region, gone at the end)
    and leaves exactly one line as it finishes: 7 tasks, 7 rows."""
    from rich.console import Console

    from flint.prefect.progress import TerminalReporter
    from flint.prefect.submit import submit
    from flint.prefect.workbench import RunFollower

    out = io.StringIO()
    reporter = TerminalReporter(Console(file=out, width=120, height=40, force_terminal=True), 2)
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
    names = {t.name for t in follower.tasks.values()}
    assert len(names) == 7
    drawn = set(re.findall(r"running   (\S+)", out.getvalue()))
    assert drawn == names  # every task was seen as it started
    rows = _rows(out.getvalue())
    for task in names:  # and left exactly one row, as it finished
        assert sum(row.split()[1:3] == ["finished", task] for row in rows) == 1, rows
    assert len(rows) == reporter.lines == 7, rows  # nothing else: the live region is gone


def _task_change(task_id: str, name: str, state: str, before: object = None) -> SimpleNamespace:
    from flint.prefect.runs import TaskRunInfo

    now = datetime.now(UTC)
    task = TaskRunInfo(
        id=task_id, name=name, state_type=state.upper(), state_name=state, start_time=now,
        end_time=None if state == "Running" else now,
    )  # fmt: skip
    return SimpleNamespace(kind="task", task=task, before=before)


def test_off_a_terminal_only_long_tasks_get_a_start_line(monkeypatch):
    """In a log (no terminal, no live region) a task leaves its finish line, and a start line
    too only if it is still running after LONG_TASK_SECONDS."""
    from rich.console import Console

    from flint.prefect import progress

    monkeypatch.setattr(progress, "LONG_TASK_SECONDS", 0.3)
    out = io.StringIO()
    reporter = progress.TerminalReporter(Console(file=out, width=120), beams=1)
    with reporter:
        short = _task_change("s", "flag-beam14", "Running")
        long = _task_change("l", "image-beam14-round0", "Running")
        reporter(short)
        reporter(long)
        reporter(_task_change("s", "flag-beam14", "Completed", short.task))
        time.sleep(0.6)
        reporter(_task_change("l", "image-beam14-round0", "Failed", long.task))
    lines = out.getvalue().splitlines()
    assert [line.split()[1:3] for line in lines] == [
        ["finished", "flag-beam14"],
        ["started", "image-beam14-round0"],
        ["FAILED", "image-beam14-round0"],
    ], lines


_ROUTED = """
import logging, os, subprocess, sys
from pathlib import Path
from flint.logs import configure_cli_logging
from flint.prefect.cli.pipeline import _others_to_log
from flint.prefect.progress import TerminalReporter, quiet_console

configure_cli_logging()
quiet_console()  # imports Prefect: its first-run notice is held
with _others_to_log(Path(sys.argv[1]), verbose=0):
    os.write(2, b"a C library writes to stderr\\n")
    subprocess.run(["sh", "-c", "echo a child process writes >&2"], check=True)
    print("python code writes to stderr", file=sys.stderr)
    logging.getLogger("flint.demo").warning("flint warns")
    with TerminalReporter() as reporter:
        reporter.say("flint's line")
    print("flint prints the summary")
os.write(2, b"after the run\\n")
"""


def test_other_programs_console_output_goes_to_the_runs_console_log(tmp_path):
    """What C libraries (casacore's warnings), child processes (Dask workers) and Prefect (its
    first-run telemetry notice) write goes to OUTPUT/logs/console.log, not the terminal."""
    import pty

    env = {k: v for k, v in os.environ.items() if k not in ("CI", "DO_NOT_TRACK")}
    env.update(PREFECT_HOME=str(tmp_path / "home"), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    env.pop("PREFECT_API_URL", None)
    master, slave = pty.openpty()  # Prefect's notice is for terminals only
    process = subprocess.Popen(
        [sys.executable, "-c", _ROUTED, str(tmp_path / "out")], stdin=subprocess.DEVNULL,
        stdout=slave, stderr=slave, env=env,
    )  # fmt: skip
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert process.wait(60) == 0, b"".join(chunks)
    terminal = b"".join(chunks).decode()
    for line in ("flint warns", "flint's line", "flint prints the summary", "after the run"):
        assert line in terminal, terminal
    log = (tmp_path / "out/logs/console.log").read_text()
    for line in ("a C library", "a child process", "python code writes"):
        assert line in log and line not in terminal, (log, terminal)
    if "CI" not in os.environ:  # (the notice is Prefect's on terminals outside CI only)
        assert "Prefect collects anonymous usage data" in log
    assert "Prefect collects" not in terminal and "flint" not in log.replace(str(tmp_path), ""), (
        log,
        terminal,
    )


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
    noise = _image(tmp_path / "beam14/images/b.noise-MFS-dirty.fits", 1e-4, 2)
    cleaned = _image(tmp_path / "beam14/images/b.noise-MFS-residual.fits", 0.9e-4, 3)
    limit = thermal_limit(residual, noise, noise_residual=cleaned)

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
    assert row["clean floor"] == pytest.approx(0.9, rel=0.05)  # the noise cleaned: 90 uJy
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
