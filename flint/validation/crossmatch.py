"""One-to-one positional cross-match of a catalogue with the truth."""

from __future__ import annotations

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table


def crossmatch(
    truth: Table,
    catalogue: Table,
    radius_arcsec: float,
    flux_column: str = "int_flux",
) -> Table:
    """The truth table with its nearest catalogue component within ``radius_arcsec``.

    Each component matches at most one truth source (the closest). Adds columns
    ``matched``, ``index`` (row in ``catalogue`` or -1), ``ra_cat``, ``dec_cat``,
    ``flux_cat``, ``ra_offset_arcsec`` (ΔRA·cos δ, catalogue − truth),
    ``dec_offset_arcsec`` and ``separation_arcsec``.
    """
    matched = Table(truth, copy=True)
    n = len(truth)
    index = np.full(n, -1)
    separation = np.full(n, np.nan)
    if n and len(catalogue):
        true_coords = SkyCoord(truth["ra_deg"] * u.deg, truth["dec_deg"] * u.deg)
        cat_coords = SkyCoord(
            np.asarray(catalogue["ra"], dtype=float) * u.deg,
            np.asarray(catalogue["dec"], dtype=float) * u.deg,
        )
        nearest, sep, _ = true_coords.match_to_catalog_sky(cat_coords)
        sep = sep.to_value(u.arcsec)
        taken: set[int] = set()
        for row in np.argsort(sep):
            if sep[row] > radius_arcsec:
                break
            if int(nearest[row]) not in taken:
                taken.add(int(nearest[row]))
                index[row] = nearest[row]
                separation[row] = sep[row]
    found = index >= 0
    pick = np.where(found, index, 0)

    def column(name: str) -> np.ndarray:
        if not len(catalogue):
            return np.full(n, np.nan)
        return np.where(found, np.asarray(catalogue[name], dtype=float)[pick], np.nan)

    ra_cat, dec_cat = column("ra"), column("dec")
    matched["matched"] = found
    matched["index"] = index
    matched["ra_cat"] = ra_cat
    matched["dec_cat"] = dec_cat
    matched["flux_cat"] = column(flux_column)
    d_ra = (ra_cat - np.asarray(truth["ra_deg"]) + 180.0) % 360.0 - 180.0
    matched["ra_offset_arcsec"] = d_ra * np.cos(np.deg2rad(np.asarray(truth["dec_deg"]))) * 3600.0
    matched["dec_offset_arcsec"] = (dec_cat - np.asarray(truth["dec_deg"])) * 3600.0
    matched["separation_arcsec"] = separation
    return matched
