"""The demo observation: a small simulated ASKAP calibrator scan and a field of a few beams.

``flint demo`` and the tutorials run on it; it is sized to finish in minutes on a laptop
(36 channels of 8 MHz, 15 minutes in 30 s integrations, real ASKAP layout, generated
bandpasses, time-variable antenna phases for self-calibration to remove, thermal noise, a
random sky drawn from the SKADS source counts).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from flint.footprint import Footprint
from flint.simulation import (
    SimulationOptions,
    SimulationResult,
    simulate_calibrator,
    simulate_field,
)
from flint.sky import SkyModel, random_sky

logger = logging.getLogger(__name__)

DEMO_BEAMS = (14, 15, 20)
"""Neighbouring beams near the middle of the square_6x6 footprint."""


@dataclass(frozen=True)
class DemoObservation:
    """Where the demo's simulated data and truth are."""

    calibrator: SimulationResult | None
    """``None`` for CASDA data (calibrated already)."""
    field: SimulationResult


def demo_strategy_path() -> Path:
    """The packaged self-calibration strategy of the demo (small, tapered images)."""
    return Path(__file__).parent / "data" / "strategies" / "demo.yaml"


def demo_options(
    beams: tuple[int, ...] = DEMO_BEAMS, seed: int = 1, layout: str = "raw"
) -> SimulationOptions:
    """The simulation options of the demo field (the calibrator uses the same set-up);
    ``layout``: how the data are delivered (``raw``, as the telescope writes them)."""
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
    )


def simulate_demo_calibrator(
    output_dir: str | os.PathLike[str],
    beams: tuple[int, ...] = DEMO_BEAMS,
    seed: int = 1,
    layout: str = "raw",
) -> SimulationResult:
    """Simulate (or find, on a rerun) the demo's PKS B1934-638 scan under ``output_dir/calibrator``."""
    options = demo_options(tuple(beams), seed, layout)
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
) -> SimulationResult:
    """Simulate (or find, on a rerun) the demo's science field under ``output_dir/field``."""
    options = demo_options(tuple(beams), seed, layout)
    sky = demo_sky(beams, min_flux_jy, seed)
    logger.info("Demo sky: %d components above %.1f mJy", len(sky), 1e3 * min_flux_jy)
    return simulate_field(Path(output_dir) / "field", sky, options)


def demo_sky(
    beams: tuple[int, ...] = DEMO_BEAMS, min_flux_jy: float = 2e-3, seed: int = 1
) -> SkyModel:
    """The demo's random sky: SKADS counts within 2 deg of the centre of ``beams``."""
    options = demo_options(tuple(beams), seed)
    footprint = Footprint(name=options.footprint, pitch_deg=options.pitch_deg)
    ras, decs = footprint.beam_centres(options.ra_deg, options.dec_deg, beams=list(beams))
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
) -> DemoObservation:
    """Simulate (or find, on a rerun) the demo's calibrator scan and science field (of
    CASDA data, calibrated already, the field alone)."""
    calibrator = (
        None if layout == "casda" else simulate_demo_calibrator(output_dir, beams, seed, layout)
    )
    return DemoObservation(
        calibrator, simulate_demo_field(output_dir, beams, min_flux_jy, seed, layout)
    )
