"""The run follower: the one reader of flow-run and task-run states (no UI).

It keeps a page of the run list and one followed run (its task runs, the beams x stages
grid, its logs) up to date. Changes arrive through Prefect's event stream
(``get_events_subscriber``, a websocket: a state change reaches the listeners within a
fraction of a second); while the stream cannot be opened or has dropped, the API is polled
instead, and the stream is tried again every few polls. Listeners are called on the
background loop's thread with what changed (:class:`Change`); the workbench's panels and the
terminal reporter of ``flint demo`` are such listeners.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from flint.prefect import runs
from flint.prefect.workbench._background import BACKGROUND, Background

logger = logging.getLogger(__name__)

Kind = Literal["runs", "run", "grid", "task", "logs", "live", "error"]
POLL_SECONDS = 1.0
RESUBSCRIBE_POLLS = 5
"""Polls between attempts to open the event stream again."""
LOG_SECONDS = 2.0
"""Logs are not events: the followed run's new lines are read this often while it runs."""
HEALTH_SECONDS = 5.0
"""While the stream is open, the API's health is checked this often: a server that went
away (or is shutting down with the stream still open) sends no events and no error."""
SETTLE_SECONDS = 30.0
"""After a run ends, how long its task states and logs are still read (they arrive late)."""
EVENT_PREFIXES = ["prefect.flow-run.", "prefect.task-run."]
GRID_DELAY = 0.05
"""Seconds a burst of task events is gathered before the grid is rebuilt once."""


@dataclass(frozen=True)
class Change:
    """What changed: ``kind``, and for ``task`` the task run before and after."""

    kind: Kind
    task: runs.TaskRunInfo | None = None
    before: runs.TaskRunInfo | None = None


Listener = Callable[[Change], None]


class RunFollower:
    """A page of flow runs and one followed run, kept live from Prefect's events."""

    def __init__(
        self, background: Background = BACKGROUND, page_size: int = 25, events: bool = True
    ) -> None:
        self.background = background
        self.page_size = page_size
        self.use_events = events
        self.where = runs.RunFilter()
        self.offset = 0
        self.total = 0
        self.runs: list[runs.RunSummary] = []
        self.run: runs.RunSummary | None = None
        self.tasks: dict[str, runs.TaskRunInfo] = {}
        self.grid: runs.RunGrid | None = None
        self.logs: list[runs.LogLine] = []
        self.live: Literal["events", "polling", "idle"] = "idle"
        self.problem: str | None = None
        """The last error reaching the Prefect API (None once it answers again)."""
        self._listeners: list[Listener] = []
        self._wanted_name: str | None = None
        self._loop_started = False
        self._ended_at: float | None = None
        self._grid_pending = False

    # --- listeners ----------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(change)`` on every change (on the background loop's thread)."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _emit(self, kind: Kind, **details: Any) -> None:
        change = Change(kind, **details)
        for listener in list(self._listeners):
            try:
                listener(change)
            except Exception:  # a broken view must not stop the others
                logger.exception("run follower listener failed on %s", kind)

    # --- the run list -------------------------------------------------------------------
    async def refresh(self, where: runs.RunFilter | None = None) -> list[runs.RunSummary]:
        """Read the current page of runs (with ``where``, a new filter from the first page)."""
        if where is not None and where != self.where:
            self.where, self.offset = where, 0
        self._ensure_live()
        self.runs, self.total = await runs.list_flow_runs(self.where, self.page_size, self.offset)
        self._emit("runs")
        return self.runs

    async def page(self, step: int) -> list[runs.RunSummary]:
        """Go ``step`` pages forward (or back) and read that page."""
        last = max(0, self.total - 1) // self.page_size * self.page_size
        self.offset = max(0, min(self.offset + step * self.page_size, last))
        return await self.refresh()

    async def list_runs(
        self, where: runs.RunFilter | None = None, limit: int = 50
    ) -> list[runs.RunSummary]:
        """The newest runs matching ``where`` (the followed page is left as it is)."""
        found, _ = await runs.list_flow_runs(where, limit)
        return found

    async def read_run(self, flow_run_id: str) -> runs.RunSummary:
        """One flow run (for views that need its parameters)."""
        return await runs.read_flow_run(flow_run_id)

    # --- the followed run ---------------------------------------------------------------
    async def follow(self, flow_run_id: str) -> runs.RunSummary:
        """Follow ``flow_run_id``: read it, its task runs and logs once, then keep them live."""
        run, infos = await asyncio.gather(
            runs.read_flow_run(flow_run_id), runs.read_task_infos(flow_run_id)
        )
        self.run, self.logs, self._ended_at = run, [], None
        self.tasks = {info.id: info for info in infos}
        self._regrid()
        self._emit("run")
        self._emit("grid")
        await self._read_new_logs()
        self._ensure_live()
        return run

    def follow_name(self, name: str) -> None:
        """Follow the flow run named ``name`` as soon as it exists (``flint demo``)."""
        self._wanted_name = name
        self._ensure_live()

    async def task_log_tail(self, task_run_id: str, lines: int = 40) -> list[runs.LogLine]:
        """The last ``lines`` log lines of one task run of the followed run."""
        return await runs.read_task_log_tail(task_run_id, lines)

    def task_of_cell(self, beam: str, column: str) -> runs.TaskRunInfo | None:
        """The task run shown in a grid cell (the most recent of its task runs)."""
        cell = self.grid.cells.get(beam, {}).get(column) if self.grid else None
        if cell is None:
            return None
        members = [self.tasks[i] for i in cell.task_run_ids if i in self.tasks]
        return max(members, key=lambda t: t.state_time or t.created or runs._EPOCH, default=None)

    async def cancel(self) -> str:
        """Cancel the followed run (its serve runner stops the process)."""
        if self.run is None:
            raise ValueError("follow a run first")
        return await runs.cancel_flow_run(self.run.id)

    async def retry(self) -> runs.RunSummary:
        """Rerun the followed run's unfinished work as a new run, and follow that."""
        if self.run is None:
            raise ValueError("follow a run first")
        new = await runs.retry_flow_run(self.run.id)
        await self.refresh()
        await self.follow(new.id)
        return new

    def _regrid(self) -> None:
        run = self.run
        self.grid = runs.grid_of(
            run.id if run else "", self.tasks.values(), run.state_type if run else None
        )

    # --- live updates ---------------------------------------------------------------------
    def _ensure_live(self) -> None:
        if not self._loop_started:
            self._loop_started = True
            self.background.every(f"follower-{id(self)}", 0.0, self._live)

    def close(self) -> None:
        """Stop following (the background loop itself keeps running for others)."""
        self.background.stop(f"follower-{id(self)}")
        self._loop_started = False
        self.live = "idle"

    async def _live(self) -> None:
        """Events while the stream is open; polls while it is not (one pass of the loop)."""
        if self.use_events:
            try:
                await self._stream()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                logger.debug("event stream unavailable: %s", error)
        self._set_live("polling")
        for _ in range(RESUBSCRIBE_POLLS if self.use_events else 1):
            await self._poll()
            await asyncio.sleep(POLL_SECONDS)

    async def _stream(self) -> None:
        from prefect.events.clients import get_events_subscriber
        from prefect.events.filters import EventFilter, EventNameFilter

        event_filter = EventFilter(event=EventNameFilter(prefix=EVENT_PREFIXES))
        async with get_events_subscriber(filter=event_filter, reconnection_attempts=2) as events:
            self._set_live("events")
            await self._resync()  # what happened while nobody listened
            self._report(None)

            async def receive() -> None:
                async for event in events:
                    await self._apply(event)

            tasks = [asyncio.create_task(receive()), asyncio.create_task(self._side_loop())]
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()  # the error that ended the stream, if any
            finally:
                for task in tasks:
                    task.cancel()

    async def _side_loop(self) -> None:
        """New log lines of the followed run, and the API's health (raises when it is gone)."""
        from prefect import get_client

        last_check = 0.0
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(LOG_SECONDS)
            if loop.time() - last_check >= HEALTH_SECONDS:
                last_check = loop.time()
                async with get_client() as client:
                    if (problem := await client.api_healthcheck()) is not None:
                        self._report(problem)
                        raise ConnectionError(f"Prefect API unhealthy: {problem}")
            if self.run is not None and not self._settled():
                await self._read_new_logs()

    def _set_live(self, mode: Literal["events", "polling", "idle"]) -> None:
        if mode != self.live:
            self.live = mode
            self._emit("live")

    def _report(self, error: Exception | None) -> None:
        text = None if error is None else f"cannot reach the Prefect API: {error}"
        if text != self.problem:
            self.problem = text
            self._emit("error")

    def _settled(self) -> bool:
        """Whether the followed run ended long enough ago that nothing more will come."""
        if self.run is None or not self.run.finished or self._ended_at is None:
            return False
        waited = asyncio.get_running_loop().time() - self._ended_at
        done = all(t.finished for t in self.tasks.values())
        return waited > SETTLE_SECONDS or (done and waited > LOG_SECONDS)

    async def _resync(self) -> None:
        """Read the list page and the followed run again (after a gap in the events)."""
        if self.runs or self.total:
            self.runs, self.total = await runs.list_flow_runs(
                self.where, self.page_size, self.offset
            )
            self._emit("runs")
        if self.run is not None:
            await self._read_run(self.run.id)

    async def _poll(self) -> None:
        """One poll: the followed run until it has settled, else the list page."""
        try:
            if self._wanted_name and self.run is None:
                await self._find_wanted()
            if self.run is not None and not self._settled():
                await self._read_run(self.run.id)
                await self._read_new_logs()
            else:
                page, total = await runs.list_flow_runs(self.where, self.page_size, self.offset)
                if (page, total) != (self.runs, self.total):
                    self.runs, self.total = page, total
                    self._emit("runs")
        except Exception as error:
            self._report(error)
            return
        self._report(None)

    async def _find_wanted(self) -> None:
        found, _ = await runs.list_flow_runs(runs.RunFilter(name=self._wanted_name), 1, 0)
        if found:
            self._wanted_name = None
            await self.follow(found[0].id)

    async def _read_run(self, flow_run_id: str) -> None:
        run = await runs.read_flow_run(flow_run_id)
        infos = await runs.read_task_infos(flow_run_id)
        if self.run is None or run.id != self.run.id:
            return  # another run was followed meanwhile
        if self.run.finished and not run.finished:
            run = self.run  # the API has not recorded the final state an event brought yet
        changed = run != self.run
        if changed:
            self._set_run(run)
        for info in infos:
            self._update_task(info)
        self._regrid_soon()
        if changed:
            self._emit("run")

    def _set_run(self, run: runs.RunSummary) -> None:
        if run.finished and self._ended_at is None:
            self._ended_at = asyncio.get_running_loop().time()
        self.run = run
        self._regrid_soon()

    def _update_task(self, info: runs.TaskRunInfo) -> None:
        """Take a task run's newer state; listeners hear of it at once, the grid follows."""
        before = self.tasks.get(info.id)
        if before is not None:
            if before.state_time and info.state_time and info.state_time < before.state_time:
                return  # an older state arriving late
            info = info.model_copy(
                update={
                    "tags": info.tags or before.tags,
                    "created": info.created or before.created,
                    "start_time": info.start_time or before.start_time,
                }
            )
            if before == info:
                return
        self.tasks[info.id] = info
        self._emit("task", task=info, before=before)
        self._regrid_soon()

    def _regrid_soon(self) -> None:
        """Rebuild the grid once for a burst of changes (after :data:`GRID_DELAY`)."""
        if not self._grid_pending:
            self._grid_pending = True
            asyncio.get_running_loop().call_later(GRID_DELAY, self._flush_grid)

    def _flush_grid(self) -> None:
        self._grid_pending = False
        self._regrid()
        self._emit("grid")

    async def _apply(self, event: Any) -> None:
        """One event: a task run of the followed run, or a flow run shown or wanted."""
        resource_id = event.resource.id
        if resource_id.startswith("prefect.task-run."):
            flow_run = next(
                (r.id for r in event.related if r.id.startswith("prefect.flow-run.")), None
            )
            if self.run is not None and flow_run == f"prefect.flow-run.{self.run.id}":
                info = runs.task_info_from_event(event)
                if info is not None:
                    self._update_task(info)
            return
        flow_run_id = resource_id.removeprefix("prefect.flow-run.")
        name = event.resource.get("prefect.resource.name")
        if self._wanted_name and name == self._wanted_name:
            self._wanted_name = None
            await self.follow(flow_run_id)
            return
        if self.run is not None and flow_run_id == self.run.id:
            # the event's state, not a read: the server sends it as the state is recorded
            run = runs.with_event_state(self.run, event)
            if run != self.run:
                self._set_run(run)
                self._emit("run")
                if run.finished:
                    await self._read_new_logs()
                    await self._read_run(run.id)  # task states that went unreported
        if any(r.id == flow_run_id for r in self.runs):
            self.runs = [
                runs.with_event_state(r, event) if r.id == flow_run_id else r for r in self.runs
            ]
            self._emit("runs")
        elif self.offset == 0 and self.runs:  # a new run: read the first page again
            self.runs, self.total = await runs.list_flow_runs(
                self.where, self.page_size, self.offset
            )
            self._emit("runs")

    async def _read_new_logs(self) -> None:
        if self.run is None:
            return
        after = self.logs[-1].timestamp if self.logs else None
        lines = await runs.read_logs(self.run.id, after=after)
        if lines:
            self.logs.extend(lines)
            del self.logs[:-5000]
            self._emit("logs")
