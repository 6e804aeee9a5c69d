"""Validation measures: completeness, flux ratio, astrometry, noise, source counts, PSFs."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_area

from flint.sky.source_counts import COUNTS_FREQUENCY_HZ, load_source_counts

REFERENCE_COUNTS = ("skads", "de_zotti")


def robust_scatter(values: np.ndarray) -> float:
    """1.4826 × the median absolute deviation (σ for Gaussian data); NaN when empty."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan")
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def sample_map(data: np.ndarray, wcs: WCS, ra_deg: np.ndarray, dec_deg: np.ndarray) -> np.ndarray:
    """Values of a 2-D map at sky positions (nearest pixel; NaN outside the map)."""
    x, y = wcs.all_world2pix(np.asarray(ra_deg, float), np.asarray(dec_deg, float), 0)
    col, row = np.round(x).astype(int), np.round(y).astype(int)
    inside = (row >= 0) & (row < data.shape[0]) & (col >= 0) & (col < data.shape[1])
    values = np.full(np.shape(x), np.nan)
    values[inside] = data[row[inside], col[inside]]
    return values


def completeness_table(flux_jy: np.ndarray, found: np.ndarray, bins: int) -> Table:
    """Fraction of truth sources found in logarithmic bins of true flux."""
    flux_jy = np.asarray(flux_jy, dtype=float)
    found = np.asarray(found, dtype=bool)
    positive = flux_jy > 0
    if not positive.any():
        return Table(names=("flux_lo_jy", "flux_hi_jy", "n_true", "n_found", "completeness"))
    edges = np.geomspace(flux_jy[positive].min(), flux_jy[positive].max() * (1 + 1e-9), bins + 1)
    which = np.digitize(flux_jy, edges) - 1
    n_true = np.array([np.sum(which == b) for b in range(bins)])
    n_found = np.array([np.sum(found & (which == b)) for b in range(bins)])
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = np.where(n_true > 0, n_found / np.maximum(n_true, 1), np.nan)
    return Table(
        {
            "flux_lo_jy": edges[:-1],
            "flux_hi_jy": edges[1:],
            "n_true": n_true,
            "n_found": n_found,
            "completeness": fraction,
        }
    )


def rms_statistics(rms: np.ndarray) -> dict[str, float]:
    """Median, mean, minimum, maximum and 5th/95th percentiles of the finite rms pixels [Jy/beam]."""
    finite = rms[np.isfinite(rms) & (rms > 0)]
    if finite.size == 0:
        return dict.fromkeys(("median", "mean", "min", "max", "p05", "p95"), float("nan"))
    p05, median, p95 = np.percentile(finite, [5, 50, 95])
    return {
        "median": float(median),
        "mean": float(finite.mean()),
        "min": float(finite.min()),
        "max": float(finite.max()),
        "p05": float(p05),
        "p95": float(p95),
    }


def visibility_area(
    rms: np.ndarray, wcs: WCS, detection_snr: float
) -> Callable[[np.ndarray], np.ndarray]:
    """Area [sr] over which a source of flux S would reach ``detection_snr``, as a function of S."""
    pixel_sr = (proj_plane_pixel_area(wcs) * u.deg**2).to_value(u.sr)
    limits = np.sort(detection_snr * rms[np.isfinite(rms) & (rms > 0)])

    def area(flux_jy: np.ndarray) -> np.ndarray:
        return np.searchsorted(limits, np.asarray(flux_jy, dtype=float), side="right") * pixel_sr

    return area


def euclidean_counts(
    flux_1p4_jy: np.ndarray,
    area_sr: Callable[[np.ndarray], np.ndarray],
    bins: int,
    min_flux_jy: float | None = None,
) -> Table:
    """Euclidean-normalised differential counts S^2.5 dN/dS [Jy^1.5/sr] with Poisson errors.

    ``area_sr(S)`` is the area over which a source of 1.4 GHz flux S could be
    found. The packaged SKADS and De Zotti counts are evaluated at each bin centre.
    """
    flux = np.asarray(flux_1p4_jy, dtype=float)
    flux = flux[np.isfinite(flux) & (flux > 0)]
    if min_flux_jy is not None:
        flux = flux[flux >= min_flux_jy]
    names = ("flux_lo_jy", "flux_hi_jy", "flux_mid_jy", "n", "area_sr", "euclidean", "error")
    if flux.size < 2:
        return Table(names=(*names, *REFERENCE_COUNTS))
    edges = np.geomspace(flux.min(), flux.max() * (1 + 1e-9), bins + 1)
    n = np.histogram(flux, edges)[0]
    mid = np.sqrt(edges[:-1] * edges[1:])
    area = area_sr(mid)
    width = np.diff(edges)
    with np.errstate(invalid="ignore", divide="ignore"):
        euclidean = np.where(area > 0, mid**2.5 * n / (width * area), np.nan)
        error = np.where(area > 0, mid**2.5 * np.sqrt(n) / (width * area), np.nan)
    table = Table(
        {
            "flux_lo_jy": edges[:-1],
            "flux_hi_jy": edges[1:],
            "flux_mid_jy": mid,
            "n": n,
            "area_sr": area,
            "euclidean": euclidean,
            "error": error,
        }
    )
    for name in REFERENCE_COUNTS:
        model = load_source_counts(name)
        inside = (mid >= model.min_flux_jy) & (mid <= model.max_flux_jy)
        table[name] = np.where(inside, model.euclidean(mid), np.nan)
    return table


def to_1p4ghz(flux_jy: np.ndarray, frequency_hz: float, spectral_index: float) -> np.ndarray:
    """Scale fluxes at ``frequency_hz`` to 1.4 GHz with S ∝ ν^α."""
    return np.asarray(flux_jy, dtype=float) * (COUNTS_FREQUENCY_HZ / frequency_hz) ** spectral_index


def psf_table(images: Sequence[str | os.PathLike[str]]) -> Table:
    """Restoring beam (BMAJ, BMIN in arcsec; BPA in deg) of each image."""
    rows = []
    for image in images:
        header = fits.getheader(image)
        rows.append(
            (
                Path(image).name,
                float(header.get("BMAJ", np.nan)) * 3600.0,
                float(header.get("BMIN", np.nan)) * 3600.0,
                float(header.get("BPA", np.nan)),
            )
        )
    return Table(
        rows=rows or None,
        names=("image", "bmaj_arcsec", "bmin_arcsec", "bpa_deg"),
        dtype=(str, float, float, float),
    )
