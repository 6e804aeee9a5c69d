"""Public facade of the observation simulator (see :mod:`flint.simulation`)."""

from flint.simulation import (
    SimulationOptions,
    SimulationResult,
    SimulationTruth,
    read_truth,
    simulate_calibrator,
    simulate_field,
)

__all__ = [
    "SimulationOptions",
    "SimulationResult",
    "SimulationTruth",
    "read_truth",
    "simulate_calibrator",
    "simulate_field",
]
