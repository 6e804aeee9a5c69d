"""Options of BANE (background and noise) and Aegean (source finding)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from flint.options import BaseOptions


class SourceFindOptions(BaseOptions):
    """How BANE and Aegean are run on one image."""

    bane_cores: int | None = Field(None, ge=1)
    """Processes BANE may use; None: the cores of the worker's task (:mod:`flint.cores`)."""
    bane_grid: tuple[int, int] | None = None
    """BANE grid step in pixels (x, y); None lets BANE choose about 4 beams."""
    bane_box: tuple[int, int] | None = None
    """BANE box size in pixels (x, y); None lets BANE choose 5 grid steps."""
    bane_timeout_s: float = Field(600.0, gt=0)
    """Seconds before BANE (which can hang) is killed and the step fails."""
    seedclip: float = Field(5.0, gt=0)
    """Aegean seed threshold: islands start at pixels this many sigma above the background."""
    floodclip: float = Field(4.0, gt=0)
    """Aegean flood threshold: islands grow down to this many sigma."""
    aegean_cores: int | None = Field(None, ge=1)
    """Processes Aegean may use for fitting; None: the cores of the worker's task."""
    maxsummits: int | None = Field(None, ge=1)
    """Islands with more summits than this are estimated rather than fitted; None: no limit."""
    aegean_timeout_s: float = Field(1800.0, gt=0)
    """Seconds before Aegean is killed and the step fails."""
    bane_executable: str = "BANE"
    """The BANE program (name on PATH, or next to the running Python, or a path)."""
    aegean_executable: str = "aegean"
    """The aegean program (name on PATH, or next to the running Python, or a path)."""

    @model_validator(mode="after")
    def _flood_below_seed(self) -> Self:
        if self.floodclip > self.seedclip:
            raise ValueError(
                f"floodclip ({self.floodclip}) must not exceed seedclip ({self.seedclip}): "
                "islands grow from seeds down to the flood threshold"
            )
        return self
