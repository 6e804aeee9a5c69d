"""Cancelling a served run stops its tools on the Dask workers; starting it again resumes.

A real Prefect server, a real serve runner (as the workbench and the Prefect UI cancel),
a real LocalCluster, real aoflagger and wsclean. The run is cancelled while wsclean runs in
a worker: within 10 s no process of wsclean's process group (nor any wsclean or aoflagger
working on this run's files) is left, the run is Cancelled, and the same run submitted
again completes with the finished flagging found in the cache.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil
import pytest
from fixtures_workbench import UNCLOSED_API_SOCKET, grid_settles, run_to_end, sync, wait_for

from flint.prefect import runs
from flint.prefect.submit import ServeRunner, ServeSpec, submit

pytestmark = [
    pytest.mark.slow, pytest.mark.fault, pytest.mark.wsclean, pytest.mark.aoflagger,
    UNCLOSED_API_SOCKET,
]  # fmt: skip

PROBE_FLOW = '''
"""flag -> image with flint's tasks on the workbench's cluster (tests only)."""
from pathlib import Path

from prefect import flow

from flint.imaging import WSCleanOptions
from flint.prefect import tasks
from flint.prefect.cluster import default_task_runner
from flint.prefect.holding import one_run_per_output_dir
from flint.prefect.tasks import bind, labelled


@flow(name="cancel-probe", task_runner=default_task_runner())
@one_run_per_output_dir
def probe(ms: str, output_dir: str, size: int = 6144):
    out = Path(output_dir)
    with labelled("flag", 0):
        flagged = bind(tasks.flag_task, out).submit(ms, out / "flagged.ms", column="DATA")
    options = WSCleanOptions(size=size, scale="10asec", niter=0, data_column="DATA",
                             auto_mask=None, local_rms=False)
    with labelled("image", 0):
        imaged = bind(tasks.image_task, out).submit(
            out / "flagged.ms", options, out / "images", "probe", wait_for=[flagged])
    return [flagged, imaged]
'''


def _tools_on(output_dir: Path) -> list[psutil.Process]:
    """wsclean and aoflagger processes working on ``output_dir``."""
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if process.info["name"] in ("wsclean", "aoflagger") and str(output_dir) in cmdline:
            found.append(process)
    return found


def _group(pgid: int) -> list[int]:
    members = []
    for pid in psutil.pids():
        try:
            if os.getpgid(pid) == pgid:
                members.append(pid)
        except ProcessLookupError:
            continue
    return members


def test_cancel_during_wsclean_stops_it_and_a_new_run_resumes(
    prefect_api, real_ms_readonly, tmp_path
):
    from distributed import LocalCluster

    flow_file = tmp_path / "cancel_probe.py"
    flow_file.write_text(PROBE_FLOW)
    spec = ServeSpec(entrypoints=(f"{flow_file}:probe",), deployment="cancel-test")
    output = tmp_path / "out"
    params = {"ms": str(real_ms_readonly), "output_dir": str(output)}
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=True,
                      dashboard_address="127.0.0.1:0") as cluster:  # fmt: skip
        runner = ServeRunner.start(
            spec,
            tmp_path / "logs",
            env={"FLINT_DASK_ADDRESS": cluster.scheduler_address,
                 "PREFECT_RUNNER_POLL_FREQUENCY": "1"},
        )  # fmt: skip
        try:
            first = sync(submit(spec.deployment_names()[0], params))
            wait_for(lambda: any(p.name() == "wsclean" for p in _tools_on(output)), 180, 0.2)
            (wsclean,) = [p for p in _tools_on(output) if p.name() == "wsclean"]
            group = os.getpgid(wsclean.pid)
            assert group == wsclean.pid  # its own process group
            cancelled_at = time.monotonic()
            assert sync(runs.cancel_flow_run(first.id)) == "CANCELLING"
            wait_for(lambda: not _group(group) and not _tools_on(output), 10, 0.1)
            stopped = time.monotonic() - cancelled_at
            assert run_to_end(first.id, timeout=60).state_type == "CANCELLED"
            print(f"wsclean's process group gone {stopped:.1f} s after the cancel")

            second = sync(submit(spec.deployment_names()[0], params))
            assert run_to_end(second.id, timeout=300).state_type == "COMPLETED"
            grid = grid_settles(second.id)
            assert grid.state("00", "flag") == "COMPLETED"  # Cached counts as completed...
            states = {
                t.name.split("-")[0]: t.state.name for t in sync(runs.read_task_runs(second.id))
            }
            assert states == {"flag": "Cached", "image": "Completed"}  # ...flagging not redone
            assert (output / "images" / "probe-image.fits").exists()
        finally:
            runner.stop()


CTRL_C_SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])
from cancel_probe import probe
from flint.prefect.running import run_flow
try:
    run_flow(probe, cluster=sys.argv[2], ms=sys.argv[3], output_dir=sys.argv[4])
except KeyboardInterrupt:
    sys.exit(130)
"""


def test_ctrl_c_cancels_the_run_and_stops_its_tools(prefect_api, real_ms_readonly, tmp_path):
    """``flint continuum``'s way (run_flow on a LocalCluster): Ctrl-C during wsclean marks
    the run Cancelled and wsclean's process group is gone within 10 s."""
    import signal
    import subprocess
    import sys

    import yaml
    from prefect import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    (tmp_path / "cancel_probe.py").write_text(PROBE_FLOW)
    cluster = tmp_path / "one-worker.yaml"
    cluster.write_text(yaml.safe_dump({
        "cluster_class": "distributed.LocalCluster",
        "cluster_kwargs": {"n_workers": 1, "threads_per_worker": 2, "processes": True,
                           "host": "127.0.0.1", "dashboard_address": "127.0.0.1:0"},
    }))  # fmt: skip
    output = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-c", CTRL_C_SCRIPT, str(tmp_path), str(cluster),
         str(real_ms_readonly), str(output)],
    )  # fmt: skip
    try:
        wait_for(lambda: any(p.name() == "wsclean" for p in _tools_on(output)), 240, 0.2)
        (wsclean,) = [p for p in _tools_on(output) if p.name() == "wsclean"]
        process.send_signal(signal.SIGINT)
        wait_for(lambda: not _group(wsclean.pid) and not _tools_on(output), 10, 0.1)
        assert process.wait(timeout=60) != 0
    finally:
        if process.poll() is None:
            process.kill()
    with get_client(sync_client=True) as client:
        (run,) = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["cancel-probe"])),
            sort=FlowRunSort.START_TIME_DESC,
            limit=1,
        )
    assert run.state.type.value == "CANCELLED", run.state
    assert "Ctrl-C" in (run.state.message or "")
