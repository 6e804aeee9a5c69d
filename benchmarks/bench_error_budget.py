"""Where a beam's excess over the thermal limit comes from: subtract parts of the true sky.

Takes a finished demo run (``flint demo --output DIR`` or ``bench_pipeline.py --workdir
DIR``) and, for each beam, copies its final self-calibration round's measurement set,
subtracts the *true* visibilities (the simulator's own DFT predict, primary beam
included) of a chosen part of the simulated sky from ``CORRECTED_DATA``, and images it
again with the final round's settings (changes given with ``--imaging``), and its noise
alone cleaned the same way (``clean_floor``: what that clean leaves of the noise alone, the
ratio a perfect model of the sky would reach with those settings). The thermal
ratio of each case says how much of the excess that part of the sky causes, and how far a
perfect treatment of it could take the strategy:

- ``none``: the run's own data (reproduces the run's ratio);
- ``outside``: every component outside the image (what peeling or a larger image must handle);
- ``outside+bright``: and every component inside brighter than ``--bright-jy`` (apparent);
- ``outside+extended``: and every Gaussian (resolved) component inside;
- ``all``: the whole sky: what is left is noise and self-calibration's gain errors.

Usage: python benchmarks/bench_error_budget.py RUN_DIR [--beams 20 ...] [--cases none,outside]
[--imaging '{"nmiter": 30}'] [--out benchmarks/results/error_budget.json]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CASES = ("none", "outside", "outside+bright", "outside+extended", "all")


def _select(case: str, sky, outside: np.ndarray, apparent: np.ndarray, bright_jy: float):
    """Components subtracted in ``case``."""
    extended = sky.kinds == "gaussian"
    return {
        "none": np.zeros(len(sky), dtype=bool),
        "outside": outside,
        "outside+bright": outside | (apparent > bright_jy),
        "outside+extended": outside | extended,
        "all": np.ones(len(sky), dtype=bool),
    }[case]


def _subtract_truth(ms: Path, sky, options) -> None:
    """Subtract the true visibilities of ``sky`` from ``ms``'s CORRECTED_DATA (XX and YY)."""
    from casacore.tables import table

    from flint.simulation.beam import pb_gain
    from flint.simulation.predict import direction_cosines, predict_dft

    with table(str(ms / "FIELD"), ack=False) as field:
        ra0, dec0 = field.getcol("PHASE_DIR")[0, 0]
    with table(str(ms / "SPECTRAL_WINDOW"), ack=False) as window:
        frequencies = window.getcol("CHAN_FREQ")[0]
    offsets = sky.separation_deg(math.degrees(ra0) % 360.0, math.degrees(dec0))
    flux = sky.flux_at(frequencies) * pb_gain(offsets, frequencies, options)
    lmn = direction_cosines(np.deg2rad(sky.ra_deg), np.deg2rad(sky.dec_deg), ra0, dec0)
    shape = np.column_stack(
        [
            np.deg2rad(sky.major_arcsec / 3600.0),
            np.deg2rad(sky.minor_arcsec / 3600.0),
            np.deg2rad(sky.pa_deg),
        ]
    )
    shape[sky.kinds != "gaussian"] = 0.0
    with table(str(ms), readonly=False, ack=False) as main:
        model = predict_dft(main.getcol("UVW"), frequencies, lmn, flux, shape)
        data = main.getcol("CORRECTED_DATA")
        data[:, :, 0] -= model
        data[:, :, 3] -= model
        main.putcol("CORRECTED_DATA", data)


def budget_beam(run_dir: Path, beam: int, cases, imaging_changes: dict, bright_jy: float) -> dict:
    """Thermal ratio of ``beam``'s final round with each case's true sky subtracted."""
    from casacore.tables import table

    from flint.demo import demo_strategy_path
    from flint.imaging.options import image_width_deg
    from flint.imaging.run import run_wsclean
    from flint.simulation.beam import pb_gain
    from flint.simulation.observation import SimulationOptions
    from flint.sky.io import read_sky
    from flint.sky.realistic import lm_offsets
    from flint.strategy import load_strategy, options_for_round
    from flint.validation.thermal import thermal_limit

    strategy = load_strategy(demo_strategy_path())
    final = strategy.selfcal_rounds
    options = options_for_round(strategy, "imaging", final).with_options(
        data_column="CORRECTED_DATA", **imaging_changes
    )
    source = next((run_dir / "continuum" / f"beam{beam}").glob(f"*beam{beam}.round{final}.ms"))
    truth = next(run_dir.glob(f"data/field/SB*/truth/*beam{beam:02d}.sky.fits"))
    sky = read_sky(truth)
    simulated = SimulationOptions(primary_beam="gaussian_sidelobes")
    with table(str(source / "FIELD"), ack=False) as field:
        ra0, dec0 = (math.degrees(value) for value in field.getcol("PHASE_DIR")[0, 0])
    with table(str(source / "SPECTRAL_WINDOW"), ack=False) as window:
        centre_hz = float(window.getcol("CHAN_FREQ")[0].mean())
    east, north = lm_offsets(sky.ra_deg, sky.dec_deg, ra0 % 360.0, dec0)
    half = math.sin(math.radians(image_width_deg(options) / 2))
    outside = (np.abs(east) > half) | (np.abs(north) > half)
    offsets = sky.separation_deg(ra0 % 360.0, dec0)
    apparent = sky.flux_at([centre_hz])[:, 0] * pb_gain(offsets, [centre_hz], simulated)[:, 0]
    results = {}
    for case in cases:
        with tempfile.TemporaryDirectory(dir=run_dir) as scratch:
            work = Path(scratch)
            ms = work / source.name
            shutil.copytree(source, ms)
            chosen = _select(case, sky, outside, apparent, bright_jy)
            if chosen.any():
                _subtract_truth(ms, sky.select(chosen), simulated)
            start = time.perf_counter()
            image = run_wsclean(ms, options, work, "image", channel_kinds=())
            seconds = time.perf_counter() - start
            noise = run_wsclean(  # cleaned as the data: its dirty image is the thermal limit,
                ms,  # its residual what the same clean leaves of the noise alone
                options.with_options(
                    data_column="NOISE_DATA", no_update_model_required=True, no_dirty=False
                ),
                work,
                "noise",
                channel_kinds=(),
            )
            ratio = thermal_limit(image.residual, noise.dirty, noise_residual=noise.residual)
            results[case] = {
                "subtracted_components": int(chosen.sum()),
                "subtracted_apparent_jy": round(float(apparent[chosen].sum()), 4),
                "thermal_ratio": round(ratio.ratio, 3),
                "clean_floor": round(ratio.clean_floor, 3),
                "residual_rms_ujy": round(ratio.residual_rms_jy * 1e6, 1),
                "noise_rms_ujy": round(ratio.noise_rms_jy * 1e6, 1),
                "image_s": round(seconds, 1),
            }
            print(
                f"beam {beam} {case}: thermal ratio {ratio.ratio:.3f}, "
                f"clean floor {ratio.clean_floor:.3f}",
                flush=True,
            )
    return {
        "components": len(sky),
        "outside_image": int(outside.sum()),
        "image_width_deg": round(image_width_deg(options), 3),
        "cases": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--beams", type=int, nargs="+", default=[20])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--imaging", default="{}", help="JSON changes to the final round's imaging")
    parser.add_argument("--bright-jy", type=float, default=0.02)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/error_budget.json")
    args = parser.parse_args()
    cases = [case.strip() for case in args.cases.split(",")]
    unknown = sorted(set(cases) - set(CASES))
    if unknown:
        parser.error(f"unknown cases {unknown}; choose from {', '.join(CASES)}")
    changes = json.loads(args.imaging)
    record = {
        "run_dir": str(args.run_dir),
        "imaging_changes": changes,
        "bright_jy": args.bright_jy,
        "machine": platform.node(),
        "beams": {
            str(beam): budget_beam(args.run_dir, beam, cases, changes, args.bright_jy)
            for beam in args.beams
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
