"""Find the per-beam measurement sets of one observation in a directory, and their layout."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from flint.errors import InputError
from flint.ms.layout import MSLayoutState, detect_layout
from flint.naming import MSName, parse_ms_name


@dataclass(frozen=True)
class Observation:
    """The beams of one scheduling block as found in a directory."""

    directory: Path
    layout: str
    """One of :data:`flint.ms.layout.LAYOUTS`, the same for every beam."""
    sbid: int | None
    beams: dict[int, MSLayoutState]
    """Beam number -> its measurement set's state, in beam order."""

    @property
    def calibrated(self) -> bool:
        """Bandpass-calibrated data (CASDA): no bandpass is to be applied."""
        return all(state.calibrated for state in self.beams.values())

    def describe(self) -> str:
        """One line for people."""
        sbid = "unknown SBID" if self.sbid is None else f"SB{self.sbid}"
        beams = ", ".join(str(beam) for beam in self.beams)
        return f"{self.directory}: {sbid}, {self.layout} layout, beams {beams}"


def _named(directory: Path) -> list[tuple[Path, MSName]]:
    found = []
    for path in sorted(directory.rglob("*.ms")):
        relative = path.relative_to(directory).parts
        if any(part.startswith(".") for part in relative) or any(
            part.endswith(".ms") for part in relative[:-1]
        ):
            continue  # temporary products, and tables inside measurement sets
        try:
            found.append((path, parse_ms_name(path)))
        except InputError:
            continue
    return found


def _one_of(values: dict[str, list[str]], what: str, directory: Path) -> None:
    if len(values) > 1:
        parts = "; ".join(f"{value}: {', '.join(names[:3])}" for value, names in values.items())
        raise InputError(f"mixes {what} ({parts}): give one observation's directory", directory)


def find_observation(
    directory: str | os.PathLike[str], beams: Iterable[int] | None = None
) -> Observation:
    """The measurement sets of ``beams`` (default: all) under ``directory``, one per beam.

    Names in any of flint's known styles (:mod:`flint.naming`) are recognised; temporary
    products (dot-prefixed) are ignored. Errors name the directory: nothing found, two
    measurement sets of one beam, a requested beam missing, a mix of naming styles,
    layouts or SBIDs.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError("not a directory", directory)
    named = _named(directory)
    if not named:
        raise InputError("no ASKAP-named measurement sets found", directory)
    styles: dict[str, list[str]] = {}
    sbids: dict[str, list[str]] = {}
    for path, name in named:
        styles.setdefault(name.style, []).append(path.name)
        if name.sbid is not None:
            sbids.setdefault(f"SB{name.sbid}", []).append(path.name)
    _one_of(styles, "naming styles", directory)
    _one_of(sbids, "scheduling blocks", directory)
    by_beam: dict[int, Path] = {}
    for path, name in named:
        if name.beam in by_beam:
            raise InputError(
                f"two measurement sets of beam {name.beam}: {by_beam[name.beam].name} and "
                f"{path.name}",
                directory,
            )
        by_beam[name.beam] = path
    wanted = sorted(by_beam) if beams is None else sorted(set(beams))
    missing = [beam for beam in wanted if beam not in by_beam]
    if missing:
        raise InputError(
            f"beam(s) {', '.join(map(str, missing))} requested but not found "
            f"(found beams {', '.join(map(str, sorted(by_beam)))})",
            directory,
        )
    states = {beam: detect_layout(by_beam[beam]) for beam in wanted}
    layouts: dict[str, list[str]] = {}
    for state in states.values():
        layouts.setdefault(state.layout, []).append(state.path.name)
    _one_of(layouts, "layouts", directory)
    _one_of(
        {f"SB{state.sbid}": [state.path.name] for state in states.values()},
        "scheduling blocks",
        directory,
    )
    sbid = next(iter(states.values())).sbid
    return Observation(directory, next(iter(layouts)), sbid, states)
