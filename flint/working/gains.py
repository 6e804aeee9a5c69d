"""Reversible changes of a working copy: self-calibration gains applied to DATA in place, and
the simulated noise rebuilt from the raw data for the thermal-limit image.

Gains are applied to DATA where it is: the copy holds DATA as the bandpass left it times the
inverse of at most one set of gains, whose values are kept beside it
(``<ms>.steps/applied.bin``). Applying other gains (or none) first undoes those, so any
round's data can be had again without a second copy; which gains are applied is not part of
the copy's identity (each step that reads DATA says which it needs).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flint.askap.preprocess import correlation_converter
from flint.calibration.apply import check_compatible, jones_of, solution_intervals
from flint.calibration.jones import invert_jones, sandwich_rows
from flint.calibration.solutions import AOSolutions, read_solutions
from flint.errors import MeasurementSetError
from flint.identity import identity
from flint.ms.access import open_ms, row_chunks
from flint.ms.columns import add_column
from flint.ms.layout import PREPROCESSED_KEYWORD
from flint.working.copy import ensure_clean
from flint.working.record import (
    APPLIED,
    REBUILD,
    TRANSIENT,
    applied_gains_path,
    changing,
    ledger,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AppliedGains:
    """Which gains a working copy's DATA holds applied."""

    ms: Path
    gains_path: Path | None
    skipped: bool = False
    """They were applied already."""


def applied_solutions(ms: str | os.PathLike[str], record: dict | None = None) -> AOSolutions | None:
    """The gains applied to DATA of working copy ``ms`` (None: only the bandpass)."""
    record = record if record is not None else ensure_clean(ms)
    if not record.get(APPLIED):
        return None
    return read_solutions(applied_gains_path(ms))


class _Correction:
    """``J^-1 V J^-H`` (or ``J V J^H`` with ``undo``) of one set of solutions, row by row."""

    def __init__(self, solutions: AOSolutions, undo: bool = False) -> None:
        jones = jones_of(solutions)
        self.solutions = solutions
        self.jones = jones if undo else invert_jones(jones)

    def __call__(self, data, times, ant1, ant2):
        which = solution_intervals(times, self.solutions)
        return sandwich_rows(data, self.jones, ant1, ant2, which, dtype=np.complex128)


def _rewrite_column(
    ms: Path, column: str, corrections, source=None, convert=None, flag: bool = True
) -> float:
    """Write ``corrections`` (applied in order) of ``source``'s ``column`` (default: ``ms``'s)
    into ``column`` of ``ms``: non-finite results are zeroed (and flagged, with ``flag``).
    The fraction newly flagged."""
    flagged = total = 0
    with contextlib.ExitStack() as stack:
        tab = stack.enter_context(open_ms(ms, readonly=False))
        reading = tab if source is None else stack.enter_context(open_ms(source))
        if reading.nrows() != tab.nrows():
            raise MeasurementSetError(
                f"{source} has {reading.nrows()} rows, the working copy {tab.nrows()}", ms
            )
        for start, rows in row_chunks(tab):
            data = reading.getcol(column, startrow=start, nrow=rows)
            if convert is not None:
                data = convert(data)
            if corrections:
                times = tab.getcol("TIME", startrow=start, nrow=rows)
                ant1 = tab.getcol("ANTENNA1", startrow=start, nrow=rows)
                ant2 = tab.getcol("ANTENNA2", startrow=start, nrow=rows)
                values = data
                for correction in corrections:
                    values = correction(values, times, ant1, ant2)
                bad = ~np.isfinite(values).all(-1, keepdims=True)
                if bad.any():
                    values[np.broadcast_to(bad, values.shape)] = 0
                if bad.any() and flag:
                    flags = tab.getcol("FLAG", startrow=start, nrow=rows)
                    flagged += int(np.count_nonzero(bad & ~flags.all(-1, keepdims=True)))
                    tab.putcol("FLAG", flags | bad, startrow=start, nrow=rows)
                total += bad.size
                data = values.astype(data.dtype)
            tab.putcol(column, data, startrow=start, nrow=rows)
    return flagged / max(total, 1)


def apply_gains(
    ms: str | os.PathLike[str], gains_path: str | os.PathLike[str] | None
) -> AppliedGains:
    """Make DATA of working copy ``ms`` hold the bandpass-calibrated data corrected by
    ``gains_path`` (None: by no gains), undoing the gains applied before, in place."""
    ms = Path(ms)
    record = ensure_clean(ms)
    gains_path = None if gains_path is None else Path(gains_path).absolute()
    wanted = None if gains_path is None else identity(gains_path)
    current = record.get(APPLIED) or {}
    if current.get("identity") == wanted:
        return AppliedGains(ms, gains_path, skipped=True)
    corrections = []
    if current:
        corrections.append(_Correction(read_solutions(applied_gains_path(ms)), undo=True))
    if gains_path is not None:
        solutions = read_solutions(gains_path)
        check_compatible(ms, solutions)
        corrections.append(_Correction(solutions))
    with changing(ms, REBUILD, "gains") as changed:
        fraction = _rewrite_column(ms, "DATA", corrections)
        kept = applied_gains_path(ms)
        kept.parent.mkdir(parents=True, exist_ok=True)
        if gains_path is None:
            kept.unlink(missing_ok=True)
            changed.pop(APPLIED, None)
        else:
            shutil.copyfile(gains_path, kept)
            changed[APPLIED] = {"identity": wanted, "path": str(gains_path)}
    logger.info(
        "%s: DATA now corrected by %s (%.3f %% newly flagged)",
        ms, gains_path or "the bandpass alone", 100 * fraction,
    )  # fmt: skip
    return AppliedGains(ms, gains_path)


def fill_noise(ms: str | os.PathLike[str], column: str = "NOISE_DATA") -> None:
    """Add ``column`` to working copy ``ms``: the raw data's simulated noise alone, taken
    through what DATA went through (preprocessing, bandpass, the applied gains).

    The copy does without the noise while it is worked on (:data:`DROPPED_COLUMNS`); the
    thermal-limit image needs it once, calibrated as the data are.
    """
    ms = Path(ms)
    record = ensure_clean(ms)
    source = Path(record["source"])
    with open_ms(source) as tab:
        if column not in tab.colnames():
            raise MeasurementSetError(f"no {column} column (not a simulation)", source)
    if record.get("field"):
        raise MeasurementSetError("the noise of a field selection cannot be rebuilt", ms)
    with open_ms(ms) as tab:
        done = tab.getkeyword(PREPROCESSED_KEYWORD)
    steps = done.get("steps", [])
    convert = correlation_converter(
        float(done.get("pol_axis_deg", 0.0)), "rotation" in steps, "stokes factor" in steps
    )
    corrections = [
        _Correction(read_solutions(entry["args"]["solutions"]))
        for entry in ledger(record)
        if entry["step"] == "bandpass"
    ]
    applied = applied_solutions(ms, record)
    if applied is not None:
        corrections.append(_Correction(applied))
    with changing(ms, TRANSIENT, column):
        add_column(ms, column, like="DATA", fill=None, exist_ok=True)
        _rewrite_column(ms, column, corrections, source=source, convert=convert, flag=False)
    logger.info("%s: %s rebuilt from %s", ms, column, source)
