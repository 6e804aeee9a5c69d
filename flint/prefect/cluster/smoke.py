"""A small flow that checks a cluster end to end: measurement-set summaries on its workers.

Each task wraps :func:`flint.ms.summarise_ms` and logs through flint's logger, so a run shows
whether workers start, reach the Prefect server, send flint's log lines, and persist results
(a finished task is looked up, not recomputed, when its worker dies).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import INPUTS

from flint.cores import task_cores
from flint.ms import summarise_ms

logger = logging.getLogger(__name__)


@task(cache_policy=INPUTS, persist_result=True)
def summarise(ms: str, index: int, seconds: float = 0.0, record_dir: str | None = None) -> dict:
    """Summarise ``ms`` (task ``index``), hold the worker ``seconds``, note each execution
    (``start PID JOB`` when it starts, ``done PID JOB`` when it finishes)."""
    summary = summarise_ms(ms)
    where = f"{os.getpid()} {os.environ.get('SLURM_JOB_ID', '-')}"
    if record_dir:
        with (Path(record_dir) / f"task-{index}").open("a") as record:
            record.write(f"start {where}\n")
    time.sleep(seconds)
    if record_dir:
        with (Path(record_dir) / f"task-{index}").open("a") as record:
            record.write(f"done {where}\n")
    logger.info("flint smoke task %d: %d rows on %s", index, summary.n_rows, os.uname().nodename)
    return {
        "index": index,
        "rows": summary.n_rows,
        "job": os.environ.get("SLURM_JOB_ID"),
        "task_cores": task_cores(),  # what the tools of a task on this worker get
    }


@flow(name="flint-cluster-smoke")
def cluster_smoke_flow(
    ms: str, n_tasks: int = 4, seconds: float = 0.0, record_dir: str | None = None
):
    """Summarise ``ms`` ``n_tasks`` times in parallel; return the task futures' results."""
    futures = [summarise.submit(ms, index, seconds, record_dir) for index in range(n_tasks)]
    return [future.result() for future in futures]
