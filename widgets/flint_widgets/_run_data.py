"""What the runs panel's table and grid show, from the run follower's models (pure)."""

from __future__ import annotations

from datetime import datetime

from flint.prefect import runs
from flint_widgets._figures import duration
from flint_widgets._panel import STATE_COLOURS


def grid_data(grid: runs.RunGrid) -> dict[str, list]:
    """The grid figure's columns, one entry per filled cell (pure)."""
    data: dict[str, list] = {k: [] for k in ("beam", "column", "state", "colour", "label", "tip")}
    for beam in grid.beams:
        for column, cell in grid.cells[beam].items():
            counts = ", ".join(f"{n} {s.lower()}" for s, n in cell.counts.items())
            for key, value in (
                ("beam", beam),
                ("column", column),
                ("state", cell.state),
                ("colour", STATE_COLOURS.get(cell.state, "#bbb")),
                ("label", duration(cell.seconds)),
                ("tip", f"beam {beam} {column}: {counts} {duration(cell.seconds)}"),
            ):
                data[key].append(value)  # fmt: skip
    return data


def runs_data(summaries: list[runs.RunSummary], now: datetime | None = None) -> dict[str, list]:
    """The run table's columns (pure)."""

    def start(s: runs.RunSummary) -> str:
        return f"{s.start_time.astimezone():%Y-%m-%d %H:%M:%S}" if s.start_time else ""

    return {
        "id": [s.id for s in summaries], "name": [s.name for s in summaries],
        "flow": [s.flow_name for s in summaries], "state": [s.state_type for s in summaries],
        "colour": [STATE_COLOURS.get(s.state_type, "#333") for s in summaries],
        "value": [s.state_name for s in summaries], "start": [start(s) for s in summaries],
        "duration": [duration(s.seconds(now)) for s in summaries],
        "parameters": [s.parameter_summary(90) for s in summaries],
    }  # fmt: skip
