"""Image preparation for display, done in the kernel: decimate, stretch, WCS tick labels (pure)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

STRETCHES = ("linear", "sqrt", "log", "asinh")


def decimate(data: np.ndarray, max_pixels: int = 1024) -> tuple[np.ndarray, int]:
    """Block-average a 2-D image so neither side exceeds ``max_pixels``; returns (image, factor)."""
    data = np.asarray(data, dtype=float).squeeze()
    if data.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {data.shape}")
    factor = max(1, int(np.ceil(max(data.shape) / max_pixels)))
    if factor == 1:
        return data, 1
    ny, nx = (s // factor * factor for s in data.shape)
    blocks = data[:ny, :nx].reshape(ny // factor, factor, nx // factor, factor)
    with warnings.catch_warnings():  # blocks wholly outside a mosaic's coverage stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(blocks, axis=(1, 3)), factor


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
