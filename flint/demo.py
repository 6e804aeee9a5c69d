"""The demo observation: a small simulated ASKAP calibrator scan and a field of a few beams.

``flint demo`` and the tutorials run on it; it is sized to finish in minutes on a laptop
(36 channels of 8 MHz, 15 minutes in 30 s integrations, real ASKAP layout, generated
bandpasses, time-variable antenna phases for self-calibration to remove, thermal noise).

Two skies (``sky``):

- ``"realistic"``: :func:`flint.sky.realistic.realistic_field_sky`: the SKADS
  counts with measured sizes, doubles and triples, sources beyond the images and in the
  primary beam's sidelobes (the simulator's ``gaussian_sidelobes`` beam), and three bright
  sources placed inside an image, just outside it and in the first sidelobe;
- ``"simple"`` (the default): point sources from the SKADS counts within 2 deg of the beams,
  nothing beyond the images (issue 4's demo sky). The demo strategy meets the thermal limit
  on it; on the realistic sky it does not yet (1.26-1.41 x thermal:
  benchmarks/results/pipeline_realistic.json; the sources beyond the image and the final
  image's model of the brightest sources inside it make the excess:
  benchmarks/results/error_budget.json), so the realistic sky is the default only once it
  does.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from flint.atomic import atomic_path
from flint.errors import InputError
from flint.footprint import Footprint
from flint.simulation import (
    SimulationOptions,
    SimulationResult,
    simulate_calibrator,
    simulate_field,
)
from flint.sky import SkyModel, random_sky
from flint.sky.realistic import bright_source_positions, realistic_field_sky

logger = logging.getLogger(__name__)

DEMO_BEAMS = (14, 15, 20)
"""Neighbouring beams near the middle of the square_6x6 footprint."""

DemoSky = Literal["realistic", "simple"]
DEMO_SKIES: tuple[str, ...] = ("realistic", "simple")


@dataclass(frozen=True)
class DemoObservation:
    """Where the demo's simulated data and truth are."""

    calibrator: SimulationResult | None
    """``None`` for CASDA data (calibrated already)."""
    field: SimulationResult


def demo_strategy_path() -> Path:
    """The packaged self-calibration strategy of the demo (small, tapered images)."""
    return Path(__file__).parent / "data" / "strategies" / "demo.yaml"


def demo_image_half_width_deg() -> float:
    """Half the width of the demo strategy's images (the bright sources are placed by it)."""
    from flint.imaging.options import image_width_deg
    from flint.strategy import load_strategy, options_for_round

    strategy = load_strategy(demo_strategy_path())
    return image_width_deg(options_for_round(strategy, "imaging", strategy.selfcal_rounds)) / 2


def demo_options(
    beams: tuple[int, ...] = DEMO_BEAMS,
    seed: int = 1,
    layout: str = "raw",
    sky: DemoSky = "simple",
) -> SimulationOptions:
    """The simulation options of the demo field (the calibrator uses the same set-up);
    ``layout``: how the data are delivered (``raw``, as the telescope writes them). The
    realistic sky is seen through a primary beam with sidelobes."""
    return SimulationOptions(
        layout=layout,
        sbid=50001,
        field_name="DEMO_0635-31",
        beams=list(beams),
        n_channels=288,
        channel_average=8,
        duration_s=900.0,
        integration_s=30.0,
        seed=seed,
        primary_beam="gaussian_sidelobes" if sky == "realistic" else "gaussian",
    )


def simulate_demo_calibrator(
    output_dir: str | os.PathLike[str],
    beams: tuple[int, ...] = DEMO_BEAMS,
    seed: int = 1,
    layout: str = "raw",
) -> SimulationResult:
    """Simulate (or find, on a rerun) the demo's PKS B1934-638 scan under ``output_dir/calibrator``."""
    options = demo_options(tuple(beams), seed, layout, sky="simple")  # on axis: any beam
    return simulate_calibrator(
        Path(output_dir) / "calibrator",
        options.with_options(sbid=50000, duration_s=300.0, phase_rms_deg=0.0),
    )


def simulate_demo_field(
    output_dir: str | os.PathLike[str],
    beams: tuple[int, ...] = DEMO_BEAMS,
    min_flux_jy: float = 2e-3,
    seed: int = 1,
    layout: str = "raw",
    sky: DemoSky = "simple",
) -> SimulationResult:
    """Simulate (or find, on a rerun) the demo's science field under ``output_dir/field``."""
    options = demo_options(tuple(beams), seed, layout, sky)
    model = demo_sky(beams, min_flux_jy, seed, sky)
    logger.info("Demo sky (%s): %d components above %.1f mJy", sky, len(model), 1e3 * min_flux_jy)
    return simulate_field(Path(output_dir) / "field", model, options)


def demo_sky(
    beams: tuple[int, ...] = DEMO_BEAMS,
    min_flux_jy: float = 2e-3,
    seed: int = 1,
    sky: DemoSky = "simple",
) -> SkyModel:
    """The demo's random sky (module docstring) around ``beams``."""
    if sky not in DEMO_SKIES:
        raise InputError(f"unknown demo sky {sky!r}; choose one of {', '.join(DEMO_SKIES)}")
    options = demo_options(tuple(beams), seed, sky=sky)
    footprint = Footprint(name=options.footprint, pitch_deg=options.pitch_deg)
    ras, decs = footprint.beam_centres(options.ra_deg, options.dec_deg, beams=list(beams))
    if sky == "realistic":
        return realistic_field_sky(
            list(zip(ras, decs, strict=True)),
            demo_image_half_width_deg(),
            min_flux_jy=min_flux_jy,
            reference_hz=888e6,
            seed=seed,
        )
    return random_sky(
        float(ras.mean()),
        float(decs.mean()),
        radius_deg=2.0,
        min_flux_jy=min_flux_jy,
        reference_hz=888e6,
        seed=seed,
    )


def simulate_demo(
    output_dir: str | os.PathLike[str],
    beams: tuple[int, ...] = DEMO_BEAMS,
    min_flux_jy: float = 2e-3,
    seed: int = 1,
    layout: str = "raw",
    sky: DemoSky = "simple",
) -> DemoObservation:
    """Simulate (or find, on a rerun) the demo's calibrator scan and science field (of
    CASDA data, calibrated already, the field alone)."""
    calibrator = (
        None if layout == "casda" else simulate_demo_calibrator(output_dir, beams, seed, layout)
    )
    return DemoObservation(
        calibrator, simulate_demo_field(output_dir, beams, min_flux_jy, seed, layout, sky)
    )


DEMO_SUMMARY = "summary.json"


def _beam_of(path: Path) -> str:
    """The beam number in a product's path (``beamNN`` in its name or a parent's)."""
    for part in (path.name, *(parent.name for parent in path.parents)):
        if match := re.search(r"beam(\d+)", part):
            return str(int(match[1]))
    raise InputError("no beam number in the product's path", path)


def demo_summary(results: Iterable[object], wall_s: float, sky: str, layout: str) -> dict:
    """The demo's headline numbers from the continuum flow's results.

    ``thermal_ratio`` {beam: final residual rms / rms of the noise-only image},
    ``clean_floor`` {beam: what the same clean leaves of the noise alone / that rms},
    ``completeness`` (grouped sources above the validation's SNR threshold),
    ``median_flux_ratio``, ``wall_s`` and what was run: ``sky`` and ``layout``.
    """
    from flint.validation import ValidationResult
    from flint.validation.thermal import ThermalLimit

    results = list(results)
    limits = {
        _beam_of(result.residual): result for result in results if isinstance(result, ThermalLimit)
    }
    beams = sorted(limits, key=int)
    validations = [result for result in results if isinstance(result, ValidationResult)]
    summary = validations[0].summary if validations else None
    return {
        "thermal_ratio": {beam: limits[beam].ratio for beam in beams},
        "clean_floor": {beam: limits[beam].clean_floor for beam in beams},
        "completeness": None if summary is None else summary.completeness_above_snr,
        "median_flux_ratio": None if summary is None else summary.median_flux_ratio,
        "wall_s": wall_s,
        "sky": sky,
        "layout": layout,
    }


def write_demo_summary(output_dir: str | os.PathLike[str], summary: dict) -> Path:
    """Write ``summary`` as ``output_dir/summary.json`` (atomically); return its path."""
    path = Path(output_dir) / DEMO_SUMMARY
    with atomic_path(path, overwrite=True) as temporary:
        temporary.write_text(json.dumps(summary, indent=2) + "\n")
    return path


def demo_bright_sources(
    beams: tuple[int, ...] = DEMO_BEAMS, seed: int = 1
) -> dict[str, tuple[float, float, float]]:
    """The realistic demo sky's placed bright sources: ``inside``, ``outside`` (just beyond an
    image's edge) and ``sidelobe`` (in the first sidelobe), as (RA, Dec, flux at 888 MHz).

    They are the first draws of the sky's generator (:func:`realistic_field_sky`).
    """
    options = demo_options(tuple(beams), seed)
    footprint = Footprint(name=options.footprint, pitch_deg=options.pitch_deg)
    ras, decs = footprint.beam_centres(options.ra_deg, options.dec_deg, beams=list(beams))
    placed = bright_source_positions(
        list(zip(ras, decs, strict=True)),
        demo_image_half_width_deg(),
        888e6,
        np.random.default_rng(seed),
    )
    return dict(zip(("inside", "outside", "sidelobe"), placed, strict=True))
