"""Flag fractions of a measurement set per antenna, channel and correlation."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from flint.ms import open_ms, row_chunks
from flint.ms.summary import CORRELATION_NAMES


class FlagStatistics(BaseModel):
    """Fractions of flagged visibilities (cross-correlations only)."""

    path: Path
    overall: float
    per_antenna: dict[str, float]
    per_channel: list[float]
    per_correlation: dict[str, float]
    frequencies_hz: list[float]

    def worst_antennas(self, count: int = 5) -> list[tuple[str, float]]:
        return sorted(self.per_antenna.items(), key=lambda item: -item[1])[:count]


def flag_statistics(ms: str | os.PathLike[str]) -> FlagStatistics:
    """Count flags of the cross-correlations of ``ms`` (read-only)."""
    with open_ms(ms, "ANTENNA") as tab:
        names = list(tab.getcol("NAME"))
    with open_ms(ms, "SPECTRAL_WINDOW") as tab:
        frequencies = tab.getcell("CHAN_FREQ", 0)
    with open_ms(ms, "POLARIZATION") as tab:
        correlations = [CORRELATION_NAMES.get(int(c), str(c)) for c in tab.getcell("CORR_TYPE", 0)]
    n_ant, n_chan, n_corr = len(names), len(frequencies), len(correlations)
    per_antenna = np.zeros(n_ant)
    per_antenna_total = np.zeros(n_ant)
    per_channel = np.zeros(n_chan)
    per_corr = np.zeros(n_corr)
    n_cross = 0
    with open_ms(ms) as tab:
        for start, rows in row_chunks(tab):
            ant1 = tab.getcol("ANTENNA1", startrow=start, nrow=rows)
            ant2 = tab.getcol("ANTENNA2", startrow=start, nrow=rows)
            cross = ant1 != ant2
            flags = tab.getcol("FLAG", startrow=start, nrow=rows)[cross]
            ant1, ant2 = ant1[cross], ant2[cross]
            per_row = flags.mean(axis=(1, 2))
            for antennas in (ant1, ant2):
                per_antenna += np.bincount(antennas, per_row, minlength=n_ant)
                per_antenna_total += np.bincount(antennas, minlength=n_ant)
            per_channel += flags.mean(axis=2).sum(axis=0)
            per_corr += flags.mean(axis=1).sum(axis=0)
            n_cross += len(ant1)
    with np.errstate(invalid="ignore"):
        antenna_fraction = per_antenna / per_antenna_total
    scale = max(n_cross, 1)
    return FlagStatistics(
        path=Path(ms),
        overall=float(per_channel.sum() / (scale * n_chan)),
        per_antenna={n: float(f) for n, f in zip(names, antenna_fraction, strict=True)},
        per_channel=[float(f) for f in per_channel / scale],
        per_correlation={c: float(f) for c, f in zip(correlations, per_corr / scale, strict=True)},
        frequencies_hz=[float(f) for f in frequencies],
    )
