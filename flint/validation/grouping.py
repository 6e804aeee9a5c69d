"""Group components that blend at an image's resolution: one expected source per group.

Two components blend when they are closer than the mean of their sizes as the image shows
them: their FWHM major axes convolved with the restoring beam (a point shows as the beam),
i.e. separation < (√(θ_i² + B²) + √(θ_j² + B²)) / 2. Groups are the connected sets of
blending pairs (friends of friends), so a chain of blending components is one source.
A source finder's components are grouped by the same rule with their fitted sizes, which
already include the beam. Each group has the summed flux, the flux-weighted position, and
its extent (the largest distance across it, sizes included).
"""

from __future__ import annotations

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def blend_groups(
    ra_deg: NDArray[np.float64],
    dec_deg: NDArray[np.float64],
    shown_size_arcsec: NDArray[np.float64],
) -> NDArray[np.int64]:
    """Group number of each component; ``shown_size_arcsec`` is its size in the image."""
    count = len(ra_deg)
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    size = np.asarray(shown_size_arcsec, dtype=float)
    coords = SkyCoord(np.asarray(ra_deg) * u.deg, np.asarray(dec_deg) * u.deg)
    first, second, separation, _ = coords.search_around_sky(coords, size.max() * u.arcsec)
    blended = (first < second) & (
        separation.to_value(u.arcsec) < 0.5 * (size[first] + size[second])
    )
    graph = coo_matrix(
        (np.ones(int(blended.sum())), (first[blended], second[blended])), shape=(count, count)
    )
    _, labels = connected_components(graph, directed=False)
    return labels.astype(np.int64)


def _extent(ra, dec, major) -> float:
    """Largest distance across components (their FWHM major axes included) [arcsec]."""
    if len(ra) == 1:
        return float(major[0])
    coords = SkyCoord(ra * u.deg, dec * u.deg)
    distance = coords[:, np.newaxis].separation(coords[np.newaxis, :]).to_value(u.arcsec)
    return float(np.max(distance + 0.5 * (major[:, np.newaxis] + major[np.newaxis, :])))


def _centroid(ra, dec, weight) -> tuple[float, float]:
    """Weighted mean direction (unit vectors; weights clipped at 0, equal if none positive)."""
    weight = np.clip(np.asarray(weight, dtype=float), 0.0, None)
    if not weight.sum() > 0:
        weight = np.ones_like(weight)
    ra, dec = np.deg2rad(ra), np.deg2rad(dec)
    x = np.sum(weight * np.cos(dec) * np.cos(ra))
    y = np.sum(weight * np.cos(dec) * np.sin(ra))
    z = np.sum(weight * np.sin(dec))
    return float(np.degrees(np.arctan2(y, x)) % 360.0), float(
        np.degrees(np.arctan2(z, np.hypot(x, y)))
    )


def group_table(
    table: Table,
    labels: NDArray[np.int64],
    ra_column: str,
    dec_column: str,
    flux_column: str,
    major_column: str | None,
    name_column: str | None = None,
) -> Table:
    """One row per group: ``group``, position (flux-weighted), summed flux, members, extent."""
    ra = np.asarray(table[ra_column], dtype=float)
    dec = np.asarray(table[dec_column], dtype=float)
    flux = np.asarray(table[flux_column], dtype=float)
    major = (
        np.nan_to_num(np.asarray(table[major_column], dtype=float))
        if major_column
        else np.zeros(len(table))
    )
    names = (
        np.asarray(table[name_column], dtype=str)
        if name_column
        else np.arange(len(table)).astype(str)
    )
    rows = []
    for group in np.unique(labels):
        members = np.flatnonzero(labels == group)
        centre = _centroid(ra[members], dec[members], flux[members])
        rows.append(
            (
                int(group),
                *centre,
                float(flux[members].sum()),
                len(members),
                ";".join(names[members]),
                _extent(ra[members], dec[members], major[members]),
            )
        )
    return Table(
        rows=rows or None,
        names=(
            "group",
            ra_column,
            dec_column,
            flux_column,
            "n_components",
            "members",
            "extent_arcsec",
        ),
        dtype=(int, float, float, float, int, str, float),
    )
