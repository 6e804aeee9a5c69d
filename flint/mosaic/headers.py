"""What a mosaic needs from an image header: the celestial plane, frequency and pointing."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from flint.errors import InputError

_FREQUENCY_KEYS = ("RESTFRQ", "RESTFREQ", "FREQ")
BANDWIDTH_KEY = "BANDWID"
"""Where an image without a FREQ axis (a flint mosaic) records its band, in Hz."""


def _frequency_axis(header: fits.Header) -> int | None:
    """The number of the FREQ axis, if any. BANE keeps the FREQ axis keywords of a cube but
    writes NAXIS = 2, so the keywords are searched rather than NAXIS."""
    for axis in range(3, 10):
        if str(header.get(f"CTYPE{axis}", "")).upper().startswith("FREQ"):
            return axis
    return None


def frequency_hz(header: fits.Header, path: str | os.PathLike[str] | None = None) -> float:
    """The image frequency: the FREQ axis value, else RESTFRQ / RESTFREQ / FREQ keywords."""
    axis = _frequency_axis(header)
    if axis is not None:
        return float(header[f"CRVAL{axis}"])
    for key in _FREQUENCY_KEYS:
        if key in header:
            return float(header[key])
    raise InputError("no frequency in the header (no FREQ axis, RESTFRQ, RESTFREQ or FREQ)", path)


def bandwidth_hz(header: fits.Header) -> float:
    """The band an image was made over: its FREQ axis pixel width, else ``BANDWID`` (else 0)."""
    axis = _frequency_axis(header)
    width = header.get(BANDWIDTH_KEY, 0.0) if axis is None else header.get(f"CDELT{axis}", 0.0)
    return abs(float(width))


def pointing_deg(header: fits.Header) -> tuple[float, float]:
    """The beam pointing taken as the image's reference position (CRVAL1, CRVAL2) in degrees."""
    return float(header["CRVAL1"]), float(header["CRVAL2"])


def read_plane(path: str | os.PathLike[str]) -> tuple[np.ndarray, WCS, fits.Header]:
    """The single celestial plane of a FITS image, its celestial WCS and the full header."""
    path = Path(path)
    if not path.is_file():
        raise InputError("image does not exist", path)
    with fits.open(path) as hdul:
        header = hdul[0].header.copy()
        data = np.asarray(hdul[0].data, dtype=float)
    if data.ndim < 2 or int(np.prod(data.shape[:-2])) != 1:
        raise InputError(f"expected one image plane, found shape {data.shape}", path)
    return data.reshape(data.shape[-2:]), celestial_wcs(header, path), header


def celestial_wcs(header: fits.Header, path: str | os.PathLike[str] | None = None) -> WCS:
    """The 2-D celestial WCS of the first two axes.

    Reading only those axes keeps astropy quiet about headers (BANE's) that keep
    the FREQ and STOKES keywords of a cube but say NAXIS = 2.
    """
    wcs = WCS(header, naxis=2)
    if not wcs.has_celestial or wcs.celestial.naxis != 2:
        raise InputError("the first two image axes are not celestial (RA, Dec)", path)
    return wcs


def separation_rad(
    ra_deg: np.ndarray, dec_deg: np.ndarray, centre_deg: tuple[float, float]
) -> np.ndarray:
    """Angular distance [rad] of positions from ``centre_deg`` (RA, Dec in degrees)."""
    ra, dec = np.deg2rad(ra_deg), np.deg2rad(dec_deg)
    ra0, dec0 = np.deg2rad(centre_deg)
    cos_sep = np.sin(dec) * np.sin(dec0) + np.cos(dec) * np.cos(dec0) * np.cos(ra - ra0)
    return np.arccos(np.clip(cos_sep, -1.0, 1.0))


def offsets_rad(wcs: WCS, shape: tuple[int, int], centre_deg: tuple[float, float]) -> np.ndarray:
    """Angular distance [rad] of every pixel of an image from ``centre_deg``."""
    y, x = np.indices(shape)
    return separation_rad(*wcs.all_pix2world(x, y, 0), centre_deg)
