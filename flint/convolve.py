"""Convolve a set of images to their smallest common restoring beam (radio-beam + racs-tools).

The common beam is the smallest elliptical Gaussian that contains every input
beam (``radio_beam.Beams.common_beam``, rounded up by racs-tools). Each image is
convolved with the Gaussian that takes its beam to the common one, in the Fourier
domain, and scaled so the image stays in Jy/beam: a point source keeps its peak
equal to its flux and every source keeps its integrated flux.

racs-tools configures its own logger when imported, so it is imported only
inside the functions that use it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.wcs.utils import proj_plane_pixel_scales
from pydantic import PlainSerializer, PlainValidator
from radio_beam import Beam

from flint.atomic import atomic_path
from flint.errors import InputError
from flint.identity import Recipe
from flint.mosaic.headers import celestial_wcs

logger = logging.getLogger(__name__)

ConvolutionMode = Literal["robust", "scipy", "astropy", "astropy_fft"]


def beam_record(beam: Beam) -> dict[str, float]:
    """A beam as plain numbers (arcsec, arcsec, deg): for recipes and stored results."""
    return {
        "major_arcsec": float(beam.major.to_value(u.arcsec)),
        "minor_arcsec": float(beam.minor.to_value(u.arcsec)),
        "pa_deg": float(beam.pa.to_value(u.deg)),
    }


def beam_from_record(value: Beam | dict[str, float]) -> Beam:
    """The inverse of :func:`beam_record` (a Beam is returned as is)."""
    if isinstance(value, Beam):
        return value
    return Beam(
        major=value["major_arcsec"] * u.arcsec,
        minor=value["minor_arcsec"] * u.arcsec,
        pa=value["pa_deg"] * u.deg,
    )


RecordedBeam = Annotated[Beam, PlainValidator(beam_from_record), PlainSerializer(beam_record)]
"""A Beam that pydantic reads and writes as :func:`beam_record`'s numbers."""


@dataclass(frozen=True)
class CommonResolution:
    """Images convolved to one restoring beam."""

    beam: RecordedBeam
    images: list[Path]


def beam_from_header(header: fits.Header, path: str | os.PathLike[str] | None = None) -> Beam:
    """The restoring beam in a FITS header (BMAJ, BMIN, BPA); InputError if it is missing."""
    missing = [key for key in ("BMAJ", "BMIN") if key not in header]
    if missing:
        raise InputError(f"no restoring beam in the header (missing {', '.join(missing)})", path)
    return Beam.from_fits_header(header)


def conv_name(image: str | os.PathLike[str], suffix: str = "conv") -> str:
    """``beam0.image.fits`` -> ``beam0.image.conv.fits``."""
    name = Path(image).name
    stem = name[: -len(".fits")] if name.lower().endswith(".fits") else name
    return f"{stem}.{suffix}.fits"


def common_beam(
    images: Sequence[str | os.PathLike[str]], cutoff_arcsec: float | None = None
) -> Beam:
    """The smallest beam (rounded up to 0.1 arcsec) that every image's beam fits inside.

    Beams with a major axis above ``cutoff_arcsec`` are left out of the search.
    """
    from racs_tools.beamcon_2D import get_common_beam

    if not images:
        raise InputError("no images given to find a common beam for")
    for image in images:
        beam_from_header(fits.getheader(image), image)
    beam, _ = get_common_beam([Path(image) for image in images], cutoff=cutoff_arcsec)
    if not np.isfinite(beam.major.value):
        raise InputError(f"every beam is larger than the cutoff of {cutoff_arcsec} arcsec")
    logger.info("Common beam of %d images: %r", len(images), beam)
    return beam


def _same_beam(a: Beam, b: Beam, rtol: float = 1e-4) -> bool:
    return bool(
        np.isclose(a.major.to_value(u.arcsec), b.major.to_value(u.arcsec), rtol=rtol)
        and np.isclose(a.minor.to_value(u.arcsec), b.minor.to_value(u.arcsec), rtol=rtol)
        and (
            np.isclose(a.major.value, a.minor.value)
            or np.isclose((a.pa - b.pa).to_value(u.deg) % 180.0, 0.0, atol=1e-3)
            or np.isclose((a.pa - b.pa).to_value(u.deg) % 180.0, 180.0, atol=1e-3)
        )
    )


def convolve_image(
    image: str | os.PathLike[str],
    beam: Beam,
    output: str | os.PathLike[str] | None = None,
    conv_mode: ConvolutionMode = "robust",
) -> Path:
    """Convolve ``image`` to ``beam`` and write it (default ``*.conv.fits`` beside it).

    An existing output made from the same image at the same beam is kept
    (:class:`flint.identity.Recipe`); anything else is replaced. Raises InputError when
    ``beam`` is smaller than the image's beam in any direction.
    """
    from racs_tools.convolve_uv import beam_contains, smooth

    image = Path(image)
    output = image.with_name(conv_name(image)) if output is None else Path(output)
    recipe = Recipe.of(
        "convolve",
        {"image": image},
        {"beam": beam_record(beam), "conv_mode": conv_mode},
        tools=("racs-tools", "radio-beam"),
    )
    if recipe.made(output):
        logger.info("Reusing %s (already at %r)", output, beam)
        return output

    with fits.open(image) as hdul:
        header = hdul[0].header.copy()
        data = np.asarray(hdul[0].data)
    old_beam = beam_from_header(header, image)
    if not beam_contains(beam, old_beam):
        raise InputError(
            f"target beam {beam!r} is smaller than the image's beam {old_beam!r}", image
        )
    dx, dy = proj_plane_pixel_scales(celestial_wcs(header, image)) * u.deg
    plane = data.reshape(data.shape[-2:]) if data.ndim > 2 else data
    if data.ndim > 2 and plane.size != data.size:
        raise InputError(f"expected one image plane, found shape {data.shape}", image)
    if _same_beam(old_beam, beam):
        smoothed = plane  # already at the target beam: nothing to convolve
    else:
        smoothed = smooth(
            image=plane, old_beam=old_beam, new_beam=beam, dx=dx, dy=dy, conv_mode=conv_mode
        )
    header = beam.attach_to_header(header)
    with atomic_path(output, overwrite=True) as temporary:
        fits.PrimaryHDU(smoothed.reshape(data.shape).astype(np.float32), header=header).writeto(
            temporary
        )
    recipe.record(output)
    logger.info("Convolved %s from %r to %r -> %s", image, old_beam, beam, output)
    return output


def convolve_images(
    images: Sequence[str | os.PathLike[str]],
    beam: Beam | None = None,
    output_dir: str | os.PathLike[str] | None = None,
    suffix: str = "conv",
    cutoff_arcsec: float | None = None,
    conv_mode: ConvolutionMode = "robust",
) -> CommonResolution:
    """Convolve every image to ``beam`` (default: their common beam) as ``*.{suffix}.fits``.

    Images whose beam's major axis exceeds ``cutoff_arcsec`` are left out.
    """
    beam = common_beam(images, cutoff_arcsec) if beam is None else beam
    outputs = []
    for image in images:
        major = beam_from_header(fits.getheader(image), image).major.to_value(u.arcsec)
        if cutoff_arcsec is not None and major > cutoff_arcsec:
            logger.warning(
                "Leaving out %s: its beam (%.1f arcsec) exceeds the cutoff", image, major
            )
            continue
        where = Path(image).parent if output_dir is None else Path(output_dir)
        outputs.append(
            convolve_image(image, beam, where / conv_name(image, suffix), conv_mode=conv_mode)
        )
    return CommonResolution(beam=beam, images=outputs)
