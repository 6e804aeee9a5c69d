"""Open measurement sets safely: read-only by default, with errors that name the file."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from casacore.tables import table

from flint.atomic import copy_atomically
from flint.errors import MeasurementSetError

logger = logging.getLogger(__name__)


def check_ms(path: str | os.PathLike[str]) -> Path:
    """Return ``path`` as a Path if it looks like a measurement set, else raise."""
    path = Path(path)
    if not path.exists():
        raise MeasurementSetError("no such measurement set", path)
    if not (path / "table.dat").exists():
        raise MeasurementSetError(
            "not a measurement set (no table.dat: not a casacore table)", path
        )
    if not (path / "ANTENNA" / "table.dat").exists():
        raise MeasurementSetError(
            "not a measurement set (a casacore table without an ANTENNA subtable)", path
        )
    return path


@contextmanager
def open_ms(
    path: str | os.PathLike[str], subtable: str | None = None, readonly: bool = True
) -> Iterator[table]:
    """Open a measurement set (or one of its subtables); read-only unless asked."""
    path = check_ms(path)
    name = str(path) if subtable is None else f"{path}/{subtable}"
    try:
        tab = table(name, readonly=readonly, ack=False)
    except RuntimeError as error:
        raise MeasurementSetError(
            f"cannot open {subtable or 'main table'}: {error}", path
        ) from None
    try:
        yield tab
    finally:
        tab.close()


CHUNK_BYTES = 8 * 2**20
"""About how many bytes of one visibility column (as complex64) a row loop reads at once.

Small chunks keep a task's memory flat, and numpy's buffers of that size are reused from
the heap rather than mapped afresh (and faulted in page by page) for every chunk, which on
virtual machines can cost more than the work itself."""


def row_chunks(tab: table, n_rows: int | None = None) -> Iterator[tuple[int, int]]:
    """``(first row, rows)`` spans over the first ``n_rows`` rows of open table ``tab``
    (default: all), each holding about :data:`CHUNK_BYTES` of its visibilities."""
    n_rows = tab.nrows() if n_rows is None else n_rows
    cells = 1
    if n_rows:
        column = next((c for c in ("DATA", "FLAG") if c in tab.colnames()), None)
        if column is not None and tab.iscelldefined(column, 0):
            cells = max(1, int(np.prod(tab.getcell(column, 0).shape)))
    step = max(64, CHUNK_BYTES // (8 * cells))
    for first in range(0, n_rows, step):
        yield first, min(step, n_rows - first)


def require_columns(path: str | os.PathLike[str], *columns: str) -> None:
    """Raise naming ``path`` if any of ``columns`` is missing from its main table."""
    with open_ms(path) as tab:
        missing = sorted(set(columns) - set(tab.colnames()))
    if missing:
        raise MeasurementSetError(f"missing column(s) {', '.join(missing)}", path)


def writable_copy(
    source: str | os.PathLike[str], destination: str | os.PathLike[str], overwrite: bool = False
) -> Path:
    """Copy-on-write: copy ``source`` to ``destination`` (atomically) before any change.

    An existing ``destination`` is replaced when ``overwrite`` (else FileExistsError): an
    existing copy may be one a killed run left half-changed, so it is never reused here
    (whether a finished product may be reused is decided by :mod:`flint.identity`).
    The source is never opened for writing.
    """
    source, destination = check_ms(source), Path(destination)
    if source.resolve() == destination.resolve():
        raise MeasurementSetError("refusing to modify a measurement set in place", source)
    logger.info("Copying %s -> %s", source, destination)
    return copy_atomically(source, destination, overwrite=overwrite)
