"""Runs panel: paginated, filtered flow runs; the selected run's beams x stages grid and logs."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w

from flint.prefect import runs
from flint.prefect.submit import ui_url
from flint.prefect.workbench._background import BACKGROUND
from flint_widgets._panel import Panel, busy

POLL_SECONDS = 1.0
LIST_EVERY = 5
"""Polls between refreshes of the run list."""
SETTLE_POLLS = 30
"""Polls after a run finished during which its grid is still read: task states reach the
API shortly after the flow run's final state."""
STATES = (
    "RUNNING",
    "COMPLETED",
    "FAILED",
    "CANCELLED",
    "CANCELLING",
    "CRASHED",
    "PENDING",
    "SCHEDULED",
    "PAUSED",
)
COLOURS = {
    "COMPLETED": "#2e7d32",
    "FAILED": "#c62828",
    "CRASHED": "#ef6c00",
    "RUNNING": "#1565c0",
    "PENDING": "#9e9e9e",
    "SCHEDULED": "#fbc02d",
    "CANCELLED": "#616161",
    "CANCELLING": "#8d6e63",
    "PAUSED": "#6a1b9a",
}


def grid_html(grid: runs.RunGrid) -> str:
    """The grid as an HTML table, one coloured cell per beam and stage (pure)."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in grid.columns)
    rows = []
    for beam in grid.beams:
        cells = []
        for column in grid.columns:
            cell = grid.cells[beam].get(column)
            if cell is None:
                cells.append("<td></td>")
                continue
            tip = ", ".join(f"{n} {s.lower()}" for s, n in cell.counts.items())
            cells.append(
                f'<td title="{tip}" data-state="{cell.state}" style="background:'
                f'{COLOURS.get(cell.state, "#bbb")};color:white;padding:0 4px">'
                f"{cell.state.lower()}</td>"
            )
        rows.append(f"<tr><th>{html.escape(beam)}</th>{''.join(cells)}</tr>")
    totals = ", ".join(f"{n} {s.lower()}" for s, n in sorted(grid.totals.items()))
    return (
        f'<table class="flint-grid" style="font-size:11px;border-spacing:1px"><tr><th>beam</th>'
        f"{head}</tr>{''.join(rows)}</table><small>{totals or 'no task runs yet'}</small>"
    )


class RunsPanel(Panel):
    """Flow runs from the Prefect API; select one to follow its task grid and logs live."""

    def __init__(self, page_size: int = 25, **kwargs: Any) -> None:
        self.page_size = page_size
        self.offset = 0
        self.total = 0
        self.summaries: list[runs.RunSummary] = []
        self.run: runs.RunSummary | None = None
        self.grid: runs.RunGrid | None = None
        self._last_log = None
        self.state_filter = w.Dropdown(
            options=[("any state", None), *((s.lower(), s) for s in STATES)], description="State"
        )
        self.flow_filter = w.Text(description="Flow", placeholder="flow name")
        self.tag_filter = w.Text(description="Tag", placeholder="tag")
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.prev_button = w.Button(
            description="", icon="chevron-left", layout=w.Layout(width="3em")
        )
        self.next_button = w.Button(
            description="", icon="chevron-right", layout=w.Layout(width="3em")
        )
        self.page_label = w.Label()
        self.run_list = w.Select(rows=8, layout=w.Layout(width="100%"))
        self.header = w.HTML()
        self.grid_view = w.HTML()
        self.logs = w.Textarea(disabled=True, layout=w.Layout(width="100%", height="12em"))
        self.cancel_button = w.Button(description="Cancel", button_style="danger", icon="stop")
        self.retry_button = w.Button(description="Retry", button_style="warning", icon="redo")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.prev_button.on_click(lambda _: self.page(-1))
        self.next_button.on_click(lambda _: self.page(1))
        self.cancel_button.on_click(lambda _: self.cancel())
        self.retry_button.on_click(lambda _: self.retry())
        self.run_list.observe(lambda change: self.select(change["new"]), "value")
        super().__init__(**kwargs)
        self.children = [
            w.HBox([self.state_filter, self.flow_filter, self.tag_filter, self.refresh_button]),
            w.HBox([self.prev_button, self.page_label, self.next_button]),
            self.run_list,
            w.HBox([self.header, self.cancel_button, self.retry_button]),
            self.grid_view,
            self.logs,
            self.status,
        ]

    def _buttons(self) -> list[w.Button]:
        return [self.refresh_button]

    @property
    def where(self) -> runs.RunFilter:
        state = self.state_filter.value
        return runs.RunFilter(
            states=(state,) if state else None,
            flow_name=self.flow_filter.value.strip() or None,
            tag=self.tag_filter.value.strip() or None,
        )

    def page(self, step: int) -> Any:
        """Go ``step`` pages forward (or back) and refresh."""
        self.offset = max(
            0,
            min(
                self.offset + step * self.page_size,
                max(0, self.total - 1) // self.page_size * self.page_size,
            ),
        )
        return self.refresh()

    @busy
    async def refresh(self) -> list[runs.RunSummary]:
        """Read the current page of runs with the filters applied."""
        return await self._load_page()

    async def _load_page(self) -> list[runs.RunSummary]:
        self.summaries, self.total = await runs.list_flow_runs(
            self.where, self.page_size, self.offset
        )
        selected = self.run_list.value
        self.run_list.options = [
            (f"{s.name}  [{s.state_name}]  {s.flow_name}", s.id) for s in self.summaries
        ]
        if selected in {s.id for s in self.summaries}:
            self.run_list.value = selected
        end = min(self.offset + self.page_size, self.total)
        self.page_label.value = f"{self.offset + 1 if self.total else 0}–{end} of {self.total}"
        return self.summaries

    def select(self, flow_run_id: str | None) -> None:
        """Follow ``flow_run_id``: poll its state, grid and logs every second."""
        if flow_run_id is None or (self.run and self.run.id == flow_run_id):
            return
        self.run, self.grid, self._last_log = None, None, None
        self.logs.value = ""
        self.header.value = self.grid_view.value = ""
        self._following = flow_run_id
        self._polls_finished = 0
        BACKGROUND.every(f"runs-{id(self)}", POLL_SECONDS, self.poll)

    async def poll(self) -> runs.RunSummary | None:
        """Read the followed run once; stops following once it has finished and been shown."""
        flow_run_id = getattr(self, "_following", None)
        if flow_run_id is None:
            return None
        self._ticks = getattr(self, "_ticks", 0) + 1
        try:
            if self._ticks % LIST_EVERY == 0:
                await self._load_page()
            run = await runs.read_flow_run(flow_run_id)
            if self.message_level == "error" and self.message.startswith("cannot reach"):
                self.notify("Prefect API reachable again", "success")
            if run == self.run and run.finished and self._settled():
                return run  # finished and shown: nothing more will change
            grid = await runs.read_run_grid(flow_run_id, run.state_type)
            lines = await runs.read_logs(flow_run_id, after=self._last_log)
        except Exception as error:
            self.notify(f"cannot reach the Prefect API: {error}", "error")
            raise
        if flow_run_id != getattr(self, "_following", None):
            return None  # another run was selected meanwhile
        self._show(run, grid, lines)
        return run

    def _settled(self) -> bool:
        """Whether every task of the shown finished run has reached a final state (or the
        run finished long enough ago that the rest never will)."""
        self._polls_finished = getattr(self, "_polls_finished", 0) + 1
        grid = self.grid
        done = grid is not None and set(grid.totals) <= runs.TERMINAL_STATES
        return done or self._polls_finished > SETTLE_POLLS

    def _show(self, run: runs.RunSummary, grid: runs.RunGrid, lines: list[runs.LogLine]) -> None:
        self.run = run
        colour = COLOURS.get(run.state_type, "#333")
        self.header.value = (
            f"<b>{html.escape(run.name)}</b> ({html.escape(run.flow_name)}) "
            f'<span style="color:{colour}" data-state="{run.state_type}">'
            f'{html.escape(run.state_name)}</span> <a href="{ui_url(run.id)}" '
            f'target="_blank">Prefect UI</a>'
        )
        if grid != self.grid:
            self.grid = grid
            self.grid_view.value = grid_html(grid)
        if lines:
            self._last_log = lines[-1].timestamp
            text = "\n".join(
                f"{line.timestamp:%H:%M:%S} {line.name}: {line.message}" for line in lines
            )
            self.logs.value = (self.logs.value + "\n" + text).lstrip("\n")[-100_000:]
        self._sync_buttons()

    def _sync_buttons(self) -> None:
        run = self.run
        self.cancel_button.disabled = self.busy or run is None or run.finished
        self.retry_button.disabled = (
            self.busy or run is None or not run.finished or run.deployment_id is None
        )

    @busy
    async def cancel(self) -> str:
        """Cancel the selected run (its serve runner stops the process)."""
        if self.run is None:
            raise ValueError("select a run first")
        state = await runs.cancel_flow_run(self.run.id)
        self.notify(f"{self.run.name}: {state.lower()}", "success")
        return state

    @busy
    async def retry(self) -> runs.RunSummary:
        """Rerun the selected run's unfinished work as a new run, and follow it."""
        if self.run is None:
            raise ValueError("select a run first")
        new = await runs.retry_flow_run(self.run.id)
        self.notify(f"retrying {self.run.name} as {new.name}", "success")
        await self._load_page()
        self.select(new.id)
        return new

    def close(self) -> None:
        BACKGROUND.stop(f"runs-{id(self)}")
        super().close()
