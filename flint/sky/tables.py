"""Sky models as astropy tables with Aegean column names (FITS, CSV, ECSV).

Columns (case-insensitive on read; units on columns are honoured, otherwise these
are assumed): ``ra``, ``dec`` [deg]; ``int_flux`` [Jy] (total flux, used as the
component flux; ``peak_flux`` [Jy] is the fallback when there is no ``int_flux``);
``a``, ``b`` [arcsec, FWHM]; ``pa`` [deg, east of north]; optional ``name``,
``type`` (point/gaussian), ``ref_freq`` [Hz], ``log_si`` (bool) and spectral terms
``si_0``, ``si_1``, ... (``alpha`` or ``spectral_index`` are accepted for ``si_0``).

Component kind: a ``type`` column decides when present; otherwise a component is
a Gaussian when both ``a`` and ``b`` are finite and > 0, else a point. The
reference frequency comes from a ``ref_freq`` column, else from the table meta
(``REF_FREQ``, ``FREQ``, ``REFFREQ`` or ``RESTFRQ``, in Hz), else from the
``reference_hz`` argument.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import Table

from flint.errors import SkyModelError
from flint.sky.model import SkyModel

logger = logging.getLogger(__name__)

UNITS = {
    "ra": u.deg,
    "dec": u.deg,
    "int_flux": u.Jy,
    "peak_flux": u.Jy,
    "a": u.arcsec,
    "b": u.arcsec,
    "pa": u.deg,
    "ref_freq": u.Hz,
}
OPTIONAL = ("name", "type", "peak_flux", "int_flux", "a", "b", "pa", "ref_freq", "log_si")
SPECTRAL_ALIASES = ("alpha", "spectral_index")
META_FREQUENCY_KEYS = ("REF_FREQ", "FREQ", "REFFREQ", "RESTFRQ")
EXPECTED = "ra, dec [deg], int_flux or peak_flux [Jy]; optional " + ", ".join(
    [*OPTIONAL[3:], "si_0..si_N or alpha"]
)


def sky_to_table(sky: SkyModel) -> Table:
    """A table of ``sky`` with Aegean column names and units.

    ``peak_flux`` equals ``int_flux`` for points; a sky model has no restoring
    beam, so it is NaN for Gaussians.
    """
    gaussian = sky.kinds == "gaussian"
    table = Table(
        {
            "name": sky.names,
            "type": sky.kinds,
            "ra": sky.ra_deg * u.deg,
            "dec": sky.dec_deg * u.deg,
            "peak_flux": np.where(gaussian, np.nan, sky.flux_jy) * u.Jy,
            "int_flux": sky.flux_jy * u.Jy,
            "a": sky.major_arcsec * u.arcsec,
            "b": sky.minor_arcsec * u.arcsec,
            "pa": sky.pa_deg * u.deg,
            "ref_freq": sky.reference_hz * u.Hz,
            "log_si": sky.logarithmic,
        }
    )
    for index in range(sky.nterms):
        table[f"si_{index}"] = sky.spectral_terms[:, index]
    return table


def _values(table: Table, column: str, path: Path) -> np.ndarray:
    """Float values of ``column`` in its standard unit (assumed when the column has none)."""
    data = table[column]
    try:
        values = np.ma.filled(np.ma.asarray(data, dtype=float), np.nan)
    except (TypeError, ValueError):
        raise SkyModelError(f"column {column!r} is not numeric", path) from None
    unit = getattr(data, "unit", None)
    standard = UNITS.get(column)
    if unit is not None and standard is not None and unit != u.dimensionless_unscaled:
        try:
            values = (values * unit).to_value(standard)
        except u.UnitConversionError:
            raise SkyModelError(
                f"column {column!r} has unit {unit}, not convertible to {standard}", path
            ) from None
    return values


def _reference_hz(table: Table, path: Path, reference_hz: float | None) -> np.ndarray | float:
    if "ref_freq" in table.colnames:
        return _values(table, "ref_freq", path)
    meta = {str(key).upper(): value for key, value in table.meta.items()}
    for key in META_FREQUENCY_KEYS:
        if key in meta:
            return float(meta[key])
    if reference_hz is not None:
        return reference_hz
    raise SkyModelError(
        "no reference frequency: add a ref_freq column [Hz], a REF_FREQ table keyword, "
        "or pass reference_hz",
        path,
    )


def _spectral_terms(table: Table, path: Path, count: int) -> np.ndarray:
    numbered = sorted(
        (int(name[3:]), name)
        for name in table.colnames
        if name.startswith("si_") and name[3:].isdigit()
    )
    if numbered and [index for index, _ in numbered] != list(range(len(numbered))):
        raise SkyModelError(
            f"spectral term columns {[name for _, name in numbered]} are not si_0..si_N", path
        )
    names = [name for _, name in numbered]
    if not names:
        names = [alias for alias in SPECTRAL_ALIASES if alias in table.colnames][:1]
    if not names:
        return np.zeros((count, 0))
    terms = np.column_stack([_values(table, name, path) for name in names])
    return np.nan_to_num(terms, nan=0.0)


def table_to_sky(
    table: Table, path: str | os.PathLike[str] = "<table>", reference_hz: float | None = None
) -> SkyModel:
    """A :class:`SkyModel` from an Aegean-style table (rules in the module docstring).

    Columns other than those listed in the module docstring (an Aegean catalogue
    has many) are ignored.
    """
    path = Path(path)
    table = table.copy(copy_data=False)
    for name in table.colnames:
        if name != name.lower():
            table.rename_column(name, name.lower())
    known = {"ra", "dec", *OPTIONAL, *SPECTRAL_ALIASES}
    missing = [name for name in ("ra", "dec") if name not in table.colnames]
    if "int_flux" not in table.colnames and "peak_flux" not in table.colnames:
        missing.append("int_flux (or peak_flux)")
    if missing:
        raise SkyModelError(
            f"missing required column(s) {', '.join(missing)}; expected {EXPECTED}; "
            f"found {', '.join(table.colnames) or 'no columns'}",
            path,
        )
    if len(table) == 0:
        raise SkyModelError("the table has no rows", path)
    flux_column = "int_flux" if "int_flux" in table.colnames else "peak_flux"
    count = len(table)

    def optional(name: str, default: float) -> np.ndarray:
        if name not in table.colnames:
            return np.full(count, default)
        return np.nan_to_num(_values(table, name, path), nan=default)

    major, minor, pa = optional("a", 0.0), optional("b", 0.0), optional("pa", 0.0)
    if "type" in table.colnames:
        kinds = np.char.lower(np.char.strip(np.asarray(table["type"], dtype=str)))
    else:
        kinds = np.where((major > 0) & (minor > 0), "gaussian", "point")
    point = kinds == "point"
    logarithmic = True
    if "log_si" in table.colnames:
        text = np.char.lower(np.char.strip(np.asarray(table["log_si"], dtype=str)))
        logarithmic = np.isin(text, ("true", "1", "t"))
    names = np.asarray(table["name"], dtype=str) if "name" in table.colnames else None
    ignored = [name for name in table.colnames if name not in known and not name.startswith("si_")]
    if ignored:
        logger.debug("%s: columns not used by the sky model: %s", path, ignored)
    try:
        return SkyModel(
            ra_deg=_values(table, "ra", path),
            dec_deg=_values(table, "dec", path),
            flux_jy=_values(table, flux_column, path),
            reference_hz=_reference_hz(table, path, reference_hz),
            spectral_terms=_spectral_terms(table, path, count),
            logarithmic=logarithmic,
            kinds=kinds,
            major_arcsec=np.where(point, 0.0, major),
            minor_arcsec=np.where(point, 0.0, minor),
            pa_deg=np.where(point, 0.0, pa),
            names=names,
        )
    except SkyModelError as error:
        raise SkyModelError(error.problem, path) from None


def read_sky_table(path: str | os.PathLike[str], reference_hz: float | None = None) -> SkyModel:
    """Read a FITS / CSV / ECSV table with Aegean column names into a :class:`SkyModel`."""
    path = Path(path)
    suffixes = "".join(path.suffixes).lower()
    try:
        if suffixes.endswith(".csv"):
            table = Table.read(path, format="ascii.csv")
        elif suffixes.endswith(".ecsv"):
            table = Table.read(path, format="ascii.ecsv")
        else:
            table = Table.read(path, format="fits")
    except Exception as error:  # astropy raises many types for unreadable files
        raise SkyModelError(f"cannot read the table: {error}", path) from None
    return table_to_sky(table, path, reference_hz)
