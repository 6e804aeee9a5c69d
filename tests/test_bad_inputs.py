"""Bad input: one clear line naming the file and the field, exit 1, nothing written."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

from flint.calibration.apply import apply_solutions
from flint.calibration.solutions import AOSolutions, write_solutions
from flint.cli import main
from flint.errors import SolutionsError
from flint.naming import parse_ms_name
from flint.simulate import SimulationOptions, simulate_calibrator

TINY = SimulationOptions(
    beams=[0, 1], n_antennas=6, n_channels=8, duration_s=60.0, phase_rms_deg=0.0, seed=3
)


@pytest.fixture(scope="module")
def tiny_scan(tmp_path_factory):
    """Two beams of a 6-antenna, 8-channel, 1-minute scan (a second to simulate)."""
    return simulate_calibrator(tmp_path_factory.mktemp("tiny"), TINY)


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("selfcal_rounds: [1,\n", r"bad\.yaml: not valid YAML: line 2, column 1: "),
        ("", r"bad\.yaml: the file is empty; a strategy is a mapping"),
        ("- 1\n- 2\n", r"bad\.yaml: holds a list, not a mapping; a strategy is a mapping"),
        (
            "version: 1\nselfcal_rounds: 1\nrounds:\n  3:\n    imaging: {niter: 10}\n",
            r"bad\.yaml: rounds\.3: no such round; rounds run from 0 to selfcal_rounds \(1\)",
        ),
    ],
    ids=["yaml-syntax", "empty", "not-a-mapping", "unknown-round"],
)
def test_bad_strategy_refused_before_anything_is_written(
    text, message, tiny_scan, tmp_path, capsys
):
    strategy = tmp_path / "bad.yaml"
    strategy.write_text(text)
    output = tmp_path / "out"
    argv = [
        "continuum",
        str(tiny_scan.sbid_dir),
        "--bandpass",
        str(tmp_path),
        "--output",
        str(output),
    ]
    assert main([*argv, "--strategy", str(strategy)]) == 1
    assert re.search(message, _error_line(capsys))
    assert not output.exists()


def test_cluster_yaml_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "cluster.yaml"
    bad.write_text("cluster_class: [\n")
    assert main(["cluster", "check", str(bad)]) == 1
    assert "cluster.yaml: not valid YAML: line 2, column 1" in _error_line(capsys)


def test_missing_beam_and_non_measurement_sets_are_named(tiny_scan, tmp_path, capsys):
    output = tmp_path / "out"
    argv = ["bandpass", str(tiny_scan.sbid_dir), "--output", str(output)]
    assert main([*argv, "--beams", "0", "7"]) == 1
    line = _error_line(capsys)
    assert f"{tiny_scan.sbid_dir}: beam(s) 7 requested but not found (found beams 0, 1)" in line
    fake = tmp_path / "fake"
    shutil.copytree(tiny_scan.sbid_dir, fake)
    (beam1,) = [ms for ms in fake.glob("*.ms") if parse_ms_name(ms).beam == 1]
    shutil.rmtree(beam1 / "ANTENNA")  # a casacore table, but not a measurement set
    assert main(["bandpass", str(fake), "--output", str(output)]) == 1
    assert f"{beam1}: not a measurement set (a casacore table without an ANTENNA" in (
        _error_line(capsys)
    )
    assert main(["ms", "summary", str(tmp_path)]) == 1
    assert f"{tmp_path}: not a measurement set (no table.dat" in _error_line(capsys)
    assert not output.exists()


def test_unusable_solutions_are_refused_naming_the_file(tiny_scan, tmp_path):
    ms = tiny_scan.measurement_sets[0]
    n_chan = TINY.n_channels // TINY.channel_average
    unit = np.ones((1, TINY.n_antennas, n_chan, 4), complex) * [1, 0, 0, 1]
    nan = write_solutions(AOSolutions(np.full_like(unit, np.nan)), tmp_path / "nan.bin")
    output = tmp_path / "out.ms"
    with pytest.raises(SolutionsError, match=r"nan\.bin: every gain is NaN \(flagged\)"):
        apply_solutions(ms, nan, output)
    late = AOSolutions(np.repeat(unit, 2, axis=0), start_time=1e10, end_time=1e10 + 60)
    late_path = write_solutions(late, tmp_path / "late.bin")
    with pytest.raises(SolutionsError, match=r"late\.bin: solution times .* outside the data"):
        apply_solutions(ms, late_path, output)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["late.bin", "nan.bin"]
