"""Peeling on a beam's working copy (flint.working.peeling): the columns main's peeling
writes into a copy per round, written into the one working copy under the round's gains,
redone when the copy no longer holds them, dropped when a kill caught them half written."""

from __future__ import annotations

import math
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
from casacore.tables import table

from flint.calibration.solutions import AOSolutions, read_solutions, write_solutions
from flint.errors import MeasurementSetError
from flint.footprint import Footprint
from flint.identity import read_sidecar
from flint.imaging import WSCleanOptions
from flint.peel import (
    FIELD_COLUMN,
    OUTLIER_COLUMN,
    PEELED_COLUMN,
    PeelOptions,
    subtract_outliers,
)
from flint.simulation import SimulationOptions, simulate_field
from flint.sky import SkyModel
from flint.strategy.stages import GainSolveOptions
from flint.working import (
    apply_gains,
    ensure_clean,
    find_outliers_in_place,
    image_round,
    make_working_copy,
    refine_in_place,
    solve_round,
    subtract_in_place,
)

pytestmark = [
    pytest.mark.wsclean,
    pytest.mark.fault,  # one run is killed while it writes
    pytest.mark.skipif(shutil.which("wsclean") is None, reason="wsclean not installed"),
]

OPTIONS = SimulationOptions(
    n_channels=8, channel_width_hz=8e6, duration_s=300.0, integration_s=30.0, beams=[14],
    sigma_jy=0.05, bandpass="none", phase_rms_deg=0, primary_beam="gaussian_sidelobes",
    layout="flint",
)  # fmt: skip
IMAGE = WSCleanOptions(
    size=320, scale="12asec", taper_gaussian="45asec", weight="briggs", robust=0.0,
    data_column="DATA", channels_out=2, join_channels=True, niter=5000, nmiter=5, mgain=0.8,
    auto_threshold=1.0, auto_mask=3.0, local_rms=False, multiscale=False,
    no_update_model_required=True,
)  # fmt: skip
PEEL = PeelOptions(subtract_outside=True, wide_size=256, refine_bright=True, bright_min_jy=0.02)
SOLVE = GainSolveOptions(uv_taper_lambda=1718.0)  # the demo strategy's, for a 45" taper
SCRATCH = {"PEEL_RESIDUAL", "MODEL_DATA"}


def _offset(east_deg: float, north_deg: float) -> tuple[float, float]:
    ras, decs = Footprint(name=OPTIONS.footprint, pitch_deg=OPTIONS.pitch_deg).beam_centres(
        OPTIONS.ra_deg, OPTIONS.dec_deg, [14]
    )
    dec = float(decs[0])
    return float(ras[0]) + east_deg / math.cos(math.radians(dec)), dec + north_deg


def _column(ms: Path, name: str) -> np.ndarray:
    with table(str(ms), ack=False) as tab:
        return tab.getcol(name)


def _columns(ms: Path) -> set[str]:
    with table(str(ms), ack=False) as tab:
        return set(tab.colnames())


def _phase_gains(ms: Path, path: Path, seed: int) -> Path:
    with table(str(ms / "ANTENNA"), ack=False) as tab:
        n_ant = tab.nrows()
    with table(str(ms), ack=False) as tab:
        times = tab.getcol("TIME")
    phases = np.random.default_rng(seed).normal(scale=0.3, size=(1, n_ant, 1))
    gains = np.zeros((1, n_ant, 1, 4), complex)
    gains[..., 0] = gains[..., 3] = np.exp(1j * phases)
    solutions = AOSolutions(gains, start_time=times.min() - 15, end_time=times.max() + 15)
    return write_solutions(solutions, path)


def _kill_during_a_source_image(ms: Path, outliers_json: Path, work_dir: Path) -> None:
    """Run the subtraction in another process and SIGKILL it while wsclean images a source."""
    script = (
        "import json, sys\n"
        "from flint.peel import Outlier\n"
        "from flint.working import subtract_in_place\n"
        "from test_working_peel import IMAGE, PEEL\n"
        f"outliers = [Outlier(**o) for o in json.load(open({str(outliers_json)!r}))]\n"
        f"subtract_in_place({str(ms)!r}, outliers, IMAGE, PEEL, {str(work_dir)!r})\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    process = subprocess.Popen([sys.executable, "-c", script], start_new_session=True, env=env)
    deadline = time.monotonic() + 120
    while not any(
        p.info["name"] == "wsclean" and "-shift" in (p.info["cmdline"] or [])
        and str(ms) in " ".join(p.info["cmdline"] or [])
        for p in psutil.process_iter(["name", "cmdline"])
    ):  # fmt: skip
        assert process.poll() is None and time.monotonic() < deadline, "no source was imaged"
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def test_peeling_in_the_working_copy(tmp_path: Path) -> None:
    inside = SkyModel(
        *zip(_offset(0.1, 0.2), _offset(-0.3, -0.1), strict=True), [0.05, 0.03], 888e6
    )
    outside = SkyModel(*zip(_offset(0.60, 0.1), strict=True), [1.0], 888e6)
    raw = simulate_field(
        tmp_path / "sim", SkyModel.concatenate([inside, outside]), OPTIONS
    ).measurement_sets[0]
    ms = make_working_copy(raw, tmp_path / "beam" / "work.ms").ms
    peel_dir = tmp_path / "beam" / "peel"
    found = find_outliers_in_place(ms, IMAGE, PEEL, peel_dir / "outliers.json")
    assert len(found) == 1 and outside.separation_deg(found[0].ra_deg, found[0].dec_deg)[0] < 1 / 60
    # main's peeling on a copy of the raw data: what the working copy must hold
    reference = tmp_path / "reference.ms"
    shutil.copytree(raw, reference)
    subtract_outliers(reference, found, IMAGE, PEEL, "DATA", tmp_path / "reference", None)
    expected = {c: _column(reference, c) for c in (PEELED_COLUMN, OUTLIER_COLUMN)}
    apparent = np.abs(expected[OUTLIER_COLUMN]).mean()

    def holds_round0() -> None:
        for column, values in expected.items():
            assert np.abs(_column(ms, column) - values).max() < 1e-3 * apparent, column
        assert not SCRATCH & _columns(ms)  # peeling's scratch columns are gone

    round0 = peel_dir / "round0"
    first = subtract_in_place(ms, found, IMAGE, PEEL, round0)
    assert not first.skipped and first.n_sources == 1
    holds_round0()
    assert subtract_in_place(ms, found, IMAGE, PEEL, round0).skipped  # held: nothing to do

    # round 1 under its gains overwrites the columns: round 0's subtraction is then redone
    gains = _phase_gains(ms, tmp_path / "round1.gains.bin", seed=5)
    assert not subtract_in_place(ms, found, IMAGE, PEEL, peel_dir / "round1", gains).skipped
    assert np.abs(_column(ms, PEELED_COLUMN) - expected[PEELED_COLUMN]).max() > 0.1 * apparent
    peeled_image = IMAGE.with_options(data_column=PEELED_COLUMN)
    with pytest.raises(MeasurementSetError, match="no longer hold"):  # never round 1's data
        image_round(ms, peeled_image, tmp_path / "images", "work.round0", held=[first])
    # redoing round 0 is killed while a source is imaged: the half-written columns are
    # dropped, then redone
    _kill_during_a_source_image(ms, peel_dir / "outliers.json", round0)
    assert read_sidecar(ms)["pending"]["what"] == "peel"
    ensure_clean(ms)
    assert not {PEELED_COLUMN, OUTLIER_COLUMN} & _columns(ms)
    again = subtract_in_place(ms, found, IMAGE, PEEL, round0)
    assert not again.skipped and again.columns == first.columns
    holds_round0()

    # refined at full resolution (the working copy's image writes no MODEL_DATA: the round's
    # model is predicted first), then solved against FIELD_MODEL + OUTLIER_DATA
    imaged = image_round(ms, peeled_image, tmp_path / "images", "work.round0", held=[again])
    refined = refine_in_place(ms, imaged, PEEL, peel_dir / "round0-bright")
    assert set(refined.columns) == {FIELD_COLUMN} and refined.n_sources >= 1
    assert refine_in_place(ms, imaged, PEEL, peel_dir / "round0-bright").skipped
    assert not SCRATCH & _columns(ms)
    apply_gains(ms, gains)  # undone on the fly by the solve: the data hold no gain errors
    phases = {}
    for name, columns in (("field", [FIELD_COLUMN]), ("all", [FIELD_COLUMN, OUTLIER_COLUMN])):
        path = tmp_path / f"{name}.gains.bin"
        solve_round(ms, imaged, path, SOLVE, model_columns=columns, held=[refined, again])
        phases[name] = np.degrees(np.abs(np.angle(read_solutions(path).gains[..., [0, 3]])))
    print({name: (float(np.median(p)), float(p.max())) for name, p in phases.items()})
    assert np.median(phases["all"]) < 1.0  # deg; the outer antennas' are pulled by the
    assert np.median(phases["field"]) > 30.0  # outside source's model at the round's resolution
    assert not SCRATCH & _columns(ms)
