"""Dask on a real single-node SLURM with TLS: temporary credentials, encrypted flows."""

from __future__ import annotations

import copy
import os

import dask
import pytest
from fixtures_services import restore_environment
from test_slurm_cluster import slurm_yaml

from flint.prefect.cluster import cluster_kwargs, create_cluster, load_cluster_config
from flint.prefect.cluster.security import needs_tls

pytestmark = pytest.mark.slow


def test_tls_is_on_whenever_the_scheduler_listens_beyond_loopback(tmp_path):
    config = load_cluster_config(slurm_yaml(tmp_path / "slurm.yaml", tmp_path / "logs", 1))
    assert not needs_tls(config, cluster_kwargs(config))  # interface lo
    for exposed in ({"interface": "ib0"}, {"interface": None}):
        kwargs = {k: v for k, v in config.cluster_kwargs.items() if k != "interface"}
        kwargs.update({k: v for k, v in exposed.items() if v})
        exposed_config = config.with_options(cluster_kwargs=kwargs)
        assert needs_tls(exposed_config, cluster_kwargs(exposed_config)), exposed
        assert not needs_tls(exposed_config.with_options(tls="off"), cluster_kwargs(exposed_config))
    local = load_cluster_config("local")
    assert not needs_tls(local, cluster_kwargs(local))
    builtin = load_cluster_config("slurm")  # interface ib0: TLS, dashboard on loopback
    assert needs_tls(builtin, cluster_kwargs(builtin))
    assert cluster_kwargs(builtin)["scheduler_options"]["dashboard_address"] == "127.0.0.1:0"


def test_flow_on_slurm_over_tls(slurm, prefect_env, real_ms_readonly, tmp_path):
    from distributed import Client
    from prefect_dask import DaskTaskRunner

    from flint.prefect.cluster.smoke import cluster_smoke_flow

    config = load_cluster_config(slurm_yaml(tmp_path / "slurm.yaml", tmp_path / "logs", 1))
    config = config.with_options(tls="on")
    saved_env, saved_config = dict(os.environ), copy.deepcopy(dask.config.config)
    cluster = create_cluster(config)
    try:
        address = cluster.scheduler_address
        assert address.startswith("tls://")
        script = cluster.job_script()
        assert "--tls-ca-file" in script and "--tls-key" in script
        credentials = [p for p in (tmp_path / "logs").glob(".flint-tls-*/*.pem")]
        assert sorted(p.name for p in credentials) == ["ca.pem", "cert.pem", "key.pem"]
        assert all(oct(p.stat().st_mode)[-3:] == "600" for p in credentials)
        flow = cluster_smoke_flow.with_options(task_runner=DaskTaskRunner(address=address))
        state = flow(str(real_ms_readonly), n_tasks=2, return_state=True)
        assert state.is_completed(), state
        assert all(result["job"] for result in state.result())  # ran in SLURM jobs, over TLS
        plain = dask.config.set({"distributed.comm.require-encryption": False})
        with plain, pytest.raises(OSError):  # plain TCP is not spoken there
            Client(address.replace("tls://", "tcp://"), timeout=3, security=False)
        dashboard = cluster.scheduler_info["services"]["dashboard"]
        assert cluster.dashboard_link.startswith("http://127.0.0.1:"), (
            dashboard,
            cluster.dashboard_link,
        )
    finally:
        cluster.close()
        dask.config.config.clear()
        dask.config.config.update(saved_config)
        restore_environment(saved_env)
