"""Bandpass calibration: solutions files, the StEFCal solver, solving, repairing, applying."""

from flint.calibration.solutions import AOSolutions, read_solutions, write_solutions

__all__ = ["AOSolutions", "read_solutions", "write_solutions"]
