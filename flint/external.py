"""Run external programs (wsclean, aoflagger, BANE...) from argument lists.

This is the one place flint spawns processes: output is streamed to the log and
to a file, a timeout is honoured, and failure raises :class:`ToolError` with the
exit code and the end of the output.
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
) -> ToolRun:
    """Run ``argv`` (never through a shell), streaming its output; raise ToolError on failure."""
    argv = [os.fspath(part) for part in argv]
    require_tool(argv[0])
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    log_file = None
    if log_path is not None:
        log_path = Path(log_path)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = log_path.open("w")
    logger.info("Running %s", " ".join(argv))
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
                logger.log(log_level, "%s: %s", Path(argv[0]).name, line)
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
    logger.info("%s finished in %.3f s", Path(argv[0]).name, seconds)
    return ToolRun(argv, returncode, seconds, "\n".join(tail), log_path)
