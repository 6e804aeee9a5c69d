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
machine 4 one-core workers are oversubscribed (reported as ``oversubscribed``), and other
users' load slows the run: the machine's load while each run ran is recorded.

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


def _run(workers, config, calibrator, field, outputs, strategy) -> dict:
    from _measure import flow_run_times, latest_flow_run, machine_cpu_seconds
    from distributed import Client

    from flint.prefect.cluster import load_cluster_config, running_cluster
    from flint.prefect.flows.bandpass import bandpass_flow
    from flint.prefect.flows.continuum import continuum_flow
    from flint.prefect.running import run_flow

    for path in outputs.values():
        shutil.rmtree(path, ignore_errors=True)
    asked = time.time()
    seen = [0.0]  # the largest total sampled (the jobs' processes only grow theirs)
    with running_cluster(load_cluster_config(config)) as address:
        with Client(address) as client:
            client.wait_for_workers(workers, timeout=600)
        started = time.time()
        machine_before, load_before = machine_cpu_seconds(), os.getloadavg()[0]
        stop = False

        def sample() -> None:
            while not stop:
                seen[0] = max(seen[0], _cpu_seconds())
                time.sleep(0.5)

        import threading

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        run_flow(bandpass_flow, scheduler_address=address,
                 calibrator_dir=calibrator, output_dir=outputs["bandpass"])  # fmt: skip
        bandpass = flow_run_times(latest_flow_run("bandpass"))
        run_flow(continuum_flow, scheduler_address=address, science_dir=field,
                 bandpass_dir=outputs["bandpass"], output_dir=outputs["continuum"],
                 strategy=strategy)  # fmt: skip
        continuum = flow_run_times(latest_flow_run("continuum"))
        stop = True
        sampler.join()
        seen[0] = max(seen[0], _cpu_seconds())
        machine = machine_cpu_seconds() - machine_before
        ended = time.time()
    wall = continuum[1] - bandpass[0]
    cpu = seen[0]
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
            "our_cores_busy": cpu / max(ended - started, 1e-9),
            "others_cores_busy": max(0.0, (machine - cpu) / max(ended - started, 1e-9)),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/plan_slurm.json")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="flint-bench-plan-"))
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_HOME", str(workdir / "prefect-home"))
    os.environ.setdefault("FLINT_FINGERPRINT_CACHE", str(workdir / "fingerprints"))

    from flint.demo import demo_options, demo_sky, demo_strategy_path
    from flint.prefect.plan import plan_observation
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
    ensure_prefect_server()
    slurm = workdir / "slurm"
    env = _start_slurm(slurm)
    runs = []
    try:
        for workers in args.workers:
            config = _config(workdir / f"cluster-{workers}.yaml", workers, workdir / "logs")
            plan = plan_observation(field, config, strategy, calibrator)
            measured = _run(workers, config, calibrator, field,
                            {"bandpass": workdir / "bandpass", "continuum": workdir / "continuum"},
                            strategy)  # fmt: skip
            runs.append({
                "workers": workers,
                "cores_per_worker": 1,
                "oversubscribed": workers > (os.cpu_count() or 1),
                "predicted": {"wall_s": plan.wall_s, "cpu_s": plan.busy_core_hours * 3600,
                              "idle_fraction": plan.idle_fraction,
                              "peak_rss_gib_per_worker": plan.peak_rss_gib_per_worker},
                "measured": measured,
                "wall_ratio": measured["wall_s"] / plan.wall_s,
                "cpu_ratio": measured["cpu_s"] / (plan.busy_core_hours * 3600),
            })  # fmt: skip
            print(json.dumps(runs[-1], indent=1))
    finally:
        subprocess.run([ROOT / "scripts/slurm/stop.sh", "--purge"], env=env, capture_output=True)
    report = {
        "benchmark": "plan_slurm",
        "size": args.size,
        "beams": list(BEAMS),
        "cpus": os.cpu_count(),
        "cost_table": "flint/data/costs/stage_costs.json",
        "runs": runs,
        "goal": "measured wall within 20 % of the plan (wall_ratio 0.8-1.2)",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
