"""Amplitude and phase plots of bandpass solutions per antenna (matplotlib, Agg)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from flint.atomic import atomic_path
from flint.calibration.solutions import AOSolutions


def plot_solutions(
    solutions: AOSolutions,
    output: str | os.PathLike[str],
    interval: int = 0,
    reference: AOSolutions | None = None,
) -> Path:
    """Grid of per-antenna panels: |g| (top row of each pair) and phase in degrees.

    With ``reference`` (e.g. the unflagged original) it is drawn in grey underneath.
    """
    from matplotlib.figure import Figure

    gains = solutions.gains[interval]
    n_ant = gains.shape[0]
    columns = 6
    rows = int(np.ceil(n_ant / columns))
    figure = Figure(figsize=(3 * columns, 3.2 * rows))
    grid = figure.add_gridspec(2 * rows, columns, hspace=0.05, wspace=0.3)
    channels = np.arange(gains.shape[1])
    diagonal = [(0, "XX", "tab:blue"), (gains.shape[-1] - 1, "YY", "tab:red")]
    for antenna in range(n_ant):
        row, column = divmod(antenna, columns)
        amp_axis = figure.add_subplot(grid[2 * row, column])
        phase_axis = figure.add_subplot(grid[2 * row + 1, column], sharex=amp_axis)
        for index, name, colour in diagonal:
            if reference is not None:
                ref = reference.gains[interval, antenna, :, index]
                amp_axis.plot(channels, np.abs(ref), ",", color="0.6")
                phase_axis.plot(channels, np.degrees(np.angle(ref)), ",", color="0.6")
            g = gains[antenna, :, index]
            amp_axis.plot(channels, np.abs(g), ".", ms=1.5, color=colour, label=name)
            phase_axis.plot(channels, np.degrees(np.angle(g)), ".", ms=1.5, color=colour)
        amp_axis.set_title(f"ant {antenna}", fontsize=8, pad=2)
        amp_axis.tick_params(labelsize=6, labelbottom=False)
        phase_axis.tick_params(labelsize=6)
        phase_axis.set_ylim(-185, 185)
        if antenna == 0:
            amp_axis.legend(fontsize=6, markerscale=4)
    figure.suptitle(f"{solutions.path or ''} interval {interval}: |g| and phase (deg) vs channel")
    output = Path(output)
    with atomic_path(output, overwrite=True) as temporary:
        figure.savefig(temporary, dpi=80, format=output.suffix.lstrip(".") or "png")
    return output
