"""Each tool gets exactly the cores of the worker task running it, from the cluster config.

A worker runs as many tasks at once as it has threads; each task's tools get
``worker cores // worker threads`` (flint.cores), exported by the cluster factory as
FLINT_TASK_CORES: a SLURM job's cpus-per-task shared by its Dask threads, a LocalCluster's
share of the machine. The command lines the tools really ran with (FLINT_TOOL_RECORD) carry
it. (tests/test_slurm_cluster.py checks a real SLURM job's workers see its job_cpu.)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from flint.cores import bane_cores, parallel_deconvolution, share
from flint.external import RECORD_ENV, recorded_work, run_tool
from flint.prefect.cluster import cluster_kwargs, create_cluster, job_script, load_cluster_config
from flint.prefect.cluster.factory import worker_task_cores


def _config(tmp_path: Path, **config) -> Path:
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_task_cores_follow_the_cluster_config(tmp_path):
    slurm = load_cluster_config(
        _config(
            tmp_path,
            cluster_class="dask_jobqueue.SLURMCluster",
            cluster_kwargs={"cores": 2, "processes": 1, "job_cpu": 8, "memory": "16GB"},
            tool_scratch="$TMPDIR",
        )
    )
    assert worker_task_cores(slurm) == 4  # 8 cpus-per-task shared by 2 worker threads
    script = job_script(slurm)
    assert "--cpus-per-task=8" in script and "export FLINT_TASK_CORES=4" in script
    assert "export FLINT_TOOL_SCRATCH=$TMPDIR" in script  # expanded on the node
    cpus = len(os.sched_getaffinity(0))
    local = load_cluster_config(
        _config(
            tmp_path,
            cluster_class="distributed.LocalCluster",
            cluster_kwargs={"n_workers": 2, "threads_per_worker": 1},
        )
    )
    assert cluster_kwargs(local)["env"] == {"FLINT_TASK_CORES": str(share(cpus // 2, 1))}
    assert worker_task_cores(load_cluster_config("local")) == 1  # one worker per core
    assert share(2, 4) == 1  # never zero: more threads than cores shares one core
    assert parallel_deconvolution(1280) is None and parallel_deconvolution(6144) == 2048
    assert bane_cores(8, 6144) == 8 and bane_cores(2, 1280) == 2 and bane_cores(2, 256) == 1
    # a SLURM task with 4 cores imaging the default strategy's 6144-pixel, 8-sub-band image
    from flint.imaging.command import with_resources, wsclean_option_args
    from flint.strategy import load_strategy, options_for_round

    argv = wsclean_option_args(with_resources(options_for_round(load_strategy(), "imaging", 0), 4))
    flags = {flag: argv[argv.index(flag) + 1] for flag in ("-j", "-parallel-gridding",
                                                           "-parallel-deconvolution")}  # fmt: skip
    assert flags == {"-j": "4", "-parallel-gridding": "4", "-parallel-deconvolution": "2048"}


def _tools_on_a_worker(ms: str, work: str) -> None:
    """Image, flag and find sources the way the flows do, on a Dask worker."""
    from flint.flagging import run_aoflagger
    from flint.imaging import WSCleanOptions
    from flint.imaging.run import run_wsclean
    from flint.sourcefind import find_sources

    run_aoflagger(ms, Path(work) / "flagged.ms")
    options = WSCleanOptions(
        size=256, scale="60asec", niter=200, data_column="DATA", channels_out=2,
        join_channels=True, multiscale=False, local_rms=False, auto_mask=None,
    )  # fmt: skip
    products = run_wsclean(ms, options, Path(work) / "images", "probe")
    find_sources(products.image, Path(work) / "catalogues")


@pytest.mark.slow
def test_tool_command_lines_carry_the_workers_cores(tmp_path, monkeypatch):
    """One single-threaded worker owning every core of this machine: wsclean, aoflagger and
    Aegean ran with that many threads (wsclean gridding both sub-bands at once), BANE with
    one per 512 image rows."""
    from distributed import Client

    from flint.simulate import SimulationOptions, simulate_field
    from flint.sky import random_sky

    field = SimulationOptions(layout="flint", beams=[0], n_antennas=12, n_channels=288,
                              channel_average=8, duration_s=300.0, integration_s=30.0)  # fmt: skip
    sky = random_sky(field.ra_deg, field.dec_deg, radius_deg=1.5, min_flux_jy=0.05, seed=2)
    (ms,) = simulate_field(tmp_path / "field", sky, field).measurement_sets
    cpus = len(os.sched_getaffinity(0))
    record = tmp_path / "tools.jsonl"
    monkeypatch.setenv(RECORD_ENV, str(record))  # the worker processes inherit it
    worker = {"n_workers": 1, "threads_per_worker": 1, "processes": True,
              "dashboard_address": "127.0.0.1:0", "silence_logs": "error"}  # fmt: skip
    config = load_cluster_config(
        _config(tmp_path, cluster_class="distributed.LocalCluster", cluster_kwargs=worker)
    )
    cluster = create_cluster(config, ensure_server=False)
    try:
        with Client(cluster) as client:
            assert client.run(lambda: os.environ["FLINT_TASK_CORES"]).popitem()[1] == str(cpus)
            client.submit(_tools_on_a_worker, str(ms), str(tmp_path)).result()
    finally:
        cluster.close()
    runs = [json.loads(line) for line in record.read_text().splitlines()]
    ran = {run["tool"]: run["argv"] for run in runs}
    assert set(ran) == {"aoflagger", "wsclean", "BANE", "aegean"}, set(ran)

    def value(argv: list[str], flag: str) -> str:
        return argv[argv.index(flag) + 1]

    assert value(ran["aoflagger"], "-j") == str(cpus)
    assert value(ran["wsclean"], "-j") == str(cpus)
    if cpus > 1:  # one sub-band per core
        assert value(ran["wsclean"], "-parallel-gridding") == str(min(cpus, 2))
    assert value(ran["BANE"], "--cores") == "1"  # a 256-pixel image: one stripe (flint.cores)
    assert value(ran["aegean"], "--cores") == str(cpus)
    assert all(run["cpu_seconds"] > 0 and run["max_rss_bytes"] >= 0 for run in runs)


def test_work_is_recorded_beside_its_tools(tmp_path, monkeypatch):
    """A task's own work (the flint function, its tools included) is recorded apart from the
    tools: a task's wall beyond it is what Prefect and Dask add (bench_fullbeam.py)."""
    record = tmp_path / "tools.jsonl"
    monkeypatch.setenv(RECORD_ENV, str(record))
    with recorded_work("solve"):
        run_tool(["sleep", "0.3"], log_path=tmp_path / "sleep.log")
        sum(i * i for i in range(300_000))  # Python work of the task itself
    tool, work = (json.loads(line) for line in record.read_text().splitlines())
    assert tool["tool"] == "sleep" and "work" not in tool
    assert work["work"] == "solve" and "tool" not in work
    assert work["started"] <= tool["started"] and work["ended"] >= tool["ended"] - 1e-3
    assert work["seconds"] > tool["seconds"] >= 0.3 and work["cpu_seconds"] > 0
    monkeypatch.delenv(RECORD_ENV)
    with recorded_work("solve"):
        pass
    assert len(record.read_text().splitlines()) == 2  # nothing recorded without the variable
