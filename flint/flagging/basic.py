"""Simple deterministic flags: zero UVW, NaN or zero data, whole antennas, autocorrelations."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable

import numpy as np
from pydantic import BaseModel

from flint.errors import InputError
from flint.ms import open_ms, require_columns, row_chunks

logger = logging.getLogger(__name__)


class BasicFlagCounts(BaseModel):
    """Visibilities (row x channel x correlation) newly flagged by each rule."""

    zero_uvw: int = 0
    bad_data: int = 0
    antennas: int = 0
    total_flagged_after: int = 0
    total: int = 0


def _antenna_indices(ms: str | os.PathLike[str], antennas: Iterable[int | str]) -> list[int]:
    with open_ms(ms, "ANTENNA") as tab:
        names = list(tab.getcol("NAME"))
    indices = []
    for antenna in antennas:
        if isinstance(antenna, str) and antenna in names:
            indices.append(names.index(antenna))
        elif isinstance(antenna, int | np.integer) and 0 <= int(antenna) < len(names):
            indices.append(int(antenna))
        else:
            raise InputError(f"no antenna {antenna!r}; antennas are {names[0]}..{names[-1]}", ms)
    return indices


def flag_basic(
    ms: str | os.PathLike[str],
    *,
    zero_uvw: bool = True,
    bad_data: bool = True,
    antennas: Iterable[int | str] = (),
    column: str = "DATA",
) -> BasicFlagCounts:
    """Flag, in place on a working copy, cross-correlations with zero UVW, NaN/inf/zero data
    and the listed antennas. A visibility bad in any correlation is flagged in all four.
    """
    require_columns(ms, column, "FLAG", "UVW")
    bad_antennas = np.array(_antenna_indices(ms, antennas), dtype=int)
    counts = BasicFlagCounts()
    with open_ms(ms, readonly=False) as tab:
        n_rows = tab.nrows()
        for start, rows in row_chunks(tab, n_rows):
            flags = tab.getcol("FLAG", startrow=start, nrow=rows)
            new = flags.copy()
            ant1 = tab.getcol("ANTENNA1", startrow=start, nrow=rows)
            ant2 = tab.getcol("ANTENNA2", startrow=start, nrow=rows)
            if zero_uvw:
                uvw = tab.getcol("UVW", startrow=start, nrow=rows)
                hit = (np.all(uvw == 0, axis=1) & (ant1 != ant2))[:, None, None]
                counts.zero_uvw += int(np.count_nonzero(hit & ~new))
                new |= hit
            if bad_data:
                data = tab.getcol(column, startrow=start, nrow=rows)
                hit = np.any(~np.isfinite(data) | (data == 0), axis=2, keepdims=True)
                counts.bad_data += int(np.count_nonzero(hit & ~new))
                new |= hit
            if bad_antennas.size:
                hit = (np.isin(ant1, bad_antennas) | np.isin(ant2, bad_antennas))[:, None, None]
                counts.antennas += int(np.count_nonzero(hit & ~new))
                new |= hit
            new |= np.any(new, axis=2, keepdims=True)
            if (new != flags).any():
                tab.putcol("FLAG", new, startrow=start, nrow=rows)
            counts.total_flagged_after += int(np.count_nonzero(new))
            counts.total += new.size
    logger.info("Basic flags on %s: %s", ms, counts)
    return counts


def set_flags(ms: str | os.PathLike[str], value: bool = False) -> None:
    """Set every FLAG of a working copy to ``value`` (e.g. to drop input flags on request)."""
    with open_ms(ms, readonly=False) as tab:
        for start, rows in row_chunks(tab):
            flags = tab.getcol("FLAG", startrow=start, nrow=rows)
            tab.putcol("FLAG", np.full_like(flags, value), startrow=start, nrow=rows)
