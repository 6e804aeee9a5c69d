"""Clean masks: flood-fill a signal-to-noise map from high-SNR seeds down to a floor."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
from astropy.io import fits
from scipy import ndimage

from flint.atomic import atomic_path
from flint.errors import InputError
from flint.identity import Recipe
from flint.masking.bane import BackgroundMaps, run_bane
from flint.masking.options import MaskingOptions

logger = logging.getLogger(__name__)


def signal_to_noise(image: np.ndarray, background: np.ndarray, rms: np.ndarray) -> np.ndarray:
    """``(image - background) / rms``; pixels without a usable rms are 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = (image - background) / rms
    return np.where(np.isfinite(snr) & (rms > 0), snr, 0.0)


def flood_fill_mask(
    snr: np.ndarray,
    seed_snr: float,
    floor_snr: float,
    grow_pixels: int = 0,
    min_island_pixels: int = 1,
) -> np.ndarray:
    """Boolean mask of the islands above ``floor_snr`` that hold a pixel above ``seed_snr``.

    Works on the last two axes of ``snr`` (each plane on its own). Islands are
    8-connected; with ``grow_pixels`` each kept island is dilated by that many pixels.
    """
    if floor_snr > seed_snr:
        raise InputError(f"floor_snr {floor_snr} exceeds seed_snr {seed_snr}")
    planes = snr.reshape(-1, *snr.shape[-2:])
    mask = np.zeros(planes.shape, dtype=bool)
    connectivity = np.ones((3, 3), dtype=bool)
    for index, plane in enumerate(planes):
        labels, count = ndimage.label(plane > floor_snr, structure=connectivity)
        if count == 0:
            continue
        ids = np.arange(1, count + 1)
        peaks = ndimage.maximum(plane, labels, ids)
        sizes = ndimage.sum_labels(np.ones_like(plane), labels, ids)
        keep = np.zeros(count + 1, dtype=bool)
        keep[1:] = (np.asarray(peaks) > seed_snr) & (np.asarray(sizes) >= min_island_pixels)
        plane_mask = keep[labels]
        if grow_pixels:
            plane_mask = ndimage.binary_dilation(
                plane_mask, structure=connectivity, iterations=grow_pixels
            )
        mask[index] = plane_mask
    return mask.reshape(snr.shape)


def _read(path: Path) -> tuple[np.ndarray, fits.Header]:
    with fits.open(path, memmap=False) as hdus:
        return np.asarray(hdus[0].data, dtype=np.float64), hdus[0].header.copy()


def write_mask(mask: np.ndarray, header: fits.Header, output: str | os.PathLike[str]) -> Path:
    """Write ``mask`` (1 inside, 0 outside) as a FITS file with ``header``, atomically."""
    output = Path(output)
    with atomic_path(output, overwrite=True) as temporary:
        hdu = fits.PrimaryHDU(data=mask.astype(np.uint8), header=header)
        hdu.header["HISTORY"] = "flint clean mask: 1 = clean here"
        hdu.writeto(temporary)
    return output


def make_clean_mask(
    image: str | os.PathLike[str],
    output: str | os.PathLike[str],
    options: MaskingOptions | None = None,
    *,
    maps: BackgroundMaps | None = None,
    skip_existing: bool = True,
) -> Path:
    """Write a wsclean ``-fits-mask`` for ``image`` to ``output``; return its path.

    Background and rms come from BANE (run with a timeout unless ``maps`` are
    given); the mask is :func:`flood_fill_mask` of the signal-to-noise map, on the
    image's own pixel grid and header.
    """
    options = options or MaskingOptions()
    image, output = Path(image), Path(output)
    inputs = {"image": image}
    if maps is not None:
        inputs.update(background=maps.background, rms=maps.rms)
    recipe = Recipe.of("mask", inputs, options.model_dump(mode="json", exclude={"bane_timeout_s"}))
    if skip_existing and recipe.made(output):
        logger.info("Reusing clean mask %s", output)
        return output
    if maps is None:
        maps = run_bane(image, options, output.with_name(f"{output.stem}.bane"))
    data, header = _read(image)
    background, _ = _read(maps.background)
    rms, _ = _read(maps.rms)
    if data.size != data.shape[-1] * data.shape[-2]:
        raise InputError(f"image has {data.shape} pixels: masks need a single plane", image)
    if background.shape[-2:] != data.shape[-2:] or rms.shape[-2:] != data.shape[-2:]:
        raise InputError(f"BANE maps {rms.shape} do not match the image {data.shape}", image)
    background, rms = background.reshape(data.shape), rms.reshape(data.shape)
    mask = flood_fill_mask(
        signal_to_noise(data, background, rms),
        options.seed_snr,
        options.floor_snr,
        options.grow_pixels,
        options.min_island_pixels,
    )
    logger.info("Clean mask %s covers %.3f %% of the image", output, 100 * mask.mean())
    written = write_mask(mask, header, output)
    recipe.record(written)
    return written
