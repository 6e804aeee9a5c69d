"""Dask worker preload: import flint's tasks at start; send Prefect's buffered logs at close.

Importing ``flint.prefect.tasks`` (Prefect, casacore, astropy, scipy and the science
modules: 7-10 s on this 2-core machine) otherwise happens when a worker receives its first
task, and showed as 10-11 s of idle time before the first task of the first flow on a new
cluster (benchmarks/bench_pipeline.py). The import runs in a background thread, so workers
register at once; a task that arrives earlier waits on Python's import lock for the rest.
Workers retired by adapt (or stopped by the batch system's SIGTERM) would otherwise drop the
log lines of their last tasks, which Prefect sends in the background every few seconds.
Enabled through ``distributed.worker.preload`` by :func:`flint.prefect.cluster.create_cluster`.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import threading

logger = logging.getLogger(__name__)


TASK_MODULE = "flint.prefect.tasks"


def import_task_module() -> None:
    """Import flint's task module (waits for an import already running in another thread)."""
    try:
        importlib.import_module(TASK_MODULE)
    except Exception:  # a broken import shows up, with its traceback, in the first task
        logger.warning("could not import %s in the worker", TASK_MODULE, exc_info=True)


def dask_setup(worker) -> None:
    """Start importing flint's tasks (Prefect configures itself when the first task arrives)."""
    threading.Thread(target=import_task_module, name="flint-import-tasks", daemon=True).start()


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
