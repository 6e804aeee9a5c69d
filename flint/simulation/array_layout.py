"""The ASKAP array: antenna names, ITRF positions and baseline ordering."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import numpy as np
from numpy.typing import NDArray

from flint.errors import InputError

ASKAP_DISH_DIAMETER_M = 12.0


@dataclass(frozen=True, eq=False)
class ArrayLayout:
    """Antennas of an array; ``itrf_m`` is [nant, 3] geocentric ITRF metres."""

    names: tuple[str, ...]
    itrf_m: NDArray[np.float64]
    dish_diameter_m: NDArray[np.float64]

    @property
    def n_antennas(self) -> int:
        """Number of antennas."""
        return len(self.names)

    @property
    def centre_itrf_m(self) -> NDArray[np.float64]:
        """Array location: the mean of the antenna positions."""
        return self.itrf_m.mean(axis=0)

    def select(self, antennas: int | Sequence[int | str] | None) -> ArrayLayout:
        """The first ``antennas`` antennas, or those listed by index or name."""
        if antennas is None:
            return self
        if isinstance(antennas, int):
            if not 2 <= antennas <= self.n_antennas:
                raise InputError(f"need 2-{self.n_antennas} antennas, got {antennas}")
            index = np.arange(antennas)
        else:
            lookup = {name: number for number, name in enumerate(self.names)}
            try:
                index = np.array([lookup[a] if isinstance(a, str) else int(a) for a in antennas])
            except KeyError as error:
                raise InputError(f"unknown antenna {error.args[0]!r}") from None
            if len(set(index.tolist())) < 2 or index.min() < 0 or index.max() >= self.n_antennas:
                raise InputError(f"antenna selection {list(antennas)} is invalid")
        return ArrayLayout(
            tuple(self.names[i] for i in index), self.itrf_m[index], self.dish_diameter_m[index]
        )


def askap_layout(antennas: int | Sequence[int | str] | None = None) -> ArrayLayout:
    """The real ASKAP array (``flint/data/askap_antennas.csv``), optionally a subset."""
    text = (resources.files("flint") / "data" / "askap_antennas.csv").read_text()
    rows = [line.split(",") for line in text.splitlines() if line and not line.startswith("#")]
    body = rows[1:]
    names = tuple(row[0] for row in body)
    itrf = np.array([[float(value) for value in row[1:4]] for row in body])
    dishes = np.array([float(row[4]) for row in body])
    return ArrayLayout(names, itrf, dishes).select(antennas)


def baseline_indices(n_antennas: int, autos: bool = False) -> tuple[NDArray[np.int32], ...]:
    """ANTENNA1, ANTENNA2 of one integration, ordered like ASKAP (ant1 <= ant2)."""
    ant1, ant2 = np.triu_indices(n_antennas, k=0 if autos else 1)
    return ant1.astype(np.int32), ant2.astype(np.int32)
