"""ASKAP preprocessing of one beam's measurement set, on a copy and exactly once.

:func:`flint.ms.layout.detect_layout` says what an MS needs; :func:`preprocess_ms` does
just that into a new copy (the input is only ever read):

1. Field selection: of a raw calibrator block, only the rows of the field of the MS's own
   beam position (``B1934-638_beamN``) are copied.
2. Direction: ASKAP writes the boresight as every field's direction and the beam's
   position in FEED ``BEAM_OFFSET``; the beam's pointing becomes the field direction and
   the offsets are zeroed, the originals kept in ``FIELD_OLD``/``FEED_OLD`` (as fixms).
3. Correlations: rotated from the PAF frame to the sky frame (fixms's matrix); the
   original goes to INSTRUMENT_DATA, the rotated to DATA, RECEPTOR_ANGLE is updated (the
   original kept in INSTRUMENT_RECEPTOR_ANGLE). A simulation's NOISE_DATA is rotated too.
4. Stokes factor: CASDA's ASKAPsoft products (I = XX + YY) are doubled to the usual
   I = (XX + YY) / 2, in the same step as the rotation.

The copy carries a ``FLINT_PREPROCESSED`` keyword saying what was done and from what, which
:func:`~flint.ms.layout.detect_layout` reads as "nothing left to do", so a copy is never
processed twice; a rerun with the same input and steps finds the copy made by the same
recipe (:class:`flint.identity.Recipe`) and does nothing.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flint.askap.frames import receptor_angles_rad, to_sky
from flint.askap.pointing import beam_pointing_rad
from flint.atomic import atomic_path
from flint.errors import MeasurementSetError
from flint.identity import Recipe
from flint.ms.access import check_ms, open_ms, row_chunks
from flint.ms.columns import add_column, rename_column
from flint.ms.layout import PREPROCESSED_KEYWORD, MSLayoutState, detect_layout
from flint.ms.select import copy_field

logger = logging.getLogger(__name__)

ALSO_ROTATED = ("NOISE_DATA",)
"""Columns rotated in place with DATA: a simulation's noise alone (for the thermal limit)."""


@dataclass(frozen=True)
class PreprocessResult:
    """The measurement set to use, and what was done to make it."""

    ms: Path
    """The preprocessed copy (the input itself when it needed nothing)."""
    source: Path
    beam: int
    layout: str
    """The input's layout."""
    steps: tuple[str, ...]
    """What preprocessing did (``field``, ``direction``, ``rotation``, ``stokes factor``)."""
    field: str | None
    """The field whose rows were kept (a calibrator block), else ``None``."""
    phase_centre_deg: tuple[float, float]
    pol_axis_deg: float
    calibrated: bool
    """Bandpass-calibrated data (CASDA): no bandpass is to be applied."""
    skipped: bool = False
    """An earlier run's copy was found complete and reused."""


def planned_steps(state: MSLayoutState, field: str | None) -> tuple[str, ...]:
    """The steps :func:`preprocess_ms` will take for ``state`` (``field``: selected field)."""
    return (("field",) if field is not None else ()) + state.needs


def preprocess_record(
    ms: Path, state: MSLayoutState, field: str | None, steps: tuple[str, ...]
) -> dict:
    """What a preprocessed copy of ``ms`` records of its source (its FLINT_PREPROCESSED
    keyword; with ``source`` left out, the options of its recipe)."""
    return {
        "source": str(ms.resolve()),
        "layout": state.layout,
        "beam": state.beam,
        "field": field or "",
        "steps": list(steps),
        "pol_axis_deg": state.pol_axis_deg,
        "calibrated": state.calibrated,
    }


def preprocess_ms(
    ms: str | os.PathLike[str],
    output_ms: str | os.PathLike[str],
    field: str | None = "auto",
    overwrite: bool = False,
) -> PreprocessResult:
    """Preprocess ``ms`` into ``output_ms`` as its layout needs (see the module docstring).

    ``field``: ``"auto"`` selects a calibrator block's field of the MS's own beam, a name
    selects that field, ``None`` keeps every row. An MS that needs nothing is returned as
    it is (nothing is written). A complete earlier copy from the same input, field and
    steps is reused unless ``overwrite``.
    """
    ms, output_ms = check_ms(ms), Path(output_ms)
    state = detect_layout(ms)
    if field == "auto":
        field = state.field_for_beam()
    elif field is not None and field not in state.fields:
        raise MeasurementSetError(f"no field {field} (fields: {', '.join(state.fields)})", ms)
    steps = planned_steps(state, field)
    if not steps:
        logger.info("%s (%s) needs no preprocessing", ms, state.layout)
        return _result(ms, ms, state, (), field, state.pointing_deg(), skipped=False)
    if ms.resolve() == output_ms.resolve():
        raise MeasurementSetError("refusing to preprocess a measurement set in place", ms)
    record = preprocess_record(ms, state, field, steps)
    recipe = Recipe.of(
        "preprocess", {"ms": ms}, {key: record[key] for key in record if key != "source"}
    )
    if not overwrite and recipe.made(output_ms):
        with open_ms(output_ms) as tab:
            centre = tuple(tab.getkeyword(PREPROCESSED_KEYWORD)["phase_centre_deg"])
        logger.info("%s already preprocessed from %s; reusing it", output_ms, ms)
        return _result(output_ms, ms, state, steps, field, centre, skipped=True)

    with atomic_path(output_ms, overwrite=True) as working:
        if field is not None:
            copy_field(ms, field, working)
        else:
            shutil.copytree(ms, working, symlinks=True)
        centre = preprocess_in_place(working, state, record)
    recipe.record(output_ms)
    logger.info(
        "Preprocessed %s -> %s (%s): %s; beam %d at (%.5f, %.5f) deg",
        ms, output_ms, state.layout, ", ".join(steps), state.beam, *centre,
    )  # fmt: skip
    return _result(output_ms, ms, state, steps, field, centre, skipped=False)


def preprocess_in_place(
    working: Path, state: MSLayoutState, record: dict, keep_original: bool = True
) -> tuple[float, float]:
    """Do ``state``'s steps to ``working``, a copy flint just made (never to the input), and
    mark it with ``record`` (:data:`PREPROCESSED_KEYWORD`); its phase centre (deg).

    ``keep_original`` keeps the instrument-frame correlations in INSTRUMENT_DATA; without it
    DATA is converted where it is (the input still holds them) and no extra column is added.
    """
    if state.fix_direction:
        _fix_field_direction(working, state.beam)
    if state.rotate_correlations or state.fix_stokes_factor:
        _rotate_correlations(working, state, keep_original)
    with open_ms(working, "FIELD") as tab:
        ra, dec = np.degrees(tab.getcol("PHASE_DIR")[0, 0])
    centre = (float(ra % 360.0), float(dec))
    with open_ms(working, readonly=False) as tab:
        tab.putkeyword(PREPROCESSED_KEYWORD, {**record, "phase_centre_deg": list(centre)})
    return centre


def correlation_converter(
    pol_axis_deg: float, rotate: bool, stokes_factor: bool
) -> Callable[[np.ndarray], np.ndarray] | None:
    """What preprocessing does to each visibility ``[..., 4]`` (None: nothing)."""
    if rotate:
        return lambda values: to_sky(values, pol_axis_deg, stokes_factor)
    if stokes_factor:
        return lambda values: values * values.dtype.type(2)
    return None


def _result(ms, source, state, steps, field, centre, skipped) -> PreprocessResult:
    return PreprocessResult(
        ms=ms,
        source=source,
        beam=state.beam,
        layout=state.layout,
        steps=tuple(steps),
        field=field,
        phase_centre_deg=(float(centre[0]), float(centre[1])),
        pol_axis_deg=state.pol_axis_deg,
        calibrated=state.calibrated,
        skipped=skipped,
    )


def _fix_field_direction(ms: Path, beam: int) -> None:
    """Every field's direction moved by this beam's offset (covering the field's first
    time), the originals kept in FIELD_OLD and FEED_OLD, the offsets zeroed."""
    from casacore.tables import tablecopy

    for name in ("FIELD", "FEED"):
        if not (ms / f"{name}_OLD").exists():
            tablecopy(str(ms / name), str(ms / f"{name}_OLD"))
    with open_ms(ms, "FEED", readonly=False) as tab:
        select = (tab.getcol("ANTENNA_ID") == 0) & (tab.getcol("FEED_ID") == beam)
        offsets = tab.getcol("BEAM_OFFSET")[select][:, 0]
        times, intervals = tab.getcol("TIME")[select], tab.getcol("INTERVAL")[select]
        tab.putcol("BEAM_OFFSET", np.zeros_like(tab.getcol("BEAM_OFFSET")))
    with open_ms(ms) as tab:
        field_ids, row_times = tab.getcol("FIELD_ID"), tab.getcol("TIME")
    with open_ms(ms, "FIELD", readonly=False) as tab:
        directions = tab.getcol("PHASE_DIR")
        for index in range(directions.shape[0]):
            rows = row_times[field_ids == index]
            if len(rows) == 0:
                continue
            covering = np.flatnonzero(np.abs(rows[0] - times) < intervals / 2)
            offset = offsets[covering[0] if len(covering) else 0]
            ra, dec = beam_pointing_rad(*directions[index, 0], offset)
            directions[index, 0] = (ra % (2 * np.pi), dec)
        for column in ("PHASE_DIR", "DELAY_DIR", "REFERENCE_DIR"):
            tab.putcol(column, directions)


def _rotate_correlations(ms: Path, state: MSLayoutState, keep_original: bool = True) -> None:
    """DATA to the sky frame (and the Stokes factor); the original kept in INSTRUMENT_DATA
    when ``keep_original``, else converted where it is."""
    source = "DATA"
    if keep_original:
        rename_column(ms, "DATA", "INSTRUMENT_DATA")
        add_column(ms, "DATA", like="INSTRUMENT_DATA", fill=None)
        source = "INSTRUMENT_DATA"
    convert = correlation_converter(
        state.pol_axis_deg, state.rotate_correlations, state.fix_stokes_factor
    )
    assert convert is not None
    with open_ms(ms, readonly=False) as tab:
        also = [column for column in ALSO_ROTATED if column in tab.colnames()]
        for start, rows in row_chunks(tab):
            data = tab.getcol(source, startrow=start, nrow=rows)
            tab.putcol("DATA", convert(data), start, rows)
            for column in also:
                tab.putcol(
                    column, convert(tab.getcol(column, startrow=start, nrow=rows)), start, rows
                )
    with open_ms(ms, "FEED", readonly=False) as tab:
        angles = tab.getcol("RECEPTOR_ANGLE")
        if "INSTRUMENT_RECEPTOR_ANGLE" not in tab.colnames():
            from casacore.tables import makecoldesc

            tab.addcols(makecoldesc("INSTRUMENT_RECEPTOR_ANGLE", tab.getcoldesc("RECEPTOR_ANGLE")))
            tab.putcol("INSTRUMENT_RECEPTOR_ANGLE", angles)
        tab.putcol("RECEPTOR_ANGLE", np.tile(receptor_angles_rad(0.0), (len(angles), 1)))
