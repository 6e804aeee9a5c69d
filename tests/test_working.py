"""A beam's working copy, changed in place: the same data as the chain of copies it replaces,
gains applied reversibly, changed inputs rebuilt from the raw data, interrupted changes
repaired (flint.working)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from astropy.table import Table
from casacore.tables import table

from flint.askap.preprocess import preprocess_ms
from flint.calibration.apply import apply_solutions
from flint.calibration.solutions import AOSolutions, read_solutions, write_solutions
from flint.flagging import run_aoflagger
from flint.identity import identity, read_sidecar
from flint.imaging import WSCleanOptions
from flint.imaging.run import run_wsclean
from flint.ms import split_column
from flint.selfcal import solve_selfcal_gains
from flint.simulate import SimulationOptions, simulate_field
from flint.sky import random_sky
from flint.strategy.stages import GainSolveOptions
from flint.working import (
    apply_gains,
    calibrate_in_place,
    ensure_clean,
    fill_noise,
    flag_in_place,
    image_round,
    make_working_copy,
    solve_round,
    steps_dir,
)
from flint.working.record import REBUILD, changing

FIELD = SimulationOptions(
    layout="raw", field_name="WORK", beams=[15], n_antennas=12, n_channels=288,
    channel_average=8, duration_s=300.0, integration_s=30.0, rfi=True, seed=3,
)  # fmt: skip
IMAGE = WSCleanOptions(
    size=256, scale="60asec", niter=300, data_column="DATA", auto_mask=None, local_rms=False,
    auto_threshold=2.0, multiscale=False, channels_out=2, join_channels=True,
)  # fmt: skip


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    """One raw 12-antenna beam (PAF frame, boresight FIELD) with RFI and simulated noise."""
    sky = random_sky(FIELD.ra_deg, FIELD.dec_deg, radius_deg=1.5, min_flux_jy=0.02, seed=3)
    (ms,) = simulate_field(tmp_path_factory.mktemp("raw"), sky, FIELD).measurement_sets
    return ms


def _solutions(path: Path, seed: int, n_sol: int = 1, start=0.0, end=0.0, chans=36) -> Path:
    rng = np.random.default_rng(seed)
    shape = (n_sol, FIELD.n_antennas, chans)
    gains = np.zeros((*shape, 4), complex)
    for pol in (0, 3):
        gains[..., pol] = (1 + 0.1 * rng.normal(size=shape)) * np.exp(1j * rng.normal(size=shape))
    return write_solutions(AOSolutions(gains, start_time=start, end_time=end), path)


def _times(ms: Path) -> tuple[float, float]:
    with table(str(ms), ack=False) as tab:
        times = tab.getcol("TIME")
    return float(times.min()) - 15, float(times.max()) + 15


def _column(ms: Path, name: str) -> np.ndarray:
    with table(str(ms), ack=False) as tab:
        return tab.getcol(name)


def _copies(raw: Path, solutions: Path, where: Path) -> Path:
    """What the flow did before: preprocess, apply into a copy, flag a copy, split a copy."""
    pre = preprocess_ms(raw, where / "pre.ms").ms
    calibrated = apply_solutions(pre, solutions, where / "bandpass.ms").ms
    flagged = run_aoflagger(calibrated, where / "flagged.ms", column="CORRECTED_DATA")
    return split_column(flagged, where / "round0.ms")


def _working(raw: Path, solutions: Path, ms: Path) -> Path:
    make_working_copy(raw, ms)
    calibrate_in_place(ms, solutions)
    flag_in_place(ms)
    return ms


def test_the_working_copy_holds_what_the_chain_of_copies_held(raw, tmp_path):
    solutions = _solutions(tmp_path / "bandpass.bin", seed=1)
    old = _copies(raw, solutions, tmp_path / "copies")
    ms = _working(raw, solutions, tmp_path / "beam" / "work.ms")
    np.testing.assert_array_equal(_column(ms, "FLAG"), _column(old, "FLAG"))
    np.testing.assert_array_equal(_column(ms, "DATA"), _column(old, "DATA"))
    assert _column(ms, "FLAG").mean() > _column(raw, "FLAG").mean()  # aoflagger found the RFI
    with table(str(ms), ack=False) as tab:  # only the columns a step reads
        assert not {"NOISE_DATA", "INSTRUMENT_DATA", "CORRECTED_DATA"} & set(tab.colnames())
    disk = {path: sum(f.stat().st_size for f in path.rglob("*")) for path in (raw, ms)}
    assert disk[ms] < 0.7 * disk[raw]  # the raw data hold DATA and NOISE_DATA, the copy DATA
    assert sum(f.stat().st_size for f in old.parent.rglob("*")) > 3 * disk[raw]  # before
    stamp = (ms / "table.f0_TSM0").stat().st_mtime_ns
    again = [calibrate_in_place(ms, solutions), flag_in_place(ms)]
    assert all(step.skipped and step.marker.exists() for step in again)
    assert (ms / "table.f0_TSM0").stat().st_mtime_ns == stamp  # nothing done twice


def test_gains_are_applied_in_place_reversibly_and_solved_as_before(raw, tmp_path):
    """DATA under round-r gains equals the copy the old chain made for round r; other gains
    (or none) can be had again; the model predicted for the solve equals the one wsclean
    wrote while imaging (the same gains); the rebuilt noise equals the copies' noise."""
    solutions = _solutions(tmp_path / "bandpass.bin", seed=1)
    old = _copies(raw, solutions, tmp_path / "copies")
    ms = _working(raw, solutions, tmp_path / "beam" / "work.ms")
    start, end = _times(raw)
    g1 = _solutions(tmp_path / "g1.bin", 2, n_sol=10, start=start, end=end, chans=1)
    g2 = _solutions(tmp_path / "g2.bin", 3, n_sol=5, start=start, end=end, chans=1)
    bandpass_only = _column(ms, "DATA")
    apply_gains(ms, g1)
    assert apply_gains(ms, g1).skipped
    apply_gains(ms, g2)  # g1 undone first
    expected = _column(apply_solutions(old, g2, tmp_path / "round2.ms").ms, "CORRECTED_DATA")
    # float32 rounding
    np.testing.assert_allclose(_column(ms, "DATA"), expected, rtol=1e-6, atol=1e-6)
    identity_before = identity(ms)
    apply_gains(ms, None)
    np.testing.assert_allclose(_column(ms, "DATA"), bandpass_only, rtol=1e-6, atol=1e-6)
    assert identity(ms) == identity_before  # applied gains are not the copy's identity

    # round 0 imaged by both chains; gains solved against the predicted model and against
    # the MODEL_DATA wsclean wrote (the old chain)
    round0 = image_round(ms, IMAGE, tmp_path / "images", "work.round0", None, ("image", "model"))
    options = GainSolveOptions(solint_s=60.0)
    apply_gains(ms, g1)  # solving undoes whatever is applied
    solve_round(ms, round0, tmp_path / "new.gains.bin", options)
    assert "MODEL_DATA" not in table(str(ms), ack=False).colnames()  # dropped after the solve
    run_wsclean(old, IMAGE, tmp_path / "old-images", "old.round0", channel_kinds=("image", "model"))
    solve_selfcal_gains(old, tmp_path / "old.gains.bin", options)
    new, before = (
        read_solutions(tmp_path / f"{name}.gains.bin").gains[..., [0, 3]] for name in ("new", "old")
    )
    assert np.isfinite(new).all()
    assert np.abs(np.angle(new / before)).max() < np.radians(1e-3)

    apply_gains(ms, g2)
    fill_noise(ms)
    noise = _column(
        apply_solutions(old, g2, tmp_path / "noise.ms", "NOISE_DATA").ms, "CORRECTED_DATA"
    )
    np.testing.assert_allclose(_column(ms, "NOISE_DATA"), noise, rtol=1e-6, atol=1e-6)


def test_constant_phases_from_components_multiply_the_round_s_gains(raw, tmp_path):
    """With ``constant_from_components`` a round's gains are the image model's, times one
    phase per antenna from the previous image's components (tests/test_selfcal_gains.py
    checks the science); the components' column is transient; a changed catalogue
    solves again."""
    ms = _working(raw, _solutions(tmp_path / "bandpass.bin", seed=1), tmp_path / "beam" / "work.ms")
    round0 = image_round(ms, IMAGE, tmp_path / "images", "work.round0", None, ("image", "model"))
    sky = random_sky(FIELD.ra_deg, FIELD.dec_deg, radius_deg=1.5, min_flux_jy=0.02, seed=3)
    catalogue = tmp_path / "round0_comp.fits"
    Table({"ra": sky.ra_deg, "dec": sky.dec_deg, "int_flux": sky.flux_jy}).write(catalogue)
    first = GainSolveOptions(solint_s=60.0)
    both = first.with_options(constant_from_components=True)
    with pytest.raises(ValueError, match="catalogue"):
        solve_round(ms, round0, tmp_path / "none.gains.bin", both)

    solve_round(ms, round0, tmp_path / "first.gains.bin", first)
    solve_round(ms, round0, tmp_path / "both.gains.bin", both, catalogue=catalogue)
    assert not {"MODEL_DATA", "COMPONENT_MODEL"} & set(table(str(ms), ack=False).colnames())
    ensure_clean(ms)  # nothing left pending
    factor = (
        read_solutions(tmp_path / "both.gains.bin").gains[..., 0]
        / read_solutions(tmp_path / "first.gains.bin").gains[..., 0]
    )  # [interval, antenna, channel]
    assert np.isfinite(factor).all()
    assert np.abs(np.angle(factor)).max() > np.radians(0.1)  # the components changed them...
    np.testing.assert_allclose(factor, factor[:1].repeat(len(factor), 0), atol=1e-9)  # ...once

    assert solve_round(ms, round0, tmp_path / "both.gains.bin", both, catalogue=catalogue).skipped
    Table({"ra": sky.ra_deg[:3], "dec": sky.dec_deg[:3], "int_flux": sky.flux_jy[:3]}).write(
        catalogue, overwrite=True
    )
    assert not solve_round(
        ms, round0, tmp_path / "both.gains.bin", both, catalogue=catalogue
    ).skipped


def test_changed_solutions_rebuild_the_copy_from_the_raw_data(raw, tmp_path):
    first = _solutions(tmp_path / "a.bin", seed=1)
    other = _solutions(tmp_path / "b.bin", seed=4)
    ms = _working(raw, first, tmp_path / "beam" / "work.ms")
    markers = sorted(p.name for p in steps_dir(ms).iterdir())
    assert [name.split("-")[0] for name in markers] == ["bandpass", "flag"]
    calibrate_in_place(ms, other)  # from the raw data again: no second bandpass on top
    assert sorted(p.name.split("-")[0] for p in steps_dir(ms).iterdir()) == ["bandpass"]
    flag_in_place(ms)
    fresh = _working(raw, other, tmp_path / "fresh" / "work.ms")
    np.testing.assert_array_equal(_column(ms, "DATA"), _column(fresh, "DATA"))
    np.testing.assert_array_equal(_column(ms, "FLAG"), _column(fresh, "FLAG"))
    assert identity(ms) != identity(_working(raw, first, tmp_path / "again" / "work.ms"))


@pytest.mark.fault
def test_a_change_interrupted_is_repaired_by_replay(raw, tmp_path):
    """A run killed while aoflagger flags the copy in place, or while gains are applied,
    leaves it pending; the next step rebuilds it from the raw data (replaying the bandpass
    and flags) and the result equals a clean run's, its identity and markers unchanged."""
    solutions = _solutions(tmp_path / "bandpass.bin", seed=1)
    clean = _working(raw, solutions, tmp_path / "clean" / "work.ms")
    ms = tmp_path / "beam" / "work.ms"
    make_working_copy(raw, ms)
    calibrate_in_place(ms, solutions)
    script = f"from flint.working import flag_in_place\nflag_in_place({str(ms)!r})"
    process = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    deadline = time.monotonic() + 120
    while not any(
        p.info["name"] == "aoflagger" and str(ms) in " ".join(p.info["cmdline"] or [])
        for p in psutil.process_iter(["name", "cmdline"])
    ):
        assert process.poll() is None and time.monotonic() < deadline, "aoflagger never ran"
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert read_sidecar(ms)["pending"]["what"] == "flag"
    flag_in_place(ms)  # repairs (replays the bandpass), then flags
    np.testing.assert_array_equal(_column(ms, "FLAG"), _column(clean, "FLAG"))
    np.testing.assert_array_equal(_column(ms, "DATA"), _column(clean, "DATA"))

    # the state a kill during gains leaves: pending, DATA half rewritten
    done = identity(ms), sorted(steps_dir(ms).iterdir())
    with pytest.raises(RuntimeError), changing(ms, REBUILD, "gains"):
        with table(str(ms), readonly=False, ack=False) as tab:
            tab.putcol("DATA", np.zeros_like(tab.getcol("DATA", 0, 50)), 0, 50)
        raise RuntimeError("killed")
    ensure_clean(ms)
    np.testing.assert_array_equal(_column(ms, "DATA"), _column(clean, "DATA"))
    assert (identity(ms), sorted(steps_dir(ms).iterdir())) == done
