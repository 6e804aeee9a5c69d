"""Sky models as astropy tables: Aegean and PyBDSF catalogues (FITS, CSV, ECSV).

Columns (case-insensitive on read; units on columns are honoured, otherwise these
are assumed): ``ra``, ``dec`` [deg]; the total flux [Jy] from ``int_flux`` (Aegean) or
``total_flux`` (PyBDSF), else ``peak_flux``; sizes as FWHM: ``a``, ``b`` [arcsec]
(Aegean) or ``maj``, ``min`` [deg] (PyBDSF), with ``pa`` [deg, east of north];
optional ``name``, ``type`` (point/gaussian), ``ref_freq`` [Hz], ``log_si`` (bool) and
spectral terms ``si_0``, ``si_1``, ... (``alpha``, ``spectral_index`` or PyBDSF's
``spec_indx`` are accepted for ``si_0``).

Sizes a source finder reports are convolved with its restoring beam. When the table
gives that beam, the intrinsic size is the deconvolved one (radio-beam's
``Beam.deconvolve``; components the beam does not resolve become points): per row from
``psf_a``, ``psf_b`` [arcsec], ``psf_pa`` [deg] (Aegean), or for the whole table from the
keywords ``BMAJ``, ``BMIN``, ``BPA`` [deg] (PyBDSF writes them as ``I_BMAJ``...). PyBDSF's
deconvolved ``dc_maj``, ``dc_min``, ``dc_pa`` are used as they are. Without any of these
the sizes are taken as intrinsic (a sky model, or a simulation's truth).

Component kind: a ``type`` column decides when present; otherwise a component is
a Gaussian when both intrinsic axes are > 0, else a point. The reference frequency
comes from a ``ref_freq`` column, else from a table keyword (``REF_FREQ``, ``FREQ``,
``FREQ0`` (PyBDSF), ``REFFREQ`` or ``RESTFRQ``, in Hz), else from the ``reference_hz``
argument (``--sky-reference-hz``). Components without spectral terms get the spectral
index ``spectral_index`` (-0.8 unless given; ``--sky-spectral-index``).
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
    "total_flux": u.Jy,
    "peak_flux": u.Jy,
    "a": u.arcsec,
    "b": u.arcsec,
    "maj": u.deg,
    "min": u.deg,
    "dc_maj": u.deg,
    "dc_min": u.deg,
    "pa": u.deg,
    "dc_pa": u.deg,
    "psf_a": u.arcsec,
    "psf_b": u.arcsec,
    "psf_pa": u.deg,
    "ref_freq": u.Hz,
}
FLUX_COLUMNS = ("int_flux", "total_flux", "peak_flux")
SIZE_COLUMNS = (("a", "b", "pa"), ("maj", "min", "pa"))
DECONVOLVED_COLUMNS = ("dc_maj", "dc_min", "dc_pa")
PSF_COLUMNS = ("psf_a", "psf_b", "psf_pa")
PSF_KEYWORDS = (("BMAJ", "BMIN", "BPA"), ("I_BMAJ", "I_BMIN", "I_BPA"))
OPTIONAL = (
    "name",
    "type",
    *FLUX_COLUMNS,
    *{name for group in SIZE_COLUMNS for name in group},
    *DECONVOLVED_COLUMNS,
    *PSF_COLUMNS,
    "ref_freq",
    "log_si",
)
SPECTRAL_ALIASES = ("alpha", "spectral_index", "spec_indx")
META_FREQUENCY_KEYS = ("REF_FREQ", "FREQ", "FREQ0", "REFFREQ", "RESTFRQ")
DEFAULT_SPECTRAL_INDEX = -0.8
EXPECTED = (
    "ra, dec [deg], int_flux, total_flux or peak_flux [Jy]; optional name, type, "
    "a, b [arcsec] or maj, min [deg], pa, psf_a, psf_b, psf_pa, ref_freq, log_si, "
    "si_0..si_N or alpha"
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
        "no reference frequency: add a ref_freq column [Hz] or a REF_FREQ table keyword, "
        "or give it (reference_hz, --sky-reference-hz; RACS-low is 887.5e6)",
        path,
    )


def _spectral_terms(table: Table, path: Path, count: int, spectral_index: float) -> np.ndarray:
    """[count, nterms] spectral terms; rows without any get ``spectral_index``."""
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
        return np.full((count, 1), spectral_index)
    terms = np.column_stack([_values(table, name, path) for name in names])
    missing = ~np.isfinite(terms).any(axis=1)
    terms = np.nan_to_num(terms, nan=0.0)
    terms[missing, 0] = spectral_index
    return terms


def _psf(table: Table, path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The restoring beam (major, minor [arcsec], pa [deg]) per row, or None if not given."""
    present = [name for name in PSF_COLUMNS if name in table.colnames]
    if present:
        if len(present) < 2 or "psf_a" not in present or "psf_b" not in present:
            raise SkyModelError(
                f"PSF columns {present} are incomplete: give psf_a, psf_b [arcsec] and psf_pa",
                path,
            )
        pa = _values(table, "psf_pa", path) if "psf_pa" in present else np.zeros(len(table))
        return _values(table, "psf_a", path), _values(table, "psf_b", path), pa
    meta = {str(key).upper(): value for key, value in table.meta.items()}
    for keys in PSF_KEYWORDS:
        if keys[0] in meta and keys[1] in meta:
            major, minor = (float(meta[key]) * 3600.0 for key in keys[:2])
            pa = float(meta.get(keys[2], 0.0))
            return tuple(np.full(len(table), value) for value in (major, minor, pa))
    return None


MIN_SIZE_ARCSEC = 1e-3
"""Deconvolved axes below this are taken as unresolved: the component is a point."""


def deconvolve_sizes(
    major_arcsec: np.ndarray,
    minor_arcsec: np.ndarray,
    pa_deg: np.ndarray,
    psf: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Intrinsic FWHM (major, minor [arcsec], pa [deg]) of sizes convolved with ``psf``.

    Rows the PSF does not resolve, or without a size, come back as zeros (points).
    """
    from radio_beam import Beam

    out = np.zeros((3, len(major_arcsec)))
    for row, (major, minor, pa, psf_major, psf_minor, psf_pa) in enumerate(
        zip(major_arcsec, minor_arcsec, pa_deg, *psf, strict=True)
    ):
        if not (major > 0 and minor > 0 and psf_major > 0 and psf_minor > 0):
            continue
        intrinsic = Beam(major * u.arcsec, minor * u.arcsec, pa * u.deg).deconvolve(
            Beam(psf_major * u.arcsec, psf_minor * u.arcsec, psf_pa * u.deg),
            failure_returns_pointlike=True,
        )
        out[:, row] = (
            intrinsic.major.to_value(u.arcsec),
            intrinsic.minor.to_value(u.arcsec),
            intrinsic.pa.to_value(u.deg),
        )
    resolved = (out[0] > MIN_SIZE_ARCSEC) & (out[1] > MIN_SIZE_ARCSEC)
    out[:, ~resolved] = 0.0
    return out[0], out[1], np.mod(out[2], 180.0)


def _sizes(table: Table, path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Intrinsic (major, minor [arcsec], pa [deg]) of every row (module docstring)."""
    count = len(table)

    def column(name: str) -> np.ndarray:
        return np.nan_to_num(_values(table, name, path), nan=0.0)

    if all(name in table.colnames for name in DECONVOLVED_COLUMNS[:2]):
        pa = column("dc_pa") if "dc_pa" in table.colnames else np.zeros(count)
        return column("dc_maj") * 3600.0, column("dc_min") * 3600.0, pa
    for major_name, minor_name, pa_name in SIZE_COLUMNS:
        if major_name in table.colnames:
            major = column(major_name)
            minor = column(minor_name) if minor_name in table.colnames else major
            pa = column(pa_name) if pa_name in table.colnames else np.zeros(count)
            if UNITS[major_name] == u.deg:
                major, minor = major * 3600.0, minor * 3600.0
            break
    else:
        return np.zeros(count), np.zeros(count), np.zeros(count)
    psf = _psf(table, path)
    if psf is None:
        return major, minor, pa
    intrinsic = deconvolve_sizes(major, minor, pa, psf)
    logger.info(
        "%s: sizes deconvolved from the restoring beam; %d of %d components unresolved",
        path,
        int(np.count_nonzero(intrinsic[0] == 0)),
        count,
    )
    return intrinsic


def table_to_sky(
    table: Table,
    path: str | os.PathLike[str] = "<table>",
    reference_hz: float | None = None,
    spectral_index: float = DEFAULT_SPECTRAL_INDEX,
) -> SkyModel:
    """A :class:`SkyModel` from an Aegean- or PyBDSF-style table (rules in the module docstring).

    Columns other than those listed in the module docstring (a source finder's
    catalogue has many) are ignored.
    """
    path = Path(path)
    table = table.copy(copy_data=False)
    for name in table.colnames:
        if name != name.lower():
            table.rename_column(name, name.lower())
    known = {"ra", "dec", *OPTIONAL, *SPECTRAL_ALIASES}
    missing = [name for name in ("ra", "dec") if name not in table.colnames]
    flux_columns = [name for name in FLUX_COLUMNS if name in table.colnames]
    if not flux_columns:
        missing.append("int_flux (or total_flux, peak_flux)")
    if missing:
        raise SkyModelError(
            f"missing required column(s) {', '.join(missing)}; expected {EXPECTED}; "
            f"found {', '.join(table.colnames) or 'no columns'}",
            path,
        )
    if len(table) == 0:
        raise SkyModelError("the table has no rows", path)
    count = len(table)
    major, minor, pa = _sizes(table, path)
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
            flux_jy=_values(table, flux_columns[0], path),
            reference_hz=_reference_hz(table, path, reference_hz),
            spectral_terms=_spectral_terms(table, path, count, spectral_index),
            logarithmic=logarithmic,
            kinds=kinds,
            major_arcsec=np.where(point, 0.0, major),
            minor_arcsec=np.where(point, 0.0, minor),
            pa_deg=np.where(point, 0.0, pa),
            names=names,
        )
    except SkyModelError as error:
        raise SkyModelError(error.problem, path) from None


def read_sky_table(
    path: str | os.PathLike[str],
    reference_hz: float | None = None,
    spectral_index: float = DEFAULT_SPECTRAL_INDEX,
) -> SkyModel:
    """Read a FITS / CSV / ECSV Aegean or PyBDSF table into a :class:`SkyModel`."""
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
    return table_to_sky(table, path, reference_hz, spectral_index)
