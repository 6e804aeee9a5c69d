"""One cluster config drives both flows (DaskTaskRunner) and interactive clusters."""

from __future__ import annotations

import importlib
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import yaml

from flint.prefect.cluster.config import ClusterConfig, resolve_cluster_class
from flint.prefect.cluster.jobqueue import render_job_script, with_default_lifetime
from flint.prefect.cluster.security import remove_with, secure

if TYPE_CHECKING:
    from distributed.deploy import Cluster
    from prefect.task_runners import TaskRunner
    from prefect_dask import DaskTaskRunner

logger = logging.getLogger(__name__)

CLUSTER_ADDRESS_ENV = "FLINT_DASK_ADDRESS"
"""Scheduler address of a running Dask cluster that flows started in this process use."""


def worker_task_cores(config: ClusterConfig) -> int | None:
    """Cores each task of one of ``config``'s workers may give its tools (:mod:`flint.cores`):
    a job-queue job's ``job_cpu`` (default ``cores``) shared by its ``cores`` Dask threads;
    a LocalCluster's share of this machine's cores per worker thread; None for other classes
    (their tools use every core they see)."""
    from distributed import LocalCluster

    from flint.cores import available_cores, share

    cls = resolve_cluster_class(config.cluster_class)
    kwargs = config.cluster_kwargs
    if config.is_jobqueue:
        import dask

        threads = kwargs.get("cores") or dask.config.get(
            f"jobqueue.{cls.job_cls.config_name}.cores", None
        )
        if not threads:
            return None
        return share(int(kwargs.get("job_cpu") or threads), int(threads))
    if not issubclass(cls, LocalCluster):
        return None
    cpus = available_cores()
    workers, threads = local_workers_threads(kwargs, cpus)
    return share(cpus // workers, threads)


def local_workers_threads(kwargs: dict[str, Any], cpus: int) -> tuple[int, int]:
    """Workers and threads per worker that a LocalCluster given ``kwargs`` starts on
    ``cpus`` cores (distributed's own defaults where ``kwargs`` leave them out)."""
    import math

    workers, threads = kwargs.get("n_workers"), kwargs.get("threads_per_worker")
    processes = kwargs.get("processes", True)
    if workers is None and threads is None:
        from distributed.deploy.utils import nprocesses_nthreads

        workers, threads = nprocesses_nthreads(cpus) if processes else (1, cpus)
    elif workers is None:
        workers = max(1, cpus // threads) if processes else 1
    elif threads is None:
        threads = max(1, math.ceil(cpus / workers))
    return max(1, int(workers)), int(threads)


def _with_worker_env(config: ClusterConfig, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` exporting FLINT_TASK_CORES and FLINT_TOOL_SCRATCH to every worker (a job's
    prologue, a local worker's environment), unless the config sets them already."""
    from flint.cores import TASK_CORES_ENV
    from flint.scratch import TOOL_SCRATCH_ENV

    cores = worker_task_cores(config)
    exports = {TASK_CORES_ENV: None if cores is None else str(cores)}
    exports[TOOL_SCRATCH_ENV] = config.tool_scratch
    exports = {name: value for name, value in exports.items() if value is not None}
    if not exports:
        return kwargs
    if config.is_jobqueue:
        prologue = list(kwargs.get("job_script_prologue") or [])
        for name, value in exports.items():
            if not any(name in line for line in prologue):
                prologue.append(f"export {name}={value}")
        return {**kwargs, "job_script_prologue": prologue}
    env = dict(kwargs.get("env") or {})
    for name, value in exports.items():
        env.setdefault(name, value)
    if kwargs.get("processes", True) is False:  # workers are threads of this process
        for name in exports:
            os.environ.setdefault(name, env[name])
        return kwargs
    return {**kwargs, "env": env}


def cluster_kwargs(config: ClusterConfig) -> dict[str, Any]:
    """The keywords passed to the cluster class, defaults included (worker lifetime, each
    worker's task cores)."""
    kwargs = _with_worker_env(config, dict(config.cluster_kwargs))
    if isinstance(kwargs.get("silence_logs"), str):  # logging wants "INFO", YAML says "info"
        kwargs["silence_logs"] = kwargs["silence_logs"].upper()
    if config.is_jobqueue:  # the dashboard on loopback, reached through the proxy
        options = dict(kwargs.get("scheduler_options") or {})
        options.setdefault("dashboard_address", "127.0.0.1:0")
        kwargs["scheduler_options"] = options
    if config.is_jobqueue and config.worker_lifetime:
        import dask

        cls = resolve_cluster_class(config.cluster_class)
        default = dask.config.get(f"jobqueue.{cls.job_cls.config_name}.walltime", None)
        kwargs = with_default_lifetime(kwargs, default)
    return kwargs


def job_script(config: ClusterConfig) -> str | None:
    """The batch script of a job-queue cluster (None for others); starts no scheduler."""
    if not config.is_jobqueue:
        return None
    return render_job_script(resolve_cluster_class(config.cluster_class), cluster_kwargs(config))


def describe(config: ClusterConfig) -> str:
    """The resolved settings as YAML, followed by the job script for job-queue clusters."""
    data = {
        "cluster_class": config.cluster_class,
        "cluster_kwargs": cluster_kwargs(config),
        "adapt_kwargs": config.adapt_kwargs.model_dump(exclude_none=True)
        if config.adapt_kwargs
        else None,
        "scale": config.scale,
        "tls": config.tls,
    }
    text = yaml.safe_dump({k: v for k, v in data.items() if v is not None}, sort_keys=False)
    script = job_script(config)
    if script is not None:
        text += "\n# job script (scheduler address filled in at start):\n" + script + "\n"
    return text


PRELOAD = "flint.prefect.cluster.worker_preload"


def _prepare_environment(ensure_server: bool) -> None:
    """Export PREFECT_API_URL (and flint's defaults) before any worker process starts.

    Also adds flint's worker preload (it flushes Prefect's logs when a worker closes), in
    dask's config and in the environment that batch jobs inherit.
    """
    import os

    import dask

    preload = list(dask.config.get("distributed.worker.preload", []))
    if PRELOAD not in preload:
        preload.append(PRELOAD)
        dask.config.set({"distributed.worker.preload": preload})
        os.environ["DASK_DISTRIBUTED__WORKER__PRELOAD"] = str(preload)
    if ensure_server:
        from flint.prefect.server.embedded import ensure_prefect_server

        ensure_prefect_server()


def create_cluster(config: ClusterConfig, *, ensure_server: bool = True) -> Cluster:
    """Start the cluster described by ``config``, adapted or scaled as it says.

    With ``ensure_server`` the Prefect server is made available and PREFECT_API_URL exported
    first, so worker processes (local or batch jobs) inherit it.
    """
    _prepare_environment(ensure_server)
    cls = resolve_cluster_class(config.cluster_class)
    logger.info("Starting %s", config.cluster_class)
    kwargs, credentials = secure(config, cluster_kwargs(config))
    cluster = cls(**kwargs)
    remove_with(cluster, credentials)
    if config.adapt_kwargs is not None:
        cluster.adapt(**config.adapt_kwargs.model_dump(exclude_none=True))
    elif config.scale is not None:
        cluster.scale(config.scale)
    return cluster


@contextmanager
def running_cluster(config: ClusterConfig, *, ensure_server: bool = True) -> Iterator[str]:
    """Start the cluster of ``config`` for several flow runs; yield its scheduler address.

    Flows run with ``run_flow(..., scheduler_address=address)`` share it, so the cluster
    (and Prefect's import in every worker) starts once, not once per flow. The workers that
    are already up import flint's tasks before the address is yielded, so the first flow
    does not wait for that. Closed on exit.
    """
    cluster = create_cluster(config, ensure_server=ensure_server)
    try:
        logger.info("Dask dashboard: %s", cluster.dashboard_link)
        _warm_workers(cluster)
        yield cluster.scheduler_address
    finally:
        cluster.close()


TASK_MODULE = "flint.prefect.tasks"


def _import_task_module() -> None:
    """Run in a worker: import flint's tasks (Prefect, casacore, astropy, scipy, the science)."""
    importlib.import_module(TASK_MODULE)


def _warm_workers(cluster) -> None:
    """Import flint's task module in every running worker, before any task arrives.

    Otherwise each worker imports it (7-10 s on 2 cores) when its first task arrives, which
    showed as 10-11 s of idle time at the start of the first flow (benchmarks/bench_pipeline.py).
    Not done in the background at worker start: a task arriving during that import would
    import Prefect's modules from a second thread, which Python's import locks can report as
    a deadlock.
    """
    from distributed import Client

    started = time.perf_counter()
    with Client(cluster) as client:
        client.run(_import_task_module)
    logger.info("Workers imported flint's tasks in %.1f s", time.perf_counter() - started)


def task_runner(config: ClusterConfig, *, ensure_server: bool = True) -> DaskTaskRunner:
    """A DaskTaskRunner that starts (and closes) the cluster of ``config`` for each flow run."""
    from prefect_dask import DaskTaskRunner

    _prepare_environment(ensure_server)
    adapt = config.adapt_kwargs.model_dump(exclude_none=True) if config.adapt_kwargs else None
    kwargs, credentials = secure(config, cluster_kwargs(config))
    if config.scale is not None and adapt is None:
        kwargs.setdefault("n_workers", config.scale)
    runner = DaskTaskRunner(
        cluster_class=config.cluster_class, cluster_kwargs=kwargs, adapt_kwargs=adapt
    )
    remove_with(runner, credentials)
    return runner


def default_task_runner() -> TaskRunner:
    """The task runner flint's flows are declared with (``run_flow`` replaces it).

    With ``FLINT_DASK_ADDRESS`` set (the workbench sets it for the serve runner it starts
    once a cluster runs), tasks go to that running cluster; otherwise to Prefect's
    thread pool in the flow's own process. Read when a flow module is imported, which
    for a served flow is at the start of each flow-run process.
    """
    address = os.environ.get(CLUSTER_ADDRESS_ENV)
    if address:
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=address)
    from prefect.task_runners import ThreadPoolTaskRunner

    return ThreadPoolTaskRunner()
