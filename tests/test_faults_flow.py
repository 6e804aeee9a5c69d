"""Fault injection, flows: changed inputs and options, a concurrent run, a lost worker.

Real flows on a real Prefect server: a rerun after a change redoes exactly the tasks the
change reaches (counted from the server's task-run states) and gives the products of a
clean run; a second run on a busy output directory is refused at once; a Dask worker
process killed while busy costs only its task. See docs/faults.md.
"""

from __future__ import annotations

import importlib
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from casacore.tables import table
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.asyncutils import run_coro_as_sync

from flint.calibration import read_solutions
from flint.calibration.repair import RepairOptions
from flint.ms import find_observation
from flint.prefect.flows.bandpass import bandpass_flow, solutions_name
from flint.prefect.running import run_flow
from flint.prefect.runs import read_settled_task_runs
from flint.runlock import HOLDER_NAME, OutputBusyError
from flint.simulate import SimulationOptions, simulate_calibrator

pytestmark = pytest.mark.fault

SCAN = SimulationOptions(
    beams=[0, 1], n_antennas=12, n_channels=288, channel_average=4, duration_s=120.0,
    phase_rms_deg=0.0, rfi=True, seed=7,
)  # fmt: skip


@pytest.fixture
def scan(tmp_path):
    return simulate_calibrator(tmp_path / "scan", SCAN)


def _bandpass(scan, output: Path, repair: RepairOptions | None = None) -> dict[str, str]:
    """Run the bandpass flow; the state of each work task run by name (solve-beam00...)."""
    repair = repair or RepairOptions()
    runner = ThreadPoolTaskRunner(max_workers=2)
    state = bandpass_flow.with_options(task_runner=runner)(
        calibrator_dir=scan.sbid_dir, output_dir=output, repair=repair, return_state=True
    )
    assert state.is_completed(), state
    runs = run_coro_as_sync(read_settled_task_runs(state.state_details.flow_run_id, expected=7))
    # publish (the artifacts) runs every time: it reads results, writes no product
    return {run.name: run.state.name for run in runs if run.name != "publish"}


def _same_solutions(scan, a: Path, b: Path) -> None:
    for state in find_observation(scan.sbid_dir).beams.values():
        name = solutions_name(state.stem)
        assert read_solutions(a / name).equals(read_solutions(b / name))


@pytest.mark.slow
def test_changed_option_and_input_redo_exactly_what_they_reach(scan, tmp_path, prefect_env):
    output = tmp_path / "bandpass"
    names = [
        f"{stage}-beam0{beam}" for stage in ("preprocess", "solve", "repair") for beam in (0, 1)
    ]
    assert _bandpass(scan, output) == dict.fromkeys(names, "Completed")
    assert _bandpass(scan, output) == dict.fromkeys(names, "Cached")
    stricter = RepairOptions(amplitude_sigma=4.0)
    assert _bandpass(scan, output, stricter) == {  # an option of the repair step only
        "preprocess-beam00": "Cached", "preprocess-beam01": "Cached",
        "solve-beam00": "Cached", "solve-beam01": "Cached",
        "repair-beam00": "Completed", "repair-beam01": "Completed",
    }  # fmt: skip
    beam1 = scan.measurement_sets[1]
    with table(str(beam1), readonly=False, ack=False) as tab:  # new data for beam 1 only
        rows = np.flatnonzero(tab.getcol("FIELD_ID") == 1)[:100]  # in its own scan
        tab.putcol("DATA", tab.getcol("DATA", int(rows[0]), 100) * 1.01, int(rows[0]), 100)
    assert _bandpass(scan, output, stricter) == {
        "preprocess-beam00": "Cached", "solve-beam00": "Cached", "repair-beam00": "Cached",
        "preprocess-beam01": "Completed", "solve-beam01": "Completed",
        "repair-beam01": "Completed",
    }  # fmt: skip
    clean = tmp_path / "clean"
    assert set(_bandpass(scan, clean, stricter).values()) == {"Completed"}
    _same_solutions(scan, output, clean)  # what the reruns left equals a clean run's


def test_concurrent_run_on_the_same_output_is_refused_naming_it(scan, tmp_path, prefect_env):
    output = tmp_path / "bandpass"
    outcome: dict = {}
    first = threading.Thread(target=lambda: outcome.update(states=_bandpass(scan, output)))
    first.start()
    deadline = time.monotonic() + 120
    while not (output / HOLDER_NAME).exists():
        assert first.is_alive() and time.monotonic() < deadline, "the first run never held it"
        time.sleep(0.05)
    started = time.monotonic()
    with pytest.raises(OutputBusyError, match=r"in use by flow run '[\w-]+' \([0-9a-f-]+\)"):
        run_flow(bandpass_flow, calibrator_dir=scan.sbid_dir, output_dir=output)
    assert time.monotonic() - started < 5  # refused at once
    first.join(timeout=300)
    assert set(outcome["states"].values()) == {"Completed"}  # the holder was not disturbed
    assert not (output / HOLDER_NAME).exists()


HOLD_FLOW = '''
"""flint tasks that hold a worker for a while and record each execution (tests only)."""
import os
import time
from pathlib import Path

from prefect import flow

from flint.prefect.tasks import bind, flint_task


def hold(source: Path, index: int, seconds: float, record_dir: Path) -> int:
    record = record_dir / f"task-{index}"
    with record.open("a") as handle:
        handle.write(f"start {os.getpid()}\\n")
    time.sleep(seconds)
    with record.open("a") as handle:
        handle.write(f"end {os.getpid()}\\n")
    return index


hold_task = flint_task(hold, "hold", reads=("source",))


@flow(name="worker-loss")
def worker_loss(source: Path, n: int, seconds: float, record_dir: Path, output_dir: Path):
    return [bind(hold_task, output_dir).submit(source, i, seconds, record_dir) for i in range(n)]
'''


@pytest.mark.slow
def test_killed_worker_process_costs_only_its_task(tmp_path, prefect_env, monkeypatch):
    from distributed import LocalCluster
    from prefect_dask import DaskTaskRunner

    (tmp_path / "worker_loss_flow.py").write_text(HOLD_FLOW)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # the worker processes import it too
    flow = importlib.import_module("worker_loss_flow").worker_loss
    records, source = tmp_path / "records", tmp_path / "source.txt"
    records.mkdir()
    source.write_text("input")
    n = 4

    def lines(index: int) -> list[str]:
        path = records / f"task-{index}"
        return path.read_text().split("\n")[:-1] if path.exists() else []

    killed: dict = {}

    def kill_a_busy_worker() -> None:
        deadline = time.monotonic() + 120
        while True:
            finished = [i for i in range(n) if any(x.startswith("end") for x in lines(i))]
            busy = [i for i in range(n) if lines(i) and not lines(i)[-1].startswith("end")]
            if len(finished) >= 2 and busy:
                break
            assert time.monotonic() < deadline
            time.sleep(0.05)
        index = busy[0]
        pid = int(lines(index)[-1].split()[1])
        killed.update(index=index, pid=pid, finished=finished)
        psutil.Process(pid).kill()  # SIGKILL: the worker process is lost mid-task

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address="127.0.0.1:0") as cluster:  # fmt: skip
        killer = threading.Thread(target=kill_a_busy_worker)
        killer.start()
        started = time.monotonic()
        state = flow.with_options(task_runner=DaskTaskRunner(address=cluster.scheduler_address))(
            source, n, 2.0, records, tmp_path / "out", return_state=True
        )
        killer.join()
        took = time.monotonic() - started
    assert state.is_completed(), state
    runs = run_coro_as_sync(read_settled_task_runs(state.state_details.flow_run_id, expected=n))
    starts = {i: sum(x.startswith("start") for x in lines(i)) for i in range(n)}
    print(f"killed worker {killed['pid']} in task {killed['index']}; flow {took:.1f} s; {starts}")
    assert all(starts[i] == 1 for i in killed["finished"])  # finished work never recomputed
    assert starts[killed["index"]] == 2  # the lost task ran again, elsewhere
    assert all(lines(i)[-1].startswith("end") for i in range(n))
    assert len(runs) == n and all(run.state.is_completed() for run in runs)
