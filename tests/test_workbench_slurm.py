"""The workbench's cluster manager on a real single-node SLURM (scripts/slurm): scale and
adapt, stop leaves no job, and the test job reports success and failure with the reason."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import yaml
from fixtures_workbench import wait_for

from flint.prefect.workbench import ClusterManager

pytestmark = pytest.mark.slow


def slurm_yaml(path: Path, logs: Path, maximum: int = 3, **changes) -> Path:
    """A SLURMCluster config for the test SLURM: 1-core, 1 GB jobs, adaptive 0..maximum."""
    kwargs = {
        "cores": 1,
        "processes": 1,
        "memory": "1GB",
        "walltime": "00:10:00",
        "name": "flint-wb",
        "interface": "lo",
        "log_directory": str(logs),
        "job_extra_directives": ["--no-requeue"],
        "scheduler_options": {"dashboard_address": "127.0.0.1:0"},
        "silence_logs": "warning",
        **changes,
    }
    adapt = {"minimum": 0, "maximum": maximum, "interval": "0.5s", "wait_count": 2}
    config = {"cluster_class": "dask_jobqueue.SLURMCluster", "cluster_kwargs": kwargs}
    path.write_text(yaml.safe_dump({**config, "adapt_kwargs": adapt}))
    return path


def squeue() -> list[str]:
    out = subprocess.run(
        ["squeue", "-h", "-o", "%i %T"], capture_output=True, text=True, check=True
    )
    return out.stdout.splitlines()


def test_scale_turns_adapt_off_and_adapt_turns_it_back_on(slurm, prefect_api, tmp_path):
    """The bug of issue 19: with adapt limits in the config, Scale 2 submitted two jobs whose
    workers adapt removed seconds after they connected, while the panel said "scaling to 2"."""
    manager = ClusterManager()
    assert "#SBATCH" in manager.load(str(slurm_yaml(tmp_path / "slurm.yaml", tmp_path / "logs")))
    assert "--interface lo" in manager.job_script and "#SBATCH -t 00:10:00" in manager.job_script
    status = manager.start()
    try:
        assert status.mode == "adaptive" and status.describe_mode() == "adaptive, 0-3 workers"
        manager.scale(2)
        assert manager.status().describe_mode() == "fixed at 2 workers"
        wait_for(lambda: manager.status().workers == 2, 120)
        time.sleep(5)  # adapt (every 0.5 s, 2 idle checks) retires idle workers within ~2 s
        status = manager.status()
        assert status.workers == 2 and status.jobs_running == 2, status
        assert status.mode == "fixed"
        manager.adapt(0, 3)
        assert manager.status().describe_mode() == "adaptive, 0-3 workers"
        wait_for(lambda: manager.status().workers == 0 and not squeue(), 60)
    finally:
        left = manager.stop()
    assert left == [] and squeue() == []


def test_test_job_reports_whether_a_worker_connects_and_why_not(slurm, tmp_path):
    manager = ClusterManager()
    manager.load(str(slurm_yaml(tmp_path / "ok.yaml", tmp_path / "logs")))
    report = manager.test(timeout=120)
    assert report.ok, report
    assert report.job_id and report.host and "ran a task" in report.message
    # a job that dies before its worker starts: its state, exit code and error output
    prologue = ["echo 'no scratch space on this node' >&2", "exit 3"]
    manager.load(
        str(slurm_yaml(tmp_path / "dies.yaml", tmp_path / "logs", job_script_prologue=prologue))
    )
    report = manager.test(timeout=60)
    assert not report.ok and report.job_id
    assert (
        f"job {report.job_id} ended FAILED" in report.message and "exit code 3:0" in report.message
    )
    assert "no scratch space on this node" in report.log_tail
    # a job the batch system refuses outright
    bad = ["--no-requeue", "--partition=nosuch"]
    manager.load(
        str(slurm_yaml(tmp_path / "refused.yaml", tmp_path / "logs", job_extra_directives=bad))
    )
    report = manager.test(timeout=60)
    assert not report.ok and report.job_id is None
    assert "refused" in report.message and "partition" in report.message.lower()
    assert squeue() == []
