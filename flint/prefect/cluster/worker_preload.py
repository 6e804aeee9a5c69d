"""Dask worker preload: send Prefect's buffered log lines before a worker closes.

Workers retired by adapt (or stopped by the batch system's SIGTERM) would otherwise drop the
log lines of their last tasks, which Prefect sends in the background every few seconds.
Enabled through ``distributed.worker.preload`` by :func:`flint.prefect.cluster.create_cluster`.

A worker in a process of its own (under a nanny, or a dask-jobqueue job) dies at once on
SIGTERM: dask handles that signal only in the nanny's process. ``scancel`` (how
dask-jobqueue retires a job) and a job's end of walltime signal every process of the job, so
the worker process would die before :func:`dask_teardown` runs. :func:`dask_setup` makes
SIGTERM close the worker instead, which runs the teardown.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import multiprocessing
import signal
import threading

logger = logging.getLogger(__name__)


def dask_setup(worker) -> None:
    """In a worker process of its own, close the worker (and so run the teardown) on SIGTERM.

    A worker inside the user's process (``processes=False``) leaves that process's signals
    alone.
    """
    if multiprocessing.parent_process() is None or threading.current_thread() is not (
        threading.main_thread()
    ):
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return

    closing: set[asyncio.Task] = set()  # the loop keeps only weak references to tasks

    def close_on_sigterm() -> None:
        logger.info("Worker %s received SIGTERM: closing", worker.address)
        task = loop.create_task(worker.close(nanny=False, executor_wait=False, reason="signal-15"))
        closing.add(task)
        task.add_done_callback(closing.discard)

    loop.add_signal_handler(signal.SIGTERM, close_on_sigterm)


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
