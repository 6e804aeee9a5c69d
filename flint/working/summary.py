"""What a continuum run keeps on disk, by beam and kind: ``<output>/summary.json``."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from flint.atomic import atomic_path

SUMMARY_NAME = "summary.json"
_BEAM = re.compile(r"^beam(\d+)$")
_ROUND_COPY = re.compile(r"\.round\d+\.ms$")
DROPPED = (
    "MODEL_DATA of the working copy, once each round's gains are solved",
    "NOISE_DATA of the working copy, once the thermal-limit image is made",
    "peeling's PEEL_RESIDUAL and MODEL_DATA columns of the working copy, once each "
    "peeling step is done",
    "wsclean's sub-band dirty, residual and PSF images, and its reordering files",
)
"""Intermediates a run drops unless it keeps them (``keep_intermediates``)."""


@dataclass(frozen=True)
class Kept:
    """Files of one kind a run keeps (for one beam, or for the field)."""

    kind: str
    beam: int | None
    files: int
    bytes: int
    paths: list[Path] = field(default_factory=list)
    """The files or measurement sets themselves (directories count as one)."""


@dataclass(frozen=True)
class RunSummary:
    """What a run keeps, and how much disk it takes."""

    output_dir: Path
    kept: list[Kept]
    total_bytes: int
    raw_bytes: int
    """Bytes of the raw measurement sets the run read (never written)."""
    keep_intermediates: bool
    dropped: list[str]
    path: Path


def tree_bytes(path: str | os.PathLike[str]) -> int:
    """Bytes on disk of a file or of every file under a directory."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    total = 0
    for root, _, names in os.walk(path):
        for name in names:
            try:
                total += (Path(root) / name).stat().st_size
            except FileNotFoundError:  # removed while counting (a temporary)
                continue
    return total


def _kind(item: Path) -> str:
    """What a file or directory directly under ``beamNN/`` is."""
    name = item.name
    if name.endswith(".ms"):
        return "round copy (intermediate)" if _ROUND_COPY.search(name) else "working copy"
    if name.endswith(".ms.steps"):
        return "working copy markers"
    if name.endswith(".ms.flint.json"):
        return "working copy sidecar"
    return name if item.is_dir() else "other"


def summarise_run(
    output_dir: str | os.PathLike[str],
    raw: Sequence[str | os.PathLike[str]] = (),
    keep_intermediates: bool = False,
) -> RunSummary:
    """List what ``output_dir`` holds by beam and kind; write it to ``summary.json`` there."""
    output_dir = Path(output_dir)
    groups: dict[tuple[str, int | None], list[Path]] = {}
    for entry in sorted(output_dir.iterdir()):
        match = _BEAM.match(entry.name)
        if entry.name == SUMMARY_NAME or entry.name.startswith("."):
            continue
        if match and entry.is_dir():
            beam = int(match[1])
            for item in sorted(entry.iterdir()):
                if item.name.startswith("."):
                    continue
                kind = _kind(item)
                children = sorted(item.iterdir()) if item.is_dir() and not item.name.endswith(
                    ".ms"
                ) else [item]  # fmt: skip
                groups.setdefault((kind, beam), []).extend(children)
        else:
            groups.setdefault((entry.name, None), []).append(entry)
    kept = [
        Kept(kind, beam, len(paths), sum(tree_bytes(p) for p in paths), paths)
        for (kind, beam), paths in sorted(groups.items(), key=lambda item: (item[0][1] or -1, item[0][0]))
    ]  # fmt: skip
    path = output_dir / SUMMARY_NAME
    summary = RunSummary(
        output_dir=output_dir,
        kept=kept,
        total_bytes=sum(item.bytes for item in kept),
        raw_bytes=sum(tree_bytes(p) for p in raw),
        keep_intermediates=keep_intermediates,
        dropped=[] if keep_intermediates else list(DROPPED),
        path=path,
    )
    with atomic_path(path, overwrite=True) as temporary:
        temporary.write_text(json.dumps(asdict(summary), indent=1, default=str) + "\n")
    return summary


def describe_summary(summary: RunSummary) -> list[str]:
    """Lines for people: what is kept, per beam and kind, and its size."""
    lines = [f"kept in {summary.output_dir} ({summary.total_bytes / 1e9:.2f} GB; raw data "
             f"{summary.raw_bytes / 1e9:.2f} GB, only read):"]  # fmt: skip
    for item in summary.kept:
        where = "field" if item.beam is None else f"beam {item.beam:02d}"
        lines.append(f"  {where:8s} {item.kind:28s} {item.files:4d} {item.bytes / 1e6:10.1f} MB")
    for what in summary.dropped:
        lines.append(f"  dropped: {what}")
    return lines
