"""Options of peeling: sources the round's image cannot model well enough, modelled apart."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from flint.options import BaseOptions


class PeelOptions(BaseOptions):
    """Bright sources modelled in small images of their own (see :mod:`flint.peel`).

    Two uses, switched on per round:

    - ``subtract_outside``: bright sources outside the image (the main lobe beyond it,
      the sidelobes), found once in a wide, low-resolution image, are cleaned each in its
      own image centred on it (wsclean ``-shift``) and subtracted from the data the round
      images (their sidelobes would cross the image); self-calibration adds their model;
    - ``refine_bright``: after the round's image, its brightest sources are cleaned again
      at full resolution on what its model leaves: a tapered image cannot resolve a
      bright double, and self-calibration against a model that does not resolve it is
      pulled to wrong phases on the long baselines.
    """

    subtract_outside: bool = False
    """Subtract the sky outside the image before this round images."""
    outside_model: Literal["stamps", "wide"] = "stamps"
    """How the outside is modelled: ``stamps``, the brightest sources found in the wide
    image, each cleaned in its own image (any resolution); ``wide``, everything outside the
    image cleaned in one wide image at the round's taper (:mod:`flint.peel.wide`: the many
    faint sources of a real sky's sidelobes; tapered rounds only)."""
    refine_bright: bool = False
    """Remodel this round's brightest sources at full resolution for the next self-calibration."""
    wide_size: int = Field(720, gt=0, multiple_of=2)
    """Pixels per side of the wide image that finds the outside sources."""
    wide_scale: str = "60asec"
    """Pixel size of the wide image (wsclean angle)."""
    wide_taper: str = "180asec"
    """Gaussian taper of the wide image: a low resolution keeps it small and fast."""
    detect_snr: float = Field(10.0, gt=0)
    """An outside source is peeled when its peak in the wide image is this many rms..."""
    min_flux_jy: float = Field(0.005, ge=0)
    """...and at least this bright (apparent, Jy/beam of the wide image)."""
    max_sources: int = Field(8, ge=0)
    """Peel at most this many outside sources per beam (the brightest)."""
    bright_min_jy: float = Field(0.1, ge=0)
    """Refine sources whose peak in the round's image is at least this (apparent Jy/beam)..."""
    bright_max_sources: int = Field(3, ge=0)
    """...at most this many per beam (the brightest)."""
    outside_stamp_size: int = Field(128, gt=0, multiple_of=2)
    """Pixels per side of each outside source's image, at the round's pixel size and
    taper: what the round's image weights is what must be subtracted well."""
    bright_stamp_size: int = Field(256, gt=0, multiple_of=2)
    """Pixels per side of each bright source's full-resolution image..."""
    bright_stamp_scale: str = "2.5asec"
    """...with pixels fine enough for the array's full resolution..."""
    bright_stamp_taper: str | None = None
    """...and this Gaussian taper (None: the full resolution)."""
    stamp_mask_margin_arcsec: float = Field(90.0, ge=0)
    """Clean each source only within its island (where it was found) grown by this much."""
    stamp_channels_out: int | None = Field(None, ge=1)
    """Sub-bands of each source's image; None gives every channel its own model (the
    attenuation of a source in a sidelobe changes fast with frequency)."""
    stamp_niter: int = Field(20000, ge=0)
    """Clean iterations per source image."""
    stamp_auto_threshold: float = Field(1.0, gt=0)
    """Clean each source down to this many times its image's rms."""
    stamp_multiscale: bool = True
    """Multi-scale clean of each source (bright sources are often extended)."""
    wide_model_width_deg: float = Field(7.5, gt=0)
    """Width of the wide model's image (``outside_model: wide``): the main lobe and first
    sidelobe of the primary beam at the band's low end..."""
    wide_model_scale: str | None = None
    """...its pixel size (None: half the round's taper, the coarsest that models it)..."""
    wide_model_channels_out: int = Field(12, ge=1)
    """...and its sub-bands, each modelled on its own."""
    wide_model_niter: int = Field(200_000, ge=0)
    """Clean iterations of the wide model..."""
    wide_model_auto_mask: float = Field(4.0, gt=0)
    """...its auto-mask (times the rms)..."""
    wide_model_auto_threshold: float = Field(1.5, gt=0)
    """...and its final threshold (times the rms)."""
