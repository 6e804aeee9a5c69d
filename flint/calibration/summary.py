"""A readable summary of a solutions file: shape, flags, amplitudes and phases per antenna."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from flint.calibration.solutions import AOSolutions, read_solutions


class AntennaSummary(BaseModel):
    """Per-antenna numbers for one polarisation (first interval)."""

    flagged_fraction: float
    median_amplitude: float | None
    amplitude_scatter: float | None
    """Robust (MAD) scatter of the amplitude over channels, relative to the median."""
    phase_rms_deg: float | None
    """Rms of the channel-to-channel phase difference, in degrees."""


class SolutionsSummary(BaseModel):
    """What a solutions file holds."""

    path: Path | None
    n_sol: int
    n_ant: int
    n_chan: int
    polarisations: list[str]
    start_time: float
    end_time: float
    flagged_fraction: float
    fully_flagged_channels: list[int]
    fully_flagged_antennas: list[int]
    median_amplitude: dict[str, float | None]
    antennas: dict[str, dict[str, AntennaSummary]]
    """antenna index -> polarisation -> numbers."""


def _maybe(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def summarise_solutions(solutions: AOSolutions | str | os.PathLike[str]) -> SolutionsSummary:
    """Summarise ``solutions`` (an AOSolutions or a file path)."""
    if not isinstance(solutions, AOSolutions):
        solutions = read_solutions(solutions)
    gains = solutions.gains
    flags = ~np.isfinite(gains)
    first = gains[0]
    antennas: dict[str, dict[str, AntennaSummary]] = {}
    for antenna in range(solutions.n_ant):
        per_pol = {}
        for index, name in enumerate(solutions.polarisations):
            g = first[antenna, :, index]
            good = g[np.isfinite(g)]
            if good.size:
                amplitude = np.abs(good)
                median = float(np.median(amplitude))
                scatter = (
                    1.4826 * np.median(np.abs(amplitude - median)) / median if median else np.nan
                )
                steps = (
                    np.angle(good[1:] * good[:-1].conj()) if good.size > 1 else np.array([np.nan])
                )
                phase_rms = float(np.degrees(np.sqrt(np.mean(steps**2))))
            else:
                median, scatter, phase_rms = np.nan, np.nan, np.nan
            per_pol[name] = AntennaSummary(
                flagged_fraction=float(1 - good.size / g.size),
                median_amplitude=_maybe(median),
                amplitude_scatter=_maybe(scatter),
                phase_rms_deg=_maybe(phase_rms),
            )
        antennas[str(antenna)] = per_pol
    all_pol_flags = flags.all(axis=-1)
    with np.errstate(all="ignore"):
        medians = {
            name: _maybe(
                np.nanmedian(np.abs(gains[..., index])) if (~flags[..., index]).any() else np.nan
            )
            for index, name in enumerate(solutions.polarisations)
        }
    return SolutionsSummary(
        path=solutions.path,
        n_sol=solutions.n_sol,
        n_ant=solutions.n_ant,
        n_chan=solutions.n_chan,
        polarisations=list(solutions.polarisations),
        start_time=solutions.start_time,
        end_time=solutions.end_time,
        flagged_fraction=float(flags.mean()),
        fully_flagged_channels=np.flatnonzero(all_pol_flags.all(axis=(0, 1))).tolist(),
        fully_flagged_antennas=np.flatnonzero(all_pol_flags.all(axis=(0, 2))).tolist(),
        median_amplitude=medians,
        antennas=antennas,
    )


def format_summary(summary: SolutionsSummary) -> str:
    """Plain-text table of a summary."""
    lines = [
        f"{summary.path}",
        f"  intervals x antennas x channels x pols  {summary.n_sol} x {summary.n_ant} x "
        f"{summary.n_chan} x {len(summary.polarisations)} ({' '.join(summary.polarisations)})",
        f"  time range         {summary.start_time:.1f} - {summary.end_time:.1f} s (MJD)",
        f"  flagged            {100 * summary.flagged_fraction:.2f} %",
        f"  flagged channels   {summary.fully_flagged_channels}",
        f"  flagged antennas   {summary.fully_flagged_antennas}",
        "  median |g|         "
        + "  ".join(
            f"{k} {v:.4g}" if v is not None else f"{k} -"
            for k, v in summary.median_amplitude.items()
        ),
        "  ant  pol  flagged%  median|g|  scatter%  dphase_rms(deg)",
    ]
    for antenna, per_pol in summary.antennas.items():
        for pol in ("XX", "YY"):
            if pol not in per_pol:
                continue
            a = per_pol[pol]

            def show(value, scale=1.0, fmt=".4g"):
                return "-" if value is None else format(value * scale, fmt)

            lines.append(
                f"  {int(antenna):3d}  {pol}   {100 * a.flagged_fraction:7.2f}  "
                f"{show(a.median_amplitude):>9}  {show(a.amplitude_scatter, 100, '.2f'):>8}  "
                f"{show(a.phase_rms_deg, 1, '.2f'):>8}"
            )
    return "\n".join(lines)
