"""Build and parse ASKAP measurement-set names (pure functions, no file access).

Four styles are recognised:

- ``raw``: as the telescope writes them into an SBID directory (``SB<sbid>/`` or
  ``<sbid>/``), ``YYYY-MM-DD_HHMMSS_<beam>.ms``: the name holds only the start time and the
  beam; the SBID comes from the directory, the field from the FIELD table;
- ``askap``: as ASKAPsoft's pipeline names its products,
  ``scienceData_SB<sbid>_<field>.beam<NN>_averaged.ms`` (more ``_tokens`` allowed);
- ``casda``: as CASDA delivers them,
  ``scienceData.<field>.SB<sbid>.<field>.beam<NN>_averaged_cal.leakage.ms``;
- ``flint``: flint's own processed products, ``SB<sbid>.<field>.beam<N>[.suffix...].ms``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePath
from typing import Literal

from flint.errors import InputError

Style = Literal["raw", "askap", "casda", "flint"]

_FIELD = r"[^.\s/]+"
_SBID_DIRECTORY = re.compile(r"^(?:SB)?(?P<sbid>\d+)$")
_PATTERNS: dict[str, re.Pattern[str]] = {
    "raw": re.compile(r"^(?P<date>\d{4}-\d{2}-\d{2})_(?P<time>\d{6})_(?P<beam>\d+)\.ms$"),
    "askap": re.compile(
        rf"^scienceData_SB(?P<sbid>\d+)_(?P<field>{_FIELD})\.beam(?P<beam>\d+)"
        r"(?P<rest>[._][^/]*)?\.ms$"
    ),
    "casda": re.compile(
        rf"^scienceData\.(?P<field>{_FIELD})\.SB(?P<sbid>\d+)\.(?P<field2>{_FIELD})"
        r"\.beam(?P<beam>\d+)(?P<rest>[._][^/]*)?\.ms$"
    ),
    "flint": re.compile(
        rf"^SB(?P<sbid>\d+)\.(?P<field>{_FIELD})\.beam(?P<beam>\d+)(?P<rest>\.[^/]*)?\.ms$"
    ),
}


@dataclass(frozen=True)
class MSName:
    """The parts of an ASKAP measurement-set name."""

    sbid: int | None
    """Scheduling block ID (of a raw name: from its ``SB<sbid>`` directory, if any)."""
    field: str | None
    """Field name, e.g. ``RACS_0635-31`` or ``B1934-638`` (``None`` for raw names)."""
    beam: int
    """Beam number (0-35)."""
    style: Style
    """Which naming scheme the name follows."""
    suffixes: tuple[str, ...] = ()
    """Tokens after the beam, e.g. ``("averaged", "cal", "leakage")``."""


def _check(sbid: int, field: str, beam: int) -> None:
    problems = []
    if int(sbid) < 0:
        problems.append(f"SBID must be >= 0, got {sbid}")
    if not re.fullmatch(_FIELD, field):
        problems.append(f"field name {field!r} must be non-empty without '.', '/' or spaces")
    if not 0 <= int(beam) <= 99:
        problems.append(f"beam must be 0-99, got {beam}")
    if problems:
        raise InputError("; ".join(problems))


def askap_ms_name(
    sbid: int, field: str, beam: int, suffixes: tuple[str, ...] = ("averaged",)
) -> str:
    """``scienceData_SB<sbid>_<field>.beam<NN>_averaged.ms`` as ASKAP writes it."""
    _check(sbid, field, beam)
    tail = "".join(f"_{token}" for token in suffixes)
    return f"scienceData_SB{sbid}_{field}.beam{beam:02d}{tail}.ms"


def casda_ms_name(sbid: int, field: str, beam: int) -> str:
    """``scienceData.<field>.SB<sbid>.<field>.beam<NN>_averaged_cal.leakage.ms`` (CASDA)."""
    _check(sbid, field, beam)
    return f"scienceData.{field}.SB{sbid}.{field}.beam{beam:02d}_averaged_cal.leakage.ms"


def flint_stem(sbid: int, field: str, beam: int) -> str:
    """``SB<sbid>.<field>.beam<NN>``: the stem of every product flint makes of a beam."""
    _check(sbid, field, beam)
    return f"SB{sbid}.{field}.beam{beam:02d}"


def flint_ms_name(sbid: int, field: str, beam: int, suffixes: tuple[str, ...] = ()) -> str:
    """``SB<sbid>.<field>.beam<NN>[.suffix...].ms``, flint's processed-product name."""
    tail = "".join(f".{token}" for token in suffixes)
    return f"{flint_stem(sbid, field, beam)}{tail}.ms"


def raw_ms_name(start: datetime, beam: int) -> str:
    """``YYYY-MM-DD_HHMMSS_<beam>.ms``, as the telescope names a beam's raw data."""
    if not 0 <= int(beam) <= 99:
        raise InputError(f"beam must be 0-99, got {beam}")
    return f"{start:%Y-%m-%d_%H%M%S}_{int(beam)}.ms"


def sbid_directory_name(sbid: int) -> str:
    """The directory an SBID's measurement sets are delivered into: ``SB<sbid>``."""
    if int(sbid) < 0:
        raise InputError(f"SBID must be >= 0, got {sbid}")
    return f"SB{int(sbid)}"


def sbid_of_directory(directory: str | PurePath) -> int | None:
    """The SBID a directory named ``SB<sbid>`` or ``<sbid>`` stands for, else ``None``."""
    match = _SBID_DIRECTORY.match(PurePath(directory).name)
    return None if match is None else int(match["sbid"])


def parse_ms_name(name: str | PurePath) -> MSName:
    """Parse any of the four styles (of a path, its last part; a raw name's SBID comes from
    the part before it)."""
    path = PurePath(name)
    text = path.name
    for style, pattern in _PATTERNS.items():
        match = pattern.match(text)
        if match is None:
            continue
        parts = match.groupdict()
        if style == "raw":
            return MSName(sbid_of_directory(path.parent), None, int(parts["beam"]), "raw")
        if style == "casda" and parts["field"] != parts["field2"]:
            continue
        rest = parts.get("rest") or ""
        suffixes = tuple(token for token in re.split(r"[._]", rest) if token)
        return MSName(int(parts["sbid"]), parts["field"], int(parts["beam"]), style, suffixes)  # type: ignore[arg-type]
    raise InputError(
        "not an ASKAP measurement-set name; expected YYYY-MM-DD_HHMMSS_<beam>.ms, "
        "scienceData_SB<sbid>_<field>.beamNN*.ms, "
        "scienceData.<field>.SB<sbid>.<field>.beamNN*.ms or SB<sbid>.<field>.beam<N>*.ms",
        text,
    )
