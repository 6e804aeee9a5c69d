"""MWAOCAL solutions: reading, writing, byte-identical round trip and bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

from flint.calibration.solutions import (
    HEADER_BYTES,
    AOSolutions,
    read_solutions,
    write_solutions,
)
from flint.errors import SolutionsError


def test_real_file_header_and_content(real_solutions_path):
    solutions = read_solutions(real_solutions_path)
    assert solutions.gains.shape == (1, 36, 288, 4)
    assert solutions.polarisations == ("XX", "XY", "YX", "YY")
    # documented in tests/data/PROVENANCE.md: 99.3 % finite, 2 channels flagged everywhere
    assert np.isfinite(solutions.gains).mean() == pytest.approx(0.993, abs=0.001)
    flagged_channels = np.where(solutions.flags[0].all(axis=(0, 2)))[0]
    assert len(flagged_channels) == 2
    median = np.nanmedian(np.abs(solutions.gains[0]), axis=(0, 1))
    assert median[0] == pytest.approx(0.101, abs=0.001)
    assert median[3] == pytest.approx(0.098, abs=0.001)
    assert median[1] < 0.01 and median[2] < 0.01


def test_round_trip_is_byte_identical(real_solutions_path, tmp_path):
    solutions = read_solutions(real_solutions_path)
    out = write_solutions(solutions, tmp_path / "copy.bin")
    assert out.read_bytes() == real_solutions_path.read_bytes()
    assert read_solutions(out).equals(solutions)


def test_written_values_survive(tmp_path):
    rng = np.random.default_rng(1)
    gains = rng.normal(size=(2, 3, 5, 2)) + 1j * rng.normal(size=(2, 3, 5, 2))
    gains[1, 2, 4, 0] = np.nan
    solutions = AOSolutions(gains, start_time=5.0e9, end_time=5.1e9)
    back = read_solutions(write_solutions(solutions, tmp_path / "s.bin"))
    assert back.polarisations == ("XX", "YY")
    assert (back.start_time, back.end_time) == (5.0e9, 5.1e9)
    np.testing.assert_array_equal(back.gains, gains)
    assert back.flags.sum() == 1


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda raw: b"XXXXXXXX" + raw[8:], "bad magic b'XXXXXXXX'"),
        (lambda raw: raw[:-16], r"bytes; header \(1, 36, 288, 4\)"),
        (lambda raw: raw + b"\0" * 16, r"bytes; header \(1, 36, 288, 4\)"),
        (lambda raw: raw[:20], "shorter than the 48-byte header"),
        (lambda raw: raw[:28] + (3).to_bytes(4, "little") + raw[32:], "nPol is 3"),
    ],
)
def test_bad_files_raise_naming_the_file(real_solutions_path, tmp_path, mutate, message):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(mutate(real_solutions_path.read_bytes()))
    with pytest.raises(SolutionsError, match=message) as error:
        read_solutions(bad)
    assert str(bad) in str(error.value)


def test_missing_file(tmp_path):
    with pytest.raises(SolutionsError, match="no such solutions file"):
        read_solutions(tmp_path / "nothing.bin")


def test_refused_overwrite_leaves_file_and_no_temporaries(tmp_path):
    target = tmp_path / "never.bin"
    solutions = AOSolutions(np.ones((1, 2, 3, 4), complex))
    write_solutions(solutions, target)
    with pytest.raises(FileExistsError):
        write_solutions(solutions, target, overwrite=False)
    assert target.stat().st_size == HEADER_BYTES + 24 * 16
    assert [p.name for p in tmp_path.iterdir()] == ["never.bin"]


def test_bad_shapes_rejected():
    with pytest.raises(SolutionsError, match="4-d"):
        AOSolutions(np.ones((2, 3, 4), complex))
    with pytest.raises(SolutionsError, match="nPol must be 1, 2 or 4"):
        AOSolutions(np.ones((1, 2, 3, 3), complex))
