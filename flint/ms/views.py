"""What an astronomer looks at before trusting a measurement set, made small for display:
uv coverage, amplitude against uv distance, and a flag waterfall (time x channel) of one
antenna or baseline.

Every function reads the main table in row chunks (never the whole column), keeps at most
a given number of points (rows are sampled at a regular stride; waterfalls are
block-averaged) and reports progress as ``progress(rows_done, rows_total)``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.constants import c as SPEED_OF_LIGHT

from flint.errors import InputError
from flint.ms.access import check_ms, open_ms

Progress = Callable[[int, int], None]
ROW_CHUNK = 20_000
"""Rows read at a time (a DATA chunk of 20,000 rows x 288 channels x 4 is about 180 MB)."""
CHANNELS_SHOWN = 8
"""Amplitudes are shown for at most this many channels, spread over the band: single
channels, not averages (a vector average over a wide band decorrelates off-centre sources)."""


@dataclass(frozen=True)
class UVCoverage:
    """Sampled (u, v) of the cross-correlations, with their Hermitian mirror, in kilo-wavelengths
    at the band centre."""

    u_klambda: np.ndarray
    v_klambda: np.ndarray
    frequency_hz: float
    rows_sampled: int
    rows_total: int


@dataclass(frozen=True)
class AmplitudeVsUV:
    """Stokes I amplitude of single channels against uv distance: sampled points, and their
    mean in uv-distance bins."""

    uv_klambda: np.ndarray
    amplitude: np.ndarray
    bin_centres_klambda: np.ndarray
    bin_mean: np.ndarray
    column: str
    rows_sampled: int
    rows_total: int


@dataclass(frozen=True)
class FlagWaterfall:
    """Flagged fraction of the selected rows per (time, channel), block-averaged."""

    fraction: np.ndarray
    """[time, channel], 0 (nothing flagged) .. 1 (all flagged); NaN where no data."""
    time_s: np.ndarray
    """Seconds since the first integration, one per displayed time."""
    frequency_hz: np.ndarray
    """One per displayed channel."""
    selection: str
    """Which rows: ``antenna ak05`` or ``baseline ak01-ak02``."""
    rows_total: int


def _stride(n_rows: int, max_points: int) -> int:
    return max(1, int(np.ceil(n_rows / max(1, max_points))))


def _frequencies(path: Path) -> np.ndarray:
    with open_ms(path, "SPECTRAL_WINDOW") as tab:
        return np.asarray(tab.getcell("CHAN_FREQ", 0), dtype=float)


def _chunks(n_rows: int, stride: int) -> list[tuple[int, int]]:
    """(start, number of sampled rows) chunks over every ``stride``-th row."""
    span = ROW_CHUNK * stride
    return [
        (start, len(range(start, min(start + span, n_rows), stride)))
        for start in range(0, n_rows, span)
    ]


def uv_coverage(
    ms: str | os.PathLike[str], max_points: int = 20_000, progress: Progress | None = None
) -> UVCoverage:
    """The uv coverage of ``ms`` (cross-correlations only), at most ``max_points`` points
    before mirroring."""
    path = check_ms(ms)
    freq = float(np.mean(_frequencies(path)))
    scale = freq / SPEED_OF_LIGHT / 1e3
    u, v = [], []
    with open_ms(path) as tab:
        n_rows = tab.nrows()
        stride = _stride(n_rows, max_points)
        for start, count in _chunks(n_rows, stride):
            uvw = tab.getcol("UVW", startrow=start, nrow=count, rowincr=stride)
            cross = tab.getcol("ANTENNA1", start, count, stride) != tab.getcol(
                "ANTENNA2", start, count, stride
            )
            u.append(uvw[cross, 0] * scale)
            v.append(uvw[cross, 1] * scale)
            if progress:
                progress(min(n_rows, start + count * stride), n_rows)
    uu, vv = (np.concatenate(x) if x else np.zeros(0) for x in (u, v))
    return UVCoverage(np.concatenate([uu, -uu]), np.concatenate([vv, -vv]), freq, len(uu), n_rows)


def _stokes_i(data: np.ndarray, flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stokes I (XX+YY)/2, or the one correlation there is, and where it is usable."""
    n_corr = data.shape[-1]
    parallel = [0, n_corr - 1] if n_corr in (2, 4) else [0]
    good = ~flags[..., parallel].any(axis=-1) & np.isfinite(data[..., parallel]).all(axis=-1)
    return data[..., parallel].mean(axis=-1), good


def amplitude_vs_uvdist(
    ms: str | os.PathLike[str],
    column: str = "DATA",
    max_points: int = 20_000,
    n_bins: int = 60,
    progress: Progress | None = None,
) -> AmplitudeVsUV:
    """Unflagged Stokes I amplitude of up to :data:`CHANNELS_SHOWN` channels across the band
    (each at its own uv distance) against uv distance, from at most
    ``max_points / channels`` rows."""
    path = check_ms(ms)
    freqs = _frequencies(path)
    channels = np.unique(np.linspace(0, len(freqs) - 1, min(CHANNELS_SHOWN, len(freqs))).round())
    channels = channels.astype(int)
    uvdist, amplitude = [], []
    with open_ms(path) as tab:
        if column not in tab.colnames():
            raise InputError(f"no column {column}", path)
        n_rows = tab.nrows()
        stride = _stride(n_rows, max_points // len(channels))
        for start, count in _chunks(n_rows, stride):
            uvw = tab.getcol("UVW", start, count, stride)
            cross = tab.getcol("ANTENNA1", start, count, stride) != tab.getcol(
                "ANTENNA2", start, count, stride
            )
            data = tab.getcol(column, start, count, stride)[:, channels]
            flags = tab.getcol("FLAG", start, count, stride)[:, channels]
            stokes, good = _stokes_i(data, flags)
            keep = cross[:, None] & good
            baseline_m = np.hypot(uvw[:, 0], uvw[:, 1])
            lambdas = baseline_m[:, None] * freqs[channels][None, :] / SPEED_OF_LIGHT / 1e3
            amplitude.append(np.abs(stokes[keep]))
            uvdist.append(lambdas[keep])
            if progress:
                progress(min(n_rows, start + count * stride), n_rows)
    uv = np.concatenate(uvdist) if uvdist else np.zeros(0)
    amp = np.concatenate(amplitude) if amplitude else np.zeros(0)
    edges = np.linspace(0, uv.max() if uv.size else 1.0, n_bins + 1)
    which = np.clip(np.digitize(uv, edges) - 1, 0, n_bins - 1)
    counts = np.bincount(which, minlength=n_bins)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.bincount(which, amp, minlength=n_bins) / counts
    rows = len(range(0, n_rows, stride))
    return AmplitudeVsUV(uv, amp, 0.5 * (edges[1:] + edges[:-1]), mean, column, rows, n_rows)


def _selection(
    path: Path, antenna: int | None, baseline: tuple[int, int] | None
) -> tuple[str, str]:
    """(TaQL condition, description) of an antenna's or a baseline's rows."""
    with open_ms(path, "ANTENNA") as tab:
        names = list(tab.getcol("NAME"))
    if baseline is not None:
        a, b = sorted(baseline)
        if not (0 <= a < len(names) and 0 <= b < len(names)):
            raise InputError(f"no baseline {a}-{b}: antennas are 0..{len(names) - 1}", path)
        return (
            f"ANTENNA1=={a} && ANTENNA2=={b}",
            f"baseline {names[a]}-{names[b]}",
        )
    if antenna is None or not 0 <= antenna < len(names):
        raise InputError(f"no antenna {antenna}: antennas are 0..{len(names) - 1}", path)
    return (
        f"(ANTENNA1=={antenna} || ANTENNA2=={antenna}) && ANTENNA1!=ANTENNA2",
        f"antenna {names[antenna]}",
    )


def flag_waterfall(
    ms: str | os.PathLike[str],
    antenna: int | None = 0,
    baseline: tuple[int, int] | None = None,
    max_times: int = 400,
    max_channels: int = 400,
    progress: Progress | None = None,
) -> FlagWaterfall:
    """The flagged fraction per (time, channel) of one antenna's baselines (or one baseline),
    averaged over correlations and the selected baselines, then block-averaged to at most
    ``max_times`` x ``max_channels``."""
    path = check_ms(ms)
    condition, description = _selection(path, antenna, baseline)
    freqs = _frequencies(path)
    with open_ms(path) as tab:
        selected = tab.query(condition, columns="TIME,FLAG")
        try:
            n_rows = selected.nrows()
            if n_rows == 0:
                raise InputError(f"no rows for {description}", path)
            times = selected.getcol("TIME")
            unique, index = np.unique(times, return_inverse=True)
            flagged = np.zeros((len(unique), len(freqs)))
            counts = np.zeros(len(unique))
            for start in range(0, n_rows, ROW_CHUNK):
                count = min(ROW_CHUNK, n_rows - start)
                flags = selected.getcol("FLAG", startrow=start, nrow=count).mean(axis=-1)
                rows = index[start : start + count]
                np.add.at(flagged, rows, flags)
                np.add.at(counts, rows, 1)
                if progress:
                    progress(start + count, n_rows)
        finally:
            selected.close()
    fraction = flagged / counts[:, None]
    t_factor, c_factor = (
        int(np.ceil(n / m)) for n, m in ((len(unique), max_times), (len(freqs), max_channels))
    )
    return FlagWaterfall(
        _block_mean_2d(fraction, t_factor, c_factor),
        _block_mean_1d(unique - unique[0], t_factor),
        _block_mean_1d(freqs, c_factor),
        description,
        n_rows,
    )


def _block_mean_1d(values: np.ndarray, factor: int) -> np.ndarray:
    n = len(values) // factor * factor or len(values)
    if factor <= 1 or n < factor:
        return np.asarray(values, dtype=float)
    return np.asarray(values[:n], dtype=float).reshape(-1, factor).mean(axis=1)


def _block_mean_2d(data: np.ndarray, t_factor: int, c_factor: int) -> np.ndarray:
    for axis, factor in ((0, t_factor), (1, c_factor)):
        if factor > 1 and data.shape[axis] >= factor:
            n = data.shape[axis] // factor * factor
            data = np.moveaxis(data, axis, 0)[:n]
            data = data.reshape(n // factor, factor, *data.shape[1:]).mean(axis=1)
            data = np.moveaxis(data, 0, axis)
    return data
