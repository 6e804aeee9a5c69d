"""ASKAP preprocessing of one beam's measurement set (on a copy, never in place).

1. Field direction: ASKAP writes the boresight as every beam's phase centre and puts the
   beam's position in FEED ``BEAM_OFFSET``; the beam's real pointing becomes the field
   direction and the offsets are zeroed (as ``fixms.fix_ms_dir``).
2. Correlations: rotated from the instrument (PAF) frame to the sky frame with
   ``fixms.fix_ms_corrs.convert_correlations``; the original goes to INSTRUMENT_DATA, the
   rotated to DATA, and RECEPTOR_ANGLE is updated (the original kept in
   INSTRUMENT_RECEPTOR_ANGLE).
3. For CASDA products (``scienceData.<field>.SB<n>.<field>.beamNN_averaged_cal.leakage.ms``)
   the ASKAPsoft Stokes definition (I = XX + YY) is converted to the usual one
   (I = (XX + YY) / 2): the factor-of-two correction.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flint.errors import MeasurementSetError
from flint.ms import add_column, open_ms, rename_column, require_columns, writable_copy

logger = logging.getLogger(__name__)

CASDA_PATTERN = re.compile(
    r"^scienceData\.(?P<field>[^.]+)\.SB(?P<sbid>\d+)\.(?P=field)\.beam(?P<beam>\d+)"
    r"_averaged_cal\.leakage\.ms$"
)
DONE_KEYWORD = "FLINT_PREPROCESSED"
ROW_CHUNK = 20_000


@dataclass(frozen=True)
class PreprocessResult:
    """The preprocessed copy and what was done."""

    ms: Path
    beam: int
    phase_centre_deg: tuple[float, float]
    pol_axis_deg: float
    stokes_factor_fixed: bool
    skipped: bool = False


def is_casda_name(path: str | os.PathLike[str]) -> bool:
    """True for CASDA measurement-set names (which need the Stokes factor fix)."""
    return CASDA_PATTERN.match(Path(path).name) is not None


def shifted_direction(ra: float, dec: float, offset: np.ndarray) -> tuple[float, float]:
    """Beam pointing (radians) from the boresight and a FEED BEAM_OFFSET row, as fixms does."""
    from fixms.fix_ms_dir import Skypos

    position = Skypos(ra, dec, 9, 9).shift(-offset[0], offset[1])
    new_ra = position.ra - 2 * np.pi if position.ra > np.pi else position.ra
    return float(new_ra), float(position.dec)


def pol_axis_deg(ms: str | os.PathLike[str], beam: int) -> float:
    """The PAF third-axis angle from RECEPTOR_ANGLE: 45 deg minus the feed angle."""
    with open_ms(ms, "FEED") as tab:
        angles = tab.getcol("RECEPTOR_ANGLE")
        feeds = tab.getcol("FEED_ID")
    rows = angles[feeds == beam] if (feeds == beam).any() else angles
    if not np.allclose(rows[:, 0], rows[0, 0]):
        raise MeasurementSetError("RECEPTOR_ANGLE changes between rows; cannot rotate", ms)
    return float(-(np.degrees(rows[0, 0]) - 45.0))


def _fix_field_direction(ms: Path, beam: int) -> tuple[float, float]:
    with open_ms(ms) as tab:
        first_time = float(tab.getcol("TIME", 0, 1)[0])
    with open_ms(ms, "FEED", readonly=False) as tab:
        offsets = tab.getcol("BEAM_OFFSET")
        select = (tab.getcol("ANTENNA_ID") == 0) & (tab.getcol("FEED_ID") == beam)
        times, intervals = tab.getcol("TIME")[select], tab.getcol("INTERVAL")[select]
        candidates = offsets[select]
        if len(candidates) == 0:
            raise MeasurementSetError(f"FEED has no row for beam {beam}", ms)
        covering = np.flatnonzero(np.abs(first_time - times) < intervals / 2)
        offset = candidates[covering[0] if len(covering) else 0][0]
        tab.putcol("BEAM_OFFSET", np.zeros_like(offsets))
    with open_ms(ms, "FIELD", readonly=False) as tab:
        directions = tab.getcol("PHASE_DIR")
        for field in range(directions.shape[0]):
            directions[field, 0] = shifted_direction(*directions[field, 0], offset)
        for column in ("PHASE_DIR", "DELAY_DIR", "REFERENCE_DIR"):
            tab.putcol(column, directions)
    ra, dec = np.degrees(directions[0, 0])
    return float(ra % 360), float(dec)


def _rotate_receptor_angle(ms: Path, pol_axis: float) -> None:
    """As ``fixms``: back up RECEPTOR_ANGLE and set it for a zero pol axis."""
    with open_ms(ms, "FEED", readonly=False) as tab:
        angles = tab.getcol("RECEPTOR_ANGLE")
        if "INSTRUMENT_RECEPTOR_ANGLE" not in tab.colnames():
            from casacore.tables import makecoldesc

            tab.addcols(makecoldesc("INSTRUMENT_RECEPTOR_ANGLE", tab.getcoldesc("RECEPTOR_ANGLE")))
            tab.putcol("INSTRUMENT_RECEPTOR_ANGLE", angles)
        axes = -(np.degrees(angles) - 45.0) - pol_axis
        tab.putcol("RECEPTOR_ANGLE", np.radians(-(axes - 45.0)))


def preprocess_askap_ms(
    ms: str | os.PathLike[str],
    output_ms: str | os.PathLike[str],
    fix_stokes_factor: bool | None = None,
    fix_direction: bool = True,
    overwrite: bool = False,
) -> PreprocessResult:
    """Copy ``ms`` to ``output_ms`` and preprocess it (see the module docstring).

    ``fix_stokes_factor`` defaults to whether ``ms`` has a CASDA name. A finished copy is
    reused unless ``overwrite``.
    """
    from astropy import units as u
    from fixms.fix_ms_corrs import convert_correlations

    ms, output_ms = Path(ms), Path(output_ms)
    if fix_stokes_factor is None:
        fix_stokes_factor = is_casda_name(ms)
    if output_ms.exists() and not overwrite:
        with open_ms(output_ms) as tab:
            if DONE_KEYWORD in tab.keywordnames():
                logger.info("%s already preprocessed; skipping", output_ms)
                record = tab.getkeyword(DONE_KEYWORD)
                return PreprocessResult(
                    output_ms,
                    int(record["beam"]),
                    tuple(record["phase_centre_deg"]),
                    float(record["pol_axis_deg"]),
                    bool(record["stokes_factor_fixed"]),
                    True,
                )
    require_columns(ms, "DATA", "FEED1")
    with open_ms(ms, "ANTENNA") as tab:
        if tab.getcell("MOUNT", 0) != "equatorial":
            raise MeasurementSetError("antennas not in equatorial mount (pol_fixed mode)", ms)
    with open_ms(ms) as tab:
        if "INSTRUMENT_DATA" in tab.colnames():
            raise MeasurementSetError("already has INSTRUMENT_DATA: preprocessed before?", ms)
        beams = np.unique(tab.getcol("FEED1"))
    if len(beams) != 1:
        raise MeasurementSetError(f"holds beams {beams.tolist()}; expected one", ms)
    beam = int(beams[0])
    pol_axis = pol_axis_deg(ms, beam)

    working = writable_copy(ms, output_ms, overwrite=True)
    if fix_direction:
        centre = _fix_field_direction(working, beam)
    else:
        with open_ms(working, "FIELD") as tab:
            ra, dec = np.degrees(tab.getcol("PHASE_DIR")[0, 0])
        centre = (float(ra % 360), float(dec))
    rename_column(working, "DATA", "INSTRUMENT_DATA")
    add_column(working, "DATA", like="INSTRUMENT_DATA", fill=None)
    with open_ms(working, readonly=False) as tab:
        for start in range(0, tab.nrows(), ROW_CHUNK):
            rows = min(ROW_CHUNK, tab.nrows() - start)
            data = tab.getcol("INSTRUMENT_DATA", startrow=start, nrow=rows)
            rotated = convert_correlations(data, pol_axis * u.deg, fix_stokes_factor)
            tab.putcol("DATA", rotated.astype(data.dtype), startrow=start, nrow=rows)
    _rotate_receptor_angle(working, pol_axis)
    with open_ms(working, readonly=False) as tab:
        tab.putkeyword(
            DONE_KEYWORD,
            {
                "beam": beam,
                "phase_centre_deg": list(centre),
                "pol_axis_deg": pol_axis,
                "stokes_factor_fixed": bool(fix_stokes_factor),
            },
        )
    logger.info(
        "Preprocessed %s -> %s: beam %d at (%.5f, %.5f) deg, pol axis %.1f deg, Stokes fix %s",
        ms,
        working,
        beam,
        *centre,
        pol_axis,
        fix_stokes_factor,
    )
    return PreprocessResult(working, beam, centre, pol_axis, bool(fix_stokes_factor))
