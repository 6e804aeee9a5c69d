"""Run aoflagger with flint's ASKAP strategy on a copy of a measurement set."""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from flint.atomic import atomic_path
from flint.cores import task_cores
from flint.external import run_tool, scaled_timeout
from flint.identity import Recipe
from flint.ms import check_ms, open_ms, require_columns

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
    timeout: float | None = None,
    log_path: str | os.PathLike[str] | None = None,
) -> Path:
    """Flag ``ms`` with aoflagger; with ``output_ms`` the flags go into a copy (source untouched).

    The copy is flagged under a temporary name and renamed once aoflagger finished, so a
    run killed part-way leaves no ``output_ms``; a finished copy made from the same data,
    strategy and settings is reused (:class:`flint.identity.Recipe`). Without
    ``output_ms`` the measurement set is changed in place, which is only for working copies
    that flint made itself. ``timeout`` defaults to one scaled by the data's size
    (:func:`flint.external.scaled_timeout`); the log goes beside the flagged MS.
    Returns the flagged measurement set.
    """
    ms = check_ms(ms)
    require_columns(ms, column, "FLAG")
    strategy = Path(strategy or default_strategy())
    final = ms if output_ms is None else Path(output_ms)
    log_path = Path(log_path or final.with_name(final.name + ".aoflagger.log"))
    timeout = timeout or scaled_timeout([ms], seconds_per_gb=AOFLAGGER_SECONDS_PER_GB)
    settings = (column, keep_input_flags, base_threshold, threads)
    if output_ms is None:
        _flag(ms, strategy, settings, log_path, timeout)
        return ms
    recipe = Recipe.of(
        "aoflagger",
        {"ms": ms, "strategy": strategy},
        {"column": column, "keep_input_flags": keep_input_flags, "base_threshold": base_threshold},
        tools=("aoflagger",),
    )
    if recipe.made(final):
        logger.info("%s is flagged already with these settings; skipping", final)
        return final
    with atomic_path(final, overwrite=True) as working:
        shutil.copytree(ms, working, symlinks=True)
        _flag(working, strategy, settings, log_path, timeout)
    recipe.record(final)
    return final


AOFLAGGER_SECONDS_PER_GB = 900.0
"""aoflagger's timeout per GB of measurement set (it flags ~100 MB/s on one core)."""


def _flag(target: Path, strategy: Path, settings: tuple, log_path: Path, timeout: float) -> None:
    with open_ms(target) as tab:
        if tab.nrows() == 0:
            logger.warning("%s has no rows; nothing to flag", target)
            return
    column, keep_input_flags, base_threshold, threads = settings
    command = build_aoflagger_command(
        target, strategy, column, keep_input_flags, base_threshold, threads or task_cores()
    )
    run_tool(command.argv, log_path=log_path, timeout=timeout)
