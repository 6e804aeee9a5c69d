"""Where tools put their temporary files: node-local scratch, set from the cluster config.

wsclean reorders a measurement set into one temporary file per sub-band and keeps its
per-sub-band images until it finishes: for a full-size ASKAP beam imaged in 18 sub-bands
that is about a gigabyte beside the products, the largest single item of a beam's disk
peak. With ``FLINT_TOOL_SCRATCH`` naming a node-local directory (``$TMPDIR`` of a SLURM job,
``/dev/shm`` where memory is plentiful) the temporary files go there, and only finished
products are copied into the run's output. The cluster factory exports it to every worker
from the cluster config's ``tool_scratch``; unset, temporary files stay beside the products.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

from flint.errors import InputError

TOOL_SCRATCH_ENV = "FLINT_TOOL_SCRATCH"
"""Environment variable naming the directory for tools' temporary files."""


def tool_scratch() -> Path | None:
    """The node-local directory for tools' temporary files (``FLINT_TOOL_SCRATCH``), if set."""
    value = os.path.expandvars(os.environ.get(TOOL_SCRATCH_ENV, "").strip())
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_dir():
        raise InputError(f"{TOOL_SCRATCH_ENV}={value}: not a directory")
    return path


def make_scratch(prefix: str, beside: Path) -> Path:
    """A new temporary directory in the tool scratch, or in ``beside`` when none is set."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir=tool_scratch() or beside))


def move_into_place(source: Path, destination: Path) -> None:
    """Move ``source`` to ``destination`` atomically, across file systems too (a copy into a
    hidden temporary beside ``destination``, then a rename)."""
    try:
        os.replace(source, destination)
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
        partial = destination.with_name(f".{destination.name}.part")
        shutil.copyfile(source, partial)
        os.replace(partial, destination)
        source.unlink()
