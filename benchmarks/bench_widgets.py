"""Runs-panel benchmarks (issues 6 and 19): grid render time and state-change-to-widget latency.

Goals: a run with 1,000 task runs renders in <= 1 s; a task run's state change reaches the
panel's grid in <= 0.5 s median (Prefect events; issue 19) and <= 2 s at most.

Run: ``.venv/bin/python benchmarks/bench_widgets.py [--output results.json] [--no-latency]``.
The latency is measured against a real Prefect server started here (in a temporary home):
a flow runs in this process, one task per grid cell, one after the other; a ``RunsPanel``
follows the run (its run follower listens to Prefect's event stream) and every change of its
grid figure's data is timestamped. The latency of a state is the time from that state's
timestamp in the API (set by the task engine when the state changed) to the first grid data
showing it; it includes Prefect's event pipeline (client -> server -> websocket), the
follower's 50 ms gathering of bursts, and the grid's rebuild.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from flint.prefect import runs
from flint.prefect.runs import build_grid
from flint.prefect.workbench._background import BACKGROUND
from flint.prefect.workbench.follower import GRID_DELAY
from flint_widgets.runs import RunsPanel

STATES = ("COMPLETED", "RUNNING", "PENDING", "FAILED")
STAGES = ("flag", "solve", "image", "selfcal", "find")
GOALS = {"render_seconds": 1.0, "latency_median_seconds": 0.5, "latency_seconds": 2.0}
_FLOW_RUN_IDS: queue.Queue[str] = queue.Queue()


def task_rows(n: int = 1000) -> list[tuple[str, str, list[str], str]]:
    rows = []
    for i in range(n):
        beam, stage = i % 36, STAGES[(i // 36) % len(STAGES)]
        tags = [f"beam:{beam}", f"stage:{stage}", f"round:{i // 180 + 1}"]
        rows.append((str(uuid.uuid4()), f"{stage}-{i}", tags, STATES[i % 4]))
    return rows


def render() -> dict[str, Any]:
    """Build and render the grid of a run with 1,000 task runs."""
    rows = task_rows()
    panel = RunsPanel()
    start = time.perf_counter()
    grid = build_grid("bench", rows)
    panel.view.show_grid(grid)  # the grid figure's data, sent to the browser as one patch
    elapsed = time.perf_counter() - start
    panel.close()
    print(
        f"1000 task runs -> {len(grid.beams)}x{len(grid.columns)} grid rendered in "
        f"{elapsed * 1e3:.1f} ms"
    )
    return {
        "task_runs": len(rows),
        "cells": len(grid.beams) * len(grid.columns),
        "seconds": elapsed,
    }


def _latency_flow() -> Any:
    from prefect import flow, tags, task
    from prefect.runtime import flow_run

    @task
    def step(seconds: float) -> None:
        time.sleep(seconds)

    @flow(name="bench-widget-latency")
    def sequence(cells: int, seconds: float, lead: float) -> None:
        _FLOW_RUN_IDS.put(flow_run.get_id())
        time.sleep(lead)  # the panel starts following
        for i in range(cells):
            with tags(f"beam:{i:02d}", f"stage:{STAGES[i % len(STAGES)]}"):
                step(seconds)

    return sequence


async def _state_history(flow_run_id: str) -> list[tuple[str, str, str, float]]:
    """(beam, column, state type, timestamp) of every state of every task run."""
    from prefect import get_client

    history = []
    async with get_client() as client:
        for task_run in await runs.read_task_runs(flow_run_id):
            label = runs.parse_task_label(task_run.name, task_run.tags)
            for state in await client.read_task_run_states(task_run.id):
                history.append(
                    (label.beam, label.column, state.type.value, state.timestamp.timestamp())
                )
    return history


def latency(cells: int = 8, seconds: float = 2.5) -> dict[str, Any]:
    """State change in the API -> RunsPanel grid trait, against a real Prefect server."""
    from flint.prefect.server import PrefectServerOptions, start_prefect_server, stop_prefect_server
    from flint.prefect.settings import apply_environment

    home = Path(tempfile.mkdtemp(prefix="bench-widgets-")) / "prefect-home"
    apply_environment({"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"})
    os.environ.pop("PREFECT_API_URL", None)
    api = start_prefect_server(PrefectServerOptions(host="127.0.0.1", port=0), home=home)
    apply_environment({"PREFECT_API_URL": api})
    panel = RunsPanel()
    seen: dict[tuple[str, str, str], float] = {}
    source = panel.view.grid_source

    def shown(attr: str, old: object, new: dict) -> None:
        now = time.time()
        for beam, column, state in zip(new["beam"], new["column"], new["state"], strict=True):
            seen.setdefault((beam, column, state), now)

    source.on_change("data", shown)
    try:
        sequence = _latency_flow()
        worker = threading.Thread(target=sequence, args=(cells, seconds, 2.0), daemon=True)
        worker.start()
        flow_run_id = _FLOW_RUN_IDS.get(timeout=120)
        panel.select(flow_run_id)
        worker.join(cells * seconds + 120)
        deadline = time.monotonic() + 30
        while not (panel.run and panel.run.finished) and time.monotonic() < deadline:
            time.sleep(0.2)
        live = panel.follower.live
        history = BACKGROUND.submit(_state_history(flow_run_id)).result(60)
    finally:
        panel.close()
        stop_prefect_server(home)
        shutil.rmtree(home.parent, ignore_errors=True)
    delays = {
        state: [
            seen[(beam, column, state)] - stamp
            for beam, column, kind, stamp in history
            if kind == state and (beam, column, state) in seen
        ]
        for state in ("RUNNING", "COMPLETED")
    }
    missed = sum(1 for b, c, k, _ in history if k in delays and (b, c, k) not in seen)
    every = [d for values in delays.values() for d in values]
    result = {
        "task_runs": cells,
        "task_seconds": seconds,
        "updates": live,
        "grid_delay_seconds": GRID_DELAY,
        "changes": len(every),
        "missed": missed,
        "median_seconds": statistics.median(every),
        "max_seconds": max(every),
        "by_state": {k: [round(v, 3) for v in values] for k, values in delays.items()},
    }
    print(
        f"state change -> grid ({live}): median {result['median_seconds']:.2f} s, "
        f"max {result['max_seconds']:.2f} s over {len(every)} changes ({missed} never shown)"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--no-latency", action="store_true", help="skip the Prefect server part")
    args = parser.parse_args()
    results: dict[str, Any] = {
        "benchmark": "widgets",
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "goals": GOALS,
        "render": render(),
    }
    if not args.no_latency:
        results["latency"] = latency()
    measured = results.get("latency", {})
    results["ok"] = results["render"]["seconds"] <= GOALS["render_seconds"] and (
        args.no_latency
        or (
            measured["median_seconds"] <= GOALS["latency_median_seconds"]
            and measured["max_seconds"] <= GOALS["latency_seconds"]
            and measured["missed"] == 0
            and measured["updates"] == "events"
        )
    )
    output = args.output or Path(__file__).parent / "results" / "widgets.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
