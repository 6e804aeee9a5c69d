"""Runs panel: a view of the session's run follower (run list with start, duration, coloured
state and main parameters; the followed run's grid, a clicked cell's log tail, its logs)."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from flint.prefect import runs
from flint.prefect.workbench import Change, Session
from flint_widgets._bokeh import load_bokehjs, refresh
from flint_widgets._panel import Panel, busy
from flint_widgets._run_view import RunList, RunView

STATES = ("RUNNING", "COMPLETED", "FAILED", "CANCELLED", "CANCELLING", "CRASHED", "PENDING",
          "SCHEDULED", "PAUSED")  # fmt: skip


class RunsPanel(Panel):
    """Flow runs from the Prefect API; select one to follow its task grid and logs live."""

    def __init__(self, page_size: int = 25, session: Session | None = None, **kwargs: Any):
        super().__init__(session, **kwargs)
        self.follower = self.session.follower
        self.follower.page_size = page_size
        self.state_filter = w.Dropdown(
            options=[("any state", None), *((s.lower(), s) for s in STATES)], description="State"
        )
        self.flow_filter = w.Text(description="Flow", placeholder="flow name")
        self.tag_filter = w.Text(description="Tag", placeholder="tag")
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.prev_button = w.Button(icon="chevron-left", layout=w.Layout(width="3em"))
        self.next_button = w.Button(icon="chevron-right", layout=w.Layout(width="3em"))
        self.page_label = w.Label()
        self.table_view = RunList(on_pick=lambda flow_run_id: self.select(flow_run_id))
        self.runs_source = self.table_view.source
        self.view = RunView(on_cell=lambda beam, column: self.show_task_log(beam, column))
        self.cancel_button = w.Button(description="Cancel", button_style="danger", icon="stop")
        self.retry_button = w.Button(description="Retry", button_style="warning", icon="redo")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.prev_button.on_click(lambda _: self.page(-1))
        self.next_button.on_click(lambda _: self.page(1))
        self.cancel_button.on_click(lambda _: self.cancel())
        self.retry_button.on_click(lambda _: self.retry())
        self.children = [
            w.HBox([self.state_filter, self.flow_filter, self.tag_filter, self.refresh_button]),
            w.HBox([self.prev_button, self.page_label, self.next_button]),
            self.table_view,
            w.HBox([self.view.header, self.cancel_button, self.retry_button]),
            self.view,
            self.status,
        ]
        self._sync_buttons()
        self.follower.subscribe(self._changed)

    summaries = property(lambda self: self.follower.runs)
    run = property(lambda self: self.follower.run)
    grid = property(lambda self: self.follower.grid)

    def _buttons(self) -> list[w.Button]:
        return [self.refresh_button]

    def prepare_display(self) -> None:
        """Load BokehJS into the page and bring the bokeh views up to date (before display)."""
        load_bokehjs()
        refresh((self.table_view, self.view.grid_view))

    @property
    def where(self) -> runs.RunFilter:
        state = self.state_filter.value
        return runs.RunFilter(
            states=(state,) if state else None,
            flow_name=self.flow_filter.value.strip() or None,
            tag=self.tag_filter.value.strip() or None,
        )

    @busy
    async def refresh(self) -> list[runs.RunSummary]:
        """Read the current page of runs with the filters applied."""
        return await self.follower.refresh(self.where)

    @busy
    async def page(self, step: int) -> list[runs.RunSummary]:
        """Go ``step`` pages forward (or back)."""
        return await self.follower.page(step)

    def select(self, flow_run_id: str | None) -> Any:
        """Follow ``flow_run_id``: its state, grid and logs, live."""
        if flow_run_id is None or (self.run and self.run.id == flow_run_id):
            return None
        self.view.clear()
        return self.session.background.submit(self.follower.follow(flow_run_id))

    @busy
    async def show_task_log(self, beam: str, column: str) -> list[runs.LogLine]:
        """Show the log tail of the task in grid cell (``beam``, ``column``)."""
        task = self.follower.task_of_cell(beam, column)
        if task is None:
            raise ValueError(f"no task in beam {beam}, {column}")
        lines = await self.follower.task_log_tail(task.id)
        self.view.show_task_log(task, lines)
        return lines

    def _changed(self, change: Change) -> None:
        follower = self.follower
        if change.kind == "runs":
            self.table_view.show(follower.runs, follower.run.id if follower.run else None)
            end = min(follower.offset + follower.page_size, follower.total)
            start = follower.offset + 1 if follower.total else 0
            self.page_label.value = f"{start}–{end} of {follower.total}"
        elif change.kind in ("run", "live") and follower.run is not None:
            self.view.show_run(follower.run, follower.live)
            self._sync_buttons()
        elif change.kind == "grid" and follower.grid is not None:
            self.view.show_grid(follower.grid)
        elif change.kind == "logs":
            self.view.show_logs(follower.logs)
        elif change.kind == "error":
            if follower.problem:
                self.notify(follower.problem, "error")
            elif self.message.startswith("cannot reach"):
                self.notify("Prefect API reachable again", "success")

    def _sync_buttons(self) -> None:
        run = self.run
        self.cancel_button.disabled = self.busy or run is None or run.finished
        self.retry_button.disabled = (
            self.busy or run is None or not run.finished or run.deployment_id is None
        )

    @busy
    async def cancel(self) -> str:
        """Cancel the followed run (its serve runner stops the process)."""
        state = await self.follower.cancel()
        self.notify(f"{self.run.name}: {state.lower()}", "success")
        return state

    @busy
    async def retry(self) -> runs.RunSummary:
        """Rerun the followed run's unfinished work as a new run, and follow it."""
        new = await self.follower.retry()
        self.notify(f"retrying as {new.name}", "success")
        return new

    def close(self) -> None:
        self.follower.unsubscribe(self._changed)
        super().close()
