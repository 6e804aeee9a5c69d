"""Repairing solutions: injected outliers are found, the clean real bandpass is left alone."""

from __future__ import annotations

import json

import numpy as np
import pytest

from flint.calibration.repair import (
    RepairOptions,
    flag_outliers,
    reference_phase,
    repair_solutions,
    smooth,
)
from flint.calibration.solutions import read_solutions
from flint.calibration.summary import summarise_solutions


@pytest.fixture
def real(real_solutions_path):
    return read_solutions(real_solutions_path)


def test_real_bandpass_passes_untouched(real):
    gains, report = flag_outliers(real.gains[0])
    assert report.flagged_fraction_after == report.flagged_fraction_before
    expected = np.broadcast_to(np.isfinite(real.gains[0]).all(-1)[..., None], gains.shape)
    np.testing.assert_array_equal(np.isfinite(gains), expected)


def test_injected_problems_are_flagged_and_nothing_else(real):
    gains = real.gains[0].copy()
    gains[3, 100, 0] *= 1.5  # amplitude spike
    gains[7, 50, 3] *= np.exp(1j * np.radians(40))  # phase jump
    gains[9, 200, 0] *= 1.12  # XX/YY ratio off by 12 %
    gains[11, :180] = np.nan  # mostly flagged antenna
    out, report = flag_outliers(gains)
    assert 100 in report.amplitude[3]
    assert report.phase[7] == [50]
    assert 200 in report.ratio.get(9, []) + report.amplitude.get(9, [])
    assert report.antennas == [11]
    newly = np.isnan(out).all(-1) & np.isfinite(gains).all(-1)
    expected = {(3, 100), (7, 50), (9, 200)} | {(11, c) for c in range(180, 288)}
    assert {tuple(x) for x in np.argwhere(newly)} == expected - {(11, 216), (11, 233)}


def test_reference_phase_keeps_phase_differences(real):
    gains = real.gains[0]
    referenced = reference_phase(gains, 4)
    assert np.nanmax(np.abs(np.angle(referenced[4, :, [0, 3]]))) < 1e-12
    before = gains[:, :, 0] * gains[5, :, 0].conj()
    after = referenced[:, :, 0] * referenced[5, :, 0].conj()
    np.testing.assert_allclose(after, before, rtol=1e-12)


def test_smoothing_reduces_noise_on_a_smooth_bandpass(real):
    rng = np.random.default_rng(2)
    truth = smooth(real.gains[0], 31, 2)  # a smooth bandpass with the real shape
    noisy = truth + 0.003 * (rng.normal(size=truth.shape) + 1j * rng.normal(size=truth.shape))
    smoothed = smooth(noisy, 15, 2)
    error_before = np.nanstd(noisy[..., 0] - truth[..., 0])
    error_after = np.nanstd(smoothed[..., 0] - truth[..., 0])
    assert error_after < 0.5 * error_before
    assert np.array_equal(np.isnan(smoothed), np.isnan(noisy))
    with pytest.raises(ValueError, match="odd"):
        smooth(noisy, 8)


def test_repair_and_summary(real, tmp_path):
    gains = real.gains.copy()
    gains[0, 2, :] = np.nan
    repaired, report = repair_solutions(real.with_gains(gains), RepairOptions(smooth_window=9))
    assert report.reference_antenna == 0
    summary = summarise_solutions(repaired)
    assert summary.fully_flagged_antennas == [2]
    assert summary.fully_flagged_channels == [216, 233]
    assert summary.median_amplitude["XX"] == pytest.approx(0.101, abs=0.002)
    json.dumps(summary.model_dump(mode="json"))


def test_cli_flag_and_inspect(real_solutions_path, tmp_path, capsys):
    import argparse
    import shutil

    from flint.cli import solutions as plugin

    parser = argparse.ArgumentParser()
    plugin.register(parser.add_subparsers())
    copy = tmp_path / "SB1.beam0.bin"
    shutil.copy(real_solutions_path, copy)
    args = parser.parse_args(["solutions", "flag", str(copy), "--json"])
    assert args.handler(args) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["flagged_antennas"] == []
    assert read_solutions(printed["output"]).n_chan == 288
    args = parser.parse_args(["solutions", "inspect", str(copy), "--json"])
    args.handler(args)
    assert json.loads(capsys.readouterr().out)["fully_flagged_channels"] == [216, 233]
