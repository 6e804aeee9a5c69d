"""A self-calibration model from fitted components, and constant phases from it.

A model made from an image carries the imprint of the phase errors that image was made
with; a source finder's Gaussian fits keep each source's position, flux and size but not
that imprint. Solving one phase per antenna for the whole observation against them, on
data already corrected by gains solved against the image's model, removes the constant
errors that solve hands from round to round (:func:`with_constant_phases`).
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from flint.calibration.model import stokes_i_to_correlations
from flint.calibration.repair import reference_phase
from flint.calibration.solutions import AOSolutions
from flint.errors import InputError
from flint.ms import open_ms, row_chunks
from flint.ms.columns import add_column
from flint.selfcal.gains import DIAGONAL

logger = logging.getLogger(__name__)


def predict_components(
    ms: str | os.PathLike[str], catalogue: str | os.PathLike[str], column: str
) -> int:
    """Predict ``catalogue``'s components into ``column`` of ``ms`` (added if missing);
    return how many there are.

    The catalogue is read as :func:`flint.sky.io.read_sky` reads any table (sizes
    deconvolved from its restoring beam). Its fluxes are taken as they were measured, on an
    image without primary-beam correction at the band's centre, and flat across the band.
    """
    from flint.simulation.predict import direction_cosines, predict_dft
    from flint.sky.io import read_sky

    ms, catalogue = Path(ms), Path(catalogue)
    if not catalogue.is_file():
        raise InputError("component catalogue to predict does not exist", catalogue)
    with open_ms(ms, "SPECTRAL_WINDOW") as tab:
        frequencies = np.asarray(tab.getcell("CHAN_FREQ", 0), dtype=np.float64)
    with open_ms(ms, "FIELD") as tab:
        ra0, dec0 = tab.getcol("PHASE_DIR")[0, 0]
    sky = read_sky(catalogue, reference_hz=float(frequencies.mean()), spectral_index=0.0)
    flux = sky.flux_at(frequencies)
    lmn = direction_cosines(np.radians(sky.ra_deg), np.radians(sky.dec_deg), ra0, dec0)
    shape = np.radians(
        np.column_stack([sky.major_arcsec / 3600.0, sky.minor_arcsec / 3600.0, sky.pa_deg])
    )
    shape[sky.kinds != "gaussian"] = 0.0
    add_column(ms, column, like="DATA", fill=None, exist_ok=True)
    with open_ms(ms, readonly=False) as tab:
        n_corr = tab.getcell("DATA", 0).shape[-1]
        for first, rows in row_chunks(tab):
            stokes_i = predict_dft(
                tab.getcol("UVW", startrow=first, nrow=rows), frequencies, lmn, flux, shape
            )
            model = stokes_i_to_correlations(stokes_i, n_corr).astype(np.complex64)
            tab.putcol(column, model, startrow=first, nrow=rows)
    logger.info(
        "Predicted %d components (%.3f Jy) of %s into %s of %s",
        len(sky), float(flux.mean(axis=1).sum()) if len(sky) else 0.0, catalogue, column, ms,
    )  # fmt: skip
    return len(sky)


def with_constant_phases(solutions: AOSolutions, constant: AOSolutions, refant: int) -> AOSolutions:
    """``solutions`` times ``constant`` (one solution for the whole observation), on the
    diagonal, referenced to ``refant`` again. Unsolved (NaN) constants leave a gain as it was."""
    if constant.n_sol != 1:
        raise ValueError(f"constant phases need one solution interval, got {constant.n_sol}")
    factor = constant.gains[0][None]
    factor = np.where(np.isfinite(factor), factor, 1.0)
    gains = np.array(solutions.gains)
    for pol in DIAGONAL if gains.shape[-1] == 4 else range(gains.shape[-1]):
        gains[..., pol] = gains[..., pol] * factor[..., pol]
    gains = np.stack([reference_phase(interval, refant) for interval in gains])
    return replace(solutions, gains=gains)
