"""One run per output directory: a lock (filelock) held while a run writes there.

A second run on the same directory refuses at once with :class:`OutputBusyError`, naming
the run that holds it (recorded beside the lock). The lock is an OS file lock, released
when its process ends however it ends, so the lock of a killed run is taken over.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from flint.errors import FlintError

logger = logging.getLogger(__name__)

LOCK_NAME = ".flint.lock"
HOLDER_NAME = ".flint.lock.json"


class OutputBusyError(FlintError, RuntimeError):
    """Another run is writing to the output directory."""


def describe_holder(output_dir: str | os.PathLike[str]) -> str:
    """Who holds ``output_dir`` (from the record the holder wrote), for error messages."""
    try:
        holder = json.loads((Path(output_dir) / HOLDER_NAME).read_text())
    except (OSError, ValueError):
        return "another run (no record of which)"
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder.get("since", 0)))
    run = holder.get("run") or "a run"
    return f"{run} (pid {holder.get('pid')} on {holder.get('host')}, since {since})"


@contextmanager
def hold_output_dir(
    output_dir: str | os.PathLike[str], run: str | None = None, info: Mapping | None = None
) -> Iterator[Path]:
    """Hold ``output_dir`` for this run; OutputBusyError at once if another run holds it.

    ``run`` names this run in the record others see (e.g. ``flow run 'crimson-fox' (id)``).
    """
    output_dir = Path(output_dir)
    created = not output_dir.exists()
    output_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(output_dir / LOCK_NAME, timeout=0, thread_local=False)
    try:
        lock.acquire()
    except Timeout:
        raise OutputBusyError(
            f"in use by {describe_holder(output_dir)}; wait for it to finish or cancel it",
            output_dir,
        ) from None
    try:
        record = {
            "run": run,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": time.time(),
        }
        (output_dir / HOLDER_NAME).write_text(json.dumps({**record, **(info or {})}))
        logger.debug("Holding %s for %s", output_dir, run)
        yield output_dir
    except BaseException:
        if created and {p.name for p in output_dir.iterdir()} <= {LOCK_NAME, HOLDER_NAME}:
            (output_dir / LOCK_NAME).unlink(missing_ok=True)  # a refused run writes nothing
            (output_dir / HOLDER_NAME).unlink(missing_ok=True)
            output_dir.rmdir()
        raise
    finally:
        (output_dir / HOLDER_NAME).unlink(missing_ok=True)
        lock.release()


def check_output_dir_free(output_dir: str | os.PathLike[str]) -> None:
    """Raise OutputBusyError if another run holds ``output_dir`` right now (takes nothing)."""
    if Path(output_dir).is_dir():
        with hold_output_dir(output_dir, run="a check"):
            pass
