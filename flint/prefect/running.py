"""Run a flint flow on the cluster a config describes, with the Prefect server in place."""

from __future__ import annotations

import logging
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
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
    name = f"{flow.name}-{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    if progress:
        from flint.prefect.progress import terminal_progress
        from flint.prefect.submit import ui_url

        following = terminal_progress(name, n_beams)
    else:
        following = nullcontext()
    with following as reporter, cancel_on_interrupt():
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


def cancel_flow_runs(run_ids: list[str], message: str) -> list[str]:
    """Mark flow runs Cancelled (forced); return the ids that were.

    Their tasks' tools, on whatever worker, see it within seconds and are stopped
    (:mod:`flint.prefect.cancel`).
    """
    from prefect import get_client
    from prefect.states import Cancelled

    cancelled = []
    with get_client(sync_client=True) as client:
        for run_id in run_ids:
            try:
                client.set_flow_run_state(run_id, Cancelled(message=message), force=True)
                cancelled.append(run_id)
            except Exception as error:  # the API may be away: Ctrl-C must still interrupt
                logger.warning("could not mark flow run %s cancelled: %s", run_id, error)
    return cancelled


CTRL_C = "Cancelled from the command line (Ctrl-C)"


@contextmanager
def cancel_on_interrupt() -> Iterator[None]:
    """Ctrl-C cancels the flow runs this process executes, then interrupts it.

    The runs are marked Cancelled at once, so the tools their tasks started on Dask workers
    are stopped too; once the interrupted flow has unwound (Prefect records an interrupt as
    Crashed) they are marked Cancelled again. A second Ctrl-C interrupts at once.
    """
    from flint.prefect.holding import RUNNING

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    interrupted_runs: list[str] = []

    def interrupted(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGINT, previous)
        interrupted_runs.extend(cancel_flow_runs(list(RUNNING), CTRL_C))
        logger.warning("Interrupted: flow run(s) %s cancelled", ", ".join(interrupted_runs))
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupted)
    try:
        yield
    except KeyboardInterrupt:
        cancel_flow_runs(interrupted_runs, CTRL_C)
        raise
    finally:
        signal.signal(signal.SIGINT, previous)
