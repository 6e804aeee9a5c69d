"""Instrumental corruptions: bandpasses, slowly varying antenna phases, noise and RFI.

Jones convention: V_obs(p, q) = J_p V J_q^H with J_p(t, ν) = exp(iφ_p(t)) B_p(ν), B_p a
2×2 matrix [[g_XX, d_XY], [d_YX, g_YY]] (the AO ``calibrate`` solution layout).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import gaussian_filter1d

from flint.errors import SolutionsError

logger = logging.getLogger(__name__)


def generated_bandpass(
    n_antennas: int,
    frequencies_hz: NDArray[np.float64],
    rng: np.random.Generator,
    ripple: float = 0.05,
    delay_ns: float = 3.0,
) -> NDArray[np.complex128]:
    """[nant, nchan, 2, 2] diagonal bandpasses: per-antenna amplitude, ripple, phase slope."""
    nchan = len(frequencies_hz)
    span = max(frequencies_hz.max() - frequencies_hz.min(), 1.0)
    x = (frequencies_hz - frequencies_hz.min()) / span
    gains = np.zeros((n_antennas, nchan, 2, 2), dtype=np.complex128)
    for pol in range(2):
        level = rng.normal(1.0, 0.1, (n_antennas, 1)).clip(0.5, 1.5)
        periods = rng.uniform(2.0, 8.0, (n_antennas, 3, 1))
        shifts = rng.uniform(0, 2 * np.pi, (n_antennas, 3, 1))
        wiggle = ripple / np.sqrt(3) * np.sin(2 * np.pi * periods * x + shifts).sum(axis=1)
        delay = rng.normal(0.0, delay_ns * 1e-9, (n_antennas, 1))
        offset = rng.uniform(-np.pi, np.pi, (n_antennas, 1))
        phase = offset + 2 * np.pi * delay * (frequencies_hz - frequencies_hz.mean())
        gains[:, :, pol, pol] = level * (1.0 + wiggle) * np.exp(1j * phase)
    return gains


def bandpass_from_solutions(
    path: str | os.PathLike[str],
    n_antennas: int,
    n_native_channels: int,
    channel_average: int,
    normalise: bool = True,
) -> NDArray[np.complex128]:
    """[nant, nchan_out, 2, 2] Jones bandpasses from an AO solutions file (NaN = flagged).

    The file's first interval is used; its first ``n_antennas`` antennas and first
    ``n_native_channels`` channels (taken to start at the simulation's first channel
    with the same width), averaged over ``channel_average``. ``normalise`` divides
    by the median |XX|, |YY| gain so the typical amplitude is 1 (the shape, the phases
    and the small cross terms are kept).
    """
    from flint.calibration.solutions import read_solutions

    solutions = read_solutions(path)
    gains = solutions.gains
    _, n_ant, n_chan, n_pol = gains.shape
    problems = []
    if n_ant < n_antennas:
        problems.append(f"has {n_ant} antennas, the simulation needs {n_antennas}")
    if n_chan < n_native_channels:
        problems.append(f"has {n_chan} channels, the simulation needs {n_native_channels}")
    if problems:
        raise SolutionsError("; ".join(problems), path)
    block = gains[0, :n_antennas, :n_native_channels, :]
    if n_pol == 1:
        block = np.stack([block[..., 0], 0 * block[..., 0], 0 * block[..., 0], block[..., 0]], -1)
    elif n_pol == 2:
        block = np.stack([block[..., 0], 0 * block[..., 0], 0 * block[..., 0], block[..., 1]], -1)
    if channel_average > 1:
        flagged = np.isnan(block).reshape(n_antennas, -1, channel_average, 4).any(axis=2)
        block = block.reshape(n_antennas, -1, channel_average, 4).mean(axis=2)
        block[flagged] = np.nan
    if normalise:
        scale = np.nanmedian(np.abs(block[..., [0, 3]]))
        if not np.isfinite(scale) or scale == 0:
            raise SolutionsError("every XX/YY gain is flagged or zero", path)
        block = block / scale
    if np.isnan(block).all():
        raise SolutionsError("every gain is flagged", path)
    logger.info("Bandpass from %s: %d antennas x %d channels", path, n_antennas, block.shape[1])
    return block.reshape(n_antennas, -1, 2, 2).astype(np.complex128)


def antenna_phases(
    n_times: int,
    n_antennas: int,
    integration_s: float,
    rms_deg: float,
    timescale_s: float,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """[ntime, nant] radians: Gaussian-smoothed white noise (correlation time ``timescale_s``).

    Each antenna's series is scaled to exactly ``rms_deg`` about zero mean.
    """
    if rms_deg == 0 or n_times == 0:
        return np.zeros((n_times, n_antennas))
    width = timescale_s / integration_s
    pad = int(4 * width) + 1
    white = rng.standard_normal((n_times + 2 * pad, n_antennas))
    smooth = gaussian_filter1d(white, width, axis=0, mode="wrap")[pad : pad + n_times]
    smooth -= smooth.mean(axis=0)
    std = smooth.std(axis=0)
    std[std == 0] = 1.0
    return np.deg2rad(rms_deg) * smooth / std


@dataclass(frozen=True)
class RFIPattern:
    """Which (time, channel) samples carry RFI, and its strength."""

    mask: NDArray[np.bool_]  # [ntime, nchan]
    amplitude_jy: float


def rfi_pattern(
    n_times: int,
    n_channels: int,
    channel_fraction: float,
    burst_fraction: float,
    amplitude_jy: float,
    rng: np.random.Generator,
) -> RFIPattern:
    """Persistent narrow-band channels plus broadband bursts in whole integrations."""
    mask = np.zeros((n_times, n_channels), dtype=bool)
    n_bad = round(channel_fraction * n_channels)
    n_burst = round(burst_fraction * n_times)
    if n_bad:
        mask[:, rng.choice(n_channels, n_bad, replace=False)] = True
    if n_burst:
        mask[rng.choice(n_times, n_burst, replace=False), :] = True
    return RFIPattern(mask, amplitude_jy)


def baseline_gain_products(
    bandpass: NDArray[np.complex128], ant1: NDArray[np.integer], ant2: NDArray[np.integer]
) -> NDArray[np.complex128]:
    """[nbl, nchan, 4] B_p B_q^H flattened (XX, XY, YX, YY) for each baseline (p, q)."""
    product = np.einsum("bkij,bklj->bkil", bandpass[ant1], bandpass[ant2].conj())
    return product.reshape(len(ant1), bandpass.shape[1], 4)
