"""The terminal belongs to flint's own lines: what others write to it goes to a log file.

    with others_to_log(output / "logs" / "console.log"):
        ...  # flint's lines: print(), terminal_stream(), the "flint" logger

Inside the block the process's standard error (file descriptor 2) is the log file, so what
C libraries write there (casacore's measures warnings), what child processes started
inside write (Dask workers' logs) and what Python code writes to ``sys.stderr`` (Prefect's
first-run telemetry notice, its console logs) lands in the log, while flint's own lines
reach the terminal through :func:`terminal_stream` (a copy of the original descriptor) and
standard output, which is left alone.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

_terminal: list[TextIO] = []


def terminal_stream() -> TextIO:
    """Where flint's own terminal lines go: the terminal inside :func:`others_to_log`,
    else ``sys.stderr``."""
    return _terminal[-1] if _terminal else sys.stderr


@contextmanager
def others_to_log(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Send standard error of this process, and of processes started inside the block, to
    ``path`` (appended); flint's lines keep the terminal (module docstring)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    terminal = open(  # noqa: SIM115 (closed in finally)
        saved, "w", buffering=1, encoding=sys.stderr.encoding or "utf-8", errors="replace",
        closefd=False,
    )  # fmt: skip
    handlers = _flint_handlers_on_stderr()
    try:
        os.dup2(log, 2)
        _terminal.append(terminal)
        for handler in handlers:
            handler.setStream(terminal)
        yield path
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        for handler in handlers:
            handler.setStream(sys.stderr)
        _terminal.remove(terminal)
        terminal.close()
        os.close(log)
        os.close(saved)


def _flint_handlers_on_stderr() -> list[logging.StreamHandler]:
    """The "flint" logger's handlers writing to ``sys.stderr`` (the command line's)."""
    return [
        handler
        for handler in logging.getLogger("flint").handlers
        if type(handler) is logging.StreamHandler and handler.stream is sys.stderr
    ]
