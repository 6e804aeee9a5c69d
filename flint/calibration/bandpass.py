"""Bandpass calibration of one beam on PKS B1934-638: flag -> solve -> apply -> flag.

Each round flags (aoflagger on the raw data in round 1, on the corrected data after),
then solves XX and YY gains with StEFCal on the *raw* data with the current flags.
The raw measurement set is never modified: flags and corrected data live in a copy.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flint.calibration.jones import correct, diagonal_to_jones
from flint.calibration.model import (
    PointSky,
    calibrator_sky,
    calibrator_visibilities,
    check_calibrator_in_field,
    field_centre_deg,
)
from flint.calibration.repair import choose_reference_antenna, reference_phase
from flint.calibration.solutions import AOSolutions, read_solutions, write_solutions
from flint.calibration.stefcal import accumulate, empty_equations, stefcal
from flint.errors import MeasurementSetError
from flint.flagging import flag_basic, flag_statistics, run_aoflagger, set_flags
from flint.flagging.aoflagger import calibrator_strategy
from flint.identity import Recipe, digest
from flint.ms import add_column, open_ms, require_columns, row_chunks, writable_copy
from flint.options import BaseOptions

logger = logging.getLogger(__name__)

SOLVE_CHUNK_BYTES = 16 * 2**20
"""DATA read at a time by the solver, into a buffer that is reused (stays in cache)."""


class BandpassOptions(BaseOptions):
    """How to solve a bandpass on a calibrator scan."""

    calibrator: str = "B1934-638"
    """Name of the calibrator whose shipped model is used."""
    rounds: int = 3
    """Rounds of flag -> solve -> apply."""
    aoflagger: bool = True
    """Flag with aoflagger (ASKAP strategy) in every round."""
    keep_input_flags: bool = True
    """Keep the flags already in the measurement set."""
    flag_antennas: tuple[str, ...] = ()
    """Antennas (names) to flag completely."""
    min_baselines: int = 4
    """An antenna needs this many unflagged baselines in a channel to be solved."""
    max_iterations: int = 200
    tolerance: float = 1e-10
    max_offset_deg: float = 1.0
    """The calibrator must be within this distance of the phase centre."""
    reference_antenna: str | None = None
    """Antenna whose phase is zero (default: the one with the most solutions)."""
    data_column: str = "DATA"


@dataclass(frozen=True)
class BandpassResult:
    """What :func:`solve_bandpass` produced for one beam."""

    solutions_path: Path
    working_ms: Path | None
    rounds: int
    flag_fraction: float
    """Fraction of cross-correlation visibilities flagged after the last round."""
    solved_fraction: float
    """Fraction of XX/YY gains that are finite."""
    noise_sigma: float
    """Median estimated rms of one raw visibility."""
    skipped: bool = False


def _ms_shape(ms: Path) -> tuple[int, np.ndarray, list[int], tuple[float, float]]:
    with open_ms(ms, "ANTENNA") as tab:
        n_ant = tab.nrows()
    with open_ms(ms, "SPECTRAL_WINDOW") as tab:
        if tab.nrows() != 1:
            raise MeasurementSetError(f"{tab.nrows()} spectral windows; expected 1", ms)
        frequencies = tab.getcell("CHAN_FREQ", 0)
    with open_ms(ms, "POLARIZATION") as tab:
        corr = [int(c) for c in tab.getcell("CORR_TYPE", 0)]
    if corr not in ([9, 10, 11, 12], [9, 12]):
        raise MeasurementSetError(f"correlations {corr}; expected linear XX, (XY, YX,) YY", ms)
    with open_ms(ms) as tab:
        times = tab.getcol("TIME")
    return n_ant, frequencies, corr, (float(times.min()), float(times.max()))


def _solve_once(
    ms: Path, sky: PointSky, n_ant: int, frequencies: np.ndarray, options: BandpassOptions
):
    """One pass over the MS: accumulate the XX and YY normal equations, then StEFCal.

    DATA and FLAG are read in row chunks into reused buffers (all correlations: casacore's
    strided slices are slower than whole cells) and the kernel picks XX and YY itself.
    """
    centre = field_centre_deg(ms)
    equations = empty_equations(len(frequencies), 2, n_ant)
    with open_ms(ms) as tab:
        n_rows = tab.nrows()
        cell = tab.getcell(options.data_column, 0) if n_rows else np.zeros((1, 4), np.complex64)
        chunk = max(1, min(n_rows, SOLVE_CHUNK_BYTES // max(cell.nbytes, 1)))
        data = np.empty((chunk, *cell.shape), cell.dtype)
        flags = np.empty((chunk, *cell.shape), bool)
        for start in range(0, n_rows, chunk):
            rows = min(chunk, n_rows - start)
            tab.getcolnp(options.data_column, data[:rows], startrow=start, nrow=rows)
            tab.getcolnp("FLAG", flags[:rows], startrow=start, nrow=rows)
            uvw = tab.getcol("UVW", startrow=start, nrow=rows)
            model = calibrator_visibilities(uvw, frequencies, sky, centre)
            accumulate(
                data[:rows],
                model[..., None],
                tab.getcol("ANTENNA1", startrow=start, nrow=rows),
                tab.getcol("ANTENNA2", startrow=start, nrow=rows),
                n_ant,
                flags=flags[:rows],
                into=equations,
                correlations=(0, -1),
            )
    if not equations.count.any():
        raise MeasurementSetError("every cross-correlation visibility is flagged", ms)
    return stefcal(
        equations,
        max_iterations=options.max_iterations,
        tolerance=options.tolerance,
        min_baselines=options.min_baselines,
    )


def write_corrected(ms: Path, jones: np.ndarray, data_column: str = "DATA") -> None:
    """Write ``CORRECTED_DATA = J_p^-1 DATA J_q^-H`` into a working copy (4 correlations)."""
    add_column(ms, "CORRECTED_DATA", like=data_column, fill=None, exist_ok=True)
    with open_ms(ms, readonly=False) as tab:
        for start, rows in row_chunks(tab):
            data = tab.getcol(data_column, startrow=start, nrow=rows)
            ant1 = tab.getcol("ANTENNA1", startrow=start, nrow=rows)
            ant2 = tab.getcol("ANTENNA2", startrow=start, nrow=rows)
            corrected = correct(data, jones, ant1, ant2)
            bad = ~np.isfinite(corrected)
            corrected[bad] = 0
            tab.putcol("CORRECTED_DATA", corrected.astype(data.dtype), startrow=start, nrow=rows)
            if bad.any():
                flags = tab.getcol("FLAG", startrow=start, nrow=rows)
                tab.putcol("FLAG", flags | bad.any(-1, keepdims=True), startrow=start, nrow=rows)


def solve_bandpass(
    ms: str | os.PathLike[str],
    solutions_path: str | os.PathLike[str],
    options: BandpassOptions | None = None,
    work_dir: str | os.PathLike[str] | None = None,
    sky: PointSky | None = None,
    overwrite: bool = False,
) -> BandpassResult:
    """Solve the bandpass of one beam's calibrator scan and write MWAOCAL solutions.

    The flagged working copy is ``<work_dir>/<ms name>.flagged.ms`` (default: next to
    ``solutions_path``). Solutions made from the same scan, options, sky and flagging
    strategy are reused unless ``overwrite`` (:class:`flint.identity.Recipe`).
    """
    options = options or BandpassOptions()
    ms, solutions_path = Path(ms), Path(solutions_path)
    recipe = Recipe.of(
        "bandpass",
        {"ms": ms, "strategy": calibrator_strategy()},
        {"options": options, "sky": None if sky is None else digest(sky)},
        tools=("aoflagger",) if options.aoflagger else (),
    )
    if not overwrite and recipe.made(solutions_path):
        existing = read_solutions(solutions_path)
        logger.info("Bandpass solutions %s exist; skipping", solutions_path)
        diagonal = existing.gains[..., [0, -1]]
        return BandpassResult(
            solutions_path,
            None,
            0,
            float("nan"),
            float(np.isfinite(diagonal).mean()),
            float("nan"),
            skipped=True,
        )
    require_columns(ms, options.data_column, "FLAG", "UVW")
    sky = sky or calibrator_sky(options.calibrator)
    check_calibrator_in_field(ms, sky, options.max_offset_deg)
    n_ant, frequencies, corr, (start_time, end_time) = _ms_shape(ms)
    work_dir = Path(work_dir) if work_dir else solutions_path.parent
    working = writable_copy(ms, work_dir / f"{ms.stem}.flagged.ms", overwrite=True)
    try:
        if not options.keep_input_flags:
            set_flags(working, False)
        flag_basic(working, antennas=options.flag_antennas, column=options.data_column)
        result = None
        for round_number in range(1, options.rounds + 1):
            if options.aoflagger:
                column = options.data_column if result is None else "CORRECTED_DATA"
                run_aoflagger(
                    working,
                    column=column,
                    keep_input_flags=True,
                    strategy=calibrator_strategy(),
                    log_path=solutions_path.with_name(
                        f"{solutions_path.name}.aoflagger-round{round_number}.log"
                    ),
                )
            result = _solve_once(working, sky, n_ant, frequencies, options)
            jones = diagonal_to_jones(result.gains.transpose(2, 0, 1))  # [ant, chan, 4]
            logger.info(
                "Round %d/%d: %.1f %% of gains solved, noise %.3g",
                round_number,
                options.rounds,
                100 * np.isfinite(result.gains).mean(),
                np.nanmedian(result.noise_sigma),
            )
            if round_number < options.rounds and len(corr) == 4:
                write_corrected(working, jones, options.data_column)
    except Exception:
        logger.error("Bandpass of %s failed; removing working copy %s", ms, working)
        shutil.rmtree(working, ignore_errors=True)
        raise
    if not np.isfinite(result.gains).any():
        raise MeasurementSetError("no antenna could be solved in any channel", ms)
    if options.reference_antenna is None:
        reference = choose_reference_antenna(jones)
    else:
        with open_ms(ms, "ANTENNA") as tab:
            names = list(tab.getcol("NAME"))
        if options.reference_antenna not in names:
            raise MeasurementSetError(f"no reference antenna {options.reference_antenna}", ms)
        reference = names.index(options.reference_antenna)
    jones = reference_phase(jones, reference)
    jones[~np.isfinite(jones).all(-1)] = np.nan
    solutions = AOSolutions(jones[None], start_time=start_time, end_time=end_time)
    write_solutions(solutions, solutions_path, overwrite=True)
    recipe.record(solutions_path)
    statistics = flag_statistics(working)
    return BandpassResult(
        solutions_path=solutions_path,
        working_ms=working,
        rounds=options.rounds,
        flag_fraction=statistics.overall,
        solved_fraction=float(np.isfinite(result.gains).mean()),
        noise_sigma=float(np.nanmedian(result.noise_sigma)),
    )
