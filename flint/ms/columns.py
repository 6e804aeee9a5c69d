"""Add and rename measurement-set columns safely."""

from __future__ import annotations

import logging
import os

import numpy as np
from casacore.tables import makearrcoldesc

from flint.errors import MeasurementSetError
from flint.ms.access import open_ms

logger = logging.getLogger(__name__)


def add_column(
    path: str | os.PathLike[str],
    name: str,
    like: str = "DATA",
    fill: complex | float | bool | None = 0,
    exist_ok: bool = False,
) -> bool:
    """Add column ``name`` shaped like ``like`` (its own tiled storage); return True if added.

    An existing column is an error unless ``exist_ok``, in which case nothing changes.
    """
    with open_ms(path, readonly=False) as tab:
        if name in tab.colnames():
            if exist_ok:
                return False
            raise MeasurementSetError(f"column {name} already exists", path)
        if like not in tab.colnames():
            raise MeasurementSetError(f"template column {like} does not exist", path)
        description = tab.getcoldesc(like)
        cell_shape = tab.getcell(like, 0).shape if tab.nrows() else tuple(description["shape"])
        column = makearrcoldesc(
            name,
            0,
            shape=list(cell_shape),
            valuetype=description["valueType"],
            comment=f"added by flint, shaped like {like}",
        )
        tile = [int(cell_shape[-1]), int(min(cell_shape[0], 64)), 128]
        used = {info["NAME"] for info in tab.getdminfo().values()}
        manager = next(
            f"{name}_tiled{suffix}"
            for suffix in ("", *(f"_{n}" for n in range(1, 100)))
            if f"{name}_tiled{suffix}" not in used
        )
        dminfo = {
            "TYPE": "TiledColumnStMan",
            "NAME": manager,
            "SPEC": {"DEFAULTTILESHAPE": tile},
        }
        tab.addcols(column, dminfo)
        if fill is not None and tab.nrows():
            chunk = 100_000
            for start in range(0, tab.nrows(), chunk):
                rows = min(chunk, tab.nrows() - start)
                template = tab.getcol(like, startrow=start, nrow=rows)
                tab.putcol(name, np.full_like(template, fill), startrow=start, nrow=rows)
    logger.info("Added column %s to %s", name, path)
    return True


def rename_column(path: str | os.PathLike[str], old: str, new: str) -> None:
    """Rename ``old`` to ``new``; refuses to clobber an existing column."""
    with open_ms(path, readonly=False) as tab:
        names = tab.colnames()
        if old not in names:
            raise MeasurementSetError(f"cannot rename: column {old} does not exist", path)
        if new in names:
            raise MeasurementSetError(f"cannot rename {old}: column {new} already exists", path)
        tab.renamecol(old, new)
    logger.info("Renamed column %s -> %s in %s", old, new, path)
