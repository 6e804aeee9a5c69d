"""Find the per-beam measurement sets of an observation in a directory."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from flint.errors import InputError
from flint.ms.access import check_ms
from flint.naming import MSName, parse_ms_name


def find_beam_measurement_sets(
    directory: str | os.PathLike[str], beams: Iterable[int] | None = None
) -> dict[int, tuple[Path, MSName]]:
    """Map beam number to (path, parsed name) for every ASKAP-named MS under ``directory``.

    Temporary products (dot-prefixed) are ignored. Two measurement sets of one beam, or
    none at all, are errors naming the directory.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError("not a directory", directory)
    wanted = None if beams is None else set(beams)
    found: dict[int, tuple[Path, MSName]] = {}
    seen: set[int] = set()
    for path in sorted(directory.rglob("*.ms")):
        if any(part.startswith(".") for part in path.relative_to(directory).parts):
            continue
        try:
            name = parse_ms_name(path)
        except InputError:
            continue
        seen.add(name.beam)
        if wanted is not None and name.beam not in wanted:
            continue
        if name.beam in found:
            raise InputError(
                f"two measurement sets of beam {name.beam}: {found[name.beam][0].name} and {path.name}",
                directory,
            )
        found[name.beam] = (path, name)
    if not found:
        what = "" if wanted is None else f" of beams {sorted(wanted)}"
        raise InputError(f"no ASKAP-named measurement sets{what} found", directory)
    missing = sorted((wanted or set()) - set(found))
    if missing:
        raise InputError(
            f"beam(s) {', '.join(map(str, missing))} requested but not found "
            f"(found beams {', '.join(map(str, sorted(seen)))})",
            directory,
        )
    for path, _ in found.values():
        check_ms(path)
    return dict(sorted(found.items()))
