"""The wide outside model's checks and blanking (no wsclean: see tests/test_peel.py)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from astropy.io import fits

from flint.errors import ConfigError
from flint.imaging import WSCleanOptions
from flint.peel import PeelOptions
from flint.peel.wide import blank_inside, check_wide_model, wide_model_options
from flint.strategy.load import check_strategy

TAPERED = WSCleanOptions(size=1280, scale="12asec", taper_gaussian="45asec")


def _model(path: Path, size: int, scale_deg: float) -> Path:
    header = fits.Header()
    header.update(CTYPE1="RA---SIN", CTYPE2="DEC--SIN", CRPIX1=size / 2 + 1, CRPIX2=size / 2 + 1,
                  CDELT1=-scale_deg, CDELT2=scale_deg, CRVAL1=90.0, CRVAL2=-30.0)  # fmt: skip
    fits.PrimaryHDU(np.ones((1, 1, size, size), np.float32), header).writeto(path)
    return path


def test_blank_inside_zeroes_the_rounds_image_only(tmp_path: Path) -> None:
    """A 4.27 deg image inside a 8.9 deg model: the pixels within its square SIN footprint
    (the same phase centre) are zeroed, the rest kept."""
    models = [_model(tmp_path / f"run-{k:04d}-model.fits", 1600, 20 / 3600) for k in range(2)]
    left = blank_inside(models, tmp_path / "blanked", 1280 * 12 / 3600 / 2)
    paths = [tmp_path / f"blanked-{k:04d}-model.fits" for k in range(2)]
    assert all(fits.getdata(model).all() for model in models)  # the run's own are kept
    half = math.sin(math.radians(1280 * 12 / 3600 / 2)) / math.radians(20 / 3600)  # pixels
    for path in paths:
        data = fits.getdata(path)[0, 0]
        inner = int(half) - 1
        assert not data[800 - inner : 800 + inner, 800 - inner : 800 + inner].any()
        assert data[800 - int(half) - 2, :].all() and data[:, 800 + int(half) + 2].all()
    assert left == int(np.count_nonzero(fits.getdata(paths[0])))
    assert 1600**2 - left == pytest.approx((2 * half) ** 2, rel=0.01)


@pytest.mark.parametrize(
    ("image", "peel", "message"),
    [
        (TAPERED.with_options(taper_gaussian=None), PeelOptions(), "tapered"),
        (
            TAPERED.with_options(taper_gaussian=None),
            PeelOptions(wide_model_scale="5asec"),
            "tapered",
        ),
        (TAPERED, PeelOptions(wide_model_scale="30asec"), "coarser"),
        (TAPERED, PeelOptions(wide_model_width_deg=4.0), "wider"),
    ],
)
def test_wide_model_settings_that_cannot_work_are_refused(image, peel, message) -> None:
    with pytest.raises(ValueError, match=message):
        check_wide_model(image, peel)
    check_wide_model(TAPERED, PeelOptions())


def test_wide_model_pixels_default_to_half_the_taper() -> None:
    """7.5 deg at 22.5 arcsec: 1200 pixels, as many sub-bands as asked (at most one per
    channel), cleaned on its own per sub-band."""
    settings = wide_model_options(TAPERED, PeelOptions(), "PEEL_RESIDUAL", 36)
    assert (settings.size, settings.scale, settings.channels_out) == (1200, "22.5asec", 12)
    assert settings.fit_spectral_pol is None and settings.data_column == "PEEL_RESIDUAL"
    assert wide_model_options(TAPERED, PeelOptions(), "DATA", 4).channels_out == 4


def test_strategy_with_a_wide_model_on_an_untapered_round_is_refused() -> None:
    """The strategy file is refused when read, naming the round, before any work."""
    strategy = {
        "version": 1,
        "selfcal_rounds": 1,
        "defaults": {"imaging": {"size": 1280, "scale": "12asec"}},
        "rounds": {1: {"peel": {"subtract_outside": True, "outside_model": "wide"}}},
    }
    with pytest.raises(ConfigError, match=r"rounds\.1\.peel: .*tapered"):
        check_strategy(yaml.safe_load(yaml.safe_dump(strategy)), "s.yaml")
    strategy["defaults"]["imaging"]["taper_gaussian"] = "45asec"
    check_strategy(strategy, "s.yaml")
