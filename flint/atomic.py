"""Write products atomically: build under a temporary name, then rename into place.

Whether an existing product may be reused is decided by :mod:`flint.identity`.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


TEMPORARY_PREFIX = "."
_HOST = socket.gethostname()
_TEMPORARY = re.compile(r"\.tmp-[0-9a-f]{8}-(?P<pid>\d+)@(?P<host>.+)$")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(final: str | os.PathLike[str]) -> list[Path]:
    """Remove temporaries of ``final`` left by a process that was killed; return them.

    A temporary's name ends with the pid and host of the process building it; one whose
    process no longer runs on this host is debris of a killed run (never a finished product).
    Temporaries of other hosts (a shared file system) are left alone.
    """
    final = Path(final)
    removed = []
    for candidate in final.parent.glob(f"{TEMPORARY_PREFIX}{final.name}.tmp-*"):
        match = _TEMPORARY.search(candidate.name)
        if match and match["host"] == _HOST and not _pid_alive(int(match["pid"])):
            _remove(candidate)
            removed.append(candidate)
    return removed


@contextmanager
def atomic_path(final: str | os.PathLike[str], overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling path of ``final``; rename it to ``final`` on success.

    Works for files and directories (measurement sets). On error the temporary
    product is removed and ``final`` is untouched.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(final)
    temporary = final.with_name(
        f"{TEMPORARY_PREFIX}{final.name}.tmp-{uuid.uuid4().hex[:8]}-{os.getpid()}@{_HOST}"
    )
    try:
        yield temporary
        if final.exists() or final.is_symlink():
            if not overwrite:
                raise FileExistsError(f"{final}: already exists; refusing to overwrite it")
            _remove(final)
        os.replace(temporary, final)
    finally:
        _remove(temporary)


def copy_atomically(
    source: str | os.PathLike[str], destination: str | os.PathLike[str], overwrite: bool = False
) -> Path:
    """Copy a file or directory tree to ``destination`` atomically; return the destination."""
    source, destination = Path(source), Path(destination)
    with atomic_path(destination, overwrite=overwrite) as temporary:
        if source.is_dir():
            shutil.copytree(source, temporary, symlinks=True)
        else:
            shutil.copy2(source, temporary)
    return destination
