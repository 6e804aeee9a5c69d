"""A UI-less manager of one Dask cluster: start, scale, adapt, stop, JSON-ready status.

(Belongs in ``flint.prefect.cluster`` once that package takes it; kept free of widgets.)
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from flint.errors import FlintError

logger = logging.getLogger(__name__)
DASHBOARD_PLOTS = ("individual-task-stream", "individual-progress", "individual-workers-memory")


class ClusterStatus(BaseModel):
    """What the cluster panel shows."""

    model_config = ConfigDict(frozen=True)

    running: bool = False
    cluster_class: str = ""
    scheduler_address: str | None = None
    workers: int = 0
    threads: int = 0
    memory_bytes: int = 0
    memory_used_bytes: int = 0
    dashboard_port: int | None = None
    dashboard_url: str | None = None
    """The full dashboard through jupyter-server-proxy."""
    jobs_pending: int | None = None
    """Batch jobs waiting in the queue (job-queue clusters with ``squeue`` only)."""
    jobs_running: int | None = None
    problems: tuple[str, ...] = ()


def proxy_prefix() -> str:
    """The Jupyter server's base path (``JUPYTERHUB_SERVICE_PREFIX``, default ``/``)."""
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/")
    return prefix if prefix.endswith("/") else prefix + "/"


def proxy_url(port: int, page: str = "status") -> str:
    """A dashboard page through jupyter-server-proxy, reachable wherever the notebook is."""
    return f"{proxy_prefix()}proxy/{port}/{page}"


def dashboard_port(cluster: Any) -> int | None:
    """The port of the cluster's dashboard, from the scheduler's services or its link."""
    port = (getattr(cluster, "scheduler_info", None) or {}).get("services", {}).get("dashboard")
    if port is None and getattr(cluster, "dashboard_link", None):
        port = urlsplit(cluster.dashboard_link).port
    return int(port) if port else None


def squeue_counts(job_ids: list[str], timeout: float = 10.0) -> tuple[int, int]:
    """(pending, running) among ``job_ids`` according to ``squeue``; raises FlintError."""
    if not job_ids:
        return 0, 0
    squeue = shutil.which("squeue")
    if squeue is None:
        raise FlintError("squeue not found: cannot show SLURM job states")
    argv = [squeue, "--noheader", "--format=%i %T", f"--jobs={','.join(job_ids)}"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise FlintError(f"squeue exited with {done.returncode}: {done.stderr.strip()[-300:]}")
    states = [line.split()[-1] for line in done.stdout.splitlines() if line.strip()]
    return states.count("PENDING"), states.count("RUNNING")


class ClusterManager:
    """Owns at most one cluster made from a :class:`~flint.prefect.cluster.ClusterConfig`."""

    def __init__(self) -> None:
        self.config: Any = None
        self.cluster: Any = None

    def load(self, source: str) -> str:
        """Load a named config or YAML path; return its resolved settings as text."""
        from flint.prefect.cluster import describe, load_cluster_config

        self.config = load_cluster_config(source)
        return describe(self.config)

    def start(self) -> ClusterStatus:
        """Start the loaded config's cluster (the Prefect server is ensured first)."""
        from flint.prefect.cluster import create_cluster

        if self.config is None:
            raise FlintError("load a cluster config first")
        if self.cluster is not None:
            raise FlintError("a cluster is already running; stop it first")
        self.cluster = create_cluster(self.config)
        return self.status()

    def _require(self) -> Any:
        if self.cluster is None:
            raise FlintError("no cluster is running; start one first")
        return self.cluster

    def scale(self, workers: int) -> None:
        self._require().scale(int(workers))

    def adapt(self, minimum: int, maximum: int) -> None:
        if minimum > maximum:
            raise FlintError(f"adapt minimum ({minimum}) exceeds maximum ({maximum})")
        self._require().adapt(minimum=int(minimum), maximum=int(maximum))

    def stop(self) -> None:
        cluster, self.cluster = self.cluster, None
        if cluster is not None:
            cluster.close()

    def status(self) -> ClusterStatus:
        """Workers, threads, memory, dashboard link and (job queues) pending/running jobs."""
        cluster = self.cluster
        if cluster is None:
            return ClusterStatus()
        info = getattr(cluster, "scheduler_info", None) or {}
        workers = info.get("workers", {})
        port = dashboard_port(cluster)
        problems: list[str] = []
        pending = running = None
        jobs = [getattr(job, "job_id", None) for job in getattr(cluster, "workers", {}).values()]
        if self.config is not None and self.config.is_jobqueue:
            try:
                pending, running = squeue_counts([j for j in jobs if j])
            except (FlintError, OSError, subprocess.TimeoutExpired) as error:
                problems.append(str(error))
        return ClusterStatus(
            running=True,
            cluster_class=type(cluster).__name__,
            scheduler_address=getattr(cluster, "scheduler_address", None),
            workers=len(workers),
            threads=sum(int(w.get("nthreads", 0)) for w in workers.values()),
            memory_bytes=sum(int(w.get("memory_limit") or 0) for w in workers.values()),
            memory_used_bytes=sum(
                int(w.get("metrics", {}).get("memory", 0)) for w in workers.values()
            ),
            dashboard_port=port,
            dashboard_url=proxy_url(port) if port else None,
            jobs_pending=pending,
            jobs_running=running,
            problems=tuple(problems),
        )
