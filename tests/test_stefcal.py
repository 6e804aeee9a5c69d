"""StEFCal recovers known gains (from the real AO file) to within their statistical errors."""

from __future__ import annotations

import numpy as np
import pytest

from flint.calibration.jones import correct, corrupt, diagonal_to_jones
from flint.calibration.solutions import read_solutions
from flint.calibration.stefcal import accumulate, solve_gains, stefcal

N_ANT = 36
# thermal noise of one ASKAP visibility: SEFD 1800 Jy, 1 MHz, 10 s -> per real part
DEFAULT_SIGMA_JY = 1800.0 / np.sqrt(2 * 1e6 * 10.0)


def true_gains(path) -> np.ndarray:
    """XX and YY gains [nChan, 2, nAnt] of the real file, flagged channels set to 0.1."""
    gains = read_solutions(path).gains[0][..., [0, 3]]  # [ant, chan, 2]
    gains = np.where(np.isfinite(gains), gains, 0.1)
    return gains.transpose(1, 2, 0)


def simulate(gains: np.ndarray, n_time: int, sigma_jy: float, seed: int = 3):
    """Rows of a 1934-like point source (14 Jy, random fringe phases), corrupted, plus noise."""
    rng = np.random.default_rng(seed)
    n_chan = gains.shape[0]
    a1, a2 = np.triu_indices(N_ANT, 1)
    ant1, ant2 = np.tile(a1, n_time), np.tile(a2, n_time)
    phase = rng.uniform(0, 2 * np.pi, (len(ant1), 1)) * np.linspace(1, 1.4, n_chan)
    model = np.zeros((len(ant1), n_chan, 4), complex)
    model[..., 0] = model[..., 3] = 14.0 * np.exp(1j * phase)
    jones = diagonal_to_jones(gains.transpose(2, 0, 1))  # [ant, chan, 4]
    data = corrupt(model, jones, ant1, ant2)
    scale = np.median(np.abs(gains)) ** 2  # noise in data units
    data += scale * sigma_jy * (rng.normal(size=data.shape) + 1j * rng.normal(size=data.shape))
    return data, model, ant1, ant2


def normalised_errors(result, truth):
    """Amplitude and phase errors divided by their predicted 1-sigma (global phase removed)."""
    rotation = np.exp(-1j * np.angle(np.nansum(result.gains * truth.conj(), axis=-1)))
    aligned = result.gains * rotation[..., None]
    unit = truth / np.abs(truth)
    difference = (aligned - truth) * unit.conj()
    return difference.real / result.gain_sigma, difference.imag / result.gain_sigma, aligned


@pytest.fixture(scope="module")
def gains(real_solutions_path):
    return true_gains(real_solutions_path)


def test_errors_match_prediction_at_low_snr(gains):
    data, model, ant1, ant2 = simulate(gains, n_time=3, sigma_jy=30 * DEFAULT_SIGMA_JY)
    result = solve_gains(data[..., [0, 3]], model[..., [0, 3]], ant1, ant2, N_ANT)
    assert result.converged.all()
    amplitude, phase, _ = normalised_errors(result, gains)
    # the solver's own error estimate is honest: normalised errors have unit rms overall ...
    assert np.sqrt(np.mean(amplitude**2)) == pytest.approx(1.0, abs=0.05)
    assert np.sqrt(np.mean(phase**2)) == pytest.approx(1.0, abs=0.05)
    # ... and every channel agrees with truth within 3x its expected error
    per_channel = np.sqrt(np.mean(amplitude**2 + phase**2, axis=-1) / 2)
    assert per_channel.max() < 3.0
    # noise estimate recovers the injected noise (complex rms, data units)
    injected = np.median(np.abs(gains)) ** 2 * 30 * DEFAULT_SIGMA_JY * np.sqrt(2)
    assert np.median(result.noise_sigma) == pytest.approx(injected, rel=0.02)


def test_default_snr_within_one_percent_and_one_degree(gains):
    # two minutes (12 x 10 s) on the calibrator per beam, as in an ASKAP bandpass scan
    data, model, ant1, ant2 = simulate(gains, n_time=12, sigma_jy=DEFAULT_SIGMA_JY)
    result = solve_gains(data[..., [0, 3]], model[..., [0, 3]], ant1, ant2, N_ANT)
    _, _, aligned = normalised_errors(result, gains)
    ratio = aligned / gains
    assert np.abs(np.abs(ratio) - 1).max() < 0.01
    assert np.degrees(np.abs(np.angle(ratio))).max() < 1.0


def test_flags_make_nan_gains_and_do_not_bias_others(gains):
    data, model, ant1, ant2 = simulate(gains[:16], n_time=2, sigma_jy=DEFAULT_SIGMA_JY)
    flags = np.zeros(data.shape, bool)
    flags[(ant1 == 5) | (ant2 == 5)] = True  # antenna 5 fully flagged
    flags[:, 7] = True  # channel 7 fully flagged
    data[(ant1 == 9) & (ant2 == 10), 3] = 1e6  # garbage on a flagged visibility
    flags[(ant1 == 9) & (ant2 == 10), 3] = True
    result = solve_gains(
        data[..., [0, 3]], model[..., [0, 3]], ant1, ant2, N_ANT, flags=flags[..., [0, 3]]
    )
    assert np.isnan(result.gains[:, :, 5]).all()
    assert np.isnan(result.gains[7]).all()
    good = np.ones(result.gains.shape, bool)
    good[:, :, 5] = False
    good[7] = False
    assert np.isfinite(result.gains[good]).all()
    amplitude, phase, _ = normalised_errors(result, gains[:16])
    assert np.nanmax(np.abs(amplitude)) < 5 and np.nanmax(np.abs(phase)) < 5


def test_accumulating_in_chunks_equals_one_pass(gains):
    data, model, ant1, ant2 = simulate(gains[:8], n_time=4, sigma_jy=DEFAULT_SIGMA_JY)
    whole = accumulate(data, model, ant1, ant2, N_ANT)
    halves = accumulate(data[:1000], model[:1000], ant1[:1000], ant2[:1000], N_ANT)
    halves = accumulate(data[1000:], model[1000:], ant1[1000:], ant2[1000:], N_ANT, into=halves)
    np.testing.assert_allclose(halves.vm, whole.vm, rtol=1e-12)
    # antenna order within a row does not matter
    swapped = accumulate(data.conj(), model.conj(), ant2, ant1, N_ANT)
    np.testing.assert_allclose(swapped.vm, whole.vm, rtol=1e-12)
    np.testing.assert_allclose(stefcal(swapped).gains, stefcal(whole).gains, rtol=1e-8)


def test_reading_xx_yy_in_place_and_a_shared_spectrum_equal_explicit_copies(gains):
    """The bandpass solver's fast path: 4-correlation rows, a point source at the phase
    centre (one spectrum for every row) and flags give the same sums as sliced copies."""
    data, _, ant1, ant2 = simulate(gains[:8], n_time=3, sigma_jy=DEFAULT_SIGMA_JY)
    rng = np.random.default_rng(5)
    flags = rng.random(data.shape) < 0.1
    data[rng.random(data.shape) < 0.01] = np.nan  # skipped like flagged data
    spectrum = 14.0 * np.exp(1j * np.linspace(0, 1, 8))
    full_model = np.broadcast_to(spectrum[None, :, None], (len(ant1), 8, 2)).copy()
    explicit = accumulate(
        data[..., [0, 3]].copy(), full_model, ant1, ant2, N_ANT, flags=flags[..., [0, 3]].copy()
    )
    fast = accumulate(
        data, spectrum[None, :, None], ant1, ant2, N_ANT, flags=flags, correlations=(0, -1)
    )
    for name in ("vm", "mm", "vv", "count"):
        np.testing.assert_allclose(getattr(fast, name), getattr(explicit, name), rtol=1e-12)
    assert (
        explicit.count.sum()
        == (~flags[..., [0, 3]] & np.isfinite(data[..., [0, 3]]))[ant1 != ant2].sum()
    )


def test_correct_inverts_corrupt_with_full_jones(real_solutions_path):
    jones = read_solutions(real_solutions_path).gains[0][:, :10]  # real leakage terms
    rng = np.random.default_rng(0)
    a1, a2 = np.triu_indices(N_ANT, 1)
    vis = rng.normal(size=(len(a1), 10, 4)) + 1j * rng.normal(size=(len(a1), 10, 4))
    restored = correct(corrupt(vis, jones, a1, a2), jones, a1, a2)
    np.testing.assert_allclose(restored, vis, atol=1e-9)
