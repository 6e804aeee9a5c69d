"""Options of the self-calibration stage that lives nowhere else: gain solving."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from flint.options import BaseOptions


class GainSolveOptions(BaseOptions):
    """Gain solving against the model of the previous image."""

    mode: Literal["phase", "amplitude+phase"] = "phase"
    """Solve for phases only, or for complex gains."""
    solint_s: float | None = Field(60.0, gt=0)
    """Solution interval in seconds; None solves once over the whole observation."""
    channels_per_solution: int | None = Field(None, ge=1)
    """Channels sharing one solution; None solves once over the band."""
    min_uv_lambda: float | None = Field(None, ge=0)
    """Ignore baselines shorter than this, in wavelengths."""
    max_uv_lambda: float | None = Field(None, gt=0)
    """Ignore baselines longer than this, in wavelengths."""
    uv_taper_lambda: float | None = Field(None, gt=0)
    """Weight baselines by ``exp(-uv^2 / 2 sigma^2)`` with this sigma, in wavelengths.

    The model comes from an image, which knows the sky only to its resolution: with the
    imaging's taper, baselines the model cannot represent do not steer the gains (at the
    price of noisier solutions: fewer baselines count). An image-plane Gaussian taper of FWHM
    theta is sigma = sqrt(2 ln 2) / (pi theta) (45 arcsec: 1718 wavelengths).
    """
    refant: int = Field(0, ge=0)
    """Reference antenna index: its phase is held at zero."""
    constant_from_components: bool = False
    """Then solve one phase per antenna for the whole observation against the previous
    image's fitted components (its source-finder catalogue), on the data the first gains
    correct, and multiply it in.

    A model made from an image holds the imprint of the constant phase errors that image
    was made with, and solving against it gives them back: each round keeps them. Fitted
    components keep positions and fluxes but not those errors' pattern: on the realistic
    demo sky, in the final round, the constant errors fall from 5-14 deg to 2-3 deg, but
    the final residuals do not improve measurably (docs/configuration.md,
    "Self-calibration's errors"). From an image not yet self-calibrated (round 0) the
    components are a worse model than the image's own. The changes in time stay the first
    solve's: components miss faint and diffuse flux, and solving each interval against
    them alone doubles the varying errors. Off in the packaged strategies.
    """

    @model_validator(mode="after")
    def _uv_range(self) -> GainSolveOptions:
        if (
            self.min_uv_lambda is not None
            and self.max_uv_lambda is not None
            and self.min_uv_lambda >= self.max_uv_lambda
        ):
            raise ValueError("min_uv_lambda must be smaller than max_uv_lambda")
        return self
