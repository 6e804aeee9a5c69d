"""Dask worker preload: send Prefect's buffered log lines before a worker closes.

Workers retired by adapt (or stopped by the batch system's SIGTERM) would otherwise drop the
log lines of their last tasks, which Prefect sends in the background every few seconds.
Enabled through ``distributed.worker.preload`` by :func:`flint.prefect.cluster.create_cluster`.
"""

from __future__ import annotations

import inspect
import logging

logger = logging.getLogger(__name__)


def dask_setup(worker) -> None:
    """Nothing to set up: Prefect configures itself when the first task arrives."""


async def dask_teardown(worker) -> None:
    """Stop the tools this worker still runs, then flush Prefect's API log queue (at most 5 s).

    Distributed awaits this on the worker's event loop, where Prefect's ``drain_all``
    returns an awaitable instead of blocking.
    """
    from flint.external import stop_all_tools

    stopped = stop_all_tools()
    if stopped:
        logger.warning("Worker closing: stopped %d running tool(s)", stopped)
    try:
        from prefect.logging.handlers import APILogWorker

        drained = APILogWorker.drain_all(timeout=5)
        if inspect.isawaitable(drained):
            await drained
    except Exception:  # the worker is closing: never block or fail that
        logger.debug("could not drain Prefect logs", exc_info=True)
