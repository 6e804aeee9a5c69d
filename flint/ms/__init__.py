"""Measurement-set basics: read-only access, summaries, copy-on-write, column edits."""

from flint.ms.access import check_ms, open_ms, require_columns, row_chunks, writable_copy
from flint.ms.columns import add_column, rename_column
from flint.ms.discover import Observation, find_observation
from flint.ms.layout import MSLayoutState, detect_layout
from flint.ms.split import split_column
from flint.ms.summary import MSSummary, summarise_ms

__all__ = [
    "MSLayoutState",
    "MSSummary",
    "Observation",
    "add_column",
    "check_ms",
    "detect_layout",
    "find_observation",
    "open_ms",
    "rename_column",
    "require_columns",
    "row_chunks",
    "split_column",
    "summarise_ms",
    "writable_copy",
]
