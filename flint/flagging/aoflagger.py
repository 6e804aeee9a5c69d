"""Run aoflagger with flint's ASKAP strategy on a copy of a measurement set."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from flint.external import run_tool
from flint.ms import open_ms, require_columns, writable_copy

logger = logging.getLogger(__name__)


def default_strategy() -> Path:
    """The ASKAP strategy shipped with flint (``flint/data/aoflagger/askap.lua``)."""
    return Path(str(files("flint") / "data" / "aoflagger" / "askap.lua"))


def calibrator_strategy() -> Path:
    """The ASKAP strategy for calibrator scans (``askap_calibrator.lua``): the bandpass is
    removed along time, which holds for a constant calibrator signal only."""
    return Path(str(files("flint") / "data" / "aoflagger" / "askap_calibrator.lua"))


@dataclass(frozen=True)
class AOFlaggerCommand:
    """An aoflagger invocation: argv plus the measurement set it changes."""

    argv: list[str]
    ms: Path


def build_aoflagger_command(
    ms: str | os.PathLike[str],
    strategy: str | os.PathLike[str] | None = None,
    column: str = "DATA",
    keep_input_flags: bool = True,
    base_threshold: float | None = None,
    threads: int | None = None,
) -> AOFlaggerCommand:
    """Build the aoflagger argv (pure): strategy, column and strategy settings via -preamble."""
    argv = ["aoflagger", "-strategy", os.fspath(strategy or default_strategy()), "-column", column]
    preamble = [f"flint_keep_input_flags = {str(keep_input_flags).lower()}"]
    if base_threshold is not None:
        preamble.append(f"flint_base_threshold = {float(base_threshold)!r}")
    for statement in preamble:
        argv += ["-preamble", statement]
    if threads:
        argv += ["-j", str(int(threads))]
    argv.append(os.fspath(ms))
    return AOFlaggerCommand(argv, Path(ms))


def run_aoflagger(
    ms: str | os.PathLike[str],
    output_ms: str | os.PathLike[str] | None = None,
    *,
    column: str = "DATA",
    keep_input_flags: bool = True,
    strategy: str | os.PathLike[str] | None = None,
    base_threshold: float | None = None,
    threads: int | None = None,
    timeout: float | None = 3600.0,
    log_path: str | os.PathLike[str] | None = None,
) -> Path:
    """Flag ``ms`` with aoflagger; with ``output_ms`` the flags go into a copy (source untouched).

    Without ``output_ms`` the measurement set is changed in place, which is only for
    working copies that flint made itself. Returns the flagged measurement set.
    """
    target = Path(ms) if output_ms is None else writable_copy(ms, output_ms)
    require_columns(target, column, "FLAG")
    with open_ms(target) as tab:
        if tab.nrows() == 0:
            logger.warning("%s has no rows; nothing to flag", target)
            return target
    command = build_aoflagger_command(
        target, strategy, column, keep_input_flags, base_threshold, threads
    )
    run_tool(
        command.argv,
        log_path=log_path or target.with_name(target.name + ".aoflagger.log"),
        timeout=timeout,
    )
    return target
