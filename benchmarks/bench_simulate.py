"""Benchmark the observation simulator; writes JSON.

Measures (1) predict throughput in visibilities per second per core, a visibility
being one (row, channel) sample, for the DFT and the gridder with >100 sources
(goal >= 5e6 per core), and (2) wall time and peak RSS of simulating one full
beam: 1 hour, 288 channels, 36 antennas (~65 M visibilities, goal <= 4 GiB).

    python benchmarks/bench_simulate.py [--quick] [--output results.json] [--workdir DIR]

``--quick`` shrinks everything for CI.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _predict_rate(method: str, n_sources: int, nrow: int, nchan: int, threads: int) -> dict:
    import numba

    from flint.simulation.predict import direction_cosines, predict_dft, predict_gridder

    numba.set_num_threads(threads)
    rng = np.random.default_rng(0)
    # the gridder's image is (source extent · 6 u_max)²: a compact field on ~1 km baselines
    uvw = rng.normal(0, 1500 if method == "dft" else 400, (nrow, 3))
    uvw[:, 2] *= 0.2
    freqs = 7.44e8 + 1e6 * np.arange(nchan)
    ra0, dec0 = 1.7, -0.54
    spread = 0.015 if method == "dft" else 0.005
    ra = ra0 + rng.normal(0, spread, n_sources) / math.cos(dec0)
    dec = dec0 + rng.normal(0, spread, n_sources)
    lmn = direction_cosines(ra, dec, ra0, dec0)
    flux = rng.uniform(0.001, 1, (n_sources, 1)) * (freqs / 8.88e8) ** -0.8
    run = (
        (lambda: predict_dft(uvw[:100], freqs, lmn, flux))
        if method == "dft"
        else (lambda: predict_gridder(uvw[:100], freqs, lmn, flux, threads=threads))
    )
    run()  # compile / warm up
    started = time.perf_counter()
    if method == "dft":
        predict_dft(uvw, freqs, lmn, flux)
    else:
        predict_gridder(uvw, freqs, lmn, flux, threads=threads)
    seconds = time.perf_counter() - started
    vis = nrow * nchan
    return {
        "method": method,
        "sources": n_sources,
        "visibilities": vis,
        "threads": threads,
        "seconds": seconds,
        "visibilities_per_second_per_core": vis / seconds / threads,
    }


def _full_beam(workdir: Path, quick: bool, threads: int) -> dict:
    from flint.simulation import SimulationOptions, simulate_field
    from flint.sky import random_sky

    options = SimulationOptions(
        n_antennas=12 if quick else 36,
        n_channels=32 if quick else 288,
        duration_s=120.0 if quick else 3600.0,
        start_hour_angle_h=-0.5,
        beams=[14],
        rfi=True,
        threads=threads,
    )
    centre = (options.ra_deg, options.dec_deg)
    sky = random_sky(*centre, 4.0, 0.2 if quick else 0.05, seed=1)  # a few hundred in beam 14
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    result = simulate_field(workdir, sky, options)
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    from flint.simulation import read_truth

    entry = read_truth(result.truth_dir).beams[0]
    nbl = options.n_antennas * (options.n_antennas - 1) // 2
    vis = nbl * entry.n_integrations * options.n_channels
    return {
        "antennas": options.n_antennas,
        "channels": options.n_channels,
        "integrations": entry.n_integrations,
        "visibilities": vis,
        "components": entry.n_components,
        "predict": entry.predict,
        "seconds": seconds,
        "visibilities_per_second": vis / seconds,
        "peak_rss_gib": peak_kib / 2**20,
        "rss_before_gib": before / 2**20,
        "ms_bytes": sum(
            p.stat().st_size for p in result.measurement_sets[0].rglob("*") if p.is_file()
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for CI")
    parser.add_argument("--output", type=Path, default=None, help="JSON path")
    parser.add_argument("--workdir", type=Path, default=None, help="where to write the MS")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    nrow, nchan = (2000, 32) if args.quick else (20000, 288)
    results = {
        "benchmark": "simulate",
        "quick": args.quick,
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "predict": [
            _predict_rate("dft", 150, nrow, nchan, args.threads),
            _predict_rate("gridder", 150, nrow, nchan, args.threads),
            _predict_rate("gridder", 3000, nrow, nchan, args.threads),
        ],
        "goals": {"visibilities_per_second_per_core": 5e6, "peak_rss_gib": 4.0},
    }
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_simulate_"))
    try:
        results["full_beam"] = _full_beam(workdir, args.quick, args.threads)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    output = args.output or Path(__file__).parent / "results" / (
        "simulate_quick.json" if args.quick else "simulate.json"
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
