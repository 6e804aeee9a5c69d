"""Split a calibrated column into the DATA column of a new measurement set."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from casacore.tables import table

from flint.atomic import atomic_path
from flint.errors import MeasurementSetError
from flint.identity import Recipe
from flint.ms.access import check_ms, require_columns

logger = logging.getLogger(__name__)

SPLIT_KEYWORD = "FLINT_SPLIT_FROM"
DROPPED = ("MODEL_DATA",)


def split_column(
    ms: str | os.PathLike[str], output_ms: str | os.PathLike[str], column: str = "CORRECTED_DATA"
) -> Path:
    """Write a copy of ``ms`` whose DATA is ``ms``'s ``column`` (MODEL_DATA dropped).

    The source is untouched; the copy is built under a temporary name and renamed, so
    an existing ``output_ms`` is complete, and a rerun returns it without work when it was
    made from the same source (:class:`flint.identity.Recipe`).
    """
    ms, output_ms = check_ms(ms), Path(output_ms)
    recipe = Recipe.of("split", {"ms": ms}, {"column": column, "dropped": DROPPED})
    if recipe.made(output_ms):
        logger.info("Split %s is up to date; skipping", output_ms)
        return output_ms
    require_columns(ms, column)
    if column == "DATA":
        raise MeasurementSetError("nothing to split: the column is already DATA", ms)
    with atomic_path(output_ms, overwrite=True) as temporary:
        shutil.copytree(ms, temporary, symlinks=True)
        with table(str(temporary), readonly=False, ack=False) as tab:
            tab.removecols(["DATA", *(c for c in DROPPED if c in tab.colnames() and c != column)])
            tab.renamecol(column, "DATA")
            tab.putkeyword(SPLIT_KEYWORD, f"{ms}:{column}")
    recipe.record(output_ms)
    logger.info("Split %s of %s into DATA of %s", column, ms, output_ms)
    return output_ms
