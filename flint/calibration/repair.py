"""Inspect and repair bandpass solutions: reference phase, outlier flags, smoothing.

All functions take and return gains ``[nAnt, nChan, nPol]`` (one solution interval;
NaN = flagged) and never change their input.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.signal import savgol_filter

from flint.calibration.solutions import AOSolutions
from flint.options import BaseOptions

logger = logging.getLogger(__name__)

DIAGONAL = (0, 3)


def choose_reference_antenna(gains: np.ndarray) -> int:
    """The antenna with the most unflagged XX and YY solutions (lowest index on ties)."""
    diagonal = gains[..., [0, -1]]
    return int(np.argmax(np.isfinite(diagonal).sum(axis=(1, 2))))


def reference_phase(gains: np.ndarray, reference: int) -> np.ndarray:
    """Rotate every channel's XX (and YY) gains so the reference antenna's phase is zero.

    For full Jones the X and Y columns are rotated by the reference's XX and YY phases.
    Channels where the reference is flagged are left unreferenced.
    """
    out = np.array(gains, dtype=np.complex128)
    n_pol = out.shape[-1]
    columns = {1: [[0]], 2: [[0], [1]], 4: [[0, 2], [1, 3]]}[n_pol]
    diagonal = {1: [0], 2: [0, 1], 4: [0, 3]}[n_pol]
    for pols, diag in zip(columns, diagonal, strict=True):
        phase = np.angle(out[reference, :, diag])
        rotation = np.where(np.isfinite(phase), np.exp(-1j * phase), 1.0)
        out[:, :, pols] *= rotation[None, :, None]
    return out


class RepairOptions(BaseOptions):
    """Thresholds for flagging outlying bandpass solutions."""

    amplitude_sigma: float = 5.0
    """Flag channels whose amplitude is this many robust sigmas from the smoothed bandpass."""
    phase_sigma: float = 5.0
    """Flag channels whose phase (after removing a delay slope) is this many robust sigmas off."""
    min_amplitude_fraction: float = 0.05
    """...but never flag amplitude deviations smaller than this fraction of the bandpass."""
    min_phase_deg: float = 10.0
    """...and never flag phase deviations smaller than this."""
    ratio_sigma: float = 5.0
    """Flag channels whose |XX|/|YY| ratio is this many robust sigmas from the median ratio."""
    max_flagged_fraction: float = 0.5
    """Flag an antenna completely if more than this fraction of its channels are flagged."""
    smooth_window: int = 0
    """Savitzky-Golay window in channels for smoothing (0: no smoothing); odd, >= 5."""
    smooth_order: int = 2
    """Savitzky-Golay polynomial order."""
    running_window: int = 15
    """Width in channels of the running median the outlier tests compare with."""


@dataclass
class RepairReport:
    """What :func:`flag_outliers` flagged, per antenna name or index."""

    amplitude: dict[int, list[int]] = field(default_factory=dict)
    phase: dict[int, list[int]] = field(default_factory=dict)
    ratio: dict[int, list[int]] = field(default_factory=dict)
    antennas: list[int] = field(default_factory=list)
    reference_antenna: int | None = None
    flagged_fraction_before: float = 0.0
    flagged_fraction_after: float = 0.0

    def as_dict(self) -> dict:
        return {
            "amplitude_channels": {str(k): v for k, v in self.amplitude.items()},
            "phase_channels": {str(k): v for k, v in self.phase.items()},
            "ratio_channels": {str(k): v for k, v in self.ratio.items()},
            "flagged_antennas": self.antennas,
            "reference_antenna": self.reference_antenna,
            "flagged_fraction_before": self.flagged_fraction_before,
            "flagged_fraction_after": self.flagged_fraction_after,
        }


def _running_median(values: np.ndarray, window: int) -> np.ndarray:
    """NaN-aware running median along the last axis."""
    half = window // 2
    padded = np.pad(values, [(0, 0)] * (values.ndim - 1) + [(half, half)], mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, window, axis=-1)
    with np.errstate(all="ignore"), _quiet():
        return np.nanmedian(windows, axis=-1)


def _outliers(
    values: np.ndarray, window: int, nsigma: float, floor: np.ndarray | float = 0.0
) -> np.ndarray:
    """True where ``values`` [.., chan] deviate from a running median by more than both
    ``nsigma`` robust sigmas and ``floor``."""
    median = _running_median(values, window)
    residual = values - median
    with _quiet():
        mad = np.nanmedian(np.abs(residual), axis=-1, keepdims=True)
    sigma = 1.4826 * np.maximum(mad, 1e-12)
    return np.abs(residual) > np.maximum(nsigma * sigma, floor)


class _quiet:
    """Silence numpy's all-NaN slice warnings inside a block."""

    def __enter__(self):
        import warnings

        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._catch.__exit__(*exc)


def _unwrapped_phase_residual(gains: np.ndarray) -> np.ndarray:
    """Phase [ant, chan] after removing each antenna's best-fit delay slope and offset."""
    n_chan = gains.shape[-1]
    channels = np.arange(n_chan)
    residual = np.full(gains.shape, np.nan)
    for antenna in range(gains.shape[0]):
        good = np.isfinite(gains[antenna])
        if good.sum() < 3:
            continue
        spectrum = np.zeros(4 * n_chan, complex)
        spectrum[channels[good]] = gains[antenna, good] / np.abs(gains[antenna, good])
        delay = np.argmax(np.abs(np.fft.fft(spectrum))) / (4 * n_chan)
        derotated = gains[antenna] * np.exp(-2j * np.pi * delay * channels)
        offset = np.angle(np.nansum(derotated[good] / np.abs(derotated[good])))
        residual[antenna] = np.angle(derotated * np.exp(-1j * offset))
    return residual


def flag_outliers(
    gains: np.ndarray, options: RepairOptions | None = None
) -> tuple[np.ndarray, RepairReport]:
    """Flag (set to NaN) outlying channels and mostly flagged antennas; XX and YY separately,
    a flag in either flags the whole Jones of that antenna and channel.
    """
    options = options or RepairOptions()
    out = np.array(gains, dtype=np.complex128)
    report = RepairReport(flagged_fraction_before=float((~np.isfinite(out)).any(-1).mean()))
    diag = [0, -1] if out.shape[-1] > 1 else [0]
    bad = np.zeros(out.shape[:2], bool)
    for index in diag:
        g = out[..., index]
        level = _running_median(np.abs(g), options.running_window)
        amp_bad = _outliers(
            np.abs(g),
            options.running_window,
            options.amplitude_sigma,
            options.min_amplitude_fraction * level,
        )
        phase_bad = _outliers(
            _unwrapped_phase_residual(g),
            options.running_window,
            options.phase_sigma,
            np.radians(options.min_phase_deg),
        )
        for name, mask in (("amplitude", amp_bad), ("phase", phase_bad)):
            store = getattr(report, name)
            for antenna in np.flatnonzero(mask.any(axis=1)):
                store.setdefault(int(antenna), [])
                store[int(antenna)] = sorted(
                    set(store[int(antenna)]) | set(np.flatnonzero(mask[antenna]).tolist())
                )
        bad |= amp_bad | phase_bad
    if len(diag) == 2:
        with np.errstate(all="ignore"):
            log_ratio = np.log(np.abs(out[..., 0]) / np.abs(out[..., -1]))
        centred = log_ratio - _nanmedian(log_ratio, axis=1)[:, None]
        with _quiet():
            mad = np.nanmedian(np.abs(centred))
        ratio_bad = np.abs(centred) > options.ratio_sigma * 1.4826 * max(float(mad), 1e-12)
        for antenna in np.flatnonzero(ratio_bad.any(axis=1)):
            report.ratio[int(antenna)] = np.flatnonzero(ratio_bad[antenna]).tolist()
        bad |= ratio_bad
    out[bad] = np.nan
    flagged = (~np.isfinite(out)).any(-1)
    for antenna in np.flatnonzero(flagged.mean(axis=1) > options.max_flagged_fraction):
        report.antennas.append(int(antenna))
        out[antenna] = np.nan
    out[(~np.isfinite(out)).any(-1)] = np.nan
    report.flagged_fraction_after = float((~np.isfinite(out)).any(-1).mean())
    return out, report


def _nanmedian(values: np.ndarray, axis: int) -> np.ndarray:
    with _quiet():
        return np.nanmedian(values, axis=axis)


def smooth(gains: np.ndarray, window: int, order: int = 2) -> np.ndarray:
    """Savitzky-Golay smoothing of real and imaginary parts along channels.

    Flagged channels are interpolated for the filter and stay flagged afterwards.
    """
    if window < 5 or window % 2 == 0:
        raise ValueError(f"smooth window must be odd and >= 5, got {window}")
    out = np.array(gains, dtype=np.complex128)
    channels = np.arange(out.shape[1])
    for antenna in range(out.shape[0]):
        for pol in range(out.shape[2]):
            g = out[antenna, :, pol]
            good = np.isfinite(g)
            if good.sum() <= window:
                continue
            filled = np.interp(channels, channels[good], g[good].real) + 1j * np.interp(
                channels, channels[good], g[good].imag
            )
            smoothed = savgol_filter(filled.real, window, order) + 1j * savgol_filter(
                filled.imag, window, order
            )
            out[antenna, :, pol] = np.where(good, smoothed, np.nan)
    return out


def repair_solutions(
    solutions: AOSolutions, options: RepairOptions | None = None, reference: int | None = None
) -> tuple[AOSolutions, RepairReport]:
    """Flag outliers, optionally smooth and reference the phases of every interval."""
    options = options or RepairOptions()
    repaired = np.array(solutions.gains)
    report = RepairReport()
    for interval in range(solutions.n_sol):
        gains, report = flag_outliers(solutions.gains[interval], options)
        if options.smooth_window:
            gains = smooth(gains, options.smooth_window, options.smooth_order)
        ref = choose_reference_antenna(gains) if reference is None else reference
        report.reference_antenna = ref
        repaired[interval] = reference_phase(gains, ref)
    return solutions.with_gains(repaired), report


@dataclass
class RepairedFile:
    """A repaired copy of a solutions file, its plot and what was flagged."""

    solutions_path: Path
    plot_path: Path | None
    report: RepairReport | None
    skipped: bool = False


def repair_solutions_file(
    solutions_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    options: RepairOptions | None = None,
    plot: bool = True,
) -> RepairedFile:
    """Write the pre-flagged (and smoothed) copy of ``solutions_path``, plus a plot.

    An output made from the same solutions and options is kept (a rerun skips it,
    :class:`flint.identity.Recipe`); the input is never changed.
    """
    from flint.calibration.plots import plot_solutions
    from flint.calibration.solutions import read_solutions, write_solutions
    from flint.identity import Recipe

    output_path = Path(output_path)
    plot_path = output_path.with_suffix(".png") if plot else None
    products = [output_path] + ([plot_path] if plot_path else [])
    recipe = Recipe.of("repair", {"solutions": solutions_path}, {"options": options, "plot": plot})
    if recipe.made(*products):
        logger.info("Repaired solutions %s are up to date; skipping", output_path)
        return RepairedFile(output_path, plot_path, None, skipped=True)
    original = read_solutions(solutions_path)
    repaired, report = repair_solutions(original, options)
    write_solutions(repaired, output_path, overwrite=True)
    if plot_path is not None:
        plot_solutions(repaired, plot_path, reference=original)
    recipe.record(*products)
    return RepairedFile(output_path, plot_path, report)
