"""ASKAP 36-beam footprints: beam offsets and beam centres on the sky.

Offsets are tangent-plane (x east, y north) in degrees, in beam-number order.
Numbering (flint's convention): row-major from the top-left *as seen on the sky*
(north up, east to the left), i.e. beam 0 is the north-east corner, numbers
increase westward along a row and then southward row by row:

    square_6x6 (pa 0)              closepack36 (pa 0)
     0  1  2  3  4  5             0  1  2  3  4  5        (row shifted east)
     6  7  8  9 10 11               6  7  8  9 10 11      (row shifted west)
    ...                           ...
    30 31 32 33 34 35               30 31 32 33 34 35

``square_6x6`` is a 6x6 grid with spacing ``pitch_deg``; ``closepack36`` has six
rows of six, row spacing ``pitch_deg``·√3/2, alternate rows shifted by half a
pitch (even rows east, odd rows west by a quarter pitch each) so every beam is
``pitch_deg`` from its neighbours. Both are centred on the boresight. ``pa_deg``
rotates the pattern by that position angle (north through east) on the sky.

Beam centres place each offset at angular distance √(x²+y²) and position angle
atan2(x, y) from the boresight (``SkyCoord.directional_offset_by``), which is exact
on the sphere for the distance to the boresight; nearest-neighbour separations
match the pitch to second order in the footprint size.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from numpy.typing import NDArray
from pydantic import Field

from flint.errors import InputError
from flint.options import BaseOptions

FootprintName = Literal["closepack36", "square_6x6"]
BEAMS = 36
_SIDE = 6


class Footprint(BaseOptions):
    """An ASKAP beam footprint."""

    name: FootprintName = "closepack36"
    """Beam arrangement: ``closepack36`` (hexagonal) or ``square_6x6``."""
    pitch_deg: float = Field(default=0.9, gt=0.0, le=5.0)
    """Distance between neighbouring beams [deg]."""
    pa_deg: float = 0.0
    """Position angle of the footprint, north through east [deg]."""

    def _unrotated_offsets(self) -> NDArray[np.float64]:
        column = np.tile(np.arange(_SIDE), _SIDE)
        row = np.repeat(np.arange(_SIDE), _SIDE)
        centred = (_SIDE - 1) / 2.0
        x = (centred - column) * self.pitch_deg  # east is +x; beam 0 is the east end
        if self.name == "square_6x6":
            y = (centred - row) * self.pitch_deg
        else:
            x = x + np.where(row % 2 == 0, 0.25, -0.25) * self.pitch_deg
            y = (centred - row) * self.pitch_deg * np.sqrt(3.0) / 2.0
        return np.column_stack([x, y])

    def offsets_deg(self) -> NDArray[np.float64]:
        """Tangent-plane offsets [36, 2] (x east, y north; deg), rotated by ``pa_deg``."""
        x, y = self._unrotated_offsets().T
        angle = np.deg2rad(self.pa_deg)
        cos, sin = np.cos(angle), np.sin(angle)
        return np.column_stack([x * cos + y * sin, -x * sin + y * cos])

    def beam_centres(
        self, ra_deg: float, dec_deg: float, beams: Sequence[int] | None = None
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """RA and Dec [deg] of the beam centres for boresight (ra_deg, dec_deg).

        ``beams`` selects beam numbers (default all 36, in order).
        """
        offsets = self.offsets_deg()
        if beams is not None:
            beams = np.asarray(beams, dtype=int)
            bad = beams[(beams < 0) | (beams >= BEAMS)]
            if bad.size:
                raise InputError(f"beam numbers {bad.tolist()} outside 0..{BEAMS - 1}")
            offsets = offsets[beams]
        x, y = offsets.T
        boresight = SkyCoord(ra_deg * u.deg, dec_deg * u.deg)
        centres = boresight.directional_offset_by(np.arctan2(x, y) * u.rad, np.hypot(x, y) * u.deg)
        return centres.ra.deg, centres.dec.deg
