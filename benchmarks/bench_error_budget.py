"""Where a beam's excess over the thermal limit comes from: parts of the true sky and the gains.

Takes a finished demo run (``flint demo --output DIR`` or ``bench_pipeline.py --workdir
DIR``) and, for each beam, copies its working copy (:mod:`flint.working`) with the final
round's gains applied and its simulated noise rebuilt (NOISE_DATA), builds the data of each
case in a column of its own and images it again with the final round's settings (changes
given with ``--imaging``), and its noise alone cleaned the same way (``clean_floor``: what
that clean leaves of the noise alone, the ratio a perfect model of the sky would reach with
those settings). The true visibilities are the simulator's own DFT predict (primary beam
included). Cases:

- ``none``: the run's own data (the final round's column: PEELED_DATA when it subtracted
  the outside; reproduces the run's ratio);
- ``outside``: DATA less every true component outside the image (what peeling or a larger
  image must handle);
- ``outside+bright``: and every component inside brighter than ``--bright-jy`` (apparent);
- ``outside+extended``: and every Gaussian (resolved) component inside;
- ``all``: DATA less the whole true sky: the gains' errors on the sky and the noise;
- ``perfect_gains``: the true inside sky plus the noise, no gain errors, nothing outside:
  what the final image's deconvolution alone reaches;
- ``gain_errors``: the same inside sky corrupted by the run's own gain errors (its final
  gains' phases less the simulated ones), plus the noise: ``perfect_gains`` against this
  says what the self-calibration's errors cost;
- ``constant_errors`` / ``varying_errors``: the same with only those errors' mean over time
  per antenna, or only the rest: which part costs.

Each beam also reports the final gains' phase errors against the simulated phases, a
phase gradient across the array (a position shift, harmless) removed per interval: their
rms over antennas of the part constant in time and of the part that varies.

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
CASES = (
    "none", "outside", "outside+bright", "outside+extended", "all", "perfect_gains", "gain_errors",
    "constant_errors", "varying_errors",
)  # fmt: skip
GAIN_CASES = ("perfect_gains", "gain_errors", "constant_errors", "varying_errors")
"""Cases that image the true inside sky plus the run's noise, corrupted by (part of) the
run's gain errors: none, all, their mean over time per antenna, or the rest."""
"""Cases that image; ``--cases gains`` only compares the final gains with the simulated ones."""
BUDGET_COLUMN = "BUDGET_DATA"


def _select(case: str, sky, outside: np.ndarray, apparent: np.ndarray, bright_jy: float):
    """Components whose true visibilities are subtracted from DATA in ``case``."""
    extended = sky.kinds == "gaussian"
    return {
        "outside": outside,
        "outside+bright": outside | (apparent > bright_jy),
        "outside+extended": outside | extended,
        "all": np.ones(len(sky), dtype=bool),
    }[case]


def _geometry(ms: Path, sky):
    """``ms``'s channel frequencies and, for ``sky``: offsets from the phase centre (deg),
    direction cosines [comp, 3] and Gaussian shapes [comp, 3] (rad; zeros for points)."""
    from casacore.tables import table

    from flint.simulation.predict import direction_cosines

    with table(str(ms / "FIELD"), ack=False) as field:
        ra0, dec0 = field.getcol("PHASE_DIR")[0, 0]
    with table(str(ms / "SPECTRAL_WINDOW"), ack=False) as window:
        frequencies = window.getcol("CHAN_FREQ")[0]
    offsets = sky.separation_deg(math.degrees(ra0) % 360.0, math.degrees(dec0))
    lmn = direction_cosines(np.deg2rad(sky.ra_deg), np.deg2rad(sky.dec_deg), ra0, dec0)
    shape = np.deg2rad(
        np.column_stack([sky.major_arcsec / 3600.0, sky.minor_arcsec / 3600.0, sky.pa_deg])
    )
    shape[sky.kinds != "gaussian"] = 0.0
    return frequencies, offsets, lmn, shape


def _predict(ms: Path, frequencies, lmn, flux, shape) -> np.ndarray:
    """Stokes-I visibilities [row, channel] of components for ``ms`` (the simulator's DFT)."""
    from casacore.tables import table

    from flint.simulation.predict import predict_dft

    with table(str(ms), ack=False) as main:
        return predict_dft(main.getcol("UVW"), frequencies, lmn, flux, shape)


def _true_visibilities(ms: Path, sky, options) -> np.ndarray:
    """The simulator's Stokes-I visibilities [row, channel] of ``sky`` for ``ms``."""
    from flint.simulation.beam import pb_gain

    frequencies, offsets, lmn, shape = _geometry(ms, sky)
    flux = sky.flux_at(frequencies) * pb_gain(offsets, frequencies, options)
    return _predict(ms, frequencies, lmn, flux, shape)


def _phase_errors(solved: np.ndarray, true_phases: np.ndarray) -> np.ndarray:
    """[time, antenna] solved less true phases, less their mean phase per time."""
    if len(solved) != len(true_phases):  # one solution over several integrations
        solved = np.repeat(solved, math.ceil(len(true_phases) / len(solved)), axis=0)
    errors = np.exp(1j * (solved[: len(true_phases)] - true_phases))
    common = errors.mean(axis=1, keepdims=True)  # what no baseline sees: one phase per time
    return np.angle(errors * np.conj(common / np.abs(common)))


def _without_gradient(ms: Path, errors: np.ndarray) -> np.ndarray:
    """``errors`` less a phase gradient across the array fitted per time (a position shift)."""
    from casacore.tables import table

    with table(str(ms / "ANTENNA"), ack=False) as antennas:
        positions = antennas.getcol("POSITION")
    design = np.column_stack([np.ones(len(positions)), positions - positions.mean(axis=0)])
    fit = np.linalg.lstsq(design, errors.T, rcond=None)[0]
    return errors - (design @ fit).T


def _weighted_rms(ms: Path, errors: np.ndarray, taper_lambda: float | None) -> dict:
    """RMS (deg) over baselines and times of the phase errors ``errors`` [time, antenna] give
    each baseline, weighted as a Gaussian uv taper of sigma ``taper_lambda`` weights it (the
    images' view of them: outer antennas' errors barely reach a tapered image): of the
    errors' mean over time, and of the rest."""
    from casacore.tables import table

    with table(str(ms), ack=False) as main:
        ant1, ant2 = main.getcol("ANTENNA1"), main.getcol("ANTENNA2")
        times, uvw = main.getcol("TIME"), main.getcol("UVW")
    with table(str(ms / "SPECTRAL_WINDOW"), ack=False) as window:
        centre_hz = float(window.getcol("CHAN_FREQ")[0].mean())
    index = np.searchsorted(np.unique(times), times)
    weight = (ant1 != ant2).astype(float)
    if taper_lambda is not None:
        uv_lambda = np.hypot(uvw[:, 0], uvw[:, 1]) * centre_hz / 299_792_458.0
        weight *= np.exp(-0.5 * (uv_lambda / taper_lambda) ** 2)
    constant = errors.mean(axis=0, keepdims=True)
    parts = {"constant": np.broadcast_to(constant, errors.shape), "varying": errors - constant}
    return {
        f"weighted_{name}_rms": round(
            float(
                np.degrees(
                    np.sqrt(
                        np.sum(weight * (part[index, ant1] - part[index, ant2]) ** 2) / weight.sum()
                    )
                )
            ),
            2,
        )
        for name, part in parts.items()
    }


def _fill_case(ms: Path, case: str, sky, chosen, truth_inside, errors, options) -> None:
    """Write ``case``'s data into BUDGET_DATA of ``ms`` (XX and YY hold Stokes I)."""
    from casacore.tables import table

    from flint.ms.columns import add_column

    add_column(ms, BUDGET_COLUMN, like="DATA", fill=None, exist_ok=True)
    with table(str(ms), readonly=False, ack=False) as main:
        if case in GAIN_CASES:
            model = truth_inside
            if case != "perfect_gains":
                times = main.getcol("TIME")
                index = np.searchsorted(np.unique(times), times)
                ant1, ant2 = main.getcol("ANTENNA1"), main.getcol("ANTENNA2")
                model = model * np.exp(-1j * (errors[index, ant1] - errors[index, ant2]))[:, None]
            data = main.getcol("NOISE_DATA")
            data[:, :, 0] += model
            data[:, :, 3] += model
        else:
            data = main.getcol("DATA")
            model = _true_visibilities(ms, sky.select(chosen), options)
            data[:, :, 0] -= model
            data[:, :, 3] -= model
        main.putcol(BUDGET_COLUMN, data)


def _final_copy(run_dir: Path, beam: int, final: int, scratch: Path) -> tuple[Path, Path]:
    """``beam``'s working copy, copied into ``scratch`` with the final round's gains applied
    and NOISE_DATA rebuilt; and those gains."""
    from flint.working.gains import apply_gains, fill_noise

    beam_dir = run_dir / "continuum" / f"beam{beam}"
    source = next(path for path in beam_dir.glob("*.ms") if path.is_dir())
    gains = next(beam_dir.glob(f"gains/*round{final}.gains.bin"))
    ms = scratch / source.name
    shutil.copytree(source, ms)
    for sidecar in source.parent.glob(source.name + ".*"):
        copy = shutil.copytree if sidecar.is_dir() else shutil.copyfile
        copy(sidecar, scratch / sidecar.name)
    apply_gains(ms, gains)
    fill_noise(ms)
    return ms, gains


def budget_beam(run_dir: Path, beam: int, cases, imaging_changes: dict, bright_jy: float) -> dict:
    """Thermal ratio of ``beam``'s final round in each case."""
    from casacore.tables import table

    from flint.calibration.solutions import read_solutions
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
    options = options_for_round(strategy, "imaging", final).with_options(**imaging_changes)
    truth = next(run_dir.glob(f"data/field/SB*/truth/*beam{beam:02d}.sky.fits"))
    sky = read_sky(truth)
    corruptions = np.load(next(truth.parent.glob(f"*beam{beam:02d}.corruptions.npz")))
    manifest = json.loads((truth.parent / "manifest.json").read_text())
    simulated = SimulationOptions.model_validate(manifest["options"])
    results = {}
    with tempfile.TemporaryDirectory(dir=run_dir) as scratch:
        work = Path(scratch)
        ms, gains = _final_copy(run_dir, beam, final, work)
        with table(str(ms / "FIELD"), ack=False) as field:
            ra0, dec0 = (math.degrees(value) for value in field.getcol("PHASE_DIR")[0, 0])
        with table(str(ms / "SPECTRAL_WINDOW"), ack=False) as window:
            centre_hz = float(window.getcol("CHAN_FREQ")[0].mean())
        with table(str(ms), ack=False) as main:
            own_column = "PEELED_DATA" if "PEELED_DATA" in main.colnames() else "DATA"
        east, north = lm_offsets(sky.ra_deg, sky.dec_deg, ra0 % 360.0, dec0)
        half = math.sin(math.radians(image_width_deg(options) / 2))
        outside = (np.abs(east) > half) | (np.abs(north) > half)
        offsets = sky.separation_deg(ra0 % 360.0, dec0)
        apparent = sky.flux_at([centre_hz])[:, 0] * pb_gain(offsets, [centre_hz], simulated)[:, 0]
        errors = _phase_errors(
            np.angle(read_solutions(gains).gains[:, :, 0, 0]), corruptions["phases_rad"]
        )
        residual = _without_gradient(ms, errors)
        # weighted as the final round's solve weights baselines (the demo: as its images do)
        taper_lambda = options_for_round(strategy, "gain_solve", final).uv_taper_lambda
        weighted = _weighted_rms(ms, residual, taper_lambda)
        truth_inside = None
        if set(GAIN_CASES) & set(cases):
            truth_inside = _true_visibilities(ms, sky.select(~outside), simulated)
        for case in (case for case in cases if case != "gains"):
            chosen = np.zeros(len(sky), dtype=bool)
            if case == "none":
                column = own_column
            else:
                column = BUDGET_COLUMN
                if case not in GAIN_CASES:
                    chosen = _select(case, sky, outside, apparent, bright_jy)
                constant_part = errors.mean(axis=0, keepdims=True)
                case_errors = {
                    "constant_errors": np.broadcast_to(constant_part, errors.shape),
                    "varying_errors": errors - constant_part,
                }.get(case, errors)
                _fill_case(ms, case, sky, chosen, truth_inside, case_errors, simulated)
            start = time.perf_counter()
            image = run_wsclean(
                ms,
                options.with_options(data_column=column, no_update_model_required=True),
                work / case,
                "image",
                channel_kinds=(),
                skip_existing=False,
            )
            seconds = time.perf_counter() - start
            noise = run_wsclean(  # cleaned as the data: its dirty image is the thermal limit,
                ms,  # its residual what the same clean leaves of the noise alone
                options.with_options(
                    data_column="NOISE_DATA", no_update_model_required=True, no_dirty=False
                ),
                work / "noise",  # the same for every case: made once
                "noise",
                channel_kinds=(),
            )
            ratio = thermal_limit(image.residual, noise.dirty, noise_residual=noise.residual)
            results[case] = {
                "column": column,
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
    constant = residual.mean(axis=0)
    return {
        "components": len(sky),
        "outside_image": int(outside.sum()),
        "image_width_deg": round(image_width_deg(options), 3),
        "gain_phase_error_deg": {
            "constant_rms": round(float(np.degrees(constant.std())), 2),
            "varying_rms": round(float(np.degrees((residual - constant).std())), 2),
            "worst_antennas": {
                str(int(a)): round(float(np.degrees(constant[a])), 1)
                for a in np.argsort(-np.abs(constant))[:5]
            },
            **weighted,
        },
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
    unknown = sorted(set(cases) - set(CASES) - {"gains"})
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
