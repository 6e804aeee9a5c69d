"""Predict Stokes-I visibilities of point and Gaussian components.

Convention (the measurement-set/CASA one, which wsclean images correctly): for a row
whose UVW (m) is X[ANTENNA2] − X[ANTENNA1] (as casacore computes it),

    V(u, v, w) = Σ_s S_s · exp(+2πi (u l_s + v m_s + w (n_s − 1)) ν / c)

with (l, m) the direction cosines of component s east and north of the phase centre
(codex-africanus calls this sign ``convention="casa"``). The end-to-end wsclean test
checks it: the opposite sign images every source at its mirror position.

Two paths:

- :func:`predict_dft`: exact direct Fourier transform, numba-jitted, parallel over
  rows. Across channels (uniformly spaced) the phasor obeys the recurrence
  phasor(ν_k+1) = phasor(ν_k) · step, so each (row, channel, component) costs a
  few multiply-adds and no trigonometry. Cost ∝ components.
- :func:`predict_gridder`: for many components. Each component is spread onto a
  model image with a truncated Gaussian kernel K (σ = 0.8 pixel, pixel = 1/(6 u_max));
  ducc0's w-gridder degrids that image and every visibility is divided by the
  kernel's Fourier transform K̂(u, v), which undoes the spreading, so sources keep
  their exact (off-grid) positions. Spectra (times primary beam) are fitted with a
  Chebyshev polynomial in frequency, one image per term. Errors: aliasing of K̂
  (~e^{-π²} ≈ 5e-5 at the band edge), the kernel truncation (~1e-5), the fit, the
  gridder's ``epsilon`` and a w-term approximation across the kernel width
  (∝ w·l·pixel); relative errors are ~1e-4 to 1e-3, measured against the DFT in the tests.
  Cost ∝ image size × terms + visibilities × terms, independent of the number of
  components; measured (benchmarks/bench_simulate.py) at ~1e5 visibilities/s/core
  against the DFT's ~5.8e6 × 150 / ncomp, so it only wins beyond ~10^4 components. Memory ∝ image
  size = (component extent · 6 u_max)² pixels, capped at ``GRIDDER_MAX_PIXELS``
  (a compact field, or short baselines); ``predict="auto"`` falls back to the DFT
  beyond it.
"""

from __future__ import annotations

import logging
import math

import numba
import numpy as np
from numpy.typing import NDArray

from flint.errors import InputError

logger = logging.getLogger(__name__)

SPEED_OF_LIGHT = 299_792_458.0
# exponent of a Gaussian's Fourier transform: FWHM θ -> exp(-(π θ u)² / (4 ln 2))
_GAUSS = math.pi**2 / (4.0 * math.log(2.0))
# gridder spreading: pixel = 1 / (2 s u_max); Gaussian kernel σ (pixels), truncated at ±half.
# Aliasing of K̂ ~ exp(-2π²σ²((2s−1)²−1)/(4s²)) ≈ 2e-4; the w-term error ∝ (σ/s)².
_OVERSAMPLE = 3.0
_KERNEL_SIGMA = 0.8
_KERNEL_HALF_WIDTH = 4


def direction_cosines(
    ra_rad: NDArray[np.float64], dec_rad: NDArray[np.float64], ra0_rad: float, dec0_rad: float
) -> NDArray[np.float64]:
    """[ncomp, 3] (l, m, n − 1) of directions relative to the phase centre (SIN projection)."""
    delta = ra_rad - ra0_rad
    east = np.cos(dec_rad) * np.sin(delta)
    north = np.sin(dec_rad) * np.cos(dec0_rad) - np.cos(dec_rad) * np.sin(dec0_rad) * np.cos(delta)
    n = np.sin(dec_rad) * np.sin(dec0_rad) + np.cos(dec_rad) * np.cos(dec0_rad) * np.cos(delta)
    # n − 1 without cancellation: 1 − n = (l² + m²) / (1 + n) for the visible hemisphere
    return np.stack([east, north, -(east * east + north * north) / (1.0 + n)], axis=1)


# fastmath lets LLVM vectorise the sum over components (reassociation only)
@numba.njit(parallel=True, cache=True, fastmath=True)
def _dft_points(uvw, f0, df, lmn, flux_t, out):  # pragma: no cover - compiled
    nrow, nchan = out.shape
    ncomp = lmn.shape[0]
    scale = 2.0 * math.pi / 299_792_458.0
    for row in numba.prange(nrow):
        pr = np.empty(ncomp)
        pi = np.empty(ncomp)
        sr = np.empty(ncomp)
        si = np.empty(ncomp)
        u, v, w = uvw[row, 0], uvw[row, 1], uvw[row, 2]
        for c in range(ncomp):
            delay = scale * (u * lmn[c, 0] + v * lmn[c, 1] + w * lmn[c, 2])
            pr[c] = math.cos(delay * f0)
            pi[c] = math.sin(delay * f0)
            sr[c] = math.cos(delay * df)
            si[c] = math.sin(delay * df)
        for k in range(nchan):
            acc_r = 0.0
            acc_i = 0.0
            for c in range(ncomp):
                s = flux_t[k, c]
                a = pr[c]
                b = pi[c]
                acc_r += s * a
                acc_i += s * b
                pr[c] = a * sr[c] - b * si[c]
                pi[c] = a * si[c] + b * sr[c]
            out[row, k] += complex(acc_r, acc_i)


@numba.njit(parallel=True, cache=True, fastmath=False)
def _dft_gaussians(uvw, f0, df, lmn, flux_t, shape, out):  # pragma: no cover - compiled
    # shape[c] = (major_rad, minor_rad, pa_rad); the taper exp(-Q ν²) follows the
    # second-order recurrence T_k+1 = T_k r_k, r_k+1 = r_k q.
    nrow, nchan = out.shape
    ncomp = lmn.shape[0]
    scale = 2.0 * math.pi / 299_792_458.0
    gauss = math.pi**2 / (4.0 * math.log(2.0)) / 299_792_458.0**2
    for row in numba.prange(nrow):
        u, v, w = uvw[row, 0], uvw[row, 1], uvw[row, 2]
        for c in range(ncomp):
            delay = scale * (u * lmn[c, 0] + v * lmn[c, 1] + w * lmn[c, 2])
            pr = math.cos(delay * f0)
            pi = math.sin(delay * f0)
            sr = math.cos(delay * df)
            si = math.sin(delay * df)
            sin_pa = math.sin(shape[c, 2])
            cos_pa = math.cos(shape[c, 2])
            along = u * sin_pa + v * cos_pa
            across = u * cos_pa - v * sin_pa
            q_coeff = gauss * ((shape[c, 0] * along) ** 2 + (shape[c, 1] * across) ** 2)
            taper = math.exp(-q_coeff * f0 * f0)
            ratio = math.exp(-q_coeff * (2.0 * f0 * df + df * df))
            growth = math.exp(-2.0 * q_coeff * df * df)
            for k in range(nchan):
                s = flux_t[k, c] * taper
                out[row, k] += complex(s * pr, s * pi)
                a = pr
                pr = a * sr - pi * si
                pi = a * si + pi * sr
                taper *= ratio
                ratio *= growth


def _channel_step(frequencies_hz: NDArray[np.float64]) -> tuple[float, float]:
    frequencies = np.asarray(frequencies_hz, dtype=float)
    if frequencies.size == 1:
        return float(frequencies[0]), 0.0
    steps = np.diff(frequencies)
    if not np.allclose(steps, steps[0], rtol=1e-9, atol=1e-3):
        raise InputError("the DFT predict needs uniformly spaced channels")
    return float(frequencies[0]), float((frequencies[-1] - frequencies[0]) / (frequencies.size - 1))


def predict_dft(
    uvw_m: NDArray[np.float64],
    frequencies_hz: NDArray[np.float64],
    lmn: NDArray[np.float64],
    flux: NDArray[np.float64],
    shape_rad: NDArray[np.float64] | None = None,
    out: NDArray[np.complex128] | None = None,
) -> NDArray[np.complex128]:
    """Exact Stokes-I visibilities [nrow, nchan] (added into ``out`` if given).

    ``lmn`` [ncomp, 3] from :func:`direction_cosines`; ``flux`` [ncomp, nchan] apparent
    Jy; ``shape_rad`` [ncomp, 3] (FWHM major, minor, PA east of north) with zeros for
    points.
    """
    uvw_m = np.ascontiguousarray(uvw_m, dtype=np.float64)
    f0, df = _channel_step(frequencies_hz)
    if out is None:
        out = np.zeros((uvw_m.shape[0], len(frequencies_hz)), dtype=np.complex128)
    if len(lmn) == 0:
        return out
    flux_t = np.ascontiguousarray(np.asarray(flux, dtype=np.float64).T)
    lmn = np.ascontiguousarray(lmn, dtype=np.float64)
    extended = np.zeros(len(lmn), dtype=bool) if shape_rad is None else shape_rad[:, 0] > 0
    if (~extended).any():
        _dft_points(uvw_m, f0, df, lmn[~extended], np.ascontiguousarray(flux_t[:, ~extended]), out)
    if extended.any():
        shape = np.ascontiguousarray(shape_rad[extended], dtype=np.float64)
        _dft_gaussians(
            uvw_m, f0, df, lmn[extended], np.ascontiguousarray(flux_t[:, extended]), shape, out
        )
    return out


def _chebyshev_fit(
    frequencies_hz: NDArray[np.float64], flux: NDArray[np.float64], tolerance: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Coefficients [nterm, ncomp] and basis [nterm, nchan] with max error <= tolerance·max|S|."""
    low, high = frequencies_hz.min(), frequencies_hz.max()
    x = (
        np.zeros_like(frequencies_hz)
        if high == low
        else (2 * frequencies_hz - low - high) / (high - low)
    )
    limit = max(np.abs(flux).max(), 1e-30) * tolerance
    for nterm in range(1, min(len(frequencies_hz), 16) + 1):
        basis = np.polynomial.chebyshev.chebvander(x, nterm - 1).T  # [nterm, nchan]
        coefficients, *_ = np.linalg.lstsq(basis.T, flux.T, rcond=None)
        if np.abs(coefficients.T @ basis - flux).max() <= limit:
            break
    else:
        logger.warning("spectral fit of the gridder predict reached 16 terms above tolerance")
    return coefficients, basis


GRIDDER_MAX_PIXELS = 4096**2


def gridder_image_pixels(max_uv_m: float, max_frequency_hz: float, lmn: NDArray[np.float64]) -> int:
    """Pixels of the gridder's model image: (extent of the components · 2 s u_max)²."""
    if len(lmn) == 0:
        return 0
    u_max = max(max_uv_m * max_frequency_hz / SPEED_OF_LIGHT, 1.0)
    pixel = 1.0 / (2.0 * _OVERSAMPLE * u_max)
    extent = lmn[:, :2].max(axis=0) - lmn[:, :2].min(axis=0)
    return int(np.prod(extent / pixel + 2 * _KERNEL_HALF_WIDTH + 4))


def predict_gridder(
    uvw_m: NDArray[np.float64],
    frequencies_hz: NDArray[np.float64],
    lmn: NDArray[np.float64],
    flux: NDArray[np.float64],
    epsilon: float = 1e-5,
    threads: int = 1,
    out: NDArray[np.complex128] | None = None,
) -> NDArray[np.complex128]:
    """Approximate Stokes-I visibilities of point components with ducc0 (see module doc)."""
    try:
        from ducc0.wgridder.experimental import dirty2vis
    except ImportError as error:  # pragma: no cover - optional extra
        raise InputError(
            "predict='gridder' needs ducc0: pip install 'flint-workbench[gridder]'"
        ) from error
    uvw_m = np.ascontiguousarray(uvw_m, dtype=np.float64)
    frequencies_hz = np.asarray(frequencies_hz, dtype=float)
    if out is None:
        out = np.zeros((uvw_m.shape[0], len(frequencies_hz)), dtype=np.complex128)
    if len(lmn) == 0 or len(uvw_m) == 0:
        return out
    pixels = gridder_image_pixels(np.abs(uvw_m[:, :2]).max(), frequencies_hz.max(), lmn)
    if pixels > GRIDDER_MAX_PIXELS:
        raise InputError(
            f"the gridder's model image would need {pixels:.3g} pixels (limit "
            f"{GRIDDER_MAX_PIXELS:.3g}): the components span too wide a field for these "
            "baselines; use predict='dft'"
        )
    u_max = max(np.abs(uvw_m[:, :2]).max() * frequencies_hz.max() / SPEED_OF_LIGHT, 1.0)
    pixel = 1.0 / (2.0 * _OVERSAMPLE * u_max)
    sigma, half = _KERNEL_SIGMA, _KERNEL_HALF_WIDTH
    lower = lmn[:, :2].min(axis=0)
    upper = lmn[:, :2].max(axis=0)
    centre = 0.5 * (lower + upper)
    npix = [
        max(32, 2 * math.ceil(((hi - lo) / pixel + 2 * half + 4) / 2))
        for lo, hi in zip(lower, upper, strict=True)
    ]
    # pixel (i, j) sits at l = centre_l + (i − npix/2) pixel, same for m
    position = (lmn[:, :2] - centre) / pixel + np.array(npix) / 2.0
    nearest = np.rint(position).astype(int)
    offsets = np.arange(-half, half + 1)
    coefficients, basis = _chebyshev_fit(
        frequencies_hz, np.asarray(flux, float), 0.1 * epsilon + 1e-7
    )
    weights_l = np.exp(-0.5 * ((nearest[:, 0:1] + offsets - position[:, 0:1]) / sigma) ** 2)
    weights_m = np.exp(-0.5 * ((nearest[:, 1:2] + offsets - position[:, 1:2]) / sigma) ** 2)
    norm = 1.0 / (2.0 * math.pi * sigma**2)
    u_over_pixel = uvw_m[:, 0:1] * frequencies_hz / SPEED_OF_LIGHT * pixel
    v_over_pixel = uvw_m[:, 1:2] * frequencies_hz / SPEED_OF_LIGHT * pixel
    # K̂ of the continuous unit-integral Gaussian at the visibility (pixel units), and the
    # phase of the image centre offset (dirty2vis phases relative to its own centre too)
    correction = np.exp(2.0 * math.pi**2 * sigma**2 * (u_over_pixel**2 + v_over_pixel**2))
    for term in range(coefficients.shape[0]):
        image = np.zeros(npix)
        values = coefficients[term][:, None, None] * weights_l[:, :, None] * weights_m[:, None, :]
        rows = nearest[:, 0:1, None] + offsets[None, :, None]
        cols = nearest[:, 1:2, None] + offsets[None, None, :]
        np.add.at(
            image,
            (np.broadcast_to(rows, values.shape), np.broadcast_to(cols, values.shape)),
            values * norm,
        )
        vis = dirty2vis(
            uvw=uvw_m,
            freq=frequencies_hz,
            dirty=image,
            pixsize_x=pixel,
            pixsize_y=pixel,
            center_x=-float(centre[0]),  # with flip_u/flip_v ducc0 negates the centre too
            center_y=-float(centre[1]),
            epsilon=epsilon,
            do_wgridding=True,
            divide_by_n=False,
            flip_u=True,  # ducc0's own sign is exp(−2πi(ul + vm) + 2πi w(n − 1))
            flip_v=True,
            nthreads=max(threads, 1),
        )
        out += vis * correction * basis[term]
    return out
