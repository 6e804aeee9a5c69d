"""Read a sky model from any supported file, choosing the reader from its content."""

from __future__ import annotations

import os
from pathlib import Path

from flint.errors import SkyModelError
from flint.sky.model import SkyModel
from flint.sky.tables import DEFAULT_SPECTRAL_INDEX, read_sky_table
from flint.sky.wsclean_format import is_component_list, read_wsclean_components

FORMATS = (
    "wsclean/DP3 component list (text with a 'Format = ...' header)",
    "FITS table with Aegean or PyBDSF columns",
    "CSV or ECSV table with Aegean or PyBDSF columns (.csv / .ecsv)",
)


def sky_format(path: str | os.PathLike[str]) -> str:
    """``"wsclean"``, ``"fits"`` or ``"table"`` for a sky-model file; raise if none fits."""
    path = Path(path)
    if not path.is_file():
        raise SkyModelError("no such file", path)
    with open(path, "rb") as handle:
        head = handle.read(80)
    if not head.strip():
        raise SkyModelError("empty file", path)
    if head.startswith(b"SIMPLE  ="):
        return "fits"
    if "".join(path.suffixes).lower().endswith((".csv", ".ecsv")):
        return "table"
    if is_component_list(path):
        return "wsclean"
    raise SkyModelError(f"unknown sky-model format; expected one of: {'; '.join(FORMATS)}", path)


def read_sky(
    path: str | os.PathLike[str],
    reference_hz: float | None = None,
    spectral_index: float = DEFAULT_SPECTRAL_INDEX,
) -> SkyModel:
    """Read a sky model: a wsclean/PyBDSF component list, or an Aegean / PyBDSF table.

    ``reference_hz`` is the fallback reference frequency and ``spectral_index`` the
    spectral index of components without one, for tables (see :mod:`flint.sky.tables`);
    component lists always carry their own. Sizes a table gives with its restoring beam
    are deconvolved.
    """
    if sky_format(path) == "wsclean":
        return read_wsclean_components(path)
    return read_sky_table(path, reference_hz=reference_hz, spectral_index=spectral_index)
