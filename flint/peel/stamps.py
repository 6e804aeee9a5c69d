"""Model sources in small images of their own and move them between visibility columns.

Each source (brightest first) is cleaned by wsclean in a small image centred on it
(``-shift``), only within its island grown by ``stamp_mask_margin_arcsec`` (a FITS mask),
with a sub-band per channel: outside sources at the round's own resolution, bright sources
at the array's full resolution. The image starts
from ``PEEL_RESIDUAL``: the data less the model of everything else known (the field, the
sources already done), so the rest of the sky does not fill it with sidelobes. The
source's model, predicted into MODEL_DATA, is then added to or taken from the columns:

- :func:`subtract_outliers` (before a round's image): sources outside the image go into
  ``OUTLIER_DATA`` and out of ``PEELED_DATA``, which the round images;
- :func:`refine_bright` (after a round's image): ``FIELD_MODEL`` is the image's model
  plus each bright source's full-resolution correction (the residual structure the tapered
  image could not represent): the model the next self-calibration solves against.

MODEL_DATA is left holding the last source's model.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS

from flint.atomic import atomic_path
from flint.identity import Recipe, amend, identity, read_sidecar
from flint.imaging.options import WSCleanOptions, angle_deg, shift_for
from flint.imaging.run import run_wsclean
from flint.ms import add_column, open_ms
from flint.peel.find import Outlier, bright_sources, phase_centre_deg
from flint.peel.options import PeelOptions
from flint.peel.wide import model_outside
from flint.sky.realistic import lm_offsets

logger = logging.getLogger(__name__)

PEELED_COLUMN = "PEELED_DATA"
"""The data with the bright outside sources subtracted: what the round images."""
OUTLIER_COLUMN = "OUTLIER_DATA"
"""Their summed model visibilities: self-calibration adds it to the image's model."""
FIELD_COLUMN = "FIELD_MODEL"
"""The image's model with its bright sources refined at full resolution."""
RESIDUAL_COLUMN = "PEEL_RESIDUAL"
"""What each source's image starts from: the data less every other model."""
_ROWS = 100_000


@dataclass(frozen=True)
class PeelResult:
    """What a peeling step did."""

    ms: Path
    n_sources: int
    column: str
    """The column it wrote for the next step: ``PEELED_DATA`` or ``FIELD_MODEL``."""
    skipped: bool = False


def stamp_options(
    image: WSCleanOptions,
    options: PeelOptions,
    source: Outlier,
    n_channels: int,
    mask: Path,
    full_resolution: bool,
) -> WSCleanOptions:
    """wsclean settings of one source's own image: the round's weighting; its resolution,
    or the full resolution (``bright_stamp_*``)."""
    channels = min(options.stamp_channels_out or n_channels, n_channels)
    if full_resolution:
        grid = dict(
            size=options.bright_stamp_size,
            scale=options.bright_stamp_scale,
            taper_gaussian=options.bright_stamp_taper,
        )
    else:
        grid = dict(size=options.outside_stamp_size)
    return image.with_options(
        **grid,
        shift=shift_for(source.ra_deg, source.dec_deg),
        data_column=RESIDUAL_COLUMN,
        channels_out=channels,
        join_channels=channels > 1,
        fit_spectral_pol=None,
        deconvolution_channels=None,
        niter=options.stamp_niter,
        nmiter=8,
        mgain=0.8,
        auto_threshold=options.stamp_auto_threshold,
        auto_mask=3.0,
        local_rms=False,
        multiscale=options.stamp_multiscale,
        multiscale_scales=(0, 4, 8, 16, 32) if options.stamp_multiscale else None,
        fits_mask=mask,
        minuv_l=None,
        maxuv_l=None,
        no_update_model_required=False,
        no_dirty=True,
        save_source_list=False,
    )


def write_stamp_mask(
    path: Path,
    centre_deg: tuple[float, float],
    size: int,
    scale_deg: float,
    source: Outlier,
    radius_arcsec: float,
) -> Path:
    """A clean mask on the grid wsclean uses for an image shifted onto ``source``.

    wsclean keeps the phase centre as the reference and moves the reference pixel: the
    image centre (pixel size/2, 0-based) lies at the shift's (l, m).
    """
    east, north = (float(v) for v in lm_offsets(source.ra_deg, source.dec_deg, *centre_deg))
    pixel = math.radians(scale_deg)
    header = fits.Header()
    header.update(
        NAXIS=2,
        NAXIS1=size,
        NAXIS2=size,
        CTYPE1="RA---SIN",
        CTYPE2="DEC--SIN",
        CRVAL1=centre_deg[0],
        CRVAL2=centre_deg[1],
        CDELT1=-scale_deg,
        CDELT2=scale_deg,
        CRPIX1=size / 2 + 1 + east / pixel,
        CRPIX2=size / 2 + 1 - north / pixel,
        CUNIT1="deg",
        CUNIT2="deg",
    )
    rows, columns = np.indices((size, size))
    pixels = WCS(header).pixel_to_world(columns.ravel(), rows.ravel())
    target = SkyCoord(source.ra_deg * u.deg, source.dec_deg * u.deg)
    inside = pixels.separation(target).arcsec.reshape(size, size) <= radius_arcsec
    with atomic_path(path, overwrite=True) as temporary:
        fits.PrimaryHDU(inside.astype(np.float32), header).writeto(temporary)
    return path


Terms = list[tuple[float, str]]


def _columns_update(ms: Path, targets: dict[str, tuple[str | None, Terms]]) -> None:
    """Set each target column to a base column (None: itself) plus signed other columns."""
    needed = {base if base is not None else target for target, (base, _) in targets.items()}
    needed |= {name for _, terms in targets.values() for _, name in terms}
    with open_ms(ms, readonly=False) as tab:
        for start in range(0, tab.nrows(), _ROWS):
            rows = min(_ROWS, tab.nrows() - start)
            read = {name: tab.getcol(name, startrow=start, nrow=rows) for name in needed}
            for target, (base, terms) in targets.items():
                values = np.array(read[base if base is not None else target])
                for sign, name in terms:
                    values += sign * read[name]
                tab.putcol(target, values, startrow=start, nrow=rows)


def _model_sources(
    ms: Path,
    sources: list[Outlier],
    image: WSCleanOptions,
    options: PeelOptions,
    work_dir: Path,
    prefix: str,
    updates: dict[str, float],
    full_resolution: bool,
) -> None:
    """Clean each source on ``PEEL_RESIDUAL``; add its model to ``updates`` (column: sign)."""
    with open_ms(ms, "SPECTRAL_WINDOW") as tab:
        n_channels = int(tab.getcell("NUM_CHAN", 0))
    centre = phase_centre_deg(ms)
    for index, source in enumerate(sources):
        name = f"{ms.stem}.{prefix}{index}"
        radius = source.radius_arcsec + options.stamp_mask_margin_arcsec
        settings = stamp_options(image, options, source, n_channels, Path(), full_resolution)
        mask = write_stamp_mask(
            work_dir / f"{name}.mask.fits",
            centre,
            settings.size,
            angle_deg(settings.scale),
            source,
            radius,
        )
        run_wsclean(
            ms,
            settings.with_options(fits_mask=mask),
            work_dir,
            name,
            skip_existing=False,
            channel_kinds=(),
        )
        changes = {column: (None, [(sign, "MODEL_DATA")]) for column, sign in updates.items()}
        _columns_update(ms, {**changes, RESIDUAL_COLUMN: (None, [(-1.0, "MODEL_DATA")])})
        logger.info(
            "%s: modelled the %.0f mJy source at (%.3f, %.3f)",
            ms.name,
            source.peak_jy * 1e3,
            source.ra_deg,
            source.dec_deg,
        )


_WRITTEN = ("MODEL_DATA", "PEELED_DATA", "OUTLIER_DATA", "FIELD_MODEL", "PEEL_RESIDUAL")
"""Columns a peeling step writes into its measurement set (left out of its identity)."""


def _recipe(step: str, ms: Path, options: dict) -> tuple[Recipe, tuple[dict | None, str]]:
    """The step's recipe (the MS less the columns peeling writes) and the MS's sidecar and
    identity before it writes them."""
    recipe = Recipe.of(step, {"ms": ms}, options, tools=("wsclean",), ignore=_WRITTEN)
    return recipe, (read_sidecar(ms), identity(ms, ignore=_WRITTEN))


def _finish(
    marker: Path, ms: Path, recipe: Recipe, before: tuple[dict | None, str], count: int
) -> None:
    """Record the columns written into ``ms`` (its identity follows them), then the marker."""
    record, base = before
    for column in _WRITTEN:
        amend(ms, column, recipe.key, record, base)
        record = read_sidecar(ms)
    marker.write_text(f"{count} source(s)\n")
    recipe.record(marker)


def subtract_outliers(
    ms: str | os.PathLike[str],
    outliers: list[Outlier],
    image: WSCleanOptions,
    options: PeelOptions,
    data_column: str,
    work_dir: str | os.PathLike[str],
    field_model_column: str | None = "MODEL_DATA",
) -> PeelResult:
    """Subtract ``outliers`` from ``data_column`` of ``ms`` into ``PEELED_DATA`` (module doc).

    ``field_model_column`` holds the previous round's model of the field (None, or absent
    from the MS: the sources' images see the field's sidelobes). ``image`` is the round's
    imaging (its weighting is used). A rerun with the same inputs and options does nothing.
    """
    ms, work_dir = Path(ms), Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    marker = work_dir / f"{ms.stem}.peeled"
    recipe, before = _recipe(
        "peel",
        ms,
        {
            "outliers": [vars(item) for item in outliers],
            "image": image,
            "options": options,
            "data_column": data_column,
            "field_model_column": field_model_column,
        },
    )
    if recipe.made(marker):
        logger.info("%s: outside sources already subtracted; skipping", ms.name)
        return PeelResult(ms, len(outliers), PEELED_COLUMN, skipped=True)
    with open_ms(ms) as tab:
        has_model = field_model_column is not None and field_model_column in tab.colnames()
    if field_model_column is not None and not has_model:
        logger.warning(
            "%s has no %s: outside sources imaged with the field", ms, field_model_column
        )
    for column in (PEELED_COLUMN, OUTLIER_COLUMN, RESIDUAL_COLUMN):
        add_column(ms, column, like=data_column, fill=None, exist_ok=True)
    field = [(-1.0, field_model_column)] if has_model else []
    _columns_update(
        ms,
        {
            PEELED_COLUMN: (data_column, []),
            OUTLIER_COLUMN: (data_column, [(-1.0, data_column)]),  # zeros
            RESIDUAL_COLUMN: (data_column, field),
        },
    )
    moved = {OUTLIER_COLUMN: 1.0, PEELED_COLUMN: -1.0}  # the model: into one, out of the other
    if options.outside_model == "wide":
        count = model_outside(ms, image, options, RESIDUAL_COLUMN, work_dir)
        _columns_update(
            ms, {column: (None, [(sign, "MODEL_DATA")]) for column, sign in moved.items()}
        )
    else:
        count = len(outliers)
        _model_sources(ms, outliers, image, options, work_dir, "peel", moved, full_resolution=False)
    _finish(marker, ms, recipe, before, count)
    return PeelResult(ms, count, PEELED_COLUMN)


def refine_bright(
    ms: str | os.PathLike[str],
    restored_image: str | os.PathLike[str],
    image: WSCleanOptions,
    options: PeelOptions,
    work_dir: str | os.PathLike[str],
) -> PeelResult:
    """``FIELD_MODEL`` of ``ms``: the round's model (MODEL_DATA, just written by its image of
    ``image.data_column``) plus full-resolution corrections of the brightest sources of
    ``restored_image`` (module doc). A rerun with the same inputs and options does nothing.
    """
    ms, work_dir = Path(ms), Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    marker = work_dir / f"{ms.stem}.refined"
    sources = bright_sources(restored_image, options)
    recipe, before = _recipe(
        "refine",
        ms,
        {"sources": [vars(item) for item in sources], "image": image, "options": options},
    )
    if recipe.made(marker):
        logger.info("%s: bright sources already refined; skipping", ms.name)
        return PeelResult(ms, len(sources), FIELD_COLUMN, skipped=True)
    for column in (FIELD_COLUMN, RESIDUAL_COLUMN):
        add_column(ms, column, like=image.data_column, fill=None, exist_ok=True)
    _columns_update(
        ms,
        {
            FIELD_COLUMN: ("MODEL_DATA", []),
            RESIDUAL_COLUMN: (image.data_column, [(-1.0, "MODEL_DATA")]),
        },
    )
    _model_sources(
        ms, sources, image, options, work_dir, "bright", {FIELD_COLUMN: 1.0}, full_resolution=True
    )
    _finish(marker, ms, recipe, before, len(sources))
    return PeelResult(ms, len(sources), FIELD_COLUMN)
