"""Run a flint flow on the cluster a config describes, with the Prefect server in place."""

from __future__ import annotations

import logging
from typing import Any

from prefect import Flow
from prefect.states import State

from flint.errors import FlintError
from flint.prefect.cluster import load_cluster_config, task_runner
from flint.prefect.server.embedded import ensure_prefect_server
from flint.runlock import check_output_dir_free

logger = logging.getLogger(__name__)


class FlowFailed(FlintError, RuntimeError):
    """A flow run ended in a state other than Completed."""


def run_flow(
    flow: Flow, cluster: str = "local", scheduler_address: str | None = None, **parameters: Any
) -> Any:
    """Run ``flow(**parameters)`` with a DaskTaskRunner for ``cluster``; return its result.

    The Prefect server is made available (and PREFECT_API_URL exported) before the
    cluster starts. With ``scheduler_address`` the tasks go to that running cluster (see
    :func:`flint.prefect.cluster.running_cluster`) instead of one started for this run.
    A run that does not complete raises :class:`FlowFailed` with its state; one whose
    ``output_dir`` another run holds raises :class:`flint.runlock.OutputBusyError` at once.
    """
    if "output_dir" in parameters:  # refuse at once, before a flow run or cluster exists
        check_output_dir_free(parameters["output_dir"])
    api_url = ensure_prefect_server()
    if scheduler_address:
        from prefect_dask import DaskTaskRunner

        runner = DaskTaskRunner(address=scheduler_address)
        where = scheduler_address
    else:
        runner = task_runner(load_cluster_config(cluster), ensure_server=False)
        where = cluster
    logger.info("Running flow %s on %s (Prefect API %s)", flow.name, where, api_url)
    state: State = flow.with_options(task_runner=runner)(**parameters, return_state=True)
    if not state.is_completed():
        raise FlowFailed(f"flow {flow.name} ended {state.name}: {state.message}")
    # _sync: in a Jupyter kernel (a running event loop) result() would return a coroutine
    result = state.result(_sync=True)
    if isinstance(result, list):  # flows return their tasks' final states
        return [item.result(_sync=True) if isinstance(item, State) else item for item in result]
    return result
