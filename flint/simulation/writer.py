"""Create ASKAP-like measurement sets with python-casacore.

Layout mirrors the real RACS-low files: tiled DATA/FLAG (tiles of 4 correlations ×
≤18 channels × ~1820 rows), a FEED table with one row per antenna and beam (FEED_ID
= beam, BEAM_OFFSET of every beam, RECEPTOR_ANGLE of the correlations' frame, X/Y
receptors), FEED1 = FEED2 = the beam, one FIELD row per field observed (the telescope
writes the boresight there, processed data the beam's pointing), CORR_TYPE XX XY YX YY
and TELESCOPE_NAME ASKAP.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from flint.simulation.array_layout import ArrayLayout

CORR_TYPES = np.array([9, 10, 11, 12], dtype=np.int32)  # XX XY YX YY
CORR_PRODUCTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.int32)
N_FOOTPRINT_BEAMS = 36


@dataclass(frozen=True)
class FieldRow:
    """One row of the FIELD table."""

    name: str
    direction_rad: tuple[float, float]
    time_mjd_s: float


@dataclass(frozen=True)
class MSLayout:
    """What one beam's measurement set holds (everything but the visibilities)."""

    layout: ArrayLayout
    frequencies_hz: NDArray[np.float64]
    channel_width_hz: float
    n_rows: int
    integration_s: float
    time_range_mjd_s: tuple[float, float]
    fields: tuple[FieldRow, ...]
    beam: int
    beam_offsets_rad: NDArray[np.float64]  # [36, 2] as in the FEED table of every antenna
    receptor_angle_rad: NDArray[np.float64]  # [2]: X and Y of every feed
    extra_columns: tuple[str, ...] = ("NOISE_DATA",)


def _tile(n_channels: int) -> list[int]:
    channels = min(n_channels, 18)
    return [4, channels, max(1, 131072 // (4 * channels))]


def _main_description(spec: MSLayout) -> tuple[dict, dict]:
    from casacore.tables import makearrcoldesc, maketabdesc

    nchan = len(spec.frequencies_hz)
    shape = [nchan, 4]
    columns = [
        makearrcoldesc("DATA", 0j, shape=shape, valuetype="complex", comment="The data column"),
        makearrcoldesc("FLAG", False, shape=shape, valuetype="boolean", comment="The data flags"),
        makearrcoldesc(
            "WEIGHT", 0.0, shape=[4], valuetype="float", comment="Weight per correlation"
        ),
        makearrcoldesc("SIGMA", 0.0, shape=[4], valuetype="float", comment="Sigma per correlation"),
    ]
    for name in spec.extra_columns:
        columns.append(
            makearrcoldesc(name, 0j, shape=shape, valuetype="complex", comment=f"flint: {name}")
        )
    dminfo = {
        f"*{index}": {
            "TYPE": "TiledColumnStMan",
            "NAME": f"Tiled{name}",
            "SPEC": {"DEFAULTTILESHAPE": np.array(tile, dtype=np.int32)},
            "COLUMNS": [name],
        }
        for index, (name, tile) in enumerate(
            [(name, _tile(nchan)) for name in ("DATA", "FLAG", *spec.extra_columns)]
            + [("WEIGHT", [4, 32760]), ("SIGMA", [4, 32760])],
            start=1,
        )
    }
    return maketabdesc(columns), dminfo


def create_ms(path: Path, spec: MSLayout) -> None:
    """Create the MS at ``path`` with its subtables filled and ``n_rows`` empty rows."""
    from casacore.tables import default_ms, table

    description, dminfo = _main_description(spec)
    tab = default_ms(str(path), description, dminfo)
    try:
        tab.addrows(spec.n_rows)
        tab.putkeyword("FLINT_SIMULATED", True)
    finally:
        tab.close()

    def subtable(name: str):
        return table(f"{path}/{name}", readonly=False, ack=False)

    layout, nant = spec.layout, spec.layout.n_antennas
    with subtable("ANTENNA") as ant:
        ant.addrows(nant)
        ant.putcol("NAME", list(layout.names))
        ant.putcol("STATION", ["ASKAP"] * nant)
        ant.putcol("TYPE", ["GROUND-BASED"] * nant)
        ant.putcol("MOUNT", ["equatorial"] * nant)
        ant.putcol("POSITION", layout.itrf_m)
        ant.putcol("OFFSET", np.zeros((nant, 3)))
        ant.putcol("DISH_DIAMETER", layout.dish_diameter_m)
        ant.putcol("FLAG_ROW", np.zeros(nant, dtype=bool))

    nbeam = N_FOOTPRINT_BEAMS
    nfeed = nant * nbeam
    with subtable("FEED") as feed:
        feed.addrows(nfeed)
        feed.putcol("ANTENNA_ID", np.repeat(np.arange(nant, dtype=np.int32), nbeam))
        feed.putcol("FEED_ID", np.tile(np.arange(nbeam, dtype=np.int32), nant))
        feed.putcol("BEAM_ID", np.zeros(nfeed, dtype=np.int32))
        offsets = np.repeat(spec.beam_offsets_rad[:, np.newaxis, :], 2, axis=1)  # [beam, rec, 2]
        feed.putcol("BEAM_OFFSET", np.tile(offsets, (nant, 1, 1)))
        feed.putcol("POLARIZATION_TYPE", np.array([["X", "Y"]] * nfeed))
        feed.putcol("POL_RESPONSE", np.tile(np.eye(2, dtype=np.complex64), (nfeed, 1, 1)))
        feed.putcol("RECEPTOR_ANGLE", np.tile(spec.receptor_angle_rad, (nfeed, 1)))
        feed.putcol("POSITION", np.zeros((nfeed, 3)))
        feed.putcol("INTERVAL", np.full(nfeed, 1e30))
        feed.putcol("NUM_RECEPTORS", np.full(nfeed, 2, dtype=np.int32))
        feed.putcol("SPECTRAL_WINDOW_ID", np.full(nfeed, -1, dtype=np.int32))
        feed.putcol("TIME", np.zeros(nfeed))

    nfield = len(spec.fields)
    direction = np.array([[row.direction_rad] for row in spec.fields])
    with subtable("FIELD") as field:
        field.addrows(nfield)
        for column in ("DELAY_DIR", "PHASE_DIR", "REFERENCE_DIR"):
            field.putcol(column, direction)
        field.putcol("NAME", [row.name for row in spec.fields])
        field.putcol("CODE", [""] * nfield)
        field.putcol("NUM_POLY", np.zeros(nfield, dtype=np.int32))
        field.putcol("SOURCE_ID", np.full(nfield, -1, dtype=np.int32))
        field.putcol("TIME", np.array([row.time_mjd_s for row in spec.fields]))

    nchan = len(spec.frequencies_hz)
    widths = np.full(nchan, spec.channel_width_hz)
    with subtable("SPECTRAL_WINDOW") as spw:
        spw.addrows(1)
        spw.putcell("CHAN_FREQ", 0, spec.frequencies_hz)
        for column in ("CHAN_WIDTH", "EFFECTIVE_BW", "RESOLUTION"):
            spw.putcell(column, 0, widths)
        spw.putcell("REF_FREQUENCY", 0, float(spec.frequencies_hz[0]))
        spw.putcell("TOTAL_BANDWIDTH", 0, float(widths.sum()))
        spw.putcell("NUM_CHAN", 0, nchan)
        spw.putcell("MEAS_FREQ_REF", 0, 5)  # TOPO
        spw.putcell("NET_SIDEBAND", 0, 1)
        spw.putcell("NAME", 0, "NO_NAME")
        spw.putcell("FREQ_GROUP_NAME", 0, "Group 1")

    with subtable("POLARIZATION") as pol:
        pol.addrows(1)
        pol.putcell("CORR_TYPE", 0, CORR_TYPES)
        pol.putcell("CORR_PRODUCT", 0, CORR_PRODUCTS)
        pol.putcell("NUM_CORR", 0, 4)

    with subtable("DATA_DESCRIPTION") as ddesc:
        ddesc.addrows(1)
        ddesc.putcell("SPECTRAL_WINDOW_ID", 0, 0)
        ddesc.putcell("POLARIZATION_ID", 0, 0)

    with subtable("OBSERVATION") as obs:
        obs.addrows(1)
        obs.putcell("TELESCOPE_NAME", 0, "ASKAP")
        obs.putcell("TIME_RANGE", 0, np.array(spec.time_range_mjd_s))
        obs.putcell("OBSERVER", 0, "flint simulator")
        obs.putcell("PROJECT", 0, "flint-simulation")

    with subtable("PROCESSOR") as processor:
        processor.addrows(1)
        processor.putcell("TYPE", 0, "CORRELATOR")
        processor.putcell("SUB_TYPE", 0, "ASKAP")


def write_rows(path: Path, start: int, columns: dict[str, NDArray]) -> None:
    """Write ``columns`` (each with the same number of rows) from row ``start``."""
    from casacore.tables import table

    with table(str(path), readonly=False, ack=False) as tab:
        for name, values in columns.items():
            tab.putcol(name, values, startrow=start, nrow=len(values))
