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


@numba.njit(cache=True, nogil=True)
def _accumulate(data, model, weight, flags, ant1, ant2, vm, mm, vv, count):  # pragma: no cover
    nrow, nchan, npol = data.shape
    for row in range(nrow):
        p = ant1[row]
        q = ant2[row]
        if p == q:
            continue
        swap = p > q
        if swap:
            p, q = q, p
        for c in range(nchan):
            for k in range(npol):
                w = weight[row, c, k]
                if flags[row, c, k] or w <= 0.0:
                    continue
                v = data[row, c, k]
                if not (np.isfinite(v.real) and np.isfinite(v.imag)):
                    continue
                m = model[row, c, k]
                product = w * v * np.conj(m)
                vm[p, q, c, k] += np.conj(product) if swap else product
                mm[p, q, c, k] += w * (m.real * m.real + m.imag * m.imag)
                vv[p, q, c, k] += w * (v.real * v.real + v.imag * v.imag)
                count[p, q, c, k] += 1


def empty_equations(n_chan: int, n_pol: int, n_ant: int) -> NormalEquations:
    """Zeroed sums to accumulate into."""
    shape = (n_ant, n_ant, n_chan, n_pol)
    return NormalEquations(
        np.zeros(shape, np.complex128),
        np.zeros(shape),
        np.zeros(shape),
        np.zeros(shape, np.int64),
    )


def accumulate(
    data: np.ndarray,
    model: np.ndarray,
    ant1: np.ndarray,
    ant2: np.ndarray,
    n_ant: int,
    weight: np.ndarray | None = None,
    flags: np.ndarray | None = None,
    into: NormalEquations | None = None,
) -> NormalEquations:
    """Add rows ``[nRow, nChan, nPol]`` of data and model to the normal equations.

    Flagged, zero-weight, non-finite and auto-correlation visibilities are skipped.
    """
    n_chan, n_pol = data.shape[1:]
    equations = into if into is not None else empty_equations(n_chan, n_pol, n_ant)
    weight = np.broadcast_to(np.float64(1.0) if weight is None else weight, data.shape)
    flags = np.broadcast_to(np.False_ if flags is None else flags, data.shape)
    _accumulate(
        data,
        model,
        weight.astype(np.float64, copy=False),
        flags,
        np.asarray(ant1, dtype=np.int64),
        np.asarray(ant2, dtype=np.int64),
        equations.vm,
        equations.mm,
        equations.vv,
        equations.count,
    )
    return equations


def _square(upper: np.ndarray, hermitian: bool) -> np.ndarray:
    """Upper-triangle sums ``[p, q, c, k]`` to full ``[c, k, p, q]`` matrices."""
    lower = np.swapaxes(upper, 0, 1)
    full = upper + (lower.conj() if hermitian else lower)
    return np.ascontiguousarray(full.transpose(2, 3, 0, 1))


def stefcal(
    equations: NormalEquations,
    max_iterations: int = 200,
    tolerance: float = 1e-10,
    min_baselines: int = 4,
    initial: np.ndarray | None = None,
) -> StefcalResult:
    """Solve the gains from accumulated normal equations.

    An antenna with fewer than ``min_baselines`` unflagged baselines in a channel
    and polarisation gets a NaN gain there. The phase of the solution is arbitrary
    (referencing is :func:`flint.calibration.repair.reference_phase`'s job).
    """
    vm = _square(equations.vm, hermitian=True)
    mm = _square(equations.mm, hermitian=False)
    present = _square(equations.count, hermitian=False) > 0
    n_chan, n_pol, n_ant, _ = vm.shape
    usable = present.sum(axis=-1) >= min_baselines  # [c, k, p]
    # drop antennas that cannot be solved, so they do not bias the others
    for _ in range(n_ant):
        keep = usable[..., :, None] & usable[..., None, :]
        counts = (present & keep).sum(axis=-1)
        now = usable & (counts >= min_baselines)
        if (now == usable).all():
            break
        usable = now
    keep = usable[..., :, None] & usable[..., None, :]
    vm = np.where(keep, vm, 0)
    mm = np.where(keep, mm, 0)

    if initial is None:
        # amplitude guess from the ratio of data to model power
        power = np.where(mm.sum(-1) > 0, np.abs(vm.sum(-1)) / np.maximum(mm.sum(-1), 1e-300), 0)
        gains = np.sqrt(np.maximum(power, 1e-12)).astype(np.complex128)
    else:
        gains = np.where(np.isfinite(initial), initial, 1.0).astype(np.complex128)
    gains = np.where(usable, gains, 0)
    iterations = np.zeros((n_chan, n_pol), np.int64)
    active = usable.any(axis=-1)
    for iteration in range(1, max_iterations + 1):
        if not active.any():
            break
        numerator = np.matmul(vm, gains[..., None])[..., 0]
        denominator = np.matmul(mm, (gains * gains.conj()).real[..., None])[..., 0]
        new = np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)
        if iteration % 2 == 0:
            new = 0.5 * (new + gains)
        change = np.linalg.norm(new - gains, axis=-1) / np.maximum(
            np.linalg.norm(new, axis=-1), 1e-300
        )
        gains = np.where(active[..., None], new, gains)
        iterations[active] = iteration
        active &= change >= tolerance
    converged = ~active

    noise, sigma = _errors(equations, vm, mm, gains, usable)
    gains = np.where(usable, gains, np.nan + 1j * np.nan)
    if (~converged).any():
        logger.warning(
            "StEFCal did not converge in %d of %d channel/polarisations",
            (~converged).sum(),
            converged.size,
        )
    return StefcalResult(gains, sigma, noise, iterations, converged)


def _errors(
    equations: NormalEquations,
    vm: np.ndarray,
    mm: np.ndarray,
    gains: np.ndarray,
    usable: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Noise rms from the weighted residual sum and the resulting gain errors."""
    keep = usable[..., :, None] & usable[..., None, :]
    vv = _square(equations.vv, hermitian=False)
    count = _square(equations.count, hermitian=False)
    gp = gains[..., :, None]
    gq = gains[..., None, :]
    # sum_t w |V - gp M gq*|^2 = vv - 2 Re(conj(gp) gq vm) + |gp|^2 |gq|^2 mm
    residual = vv - 2 * (gp.conj() * gq * vm).real + (np.abs(gp) ** 2) * (np.abs(gq) ** 2) * mm
    residual = np.where(keep, residual, 0).sum(axis=(-1, -2)) / 2  # each baseline counted twice
    n_vis = np.where(keep, count, 0).sum(axis=(-1, -2)) / 2
    n_unknowns = 2 * usable.sum(-1) - 1  # complex gains less one overall phase
    dof = 2 * n_vis - n_unknowns  # real degrees of freedom
    with np.errstate(invalid="ignore", divide="ignore"):
        noise_var = np.where(dof > 0, 2 * np.maximum(residual, 0) / dof, np.nan)
        information = np.einsum("ckpq,ckq->ckp", np.where(keep, mm, 0), np.abs(gains) ** 2)
        sigma = np.sqrt(noise_var[..., None] / (2 * information))
    sigma = np.where(usable, sigma, np.nan)
    return np.sqrt(noise_var), sigma


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
