"""How much more CPU a task needs when every core of its node is busy than when it runs
alone: writes benchmarks/results/node_sharing.json (``flint plan``'s shared-node slowdown).

Simulates the reduced beam of bench_fullbeam.py (36 antennas, 72 channels, 30 integrations
of the demo's field; calibrated, in flint's layout, so it images as a round does) and runs the pipeline's two heaviest tools one core each: a wsclean image as the demo's
last round makes it (1280 pixels, 18 sub-bands, a 45" taper, cleaned to the noise) and
aoflagger on a copy of the measurement set. Each runs alone, then as many copies at once as the
machine has cores, each on its own copy and temporary directory. The CPU time of every run
comes from the kernel (``wait4``). The slowdown is the CPU of the runs side by side over
the CPU alone, less 1, weighted by the tools' CPU: what the node's shared caches and memory
bandwidth cost. The machine's load is recorded: run it on a quiet machine.

Usage: python benchmarks/bench_node_sharing.py [--workdir DIR] [--repeats 2]
       [--out benchmarks/results/node_sharing.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench_fullbeam import BEAM, SIZES  # benchmarks/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]


def _simulate(directory: Path) -> Path:
    """The reduced beam, calibrated (no bandpass, no phase errors) in flint's layout."""
    from flint.demo import demo_options, demo_sky
    from flint.simulation import simulate_field
    from flint.simulation.observation import ASKAP_INTEGRATION_S

    options = demo_options((BEAM,), 1).with_options(
        integration_s=ASKAP_INTEGRATION_S, n_channels=288, **SIZES["reduced"],
        layout="flint", bandpass="none", phase_rms_deg=0.0,
    )  # fmt: skip
    (science,) = simulate_field(directory, demo_sky((BEAM,), 2e-3, 1), options).measurement_sets
    return science


def _wsclean(ms: Path, work: Path) -> list[str]:
    """wsclean as the demo strategy's last round runs it (1280 pixels, 18 sub-bands, a
    spectral polynomial, cleaned to the noise) on one core."""
    from flint.demo import demo_strategy_path
    from flint.imaging.command import build_wsclean_command, with_resources
    from flint.strategy import load_strategy, options_for_round

    strategy = load_strategy(demo_strategy_path())
    options = options_for_round(strategy, "imaging", strategy.selfcal_rounds)
    options = with_resources(options.with_options(data_column="DATA", temp_dir=str(work)), 1)
    return build_wsclean_command(ms, options, work / "image").argv


def _aoflagger(ms: Path, work: Path) -> list[str]:
    return ["aoflagger", "-j", "1", "-column", "DATA", str(ms)]


TOOLS = {"wsclean": _wsclean, "aoflagger": _aoflagger}


def _run_together(tool: str, copies: list[Path], workdir: Path) -> list[dict]:
    """Start ``tool`` on every copy at once; each run's wall and CPU (its own and children's)."""
    runs = {}
    for index, ms in enumerate(copies):
        work = workdir / f"{tool}-{index}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        log = (work / "log.txt").open("w")
        process = subprocess.Popen(
            TOOLS[tool](ms, work), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        runs[process.pid] = {"started": time.perf_counter(), "log": log}
    results = []
    while runs:
        pid, status, usage = os.wait4(-1, 0)
        run = runs.pop(pid, None)
        if run is None:
            continue
        run["log"].close()
        if status != 0:
            raise SystemExit(f"{tool} failed (status {status}): see {workdir}/{tool}-*/log.txt")
        results.append({"wall_s": time.perf_counter() - run["started"],
                        "cpu_s": usage.ru_utime + usage.ru_stime})  # fmt: skip
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="keep the data here (default: temporary)")
    parser.add_argument("--repeats", type=int, default=2, help="alone and together, each")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/node_sharing.json")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="flint-bench-node-sharing-"))
    workdir.mkdir(parents=True, exist_ok=True)
    cores = os.cpu_count() or 1
    science = _simulate(workdir / "data")
    copies = []
    for index in range(cores):
        copy = workdir / f"copy-{index}.ms"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(science, copy)
        copies.append(copy)
    load_before = os.getloadavg()
    tools = {}
    for tool in TOOLS:
        alone, together = [], []
        for _ in range(args.repeats):
            alone += _run_together(tool, copies[:1], workdir)
            together += _run_together(tool, copies, workdir)
        mean_alone = sum(r["cpu_s"] for r in alone) / len(alone)
        mean_together = sum(r["cpu_s"] for r in together) / len(together)
        tools[tool] = {"alone": alone, "together": together, "cpu_alone_s": mean_alone,
                       "cpu_together_s": mean_together,
                       "slowdown": mean_together / mean_alone - 1}  # fmt: skip
        print(f"{tool}: CPU alone {mean_alone:.1f} s, {cores} at once {mean_together:.1f} s "
              f"each: {100 * tools[tool]['slowdown']:+.1f} %", flush=True)  # fmt: skip
    weight = sum(t["cpu_alone_s"] for t in tools.values())
    slowdown = sum(t["slowdown"] * t["cpu_alone_s"] for t in tools.values()) / weight
    report = {
        "benchmark": "node_sharing",
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "machine": {
            "cpus": cores,
            "platform": platform.platform(),
            "processor": platform.processor(),
        },
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "data": {"size": "reduced", "ms": str(science)},
        "tools": tools,
        "shared_node_slowdown": slowdown,
    }
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"shared-node slowdown (CPU-weighted): {100 * slowdown:+.1f} %")
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
