"""Benchmark the demo pipeline: wall time and orchestration overhead; writes JSON.

Runs what ``flint demo`` runs (simulate, bandpass flow, continuum flow with the demo
strategy) on the default local cluster and measures:

- ``demo_wall_s``: the whole demo, simulation included (goal <= 600 s on 2 cores);
- per flow, from the Prefect server: the flow run's wall time, the task runs' own run
  times (Prefect's ``total_run_time``), the external tools' own run times inside them
  (wsclean, aoflagger, BANE, Aegean: the ``<tool> finished in N s`` lines that
  :func:`flint.external.run_tool` logs), and
- ``overhead_fraction``: the part of the flow's wall time during which no task was
  running (cluster start, scheduling, result persistence between dependent tasks):
  what orchestration adds to the wall time (goal <= 0.03). ``wrapper_fraction`` is
  the part of the tool tasks' run time spent outside their tool.

The science of the run is recorded too: each beam's thermal ratio, the validation summary
and, on the realistic sky, the thermal ratio within 1 deg of the bright sources placed
outside the images (``near_bright``).

The demo's data are simulated in the raw layout (``flint demo``'s default).

Usage: python benchmarks/bench_pipeline.py [--sky realistic|simple] [--seed N] [--workdir DIR]
[--out benchmarks/results/pipeline_<sky>.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import tempfile
import time
from pathlib import Path
from uuid import UUID

from _measure import (  # benchmarks/ is on sys.path when run as a script
    busy_seconds,
    own_prefect_server,
)

ROOT = Path(__file__).resolve().parents[1]

TOOL_LINE = re.compile(r"^(\S+) finished in ([0-9.]+) s(?: \(log: .*\))?$")


def _flow_timings(flow_run_id: UUID) -> dict:
    from prefect import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterFlowRunId,
    )

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(flow_run_id)
        tasks, offset = [], 0
        while page := client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
            offset=offset,
            limit=200,
        ):
            tasks += page
            offset += len(page)
        logs, offset = [], 0
        while page := client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])),
            offset=offset,
            limit=200,
        ):
            logs += page
            offset += len(page)
    wall = (run.end_time - run.start_time).total_seconds()
    intervals = [
        (task.start_time.timestamp(), task.end_time.timestamp())
        for task in tasks
        if task.start_time and task.end_time
    ]
    task_seconds = {task.name: task.total_run_time.total_seconds() for task in tasks}
    tools: dict[str, float] = {}
    tool_tasks: dict[str, float] = {}
    for log in logs:
        if match := TOOL_LINE.match(log.message):
            tools[match[1]] = tools.get(match[1], 0.0) + float(match[2])
            if log.task_run_id is not None:
                tool_tasks[str(log.task_run_id)] = tool_tasks.get(
                    str(log.task_run_id), 0.0
                ) + float(match[2])
    with_tool = [task for task in tasks if str(task.id) in tool_tasks]
    wrapped = sum(task.total_run_time.total_seconds() for task in with_tool)
    busy = busy_seconds(intervals)
    first = min((start for start, _ in intervals), default=run.end_time.timestamp())
    last = max((stop for _, stop in intervals), default=run.end_time.timestamp())
    before, after = first - run.start_time.timestamp(), run.end_time.timestamp() - last
    return {
        "wall_s": wall,
        "task_runs": len(tasks),
        "task_run_seconds": sum(task_seconds.values()),
        "busy_s": busy,
        "tool_seconds": tools,
        "tool_seconds_total": sum(tools.values()),
        "overhead_fraction": (wall - busy) / wall,
        # where the idle time is: before the first task starts, between tasks, after the last
        "idle_s": {"before": before, "between": wall - busy - before - after, "after": after},
        "wrapper_fraction": (wrapped - sum(tool_tasks.values())) / wrapped if wrapped else 0.0,
        "tasks": task_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="keep the products here (default: temporary)")
    parser.add_argument("--out", type=Path, help="default: benchmarks/results/pipeline_<sky>.json")
    parser.add_argument("--sky", choices=("realistic", "simple"), default="realistic")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    args.out = args.out or ROOT / f"benchmarks/results/pipeline_{args.sky}.json"
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="flint-bench-pipeline-"))
    workdir.mkdir(parents=True, exist_ok=True)
    with own_prefect_server(workdir):
        _measure(args, workdir)
    if args.workdir is None:  # after the server (its home is in there) has stopped
        shutil.rmtree(workdir, ignore_errors=True)


def _measure(args: argparse.Namespace, workdir: Path) -> None:
    from flint.demo import demo_strategy_path, demo_summary, simulate_demo
    from flint.prefect.cluster import load_cluster_config, running_cluster
    from flint.prefect.flows.bandpass import bandpass_flow
    from flint.prefect.flows.continuum import continuum_flow
    from flint.prefect.running import run_flow
    from flint.prefect.server.embedded import ensure_prefect_server
    from flint.validation import ValidationResult
    from flint.validation.thermal import ThermalLimit

    ensure_prefect_server()
    load_at_start = os.getloadavg()
    started = time.perf_counter()
    observation = simulate_demo(workdir / "data", seed=args.seed, sky=args.sky)
    simulated = time.perf_counter()
    flows = {}
    with running_cluster(load_cluster_config("local")) as address:  # as flint demo does
        for name, flow, parameters in (
            (
                "bandpass",
                bandpass_flow,
                {
                    "calibrator_dir": observation.calibrator.sbid_dir,
                    "output_dir": workdir / "bandpass",
                },
            ),
            (
                "continuum",
                continuum_flow,
                {
                    "science_dir": observation.field.sbid_dir,
                    "bandpass_dir": workdir / "bandpass",
                    "output_dir": workdir / "continuum",
                    "strategy": demo_strategy_path(),
                },
            ),
        ):
            results = run_flow(flow, scheduler_address=address, **parameters)
            flows[name] = _flow_timings(_latest_flow_run(flow.name))
    wall = time.perf_counter() - started
    thermal = [r for r in results if isinstance(r, ThermalLimit)]
    (validation,) = [r for r in results if isinstance(r, ValidationResult)]
    report = {
        "benchmark": "pipeline",
        "sky": args.sky,
        "seed": args.seed,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "demo_wall_s": wall,
        "simulate_s": simulated - started,
        "flows": flows,
        "overhead_fraction": sum(f["wall_s"] - f["busy_s"] for f in flows.values())
        / sum(f["wall_s"] for f in flows.values()),
        "goals": {"demo_wall_s": 600.0, "overhead_fraction": 0.03},
        "thermal_ratio": {limit.residual.name: limit.ratio for limit in thermal},
        "validation": validation.summary.model_dump(mode="json"),
        "load_average_at_start": load_at_start,
        "summary": demo_summary(results, wall, args.sky, layout="raw"),
        "near_bright": _near_bright(workdir, args.seed) if args.sky == "realistic" else {},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(
        json.dumps({k: v for k, v in report.items() if k not in ("flows", "validation")}, indent=2)
    )
    for name, flow in flows.items():
        print(f"{name}: wall {flow['wall_s']:.1f} s, busy {flow['busy_s']:.1f} s, "
              f"tools {flow['tool_seconds_total']:.1f} s, overhead {flow['overhead_fraction']:.3f}")  # fmt: skip


def _near_bright(workdir: Path, seed: int) -> dict:
    """Thermal ratio within 1 deg of the bright sources placed outside the images, per beam."""
    from astropy.coordinates import SkyCoord
    from astropy.io import fits

    from flint.demo import demo_bright_sources
    from flint.errors import InputError
    from flint.mosaic.headers import pointing_deg
    from flint.validation.thermal import thermal_limit_near

    ratios: dict = {}
    for name in ("outside", "sidelobe"):
        ra, dec, _ = demo_bright_sources(seed=seed)[name]
        for beam_dir in sorted((workdir / "continuum").glob("beam*")):
            residual = max(beam_dir.glob("images/*round*-MFS-residual.fits"))
            (noise,) = beam_dir.glob("images/*noise-MFS-dirty.fits")  # the thermal limit
            centre = SkyCoord(*pointing_deg(fits.getheader(residual)), unit="deg")
            if centre.separation(SkyCoord(ra, dec, unit="deg")).deg > 3.5:
                continue
            try:
                near = thermal_limit_near(residual, noise, ra, dec, 1.0)
            except InputError:  # no pixel of this image within 1 deg of it
                continue
            ratios.setdefault(name, {})[beam_dir.name] = near.ratio
    return ratios


def _latest_flow_run(name: str) -> UUID:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        (run,) = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[name])),
            sort=FlowRunSort.START_TIME_DESC,
            limit=1,
        )
    return run.id


if __name__ == "__main__":
    main()
