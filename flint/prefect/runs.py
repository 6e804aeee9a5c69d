"""Flow runs and their task runs as JSON-ready models: list, grid, logs, cancel, retry.

No UI here: the run follower (:mod:`flint.prefect.workbench.follower`) reads through these
functions, and the workbench draws what it holds.

Task labelling convention
-------------------------
The beams x stages grid is built from task-run **tags** (preferred) or, failing that, from
the task-run **name**. Flows should tag every per-beam task::

    @task(tags=...)                      # or task.with_options(tags=[...])
    with prefect.tags("beam:03", "stage:image", "round:1"):
        image_beam(...)

- ``beam:NN``   the beam number (any integer; shown zero-padded to two digits);
- ``stage:NAME`` the stage, one of :data:`STAGE_ORDER` (others are appended in the order seen);
- ``round:N``   the self-calibration round, for stages that repeat (``image``, ``selfcal``...).

Without tags, a name such as ``image-beam03-round1`` (``-``/``_`` separators) is parsed the
same way; the stage is then the name up to the first separator. Tasks without a beam (a
mosaic, say) go in the :data:`ALL_BEAMS` row.

Retry reruns only unfinished work: it starts a new run of the same deployment with the same
parameters, so tasks whose results are persisted and cached by what they read (flint's
rerun rule, :mod:`flint.prefect.cache`) finish at once as ``Cached``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict

STAGE_ORDER = (
    "calibrator",
    "field",
    "preprocess",
    "select",
    "mask",
    "selfcal",
    "apply",
    "flag",
    "split",
    "solve",
    "repair",
    "outliers",
    "peel",
    "image",
    "refine",
    "noise",
    "keep",
    "convolve",
    "mosaic",
    "find",
    "validate",
    "publish",
    "summary",
)
"""Pipeline order of the stages within a round; unknown stages follow in the order first seen."""
BEFORE_ROUNDS = frozenset(
    {"calibrator", "field", "preprocess", "select", "apply", "flag", "split", "solve", "repair"}
)
"""Stages that, without a round, come before every round (the others come after them)."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ALL_BEAMS = "all"
"""Row of tasks that belong to no single beam."""
logger = logging.getLogger(__name__)

PAGE_SIZE = 200
"""The Prefect API returns at most this many rows per read."""
TERMINAL_STATES = frozenset({"COMPLETED", "FAILED", "CANCELLED", "CRASHED"})
# when one cell holds several task runs, it shows the most pressing state
_PRECEDENCE = (
    "CRASHED",
    "FAILED",
    "RUNNING",
    "CANCELLING",
    "PAUSED",
    "PENDING",
    "SCHEDULED",
    "CANCELLED",
    "COMPLETED",
)
_NAME_BEAM = re.compile(r"(?:^|[-_])beam[-_]?(\d+)(?=$|[-_])", re.IGNORECASE)
_NAME_ROUND = re.compile(r"(?:^|[-_])round[-_]?(\d+)(?=$|[-_])", re.IGNORECASE)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class RunFilter(_Model):
    """What the run list shows: every field narrows the list; ``None`` means any."""

    states: tuple[str, ...] | None = None
    """State types, e.g. ``("RUNNING", "FAILED")``."""
    flow_name: str | None = None
    """Exact flow name."""
    tag: str | None = None
    """A tag every listed run carries."""
    name: str | None = None
    """Exact flow-run name."""


class RunSummary(_Model):
    """One flow run, as a row of the run list."""

    id: str
    name: str
    flow_name: str
    state_type: str
    state_name: str
    tags: tuple[str, ...]
    deployment_id: str | None
    start_time: datetime | None
    end_time: datetime | None
    parameters: dict[str, Any]

    @property
    def finished(self) -> bool:
        return self.state_type in TERMINAL_STATES

    def seconds(self, now: datetime | None = None) -> float | None:
        """Run time: start to end, or to ``now`` while running; None before it started."""
        if self.start_time is None:
            return None
        end = self.end_time or (None if self.finished else (now or datetime.now(UTC)))
        return None if end is None else max(0.0, (end - self.start_time).total_seconds())

    def parameter_summary(self, width: int = 80) -> str:
        """The run's main parameters in one short line: set values, paths by their name."""
        return parameter_summary(self.parameters, width)


def parameter_summary(parameters: dict[str, Any], width: int = 80) -> str:
    """``key=value`` of the parameters that are set; paths shortened to their last part."""
    parts = []
    for key, value in parameters.items():
        if value in (None, "", [], {}):
            continue
        if isinstance(value, str) and "/" in value:
            value = value.rstrip("/").rsplit("/", 1)[-1]
        elif isinstance(value, dict):
            value = "{…}"
        elif isinstance(value, list):
            value = ",".join(str(v) for v in value)
        parts.append(f"{key}={value}")
    text = " ".join(parts)
    return text if len(text) <= width else text[: width - 1] + "…"


class TaskLabel(_Model):
    """Where a task run sits in the grid."""

    beam: str
    stage: str
    round: int | None = None

    @property
    def column(self) -> str:
        return self.stage if self.round is None else f"{self.stage} {self.round}"


class TaskRunInfo(_Model):
    """One task run, as far as the grid and the terminal need it."""

    id: str
    name: str
    tags: tuple[str, ...] = ()
    state_type: str = "PENDING"
    state_name: str = "Pending"
    state_time: datetime | None = None
    """When the current state was entered (orders updates that arrive out of order)."""
    state_message: str = ""
    created: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.state_type in TERMINAL_STATES

    def seconds(self, now: datetime | None = None) -> float | None:
        """Run time: start to end, or to ``now`` while running; None before it started."""
        if self.start_time is None:
            return None
        end = self.end_time or (None if self.finished else now)
        return None if end is None else max(0.0, (end - self.start_time).total_seconds())


class Cell(_Model):
    """The task runs of one beam and stage: the shown state, per-state counts and run time."""

    state: str
    counts: dict[str, int]
    task_run_ids: tuple[str, ...]
    seconds: float | None = None
    """The longest run time of its task runs (so far, for running ones)."""


class RunGrid(_Model):
    """Task states of one flow run: rows are beams, columns are stages."""

    flow_run_id: str
    beams: tuple[str, ...]
    columns: tuple[str, ...]
    cells: dict[str, dict[str, Cell]]
    """``cells[beam][column]``; absent when that beam has no task of that stage."""
    totals: dict[str, int]
    """Number of task runs per state type."""

    def state(self, beam: str, column: str) -> str | None:
        cell = self.cells.get(beam, {}).get(column)
        return None if cell is None else cell.state


class LogLine(_Model):
    """One log line of a flow run or of one of its task runs."""

    timestamp: datetime
    level: int
    name: str
    message: str
    task_run_id: str | None


def parse_task_label(name: str, tags: Iterable[str]) -> TaskLabel:
    """The grid position of a task run from its tags, else from its name (pure)."""
    found: dict[str, str] = {}
    for tag in tags:
        key, sep, value = tag.partition(":")
        if sep and key in ("beam", "stage", "round") and value:
            found.setdefault(key, value)
    if "beam" not in found and (match := _NAME_BEAM.search(name)):
        found["beam"] = match.group(1)
    if "round" not in found and (match := _NAME_ROUND.search(name)):
        found["round"] = match.group(1)
    stage = found.get("stage") or re.split(r"[-_]", name, maxsplit=1)[0] or name
    beam = found.get("beam")
    beam = f"{int(beam):02d}" if beam and beam.isdigit() else (beam or ALL_BEAMS)
    round_ = found.get("round")
    return TaskLabel(
        beam=beam, stage=stage, round=int(round_) if round_ and round_.isdigit() else None
    )


def _column_key(label: TaskLabel, first_seen: dict[str, int]) -> tuple[float, int, int]:
    """Rounds in order; within a round, stages in pipeline order (:data:`STAGE_ORDER`)."""
    rank = STAGE_ORDER.index(label.stage) if label.stage in STAGE_ORDER else len(STAGE_ORDER)
    if label.round is not None:
        round_key: float = label.round
    else:
        round_key = -1 if label.stage in BEFORE_ROUNDS else float("inf")
    return round_key, rank, first_seen[label.stage]


def _as_info(row: TaskRunInfo | tuple[str, str, Iterable[str], str]) -> TaskRunInfo:
    if isinstance(row, TaskRunInfo):
        return row
    run_id, name, tags, state = row
    return TaskRunInfo(id=run_id, name=name, tags=tuple(tags), state_type=state)


def build_grid(
    flow_run_id: str,
    task_runs: Iterable[TaskRunInfo | tuple[str, str, Iterable[str], str]],
    now: datetime | None = None,
) -> RunGrid:
    """The grid of task runs (or ``(task_run_id, name, tags, state_type)`` rows), pure.

    ``now`` dates the run time of running tasks (default: the current time).
    """
    now = now or datetime.now(UTC)
    members: dict[tuple[str, str], list[TaskRunInfo]] = {}
    labels: dict[str, TaskLabel] = {}
    first_seen: dict[str, int] = {}
    totals: dict[str, int] = {}
    for info in map(_as_info, task_runs):
        label = parse_task_label(info.name, info.tags)
        first_seen.setdefault(label.stage, len(first_seen))
        labels.setdefault(label.column, label)
        members.setdefault((label.beam, label.column), []).append(info)
        totals[info.state_type] = totals.get(info.state_type, 0) + 1
    columns = sorted(labels, key=lambda column: _column_key(labels[column], first_seen))
    beams = sorted({beam for beam, _ in members}, key=lambda b: (b == ALL_BEAMS, b.zfill(8)))
    cells: dict[str, dict[str, Cell]] = {beam: {} for beam in beams}
    for (beam, column), infos in members.items():
        counts: dict[str, int] = {}
        for info in infos:
            counts[info.state_type] = counts.get(info.state_type, 0) + 1
        shown = next((s for s in _PRECEDENCE if s in counts), next(iter(counts)))
        times = [t for info in infos if (t := info.seconds(now)) is not None]
        cells[beam][column] = Cell(
            state=shown,
            counts=counts,
            task_run_ids=tuple(info.id for info in infos),
            seconds=max(times) if times else None,
        )
    return RunGrid(
        flow_run_id=flow_run_id,
        beams=tuple(beams),
        columns=tuple(columns),
        cells=cells,
        totals=totals,
    )


def with_event_state(run: RunSummary, event: Any) -> RunSummary:
    """``run`` in the state a ``prefect.flow-run.*`` event reports (its times completed)."""
    resource = event.resource
    state_type = resource.get("prefect.state-type") or run.state_type
    update: dict[str, Any] = {
        "state_type": state_type,
        "state_name": resource.get("prefect.state-name") or state_type.title(),
    }
    if state_type == "RUNNING" and run.start_time is None:
        update["start_time"] = event.occurred
    if state_type in TERMINAL_STATES and run.end_time is None:
        update["end_time"] = event.occurred
    return run.model_copy(update=update)


def task_info(task_run: Any) -> TaskRunInfo:
    """A Prefect ``TaskRun`` as :class:`TaskRunInfo`."""
    state = task_run.state
    return TaskRunInfo(
        id=str(task_run.id),
        name=task_run.name,
        tags=tuple(task_run.tags),
        state_type=state.type.value if state else "PENDING",
        state_name=state.name if state else "Pending",
        state_time=state.timestamp if state else None,
        state_message=(state.message or "") if state else "",
        created=task_run.expected_start_time or task_run.created,
        start_time=task_run.start_time,
        end_time=task_run.end_time,
    )


def task_info_from_event(event: Any) -> TaskRunInfo | None:
    """:class:`TaskRunInfo` from a ``prefect.task-run.*`` event (None for other events)."""
    resource = event.resource
    if not resource.id.startswith("prefect.task-run."):
        return None
    payload = event.payload.get("task_run", {})
    stamp = resource.get("prefect.state-timestamp")

    def when(key: str) -> datetime | None:
        value = payload.get(key)
        return datetime.fromisoformat(value) if value else None

    state_type = resource.get("prefect.state-type") or "PENDING"
    end = when("end_time")
    return TaskRunInfo(
        id=resource.id.removeprefix("prefect.task-run."),
        name=resource.get("prefect.resource.name") or payload.get("name", ""),
        tags=tuple(payload.get("tags", ())),
        state_type=state_type,
        state_name=resource.get("prefect.state-name") or state_type.title(),
        state_time=datetime.fromisoformat(stamp) if stamp else event.occurred,
        state_message=resource.get("prefect.state-message") or "",
        created=when("expected_start_time"),
        start_time=when("start_time"),
        end_time=end if end or state_type not in TERMINAL_STATES else event.occurred,
    )


def _summary(run: Any, flow_names: dict[Any, str]) -> RunSummary:
    state = run.state
    return RunSummary(
        id=str(run.id),
        name=run.name,
        flow_name=flow_names.get(run.flow_id, str(run.flow_id)),
        state_type=state.type.value if state else "UNKNOWN",
        state_name=state.name if state else "Unknown",
        tags=tuple(run.tags),
        deployment_id=str(run.deployment_id) if run.deployment_id else None,
        start_time=run.start_time,
        end_time=run.end_time,
        parameters=dict(run.parameters),
    )


def _flow_run_filters(where: RunFilter) -> dict[str, Any]:
    from prefect.client.schemas import filters as f
    from prefect.client.schemas.objects import StateType

    run_filter = f.FlowRunFilter(
        state=f.FlowRunFilterState(
            type=f.FlowRunFilterStateType(any_=[StateType(s) for s in where.states])
        )
        if where.states
        else None,
        tags=f.FlowRunFilterTags(all_=[where.tag]) if where.tag else None,
        name=f.FlowRunFilterName(any_=[where.name]) if where.name else None,
    )
    flow_filter = (
        f.FlowFilter(name=f.FlowFilterName(any_=[where.flow_name])) if where.flow_name else None
    )
    return {"flow_run_filter": run_filter, "flow_filter": flow_filter}


async def _flow_names(client: Any, flow_ids: set[Any]) -> dict[Any, str]:
    from prefect.client.schemas.filters import FlowFilter, FlowFilterId

    names: dict[Any, str] = {}
    ids = list(flow_ids)
    for start in range(0, len(ids), PAGE_SIZE):
        flows = await client.read_flows(
            flow_filter=FlowFilter(id=FlowFilterId(any_=ids[start : start + PAGE_SIZE])),
            limit=PAGE_SIZE,
        )
        names.update({flow.id: flow.name for flow in flows})
    return names


async def list_flow_runs(
    where: RunFilter | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[RunSummary], int]:
    """One page of flow runs, newest first, and the number of runs matching ``where``."""
    from prefect import get_client
    from prefect.client.schemas.sorting import FlowRunSort

    filters = _flow_run_filters(where or RunFilter())
    async with get_client() as client:
        total = await client.count_flow_runs(**filters)
        runs: list[Any] = []
        while len(runs) < limit:
            want = min(PAGE_SIZE, limit - len(runs))
            page = await client.read_flow_runs(
                **filters,
                sort=FlowRunSort.EXPECTED_START_TIME_DESC,
                limit=want,
                offset=offset + len(runs),
            )
            runs.extend(page)
            if len(page) < want:
                break
        names = await _flow_names(client, {run.flow_id for run in runs})
    return [_summary(run, names) for run in runs], total


async def read_flow_run(flow_run_id: str | UUID) -> RunSummary:
    """One flow run."""
    from prefect import get_client

    async with get_client() as client:
        run = await client.read_flow_run(UUID(str(flow_run_id)))
        names = await _flow_names(client, {run.flow_id})
    return _summary(run, names)


PAGES_AT_ONCE = 3
"""Pages of task runs requested together (a 36-beam run of 15 stages fills three)."""


async def read_task_runs(flow_run_id: str | UUID) -> list[Any]:
    """Every task run of a flow run (Prefect ``TaskRun`` objects), read a few pages at once."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    run_filter = FlowRunFilter(id=FlowRunFilterId(any_=[UUID(str(flow_run_id))]))
    task_runs: list[Any] = []
    async with get_client() as client:
        while True:
            pages = await asyncio.gather(
                *(
                    client.read_task_runs(
                        flow_run_filter=run_filter,
                        sort=TaskRunSort.ID_DESC,
                        limit=PAGE_SIZE,
                        offset=len(task_runs) + index * PAGE_SIZE,
                    )
                    for index in range(PAGES_AT_ONCE)
                )
            )
            for page in pages:
                task_runs.extend(page)
            if len(pages[-1]) < PAGE_SIZE:
                return task_runs


async def read_settled_task_runs(
    flow_run_id: str | UUID, expected: int | None = None, timeout: float = 60.0
) -> list[Any]:
    """Every task run of an ended flow run, once the server shows each in a final state.

    The server records task-run states from events, in batches, so right after a flow run
    ends some of its task runs can still read Pending or Running, or be missing. This reads
    again until all are final (and, given ``expected``, that many exist), or ``timeout``
    seconds pass; it then returns what it read last.
    """
    deadline = time.monotonic() + timeout
    while True:
        task_runs = await read_task_runs(flow_run_id)
        settled = all(t.state and t.state.type.value in TERMINAL_STATES for t in task_runs)
        if settled and (expected is None or len(task_runs) >= expected):
            return task_runs
        if time.monotonic() > deadline:
            logger.warning(
                "Task runs of flow run %s still not final after %.0f s", flow_run_id, timeout
            )
            return task_runs
        await asyncio.sleep(0.5)


ENDED_BY_FORCE = frozenset({"CANCELLED", "CRASHED"})
"""Flow-run states whose process was stopped: its unfinished task runs never report again."""


def grid_of(
    flow_run_id: str, infos: Iterable[TaskRunInfo], run_state: str | None = None
) -> RunGrid:
    """The grid of ``infos`` in creation order (pure).

    ``run_state``: the flow run's state type; when the run was cancelled or crashed, its
    task runs still recorded as running or pending are shown in that state (their process
    was killed, so they will never report another state).
    """
    ordered = sorted(infos, key=lambda t: (t.created or _EPOCH, t.name))
    if run_state in ENDED_BY_FORCE:
        ordered = [
            t if t.finished else t.model_copy(update={"state_type": run_state}) for t in ordered
        ]
    return build_grid(flow_run_id, ordered)


async def read_task_infos(flow_run_id: str | UUID) -> list[TaskRunInfo]:
    """Every task run of a flow run as :class:`TaskRunInfo`."""
    return [task_info(t) for t in await read_task_runs(flow_run_id)]


async def read_run_grid(flow_run_id: str | UUID, run_state: str | None = None) -> RunGrid:
    """The beams x stages grid of one flow run's task states (see :func:`grid_of`)."""
    return grid_of(str(flow_run_id), await read_task_infos(flow_run_id), run_state)


async def read_logs(
    flow_run_id: str | UUID | None,
    after: datetime | None = None,
    limit: int = 1000,
    task_run_id: str | UUID | None = None,
) -> list[LogLine]:
    """Up to ``limit`` log lines of a flow run (and its tasks), or of one task run, oldest
    first, after ``after``."""
    from prefect import get_client
    from prefect.client.schemas.filters import (
        LogFilter,
        LogFilterFlowRunId,
        LogFilterTaskRunId,
        LogFilterTimestamp,
    )
    from prefect.client.schemas.sorting import LogSort

    log_filter = LogFilter(
        flow_run_id=LogFilterFlowRunId(any_=[UUID(str(flow_run_id))]) if flow_run_id else None,
        task_run_id=LogFilterTaskRunId(any_=[UUID(str(task_run_id))]) if task_run_id else None,
        timestamp=LogFilterTimestamp(after_=after) if after else None,
    )
    lines: list[Any] = []
    async with get_client() as client:
        while len(lines) < limit:
            page = await client.read_logs(
                log_filter=log_filter,
                sort=LogSort.TIMESTAMP_ASC,
                limit=min(PAGE_SIZE, limit - len(lines)),
                offset=len(lines),
            )
            lines.extend(page)
            if len(page) < PAGE_SIZE:
                break
    return [
        LogLine(
            timestamp=line.timestamp,
            level=line.level,
            name=line.name,
            message=line.message,
            task_run_id=str(line.task_run_id) if line.task_run_id else None,
        )
        for line in lines
        if after is None or line.timestamp > after
    ]


async def read_task_log_tail(task_run_id: str | UUID, lines: int = 40) -> list[LogLine]:
    """The last ``lines`` log lines of one task run, oldest first."""
    from prefect import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterTaskRunId
    from prefect.client.schemas.sorting import LogSort

    log_filter = LogFilter(task_run_id=LogFilterTaskRunId(any_=[UUID(str(task_run_id))]))
    async with get_client() as client:
        page = await client.read_logs(
            log_filter=log_filter, sort=LogSort.TIMESTAMP_DESC, limit=min(lines, PAGE_SIZE)
        )
    return [
        LogLine(
            timestamp=line.timestamp,
            level=line.level,
            name=line.name,
            message=line.message,
            task_run_id=str(line.task_run_id) if line.task_run_id else None,
        )
        for line in reversed(page)
    ]


async def cancel_flow_run(flow_run_id: str | UUID) -> str:
    """Ask Prefect to cancel a run; return the resulting state type.

    A run that has not started is cancelled at once; a running one goes to ``CANCELLING``
    and its ``serve`` runner stops the process and marks it ``CANCELLED``.
    """
    from prefect import get_client
    from prefect.states import Cancelled, Cancelling

    from flint.errors import FlintError

    async with get_client() as client:
        run = await client.read_flow_run(UUID(str(flow_run_id)))
        kind = run.state.type.value if run.state else "PENDING"
        if kind in TERMINAL_STATES:
            raise FlintError(f"flow run {run.name!r} has already finished ({run.state.name})")
        state = Cancelled() if kind in ("SCHEDULED", "PENDING") else Cancelling()
        result = await client.set_flow_run_state(run.id, state)
        if result.status.value != "ACCEPT":
            raise FlintError(f"Prefect refused to cancel {run.name!r}: {result.details}")
        return result.state.type.value if result.state else state.type.value


async def retry_flow_run(flow_run_id: str | UUID) -> RunSummary:
    """Start a new run of the same deployment with the same parameters and tags.

    Only unfinished work runs again: tasks with persisted, input-cached results return
    their stored results. Raises :class:`FlintError` for a run not started from a deployment.
    """
    from prefect import get_client

    from flint.errors import FlintError

    async with get_client() as client:
        run = await client.read_flow_run(UUID(str(flow_run_id)))
        if run.deployment_id is None:
            raise FlintError(f"flow run {run.name!r} has no deployment, so it cannot be rerun")
        tags = [t for t in run.tags if not t.startswith("retry-of:")] + [f"retry-of:{run.id}"]
        new = await client.create_flow_run_from_deployment(
            run.deployment_id, parameters=dict(run.parameters), tags=tags
        )
        names = await _flow_names(client, {new.flow_id})
    return _summary(new, names)
