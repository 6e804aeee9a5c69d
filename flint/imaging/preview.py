"""Images made small for display: read in row blocks, block-averaged, stretched, with WCS
tick labels. Pure numpy and astropy: viewers draw what these return, never a full image."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from flint.errors import InputError

STRETCHES = ("linear", "sqrt", "log", "asinh")
ROW_BLOCK_BYTES = 64 * 2**20
"""About this much of an image is read at a time."""

Progress = Callable[[int, int], None]
"""``progress(done, total)``: called as a long read advances."""


def decimate(data: np.ndarray, max_pixels: int = 1024) -> tuple[np.ndarray, int]:
    """Block-average a 2-D image so neither side exceeds ``max_pixels``; returns (image, factor)."""
    data = np.asarray(data, dtype=float).squeeze()
    if data.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {data.shape}")
    factor = decimation_factor(data.shape, max_pixels)
    return _block_mean(data, factor), factor


def decimation_factor(shape: tuple[int, ...], max_pixels: int) -> int:
    """The block size that brings the longest side of ``shape`` to at most ``max_pixels``."""
    return max(1, int(np.ceil(max(shape[-2:]) / max_pixels)))


def _block_mean(data: np.ndarray, factor: int) -> np.ndarray:
    if factor == 1:
        return np.asarray(data, dtype=float)
    ny, nx = (s // factor * factor for s in data.shape)
    blocks = np.asarray(data[:ny, :nx], dtype=float).reshape(
        ny // factor, factor, nx // factor, factor
    )
    with warnings.catch_warnings():  # blocks wholly outside a mosaic's coverage stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(blocks, axis=(1, 3))


def stretch(
    data: np.ndarray, kind: str = "linear", percentiles: tuple[float, float] = (1, 99.5)
) -> np.ndarray:
    """Clip to percentiles, scale to 0..1 and apply the stretch."""
    if kind not in STRETCHES:
        raise ValueError(f"unknown stretch {kind!r}; choose one of {STRETCHES}")
    finite = data[np.isfinite(data)]
    low, high = np.percentile(finite, percentiles) if finite.size else (0.0, 1.0)
    scaled = np.clip((data - low) / ((high - low) or 1.0), 0, 1)
    if kind == "sqrt":
        return np.sqrt(scaled)
    if kind == "log":
        return np.log10(1 + 999 * scaled) / 3
    if kind == "asinh":
        return np.arcsinh(10 * scaled) / np.arcsinh(10)
    return scaled


def wcs_ticks(wcs: Any, shape: tuple[int, int], factor: int, count: int = 5) -> tuple[dict, dict]:
    """Tick labels (decimated pixel -> sexagesimal RA/Dec) along the central row and column."""
    from astropy.coordinates import Angle

    ny, nx = shape
    xs = np.linspace(0, nx - 1, count)
    ys = np.linspace(0, ny - 1, count)
    celestial = wcs.celestial
    ra, _ = celestial.pixel_to_world_values(xs * factor, np.full(count, ny / 2 * factor))
    _, dec = celestial.pixel_to_world_values(np.full(count, nx / 2 * factor), ys * factor)
    xl = {
        float(x): Angle(v, "deg").to_string("hourangle", sep=":", precision=0)
        for x, v in zip(xs, ra, strict=True)
    }
    yl = {
        float(y): Angle(v, "deg").to_string(sep=":", precision=0)
        for y, v in zip(ys, dec, strict=True)
    }
    return xl, yl


@dataclass(frozen=True)
class ImagePreview:
    """A decimated image plane: what a viewer draws, and how to place sources on it."""

    data: np.ndarray
    """Block-averaged plane (at most ``max_pixels`` a side), in the image's units."""
    factor: int
    """Full-size pixels per displayed pixel."""
    shape: tuple[int, int]
    """The full plane's (ny, nx)."""
    wcs: Any = None
    """The full image's celestial WCS (None for arrays without one)."""
    path: Path | None = None
    unit: str = ""

    def ticks(self, count: int = 5) -> tuple[dict, dict]:
        """RA and Dec tick labels by displayed pixel (empty without a WCS)."""
        if self.wcs is None:
            return {}, {}
        return wcs_ticks(self.wcs, self.data.shape, self.factor, count)

    def to_pixels(self, ra_deg: Any, dec_deg: Any) -> tuple[np.ndarray, np.ndarray]:
        """Displayed-pixel positions of sky positions (degrees)."""
        if self.wcs is None:
            raise InputError("the image has no celestial WCS", self.path)
        x, y = self.wcs.world_to_pixel_values(
            np.asarray(ra_deg, dtype=float), np.asarray(dec_deg, dtype=float)
        )
        return np.asarray(x) / self.factor, np.asarray(y) / self.factor

    def stretched(self, kind: str = "sqrt", percentiles: tuple[float, float] = (1, 99.5)):
        return stretch(self.data, kind, percentiles)


def preview_array(data: np.ndarray, max_pixels: int = 1024, wcs: Any = None) -> ImagePreview:
    """An in-memory image (2-D, or with leading length-1 axes) as a preview."""
    plane = np.asarray(data, dtype=float).squeeze()
    small, factor = decimate(plane, max_pixels)
    return ImagePreview(small, factor, plane.shape, None if wcs is None else wcs.celestial)


def read_preview(
    path: str | os.PathLike[str], max_pixels: int = 1024, progress: Progress | None = None
) -> ImagePreview:
    """The first plane of a FITS image, read in row blocks and block-averaged as it is read."""
    from astropy.io import fits
    from astropy.wcs import WCS, FITSFixedWarning

    path = Path(path)
    if not path.is_file():
        raise InputError("no such image", path)
    try:
        hdus = fits.open(path, memmap=True)
    except OSError as error:
        raise InputError(f"not a FITS file: {error}", path) from None
    with hdus, warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)  # wsclean headers: DATE fix-up
        header = hdus[0].header
        data = hdus[0].data
        if data is None or data.ndim < 2:
            raise InputError("the primary HDU holds no image", path)
        plane = data[(0,) * (data.ndim - 2)]  # first frequency and Stokes plane
        ny, nx = plane.shape
        factor = decimation_factor((ny, nx), max_pixels)
        rows = max(factor, ROW_BLOCK_BYTES // (8 * nx) // factor * factor)
        out = []
        for start in range(0, ny // factor * factor, rows):
            stop = min(start + rows, ny // factor * factor)
            out.append(_block_mean(np.asarray(plane[start:stop], dtype=float), factor))
            if progress:
                progress(stop, ny)
        small = np.concatenate(out) if out else np.zeros((0, nx // factor))
        wcs = WCS(header).celestial if header.get("CTYPE1") else None
        return ImagePreview(small, factor, (ny, nx), wcs, path, str(header.get("BUNIT", "")))
