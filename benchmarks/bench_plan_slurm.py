"""Check flint plan against a real run: a 4-beam block on the single-node SLURM with 1, 2
and 4 workers; writes benchmarks/results/plan_slurm.json.

Simulates a block of 4 beams of the demo field and its calibrator scan (``--size tiny``: 12
antennas, 36 channels, 10 integrations; ``reduced``: 36 antennas, 72 channels, 30
integrations), starts SLURM (scripts/slurm/start.sh, in a temporary directory on free
ports) and, for each worker count, runs the bandpass and continuum flows on a
``dask_jobqueue.SLURMCluster`` of that many one-core jobs (``scale``), next to what
``flint plan`` predicts for the same cluster config. Per count: predicted and measured wall
(both flows, from the first task to the last), CPU time (the jobs' processes), idle fraction
(1 - CPU time / (workers x cores x wall)) and the time the jobs took to start. On a 2-core
machine 4 one-core workers are oversubscribed (reported as ``oversubscribed``): the plan is
made twice, from the config alone (what ``flint plan`` says) and with the machine's cores as
the workers' ``host_cores`` (the tasks share them; ``predicted`` is that one). Other users'
load slows a run: the machine's load while each run ran is recorded (load average samples,
the cores our jobs and everyone else kept busy).

Per run it also records every task run (stage, start and end from the first flow's start),
the tools' own runs (``FLINT_TOOL_RECORD``), per stage the measured and planned wall time
summed over its tasks, and, with one worker (one task at a time), each stage's CPU time
(the job's processes sampled every half second), next to the plan's. The Prefect server's
and this process's CPU time (the orchestration on the same machine) are recorded too.
The result file keeps the runs it held before under ``earlier_runs``; it is written after
every worker count.

Usage: python benchmarks/bench_plan_slurm.py [--size tiny|reduced] [--workers 1 2 4]
       [--workdir DIR] [--out benchmarks/results/plan_slurm.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
BEAMS = (14, 15, 20, 21)
SIZES = {
    "tiny": {"channel_average": 8, "duration_s": 300.0, "integration_s": 30.0, "n_antennas": 12},
    "reduced": {"channel_average": 4, "duration_s": 300.0, "integration_s": 10.0},
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_slurm(directory: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "FLINT_SLURM_DIR": str(directory),
        "FLINT_SLURM_CTLD_PORT": str(_free_port()),
        "FLINT_SLURM_SLURMD_PORT": str(_free_port()),
    }
    subprocess.run([ROOT / "scripts/slurm/start.sh"], env=env, check=True, capture_output=True)
    os.environ["SLURM_CONF"] = str(directory / "etc" / "slurm.conf")
    return env


def _config(path: Path, workers: int, logs: Path) -> Path:
    path.write_text(yaml.safe_dump({
        "cluster_class": "dask_jobqueue.SLURMCluster",
        "cluster_kwargs": {
            "cores": 1, "processes": 1, "job_cpu": 1, "memory": "6GB",
            "walltime": "01:00:00", "name": "flint-plan", "interface": "lo",
            "log_directory": str(logs), "local_directory": "$TMPDIR",
            "job_extra_directives": ["--no-requeue"],
            "job_script_prologue": ["export TMPDIR=/tmp"],
            "scheduler_options": {"dashboard_address": "127.0.0.1:0"},
            "silence_logs": "warning",
        },
        "scale": workers,
    }))  # fmt: skip
    return path


def _slurm_processes() -> list[psutil.Process]:
    """The Dask workers SLURM started (and their tools)."""
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        if "slurmstepd" in (process.info["name"] or ""):
            try:
                found += process.children(recursive=True)
            except psutil.Error:
                continue
    return found


def _cpu_seconds() -> float:
    """CPU time of the SLURM jobs' processes now: each live process's own and that of the
    children it waited for (tools finished since are in their worker's children's time;
    counting their last sample too, as this did before, counted them twice)."""
    total = 0.0
    for process in _slurm_processes():
        try:
            t = process.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


def _interpolate(samples: list[tuple[float, float]], moment: float) -> float:
    """The CPU total of ``samples`` (time, seconds) at ``moment``."""
    import bisect

    times = [t for t, _ in samples]
    index = bisect.bisect_left(times, moment)
    if index <= 0:
        return samples[0][1]
    if index >= len(samples):
        return samples[-1][1]
    (t0, c0), (t1, c1) = samples[index - 1], samples[index]
    return c0 + (c1 - c0) * (moment - t0) / max(t1 - t0, 1e-9)


def _spread(values: list[float]) -> list[float]:
    return [min(values), sum(values) / len(values), max(values)] if values else []


def _per_task(flow_ids, origin: float, samples, serial: bool, record: Path) -> dict:
    """Task runs, tool runs and per-stage sums of a run (see the module docstring)."""
    from _measure import read_tool_record, task_runs

    tasks = [t for flow_id in flow_ids for t in task_runs(flow_id) if t["start"] and t["end"]]
    tasks.sort(key=lambda t: t["start"])
    stages: dict[str, dict] = {}
    for t in tasks:
        entry = stages.setdefault(t["stage"], {"tasks": 0, "wall_s": 0.0})
        entry["tasks"] += 1
        entry["wall_s"] += t["end"] - t["start"]
        if serial and samples:
            cpu = _interpolate(samples, t["end"]) - _interpolate(samples, t["start"])
            entry["cpu_s"] = entry.get("cpu_s", 0.0) + cpu
    tools = read_tool_record(record)
    for tool in tools:
        inside = [t for t in tasks
                  if t["start"] - 1 <= tool["started"] and tool["ended"] <= t["end"] + 1]  # fmt: skip
        if inside:  # the latest started of the tasks around it
            entry = stages[max(inside, key=lambda t: t["start"])["stage"]]
            entry["tool_cpu_s"] = entry.get("tool_cpu_s", 0.0) + tool["cpu_seconds"]
            entry["tool_s"] = entry.get("tool_s", 0.0) + tool["seconds"]
    return {
        "stages": stages,
        "tasks": [{"name": t["name"], "start_s": round(t["start"] - origin, 3),
                   "end_s": round(t["end"] - origin, 3)} for t in tasks],
        "tools": [{"tool": t["tool"], "start_s": round(t["started"] - origin, 3),
                   "seconds": round(t["seconds"], 3), "cpu_seconds": t["cpu_seconds"]}
                  for t in tools],
    }  # fmt: skip


def _run(workers, config, calibrator, field, outputs, strategy, record: Path) -> dict:
    from _measure import (
        flow_run_times,
        latest_flow_run,
        machine_cpu_seconds,
        process_cpu,
        server_pid,
    )
    from distributed import Client

    from flint.prefect.cluster import load_cluster_config, running_cluster
    from flint.prefect.flows.bandpass import bandpass_flow
    from flint.prefect.flows.continuum import continuum_flow
    from flint.prefect.running import run_flow

    for path in outputs.values():
        shutil.rmtree(path, ignore_errors=True)
    record.unlink(missing_ok=True)
    asked = time.time()
    seen = [0.0]  # the largest total sampled (the jobs' processes only grow theirs)
    samples: list[tuple[float, float]] = []
    loads: list[float] = []
    with running_cluster(load_cluster_config(config)) as address:
        with Client(address) as client:
            client.wait_for_workers(workers, timeout=600)
        started = time.time()
        machine_before, load_before = machine_cpu_seconds(), os.getloadavg()[0]
        server_process = server_pid()
        server_before, me_before = process_cpu(server_process), process_cpu(None)
        stop = False

        def sample() -> None:
            while not stop:
                seen[0] = max(seen[0], _cpu_seconds())
                samples.append((time.time(), seen[0]))
                loads.append(os.getloadavg()[0])
                time.sleep(0.5)

        import threading

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        run_flow(bandpass_flow, scheduler_address=address,
                 calibrator_dir=calibrator, output_dir=outputs["bandpass"])  # fmt: skip
        bandpass_id = latest_flow_run("bandpass")
        bandpass = flow_run_times(bandpass_id)
        run_flow(continuum_flow, scheduler_address=address, science_dir=field,
                 bandpass_dir=outputs["bandpass"], output_dir=outputs["continuum"],
                 strategy=strategy)  # fmt: skip
        continuum_id = latest_flow_run("continuum")
        continuum = flow_run_times(continuum_id)
        stop = True
        sampler.join()
        seen[0] = max(seen[0], _cpu_seconds())
        machine = machine_cpu_seconds() - machine_before
        server = process_cpu(server_process) - server_before
        me = process_cpu(None) - me_before
        ended = time.time()
    wall = continuum[1] - bandpass[0]
    cpu = seen[0]
    try:
        detail = _per_task([bandpass_id, continuum_id], bandpass[0], samples, workers == 1, record)
    except Exception as error:  # the run's totals are kept whatever happens here
        detail = {"error": repr(error)}
    return {
        "workers_start_s": started - asked,
        "wall_s": wall,
        "bandpass_wall_s": bandpass[1] - bandpass[0],
        "continuum_wall_s": continuum[1] - continuum[0],
        "cpu_s": cpu,
        "idle_fraction": max(0.0, 1 - cpu / (workers * wall)),
        "load": {
            "load_average_before": load_before,
            "load_average_after": os.getloadavg()[0],
            "load_average_min_mean_max": _spread(loads),
            "prefect_server_cpu_s": server,
            "benchmark_process_cpu_s": me,
            "our_cores_busy": cpu / max(ended - started, 1e-9),
            "others_cores_busy": max(0.0, (machine - cpu) / max(ended - started, 1e-9)),
        },
        **detail,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/plan_slurm.json")
    parser.add_argument(
        "--append",
        action="store_true",
        help="add to the runs --out holds (else they move to earlier_runs)",
    )
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="flint-bench-plan-"))
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_HOME", str(workdir / "prefect-home"))
    os.environ.setdefault("FLINT_FINGERPRINT_CACHE", str(workdir / "fingerprints"))

    from flint.demo import demo_options, demo_sky, demo_strategy_path
    from flint.prefect.server.embedded import ensure_prefect_server
    from flint.simulation import simulate_calibrator, simulate_field

    options = demo_options(BEAMS, 1).with_options(**SIZES[args.size])
    data = workdir / "data"
    if not (data / "field").exists():
        simulate_calibrator(
            data / "calibrator",
            options.with_options(sbid=50000, duration_s=300.0, phase_rms_deg=0.0),
        )
        simulate_field(data / "field", demo_sky(BEAMS, 2e-3, 1), options)
    (calibrator,) = (data / "calibrator").glob("SB*")
    (field,) = (data / "field").glob("SB*")
    strategy = demo_strategy_path()
    own_server = "PREFECT_API_URL" not in os.environ
    ensure_prefect_server()
    record = workdir / "tools.jsonl"
    os.environ["FLINT_TOOL_RECORD"] = str(record)  # the SLURM jobs inherit the environment
    earlier = _earlier_runs(args.out)
    runs = []
    if args.append and args.out.exists():
        old = json.loads(args.out.read_text())
        earlier, runs = old.get("earlier_runs", []), old.get("runs", [])
    slurm = workdir / "slurm"
    env = _start_slurm(slurm)
    try:
        for workers in args.workers:
            config = _config(workdir / f"cluster-{workers}.yaml", workers, workdir / "logs")
            alone, plan = _plans(field, calibrator, config, strategy)
            when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
            measured = _run(workers, config, calibrator, field,
                            {"bandpass": workdir / "bandpass", "continuum": workdir / "continuum"},
                            strategy, record)  # fmt: skip
            for name, stage in measured.get("stages", {}).items():
                planned = plan.stages.get(name)
                if planned is not None:
                    stage["planned_cpu_s"] = planned.cpu_s
                    stage["planned_wall_s"] = planned.wall_s
            runs.append({
                "workers": workers,
                "measured_at": when,
                "cores_per_worker": 1,
                "oversubscribed": workers > (os.cpu_count() or 1),
                "predicted": _predicted(plan),
                "predicted_from_config_alone": _predicted(alone),
                "measured": measured,
                "wall_ratio": measured["wall_s"] / plan.wall_s,
                "cpu_ratio": measured["cpu_s"] / (plan.busy_core_hours * 3600),
                "idle_fraction": {"measured": measured["idle_fraction"],
                                  "predicted": plan.idle_fraction},
            })  # fmt: skip
            summary = {k: v for k, v in runs[-1].items() if k != "measured"}
            print(json.dumps(summary, indent=1), flush=True)
            _write(args, runs, earlier)
    finally:
        subprocess.run([ROOT / "scripts/slurm/stop.sh", "--purge"], env=env, capture_output=True)
        if own_server:
            from flint.prefect.server.prefect_server import stop_prefect_server
            from flint.prefect.settings import prefect_home

            stop_prefect_server(prefect_home())
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)


def _plans(field, calibrator, config, strategy):
    """The plan from the config alone (``flint plan``) and the one that knows the workers
    share this machine's cores."""
    import dataclasses

    from flint.planning import beam_shapes, load_cost_table, plan_block
    from flint.prefect.cluster import load_cluster_config
    from flint.prefect.plan import cluster_resources
    from flint.strategy import load_strategy

    resources = cluster_resources(load_cluster_config(config))
    shared = dataclasses.replace(resources, host_cores=os.cpu_count())
    beams, calibrators = beam_shapes(field), beam_shapes(calibrator, one_field=True)
    table, chosen = load_cost_table(), load_strategy(strategy)
    return tuple(plan_block(beams, chosen, r, table, calibrators) for r in (resources, shared))


def _predicted(plan) -> dict:
    return {"wall_s": plan.wall_s, "cpu_s": plan.busy_core_hours * 3600,
            "idle_fraction": plan.idle_fraction,
            "peak_rss_gib_per_worker": plan.peak_rss_gib_per_worker}  # fmt: skip


def _earlier_runs(path: Path) -> list[dict]:
    """The runs ``path`` holds now (its earlier ones first), each with when it was measured."""
    if not path.exists():
        return []
    old = json.loads(path.read_text())
    when = {k: old[k] for k in ("measured_at", "code", "cost_table", "cpu_counting") if k in old}
    return old.get("earlier_runs", []) + [{**run, **when} for run in old.get("runs", [])]


def _write(args, runs: list[dict], earlier: list[dict]) -> None:
    from flint.planning import load_cost_table

    report = {
        "benchmark": "plan_slurm",
        "size": args.size,
        "beams": list(BEAMS),
        "cpus": os.cpu_count(),
        "cost_table": "flint/data/costs/stage_costs.json",
        "cost_table_fitted_to": [m["file"] for m in load_cost_table().measured],
        "runs": runs,
        "goal": "measured wall within 20 % of the plan (wall_ratio 0.8-1.2)",
        "earlier_runs": earlier,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
