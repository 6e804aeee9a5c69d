"""Runs-panel rendering: a run with 1,000 task runs must render in <= 1 s (issue 6).

Run: ``.venv/bin/python benchmarks/bench_widgets.py``. The state-change-to-widget latency
(<= 2 s) is bounded by ``flint_widgets.runs.POLL_SECONDS`` plus three API reads; it is checked
against a real server in tests/test_widgets.py (to be timed here next).
"""

from __future__ import annotations

import time
import uuid

from flint_widgets.runs import RunsPanel, grid_html

from flint.prefect.runs import build_grid

STATES = ("COMPLETED", "RUNNING", "PENDING", "FAILED")
STAGES = ("flag", "solve", "image", "selfcal", "find")


def task_rows(n: int = 1000) -> list[tuple[str, str, list[str], str]]:
    rows = []
    for i in range(n):
        beam, stage = i % 36, STAGES[(i // 36) % len(STAGES)]
        tags = [f"beam:{beam}", f"stage:{stage}", f"round:{i // 180 + 1}"]
        rows.append((str(uuid.uuid4()), f"{stage}-{i}", tags, STATES[i % 4]))
    return rows


def main() -> None:
    rows = task_rows()
    panel = RunsPanel()
    start = time.perf_counter()
    grid = build_grid("bench", rows)
    panel.grid_view.value = grid_html(grid)
    elapsed = time.perf_counter() - start
    print(
        f"1000 task runs -> {len(grid.beams)}x{len(grid.columns)} grid rendered in {elapsed * 1e3:.1f} ms"
    )


if __name__ == "__main__":
    main()
