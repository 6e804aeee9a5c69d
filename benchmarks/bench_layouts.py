"""The same observation in every layout, through the whole pipeline; writes JSON.

Simulates the demo's calibrator block and field with one sky, one set of gains and one
noise realisation, delivered as the telescope writes them (``raw``), as flint works on
them (``flint``) and, for the field, as CASDA serves them (``casda``: calibrated already,
so without a bandpass flow), runs the demo's flows on each and compares:

- the bandpass solutions of raw and flint (largest difference, in units of the solutions'
  own error against the truth: goal "within the statistical error", < 1);
- each beam's final residual rms (raw/flint, goal within 1 %) and thermal ratio;
- the mosaic catalogues: the fraction of flint's components with a raw component within
  0.1 beam, and the median offset (goal: all, < 0.1 beam);
- every layout's validation against the truth (issue 4's targets: thermal ratio <= 1.05,
  completeness >= 95 %, median flux ratio within 3 %).

Usage: python benchmarks/bench_layouts.py [--workdir DIR] [--out benchmarks/results/layouts.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from _measure import own_prefect_server  # benchmarks/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]
LAYOUTS = ("raw", "flint", "casda")


def _run_layout(workdir: Path, layout: str, address: str) -> dict:
    from flint.demo import demo_strategy_path, simulate_demo
    from flint.prefect.flows.bandpass import bandpass_flow
    from flint.prefect.flows.continuum import continuum_flow
    from flint.prefect.running import run_flow
    from flint.validation import ValidationResult
    from flint.validation.thermal import ThermalLimit

    started = time.perf_counter()
    observation = simulate_demo(workdir / "data", layout=layout)
    bandpass_dir = None
    if observation.calibrator is not None:
        bandpass_dir = workdir / "bandpass"
        run_flow(
            bandpass_flow,
            scheduler_address=address,
            calibrator_dir=observation.calibrator.sbid_dir,
            output_dir=bandpass_dir,
        )
    results = run_flow(
        continuum_flow,
        scheduler_address=address,
        science_dir=observation.field.sbid_dir,
        bandpass_dir=bandpass_dir,
        output_dir=workdir / "continuum",
        strategy=demo_strategy_path(),
    )
    thermal = {
        int(r.residual.parent.parent.name.removeprefix("beam")): r
        for r in results
        if isinstance(r, ThermalLimit)
    }
    (validation,) = [r for r in results if isinstance(r, ValidationResult)]
    return {
        "wall_s": time.perf_counter() - started,
        "truth_dir": observation.field.truth_dir,
        "calibrator_truth_dir": observation.calibrator and observation.calibrator.truth_dir,
        "bandpass_dir": bandpass_dir,
        "continuum_dir": workdir / "continuum",
        "thermal": thermal,
        "validation": validation,
    }


def _compare_solutions(raw: dict, flint: dict) -> dict:
    """Largest raw-flint difference of the repaired solutions, against their error vs truth."""
    from flint.calibration.repair import reference_phase
    from flint.calibration.solutions import read_solutions
    from flint.simulation import read_truth

    truth = read_truth(flint["calibrator_truth_dir"])
    report = {}
    for path in sorted(Path(flint["bandpass_dir"]).glob("*.repaired.bin")):
        beam = int(path.name.split(".beam")[1][:2])
        mine = read_solutions(Path(raw["bandpass_dir"]) / path.name).gains[0][..., [0, 3]]
        theirs = read_solutions(path).gains[0][..., [0, 3]]
        true = reference_phase(truth.bandpass(beam), 0)[..., [0, 3]]
        error = np.nanmedian(
            np.abs(reference_phase(read_solutions(path).gains[0], 0)[..., [0, 3]] - true)
        )
        difference = np.nanmax(np.abs(mine - theirs))
        report[beam] = {
            "max_difference": float(difference),
            "median_error_vs_truth": float(error),
            "difference_over_error": float(difference / error),
            "same_flags": bool(np.array_equal(np.isnan(mine), np.isnan(theirs))),
        }
    return report


def _compare_images(raw: dict, flint: dict) -> dict:
    report = {}
    for beam, limit in flint["thermal"].items():
        other = raw["thermal"][beam]
        report[beam] = {
            "residual_rms_ratio": other.residual_rms_jy / limit.residual_rms_jy,
            "thermal_ratio_raw": other.ratio,
            "thermal_ratio_flint": limit.ratio,
        }
    return report


def _compare_catalogues(raw: dict, flint: dict) -> dict:
    from astropy.coordinates import SkyCoord
    from astropy.io import fits
    from astropy.table import Table

    def catalogue(run: dict) -> tuple[Table, float]:
        directory = Path(run["continuum_dir"]) / "mosaic"
        last_round = max(int(path.name.removeprefix("round")) for path in directory.glob("round*"))
        last = directory / f"round{last_round}" / f"mosaic.round{last_round}.fits"
        beam_deg = float(fits.getheader(last)["BMAJ"])
        table = Table.read(last.parent / "catalogues" / f"{last.stem}_comp.fits")
        return table, beam_deg

    theirs, beam_deg = catalogue(flint)
    mine, _ = catalogue(raw)
    a = SkyCoord(theirs["ra"], theirs["dec"], unit="deg")
    b = SkyCoord(mine["ra"], mine["dec"], unit="deg")
    _, separation, _ = a.match_to_catalog_sky(b)
    offsets = separation.deg / beam_deg
    return {
        "components_flint": len(theirs),
        "components_raw": len(mine),
        "matched_within_0.1_beam": float(np.mean(offsets < 0.1)),
        "median_offset_beam": float(np.median(offsets)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="keep the products here (default: temporary)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/layouts.json")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="flint-bench-layouts-"))
    workdir.mkdir(parents=True, exist_ok=True)
    with own_prefect_server(workdir):
        _measure(args, workdir)
    if args.workdir is None:  # after the server (its home is in there) has stopped
        shutil.rmtree(workdir, ignore_errors=True)


def _measure(args: argparse.Namespace, workdir: Path) -> None:
    from flint.prefect.cluster import load_cluster_config, running_cluster
    from flint.prefect.server.embedded import ensure_prefect_server

    ensure_prefect_server()
    runs = {}
    with running_cluster(load_cluster_config("local")) as address:
        for layout in LAYOUTS:
            runs[layout] = _run_layout(workdir / layout, layout, address)
    report = {
        "benchmark": "layouts",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "goals": {
            "difference_over_error": 1.0,
            "residual_rms_ratio_within": 0.01,
            "matched_within_0.1_beam": 1.0,
        },
        "bandpass_raw_vs_flint": _compare_solutions(runs["raw"], runs["flint"]),
        "images_raw_vs_flint": _compare_images(runs["raw"], runs["flint"]),
        "catalogues_raw_vs_flint": _compare_catalogues(runs["raw"], runs["flint"]),
        "layouts": {
            layout: {
                "wall_s": run["wall_s"],
                "thermal_ratio": {beam: limit.ratio for beam, limit in run["thermal"].items()},
                "validation": run["validation"].summary.model_dump(mode="json"),
            }
            for layout, run in runs.items()
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "layouts"}, indent=2, default=str))
    for layout, run in report["layouts"].items():
        print(layout, json.dumps(run["thermal_ratio"]), run["validation"])


if __name__ == "__main__":
    main()
