"""Source finding with BANE (background and noise) and Aegean (components), as subprocesses."""

from flint.sourcefind.commands import (
    SourceFindPaths,
    build_aegean_command,
    build_bane_command,
    source_find_paths,
)
from flint.sourcefind.options import SourceFindOptions
from flint.sourcefind.run import SourceFindResult, empty_catalogue, find_sources

__all__ = [
    "SourceFindOptions",
    "SourceFindPaths",
    "SourceFindResult",
    "build_aegean_command",
    "build_bane_command",
    "empty_catalogue",
    "find_sources",
    "source_find_paths",
]
