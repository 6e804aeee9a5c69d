"""Euclidean-normalised 1.4 GHz differential source counts (packaged tables).

Both tables give S^2.5 dN/dS in Jy^1.5 sr^-1 against S in Jy at 1.4 GHz:

- ``"skads"``: the SKADS simulation (``SKADS_1p4GHz.fits``); bins with no sources
  are dropped and log SC is interpolated linearly in log S between bin centres.
- ``"de_zotti"``: the De Zotti et al. (2010) compilation (``de_zotti_1p4.txt``),
  smoothed by an error-weighted degree-7 polynomial in log S fitted to log SC.

Outside a table's flux range the counts are held at the end value (logged).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
from astropy.table import Table
from numpy.typing import ArrayLike, NDArray
from scipy.integrate import cumulative_trapezoid

from flint.errors import InputError

logger = logging.getLogger(__name__)

COUNTS_FREQUENCY_HZ = 1.4e9
_POLYNOMIAL_DEGREE = 7


def _data_directory() -> Path:
    return Path(str(resources.files("flint") / "data" / "source_counts"))


@dataclass(frozen=True)
class SourceCounts:
    """Euclidean-normalised differential counts SC(S) = S^2.5 dN/dS at 1.4 GHz."""

    name: str
    min_flux_jy: float
    max_flux_jy: float
    _log_flux: NDArray[np.float64]
    _log_euclidean: NDArray[np.float64]

    def euclidean(self, flux_jy: ArrayLike) -> NDArray[np.float64]:
        """S^2.5 dN/dS [Jy^1.5 / sr] at ``flux_jy`` (1.4 GHz)."""
        log_flux = np.log10(np.asarray(flux_jy, dtype=float))
        return 10.0 ** np.interp(log_flux, self._log_flux, self._log_euclidean)

    def dn_ds(self, flux_jy: ArrayLike) -> NDArray[np.float64]:
        """Differential counts dN/dS [Jy^-1 sr^-1] at ``flux_jy``."""
        flux = np.asarray(flux_jy, dtype=float)
        return self.euclidean(flux) * flux**-2.5

    def cumulative_grid(
        self, min_flux_jy: float, max_flux_jy: float, points: int = 4000
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Fluxes on a log grid and the number per sr between ``min_flux_jy`` and each."""
        if not 0 < min_flux_jy < max_flux_jy:
            raise InputError(f"need 0 < min flux < max flux, got {min_flux_jy}, {max_flux_jy}")
        if min_flux_jy < self.min_flux_jy or max_flux_jy > self.max_flux_jy:
            logger.warning(
                "%s counts cover %.3g-%.3g Jy at 1.4 GHz; holding them constant out to %.3g-%.3g Jy",
                self.name,
                self.min_flux_jy,
                self.max_flux_jy,
                min_flux_jy,
                max_flux_jy,
            )
        log_flux = np.linspace(np.log(min_flux_jy), np.log(max_flux_jy), points)
        flux = np.exp(log_flux)
        per_log_flux = self.dn_ds(flux) * flux  # dN / dln S
        return flux, cumulative_trapezoid(per_log_flux, log_flux, initial=0.0)

    def number_per_sr(self, min_flux_jy: float, max_flux_jy: float) -> float:
        """Sources per steradian with min_flux_jy < S(1.4 GHz) < max_flux_jy."""
        return float(self.cumulative_grid(min_flux_jy, max_flux_jy)[1][-1])


@cache
def _skads() -> SourceCounts:
    table = Table.read(_data_directory() / "SKADS_1p4GHz.fits")
    populated = np.asarray(table["SC"]) > 0
    return SourceCounts(
        name="skads",
        min_flux_jy=float(table["fl_bin_min"][0]),
        max_flux_jy=float(table["fl_bin_max"][populated][-1]),
        _log_flux=np.log10(np.asarray(table["fl_bin_mid"])[populated]),
        _log_euclidean=np.log10(np.asarray(table["SC"])[populated]),
    )


@cache
def _de_zotti() -> SourceCounts:
    data = np.genfromtxt(_data_directory() / "de_zotti_1p4.txt", comments="#", usecols=(0, 1, 2, 3))
    log_flux, euclidean, upper, lower = data.T
    log_error = 0.5 * (upper + lower) / euclidean / np.log(10.0)
    fit = np.polynomial.Polynomial.fit(
        log_flux, np.log10(euclidean), _POLYNOMIAL_DEGREE, w=1.0 / log_error
    )
    grid = np.linspace(log_flux.min(), log_flux.max(), 400)
    return SourceCounts(
        name="de_zotti",
        min_flux_jy=float(10 ** log_flux.min()),
        max_flux_jy=float(10 ** log_flux.max()),
        _log_flux=grid,
        _log_euclidean=fit(grid),
    )


_LOADERS = {"skads": _skads, "de_zotti": _de_zotti}


def load_source_counts(name: str = "skads") -> SourceCounts:
    """The packaged 1.4 GHz source counts ``name`` (``"skads"`` or ``"de_zotti"``)."""
    try:
        return _LOADERS[name.lower()]()
    except KeyError:
        raise InputError(
            f"unknown source counts {name!r}; choose one of {', '.join(_LOADERS)}"
        ) from None
