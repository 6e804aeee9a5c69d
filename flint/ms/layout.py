"""What state a measurement set is in, and what preprocessing it needs (read-only).

ASKAP data arrive in three layouts, and partly processed ones exist too:

- ``raw``: as the telescope writes them (``YYYY-MM-DD_HHMMSS_<beam>.ms`` in an SBID
  directory): every field's direction is the boresight, the beam's pointing is the boresight
  moved by FEED ``BEAM_OFFSET``, the correlations are in the PAF frame (``RECEPTOR_ANGLE``);
  a calibrator block holds one field per beam position, ``B1934-638_beamK``;
- ``casda``: ASKAPsoft's calibrated products as CASDA serves them (no bandpass needed),
  correlations in the PAF frame and ASKAPsoft's I = XX + YY (the Stokes factor);
- ``flint``: nothing left to do (the field is the beam's pointing, the sky frame);
- ``partly processed``: anything else, e.g. the direction fixed but the correlations not.

Each step is decided from the data, not the name alone, so a half-processed MS is never
processed twice: the direction is fixed when fixms kept a ``FIELD_OLD`` table, flint
recorded it, or the beam's offset is zero; the correlations are in the sky frame when an
``INSTRUMENT_DATA`` column exists, flint recorded it, or the polarisation axis is zero.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from flint.askap.frames import pol_axis_from_receptor_angle
from flint.askap.pointing import beam_pointing_deg
from flint.errors import InputError, MeasurementSetError
from flint.ms.access import check_ms, open_ms
from flint.naming import flint_stem, parse_ms_name

logger = logging.getLogger(__name__)

PREPROCESSED_KEYWORD = "FLINT_PREPROCESSED"
"""Main-table keyword of a copy flint preprocessed: what was done, and from what."""
CALIBRATOR_FIELD = re.compile(r"^(?P<name>.+)_beam(?P<beam>\d+)$")
LAYOUTS = ("raw", "casda", "flint", "partly processed")


@dataclass(frozen=True)
class MSLayoutState:
    """One beam's measurement set: where it came from and what it still needs."""

    path: Path
    style: str
    """How it is named: raw, askap, casda, flint (:mod:`flint.naming`), or ``other``."""
    beam: int
    sbid: int | None
    field: str | None
    """The field observed (a calibrator block's calibrator, without ``_beamK``)."""
    fields: tuple[str, ...]
    """Names in the FIELD table."""
    field_directions_deg: tuple[tuple[float, float], ...]
    beam_offset_rad: tuple[float, float]
    """This beam's FEED BEAM_OFFSET."""
    pol_axis_deg: float
    fix_direction: bool
    """The FIELD directions are the boresight: move them by the beam's offset."""
    rotate_correlations: bool
    """The correlations are in the PAF frame: rotate them to the sky frame."""
    fix_stokes_factor: bool
    """ASKAPsoft's I = XX + YY: double the correlations."""
    calibrated: bool
    """Bandpass-calibrated already (CASDA): no bandpass is to be applied."""
    calibrator_fields: dict[int, str] = field(default_factory=dict)
    """Beam position K -> field name ``<calibrator>_beamK`` of a calibrator block."""

    @property
    def needs(self) -> tuple[str, ...]:
        """The preprocessing steps still to do, in order."""
        steps = []
        if self.fix_direction:
            steps.append("direction")
        if self.rotate_correlations:
            steps.append("rotation")
        if self.fix_stokes_factor:
            steps.append("stokes factor")
        return tuple(steps)

    @property
    def layout(self) -> str:
        """``raw``, ``casda``, ``flint`` or ``partly processed`` (see the module docstring)."""
        if self.style == "casda":
            return "casda"
        if not self.needs:
            return "flint"
        if self.style == "raw":
            return "raw"
        return "partly processed"

    @property
    def is_calibrator_block(self) -> bool:
        """One field per beam position (``<calibrator>_beamK``)."""
        return bool(self.calibrator_fields)

    @property
    def stem(self) -> str:
        """``SB<sbid>.<field>.beamNN``: the stem of flint's products of this beam."""
        if self.sbid is None or self.field is None:
            return self.path.name.removesuffix(".ms")
        return flint_stem(self.sbid, self.field, self.beam)

    def pointing_deg(self, field_index: int = 0) -> tuple[float, float]:
        """Where the beam points during field ``field_index`` (after the direction fix)."""
        direction = self.field_directions_deg[field_index]
        if not self.fix_direction:
            return direction
        return beam_pointing_deg(direction, self.beam_offset_rad)

    def field_for_beam(self, name: str | None = None) -> str | None:
        """The field to select this beam's data from: in a calibrator block of several
        fields, the field of its own beam position (an error if there is none); ``None``
        when every row is the beam's (one field, or not a calibrator block)."""
        if not self.is_calibrator_block:
            return None
        wanted = self.calibrator_fields.get(self.beam)
        if wanted is None or (name is not None and not wanted.startswith(f"{name}_beam")):
            expected = f"{name or self.field}_beam{self.beam}"
            raise MeasurementSetError(
                f"calibrator block without the field {expected} for its beam {self.beam} "
                f"(fields: {', '.join(self.fields)})",
                self.path,
            )
        return wanted if len(self.fields) > 1 else None

    def describe(self) -> list[str]:
        """Lines for people: the layout and what each step needs."""
        lines = [
            f"layout       {self.layout}"
            + (" (calibrator block)" if self.is_calibrator_block else "")
        ]
        if self.fix_direction:
            ra, dec = self.pointing_deg()
            lines.append(
                f"direction    FIELD holds the boresight; beam {self.beam} points at "
                f"({ra:.5f}, {dec:.5f}) deg: to fix"
            )
        else:
            lines.append("direction    FIELD holds the beam's pointing: done")
        if self.rotate_correlations:
            lines.append(
                f"correlations PAF frame (polarisation axis {self.pol_axis_deg:.1f} deg): to rotate"
            )
        else:
            lines.append("correlations sky frame: done")
        if self.fix_stokes_factor:
            lines.append("stokes       ASKAPsoft's I = XX + YY: to double")
        lines.append(
            "bandpass     " + ("applied (calibrated data)" if self.calibrated else "needed")
        )
        return lines


def _beam_of(path: Path, name_beam: int | None) -> int:
    with open_ms(path) as tab:
        beams = np.unique(tab.getcol("FEED1")) if tab.nrows() else np.array([], dtype=int)
    if len(beams) != 1:
        raise MeasurementSetError(f"holds beams {beams.tolist()}; expected exactly one", path)
    beam = int(beams[0])
    if name_beam is not None and name_beam != beam:
        raise MeasurementSetError(f"named beam {name_beam} but holds beam {beam} (FEED1)", path)
    return beam


def _feed_of_beam(path: Path, beam: int) -> tuple[np.ndarray, float]:
    """This beam's BEAM_OFFSET (antenna 0, first receptor) and polarisation axis."""
    with open_ms(path, "FEED") as tab:
        feeds = tab.getcol("FEED_ID")
        antennas = tab.getcol("ANTENNA_ID")
        select = feeds == beam
        if not select.any():
            if len(np.unique(feeds)) > 1:
                raise MeasurementSetError(f"FEED has no row for beam {beam}", path)
            select = np.ones(len(feeds), bool)  # one feed for every beam
        first = np.flatnonzero(select & (antennas == antennas[select].min()))[0]
        offset = tab.getcell("BEAM_OFFSET", int(first))[0]
        angles = tab.getcol("RECEPTOR_ANGLE")[select][:, 0]
    if not np.allclose(angles, angles[0]):
        raise MeasurementSetError("RECEPTOR_ANGLE differs between antennas; cannot rotate", path)
    return np.asarray(offset, float), pol_axis_from_receptor_angle(float(angles[0]))


def detect_layout(ms: str | os.PathLike[str]) -> MSLayoutState:
    """Read what ``ms`` is and what it needs (opens it read-only; never writes)."""
    path = check_ms(ms)
    try:
        name = parse_ms_name(path)
        style, sbid, field_name, name_beam = name.style, name.sbid, name.field, name.beam
    except InputError:
        style, sbid, field_name, name_beam = "other", None, None, None
    beam = _beam_of(path, name_beam)
    with open_ms(path) as tab:
        columns = set(tab.colnames())
        done = (
            tab.getkeyword(PREPROCESSED_KEYWORD)
            if PREPROCESSED_KEYWORD in tab.keywordnames()
            else {}
        )
    with open_ms(path, "FIELD") as tab:
        fields = tuple(str(n) for n in tab.getcol("NAME"))
        directions = np.degrees(tab.getcol("PHASE_DIR")[:, 0, :])
    offset, pol_axis = _feed_of_beam(path, beam)
    calibrator_fields = {
        int(match["beam"]): name
        for name in fields
        if (match := CALIBRATOR_FIELD.match(name)) is not None
    }
    if field_name is None and fields:
        first = CALIBRATOR_FIELD.match(fields[0])
        field_name = first["name"] if calibrator_fields and first else fields[0]
        if not re.fullmatch(r"[^.\s/]+", field_name):
            field_name = None
    direction_fixed = bool(done) or (path / "FIELD_OLD").exists() or not np.any(offset)
    rotated = bool(done) or "INSTRUMENT_DATA" in columns or abs(pol_axis) < 1e-6
    casda = style == "casda"
    return MSLayoutState(
        path=path,
        style=style,
        beam=beam,
        sbid=sbid,
        field=field_name,
        fields=fields,
        field_directions_deg=tuple((float(ra) % 360.0, float(dec)) for ra, dec in directions),
        beam_offset_rad=(float(offset[0]), float(offset[1])),
        pol_axis_deg=pol_axis,
        fix_direction=not direction_fixed,
        rotate_correlations=not rotated,
        fix_stokes_factor=casda and not (bool(done) or "INSTRUMENT_DATA" in columns),
        calibrated=casda or bool(done and done.get("calibrated")),
        calibrator_fields=calibrator_fields,
    )
