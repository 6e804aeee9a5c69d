"""Fault injection, products: a run killed at any point leaves nothing taken as finished.

Each test injects one fault into a real tool run (aoflagger, wsclean) or leaves the state a
fault leaves (a product without its completion marker, a full disk), then checks that the
rerun redoes the work and gives products identical to a clean run's. See docs/faults.md.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from astropy.io import fits
from casacore.tables import table

from flint.calibration.apply import apply_solutions
from flint.calibration.solutions import AOSolutions, write_solutions
from flint.flagging import run_aoflagger
from flint.identity import sidecar_path
from flint.imaging import WSCleanOptions
from flint.imaging.run import run_wsclean
from flint.ms import split_column
from flint.simulate import SimulationOptions, simulate_calibrator

pytestmark = pytest.mark.fault

SCAN = SimulationOptions(
    beams=[0], n_antennas=12, n_channels=288, channel_average=4, duration_s=120.0,
    phase_rms_deg=0.0, rfi=True, seed=5,
)  # fmt: skip
# one thread: wsclean's threaded sums can differ in rounding, enough to pick another clean
# component, so only a single-threaded run is reproducible to the bit
IMAGE = WSCleanOptions(
    size=1024, scale="20asec", niter=200, data_column="DATA", auto_mask=None, local_rms=False,
    auto_threshold=1.0, threads=1,
)  # fmt: skip


@pytest.fixture(scope="module")
def scan(tmp_path_factory) -> Path:
    """One beam of a 12-antenna calibrator scan with RFI (simulated once per module)."""
    (ms,) = simulate_calibrator(tmp_path_factory.mktemp("scan"), SCAN).measurement_sets
    return ms


def _copy(ms: Path, where: Path) -> Path:
    target = where / ms.name
    shutil.copytree(ms, target)
    return target


def _tools_on(name: str, path_part: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        if process.info["name"] == name and path_part in " ".join(process.info["cmdline"] or []):
            found.append(process)
    return found


def _kill_when_tool_starts(script: str, tool: str, path_part: str) -> None:
    """Run ``script`` in a Python process; SIGKILL it as soon as ``tool`` runs for it."""
    process = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    deadline = time.monotonic() + 120
    while not _tools_on(tool, path_part):
        assert process.poll() is None, f"finished before {tool} could be killed"
        assert time.monotonic() < deadline, f"{tool} did not start"
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)  # the run dies; no cleanup code runs
    process.wait()
    deadline = time.monotonic() + 5  # its tool (own session) dies with it: no orphan
    while _tools_on(tool, path_part):
        assert time.monotonic() < deadline, f"{tool} outlived the killed run"
        time.sleep(0.05)


def _flags(ms: Path) -> np.ndarray:
    with table(str(ms), ack=False) as tab:
        return tab.getcol("FLAG")


def test_killed_during_aoflagger(scan, tmp_path):
    clean = run_aoflagger(scan, tmp_path / "clean.flagged.ms", column="DATA")
    output = tmp_path / "out" / "beam.flagged.ms"
    script = (
        "from flint.flagging import run_aoflagger\n"
        f"run_aoflagger({str(scan)!r}, {str(output)!r}, column='DATA')"
    )
    _kill_when_tool_starts(script, "aoflagger", output.name)
    assert not output.exists() and not sidecar_path(output).exists()
    assert [p.name for p in output.parent.iterdir() if ".tmp-" in p.name]  # debris, never final
    assert run_aoflagger(scan, output, column="DATA") == output
    assert not [p for p in output.parent.iterdir() if ".tmp-" in p.name]  # debris removed
    np.testing.assert_array_equal(_flags(output), _flags(clean))
    assert _flags(output).mean() > _flags(scan).mean()  # aoflagger did flag the RFI


def test_killed_during_wsclean(scan, tmp_path):
    ms = _copy(scan, tmp_path)
    clean = run_wsclean(ms, IMAGE, tmp_path / "clean", "probe")
    output = tmp_path / "out"
    script = (
        "from flint.imaging import WSCleanOptions\nfrom flint.imaging.run import run_wsclean\n"
        f"run_wsclean({str(ms)!r}, WSCleanOptions.model_validate({IMAGE.model_dump(mode='json')!r}), "
        f"{str(output)!r}, 'probe')"
    )
    _kill_when_tool_starts(script, "wsclean", str(output))
    assert (
        not list(output.glob("probe-*.fits")) and not (output / "probe-flint-options.json").exists()
    )
    assert (output / "probe-wsclean.log").exists()  # the log is beside the products, kept
    again = run_wsclean(ms, IMAGE, output, "probe")
    for kind in ("image", "residual", "model"):
        ours, theirs = (fits.getdata(getattr(p, kind)) for p in (again, clean))
        # one thread: the same sums in the same order, so the same image
        np.testing.assert_array_equal(ours, theirs)


def _unit_solutions(path: Path) -> Path:
    gains = np.zeros((1, SCAN.n_antennas, SCAN.n_channels // SCAN.channel_average, 4), complex)
    gains[..., 0] = gains[..., 3] = 2.0
    return write_solutions(AOSolutions(gains), path)


def _column(ms: Path, name: str) -> np.ndarray:
    with table(str(ms), ack=False) as tab:
        return tab.getcol(name)


def test_product_without_its_completion_marker_is_redone(scan, tmp_path):
    """A kill between a copy's rename and its marker (the sidecar, written last) leaves a
    complete-looking product without one: the rerun redoes it. So does a bare copy left at
    the product's name (what reusing any existing copy used to accept)."""
    solutions = _unit_solutions(tmp_path / "unit.bin")
    clean = apply_solutions(scan, solutions, tmp_path / "clean.ms").ms
    output = tmp_path / "beam.bandpass.ms"
    apply_solutions(scan, solutions, output)
    sidecar_path(output).unlink()  # the state a kill before the marker leaves
    stamp = (output / "table.dat").stat().st_mtime_ns
    again = apply_solutions(scan, solutions, output)
    assert not again.skipped and (output / "table.dat").stat().st_mtime_ns != stamp
    assert apply_solutions(scan, solutions, output).skipped  # now marked: reused
    shutil.rmtree(output)
    shutil.copytree(scan, output)  # copied, never calibrated
    assert not apply_solutions(scan, solutions, output).skipped
    np.testing.assert_array_equal(
        _column(output, "CORRECTED_DATA"), _column(clean, "CORRECTED_DATA")
    )


@pytest.fixture
def small_disk(tmp_path) -> Path:
    """A 2 MB file system (tmpfs) for the output directory: a real ENOSPC."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.fail(f"the disk-full test mounts a tmpfs and needs root: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_on_the_output_directory(scan, tmp_path, small_disk):
    calibrated = apply_solutions(scan, _unit_solutions(tmp_path / "unit.bin"), tmp_path / "b.ms")
    clean = split_column(calibrated.ms, tmp_path / "clean.round0.ms")
    output = small_disk / "beam.round0.ms"
    with pytest.raises(OSError, match="No space left on device"):
        split_column(calibrated.ms, output)
    assert list(small_disk.iterdir()) == []  # no product, no marker, no half-written copy
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    assert split_column(calibrated.ms, output) == output
    np.testing.assert_array_equal(_column(output, "DATA"), _column(clean, "DATA"))
    np.testing.assert_array_equal(_column(output, "FLAG"), _column(clean, "FLAG"))
