"""Measurement-set basics: read-only access, summaries, copy-on-write, column edits."""

from flint.ms.access import check_ms, open_ms, require_columns, writable_copy
from flint.ms.columns import add_column, rename_column
from flint.ms.summary import MSSummary, summarise_ms

__all__ = [
    "MSSummary",
    "add_column",
    "check_ms",
    "open_ms",
    "rename_column",
    "require_columns",
    "summarise_ms",
    "writable_copy",
]
