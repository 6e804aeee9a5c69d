"""Cancellation that reaches the tools: a cancelled flow run stops what its tasks started.

Cancelling a run (Ctrl-C, the workbench, the Prefect UI) ends or marks its flow process,
but tasks already on Dask workers run on in worker threads, and so would their tools.
Every flint task therefore runs its core function under
:func:`flint.external.stopping_when` with :func:`flow_run_stopped`: while a tool runs, the
worker asks the Prefect API for the flow run's state (at most every
:data:`POLL_INTERVAL_S` per flow run and worker process, whatever the number of tools) and
kills the tool's process group once the run is cancelling or over (Cancelled, Crashed,
Failed). An unreachable API never stops a tool.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from flint.errors import FlintError

logger = logging.getLogger(__name__)

POLL_INTERVAL_S = 2.0
STOP_STATES = frozenset({"CANCELLING", "CANCELLED", "CRASHED", "FAILED"})
_checked: dict[str, tuple[float, bool]] = {}
_lock = threading.Lock()


class TaskCancelled(FlintError, RuntimeError):
    """A task did not start: its flow run had been cancelled or had ended."""


def _state_type(flow_run_id: str) -> str:
    from prefect import get_client

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(flow_run_id)
    return run.state.type.value if run.state is not None else ""


def flow_run_stopped(flow_run_id: str, read_state: Callable[[str], str] = _state_type) -> bool:
    """Whether flow run ``flow_run_id`` was cancelled or ended (cached for a poll interval)."""
    now = time.monotonic()
    with _lock:
        checked = _checked.get(flow_run_id)
        if checked is not None and (checked[1] or now - checked[0] < POLL_INTERVAL_S):
            return checked[1]
        _checked[flow_run_id] = (now, False)  # one caller asks; the others use the last answer
    stopped = read_state(flow_run_id) in STOP_STATES
    with _lock:
        _checked[flow_run_id] = (time.monotonic(), stopped)
    if stopped:
        logger.warning("Flow run %s was cancelled or ended: stopping its tools", flow_run_id)
    return stopped


def current_flow_run_id() -> str | None:
    """The flow run of the task running in this thread, if any."""
    from prefect.context import TaskRunContext

    context = TaskRunContext.get()
    if context is None or context.task_run.flow_run_id is None:
        return None
    return str(context.task_run.flow_run_id)


def stop_check() -> Callable[[], bool]:
    """A check for :func:`flint.external.stopping_when`: the current flow run was stopped."""
    flow_run_id = current_flow_run_id()
    if flow_run_id is None:
        return lambda: False
    return lambda: flow_run_stopped(flow_run_id)
