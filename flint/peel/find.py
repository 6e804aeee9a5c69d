"""Find the sources to peel: islands of an image above a threshold.

Outside sources: a wide, low-resolution image of the beam (wsclean, cleaned so the
image's own bright sources leave no sidelobes) covers the primary beam's main lobe beyond
the image and its first sidelobes; islands brighter than ``detect_snr`` times its robust
rms and ``min_flux_jy`` whose peak lies outside the (square, SIN) image of the round are
the sources to subtract. Bright sources: islands of the round's own image above
``bright_min_jy``.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from flint.atomic import atomic_path
from flint.identity import Recipe
from flint.imaging.options import WSCleanOptions, image_width_deg
from flint.imaging.run import run_wsclean
from flint.mosaic.headers import read_plane
from flint.ms import open_ms
from flint.peel.options import PeelOptions
from flint.validation.metrics import robust_scatter

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outlier:
    """A source to peel: where an image found it, how bright, how large its island."""

    ra_deg: float
    dec_deg: float
    peak_jy: float
    """Apparent peak in the image that found it [Jy/beam]."""
    snr: float
    radius_arcsec: float
    """Radius of a disc of its island's area."""


def phase_centre_deg(ms: str | os.PathLike[str]) -> tuple[float, float]:
    """RA, Dec of the phase centre of the first field of ``ms``."""
    with open_ms(ms, "FIELD") as tab:
        ra, dec = tab.getcol("PHASE_DIR")[0, 0]
    return math.degrees(ra) % 360.0, math.degrees(dec)


def wide_options(image: WSCleanOptions, options: PeelOptions, data_column: str) -> WSCleanOptions:
    """The wide image's wsclean settings: the round's weighting, low resolution, a shallow clean."""
    return image.with_options(
        size=options.wide_size,
        scale=options.wide_scale,
        taper_gaussian=options.wide_taper,
        data_column=data_column,
        channels_out=2,
        join_channels=True,
        fit_spectral_pol=None,
        deconvolution_channels=None,
        niter=20000,
        nmiter=5,
        mgain=0.8,
        auto_threshold=3.0,
        auto_mask=6.0,
        local_rms=False,
        multiscale=False,
        fits_mask=None,
        no_update_model_required=True,
        no_dirty=True,
        save_source_list=False,
        minuv_l=None,
        maxuv_l=None,
    )


def outside_image(
    ra_deg: np.ndarray, dec_deg: np.ndarray, centre_deg: tuple[float, float], half_width_deg: float
) -> np.ndarray:
    """True for directions outside the square SIN image of half-width ``half_width_deg``."""
    from flint.sky.realistic import lm_offsets

    east, north = lm_offsets(ra_deg, dec_deg, *centre_deg)
    half = math.sin(math.radians(half_width_deg))
    return (np.abs(east) > half) | (np.abs(north) > half)


def detect_islands(
    image: str | os.PathLike[str], threshold_jy: float, snr: float = 0.0
) -> list[Outlier]:
    """Islands of ``image`` whose peak is above ``threshold_jy`` and ``snr`` rms, brightest first.

    An island is the connected region above half the threshold around its peak.
    """
    data, wcs, header = read_plane(image)
    rms = robust_scatter(data)
    threshold = max(snr * rms, threshold_jy)
    islands, _ = ndimage.label(np.nan_to_num(data) > 0.5 * threshold)
    pixel_arcsec = abs(float(header["CDELT2"])) * 3600.0
    found = []
    for index, where in enumerate(ndimage.find_objects(islands), start=1):
        mask = islands[where] == index
        values = np.where(mask, data[where], -np.inf)
        peak = float(values.max())
        if peak < threshold:
            continue
        row, column = np.unravel_index(int(np.argmax(values)), values.shape)
        position = wcs.pixel_to_world(column + where[1].start, row + where[0].start)
        found.append(
            Outlier(
                ra_deg=float(position.ra.deg),
                dec_deg=float(position.dec.deg),
                peak_jy=peak,
                snr=peak / rms,
                radius_arcsec=float(math.sqrt(mask.sum() / math.pi) * pixel_arcsec),
            )
        )
    return sorted(found, key=lambda item: -item.peak_jy)


def detect_outliers(
    image: str | os.PathLike[str],
    centre_deg: tuple[float, float],
    half_width_deg: float,
    options: PeelOptions,
) -> list[Outlier]:
    """Islands of the wide ``image`` to peel (module docstring), brightest first."""
    found = detect_islands(image, options.min_flux_jy, options.detect_snr)
    if not found:
        return []
    ra = np.array([item.ra_deg for item in found])
    dec = np.array([item.dec_deg for item in found])
    outside = outside_image(ra, dec, centre_deg, half_width_deg)
    chosen = [item for item, out in zip(found, outside, strict=True) if out]
    return chosen[: options.max_sources]


def bright_sources(image: str | os.PathLike[str], options: PeelOptions) -> list[Outlier]:
    """The brightest islands of a round's restored ``image`` to refine (at most the maximum)."""
    return detect_islands(image, options.bright_min_jy)[: options.bright_max_sources]


def find_outliers(
    ms: str | os.PathLike[str],
    image: WSCleanOptions,
    options: PeelOptions,
    data_column: str,
    output: str | os.PathLike[str],
) -> list[Outlier]:
    """Find the sources to peel around ``ms``'s image (made with ``image``); write them as JSON.

    A rerun with the same inputs and options reads ``output`` back.
    """
    ms, output = Path(ms), Path(output)
    recipe = Recipe.of(
        "outliers",
        {"ms": ms},
        {"image": image, "options": options, "data_column": data_column},
        tools=("wsclean",),
        ignore=("MODEL_DATA",),
    )
    if recipe.made(output):
        return read_outliers(output)
    wide = run_wsclean(
        ms,
        wide_options(image, options, data_column),
        output.parent,
        f"{output.name.removesuffix('.json')}.wide",
        skip_existing=False,
        channel_kinds=(),
    )
    centre = phase_centre_deg(ms)
    outliers = detect_outliers(wide.image, centre, image_width_deg(image) / 2, options)
    with atomic_path(output, overwrite=True) as temporary:
        temporary.write_text(json.dumps([asdict(item) for item in outliers], indent=1))
    recipe.record(output)
    logger.info(
        "%s: %d bright source(s) outside the image to peel: %s",
        ms.name,
        len(outliers),
        ", ".join(f"{item.peak_jy * 1e3:.0f} mJy" for item in outliers) or "none",
    )
    return outliers


def read_outliers(path: str | os.PathLike[str]) -> list[Outlier]:
    """The sources :func:`find_outliers` wrote to ``path``."""
    return [Outlier(**item) for item in json.loads(Path(path).read_text())]
