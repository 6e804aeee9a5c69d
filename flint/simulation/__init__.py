"""Simulate ASKAP observations: real array, beams, sky, corruptions, truth."""

from flint.simulation.observation import SimulationOptions
from flint.simulation.simulate import SimulationResult, simulate_calibrator, simulate_field
from flint.simulation.truth import SimulationTruth, read_truth

__all__ = [
    "SimulationOptions",
    "SimulationResult",
    "SimulationTruth",
    "read_truth",
    "simulate_calibrator",
    "simulate_field",
]
