"""dask-jobqueue specifics: worker lifetimes below the walltime, and job scripts without a scheduler."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

PLACEHOLDER_SCHEDULER = "tcp://<scheduler-address>:8786"
# JobQueueCluster keywords that configure the scheduler or the cluster object, not the job
CLUSTER_ONLY = {
    "n_workers", "loop", "security", "shared_temp_directory", "silence_logs", "name",
    "asynchronous", "dashboard_address", "host", "scheduler_options", "scheduler_cls",
}  # fmt: skip
_WALLTIME = re.compile(r"^(?:(?P<days>\d+)-)?(?P<rest>\d+(?::\d+){0,2})$")


def walltime_seconds(walltime: str) -> int:
    """Seconds in a SLURM/PBS walltime: ``D-HH:MM:SS``, ``HH:MM:SS``, ``MM:SS``, ``MM``, ``D-HH``."""
    match = _WALLTIME.match(walltime.strip())
    if not match:
        raise ValueError(
            f"cannot read walltime {walltime!r} (expected e.g. 0-24:00:00 or 01:30:00)"
        )
    days = int(match["days"] or 0)
    parts = [int(part) for part in match["rest"].split(":")]
    if match["days"] is not None:  # D-HH, D-HH:MM, D-HH:MM:SS
        parts += [0] * (3 - len(parts))
        hours, minutes, seconds = parts
    elif len(parts) == 3:
        hours, minutes, seconds = parts
    elif len(parts) == 2:
        hours, (minutes, seconds) = 0, parts
    else:
        hours, minutes, seconds = 0, parts[0], 0
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def lifetime_args(walltime: str) -> list[str]:
    """``--lifetime``/``--lifetime-stagger`` retiring workers before the walltime (pure).

    A margin of 10 % of the walltime (between 2 and 20 minutes) is kept; workers are retired
    at walltime - margin ± margin/2, so the adaptive cluster replaces them before the batch
    system kills them mid-task.
    """
    total = walltime_seconds(walltime)
    margin = min(max(total // 10, 120), 1200, total // 2)
    return ["--lifetime", f"{total - margin}s", "--lifetime-stagger", f"{margin // 2}s"]


def with_default_lifetime(
    kwargs: dict[str, Any], walltime_default: str | None = None
) -> dict[str, Any]:
    """``kwargs`` with lifetime arguments added unless a --lifetime is already given."""
    walltime = kwargs.get("walltime") or walltime_default
    extra = list(kwargs.get("worker_extra_args") or [])
    if not walltime or any(arg.startswith("--lifetime") for arg in extra):
        return dict(kwargs)
    return {**kwargs, "worker_extra_args": extra + lifetime_args(walltime)}


def render_job_script(cluster_cls: type, kwargs: dict[str, Any]) -> str:
    """The batch script ``cluster_cls`` would submit, without starting a scheduler.

    Built from the cluster's job class with a placeholder scheduler address, so it works
    where the workers' network interface (ib0) is missing. A log directory that does not exist
    is not created here.
    """
    job_kwargs = {key: value for key, value in kwargs.items() if key not in CLUSTER_ONLY}
    log_directory = job_kwargs.get("log_directory")
    with tempfile.TemporaryDirectory(prefix="flint-jobscript-") as scratch:
        if log_directory and not Path(log_directory).is_dir():
            job_kwargs["log_directory"] = str(Path(scratch) / "logs")
        script = cluster_cls.job_cls(
            PLACEHOLDER_SCHEDULER, name="dummy-name", **job_kwargs
        ).job_script()
        if job_kwargs.get("log_directory") != log_directory:
            script = script.replace(job_kwargs["log_directory"], str(log_directory))
    return script
