"""Apply bandpass solutions to a science measurement set (into CORRECTED_DATA of a copy)."""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flint.atomic import atomic_path
from flint.calibration.jones import invert_jones, sandwich_rows
from flint.calibration.solutions import AOSolutions, read_solutions
from flint.errors import MeasurementSetError, SolutionsError
from flint.identity import Recipe
from flint.ms import add_column, open_ms, require_columns, row_chunks

logger = logging.getLogger(__name__)

APPLIED_KEYWORD = "FLINT_APPLIED_SOLUTIONS"
BEAM_PATTERN = re.compile(r"beam(\d+)", re.IGNORECASE)
ALSO_CORRECTED = ("NOISE_DATA",)
"""Columns corrected in place in the copy when present: a simulation's noise alone, so that
imaging it still gives the noise of the calibrated data (the thermal limit)."""


@dataclass(frozen=True)
class ApplyResult:
    """The calibrated copy and what was done to it."""

    ms: Path
    solutions_path: Path
    newly_flagged_fraction: float
    skipped: bool = False


def beam_of_ms(ms: str | os.PathLike[str]) -> int:
    """The beam (FEED1) of a single-beam measurement set."""
    with open_ms(ms) as tab:
        beams = np.unique(tab.getcol("FEED1"))
    if len(beams) != 1:
        raise MeasurementSetError(f"holds beams {beams.tolist()}; expected exactly one", ms)
    return int(beams[0])


def beam_of_name(path: str | os.PathLike[str]) -> int | None:
    """The beam number in a file name such as ``SB1.B1934-638.beam07.calibrate.bin``."""
    match = BEAM_PATTERN.search(Path(path).name)
    return None if match is None else int(match.group(1))


def match_solutions(
    ms: str | os.PathLike[str], candidates: Iterable[str | os.PathLike[str]]
) -> Path:
    """The solutions file among ``candidates`` whose name has the MS's beam number."""
    beam = beam_of_ms(ms)
    matches = [Path(c) for c in candidates if beam_of_name(c) == beam]
    if len(matches) != 1:
        raise SolutionsError(f"{len(matches)} solutions files for beam {beam}; expected one", ms)
    return matches[0]


def check_compatible(ms: str | os.PathLike[str], solutions: AOSolutions) -> None:
    """Raise SolutionsError unless antennas and channels of ``ms`` match ``solutions``.

    Solutions with a single channel (self-calibration gains) apply to every channel.
    """
    with open_ms(ms, "ANTENNA") as tab:
        n_ant = tab.nrows()
    with open_ms(ms, "SPECTRAL_WINDOW") as tab:
        n_chan = len(tab.getcell("CHAN_FREQ", 0))
    with open_ms(ms, "POLARIZATION") as tab:
        n_corr = len(tab.getcell("CORR_TYPE", 0))
    problems = []
    if solutions.n_ant != n_ant:
        problems.append(f"{solutions.n_ant} antennas in the solutions, {n_ant} in {ms}")
    if solutions.n_chan not in (1, n_chan):  # one channel: frequency-independent gains
        problems.append(f"{solutions.n_chan} channels in the solutions, {n_chan} in {ms}")
    if n_corr != 4:
        problems.append(f"{ms} has {n_corr} correlations; expected XX XY YX YY")
    if problems:
        raise SolutionsError("; ".join(problems), solutions.path)


def check_usable(ms: str | os.PathLike[str], solutions: AOSolutions) -> None:
    """Raise SolutionsError when ``solutions`` cannot calibrate ``ms``: every gain flagged
    (NaN), or time-dependent solutions whose intervals do not cover the data's times."""
    if not np.isfinite(solutions.gains).any():
        raise SolutionsError("every gain is NaN (flagged): nothing to apply", solutions.path)
    if solutions.n_sol > 1:
        with open_ms(ms) as tab:
            times = tab.getcol("TIME")
        if len(times) and (times.min() > solutions.end_time or times.max() < solutions.start_time):
            raise SolutionsError(
                f"solution times {solutions.start_time:.1f}-{solutions.end_time:.1f} s lie "
                f"outside the data's {times.min():.1f}-{times.max():.1f} s of {ms}",
                solutions.path,
            )


def jones_of(solutions: AOSolutions) -> np.ndarray:
    """Jones ``[nSol, nAnt, nChan, 4]`` from solutions of any nPol."""
    gains = solutions.gains
    if solutions.n_pol == 4:
        return gains
    jones = np.zeros((*gains.shape[:3], 4), complex)
    jones[..., 0] = gains[..., 0]
    jones[..., 3] = gains[..., -1]
    return jones


def _jones_inverse(solutions: AOSolutions) -> np.ndarray:
    """Inverse Jones ``[nSol, nAnt, nChan, 4]`` from solutions of any nPol."""
    gains = solutions.gains
    if solutions.n_pol == 4:
        jones = gains
    else:
        jones = np.zeros((*gains.shape[:3], 4), complex)
        jones[..., 0] = gains[..., 0]
        jones[..., 3] = gains[..., -1]
    return invert_jones(jones)


def solution_intervals(times: np.ndarray, solutions: AOSolutions) -> np.ndarray:
    """The solution interval of each time (MS seconds) in ``solutions``."""
    return _intervals(times, solutions)


def _intervals(times: np.ndarray, solutions: AOSolutions) -> np.ndarray:
    if solutions.n_sol == 1:
        return np.zeros(len(times), int)
    span = (solutions.end_time - solutions.start_time) / solutions.n_sol
    index = np.floor((times - solutions.start_time) / span).astype(int)
    return np.clip(index, 0, solutions.n_sol - 1)


def apply_solutions(
    ms: str | os.PathLike[str],
    solutions_path: str | os.PathLike[str],
    output_ms: str | os.PathLike[str],
    data_column: str = "DATA",
    overwrite: bool = False,
) -> ApplyResult:
    """Copy ``ms`` to ``output_ms`` and write ``J_p^-1 V J_q^-H`` into its CORRECTED_DATA.

    :data:`ALSO_CORRECTED` columns of the copy (simulated noise) get the same correction.

    Visibilities with flagged (NaN) solutions are flagged and set to zero. The copy is
    built under a temporary name; a finished copy made from the same data and solutions
    is reused unless ``overwrite`` (:class:`flint.identity.Recipe`).
    """
    ms, output_ms, solutions_path = Path(ms), Path(output_ms), Path(solutions_path)
    solutions = read_solutions(solutions_path)
    require_columns(ms, data_column, "FLAG")
    check_compatible(ms, solutions)
    check_usable(ms, solutions)
    recipe = Recipe.of(
        "apply",
        {"ms": ms, "solutions": solutions_path},
        {"data_column": data_column, "also_corrected": ALSO_CORRECTED},
    )
    if not overwrite and recipe.made(output_ms):
        logger.info("%s already calibrated with %s; skipping", output_ms, solutions_path)
        return ApplyResult(output_ms, solutions_path, float("nan"), skipped=True)
    inverse = _jones_inverse(solutions)
    with atomic_path(output_ms, overwrite=True) as working:
        shutil.copytree(ms, working, symlinks=True)
        fraction = _apply(working, inverse, solutions, data_column)
        with open_ms(working, readonly=False) as tab:
            tab.putkeyword(APPLIED_KEYWORD, str(solutions_path.resolve()))
    recipe.record(output_ms)
    logger.info(
        "Applied %s to %s (%.2f %% newly flagged)", solutions_path, output_ms, 100 * fraction
    )
    return ApplyResult(output_ms, solutions_path, fraction)


def apply_in_place(
    ms: str | os.PathLike[str], solutions_path: str | os.PathLike[str], data_column: str = "DATA"
) -> float:
    """Correct ``data_column`` of ``ms`` where it is; the fraction of data newly flagged.

    Only for a working copy flint made and tracks (:mod:`flint.working`): the data before
    the correction are gone. Visibilities with flagged (NaN) solutions are flagged and zeroed.
    """
    ms, solutions_path = Path(ms), Path(solutions_path)
    solutions = read_solutions(solutions_path)
    require_columns(ms, data_column, "FLAG")
    check_compatible(ms, solutions)
    check_usable(ms, solutions)
    fraction = _apply(ms, _jones_inverse(solutions), solutions, data_column, data_column, ())
    logger.info(
        "Applied %s to %s of %s in place (%.2f %% newly flagged)",
        solutions_path, data_column, ms, 100 * fraction,
    )  # fmt: skip
    return fraction


def _apply(
    working: Path,
    inverse: np.ndarray,
    solutions: AOSolutions,
    data_column: str,
    output_column: str = "CORRECTED_DATA",
    also: tuple[str, ...] = ALSO_CORRECTED,
) -> float:
    """Write the corrected data into ``output_column`` of ``working`` (in place); the
    fraction newly flagged. ``also`` columns are corrected where they are."""
    newly_flagged = 0
    total = 0
    if output_column != data_column:
        add_column(working, output_column, like=data_column, fill=None, exist_ok=True)
    with open_ms(working, readonly=False) as tab:
        also_corrected = [c for c in also if c in tab.colnames() and c != data_column]
        for start, rows in row_chunks(tab):
            data = tab.getcol(data_column, startrow=start, nrow=rows)
            flags = tab.getcol("FLAG", startrow=start, nrow=rows)
            ant1 = tab.getcol("ANTENNA1", startrow=start, nrow=rows)
            ant2 = tab.getcol("ANTENNA2", startrow=start, nrow=rows)
            interval = _intervals(tab.getcol("TIME", startrow=start, nrow=rows), solutions)
            corrected = sandwich_rows(data, inverse, ant1, ant2, interval, np.complex128)
            bad = ~np.isfinite(corrected).all(-1, keepdims=True)
            newly_flagged += int(np.count_nonzero(bad & ~flags.all(-1, keepdims=True)))
            total += bad.size
            corrected[np.broadcast_to(bad, corrected.shape)] = 0
            tab.putcol(output_column, corrected.astype(data.dtype), startrow=start, nrow=rows)
            for column in also_corrected:
                extra = tab.getcol(column, startrow=start, nrow=rows)
                extra = sandwich_rows(extra, inverse, ant1, ant2, interval, np.complex128)
                extra[np.broadcast_to(bad, extra.shape)] = 0
                tab.putcol(column, extra.astype(data.dtype), startrow=start, nrow=rows)
            if bad.any():
                tab.putcol("FLAG", flags | bad, startrow=start, nrow=rows)
    return newly_flagged / max(total, 1)
