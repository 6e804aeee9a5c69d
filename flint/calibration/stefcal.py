"""StEFCal: per-antenna complex gains from visibilities and a sky model.

Solves ``V_pq = g_p M_pq conj(g_q)`` in the weighted least-squares sense for each
channel and polarisation independently (diagonal Jones: XX and YY), with the
alternating direction update of Salvini & Wijnholds (2014, A&A 571, A97): with the
other antennas fixed, each ``g_p`` has a closed-form solution, and averaging every
second iterate with the previous one makes the iteration converge.

Gains are constant over the solution interval, so the data enter only through two
per-baseline sums accumulated in one pass (``accumulate``):

    A_pq = sum_t w V conj(M),   B_pq = sum_t w |M|^2

after which each iteration costs O(nAnt^2) per channel, independent of the number
of integrations. ``solve_gains`` wraps both steps.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numba
import numpy as np

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NormalEquations:
    """Per-baseline sums for one solution interval, ``[nAnt, nAnt, nChan, nPol]`` with p < q.

    ``vm[p, q] = sum w V_pq conj(M_pq)``, ``mm = sum w |M_pq|^2``, ``vv = sum w |V_pq|^2``
    and ``count`` the number of unflagged visibilities (lower triangle stays zero).
    """

    vm: np.ndarray
    mm: np.ndarray
    vv: np.ndarray
    count: np.ndarray

    @property
    def n_ant(self) -> int:
        return int(self.vm.shape[0])

    def __add__(self, other: NormalEquations) -> NormalEquations:
        return NormalEquations(
            self.vm + other.vm, self.mm + other.mm, self.vv + other.vv, self.count + other.count
        )


@dataclass(frozen=True)
class StefcalResult:
    """Gains ``[nChan, nPol, nAnt]`` (NaN = unsolved) and what the solve learnt."""

    gains: np.ndarray
    gain_sigma: np.ndarray
    """1-sigma error of the real and of the imaginary part of each gain (from residuals)."""
    noise_sigma: np.ndarray
    """Estimated rms of one complex visibility's noise, per ``[nChan, nPol]``."""
    iterations: np.ndarray
    converged: np.ndarray


@numba.njit(inline="always", cache=True)
def _index(i, size):  # pragma: no cover
    """Index ``i`` along an axis of length ``size``, broadcasting a length-1 axis."""
    return i if size > 1 else 0


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _accumulate(
    data, model, weight, flags, ant1, ant2, corr, vm, mm, vv, count
):  # pragma: no cover
    """One pass over rows; ``model``, ``weight``, ``flags`` broadcast over length-1 axes.

    ``corr[k]`` is the correlation of ``data``/``flags``/``weight`` (last axis) that goes
    to polarisation ``k`` of the sums; ``model``'s last axis is indexed by ``k``.
    """
    nrow, nchan = data.shape[0], data.shape[1]
    npol = corr.shape[0]
    for row in range(nrow):
        p = ant1[row]
        q = ant2[row]
        if p == q:
            continue
        sign = 1.0
        if p > q:  # V_qp = conj(V_pq): conjugate data and model
            p, q = q, p
            sign = -1.0
        # this row's slices, so the inner loop indexes short contiguous arrays
        vm_pq, mm_pq, vv_pq, count_pq = vm[p, q], mm[p, q], vv[p, q], count[p, q]
        data_row = data[row]
        model_row = model[_index(row, model.shape[0])]
        weight_row = weight[_index(row, weight.shape[0])]
        flags_row = flags[_index(row, flags.shape[0])]
        for c in range(nchan):
            mc = _index(c, model.shape[1])
            wc = _index(c, weight.shape[1])
            fc = _index(c, flags.shape[1])
            for k in range(npol):
                j = corr[k]
                if flags_row[fc, _index(j, flags.shape[2])]:
                    continue
                w = weight_row[wc, _index(j, weight.shape[2])]
                if w <= 0.0:
                    continue
                v = data_row[c, j]
                vr = np.float64(v.real)
                vi = sign * np.float64(v.imag)
                if not (np.isfinite(vr) and np.isfinite(vi)):
                    continue
                m = model_row[mc, _index(k, model.shape[2])]
                mre = m.real
                mim = sign * m.imag
                # w V conj(M)
                vm_pq[c, k] += complex(w * (vr * mre + vi * mim), w * (vi * mre - vr * mim))
                mm_pq[c, k] += w * (mre * mre + mim * mim)
                vv_pq[c, k] += w * (vr * vr + vi * vi)
                count_pq[c, k] += 1


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _accumulate_spectrum(
    data, spectrum, flags, ant1, ant2, corr, vm, mm, vv, count
):  # pragma: no cover
    """:func:`_accumulate` for unit weights and a model ``spectrum[c]`` shared by all rows."""
    nrow, nchan = data.shape[0], data.shape[1]
    npol = corr.shape[0]
    power = np.empty(nchan)
    for c in range(nchan):
        power[c] = spectrum[c].real ** 2 + spectrum[c].imag ** 2
    for row in range(nrow):
        p = ant1[row]
        q = ant2[row]
        if p == q:
            continue
        sign = 1.0
        if p > q:
            p, q = q, p
            sign = -1.0
        vm_pq, mm_pq, vv_pq, count_pq = vm[p, q], mm[p, q], vv[p, q], count[p, q]
        data_row, flags_row = data[row], flags[row]
        for c in range(nchan):
            mre = spectrum[c].real
            mim = sign * spectrum[c].imag
            for k in range(npol):
                j = corr[k]
                if flags_row[c, j]:
                    continue
                v = data_row[c, j]
                vr = np.float64(v.real)
                vi = sign * np.float64(v.imag)
                if not (np.isfinite(vr) and np.isfinite(vi)):
                    continue
                vm_pq[c, k] += complex(vr * mre + vi * mim, vi * mre - vr * mim)
                mm_pq[c, k] += power[c]
                vv_pq[c, k] += vr * vr + vi * vi
                count_pq[c, k] += 1


def empty_equations(n_chan: int, n_pol: int, n_ant: int) -> NormalEquations:
    """Zeroed sums to accumulate into."""
    shape = (n_ant, n_ant, n_chan, n_pol)
    return NormalEquations(
        np.zeros(shape, np.complex128),
        np.zeros(shape),
        np.zeros(shape),
        np.zeros(shape, np.int64),
    )


def _as_3d(values: np.ndarray | None, fill, dtype) -> np.ndarray:
    if values is None:
        return np.full((1, 1, 1), fill, dtype=dtype)
    values = np.asarray(values)
    if values.dtype != dtype:
        values = values.astype(dtype)
    return values.reshape((1,) * (3 - values.ndim) + values.shape)


def accumulate(
    data: np.ndarray,
    model: np.ndarray,
    ant1: np.ndarray,
    ant2: np.ndarray,
    n_ant: int,
    weight: np.ndarray | None = None,
    flags: np.ndarray | None = None,
    into: NormalEquations | None = None,
    correlations: tuple[int, ...] | None = None,
) -> NormalEquations:
    """Add rows ``[nRow, nChan, nCorr]`` of data and model to the normal equations.

    ``correlations`` picks the correlations of ``data`` (and ``flags``, ``weight``) that
    are solved, e.g. ``(0, 3)`` for XX and YY of a 4-correlation column (default: all),
    so no sliced copy of the data is made. ``model`` is ``[nRow, nChan, nPol]`` or
    broadcasts to it (``[1, nChan, 1]`` is a spectrum shared by every row and
    polarisation); ``weight`` and ``flags`` broadcast likewise. Flagged, zero-weight,
    non-finite and auto-correlation visibilities are skipped.
    """
    n_chan = data.shape[1]
    corr = np.arange(data.shape[2]) if correlations is None else np.asarray(correlations)
    corr = np.where(corr < 0, corr + data.shape[2], corr).astype(np.int64)
    equations = into if into is not None else empty_equations(n_chan, len(corr), n_ant)
    model = np.asarray(model)
    model = _as_3d(model, 1.0, model.dtype if np.iscomplexobj(model) else np.complex128)
    ant1 = np.asarray(ant1, dtype=np.int64)
    ant2 = np.asarray(ant2, dtype=np.int64)
    sums = (equations.vm, equations.mm, equations.vv, equations.count)
    if (
        weight is None
        and flags is not None
        and np.shape(flags) == data.shape
        and model.shape[0] == 1
        and model.shape[2] == 1
    ):  # the common case (a calibrator's spectrum): a kernel without broadcasting
        spectrum = np.ascontiguousarray(np.broadcast_to(model[0, :, 0], (n_chan,)))
        _accumulate_spectrum(data, spectrum, np.asarray(flags, bool), ant1, ant2, corr, *sums)
        return equations
    _accumulate(
        data,
        model,
        _as_3d(weight, 1.0, np.float64),
        _as_3d(flags, False, np.bool_),
        ant1,
        ant2,
        corr,
        *sums,
    )
    return equations


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _usable(count, min_baselines, usable):  # pragma: no cover
    """Antennas with enough baselines to other usable antennas (pruned to a fixed point)."""
    n_ant = count.shape[0]
    for p in range(n_ant):
        usable[p] = True
    changed = True
    while changed:
        changed = False
        for p in range(n_ant):
            if not usable[p]:
                continue
            degree = 0
            for q in range(n_ant):
                if q != p and usable[q] and count[min(p, q), max(p, q)] > 0:
                    degree += 1
            if degree < min_baselines:
                usable[p] = False
                changed = True


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _full_matrices(vm_pq, mm_pq, usable, v_re, v_im, m):  # pragma: no cover
    """Hermitian ``V`` (as real and imaginary parts) and symmetric ``M`` among usable antennas."""
    n_ant = usable.shape[0]
    for p in range(n_ant):
        v_re[p, p] = v_im[p, p] = m[p, p] = 0.0
        for q in range(p + 1, n_ant):
            keep = usable[p] and usable[q]
            v_re[p, q] = v_re[q, p] = vm_pq[p, q].real if keep else 0.0
            v_im[p, q] = vm_pq[p, q].imag if keep else 0.0
            v_im[q, p] = -v_im[p, q]
            m[p, q] = m[q, p] = mm_pq[p, q] if keep else 0.0


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _iterate(v_re, v_im, m, usable, g, max_iterations, tolerance):  # pragma: no cover
    """StEFCal iterations from ``g`` (updated in place); returns (iterations, converged)."""
    n_ant = g.shape[0]
    g_re, g_im, g_power = np.empty(n_ant), np.empty(n_ant), np.empty(n_ant)
    new = np.empty(n_ant, np.complex128)
    for iteration in range(1, max_iterations + 1):
        for q in range(n_ant):
            g_re[q], g_im[q] = g[q].real, g[q].imag
            g_power[q] = g_re[q] * g_re[q] + g_im[q] * g_im[q]
        for p in range(n_ant):
            num_re = num_im = den = 0.0
            if usable[p]:
                for q in range(n_ant):  # sum_q V_pq g_q and sum_q M_pq |g_q|^2
                    num_re += v_re[p, q] * g_re[q] - v_im[p, q] * g_im[q]
                    num_im += v_re[p, q] * g_im[q] + v_im[p, q] * g_re[q]
                    den += m[p, q] * g_power[q]
            new[p] = complex(num_re, num_im) / den if den > 0 else 0j
        if iteration % 2 == 0:  # averaging every second step makes the iteration converge
            for p in range(n_ant):
                new[p] = 0.5 * (new[p] + g[p])
        change = size = 0.0
        for p in range(n_ant):
            d = new[p] - g[p]
            change += d.real * d.real + d.imag * d.imag
            size += new[p].real * new[p].real + new[p].imag * new[p].imag
            g[p] = new[p]
        if np.sqrt(change) < tolerance * max(np.sqrt(size), 1e-300):
            return iteration, True
    return max_iterations, False


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _errors(vm_pq, mm_pq, vv_pq, count_pq, m, usable, g, sigma):  # pragma: no cover
    """Noise variance of one visibility from the weighted residual sum, and each gain's
    1-sigma error (real or imaginary part) into ``sigma``; returns the noise rms."""
    n_ant = g.shape[0]
    g_power = np.empty(n_ant)
    for p in range(n_ant):
        g_power[p] = g[p].real * g[p].real + g[p].imag * g[p].imag
    residual = 0.0
    n_vis = 0
    n_usable = 0
    for p in range(n_ant):
        if not usable[p]:
            continue
        n_usable += 1
        for q in range(p + 1, n_ant):
            if usable[q]:
                # sum w |V - g_p M g_q*|^2 = vv - 2 Re(g_p* g_q vm) + |g_p|^2 |g_q|^2 mm
                cross = np.conj(g[p]) * g[q] * vm_pq[p, q]
                power = g_power[p] * g_power[q]
                residual += vv_pq[p, q] - 2 * cross.real + power * mm_pq[p, q]
                n_vis += count_pq[p, q]
    dof = 2 * n_vis - (2 * n_usable - 1)  # real data less complex gains but one phase
    variance = 2 * max(residual, 0.0) / dof if dof > 0 else np.nan
    for p in range(n_ant):
        information = 0.0
        for q in range(n_ant):
            information += m[p, q] * g_power[q]
        sigma[p] = np.sqrt(variance / (2 * information)) if usable[p] else np.nan
    return np.sqrt(variance)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _solve(
    vm,
    mm,
    vv,
    count,
    min_baselines,
    max_iterations,
    tolerance,
    initial,
    warm,
    gains,
    sigma,
    noise,
    iterations,
    converged,
):  # pragma: no cover
    """StEFCal per channel and polarisation on the small per-baseline sums only.

    The sums are stored ``[p, q, c, k]`` (what accumulation wants); they are copied a
    block of channels at a time to ``[c, k, p, q]`` so each solve reads contiguous memory.
    """
    n_ant, n_chan, n_pol = vm.shape[0], vm.shape[2], vm.shape[3]
    block = 8
    block_vm = np.zeros((block, n_pol, n_ant, n_ant), np.complex128)
    block_mm = np.zeros((block, n_pol, n_ant, n_ant))
    block_vv = np.zeros((block, n_pol, n_ant, n_ant))
    block_count = np.zeros((block, n_pol, n_ant, n_ant), np.int64)
    v_re, v_im, m = np.zeros((n_ant, n_ant)), np.zeros((n_ant, n_ant)), np.zeros((n_ant, n_ant))
    usable = np.zeros(n_ant, np.bool_)
    g = np.zeros(n_ant, np.complex128)
    previous = np.zeros((n_pol, n_ant), np.complex128)
    previous_ok = np.zeros(n_pol, np.bool_)
    for first in range(0, n_chan, block):
        width = min(block, n_chan - first)
        for p in range(n_ant):
            for q in range(p + 1, n_ant):
                for dc in range(width):
                    for k in range(n_pol):
                        block_vm[dc, k, p, q] = vm[p, q, first + dc, k]
                        block_mm[dc, k, p, q] = mm[p, q, first + dc, k]
                        block_vv[dc, k, p, q] = vv[p, q, first + dc, k]
                        block_count[dc, k, p, q] = count[p, q, first + dc, k]
        for dc in range(width):
            for k in range(n_pol):
                c = first + dc
                _usable(block_count[dc, k], min_baselines, usable)
                if not usable.any():
                    gains[c, k, :] = np.nan + 1j * np.nan
                    sigma[c, k, :] = np.nan
                    noise[c, k] = np.nan
                    converged[c, k] = True
                    previous_ok[k] = False
                    continue
                _full_matrices(block_vm[dc, k], block_mm[dc, k], usable, v_re, v_im, m)
                for p in range(n_ant):
                    if not usable[p]:
                        g[p] = 0
                    elif initial.shape[0] > 0:
                        value = initial[c, k, p]
                        finite = np.isfinite(value.real) and np.isfinite(value.imag)
                        g[p] = value if finite else 1.0
                    elif warm and previous_ok[k] and previous[k, p] != 0:
                        g[p] = previous[k, p]  # bandpasses are smooth
                    else:  # amplitude from the ratio of data to model power
                        num = complex(v_re[p].sum(), v_im[p].sum())
                        den = m[p].sum()
                        g[p] = np.sqrt(max(abs(num) / den if den > 0 else 0.0, 1e-12))
                iterations[c, k], converged[c, k] = _iterate(
                    v_re, v_im, m, usable, g, max_iterations, tolerance
                )
                noise[c, k] = _errors(
                    block_vm[dc, k],
                    block_mm[dc, k],
                    block_vv[dc, k],
                    block_count[dc, k],
                    m,
                    usable,
                    g,
                    sigma[c, k],
                )
                for p in range(n_ant):
                    gains[c, k, p] = g[p] if usable[p] else np.nan + 1j * np.nan
                    if usable[p]:
                        previous[k, p] = g[p]
                previous_ok[k] = converged[c, k]


def stefcal(
    equations: NormalEquations,
    max_iterations: int = 200,
    tolerance: float = 1e-10,
    min_baselines: int = 4,
    initial: np.ndarray | None = None,
    warm_start: bool = True,
) -> StefcalResult:
    """Solve the gains from accumulated normal equations.

    An antenna with fewer than ``min_baselines`` unflagged baselines (to other solvable
    antennas) in a channel and polarisation gets a NaN gain there. Without ``initial``
    gains, each channel starts from the previous channel's converged solution
    (``warm_start``; bandpasses are smooth) or from the data-to-model power ratio. The
    phase of the solution is arbitrary (referencing is
    :func:`flint.calibration.repair.reference_phase`'s job).
    """
    n_ant, _, n_chan, n_pol = equations.vm.shape
    gains = np.zeros((n_chan, n_pol, n_ant), np.complex128)
    sigma = np.zeros((n_chan, n_pol, n_ant))
    noise = np.zeros((n_chan, n_pol))
    iterations = np.zeros((n_chan, n_pol), np.int64)
    converged = np.zeros((n_chan, n_pol), np.bool_)
    start = (
        np.zeros((0, 0, 0), np.complex128)
        if initial is None
        else np.ascontiguousarray(initial, dtype=np.complex128)
    )
    _solve(
        equations.vm,
        equations.mm,
        equations.vv,
        equations.count,
        min_baselines,
        max_iterations,
        tolerance,
        start,
        warm_start,
        gains,
        sigma,
        noise,
        iterations,
        converged,
    )
    if (~converged).any():
        logger.warning(
            "StEFCal did not converge in %d of %d channel/polarisations",
            (~converged).sum(),
            converged.size,
        )
    return StefcalResult(gains, sigma, noise, iterations, converged)


def solve_gains(
    data: np.ndarray,
    model: np.ndarray,
    ant1: np.ndarray,
    ant2: np.ndarray,
    n_ant: int,
    flags: np.ndarray | None = None,
    weight: np.ndarray | None = None,
    **options,
) -> StefcalResult:
    """Solve gains ``[nChan, nPol, nAnt]`` from rows ``[nRow, nChan, nPol]`` in one call."""
    equations = accumulate(data, model, ant1, ant2, n_ant, weight=weight, flags=flags)
    return stefcal(equations, **options)
