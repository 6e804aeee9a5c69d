"""Run external programs (wsclean, aoflagger, BANE...) from argument lists.

This is the one place flint spawns processes: a tool's whole output goes to its log
file (``log_path``, beside its product), never line by line to the logger; a timeout is
honoured, and failure raises :class:`ToolError` with the exit code and the end of the
output. On success the end of the output is logged at DEBUG only (``flint -v``).
"""

from __future__ import annotations

import collections
import logging
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from flint.errors import ToolError

logger = logging.getLogger(__name__)

TAIL_LINES = 40


@dataclass(frozen=True)
class ToolRun:
    """What a finished run of an external program produced."""

    argv: list[str]
    returncode: int
    seconds: float
    tail: str
    log_path: Path | None
    output: str | None = None
    """The whole output, when asked for with ``capture=True``."""


def require_tool(name: str) -> str:
    """Return the path of executable ``name`` or raise a ToolError saying it is missing."""
    path = shutil.which(name)
    if path is None:
        raise ToolError([name], 127, f"{name} is not installed or not on PATH")
    return path


def run_tool(
    argv: Sequence[str | os.PathLike[str]],
    *,
    log_path: str | os.PathLike[str] | None = None,
    timeout: float | None = None,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    log_level: int = logging.INFO,
    capture: bool = False,
) -> ToolRun:
    """Run ``argv`` (never through a shell); raise ToolError on failure.

    The output goes to ``log_path`` (and, with ``capture``, into :attr:`ToolRun.output`);
    only the start and end of the run are logged, at ``log_level``.
    """
    argv = [os.fspath(part) for part in argv]
    require_tool(argv[0])
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    captured: list[str] | None = [] if capture else None
    log_file = None
    if log_path is not None:
        log_path = Path(log_path)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = log_path.open("w")
    logger.log(log_level, "Running %s", " ".join(argv))
    started = time.perf_counter()
    process = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        cwd=cwd,
        env=None if env is None else {**os.environ, **env},
    )
    timer = threading.Timer(timeout, process.kill) if timeout else None
    if timer:
        timer.start()
    try:
        assert process.stdout is not None
        with process.stdout:
            for line in process.stdout:
                line = line.rstrip("\n")
                tail.append(line)
                if log_file:
                    log_file.write(line + "\n")
                if captured is not None:
                    captured.append(line)
        returncode = process.wait()
    finally:
        if timer:
            timer.cancel()
        if log_file:
            log_file.close()
    seconds = time.perf_counter() - started
    timed_out = timeout is not None and seconds >= timeout and returncode != 0
    if returncode != 0:
        raise ToolError(argv, None if timed_out else returncode, "\n".join(tail), log_path)
    name = Path(argv[0]).name
    logger.log(
        log_level,
        "%s finished in %.1f s%s",
        name,
        seconds,
        f" (log: {log_path})" if log_path else "",
    )
    if tail and logger.isEnabledFor(logging.DEBUG):
        logger.debug("%s output, last %d lines:\n%s", name, len(tail), "\n".join(tail))
    output = None if captured is None else "\n".join(captured)
    return ToolRun(argv, returncode, seconds, "\n".join(tail), log_path, output)
