"""Dask worker preload: send Prefect's buffered log lines before a worker closes.

Workers retired by adapt (or stopped by the batch system's SIGTERM) would otherwise drop the
log lines of their last tasks, which Prefect sends in the background every few seconds.
Enabled through ``distributed.worker.preload`` by :func:`flint.prefect.cluster.create_cluster`.

:func:`import_task_module` warms a worker: ``running_cluster`` runs it on every worker before
the first flow. Importing ``flint.prefect.tasks`` (Prefect, casacore, astropy, scipy and the
science modules: 7-10 s on this 2-core machine) otherwise happens when a worker receives its
first task, and showed as 10-11 s of idle time before the first task of the first flow on a
new cluster (benchmarks/bench_pipeline.py). It is not done in the background at worker
start: a task arriving during that import would import Prefect's modules concurrently from
another thread, in another order, which Python's import locks can report as a deadlock.
"""

from __future__ import annotations

import importlib
import inspect
import logging

logger = logging.getLogger(__name__)


TASK_MODULE = "flint.prefect.tasks"


def import_task_module() -> None:
    """Import flint's task module in this worker (run before any task arrives)."""
    try:
        importlib.import_module(TASK_MODULE)
    except Exception:  # a broken import shows up, with its traceback, in the first task
        logger.warning("could not import %s in the worker", TASK_MODULE, exc_info=True)


def dask_setup(worker) -> None:
    """Nothing to set up: Prefect configures itself when the first task arrives."""


async def dask_teardown(worker) -> None:
    """Flush Prefect's API log queue (at most 5 s).

    Distributed awaits this on the worker's event loop, where Prefect's ``drain_all``
    returns an awaitable instead of blocking.
    """
    try:
        from prefect.logging.handlers import APILogWorker

        drained = APILogWorker.drain_all(timeout=5)
        if inspect.isawaitable(drained):
            await drained
    except Exception:  # the worker is closing: never block or fail that
        logger.debug("could not drain Prefect logs", exc_info=True)
