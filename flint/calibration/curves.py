"""Bandpass curves for display: amplitude and phase per channel of a few antennas, flags marked."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from flint.calibration.solutions import AOSolutions, read_solutions
from flint.errors import SolutionsError


@dataclass(frozen=True)
class AntennaCurves:
    """One antenna's gains in one solution interval: per polarisation, per channel."""

    antenna: int
    channels: np.ndarray
    amplitude: dict[str, np.ndarray]
    """|g|, NaN where flagged."""
    phase_deg: dict[str, np.ndarray]
    """arg(g) in degrees, NaN where flagged."""
    flagged: dict[str, np.ndarray]
    """True where the gain is flagged."""

    @property
    def flagged_fraction(self) -> float:
        return float(np.mean([f.mean() for f in self.flagged.values()]))


def bandpass_curves(
    solutions: AOSolutions | str | os.PathLike[str],
    antennas: Sequence[int],
    interval: int = 0,
    polarisations: Sequence[str] = ("XX", "YY"),
) -> list[AntennaCurves]:
    """Amplitude and phase of ``antennas`` in solution ``interval`` (flags as NaN and masks)."""
    if not isinstance(solutions, AOSolutions):
        solutions = read_solutions(solutions)
    if not 0 <= interval < solutions.n_sol:
        raise SolutionsError(
            f"no interval {interval}: the file has {solutions.n_sol}", solutions.path
        )
    pols = [p for p in polarisations if p in solutions.polarisations]
    curves = []
    for antenna in antennas:
        if not 0 <= antenna < solutions.n_ant:
            raise SolutionsError(
                f"no antenna {antenna}: the file has {solutions.n_ant}", solutions.path
            )
        gains = {p: solutions.gains[interval, antenna, :, solutions.pol_index(p)] for p in pols}
        flagged = {p: ~np.isfinite(g) for p, g in gains.items()}
        curves.append(
            AntennaCurves(
                antenna=int(antenna),
                channels=np.arange(solutions.n_chan),
                amplitude={p: np.abs(g) for p, g in gains.items()},
                phase_deg={p: np.degrees(np.angle(g)) for p, g in gains.items()},
                flagged=flagged,
            )
        )
    return curves
