"""Options for wsclean: one frozen model covering what ASKAP continuum imaging uses."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from flint.options import BaseOptions

_ANGLE = re.compile(r"^\d+(\.\d+)?(e[+-]?\d+)?(asec|amin|deg|arcsec|arcmin)?$")
_POLS = {"i", "q", "u", "v", "xx", "xy", "yx", "yy", "rr", "rl", "lr", "ll"}


class WSCleanOptions(BaseOptions):
    """Imaging and deconvolution settings passed to wsclean (one field per option)."""

    size: int = Field(6144, gt=0, multiple_of=2)
    """Image width and height in pixels (``-size N N``); wsclean wants an even number."""
    scale: str = "2.5asec"
    """Pixel size with a unit, e.g. ``2.5asec``, ``0.1amin`` (``-scale``)."""
    weight: Literal["briggs", "natural", "uniform"] = "briggs"
    """Visibility weighting scheme (``-weight``)."""
    robust: float = Field(-0.5, ge=-2.0, le=2.0)
    """Briggs robustness, used only with ``weight: briggs``."""
    taper_gaussian: str | None = None
    """FWHM of a Gaussian uv-taper with a unit, e.g. ``10asec`` (``-taper-gaussian``)."""
    minuv_l: float | None = Field(None, ge=0)
    """Shortest baseline used, in wavelengths (``-minuv-l``)."""
    maxuv_l: float | None = Field(None, gt=0)
    """Longest baseline used, in wavelengths (``-maxuv-l``)."""
    shift: tuple[str, str] | None = None
    """Centre the image on this direction instead of the phase centre (``-shift``): RA as
    ``hh:mm:ss.s`` and Dec as ``dd.mm.ss.s`` (see :func:`shift_for`)."""
    padding: float = Field(1.2, ge=1.0)
    """Padding factor of the gridded image (``-padding``)."""
    data_column: str = "CORRECTED_DATA"
    """Measurement-set column to image (``-data-column``)."""
    pol: str = "i"
    """Polarisations to image, e.g. ``i``, ``iquv``, ``xx,yy`` (``-pol``)."""
    channels_out: int = Field(1, ge=1)
    """Number of sub-band images (``-channels-out``); more than one adds MFS images."""
    join_channels: bool = False
    """Deconvolve the sub-bands jointly on their MFS image (``-join-channels``)."""
    fit_spectral_pol: int | None = Field(None, ge=1)
    """Terms of the polynomial fitted to each component over frequency (``-fit-spectral-pol``)."""
    deconvolution_channels: int | None = Field(None, ge=1)
    """Sub-bands used during deconvolution; needs ``fit_spectral_pol`` (``-deconvolution-channels``)."""
    niter: int = Field(750_000, ge=0)
    """Maximum number of minor clean iterations; 0 makes only a dirty image (``-niter``)."""
    nmiter: int = Field(15, ge=0)
    """Maximum number of major iterations; 0 is no limit (``-nmiter``)."""
    threshold: float | None = Field(None, ge=0)
    """Absolute stopping threshold in Jy (``-threshold``)."""
    auto_threshold: float | None = Field(0.5, gt=0)
    """Stop cleaning at this many times the (local) rms (``-auto-threshold``)."""
    auto_mask: float | None = Field(3.0, gt=0)
    """Build a mask from components above this many rms, then clean inside it (``-auto-mask``)."""
    local_rms: bool = True
    """Use a spatially varying rms for auto-threshold/mask (``-local-rms``)."""
    local_rms_window: int | None = Field(None, gt=0)
    """Size of the local-rms window in PSFs (``-local-rms-window``)."""
    fits_mask: Path | None = None
    """FITS clean mask, e.g. from :mod:`flint.masking` (``-fits-mask``)."""
    gain: float = Field(0.1, gt=0)
    """Minor-loop gain: fraction of the peak removed per iteration (``-gain``); above 1 overshoots."""
    mgain: float = Field(0.7, gt=0, le=1)
    """Major-loop gain: fraction of the peak cleaned before the next major cycle (``-mgain``)."""
    multiscale: bool = True
    """Multi-scale clean (``-multiscale``)."""
    multiscale_scales: tuple[int, ...] | None = (0, 4, 8, 16, 24, 32, 48, 64)
    """Multi-scale scales in pixels (``-multiscale-scales``); None lets wsclean choose."""
    multiscale_scale_bias: float | None = Field(None, gt=0)
    """Bias towards small scales (``-multiscale-scale-bias``)."""
    multiscale_gain: float | None = Field(None, gt=0, le=1)
    """Sub-minor loop gain of multi-scale clean (``-multiscale-gain``)."""
    multiscale_max_scales: int | None = Field(None, ge=1)
    """Largest number of scales when wsclean chooses them (``-multiscale-max-scales``)."""
    clean_border: float | None = Field(None, ge=0, lt=50)
    """Border (per cent of the image) left uncleaned (``-clean-border``)."""
    no_negative: bool = False
    """Forbid negative clean components (``-no-negative``)."""
    use_wgridder: bool = True
    """Use the w-gridder (``-use-wgridder``)."""
    wgridder_accuracy: float | None = Field(None, gt=0, lt=1)
    """Accuracy of the w-gridder (``-wgridder-accuracy``; wsclean's default 1e-4)."""
    parallel_gridding: int | None = Field(None, ge=1)
    """Number of sub-bands gridded in parallel (``-parallel-gridding``); None: one per core
    of the task, at most ``channels_out`` (:mod:`flint.cores`)."""
    parallel_deconvolution: int | None = Field(None, gt=0)
    """Deconvolve sub-images of at most this many pixels in parallel (``-parallel-deconvolution``);
    None: sized to the image (none up to 4096 pixels, else pieces of at most 2048)."""
    threads: int | None = Field(None, ge=1)
    """Number of threads (``-j``); None: the cores of the worker's task (:mod:`flint.cores`)."""
    abs_mem: float | None = Field(None, gt=0)
    """Memory limit in GB (``-abs-mem``)."""
    temp_dir: Path | None = None
    """Directory for wsclean's reordering files (``-temp-dir``); default: the run's work dir."""
    reorder: bool | None = None
    """Reorder the data into per-sub-band temporary files first (``-reorder``) or read the
    measurement set on every pass (``-no-reorder``, no temporary copy on disk); None:
    wsclean's default, reorder when imaging more than one sub-band."""
    no_update_model_required: bool = False
    """Do not write the model back to MODEL_DATA (``-no-update-model-required``)."""
    save_source_list: bool = False
    """Write the clean components as a text sky model (``-save-source-list``)."""
    make_psf: bool = False
    """Make a PSF even when ``niter`` is 0 (``-make-psf``)."""
    no_dirty: bool = False
    """Do not write the dirty image (``-no-dirty``)."""
    no_mf_weighting: bool = False
    """Weight each sub-band on its own rather than as the MFS image (``-no-mf-weighting``)."""

    @field_validator("scale", "taper_gaussian")
    @classmethod
    def _angle(cls, value: str | None) -> str | None:
        if value is not None and not _ANGLE.match(value):
            raise ValueError(f"{value!r} is not an angle such as '2.5asec', '0.1amin' or '0.01deg'")
        return value

    @field_validator("pol")
    @classmethod
    def _pol(cls, value: str) -> str:
        bad = [name for name in polarisations(value) if name.lower() not in _POLS]
        if bad:
            raise ValueError(
                f"unknown polarisation(s) {', '.join(bad)}; use e.g. 'i', 'iquv', 'xx,yy'"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> WSCleanOptions:
        problems = []
        if self.fit_spectral_pol is not None and not self.join_channels:
            problems.append("fit_spectral_pol needs join_channels: true")
        if self.deconvolution_channels is not None:
            if self.fit_spectral_pol is None:
                problems.append("deconvolution_channels needs fit_spectral_pol")
            if self.deconvolution_channels > self.channels_out:
                problems.append("deconvolution_channels is larger than channels_out")
        if self.join_channels and self.channels_out == 1:
            problems.append("join_channels needs channels_out > 1")
        if self.save_source_list and self.channels_out > 1 and self.fit_spectral_pol is None:
            problems.append("save_source_list with channels_out > 1 needs fit_spectral_pol")
        if self.minuv_l is not None and self.maxuv_l is not None and self.minuv_l >= self.maxuv_l:
            problems.append("minuv_l must be smaller than maxuv_l")
        if problems:
            raise ValueError("; ".join(problems))
        return self


_UNIT_DEG = {"asec": 1 / 3600, "arcsec": 1 / 3600, "amin": 1 / 60, "arcmin": 1 / 60, "deg": 1.0}


def angle_deg(text: str) -> float:
    """Degrees of a wsclean angle such as ``2.5asec`` (no unit: degrees, as wsclean reads it)."""
    match = re.match(r"^([\d.e+-]+)([a-z]*)$", text.strip())
    if match is None or match[2] not in ("", *_UNIT_DEG):
        raise ValueError(f"{text!r} is not an angle such as '2.5asec', '0.1amin' or '0.01deg'")
    return float(match[1]) * _UNIT_DEG.get(match[2], 1.0)


def shift_for(ra_deg: float, dec_deg: float) -> tuple[str, str]:
    """The ``shift`` option (wsclean's RA and Dec text) centring an image on a direction."""
    from astropy import units as u
    from astropy.coordinates import Angle

    ra = Angle(ra_deg, unit=u.deg).to_string(unit=u.hourangle, sep=":", precision=4, pad=True)
    dec = Angle(dec_deg, unit=u.deg).to_string(
        unit=u.deg, sep=":", precision=3, pad=True, alwayssign=True
    )
    return str(ra), str(dec).replace(":", ".")


def image_width_deg(options: WSCleanOptions) -> float:
    """Width of the square image that ``options`` make: size x scale, in degrees."""
    return options.size * angle_deg(options.scale)


def polarisations(pol: str) -> list[str]:
    """Split a wsclean ``-pol`` value into the polarisations it images, upper case."""
    text = pol.strip()
    if "," in text:
        return [part.strip().upper() for part in text.split(",") if part.strip()]
    if len(text) > 1 and set(text.lower()) <= set("iquv"):
        return list(text.upper())
    return [text.upper()]
