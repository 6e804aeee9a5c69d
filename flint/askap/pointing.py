"""Beam pointings from the boresight and FEED ``BEAM_OFFSET``, in the convention of ASKAP's
``fix_ms_dir`` (fixms): the beam is the boresight moved by (-offset[0], offset[1]) with
``Skypos.shift`` (rotate about z by the longitude offset, about y by latitude plus the
latitude offset, about z by the longitude)."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray


def beam_pointing_rad(ra_rad: float, dec_rad: float, offset_rad) -> tuple[float, float]:
    """Where a beam with FEED ``BEAM_OFFSET`` ``offset_rad`` points (radians), as fixms."""
    from fixms.fix_ms_dir import Skypos

    position = Skypos(ra_rad, dec_rad, 9, 9).shift(-offset_rad[0], offset_rad[1])
    new_ra = position.ra - 2 * np.pi if position.ra > np.pi else position.ra
    return float(new_ra), float(position.dec)


def beam_pointing_deg(boresight_deg: tuple[float, float], offset_rad) -> tuple[float, float]:
    """:func:`beam_pointing_rad` in degrees (RA in [0, 360))."""
    ra, dec = beam_pointing_rad(*np.deg2rad(boresight_deg), offset_rad)
    return (math.degrees(ra) % 360.0, math.degrees(dec))


def beam_offsets_rad(
    boresight_deg: tuple[float, float], centres_deg: tuple[NDArray, NDArray]
) -> NDArray[np.float64]:
    """[nbeam, 2] FEED ``BEAM_OFFSET`` that point the boresight's beams at ``centres_deg``
    (the inverse of :func:`beam_pointing_rad`)."""
    lon, lat = np.deg2rad(boresight_deg)
    ra, dec = (np.deg2rad(np.asarray(value, dtype=float)) for value in centres_deg)
    x = np.cos(dec) * np.cos(ra - lon)
    y = np.cos(dec) * np.sin(ra - lon)
    z = np.sin(dec)
    delta_lon = np.arcsin(np.clip(y, -1.0, 1.0))
    delta_lat = np.arctan2(z, x) - lat
    return np.column_stack([-delta_lon, delta_lat])


def boresight_for(target_deg: tuple[float, float], offset_rad) -> tuple[float, float]:
    """The boresight whose beam of offset ``offset_rad`` points exactly at ``target_deg``."""
    ra_t, dec_t = np.deg2rad(target_deg)
    delta_lon, delta_lat = -float(offset_rad[0]), float(offset_rad[1])
    latitude = math.asin(math.sin(dec_t) / math.cos(delta_lon))  # = lat + delta_lat
    lon = ra_t - math.atan2(math.sin(delta_lon), math.cos(delta_lon) * math.cos(latitude))
    return (math.degrees(lon) % 360.0, math.degrees(latitude - delta_lat))
