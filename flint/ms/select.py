"""Copy the rows of one field of a measurement set into a new one (the input is only read)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from flint.errors import MeasurementSetError
from flint.ms.access import check_ms, open_ms

logger = logging.getLogger(__name__)


def copy_field(ms: str | os.PathLike[str], field: str, destination: str | os.PathLike[str]) -> Path:
    """Write the rows of field ``field`` of ``ms`` as a one-field MS at ``destination``.

    The subtables are copied with it; the FIELD table keeps only that field, and the rows
    point at it (FIELD_ID 0). ``destination`` must not exist (build it under a temporary
    name, see :func:`flint.atomic.atomic_path`).
    """
    ms, destination = check_ms(ms), Path(destination)
    with open_ms(ms, "FIELD") as tab:
        names = [str(name) for name in tab.getcol("NAME")]
    if field not in names:
        raise MeasurementSetError(f"no field {field} (fields: {', '.join(names)})", ms)
    index = names.index(field)
    with open_ms(ms) as tab:
        selected = tab.query(f"FIELD_ID=={index}")
        try:
            if selected.nrows() == 0:
                raise MeasurementSetError(f"field {field} has no rows", ms)
            selected.copy(str(destination), deep=True)
        finally:
            selected.close()
    with open_ms(destination, "FIELD", readonly=False) as tab:
        tab.removerows([row for row in range(tab.nrows()) if row != index])
    with open_ms(destination, readonly=False) as tab:
        tab.putcol("FIELD_ID", np.zeros(tab.nrows(), dtype=np.int32))
    logger.info("Copied field %s of %s to %s", field, ms, destination)
    return destination
