"""Primary-beam and inverse-variance weighted linear mosaic of beam images (reproject).

For beam image ``i`` (apparent brightness ``I_i``) with primary beam ``P_i`` and
noise ``σ_i`` the weight of its primary-beam-corrected image is ``w_i = P_i² / σ_i²``
and the mosaic is ``Σ w_i (I_i / P_i) / Σ w_i = Σ (P_i I_i / σ_i²) / Σ (P_i² / σ_i²)``,
the minimum-variance combination. The weight image ``Σ w_i`` is written beside
the mosaic; ``1 / sqrt(Σ w_i)`` is the expected mosaic noise.

Each image is interpolated onto the part of the output grid it covers (chosen by
``find_optimal_celestial_wcs``), as ``reproject_interp`` does, but with the pixel mapping
computed once per image and shared by the image, its validity mask and its noise map
(the world-coordinate transforms are most of the cost); its primary beam is
evaluated analytically on the output grid, centred on the beam pointing and averaged
over the image's band (flint.primary_beam.band_primary_beam: a 32 % band changes the
beam by several per cent where it is below half power). Blanked input pixels are zero-filled
and a reprojected validity mask drops output pixels near them, because a spline
interpolation would spread a NaN over the whole image.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.wcs import WCS
from astropy.wcs.utils import pixel_to_pixel
from radio_beam import Beam
from reproject.mosaicking import find_optimal_celestial_wcs
from scipy.ndimage import map_coordinates

from flint.atomic import atomic_path
from flint.errors import InputError
from flint.identity import Recipe
from flint.mosaic.headers import (
    BANDWIDTH_KEY,
    bandwidth_hz,
    frequency_hz,
    offsets_rad,
    pointing_deg,
    read_plane,
)
from flint.mosaic.options import MosaicOptions
from flint.primary_beam import band_primary_beam

logger = logging.getLogger(__name__)

Noise = float | str | os.PathLike[str]

_FULLY_VALID = 0.999
"""An output pixel is used only when its interpolated validity mask reaches this."""
_SPLINE_ORDER = {"nearest-neighbor": 0, "bilinear": 1, "biquadratic": 2, "bicubic": 3}


@dataclass(frozen=True)
class MosaicResult:
    """A mosaic, its weight image and what went into it."""

    mosaic: Path
    weight: Path
    images: list[Path]
    skipped: bool
    """True when both products already existed and nothing was computed."""


def weight_name(mosaic: str | os.PathLike[str]) -> Path:
    """``field.mosaic.fits`` -> ``field.mosaic.weight.fits``."""
    mosaic = Path(mosaic)
    stem = mosaic.name[: -len(".fits")] if mosaic.name.lower().endswith(".fits") else mosaic.name
    return mosaic.with_name(f"{stem}.weight.fits")


def robust_rms(data: np.ndarray) -> float:
    """1.4826 × the median absolute deviation of the finite pixels."""
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        return float("nan")
    return float(1.4826 * np.median(np.abs(finite - np.median(finite))))


def _noise_plane(noise: Noise | None, data: np.ndarray, image: Path) -> np.ndarray | float:
    if noise is None:
        sigma = robust_rms(data)
        logger.info("No noise given for %s; robust rms of the image is %.3g", image, sigma)
        return sigma
    if isinstance(noise, (int, float)):
        return float(noise)
    plane, _, _ = read_plane(noise)
    if plane.shape != data.shape:
        raise InputError(
            f"rms map shape {plane.shape} differs from the image's {data.shape}", noise
        )
    return plane


def _common_beam(headers: list[fits.Header], images: list[Path], rtol: float) -> Beam | None:
    beams = [Beam.from_fits_header(h) if "BMAJ" in h else None for h in headers]
    if any(beam is None for beam in beams):
        logger.warning("Some images have no restoring beam; the mosaic will have none")
        return None
    reference = beams[0]
    for beam, image in zip(beams[1:], images[1:], strict=True):
        for axis in ("major", "minor"):
            ratio = (getattr(beam, axis) / getattr(reference, axis)).decompose().value
            if abs(ratio - 1) > rtol:
                raise InputError(
                    f"restoring beam {beam!r} differs from {reference!r} of {images[0]}; "
                    "convolve the images to a common resolution first (flint.convolve)",
                    image,
                )
    return reference


def _covered_window(
    wcs_in: WCS, shape_in: tuple[int, int], wcs_out: WCS, shape_out: tuple[int, int]
) -> tuple[slice, slice] | None:
    """The output rows and columns an input image's edges enclose (None if outside)."""
    ny, nx = shape_in
    steps_x, steps_y = np.linspace(-0.5, nx - 0.5, 32), np.linspace(-0.5, ny - 0.5, 32)
    x = np.concatenate([steps_x, steps_x, np.full(32, -0.5), np.full(32, nx - 0.5)])
    y = np.concatenate([np.full(32, -0.5), np.full(32, ny - 0.5), steps_y, steps_y])
    x_out, y_out = pixel_to_pixel(wcs_in, wcs_out, x, y)
    if not np.all(np.isfinite(x_out) & np.isfinite(y_out)):
        return slice(0, shape_out[0]), slice(0, shape_out[1])
    rows = max(0, int(np.floor(y_out.min()))), min(shape_out[0], int(np.ceil(y_out.max())) + 1)
    cols = max(0, int(np.floor(x_out.min()))), min(shape_out[1], int(np.ceil(x_out.max())) + 1)
    if rows[1] <= rows[0] or cols[1] <= cols[0]:
        return None
    return slice(*rows), slice(*cols)


def _input_pixels(
    wcs_in: WCS, shape_in: tuple[int, ...], wcs_out: WCS, shape_out: tuple[int, int]
) -> np.ndarray:
    """[2, ny, nx] input (row, column) of every output pixel; NaN outside the input image."""
    rows, cols = np.indices(shape_out, dtype=float)
    x_in, y_in = pixel_to_pixel(wcs_out, wcs_in, cols, rows)
    coords = np.array([y_in, x_in])
    for axis, size in enumerate(shape_in[:2]):
        outside = ~(np.abs(coords[axis] - (size - 1) / 2) <= size / 2)  # also NaN
        coords[:, outside] = np.nan
    return coords


def _interpolate(data: np.ndarray, coords: np.ndarray, order: int) -> np.ndarray:
    """Spline interpolation of ``data`` at ``coords``, 0 where they are NaN (outside).

    As reproject: the outer half of the border pixels takes the border pixel's value.
    """
    inside = np.isfinite(coords[0])
    clipped = np.stack(
        [np.clip(coords[axis][inside], 0, data.shape[axis] - 1) for axis in range(2)]
    )
    values = np.zeros(coords.shape[1:])
    values[inside] = map_coordinates(data.astype(float), clipped, order=order, mode="nearest")
    return values


def accumulate_beam(
    numerator: np.ndarray,
    weight: np.ndarray,
    wcs_out: WCS,
    data: np.ndarray,
    wcs_in: WCS,
    noise: np.ndarray | float,
    centre_deg: tuple[float, float],
    frequency: float,
    options: MosaicOptions,
    bandwidth: float = 0.0,
) -> None:
    """Add one beam image's ``P I / σ²`` to ``numerator`` and ``P² / σ²`` to ``weight`` in place.

    ``P`` is the primary beam averaged over the image's band (``bandwidth`` Hz around
    ``frequency``) for a spectral index of ``options.pb_spectral_index``.
    """
    window = _covered_window(wcs_in, data.shape, wcs_out, weight.shape)
    if window is None:
        logger.warning("A beam image does not overlap the mosaic grid; skipping it")
        return
    wcs_cut = wcs_out[window]
    shape_cut = weight[window].shape
    sigma = np.broadcast_to(np.asarray(noise, dtype=float), data.shape)
    valid = np.isfinite(data) & np.isfinite(sigma) & (sigma > 0)
    coords = _input_pixels(wcs_in, data.shape, wcs_cut, shape_cut)
    order = _SPLINE_ORDER[options.interpolation]
    image = _interpolate(np.where(valid, data, 0.0), coords, order)
    inside = _interpolate(valid.astype(float), coords, order=1)
    if np.ndim(noise) == 0:
        sigma_out = np.full(shape_cut, float(noise))
    else:
        fill = np.nanmedian(sigma[valid])
        sigma_out = _interpolate(np.where(valid, sigma, fill), coords, order=1)
    pb = band_primary_beam(
        offsets_rad(wcs_cut, shape_cut, centre_deg),
        frequency,
        bandwidth,
        options.pb_spectral_index,
        model=options.pb_model,
        dish_diameter_m=options.dish_diameter_m,
    )
    use = (np.nan_to_num(inside) >= _FULLY_VALID) & (pb >= options.pb_cutoff)
    use &= np.isfinite(image) & np.isfinite(sigma_out) & (sigma_out > 0)
    inverse_variance = np.where(use, 1.0 / np.where(use, sigma_out, 1.0) ** 2, 0.0)
    numerator[window] += np.where(use, pb * image, 0.0) * inverse_variance
    weight[window] += pb**2 * inverse_variance


def _trim(mosaic: np.ndarray, weight: np.ndarray, wcs: WCS) -> tuple[np.ndarray, np.ndarray, WCS]:
    rows = np.flatnonzero(weight.any(axis=1))
    cols = np.flatnonzero(weight.any(axis=0))
    if rows.size == 0:
        raise InputError("no pixel of any image is above the primary-beam cutoff")
    window = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    return mosaic[window], weight[window], wcs[window]


def mosaic_images(
    images: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    noise: Sequence[Noise | None] | None = None,
    centres_deg: Sequence[tuple[float, float]] | None = None,
    options: MosaicOptions | None = None,
) -> MosaicResult:
    """Co-add beam images into ``output`` and its weight image ``*.weight.fits``.

    ``noise`` gives each image's σ: a number (Jy/beam) or an rms map on the
    image's grid (BANE's ``_rms.fits``); None estimates a robust σ from the image.
    ``centres_deg`` are the beam pointings (RA, Dec); by default each image's
    CRVAL. The images should share one restoring beam (see flint.convolve) and
    must not be primary-beam corrected.
    """
    options = options or MosaicOptions()
    images = [Path(image) for image in images]
    output = Path(output)
    weight_path = weight_name(output)
    if not images:
        raise InputError("no images given to mosaic", output)
    for name, given in (("noise", noise), ("centres_deg", centres_deg)):
        if given is not None and len(given) != len(images):
            raise InputError(f"{len(given)} {name} entries given for {len(images)} images", output)
    noise_list = list(noise) if noise is not None else [None] * len(images)
    noise_files = [n if isinstance(n, str | os.PathLike) else None for n in noise_list]
    noise_values = [None if isinstance(n, str | os.PathLike) else n for n in noise_list]
    recipe = Recipe.of(
        "mosaic",
        {"images": images, "noise": noise_files},
        {"noise": noise_values, "centres_deg": centres_deg, "options": options},
    )
    if recipe.made(output, weight_path):
        logger.info("Reusing mosaic %s and weights %s", output, weight_path)
        return MosaicResult(output, weight_path, images, skipped=True)

    planes = [read_plane(image) for image in images]
    headers = [header for _, _, header in planes]
    beam = _common_beam(headers, images, options.beam_rtol)
    wcs_out, shape_out = find_optimal_celestial_wcs(
        [(data, wcs) for data, wcs, _ in planes], projection="SIN"
    )
    numerator = np.zeros(shape_out)
    weight = np.zeros(shape_out)
    for index, (image, (data, wcs, header)) in enumerate(zip(images, planes, strict=True)):
        sigma = _noise_plane(None if noise is None else noise[index], data, image)
        centre = pointing_deg(header) if centres_deg is None else tuple(centres_deg[index])
        frequency = frequency_hz(header, image)
        accumulate_beam(
            numerator, weight, wcs_out, data, wcs, sigma, centre, frequency, options,
            bandwidth=bandwidth_hz(header),
        )  # fmt: skip

    with np.errstate(invalid="ignore", divide="ignore"):
        mosaic = np.where(weight > 0, numerator / weight, np.nan)
    if options.trim:
        mosaic, weight, wcs_out = _trim(mosaic, weight, wcs_out)

    header = wcs_out.to_header()
    header["BUNIT"] = headers[0].get("BUNIT", "Jy/beam")
    header["RESTFRQ"] = frequency_hz(headers[0], images[0])
    header[BANDWIDTH_KEY] = (bandwidth_hz(headers[0]), "[Hz] band of the input images")
    if beam is not None:
        header = beam.attach_to_header(header)
    header["HISTORY"] = (
        f"flint linear mosaic of {len(images)} images, PB cutoff {options.pb_cutoff}"
    )
    weight_header = wcs_out.to_header()
    weight_header["BUNIT"] = "beam2/Jy2"
    weight_header["COMMENT"] = "sum of PB^2/sigma^2; expected mosaic rms is 1/sqrt(weight)"
    with atomic_path(weight_path, overwrite=True) as temporary:
        fits.PrimaryHDU(weight.astype(np.float32), weight_header).writeto(temporary)
    with atomic_path(output, overwrite=True) as temporary:
        fits.PrimaryHDU(mosaic.astype(np.float32), header).writeto(temporary)
    recipe.record(output, weight_path)
    logger.info(
        "Mosaic of %d images -> %s (%d x %d px, beam %s)",
        len(images),
        output,
        *mosaic.shape[::-1],
        "none" if beam is None else f"{beam.major.to_value(u.arcsec):.1f} arcsec",
    )
    return MosaicResult(output, weight_path, images, skipped=False)
