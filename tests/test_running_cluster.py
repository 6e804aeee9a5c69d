"""Several flows share one running cluster (``running_cluster`` + ``run_flow``), as ``flint demo``.

A real LocalCluster and the session's Prefect server: each flow's task reports the scheduler
of the Dask worker it ran on, and the cluster's workers are the same before and after.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import signal
import sys
import time
from pathlib import Path

import pytest
from distributed import Client

from flint.prefect.cluster import create_cluster, load_cluster_config, running_cluster
from flint.prefect.cluster.factory import TASK_MODULE
from flint.prefect.cluster.smoke import cluster_smoke_flow
from flint.prefect.running import run_flow

pytestmark = pytest.mark.slow

WHERE_MODULE = """
from prefect import flow, task


@task
def where() -> str:
    from distributed import get_worker

    worker = get_worker()
    return f"{worker.scheduler.address} {worker.address}"


@flow(name="where-shared")
def where_flow() -> str:
    return where.submit().result()
"""


def _tasks_imported() -> bool:
    return TASK_MODULE in sys.modules


def test_flows_share_one_running_cluster(prefect_env, tmp_path: Path, monkeypatch):
    (tmp_path / "where_shared.py").write_text(WHERE_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # the worker processes import it too
    where_flow = importlib.import_module("where_shared").where_flow
    config = load_cluster_config("local").with_options(
        cluster_kwargs={"n_workers": 1, "threads_per_worker": 1, "processes": True}
    )
    with running_cluster(config) as address:
        first = run_flow(where_flow, scheduler_address=address)
        second = run_flow(where_flow, scheduler_address=address)
        # the workers were warmed before the first flow: flint's tasks are imported
        with Client(address) as client:
            assert all(client.run(_tasks_imported).values())
    scheduler, _worker = first.split()
    assert scheduler == address
    assert second == first  # the same worker process: the cluster was not restarted


async def _smoke_lines(flow_run_id) -> int:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    async with get_client() as client:
        logs = await client.read_logs(
            LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])), limit=200
        )
    return sum(log.name == "flint.prefect.cluster.smoke" for log in logs)


def test_sigterm_to_a_worker_process_sends_its_prefect_logs_first(
    prefect_env, real_ms_readonly, monkeypatch, tmp_path
):
    """scancel and a job's walltime SIGTERM every process of a job: the worker's last task's
    log lines, still in Prefect's batch, reach the server (flint's worker preload)."""
    # far longer than the test waits: only the closing worker's flush can send the line.
    # Task runs carry the flow's settings to the workers: this process must see it too
    from prefect.context import refresh_global_settings_context
    from prefect.logging.handlers import APILogWorker
    from prefect_dask import DaskTaskRunner

    monkeypatch.setenv("PREFECT_LOGGING_TO_API_BATCH_INTERVAL", "300")
    refresh_global_settings_context()
    config = load_cluster_config("local").with_options(
        cluster_kwargs={"n_workers": 1, "threads_per_worker": 1, "processes": True},
    )
    cluster = create_cluster(config)
    try:
        flow = cluster_smoke_flow.with_options(
            task_runner=DaskTaskRunner(address=cluster.scheduler_address)
        )
        # a record_dir of its own: the tasks' inputs (their cache key) are this test's only,
        # so they run here and their results are not reused by other tests' smoke flows
        state = flow(str(real_ms_readonly), n_tasks=2, record_dir=str(tmp_path), return_state=True)
        assert state.is_completed(), state
        run_id = state.state_details.flow_run_id
        with Client(cluster.scheduler_address) as client:
            (pid,) = client.run(os.getpid).values()
        assert asyncio.run(_smoke_lines(run_id)) == 0  # still queued in the worker
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while (lines := asyncio.run(_smoke_lines(run_id))) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert lines == 2
    finally:
        cluster.close()
        # send this process's queued lines too; its next logs use the usual interval
        APILogWorker.drain_all(timeout=5)
