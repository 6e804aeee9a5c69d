"""Run a flint flow on the cluster a config describes, with the Prefect server in place."""

from __future__ import annotations

import logging
import time
import uuid
from contextlib import nullcontext
from typing import Any

from prefect import Flow
from prefect.states import State

from flint.errors import FlintError
from flint.prefect.cluster import load_cluster_config, task_runner
from flint.prefect.server.embedded import ensure_prefect_server

logger = logging.getLogger(__name__)


class FlowFailed(FlintError, RuntimeError):
    """A flow run ended in a state other than Completed."""


def run_flow(
    flow: Flow,
    cluster: str = "local",
    scheduler_address: str | None = None,
    progress: bool = False,
    n_beams: int | None = None,
    **parameters: Any,
) -> Any:
    """Run ``flow(**parameters)`` with a DaskTaskRunner for ``cluster``; return its result.

    The Prefect server is made available (and PREFECT_API_URL exported) before the
    cluster starts. With ``scheduler_address`` the tasks go to that running cluster (see
    :func:`flint.prefect.cluster.running_cluster`) instead of one started for this run.
    With ``progress`` the terminal shows one line per task start and finish and a bar per
    stage (of ``n_beams`` beams; see :mod:`flint.prefect.progress`).
    A run that does not complete raises :class:`FlowFailed` with its state.
    """
    api_url = ensure_prefect_server()
    if scheduler_address:
        from prefect_dask import DaskTaskRunner

        runner = DaskTaskRunner(address=scheduler_address)
        where = scheduler_address
    else:
        runner = task_runner(load_cluster_config(cluster), ensure_server=False)
        where = cluster
    logger.info("Running flow %s on %s (Prefect API %s)", flow.name, where, api_url)
    name = f"{flow.name}-{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    if progress:
        from flint.prefect.progress import terminal_progress
        from flint.prefect.submit import ui_url

        following = terminal_progress(name, n_beams)
    else:
        following = nullcontext()
    with following as reporter:
        if reporter is not None:
            reporter.say(f"{flow.name}: flow run {name} on {where}")
        state: State = flow.with_options(task_runner=runner, flow_run_name=name)(
            **parameters, return_state=True
        )
    if reporter is not None:
        run_id = state.state_details.flow_run_id
        reporter.say(
            f"{flow.name}: {state.name} in {time.monotonic() - started:.0f} s "
            f"({ui_url(str(run_id), api_url)})"
        )
    if not state.is_completed():
        raise FlowFailed(f"flow {flow.name} ended {state.name}: {state.message}")
    # _sync: in a Jupyter kernel (a running event loop) result() would return a coroutine
    result = state.result(_sync=True)
    if isinstance(result, list):  # flows return their tasks' final states
        return [item.result(_sync=True) if isinstance(item, State) else item for item in result]
    return result
