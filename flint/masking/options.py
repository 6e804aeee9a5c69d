"""Options for clean masks made from signal-to-noise maps."""

from __future__ import annotations

from pydantic import Field, model_validator

from flint.options import BaseOptions


class MaskingOptions(BaseOptions):
    """How a clean mask is grown from an image's signal-to-noise map."""

    use_fits_mask: bool = True
    """Give wsclean the mask made from the previous round's image (``-fits-mask``). False
    leaves the round to wsclean's own auto-masking, which also cleans sources fainter than
    the mask's seeds: a final round cleaned that deep reaches the noise."""
    seed_snr: float = Field(6.0, gt=0)
    """Islands are kept only if they hold a pixel at least this many sigma above the background."""
    floor_snr: float = Field(4.0, gt=0)
    """Islands extend down to this signal-to-noise (flood fill from the seeds)."""
    grow_pixels: int = Field(0, ge=0)
    """Grow each island outwards by this many pixels (binary dilation); 0 keeps them as found."""
    min_island_pixels: int = Field(1, ge=1)
    """Drop islands smaller than this many pixels (before growth)."""
    bane_grid: tuple[int, int] | None = None
    """BANE ``--grid`` step in pixels; None lets BANE use about four beams."""
    bane_box: tuple[int, int] | None = None
    """BANE ``--box`` size in pixels; None lets BANE use five grid steps."""
    bane_cores: int | None = Field(None, ge=1)
    """Processes BANE may use; None: the cores of the worker's task (:mod:`flint.cores`)."""
    bane_timeout_s: float = Field(600.0, gt=0)
    """Kill BANE after this many seconds (it can hang)."""

    @model_validator(mode="after")
    def _ordered(self) -> MaskingOptions:
        if self.floor_snr > self.seed_snr:
            raise ValueError("floor_snr must not exceed seed_snr")
        return self
