"""Fit flint plan's cost table to full-beam benchmark results (bench_fullbeam.py's JSON).

For every benchmark the flows' tasks are listed with their sizes exactly as ``flint plan``
lists them (flint.planning: visibilities and pixels, in millions), and each stage's measured
CPU time, memory and the disk of what the run kept are fitted, with non-negative least
squares over the benchmarks, to the model's linear forms:

- stages that read visibilities and write no image (preprocess, apply, flag, solve):
  ``cpu = fixed + per_mvis * mvis``;
- stages of images alone (mask, find, convolve, mosaic, validate): ``cpu = per_mpix * mpix``
  (the benchmarks share an image size, so a fixed part cannot be told apart from it: it is
  counted per pixel, which scales it with the image);
- stages of both (image, noise, selfcal's prediction): ``cpu = per_mvis * mvis + per_mpix * mpix``.

Imaging is fitted per wsclean run of every benchmark (tiny, reduced and full arrays alike):
``cpu = fixed + per_mvis * mvis + (per_mpix + per_mpix_depth * depth) * mpix``, where
``depth`` (flint.planning.BeamShape.depth) grows as the data's noise falls: a deeper clean
takes more components and major cycles on every pixel. The noise image (no deep clean) is
``per_mvis * mvis + per_mpix * mpix``, per run too.

Every task also holds its worker's slot for a while beyond its own work (Dask handing it
over, Prefect creating its run and recording its states) and every flow run takes a while
beyond its tasks: from the benchmarks' task runs on one thread, ``task_overhead_s`` is the
median gap between one task's end and the next one's start, ``flow_overhead_s`` the rest of
a flow run's wall time (before its first task, after its last).

The same for peak memory (above the worker's own), taken per task at the stage's largest
task. Amdahl's parallel fraction of a stage comes from the largest benchmark:
``S = cpu / wall`` on ``n`` cores, ``p = (1 - 1/S) / (1 - 1/n)``; a loaded machine makes
``S`` and so ``p`` smaller (the plan then errs long), so the load is recorded with the table.

On a node the workers share with the Prefect server and the flow runner, two more figures
count: the orchestration's CPU per task (the benchmarks that record it: the server's and
the flow runner's CPU over their tasks) and how much more CPU tasks need while every core
of the node is busy (``--node-sharing``: bench_node_sharing.py).

Usage: python benchmarks/cost_table.py benchmarks/results/fullbeam-{tiny,reduced,demo}.json
       [--image-stages benchmarks/results/image_stages.json]
       [--node-sharing benchmarks/results/node_sharing.json]
       [--out flint/data/costs/stage_costs.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.optimize import nnls

from flint.demo import demo_strategy_path
from flint.planning import BeamShape, bandpass_tasks, continuum_tasks, products_megapixels
from flint.strategy import load_strategy

ROOT = Path(__file__).resolve().parents[1]
BAND_MHZ = 288.0
"""The demo's band (flint.simulation: 288 channels of 1 MHz)."""


def _science(result: dict) -> BeamShape:
    """The benchmark's science beam; the demo simulates 288 x 1 MHz averaged to its
    ``channels`` (results do not record the channel width)."""
    beam, simulation = result["beam"], result["simulation"]
    correlations = beam["visibilities_with_correlations"] // beam["visibilities"]
    channel_mhz = simulation.get("channel_mhz", BAND_MHZ / simulation["channels"])
    return BeamShape(15, beam["rows"], beam["channels"], correlations, noise=True,
                     integration_s=simulation["integration_s"], channel_mhz=channel_mhz)  # fmt: skip


def _tasks(result: dict) -> list:
    science = _science(result)
    shape = result.get("calibrator_shape")
    if shape is None:  # older results: the calibrator scan scaled by its raw bytes
        scale = result["raw"]["calibrator_bytes"] / result["raw"]["science_bytes"]
        shape = {"rows": round(science.rows * scale), "channels": science.channels}
    calibrator = BeamShape(15, shape["rows"], shape["channels"], science.correlations)
    return bandpass_tasks([calibrator]) + continuum_tasks([science], _strategy(result))


def _strategy(result: dict):
    return load_strategy(demo_strategy_path() if result["strategy"] == "demo" else None)


def _columns(stage_tasks: list) -> list[str]:
    has_vis = any(t.mvis for t in stage_tasks)
    has_pix = any(t.mpix for t in stage_tasks)
    if has_vis and has_pix:
        return ["mvis", "mpix"]
    if has_pix:
        return ["mpix"]
    if has_vis:
        return ["fixed", "mvis"]
    return ["fixed"]


def _fit(rows: list[dict[str, float]], target: list[float], columns: list[str]) -> dict:
    matrix = np.array([[row[c] for c in columns] for row in rows], float)
    coefficients, _ = nnls(matrix, np.array(target, float))
    return dict(zip(columns, coefficients.tolist(), strict=True))


def _wsclean_runs(result: dict):
    """(stage, sizes, CPU s) of every imaging run of wsclean a benchmark recorded."""
    science = _science(result)
    mvis, depth = science.mvis, science.depth
    for tool in result["tools"]:
        argv = tool["argv"]
        if tool["tool"] != "wsclean" or "-predict" in argv:
            continue
        name = argv[argv.index("-name") + 1]
        stage = "noise" if name.endswith(".noise") else "image" if ".round" in name else None
        size = int(argv[argv.index("-size") + 1])
        planes = int(argv[argv.index("-channels-out") + 1]) if "-channels-out" in argv else 1
        mpix = size * size * planes / 1e6
        sizes = {"fixed": 1.0, "mvis": mvis, "mpix": mpix, "mpix_depth": mpix * depth}
        yield stage, sizes, tool["cpu_seconds"]


IMAGING_COLUMNS = {"image": ["fixed", "mvis", "mpix", "mpix_depth"], "noise": ["mvis", "mpix"]}


def _fit_imaging_per_run(table: dict, everything: list) -> None:
    """Image and noise stages per wsclean run (not per stage sum): the rounds differ in
    sub-bands and depth, so each run is a row, and partial benchmarks count. Every array
    counts: a smaller array's data are shallower (higher noise, fewer components to clean),
    which the image's term per pixel and unit of depth expresses. The task's own CPU around
    wsclean (the stage's CPU less its wsclean runs': 1.6 s per task on the tiny benchmark,
    5.0 on the reduced one, and about 1 s of wall time on the full-size one, so not a cost
    per visibility) is the mean per task of the complete benchmarks, added to ``fixed``."""
    for stage, columns in IMAGING_COLUMNS.items():
        rows, cpu, around_rows, around = [], [], [], []
        for _, result in everything:
            runs = [(sizes, s) for found, sizes, s in _wsclean_runs(result) if found == stage]
            rows += [sizes for sizes, _ in runs]
            cpu += [seconds for _, seconds in runs]
            measured = result.get("stages", {}).get(stage)
            if measured and runs:
                around_rows.append({"fixed": measured["tasks"]})
                around.append(max(0.0, measured["cpu_s"] - sum(s for _, s in runs)))
        if len({tuple(r[c] for c in columns) for r in rows}) < len(columns) or stage not in table:
            continue
        fitted = _fit(rows, cpu, columns)
        own = _fit(around_rows, around, ["fixed"]) if around_rows else {}
        table[stage].update(
            cpu_s=own.get("fixed", 0.0) + fitted.get("fixed", 0.0),
            cpu_s_per_mvis=fitted["mvis"],
            cpu_s_per_mpix=fitted["mpix"],
            cpu_s_per_mpix_depth=fitted.get("mpix_depth", 0.0),
        )


def _overheads(results: list) -> dict[str, float]:
    """Per task and per flow run, the wall time beyond the tasks' own (see the docstring),
    from benchmarks that ran one task at a time."""
    between, flows = [], []
    for _, result in results:
        for flow in result["flows"].values():
            runs = sorted(
                (t["start"], t["end"]) for t in result["tasks"]
                if t["start"] and flow["start"] <= t["start"] <= flow["end"]
            )  # fmt: skip
            if len(runs) < 2:
                continue
            own = sum(end - start for start, end in runs)
            gap = (runs[-1][1] - runs[0][0] - own) / (len(runs) - 1)
            between.append(gap)
            flows.append(flow["wall_s"] - own - len(runs) * gap)
    if not between:
        return {}
    overheads = {
        "task_overhead_s": float(np.median(between)),
        "flow_overhead_s": float(np.median(flows)),
    }
    orchestration = [r["orchestration"] for _, r in results if r.get("orchestration")]
    if orchestration:  # the server's and the flow runner's CPU over all the tasks they ran
        cpu = sum(o["server_cpu_s"] + o["runner_cpu_s"] for o in orchestration)
        overheads["orchestration_cpu_s_per_task"] = cpu / sum(o["tasks"] for o in orchestration)
    return overheads


def _scale_image_stages(table, image_stages, largest, tasks, worker_rss) -> None:
    """Per-pixel CPU and memory of the image-plane stages from their measurement at several
    image sizes (the slope), anchored to the largest full-beam benchmark (the level)."""
    _, result = largest
    for stage in sorted({run["stage"] for run in image_stages["runs"]}):
        runs = [run for run in image_stages["runs"] if run["stage"] == stage]
        if len({run["size"] for run in runs}) < 2 or stage not in table:
            continue
        mpix = np.array([run["mpix"] for run in runs])
        cpu_slope = max(0.0, np.polyfit(mpix, [run["cpu_s"] for run in runs], 1)[0])
        rss_slope = max(0.0, np.polyfit(mpix, [run["peak_rss_gib"] for run in runs], 1)[0])
        mine = [t for t in tasks if t.stage == stage]
        measured = result["stages"][stage]
        fixed_cpu = (measured["cpu_s"] - cpu_slope * sum(t.mpix for t in mine)) / len(mine)
        rss = max(0.0, measured["peak_rss_gib"] - worker_rss)
        table[stage].update(
            cpu_s=max(0.0, fixed_cpu),
            cpu_s_per_mpix=cpu_slope,
            rss_gib=max(0.0, rss - rss_slope * max(t.memory_mpix for t in mine)),
            rss_gib_per_mpix=rss_slope,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "flint/data/costs/stage_costs.json")
    parser.add_argument(
        "--image-stages", type=Path, help="bench_image_stages.py's result: per-pixel scaling"
    )
    parser.add_argument(
        "--node-sharing", type=Path, help="bench_node_sharing.py's result: the shared-node slowdown"
    )
    args = parser.parse_args()
    everything = [(path, json.loads(path.read_text())) for path in args.results]
    everything.sort(key=lambda item: item[1]["beam"]["visibilities"])
    results = [(path, result) for path, result in everything if not result.get("partial")]
    planned = {path: _tasks(result) for path, result in results}
    stages = sorted({stage for _, result in results for stage in result["stages"]})
    worker_rss = min(
        min(s["rss_gib"] for s in result["disk_timeline"] if s["rss_gib"] > 0)
        for _, result in results
    )
    table: dict[str, dict] = {}
    for stage in stages:
        rows, cpu, rss_rows, rss = [], [], [], []
        for path, result in results:
            measured = result["stages"].get(stage)
            tasks = [t for t in planned[path] if t.stage == stage]
            if measured is None or not tasks:
                continue
            if measured["tasks"] != len(tasks):
                raise SystemExit(
                    f"{path}: stage {stage}: {measured['tasks']} tasks ran, the plan lists "
                    f"{len(tasks)}: flint.planning no longer matches the flows"
                )
            rows.append({"fixed": len(tasks), "mvis": sum(t.mvis for t in tasks),
                         "mpix": sum(t.mpix for t in tasks)})  # fmt: skip
            cpu.append(measured["cpu_s"])
            rss_rows.append({"fixed": 1.0, "mvis": max(t.mvis for t in tasks),
                             "mpix": max(t.memory_mpix for t in tasks)})  # fmt: skip
            rss.append(max(0.0, measured["peak_rss_gib"] - worker_rss))
        if not rows:
            continue
        columns = _columns([t for tasks in planned.values() for t in tasks if t.stage == stage])
        fitted_cpu = _fit(rows, cpu, columns)
        fitted_rss = _fit(rss_rows, rss, columns)
        largest = results[-1][1]
        measured = largest["stages"][stage]
        cores = int(largest["worker_task_cores"][0])
        speedup = measured["cpu_s"] / measured["wall_s"] if measured["wall_s"] else 1.0
        parallel = 0.0 if cores <= 1 else (1 - 1 / max(speedup, 1.0)) / (1 - 1 / cores)
        table[stage] = {
            "cpu_s": fitted_cpu.get("fixed", 0.0),
            "cpu_s_per_mvis": fitted_cpu.get("mvis", 0.0),
            "cpu_s_per_mpix": fitted_cpu.get("mpix", 0.0),
            "cpu_s_per_mpix_depth": 0.0,
            "parallel_fraction": min(1.0, max(0.0, parallel)),
            "rss_gib": fitted_rss.get("fixed", 0.0),
            "rss_gib_per_mvis": fitted_rss.get("mvis", 0.0),
            "rss_gib_per_mpix": fitted_rss.get("mpix", 0.0),
        }
    _fit_imaging_per_run(table, everything)
    if args.image_stages:
        _scale_image_stages(table, json.loads(args.image_stages.read_text()), results[-1],
                            planned[results[-1][0]], worker_rss)  # fmt: skip
    planned_stages = {t.stage for tasks in planned.values() for t in tasks}
    unmeasured = sorted(planned_stages - set(table))
    for stage in unmeasured:  # e.g. publish (Prefect artifacts), newer than the benchmarks
        table[stage] = {"cpu_s": 0.0}
    copies, copy_bytes, products = [], [], []
    for _, result in results:
        kept = {item["kind"]: item["bytes"] for item in result["kept"]}
        beam = result["beam"]
        copies.append({"fixed": 1.0, "vis": beam["visibilities_with_correlations"]})
        copy_bytes.append(kept["working copy"])
        made = sum(b for kind, b in kept.items() if not kind.startswith("working copy"))
        products.append(made / products_megapixels(_strategy(result)))
    copy = _fit(copies, copy_bytes, ["fixed", "vis"])
    report = {
        "version": 1,
        "stages": table,
        "disk": {
            "working_copy_bytes": copy["fixed"],
            "working_copy_bytes_per_vis": copy["vis"],
            "products_bytes_per_mpix": products[-1],
        },
        "worker_rss_gib": worker_rss,
        "worker_start_s": 0.0,
        **_overheads(results),
        **(
            {}
            if args.node_sharing is None
            else {
                "shared_node_slowdown": max(  # less than none (the noise of timing) is none
                    0.0, json.loads(args.node_sharing.read_text())["shared_node_slowdown"]
                )
            }
        ),
        "unmeasured": unmeasured,
        "image_stages": None
        if args.image_stages is None
        else {
            "file": str(args.image_stages),
            "sizes": sorted({r["size"] for r in json.loads(args.image_stages.read_text())["runs"]}),
        },
        "measured": [
            {
                "file": str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path),
                "size": result["size"],
                "strategy": result["strategy"],
                "visibilities": result["beam"]["visibilities"],
                "task_cores": result["worker_task_cores"],
                "cpus": result["cpus"],
                "load": result["load"]["during"],
                "partial": bool(result.get("partial")),
            }
            for path, result in everything
        ],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report["stages"], indent=1))


if __name__ == "__main__":
    main()
