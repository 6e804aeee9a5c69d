"""The cluster test: one tiny job on a scheduler of its own; does its worker connect, and why not."""

from __future__ import annotations

import asyncio
import platform
import time
from pathlib import Path
from typing import Any

from flint.prefect.workbench._queue import scontrol_job, squeue_jobs
from flint.prefect.workbench.cluster import TestReport

POLL_SECONDS = 1.0


def _tail(path: str | None, job_id: str, lines: int = 15) -> str:
    """The end of a job's error output (``%j``, ``%J``, ``%x`` patterns resolved)."""
    if not path:
        return ""
    pattern = path.replace("%J", f"{job_id}*").replace("%j", job_id).replace("%x", "*")
    found = sorted(Path(pattern).parent.glob(Path(pattern).name)) if "%" not in pattern else []
    if not found:
        return ""
    return "\n".join(found[0].read_text(errors="replace").splitlines()[-lines:])


async def _connected(cluster: Any, started: float) -> TestReport:
    """A worker connected: run one task on it to be sure it works."""
    from distributed import Client

    async with Client(cluster.scheduler.address, asynchronous=True) as client:
        host = await asyncio.wait_for(client.submit(platform.node, pure=False), 60)
    seconds = time.monotonic() - started
    return TestReport(
        ok=True, message=f"a worker connected and ran a task on {host}", seconds=seconds, host=host
    )


async def _probe_local(cls: type, kwargs: dict[str, Any], timeout: float) -> TestReport:
    started = time.monotonic()
    async with cls(asynchronous=True, **{**kwargs, "n_workers": 1}) as cluster:
        deadline = started + timeout
        while not cluster.scheduler.workers:
            if time.monotonic() > deadline:
                return TestReport(
                    ok=False,
                    message=f"no worker connected within {timeout:.0f} s",
                    seconds=time.monotonic() - started,
                )
            await asyncio.sleep(0.2)
        return await _connected(cluster, started)


async def _probe_job(cls: type, kwargs: dict[str, Any], timeout: float) -> TestReport:
    started = time.monotonic()
    kwargs = {key: value for key, value in kwargs.items() if key != "n_workers"}
    async with cls(asynchronous=True, **kwargs) as cluster:
        spec = cluster.new_spec
        job = spec["cls"](cluster.scheduler.address, name="flint-test", **spec["options"])
        try:
            await job  # submits the batch job: a refusal raises with the scheduler's reason
        except Exception as error:
            return TestReport(
                ok=False,
                message=f"the batch system refused the job: {error}",
                seconds=time.monotonic() - started,
            )
        job_id = str(job.job_id)
        try:
            return await _follow_job(cluster, job_id, started, timeout)
        finally:
            await job.close()


async def _follow_job(cluster: Any, job_id: str, started: float, timeout: float) -> TestReport:
    last = None
    while time.monotonic() - started < timeout:
        if cluster.scheduler.workers:
            report = await _connected(cluster, started)
            return report.model_copy(update={"job_id": job_id})
        last = (await asyncio.to_thread(squeue_jobs, [job_id])).get(job_id)
        if last is None:  # left the queue without a worker connecting
            if cluster.scheduler.workers:
                continue
            info = await asyncio.to_thread(scontrol_job, job_id)
            state = info.get("JobState", "ended")
            exit_code = info.get("ExitCode", "?")
            reason = info.get("Reason", "")
            why = f" ({reason})" if reason and reason != "None" else ""
            return TestReport(
                ok=False,
                message=f"job {job_id} ended {state}{why} with exit code {exit_code} before "
                "its worker connected",
                seconds=time.monotonic() - started,
                job_id=job_id,
                log_tail=_tail(info.get("StdErr"), job_id),
            )
        await asyncio.sleep(POLL_SECONDS)
    seconds = time.monotonic() - started
    if last is not None and last.state == "PENDING":
        message = f"job {job_id} still pending after {timeout:.0f} s (reason: {last.reason})"
    else:
        message = (
            f"job {job_id} runs but its worker did not connect within {timeout:.0f} s: can the "
            f"compute node reach the scheduler at {cluster.scheduler.address}? (interface, firewall)"
        )
    return TestReport(ok=False, message=message, seconds=seconds, job_id=job_id)


async def probe_cluster(config: Any, timeout: float) -> TestReport:
    """Test ``config``: a job-queue config submits one job; others start one local worker."""
    from flint.prefect.cluster.config import resolve_cluster_class
    from flint.prefect.cluster.factory import cluster_kwargs

    cls = resolve_cluster_class(config.cluster_class)
    kwargs = cluster_kwargs(config)
    if config.is_jobqueue:
        return await _probe_job(cls, kwargs, timeout)
    return await _probe_local(cls, kwargs, timeout)
