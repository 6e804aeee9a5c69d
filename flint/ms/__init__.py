"""Measurement-set basics: read-only access, summaries, copy-on-write, column edits."""

from flint.ms.access import check_ms, open_ms, require_columns, writable_copy
from flint.ms.columns import add_column, rename_column
from flint.ms.discover import find_beam_measurement_sets
from flint.ms.split import split_column
from flint.ms.summary import MSSummary, summarise_ms

__all__ = [
    "MSSummary",
    "add_column",
    "check_ms",
    "find_beam_measurement_sets",
    "open_ms",
    "rename_column",
    "require_columns",
    "split_column",
    "summarise_ms",
    "writable_copy",
]
