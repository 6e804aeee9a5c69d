"""Build and parse ASKAP measurement-set names (pure functions, no file access).

Three styles are recognised:

- ``askap``: as the observatory writes them into an SBID directory,
  ``scienceData_SB<sbid>_<field>.beam<NN>_averaged.ms`` (more ``_tokens`` allowed);
- ``casda``: as CASDA delivers them,
  ``scienceData.<field>.SB<sbid>.<field>.beam<NN>_averaged_cal.leakage.ms``;
- ``flint``: flint's own processed products, ``SB<sbid>.<field>.beam<N>[.suffix...].ms``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import Literal

from flint.errors import InputError

Style = Literal["askap", "casda", "flint"]

_FIELD = r"[^.\s/]+"
_PATTERNS: dict[str, re.Pattern[str]] = {
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

    sbid: int
    """Scheduling block ID."""
    field: str
    """Field name, e.g. ``RACS_0635-31`` or ``B1934-638``."""
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


def flint_ms_name(sbid: int, field: str, beam: int, suffixes: tuple[str, ...] = ()) -> str:
    """``SB<sbid>.<field>.beam<N>[.suffix...].ms``, flint's processed-product name."""
    _check(sbid, field, beam)
    tail = "".join(f".{token}" for token in suffixes)
    return f"SB{sbid}.{field}.beam{beam}{tail}.ms"


def sbid_directory_name(sbid: int) -> str:
    """The directory ASKAP delivers an SBID into: just the number."""
    if int(sbid) < 0:
        raise InputError(f"SBID must be >= 0, got {sbid}")
    return str(int(sbid))


def parse_ms_name(name: str | PurePath) -> MSName:
    """Parse any of the three styles (a path is reduced to its last part)."""
    text = PurePath(name).name
    for style, pattern in _PATTERNS.items():
        match = pattern.match(text)
        if match is None:
            continue
        parts = match.groupdict()
        if style == "casda" and parts["field"] != parts["field2"]:
            continue
        rest = parts.get("rest") or ""
        suffixes = tuple(token for token in re.split(r"[._]", rest) if token)
        return MSName(int(parts["sbid"]), parts["field"], int(parts["beam"]), style, suffixes)  # type: ignore[arg-type]
    raise InputError(
        "not an ASKAP measurement-set name; expected scienceData_SB<sbid>_<field>.beamNN*.ms, "
        "scienceData.<field>.SB<sbid>.<field>.beamNN*.ms or SB<sbid>.<field>.beam<N>*.ms",
        text,
    )
