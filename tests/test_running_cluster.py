"""Several flows share one running cluster (``running_cluster`` + ``run_flow``), as ``flint demo``.

A real LocalCluster and the session's Prefect server: each flow's task reports the scheduler
of the Dask worker it ran on, and the cluster's workers are the same before and after.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
from distributed import Client

from flint.prefect.cluster import load_cluster_config, running_cluster
from flint.prefect.cluster.factory import TASK_MODULE
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
