"""Read and write wsclean / DP3 (BBS) text component lists.

The format (wsclean ``-save-source-list``) is a ``Format = ...`` header naming the
comma-separated columns, then one component per line::

    Format = Name, Type, Ra, Dec, I, SpectralIndex, LogarithmicSI, ReferenceFrequency='888500000', MajorAxis, MinorAxis, Orientation
    s0c0,POINT,19:39:25.026,-63.42.45.625,14.2,[0.42,-1.74],true,888500000,,,

Ra is ``hh:mm:ss.s`` (hours); Dec is ``dd.mm.ss.s`` (wsclean's dotted degrees,
``dd:mm:ss.s`` also accepted); angles may instead carry a unit (``12.5deg``).
MajorAxis/MinorAxis are FWHM in arcsec, Orientation in degrees. ``Col='value'`` in
the header gives the default for empty fields. Patch-definition lines (empty Name
and Type) are skipped; DP3 columns flint does not model (Patch, Q, U, V, ...) are
ignored.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import Angle

from flint.atomic import atomic_path
from flint.errors import SkyModelError
from flint.sky.model import SkyModel

logger = logging.getLogger(__name__)

COLUMNS = (
    "Name",
    "Type",
    "Ra",
    "Dec",
    "I",
    "SpectralIndex",
    "LogarithmicSI",
    "ReferenceFrequency",
    "MajorAxis",
    "MinorAxis",
    "Orientation",
)
REQUIRED = ("Ra", "Dec", "I")
IGNORED = (
    "Patch",
    "Q",
    "U",
    "V",
    "OrientationIsAbsolute",
    "RotationMeasure",
    "PolarizationAngle",
    "PolarizedFraction",
)
_FIELD_SPLIT = re.compile(r",(?![^\[]*\])")
_HEADER = re.compile(r"^\s*format\s*=\s*(.*)$", re.IGNORECASE)


def is_component_list(path: str | os.PathLike[str]) -> bool:
    """True when the first meaningful line of a text file is a ``Format =`` header."""
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.strip() and not line.lstrip().startswith("#"):
                    return bool(_HEADER.match(line))
    except (UnicodeDecodeError, OSError):
        return False
    return False


def _parse_header(line: str, path: Path) -> tuple[list[str], dict[str, str]]:
    """Column names (canonical case) and header defaults from a ``Format =`` line."""
    canonical = {name.lower(): name for name in (*COLUMNS, *IGNORED)}
    names, defaults, unknown = [], {}, []
    for item in _FIELD_SPLIT.split(_HEADER.match(line).group(1)):
        key, _, default = item.partition("=")
        key = key.strip()
        name = canonical.get(key.lower())
        if name is None:
            unknown.append(key)
            continue
        names.append(name)
        if default.strip():
            defaults[name] = default.strip().strip("'\"")
    missing = [name for name in REQUIRED if name not in names]
    if unknown or missing:
        problems = [f"unknown column(s) {', '.join(unknown)}"] if unknown else []
        problems += [f"missing required column(s) {', '.join(missing)}"] if missing else []
        raise SkyModelError(
            f"{'; '.join(problems)} in the Format header; expected columns "
            f"{', '.join(COLUMNS)} (Ra, Dec and I required)",
            path,
        )
    return names, defaults


def _angle(text: str, hours: bool) -> float:
    """Degrees from wsclean's ``hh:mm:ss`` (RA), ``dd.mm.ss`` (Dec) or a value with unit."""
    text = text.strip()
    if re.fullmatch(r"[+-]?\d+\.\d+\.\d+(\.\d*)?", text):
        text = text.replace(".", ":", 2)
        return Angle(text, unit=u.deg).deg
    if ":" in text:
        return Angle(text, unit=u.hourangle if hours else u.deg).deg
    if re.fullmatch(r"[+-]?[\d.eE+-]+", text):
        raise ValueError(f"angle {text!r} has no unit; use hh:mm:ss, dd.mm.ss or e.g. '12.5deg'")
    return Angle(text).deg


def _terms(text: str) -> list[float]:
    text = text.strip()
    if not text:
        return []
    if not (text.startswith("[") and text.endswith("]")):
        raise ValueError(f"SpectralIndex {text!r} is not a bracketed list like [-0.7,0.1]")
    return [float(term) for term in text[1:-1].split(",") if term.strip()]


def _boolean(text: str) -> bool:
    value = text.strip().lower()
    if value not in ("true", "false"):
        raise ValueError(f"LogarithmicSI {text!r} is neither true nor false")
    return value == "true"


def _float(text: str, label: str, default: float | None = None) -> float:
    if not text.strip():
        if default is None:
            raise ValueError(f"{label} is empty")
        return default
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{label} {text.strip()!r} is not a number") from None


def _parse_row(values: dict[str, str]) -> dict:
    """One component from its text fields (defaults already applied)."""
    kind = (values.get("Type") or "POINT").strip().lower()
    if kind not in ("point", "gaussian"):
        raise ValueError(f"Type {values['Type']!r} is not POINT or GAUSSIAN")
    gaussian = kind == "gaussian"
    if not values.get("ReferenceFrequency", "").strip():
        raise ValueError("no ReferenceFrequency (give it per row or as a header default)")
    return {
        "names": values.get("Name", "").strip(),
        "kinds": kind,
        "ra_deg": _angle(values["Ra"], hours=True),
        "dec_deg": _angle(values["Dec"], hours=False),
        "flux_jy": _float(values["I"], "I"),
        "terms": _terms(values.get("SpectralIndex", "")),
        "logarithmic": _boolean(values.get("LogarithmicSI") or "true"),
        "reference_hz": _float(values["ReferenceFrequency"], "ReferenceFrequency"),
        "major_arcsec": _float(values.get("MajorAxis", ""), "MajorAxis") if gaussian else 0.0,
        "minor_arcsec": _float(values.get("MinorAxis", ""), "MinorAxis") if gaussian else 0.0,
        "pa_deg": _float(values.get("Orientation", ""), "Orientation", 0.0) if gaussian else 0.0,
    }


def read_wsclean_components(path: str | os.PathLike[str]) -> SkyModel:
    """Read a wsclean / DP3 text component list into a :class:`SkyModel`."""
    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    columns: list[str] | None = None
    defaults: dict[str, str] = {}
    rows: list[dict] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if columns is None:
            if not _HEADER.match(line):
                raise SkyModelError(
                    f"line {number}: expected a 'Format = Name, Type, Ra, Dec, I, ...' header",
                    path,
                )
            columns, defaults = _parse_header(line, path)
            continue
        fields = [item.strip() for item in _FIELD_SPLIT.split(line)]
        if len(fields) > len(columns):
            raise SkyModelError(
                f"line {number}: {len(fields)} fields but the header names {len(columns)}", path
            )
        values = dict(zip(columns, fields + [""] * (len(columns) - len(fields)), strict=True))
        if not values.get("Name", "x") and not values.get("Type", "x"):
            logger.debug("%s: line %d is a patch definition; skipped", path, number)
            continue
        values = {key: value or defaults.get(key, "") for key, value in values.items()}
        try:
            rows.append(_parse_row(values))
        except (ValueError, KeyError) as error:
            raise SkyModelError(f"line {number}: {error}", path) from None
    if columns is None:
        raise SkyModelError("empty file: no 'Format = ...' header and no components", path)
    if not rows:
        raise SkyModelError("no components after the Format header", path)
    return _model_from_rows(rows, path)


def _model_from_rows(rows: list[dict], path: Path) -> SkyModel:
    nterms = max(len(row["terms"]) for row in rows)
    terms = np.zeros((len(rows), nterms))
    for index, row in enumerate(rows):
        terms[index, : len(row["terms"])] = row["terms"]
    names = [row["names"] or f"c{index}" for index, row in enumerate(rows)]
    keys = [key for key in rows[0] if key not in ("terms", "names")]
    try:
        return SkyModel(
            spectral_terms=terms,
            names=np.array(names),
            **{key: np.array([row[key] for row in rows]) for key in keys},
        )
    except SkyModelError as error:
        raise SkyModelError(error.problem, path) from None


def _format_terms(terms: np.ndarray) -> str:
    """wsclean's bracketed list; a flat spectrum (no terms) is written as [0.0]."""
    if not terms.size:
        return "[0.0]"
    return "[" + ",".join(repr(float(term)) for term in terms) + "]"


def format_wsclean_components(sky: SkyModel) -> str:
    """The text of a wsclean component list for ``sky`` (RA to 1e-7 s, Dec to 1e-6 arcsec)."""
    bad = [name for name in sky.names if "," in name or not name.strip()]
    if bad:
        raise SkyModelError(f"component names must be non-empty without commas: {bad[:5]}")
    reference = float(sky.reference_hz[0]) if len(sky) else 1e9
    ra = Angle(sky.ra_deg, unit=u.deg).to_string(unit=u.hourangle, sep=":", precision=7, pad=True)
    dec = Angle(sky.dec_deg, unit=u.deg).to_string(
        unit=u.deg, sep=":", precision=6, pad=True, alwayssign=True
    )
    lines = [
        "Format = Name, Type, Ra, Dec, I, SpectralIndex, LogarithmicSI, "
        f"ReferenceFrequency='{reference!r}', MajorAxis, MinorAxis, Orientation"
    ]
    for index in range(len(sky)):
        gaussian = sky.kinds[index] == "gaussian"
        shape = (
            ",".join(
                repr(float(value[index]))
                for value in (sky.major_arcsec, sky.minor_arcsec, sky.pa_deg)
            )
            if gaussian
            else ",,"
        )
        lines.append(
            ",".join(
                [
                    str(sky.names[index]),
                    "GAUSSIAN" if gaussian else "POINT",
                    str(np.atleast_1d(ra)[index]),
                    str(np.atleast_1d(dec)[index]).replace(":", "."),
                    repr(float(sky.flux_jy[index])),
                    _format_terms(sky.spectral_terms[index]),
                    "true" if sky.logarithmic[index] else "false",
                    repr(float(sky.reference_hz[index])),
                    shape,
                ]
            )
        )
    return "\n".join(lines) + "\n"


def write_wsclean_components(
    sky: SkyModel, path: str | os.PathLike[str], overwrite: bool = False
) -> Path:
    """Write ``sky`` as a wsclean component list, atomically; return the path."""
    text = format_wsclean_components(sky)
    with atomic_path(path, overwrite=overwrite) as temporary:
        temporary.write_text(text, encoding="utf-8")
    logger.info("wrote %d components to %s", len(sky), path)
    return Path(path)
