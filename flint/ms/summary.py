"""Summarise a measurement set: antennas, beams, fields, channels, times, columns, flags."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from flint.ms.access import check_ms, open_ms

ROW_CHUNK = 200_000


class MSSummary(BaseModel):
    """What is in a measurement set, in numbers."""

    path: Path
    n_rows: int
    antennas: list[str]
    beams: list[int]
    """Feed (beam) numbers present in the main table."""
    fields: list[str]
    phase_centres_deg: list[tuple[float, float]]
    n_channels: int
    frequency_range_hz: tuple[float, float]
    channel_width_hz: float
    correlations: list[str]
    n_times: int
    time_range_mjd_s: tuple[float, float]
    integration_s: float
    columns: list[str]
    flag_fraction: float
    flag_fraction_per_antenna: dict[str, float]


CORRELATION_NAMES = {5: "RR", 6: "RL", 7: "LR", 8: "LL", 9: "XX", 10: "XY", 11: "YX", 12: "YY"}


def _flag_fractions(path: Path, n_antennas: int) -> tuple[float, np.ndarray]:
    flagged = np.zeros(n_antennas)
    total = np.zeros(n_antennas)
    with open_ms(path) as tab:
        for start in range(0, tab.nrows(), ROW_CHUNK):
            rows = min(ROW_CHUNK, tab.nrows() - start)
            flags = tab.getcol("FLAG", startrow=start, nrow=rows)
            per_row = flags.reshape(rows, -1).mean(axis=1)
            for column in ("ANTENNA1", "ANTENNA2"):
                antennas = tab.getcol(column, startrow=start, nrow=rows)
                flagged += np.bincount(antennas, per_row, minlength=n_antennas)
                total += np.bincount(antennas, minlength=n_antennas)
    overall = float(flagged.sum() / total.sum()) if total.sum() else 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        return overall, np.where(total > 0, flagged / np.maximum(total, 1), np.nan)


def summarise_ms(path: str | os.PathLike[str]) -> MSSummary:
    """Read the summary of the measurement set at ``path`` (read-only)."""
    path = check_ms(path)
    with open_ms(path, "ANTENNA") as tab:
        antennas = list(tab.getcol("NAME"))
    with open_ms(path, "FIELD") as tab:
        fields = list(tab.getcol("NAME"))
        centres = np.degrees(tab.getcol("PHASE_DIR")[:, 0, :])
    with open_ms(path, "SPECTRAL_WINDOW") as tab:
        frequencies = tab.getcell("CHAN_FREQ", 0)
        widths = tab.getcell("CHAN_WIDTH", 0)
    with open_ms(path, "POLARIZATION") as tab:
        correlations = [CORRELATION_NAMES.get(int(c), str(c)) for c in tab.getcell("CORR_TYPE", 0)]
    with open_ms(path) as tab:
        times = np.unique(tab.getcol("TIME"))
        beams = sorted({int(b) for b in np.unique(tab.getcol("FEED1"))})
        exposure = float(np.median(tab.getcol("EXPOSURE"))) if tab.nrows() else 0.0
        columns = list(tab.colnames())
        n_rows = tab.nrows()
    overall, per_antenna = _flag_fractions(path, len(antennas))
    return MSSummary(
        path=path,
        n_rows=n_rows,
        antennas=antennas,
        beams=beams,
        fields=fields,
        phase_centres_deg=[(float(ra) % 360.0, float(dec)) for ra, dec in centres],
        n_channels=len(frequencies),
        frequency_range_hz=(float(frequencies.min()), float(frequencies.max())),
        channel_width_hz=float(np.median(np.abs(widths))),
        correlations=correlations,
        n_times=len(times),
        time_range_mjd_s=(float(times.min()), float(times.max())) if len(times) else (0.0, 0.0),
        integration_s=exposure,
        columns=columns,
        flag_fraction=overall,
        flag_fraction_per_antenna={
            name: float(value) for name, value in zip(antennas, per_antenna, strict=True)
        },
    )
