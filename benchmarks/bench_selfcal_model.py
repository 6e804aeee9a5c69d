"""What in the self-calibration model makes the gains wrong: solve against models of the sky.

Takes a finished demo run (``flint demo --output DIR`` or ``bench_pipeline.py --workdir
DIR``) and, for each beam, solves the final round's gains again on the same data (its
working copy, as :func:`flint.selfcal.gains.compute_selfcal_gains` does in the flow, with
the final round's ``gain_solve`` options) against each model, and compares the phases
with the simulated ones (``bench_error_budget.py``'s measure: a phase gradient across the
array, a position shift, removed; rms over antennas of the part constant in time and of
the part that varies). Models:

- ``truth``: the true sky, inside the image and beyond it;
- ``truth_inside``: the true sky inside the final image only;
- ``flat2``: the inside truth with a flat spectrum in each of 2 sub-bands (the
  self-calibration rounds' images have 2);
- ``above3mJy``: the inside truth above 3 mJy apparent only (a clean's depth);
- ``points``: the inside truth with every Gaussian as a point;
- ``grid12``, ``grid6``: the inside truth as points moved to the centre of the image's
  pixel, 12" (the demo's) or 6" (what clean components on a pixel grid cannot place);
- ``round1``: the flow's own model for the final round's gains (round 1's image);
- ``final``: the final round's image model (and the outside model it subtracted), as a
  further round would solve against it;
- ``catalogue``: the final image's source-finder components (apparent fluxes, flat
  spectra, sizes deconvolved from the restoring beam);
- ``catalogue_constant``: the run's own final gains, times one phase per antenna for the
  whole observation solved against those components on the data the final gains correct
  (a two-stage solve: the time-varying part from the image's model, the constant part
  from fitted components).

Usage: python benchmarks/bench_selfcal_model.py RUN_DIR [--beams 14 20 ...]
[--models truth,round1] [--out benchmarks/results/selfcal_model.json]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import tempfile
from pathlib import Path

import numpy as np
from bench_error_budget import (  # benchmarks/ is on sys.path when run as a script
    _final_copy,
    _geometry,
    _phase_errors,
    _predict,
    _true_visibilities,
    _without_gradient,
)

ROOT = Path(__file__).resolve().parents[1]
MODELS = (
    "truth", "truth_inside", "flat2", "above3mJy", "points", "grid12", "grid6", "round1",
    "final", "catalogue", "catalogue_constant",
)  # fmt: skip


def _write_model(ms: Path, visibilities: np.ndarray) -> None:
    """MODEL_DATA of ``ms``: ``visibilities`` (Stokes I) in XX and YY."""
    from casacore.tables import table

    from flint.ms.columns import add_column

    add_column(ms, "MODEL_DATA", like="DATA", fill=None, exist_ok=True)
    with table(str(ms), readonly=False, ack=False) as main:
        data = np.zeros(main.getcol("DATA").shape, dtype=np.complex64)
        data[:, :, 0] = data[:, :, 3] = visibilities
        main.putcol("MODEL_DATA", data)


def _predict_variant(ms: Path, sky, options, variant: str) -> np.ndarray:
    """The inside truth changed as ``variant`` says, predicted for ``ms``."""
    from flint.simulation.beam import pb_gain

    frequencies, offsets, lmn, shape = _geometry(ms, sky)
    flux = sky.flux_at(frequencies) * pb_gain(offsets, frequencies, options)
    if variant == "flat2":
        halves = flux.reshape(len(flux), 2, -1).mean(axis=2)
        flux = np.repeat(halves, len(frequencies) // 2, axis=1)
    elif variant == "above3mJy":
        flux = flux * (flux.mean(axis=1) > 3e-3)[:, np.newaxis]
    elif variant == "points":
        shape[:] = 0.0
    elif variant.startswith("grid"):
        step = np.deg2rad(float(variant[4:]) / 3600.0)
        east, north = (np.round(lmn[:, axis] / step) * step for axis in (0, 1))
        lmn = np.column_stack(
            [east, north, -(east**2 + north**2) / (1.0 + np.sqrt(1.0 - east**2 - north**2))]
        )
        shape[:] = 0.0
    return _predict(ms, frequencies, lmn, flux, shape)


def solve_beam(run_dir: Path, beam: int, models) -> dict:
    """Phase errors of the final round's gains solved against each model."""
    from casacore.tables import table

    from flint.calibration.solutions import read_solutions
    from flint.demo import demo_strategy_path
    from flint.imaging.options import image_width_deg
    from flint.imaging.run import predict_model_column
    from flint.ms.columns import add_column
    from flint.selfcal.components import predict_components
    from flint.selfcal.gains import compute_selfcal_gains
    from flint.simulation.observation import SimulationOptions
    from flint.sky.io import read_sky
    from flint.sky.realistic import lm_offsets
    from flint.strategy import load_strategy, options_for_round

    strategy = load_strategy(demo_strategy_path())
    final = strategy.selfcal_rounds
    solve_options = options_for_round(strategy, "gain_solve", final)
    imaging = options_for_round(strategy, "imaging", final)
    truth = next(run_dir.glob(f"data/field/SB*/truth/*beam{beam:02d}.sky.fits"))
    sky = read_sky(truth)
    true_phases = np.load(next(truth.parent.glob(f"*beam{beam:02d}.corruptions.npz")))
    manifest = json.loads((truth.parent / "manifest.json").read_text())
    simulated = SimulationOptions.model_validate(manifest["options"])
    beam_dir = run_dir / "continuum" / f"beam{beam}"
    results = {}
    with tempfile.TemporaryDirectory(dir=run_dir) as scratch:
        ms, gains = _final_copy(run_dir, beam, final, Path(scratch))
        applied = read_solutions(gains)
        with table(str(ms / "FIELD"), ack=False) as field:
            ra0, dec0 = (math.degrees(value) for value in field.getcol("PHASE_DIR")[0, 0])
        with table(str(ms), ack=False) as main:
            outlier_column = "OUTLIER_DATA" in main.colnames()
        east, north = lm_offsets(sky.ra_deg, sky.dec_deg, ra0 % 360.0, dec0)
        half = math.sin(math.radians(image_width_deg(imaging) / 2))
        inside = (np.abs(east) <= half) & (np.abs(north) <= half)

        def errors_of(model_columns, constant_only: bool = False) -> dict:
            if constant_only:  # on the data as the final gains left them, times those gains
                options = solve_options.with_options(solint_s=None)
                solved = compute_selfcal_gains(ms, options, "DATA", model_columns, None)
                phases = np.angle(applied.gains[:, :, 0, 0]) + np.angle(solved.gains[:1, :, 0, 0])
            else:
                solved = compute_selfcal_gains(ms, solve_options, "DATA", model_columns, applied)
                phases = np.angle(solved.gains[:, :, 0, 0])
            residual = _without_gradient(ms, _phase_errors(phases, true_phases["phases_rad"]))
            constant = residual.mean(axis=0)
            return {
                "constant_rms_deg": round(float(np.degrees(constant.std())), 2),
                "varying_rms_deg": round(float(np.degrees((residual - constant).std())), 2),
            }

        applied_phases = np.angle(applied.gains[:, :, 0, 0])
        residual = _without_gradient(ms, _phase_errors(applied_phases, true_phases["phases_rad"]))
        results["flow"] = {
            "constant_rms_deg": round(float(np.degrees(residual.mean(axis=0).std())), 2),
            "varying_rms_deg": round(
                float(np.degrees((residual - residual.mean(axis=0)).std())), 2
            ),
        }
        for name in models:
            columns = ["MODEL_DATA"]
            if name == "truth":
                _write_model(ms, _true_visibilities(ms, sky, simulated))
            elif name == "truth_inside":
                _write_model(ms, _true_visibilities(ms, sky.select(inside), simulated))
            elif name in ("flat2", "above3mJy", "points", "grid12", "grid6"):
                _write_model(ms, _predict_variant(ms, sky.select(inside), simulated, name))
            elif name in ("round1", "final"):
                round_index = final - 1 if name == "round1" else final
                model = next(beam_dir.glob(f"images/*round{round_index}-MFS-model.fits"))
                add_column(ms, "MODEL_DATA", like="DATA", fill=None, exist_ok=True)
                predict_model_column(
                    ms,
                    str(model).removesuffix("-MFS-model.fits"),
                    options_for_round(strategy, "imaging", round_index),
                    amend_column=False,
                )
                if name == "final" and outlier_column:
                    columns.append("OUTLIER_DATA")
            elif name in ("catalogue", "catalogue_constant"):
                catalogue = next(beam_dir.glob(f"catalogues/*round{final}-MFS-image_comp.fits"))
                predict_components(ms, catalogue, "MODEL_DATA")  # as the flow does
            results[name] = errors_of(columns, constant_only=name == "catalogue_constant")
            print(f"beam {beam} {name}: {results[name]}", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--beams", type=int, nargs="+", default=[14, 20])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/selfcal_model.json")
    args = parser.parse_args()
    models = [model.strip() for model in args.models.split(",")]
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {', '.join(MODELS)}")
    record = {
        "run_dir": str(args.run_dir),
        "machine": platform.node(),
        "beams": {str(beam): solve_beam(args.run_dir, beam, models) for beam in args.beams},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
