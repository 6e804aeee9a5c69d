"""The cluster manager: one Dask cluster from a config, its mode, jobs and a test job (no UI).

A cluster runs either at a fixed size (:meth:`ClusterManager.scale`) or adaptively between
limits (:meth:`ClusterManager.adapt`); one turns the other off, and :class:`ClusterStatus`
says which is active. Job-queue clusters report their batch jobs (``squeue``, through
:func:`flint.external.run_tool`) so pending and running jobs can be told apart.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from flint.errors import FlintError
from flint.external import run_tool
from flint.prefect.workbench._queue import SQUEUE_TIMEOUT, Job, squeue_jobs

logger = logging.getLogger(__name__)
DASHBOARD_PLOTS = ("individual-task-stream", "individual-progress", "individual-workers-memory")


class ClusterStatus(BaseModel):
    """What the cluster panel shows (JSON-ready)."""

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
    mode: Literal["fixed", "adaptive"] | None = None
    size: int | None = None
    """The requested number of workers in fixed mode."""
    adapt_range: tuple[int, int] | None = None
    """(minimum, maximum) workers in adaptive mode."""
    jobs: tuple[Job, ...] | None = None
    """Batch jobs (job-queue clusters only)."""
    problems: tuple[str, ...] = ()

    @property
    def jobs_pending(self) -> int | None:
        return None if self.jobs is None else sum(j.state == "PENDING" for j in self.jobs)

    @property
    def jobs_running(self) -> int | None:
        return None if self.jobs is None else sum(j.state == "RUNNING" for j in self.jobs)

    def describe_mode(self) -> str:
        """``fixed at 2 workers`` or ``adaptive, 0-4 workers`` (empty when nothing runs)."""
        if self.mode == "fixed":
            return f"fixed at {self.size} worker{'s' if self.size != 1 else ''}"
        if self.mode == "adaptive" and self.adapt_range:
            return f"adaptive, {self.adapt_range[0]}-{self.adapt_range[1]} workers"
        return ""


class TestReport(BaseModel):
    """The outcome of :meth:`ClusterManager.test`: did a worker of one tiny job connect?"""

    model_config = ConfigDict(frozen=True)

    ok: bool
    message: str
    seconds: float
    job_id: str | None = None
    host: str | None = None
    """Where the test worker ran (when it connected)."""
    log_tail: str = ""
    """The end of the job's error output, when it failed."""


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


def _cluster_jobs(cluster: Any) -> list[str]:
    return [
        str(job.job_id)
        for job in getattr(cluster, "workers", {}).values()
        if getattr(job, "job_id", None)
    ]


class ClusterManager:
    """Owns at most one cluster made from a :class:`~flint.prefect.cluster.ClusterConfig`."""

    def __init__(self) -> None:
        self.config: Any = None
        self.cluster: Any = None
        self.mode: Literal["fixed", "adaptive"] | None = None
        self.size: int | None = None
        self.adapt_range: tuple[int, int] | None = None
        self._jobs_seen: set[str] = set()

    # --- configuration --------------------------------------------------------------
    def load(self, source: str) -> str:
        """Load a named config or YAML path; return its resolved settings (and job script)."""
        from flint.prefect.cluster import describe, load_cluster_config

        config = load_cluster_config(source)
        self.config = config
        return describe(config)

    @property
    def job_script(self) -> str | None:
        """The batch script of the loaded job-queue config (``None`` for others)."""
        from flint.prefect.cluster import job_script

        return None if self.config is None else job_script(self.config)

    def _need_config(self) -> Any:
        if self.config is None:
            raise FlintError("load a cluster config first")
        return self.config

    # --- the cluster ----------------------------------------------------------------
    def start(self) -> ClusterStatus:
        """Start the loaded config's cluster (the Prefect server is ensured first)."""
        from flint.prefect.cluster import create_cluster

        config = self._need_config()
        if self.cluster is not None:
            raise FlintError("a cluster is already running; stop it first")
        self.cluster = create_cluster(config)
        self._jobs_seen = set()
        if config.adapt_kwargs is not None:
            self.mode, self.size = "adaptive", None
            self.adapt_range = (config.adapt_kwargs.minimum, config.adapt_kwargs.maximum)
        else:
            size = config.scale if config.scale is not None else len(self.cluster.workers)
            self.mode, self.size, self.adapt_range = "fixed", size, None
        return self.status()

    def _require(self) -> Any:
        if self.cluster is None:
            raise FlintError("no cluster is running; start one first")
        return self.cluster

    def scale(self, workers: int) -> None:
        """A fixed size: adaptive scaling is turned off first (else it undoes the scale)."""
        cluster = self._require()
        if workers < 0:
            raise FlintError(f"cannot scale to {workers} workers")
        adaptive = getattr(cluster, "_adaptive", None)
        if adaptive is not None:
            adaptive.stop()
            cluster._adaptive = None
        cluster.scale(int(workers))
        self.mode, self.size, self.adapt_range = "fixed", int(workers), None

    def adapt(self, minimum: int, maximum: int) -> None:
        """Adaptive scaling between ``minimum`` and ``maximum`` workers (the config's
        interval and wait count are kept)."""
        cluster = self._require()
        if minimum > maximum:
            raise FlintError(f"adapt minimum ({minimum}) exceeds maximum ({maximum})")
        extra: dict[str, Any] = {}
        if self.config is not None and self.config.adapt_kwargs is not None:
            extra = self.config.adapt_kwargs.model_dump(
                exclude_none=True, exclude={"minimum", "maximum"}
            )
        cluster.adapt(minimum=int(minimum), maximum=int(maximum), **extra)
        self.mode, self.size, self.adapt_range = "adaptive", None, (int(minimum), int(maximum))

    def stop(self) -> list[str]:
        """Close the cluster; batch jobs it leaves in the queue are cancelled. Returns the
        ids of jobs that had to be cancelled here (normally none)."""
        cluster, self.cluster = self.cluster, None
        self.mode = self.size = self.adapt_range = None
        if cluster is None:
            return []
        jobqueue = self.config is not None and self.config.is_jobqueue
        self._jobs_seen.update(_cluster_jobs(cluster))
        cluster.close()
        if not jobqueue or not self._jobs_seen:
            return []
        left = list(squeue_jobs(sorted(self._jobs_seen)))
        if left:
            logger.warning("Cancelling jobs left after closing the cluster: %s", left)
            run_tool(["scancel", *left], timeout=SQUEUE_TIMEOUT, log_level=logging.DEBUG)
        return left

    def status(self) -> ClusterStatus:
        """Workers, threads, memory, dashboard link, mode and (job queues) the batch jobs."""
        cluster = self.cluster
        if cluster is None:
            return ClusterStatus()
        info = getattr(cluster, "scheduler_info", None) or {}
        workers = info.get("workers", {})
        port = dashboard_port(cluster)
        problems: list[str] = []
        jobs = None
        if self.config is not None and self.config.is_jobqueue:
            current = _cluster_jobs(cluster)
            self._jobs_seen.update(current)
            try:
                listed = squeue_jobs(current)
                jobs = tuple(listed.get(j, Job(id=j, state="GONE")) for j in current)
            except (FlintError, OSError) as error:
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
            mode=self.mode,
            size=self.size,
            adapt_range=self.adapt_range,
            jobs=jobs,
            problems=tuple(problems),
        )

    # --- test job ---------------------------------------------------------------------
    def test(self, timeout: float = 120.0) -> TestReport:
        """Submit one tiny job (one worker) of the loaded config on a scheduler of its own,
        and report whether its worker connects and runs a task, or why not."""
        import asyncio

        from flint.prefect.workbench._probe import probe_cluster

        config = self._need_config()
        return asyncio.run(probe_cluster(config, timeout))
