"""run_tool: own process group, killed whole on timeout or cancel, log kept and named."""

from __future__ import annotations

import os
import threading

import psutil
import pytest

from flint.errors import ToolCancelled, ToolError
from flint.external import run_tool, scaled_timeout, stopping_when


def _group(pgid: int) -> list[int]:
    alive = []
    for pid in psutil.pids():
        try:
            if os.getpgid(pid) == pgid:
                alive.append(pid)
        except ProcessLookupError:
            continue
    return alive


def _leader(marker: str) -> int:
    for process in psutil.process_iter(["cmdline"]):
        if process.info["cmdline"] and marker in " ".join(process.info["cmdline"]):
            return os.getpgid(process.pid)
    raise AssertionError(f"{marker} not running")


def test_timeout_kills_the_tool_and_its_children_and_names_the_log(tmp_path):
    log = tmp_path / "tool.log"
    groups: list[int] = []
    threading.Timer(0.5, lambda: groups.append(_leader("sleep 31"))).start()
    with pytest.raises(ToolError, match=rf"sh timed out \(full log: {log}\)"):
        run_tool(["sh", "-c", "echo started; sleep 31 & sleep 31"], log_path=log, timeout=1.5)
    assert groups and groups[0] != os.getpgid(0)  # its own process group...
    assert _group(groups[0]) == []  # ...killed whole: the backgrounded child too
    assert log.read_text().startswith("started")  # the whole log is kept


def test_a_stop_check_cancels_the_tool(tmp_path):
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    with stopping_when(stop.is_set), pytest.raises(ToolCancelled, match="run was cancelled"):
        run_tool(["sh", "-c", "trap '' TERM; sleep 32"], log_path=tmp_path / "log")  # ignores TERM
    assert not [
        p
        for p in psutil.process_iter(["cmdline"])
        if "sleep 32" in " ".join(p.info["cmdline"] or [])
    ]


def test_timeouts_scale_with_the_data(tmp_path, monkeypatch):
    data = tmp_path / "beam.ms"
    data.mkdir()
    (data / "table.f0").write_bytes(b"0" * 2_000_000)
    assert scaled_timeout([data], seconds_per_gb=1e6, minimum=10) == pytest.approx(2000)
    assert scaled_timeout([data], seconds_per_gb=1.0, minimum=600) == 600
    monkeypatch.setenv("FLINT_TIMEOUT_SCALE", "3")
    assert scaled_timeout([data], seconds_per_gb=1.0, minimum=600) == 1800
