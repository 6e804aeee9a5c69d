"""Dask clusters from one YAML file: validate, explain, start, or hand to Prefect."""

from flint.prefect.cluster.config import (
    AdaptOptions,
    ClusterConfig,
    builtin_cluster_names,
    load_cluster_config,
)
from flint.prefect.cluster.factory import (
    CLUSTER_ADDRESS_ENV,
    cluster_kwargs,
    create_cluster,
    default_task_runner,
    describe,
    job_script,
    running_cluster,
    task_runner,
)

__all__ = [
    "CLUSTER_ADDRESS_ENV",
    "AdaptOptions",
    "ClusterConfig",
    "builtin_cluster_names",
    "cluster_kwargs",
    "create_cluster",
    "default_task_runner",
    "describe",
    "job_script",
    "load_cluster_config",
    "running_cluster",
    "task_runner",
]
