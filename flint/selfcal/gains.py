"""Self-calibration gains: solve per-antenna gains against the model of the last image.

Gains are solved per solution interval (and per channel group), sharing one value
across all channels of a group, with the StEFCal solver of
:mod:`flint.calibration.stefcal`. They are written as MWAOCAL solutions (one
solution per interval), so :func:`flint.calibration.apply_solutions` applies them.
Each round solves on the bandpass-calibrated ``DATA`` with the newest model; gains
do not accumulate from round to round.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flint.calibration.apply import jones_of, solution_intervals
from flint.calibration.jones import sandwich_rows
from flint.calibration.repair import reference_phase
from flint.calibration.solutions import AOSolutions, write_solutions
from flint.calibration.stefcal import NormalEquations, accumulate, empty_equations, stefcal
from flint.errors import MeasurementSetError
from flint.identity import Recipe
from flint.ms import open_ms, require_columns, row_chunks
from flint.strategy.stages import GainSolveOptions

logger = logging.getLogger(__name__)

SPEED_OF_LIGHT = 299_792_458.0
DIAGONAL = [0, 3]  # XX, YY of XX XY YX YY


@dataclass(frozen=True)
class SelfcalGains:
    """Where the gains went and how large the corrections were."""

    solutions_path: Path
    n_intervals: int
    phase_rms_deg: float
    """RMS of the unflagged gain phases after referencing: how much was corrected."""
    amplitude_rms: float
    """RMS of |g| - 1 (zero for phase-only solving)."""
    skipped: bool = False


def _channel_groups(n_chan: int, channels_per_solution: int | None) -> np.ndarray:
    if channels_per_solution is None:
        return np.zeros(n_chan, int)
    return np.arange(n_chan) // channels_per_solution


def _reduce_channels(equations: NormalEquations, groups: np.ndarray, n_groups: int):
    """Sum the per-channel normal equations into channel groups (contiguous runs of
    channels, numbered in order, as :func:`_channel_groups` makes them)."""
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    if len(starts) != n_groups or groups[0] != 0 or np.any(np.diff(groups[starts]) != 1):
        raise ValueError("channel groups must be contiguous runs numbered in order")

    def reduce(values: np.ndarray) -> np.ndarray:
        return np.add.reduceat(values, starts, axis=2)

    return NormalEquations(
        *(reduce(v) for v in (equations.vm, equations.mm, equations.vv, equations.count))
    )


def _uv_selection(
    uvw: np.ndarray, frequencies: np.ndarray, options: GainSolveOptions
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Flags outside the uv range and weights of the uv taper, each ``[nRow, nChan, 1]``.

    Either is None when its options are not set.
    """
    cut = options.min_uv_lambda is not None or options.max_uv_lambda is not None
    if not cut and options.uv_taper_lambda is None:
        return None, None
    uv_lambda = np.hypot(uvw[:, 0], uvw[:, 1])[:, None] * frequencies[None, :] / SPEED_OF_LIGHT
    flags = weights = None
    if cut:
        outside = np.zeros(uv_lambda.shape, bool)
        if options.min_uv_lambda is not None:
            outside |= uv_lambda < options.min_uv_lambda
        if options.max_uv_lambda is not None:
            outside |= uv_lambda > options.max_uv_lambda
        flags = outside[..., None]
    if options.uv_taper_lambda is not None:
        weights = np.exp(-0.5 * (uv_lambda / options.uv_taper_lambda) ** 2)[..., None]
    return flags, weights


def solve_selfcal_gains(
    ms: str | os.PathLike[str],
    solutions_path: str | os.PathLike[str],
    options: GainSolveOptions | None = None,
    data_column: str = "DATA",
    model_column: str | Sequence[str] = "MODEL_DATA",
    overwrite: bool = False,
) -> SelfcalGains:
    """Solve gains of ``ms`` (``data_column`` against ``model_column``) into ``solutions_path``.

    Several model columns are summed: the image's model and that of sources subtracted
    outside the image (:mod:`flint.peel`) make the whole sky the data hold. Gains solved
    from the same data and model (the MS's identity includes the model the last image
    wrote into it) with the same options are reused unless ``overwrite``.
    """
    options = options or GainSolveOptions()
    ms, solutions_path = Path(ms), Path(solutions_path)
    models = [model_column] if isinstance(model_column, str) else list(model_column)
    recipe = Recipe.of(
        "selfcal",
        {"ms": ms},
        {
            "options": options,
            "data_column": data_column,
            "model_column": model_column if isinstance(model_column, str) else models,
        },
    )
    if not overwrite and recipe.made(solutions_path):
        logger.info("Self-calibration gains %s are up to date; skipping", solutions_path)
        return SelfcalGains(solutions_path, 0, float("nan"), float("nan"), skipped=True)
    solutions = compute_selfcal_gains(ms, options, data_column, models)
    write_solutions(solutions, solutions_path, overwrite=True)
    recipe.record(solutions_path)
    return describe_gains(ms, solutions, solutions_path)


def compute_selfcal_gains(
    ms: str | os.PathLike[str],
    options: GainSolveOptions,
    data_column: str = "DATA",
    model_column: str | Sequence[str] = "MODEL_DATA",
    applied: AOSolutions | None = None,
    model_gains: AOSolutions | None = None,
) -> AOSolutions:
    """Gains of ``ms``'s ``data_column`` against ``model_column`` (solved, not written).

    Several model columns are summed (the image's model and that of sources subtracted
    outside the image, :mod:`flint.peel`). ``applied``: gains already applied to
    ``data_column`` (a working copy calibrated in place, :mod:`flint.working`); they are
    undone on the fly, so the gains are solved against the data as the bandpass left them,
    whatever was applied since. ``model_gains``: gains to corrupt the model with (a first
    solve's, phase-only); the result is the correction on top of them, as if solved on the
    data they correct (:mod:`flint.selfcal.components`).
    """
    ms = Path(ms)
    models = [model_column] if isinstance(model_column, str) else list(model_column)
    require_columns(ms, data_column, *models, "FLAG")
    with open_ms(ms, "SPECTRAL_WINDOW") as tab:
        frequencies = tab.getcell("CHAN_FREQ", 0)
    with open_ms(ms, "ANTENNA") as tab:
        n_ant = tab.nrows()
    applied_jones = None if applied is None else jones_of(applied)
    model_jones = None if model_gains is None else jones_of(model_gains)
    with open_ms(ms) as tab:
        times = tab.getcol("TIME")
        half = 0.5 * float(np.median(tab.getcol("INTERVAL")))
        start = float(times.min()) - half
        span = float(times.max()) + half - start
        solint = span if options.solint_s is None else min(options.solint_s, span)
        n_intervals = max(1, math.ceil(span / solint - 1e-9))
        groups = _channel_groups(len(frequencies), options.channels_per_solution)
        n_groups = int(groups.max()) + 1
        total = empty_equations(n_intervals * n_groups, 2, n_ant)
        for first, rows in row_chunks(tab):
            ant1 = tab.getcol("ANTENNA1", startrow=first, nrow=rows)
            ant2 = tab.getcol("ANTENNA2", startrow=first, nrow=rows)
            data = tab.getcol(data_column, startrow=first, nrow=rows)
            if applied_jones is not None:  # back to the data before those gains
                which = solution_intervals(times[first : first + rows], applied)
                data = sandwich_rows(data, applied_jones, ant1, ant2, which)
            data = data[..., DIAGONAL]
            model = sum(tab.getcol(column, startrow=first, nrow=rows) for column in models)
            if model_jones is not None:  # the sky as the first gains see it
                which = solution_intervals(times[first : first + rows], model_gains)
                model = sandwich_rows(model, model_jones, ant1, ant2, which)
            model = model[..., DIAGONAL]
            flags = tab.getcol("FLAG", startrow=first, nrow=rows)[..., DIAGONAL]
            flags = flags | ~np.isfinite(data) | ~np.isfinite(model)
            if model_jones is not None:  # rows of unsolved first gains are flagged above
                model = np.nan_to_num(model)
            uv_flags, weights = _uv_selection(
                tab.getcol("UVW", startrow=first, nrow=rows), frequencies, options
            )
            if uv_flags is not None:
                flags = flags | uv_flags
            index = np.clip(
                ((times[first : first + rows] - start) // solint).astype(int), 0, n_intervals - 1
            )
            for interval in np.unique(index):
                pick = index == interval
                chunk = accumulate(
                    data[pick],
                    model[pick],
                    ant1[pick],
                    ant2[pick],
                    n_ant,
                    weight=None if weights is None else weights[pick],
                    flags=flags[pick],
                )
                reduced = _reduce_channels(chunk, groups, n_groups)
                where = slice(interval * n_groups, (interval + 1) * n_groups)
                for mine, theirs in zip(
                    (total.vm, total.mm, total.vv, total.count),
                    (reduced.vm, reduced.mm, reduced.vv, reduced.count),
                    strict=True,
                ):
                    mine[:, :, where] += theirs
    if not total.count.any():
        raise MeasurementSetError(
            f"no unflagged data to solve self-calibration gains from in {data_column}", ms
        )
    result = stefcal(total)  # gains [interval*group, pol, ant]
    gains = result.gains.reshape(n_intervals, n_groups, 2, n_ant).transpose(0, 3, 1, 2)
    if options.mode == "phase":
        with np.errstate(invalid="ignore", divide="ignore"):  # unsolved gains stay NaN
            gains = gains / np.abs(gains)
    jones = np.zeros((n_intervals, n_ant, n_groups, 4), np.complex128)
    jones[..., 0], jones[..., 3] = gains[..., 0], gains[..., 1]
    jones = np.stack([reference_phase(jones[i], options.refant) for i in range(n_intervals)])
    if n_groups > 1:  # one solution per channel group, expanded so apply matches channels
        jones = jones[:, :, groups]
    return AOSolutions(jones, start_time=start, end_time=start + n_intervals * solint)


def describe_gains(
    ms: str | os.PathLike[str], solutions: AOSolutions, solutions_path: str | os.PathLike[str]
) -> SelfcalGains:
    """How large the corrections of ``solutions`` (written to ``solutions_path``) are."""
    jones = solutions.gains
    diagonal = jones[..., DIAGONAL]
    finite = np.isfinite(diagonal)
    phase_rms = (
        float(np.degrees(np.sqrt(np.mean(np.angle(diagonal[finite]) ** 2))))
        if finite.any()
        else float("nan")
    )
    amplitude_rms = (
        float(np.sqrt(np.mean((np.abs(diagonal[finite]) - 1) ** 2)))
        if finite.any()
        else float("nan")
    )
    span = solutions.end_time - solutions.start_time
    logger.info(
        "Self-calibration gains for %s: %d interval(s) of %.0f s, phase rms %.1f deg, amplitude rms %.3f -> %s",
        ms,
        solutions.n_sol,
        span / max(solutions.n_sol, 1),
        phase_rms,
        amplitude_rms,
        solutions_path,
    )
    return SelfcalGains(Path(solutions_path), solutions.n_sol, phase_rms, amplitude_rms)
