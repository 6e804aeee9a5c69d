"""The batch queue's view of a cluster's jobs (SLURM's squeue and scontrol, run by run_tool)."""

from __future__ import annotations

import logging

from pydantic import BaseModel, ConfigDict

from flint.errors import ToolError
from flint.external import run_tool

SQUEUE_TIMEOUT = 10.0


class Job(BaseModel):
    """One batch job of a job-queue cluster."""

    model_config = ConfigDict(frozen=True)

    id: str
    state: str
    """SLURM's state (PENDING, RUNNING...), ``GONE`` once the queue no longer lists it."""
    reason: str = ""


def squeue_jobs(job_ids: list[str], timeout: float = SQUEUE_TIMEOUT) -> dict[str, Job]:
    """The queue's view of ``job_ids``: id -> Job (jobs no longer listed are left out)."""
    if not job_ids:
        return {}
    argv = ["squeue", "--noheader", "--format=%i|%T|%r", f"--jobs={','.join(job_ids)}"]
    try:
        done = run_tool(argv, timeout=timeout, log_level=logging.DEBUG, capture=True)
    except ToolError as error:
        # squeue refuses ids it has forgotten entirely (all jobs long gone)
        if "Invalid job id" in error.tail:
            return {}
        raise
    jobs = {}
    for line in (done.output or "").splitlines():
        parts = line.strip().split("|")
        if len(parts) == 3:
            jobs[parts[0]] = Job(id=parts[0], state=parts[1], reason=parts[2])
    return jobs


def scontrol_job(job_id: str) -> dict[str, str]:
    """``scontrol show job`` as a dict (finished jobs stay known for SLURM's MinJobAge)."""
    try:
        done = run_tool(
            ["scontrol", "--oneliner", "show", "job", job_id],
            timeout=SQUEUE_TIMEOUT,
            log_level=logging.DEBUG,
            capture=True,
        )
    except ToolError:
        return {}
    fields = {}
    for token in (done.output or "").split():
        key, sep, value = token.partition("=")
        if sep:
            fields[key] = value
    return fields
