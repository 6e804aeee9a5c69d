"""How much a beam's thermal ratio moves when the final clean's settings move a little.

Takes a finished demo run (``flint demo --output DIR`` or ``bench_pipeline.py --workdir
DIR``) and images each beam's final-round data again (its working copy with the final gains
applied: the column the run imaged) with the final round's settings, once per variant, each
a small change to those settings (``--variants``, JSON: name -> changes). The ratio is taken
against the run's own noise image, as the flow does. A setting can be judged on one image
only when small changes of it move the ratio less than the difference being judged.

Each variant also reports the major cycles wsclean ran and why its last one stopped: a
clean that ends on ``nmiter`` (the minor-loop threshold, not the final threshold) has not
converged. With ``--fidelity`` it also reports the restored image's distance from the true
sky (``benchmarks/_fidelity.py``): the rms of restored image less the true components
convolved with its restoring beam, against the noise image's rms. A residual that falls
because clean took artefacts into its model does not make that fall.

Usage: python benchmarks/bench_clean_spread.py RUN_DIR [--beams 15 20 14]
[--variants '{"base": {}, "mgain 0.81": {"mgain": 0.81}}']
[--out benchmarks/results/clean_spread.json] [--fidelity]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

from _fidelity import (  # benchmarks/ is on sys.path when run as a script
    mfs_apparent_flux,
    true_image,
    truth_sky_path,
)
from bench_error_budget import _final_copy

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {
    "base": {},
    "mgain 0.79": {"mgain": 0.79},
    "mgain 0.81": {"mgain": 0.81},
    "gain 0.09": {"gain": 0.09},
    "auto_threshold 1.1": {"auto_threshold": 1.1},
}


def _how_it_stopped(log: str) -> tuple[int, str]:
    """Major cycles in a wsclean log and its last ``Stopped on ...`` line."""
    stops = [line for line in log.splitlines() if line.startswith("Stopped on")]
    return log.count("Initial peak"), stops[-1] if stops else ""


def spread_beam(
    run_dir: Path, beam: int, variants: dict[str, dict], fidelity: bool = False
) -> dict:
    """Thermal ratio of ``beam``'s final image under each variant of its settings."""
    import numpy as np
    from astropy.io import fits
    from casacore.tables import table

    from flint.demo import demo_strategy_path
    from flint.imaging.run import run_wsclean
    from flint.sky.io import read_sky
    from flint.strategy import load_strategy, options_for_round
    from flint.validation.thermal import thermal_limit

    strategy = load_strategy(demo_strategy_path())
    final = strategy.selfcal_rounds
    images = run_dir / "continuum" / f"beam{beam}" / "images"
    noise_dirty = next(images.glob("*noise-MFS-dirty.fits"))
    results = {}
    if fidelity:
        sky = read_sky(truth_sky_path(run_dir, beam))
        apparent = mfs_apparent_flux(run_dir, beam, sky, images, f"round{final}")
        noise_rms = float(np.std(fits.getdata(noise_dirty)))
    with tempfile.TemporaryDirectory(dir=run_dir) as scratch:
        work = Path(scratch)
        ms, _gains = _final_copy(run_dir, beam, final, work)
        with table(str(ms), ack=False) as main:
            column = "PEELED_DATA" if "PEELED_DATA" in main.colnames() else "DATA"
        for index, (name, changes) in enumerate(variants.items()):
            options = options_for_round(strategy, "imaging", final).with_options(
                **changes, data_column=column, no_update_model_required=True
            )
            start = time.perf_counter()
            image = run_wsclean(
                ms, options, work / f"v{index}", "image", channel_kinds=(), skip_existing=False
            )
            seconds = time.perf_counter() - start
            majors, stopped = _how_it_stopped(
                next((work / f"v{index}").glob("*wsclean.log")).read_text()
            )
            ratio = thermal_limit(image.residual, noise_dirty).ratio
            results[name] = {
                "changes": changes,
                "thermal_ratio": round(ratio, 3),
                # multi-scale clean logs its cycles in another form: not counted (None)
                "major_cycles": majors or None,
                "converged": "because the threshold was reached" in stopped if majors else None,
                "stopped": stopped,
                "image_s": round(seconds, 1),
            }
            if fidelity:
                header = fits.getheader(image.image)
                restored = np.squeeze(fits.getdata(image.image))
                error = restored - true_image(sky, apparent, header)
                results[name]["fidelity_ratio"] = round(float(np.std(error)) / noise_rms, 3)
            print(
                f"beam {beam} {name}: thermal ratio {ratio:.3f}, {majors} major cycles"
                + (f", fidelity {results[name]['fidelity_ratio']:.3f}" if fidelity else ""),
                flush=True,
            )
    ratios = [result["thermal_ratio"] for result in results.values()]
    return {
        "column": column,
        "variants": results,
        "min": min(ratios),
        "median": statistics.median(ratios),
        "max": max(ratios),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--beams", type=int, nargs="+", default=[15, 20, 14])
    parser.add_argument("--variants", default=json.dumps(VARIANTS), help="JSON: name -> changes")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/clean_spread.json")
    parser.add_argument(
        "--fidelity", action="store_true", help="also the restored image's fidelity"
    )
    args = parser.parse_args()
    variants = json.loads(args.variants)
    record = {
        "run_dir": str(args.run_dir),
        "machine": platform.node(),
        "beams": {
            str(beam): spread_beam(args.run_dir, beam, variants, args.fidelity)
            for beam in args.beams
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
