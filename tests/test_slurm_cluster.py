"""Prefect flows on a real single-node SLURM through SLURMCluster, including a killed job."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from flint.prefect.cluster import create_cluster, load_cluster_config, task_runner

pytestmark = pytest.mark.slow


def slurm_yaml(path: Path, logs: Path, maximum: int) -> Path:
    config = {
        "cluster_class": "dask_jobqueue.SLURMCluster",
        "cluster_kwargs": {
            "cores": 1,
            "processes": 1,
            "job_cpu": 2,  # a job's cpus-per-task: every task on its worker gives tools 2 cores
            "memory": "2GB",
            "walltime": "00:10:00",
            "name": "flint-test",
            "interface": "lo",
            "log_directory": str(logs),
            "local_directory": "$TMPDIR",
            "job_extra_directives": ["--no-requeue"],
            "job_script_prologue": [
                "export OMP_NUM_THREADS=${SLURM_CPUS_ON_NODE}",
                "export TMPDIR=/tmp",
            ],
            "scheduler_options": {"dashboard_address": "127.0.0.1:0"},
            "silence_logs": "warning",
        },
        "adapt_kwargs": {"minimum": 0, "maximum": maximum, "interval": "0.5s", "wait_count": 2},
    }
    path.write_text(yaml.safe_dump(config))
    return path


def squeue() -> list[str]:
    out = subprocess.run(
        ["squeue", "-h", "-o", "%i %T"], capture_output=True, text=True, check=True
    )
    return out.stdout.split("\n")[:-1]


def wait_for(predicate, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.5)
    return time.monotonic() - started


async def _task_runs(flow_run_id):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async with get_client() as client:
        runs, offset = [], 0
        while page := await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
            offset=offset,
            limit=200,
        ):
            runs += page
            offset += len(page)
        return runs


async def _logs(flow_run_id):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    async with get_client() as client:
        logs, offset = [], 0
        while page := await client.read_logs(
            LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])), offset=offset, limit=200
        ):
            logs += page
            offset += len(page)
        return logs


def test_flow_on_slurm_adapts_up_and_to_zero(slurm, prefect_env, real_ms_readonly, tmp_path):
    """Tasks run in SLURM jobs; adapt grows to 2 workers, shrinks to 0; closing leaves no jobs."""
    from prefect_dask import DaskTaskRunner

    from flint.prefect.cluster.smoke import cluster_smoke_flow

    config = load_cluster_config(slurm_yaml(tmp_path / "slurm.yaml", tmp_path / "logs", 2))
    cluster = create_cluster(config)
    try:
        started = time.monotonic()
        flow = cluster_smoke_flow.with_options(
            task_runner=DaskTaskRunner(address=cluster.scheduler_address)
        )
        state = flow(str(real_ms_readonly), n_tasks=4, seconds=2.0, return_state=True)
        duration = time.monotonic() - started
        assert state.is_completed(), state
        results = state.result()
        jobs = {result["job"] for result in results}
        assert None not in jobs and 1 <= len(jobs) <= 2, jobs
        assert {result["task_cores"] for result in results} == {2}  # the job's cpus-per-task
        print(f"flow on SLURM: {duration:.1f} s, jobs {sorted(jobs)}")
        runs = asyncio.run(_task_runs(state.state_details.flow_run_id))
        assert len(runs) == 4

        def worker_lines():  # flint's lines from the workers arrive in batches
            logs = asyncio.run(_logs(state.state_details.flow_run_id))
            return [log for log in logs if log.name == "flint.prefect.cluster.smoke"]

        try:
            wait_for(lambda: len(worker_lines()) == 4, 90, "flint's log lines from the workers")
        except AssertionError:
            all_logs = asyncio.run(_logs(state.state_details.flow_run_id))
            raise AssertionError(
                f"{len(worker_lines())} smoke lines; loggers seen: {sorted({log.name for log in all_logs})}"
            ) from None
        shrink = wait_for(
            lambda: not cluster.workers and not squeue(), 60, "adapt to scale to zero"
        )
        print(f"scaled to zero {shrink:.1f} s after the flow")
    finally:
        cluster.close()
    assert squeue() == []


@pytest.mark.fault
def test_killed_worker_job_does_not_recompute_finished_tasks(
    slurm, prefect_env, real_ms_readonly, tmp_path
):
    """scancel a worker's job while it runs a task: the flow completes, finished tasks ran
    exactly once."""
    from flint.prefect.cluster.smoke import cluster_smoke_flow

    config = load_cluster_config(slurm_yaml(tmp_path / "slurm.yaml", tmp_path / "logs", 2))
    records = tmp_path / "records"
    records.mkdir()
    n_tasks = 6

    def busy_jobs() -> set[str]:  # jobs running a task that has started and not finished
        lines = [path.read_text().split("\n")[:-1] for path in records.iterdir()]
        return {last.split()[2] for last in (task[-1] for task in lines if task)
                if last.startswith("start")}  # fmt: skip

    def kill_one_job_after_two_tasks():
        wait_for(lambda: len(list(records.iterdir())) >= 3 and busy_jobs(), 120, "a busy job")
        job = sorted(busy_jobs())[0]
        subprocess.run(["scancel", job], check=True)
        return job

    import threading

    killed: list[str] = []
    killer = threading.Thread(target=lambda: killed.append(kill_one_job_after_two_tasks()))
    killer.start()
    started = time.monotonic()
    flow = cluster_smoke_flow.with_options(task_runner=task_runner(config))
    state = flow(
        str(real_ms_readonly),
        n_tasks=n_tasks,
        seconds=4.0,
        record_dir=str(records),
        return_state=True,
    )
    duration = time.monotonic() - started
    killer.join()
    assert state.is_completed(), state
    executions = {
        path.name: [line for line in path.read_text().splitlines() if line.startswith("start")]
        for path in records.iterdir()
    }

    def settled():  # task-run states reach the API a little after the flow run's
        found = asyncio.run(_task_runs(state.state_details.flow_run_id))
        return found if all(run.state.is_completed() for run in found) else None

    wait_for(settled, 30, "every task run to be recorded Completed")
    runs = asyncio.run(_task_runs(state.state_details.flow_run_id))
    print(
        f"flow with killed job {killed}: {duration:.1f} s; executions per task "
        f"{ {name: len(lines) for name, lines in sorted(executions.items())} }; task runs {len(runs)}"
    )
    assert len(executions) == n_tasks
    # a task runs twice only if its own job was killed before it finished
    rerun = [name for name, lines in executions.items() if len(lines) > 1]
    assert all(
        lines[0].split()[2] == killed[0] for name, lines in executions.items() if name in rerun
    )
    assert len(rerun) == 1  # the job was busy: its task was lost and ran again
    assert len(runs) == n_tasks
    assert all(run.state.is_completed() for run in runs)
    assert squeue() == []
