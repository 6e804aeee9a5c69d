"""Model everything outside the round's image in one wide image, and subtract that model.

A realistic sky puts hundreds of sources in the primary beam beyond the image (its main
lobe's skirt and first sidelobe), each only a few mJy apparent: together their sidelobes
cross the image, yet too many are too faint to peel one by one. The wide model images
the beam over ``wide_model_width_deg`` at the round's weighting and taper (pixels of half
the taper), with each of a few sub-bands modelled on its own (a source in a sidelobe
changes its apparent flux several times across the band), cleans it, blanks the model inside the
round's own image (the round models that part), and predicts the rest (wsclean
``-predict``) into MODEL_DATA, from where :func:`flint.peel.subtract_outliers` moves it
to ``OUTLIER_DATA`` and out of ``PEELED_DATA``.

The model's pixels must sample the round's resolution (the taper): baselines the taper
weights down are not modelled well, and the round's image weights them down the same.
Realistic sky, the demo strategy with it in its final round (docs/configuration.md): the
final residual of three beams fell from 1.40 / 1.26 / 1.31 to 1.16 / 1.10 / 1.14 times the
thermal limit.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
from astropy.io import fits

from flint.atomic import atomic_path
from flint.imaging.command import expected_products
from flint.imaging.options import WSCleanOptions, angle_deg, image_width_deg
from flint.imaging.run import predict_model_column, run_wsclean
from flint.ms import add_column, open_ms
from flint.peel.options import PeelOptions

logger = logging.getLogger(__name__)


def wide_model_options(
    image: WSCleanOptions, options: PeelOptions, data_column: str, n_channels: int
) -> WSCleanOptions:
    """The wide model's wsclean settings: the round's weighting and taper, coarser pixels
    over a larger field, ``wide_model_channels_out`` sub-bands (at most one per channel of
    the data's ``n_channels``), each modelled on its own."""
    channels = min(options.wide_model_channels_out, n_channels)
    scale = wide_model_scale(image, options)
    size = 2 * math.ceil(options.wide_model_width_deg / angle_deg(scale) / 2)
    return image.with_options(
        size=size,
        scale=scale,
        data_column=data_column,
        channels_out=channels,
        join_channels=channels > 1,
        fit_spectral_pol=None,
        deconvolution_channels=None,
        niter=options.wide_model_niter,
        nmiter=10,
        mgain=0.8,
        auto_mask=options.wide_model_auto_mask,
        auto_threshold=options.wide_model_auto_threshold,
        local_rms=False,
        multiscale=False,
        multiscale_scales=None,
        fits_mask=None,
        shift=None,
        minuv_l=None,
        maxuv_l=None,
        no_update_model_required=True,
        no_dirty=True,
        save_source_list=False,
    )


def wide_model_scale(image: WSCleanOptions, options: PeelOptions) -> str:
    """The wide model's pixel size: as set, or half the round's taper (in arcsec)."""
    if options.wide_model_scale is not None:
        return options.wide_model_scale
    if image.taper_gaussian is None:
        raise ValueError("the wide outside model needs a tapered round (taper_gaussian)")
    return f"{angle_deg(image.taper_gaussian) * 3600 / 2:g}asec"


def check_wide_model(image: WSCleanOptions, options: PeelOptions) -> None:
    """ValueError unless the wide model covers more than the round's image and samples
    its resolution (a taper, with pixels at most half its FWHM)."""
    if image.taper_gaussian is None:
        raise ValueError(
            "the wide outside model needs a tapered round (taper_gaussian): its coarse "
            "pixels cannot model the untapered resolution"
        )
    scale = wide_model_scale(image, options)
    if angle_deg(scale) > angle_deg(image.taper_gaussian) / 2 * (1 + 1e-9):
        raise ValueError(
            f"wide_model_scale {scale} is coarser than half the round's taper "
            f"{image.taper_gaussian}"
        )
    if options.wide_model_width_deg <= image_width_deg(image):
        raise ValueError(
            f"the wide model ({options.wide_model_width_deg:g} deg) must be wider than the "
            f"round's image ({image_width_deg(image):.2f} deg)"
        )


def blank_inside(models: list[Path], prefix: Path, half_width_deg: float) -> int:
    """Write each of ``models`` (``<run>-NNNN-model.fits``) as ``<prefix>-NNNN-model.fits``
    with the square SIN image of half-width ``half_width_deg`` on the same phase centre
    zeroed; the number of model pixels left in the first."""
    half = math.sin(math.radians(half_width_deg))
    left, inside = 0, None
    for index, path in enumerate(models):
        with fits.open(path) as hdul:
            header, data = hdul[0].header, hdul[0].data.copy()
        if inside is None:  # one wsclean run: every sub-band's model is on the same grid
            rows, columns = np.indices(data.shape[-2:])
            east = (columns - (header["CRPIX1"] - 1)) * math.radians(abs(header["CDELT1"]))
            north = (rows - (header["CRPIX2"] - 1)) * math.radians(abs(header["CDELT2"]))
            inside = (np.abs(east) < half) & (np.abs(north) < half)
        data[..., inside] = 0.0
        with atomic_path(prefix.with_name(f"{prefix.name}-{index:04d}-model.fits"), True) as out:
            fits.PrimaryHDU(data, header).writeto(out)
        if index == 0:
            left = int(np.count_nonzero(data))
    return left


def model_outside(
    ms: Path, image: WSCleanOptions, options: PeelOptions, data_column: str, work_dir: Path
) -> int:
    """Clean the wide image of ``data_column``, blank the round's image in its model
    (``<ms stem>.outside-blanked-NNNN-model.fits`` in ``work_dir``) and predict the rest
    into MODEL_DATA of ``ms``; the number of model pixels outside."""
    check_wide_model(image, options)
    with open_ms(ms, "SPECTRAL_WINDOW") as tab:
        n_channels = int(tab.getcell("NUM_CHAN", 0))
    settings = wide_model_options(image, options, data_column, n_channels)
    products = run_wsclean(
        ms, settings, work_dir, f"{ms.stem}.outside", skip_existing=False, channel_kinds=("model",)
    )
    models = [
        path
        for key, path in expected_products(products.prefix, products.options, ("model",)).items()
        if key.endswith("model") and not key.startswith("MFS")
    ]
    outside = products.prefix.with_name(products.prefix.name + "-blanked")
    components = blank_inside(models, outside, image_width_deg(image) / 2)
    add_column(ms, "MODEL_DATA", like=data_column, fill=None, exist_ok=True)
    predict_model_column(ms, outside, products.options, amend_column=False)
    logger.info(
        "%s: modelled the sky outside the image in %d pixels of a %g deg image",
        ms.name,
        components,
        options.wide_model_width_deg,
    )
    return components
