"""What a scheduling block needs on a cluster: ``flint plan`` and the workbench's plan view.

:func:`cluster_resources` reads a cluster config the way the cluster factory starts it
(workers from ``scale`` or the adapt maximum, threads and cores per worker, each worker's
memory and walltime); :func:`plan_observation` measures the block's beams and hands both to
:func:`flint.planning.plan_block`.
"""

from __future__ import annotations

import os
from pathlib import Path

from flint.errors import ConfigError, InputError
from flint.planning import (
    Plan,
    Resources,
    beam_shapes,
    default_cost_table_path,
    load_cost_table,
    plan_block,
)
from flint.prefect.cluster.config import ClusterConfig, load_cluster_config, resolve_cluster_class
from flint.prefect.cluster.factory import local_workers_threads
from flint.strategy import load_strategy

GiB = 2**30


def _bytes(value) -> float | None:
    from dask.utils import parse_bytes

    if value in (None, "auto"):
        return None
    return float(parse_bytes(value)) if isinstance(value, str) else float(value)


def _walltime_s(value: str | None) -> float | None:
    """SLURM's ``[D-]HH:MM:SS`` (or ``MM:SS``, ``MM``) in seconds."""
    if not value:
        return None
    days, _, clock = str(value).rpartition("-")
    parts = [float(p) for p in clock.split(":")]
    seconds = {1: lambda: parts[0] * 60, 2: lambda: parts[0] * 60 + parts[1]}.get(
        len(parts), lambda: parts[0] * 3600 + parts[1] * 60 + parts[2]
    )()
    return seconds + (float(days) * 86400 if days else 0.0)


def cluster_resources(config: ClusterConfig, name: str = "") -> Resources:
    """Workers, threads and cores per worker, memory and walltime of ``config``'s cluster
    at its largest (``scale``, else the adapt maximum)."""
    from distributed import LocalCluster

    from flint.cores import available_cores

    cls = resolve_cluster_class(config.cluster_class)
    kwargs = config.cluster_kwargs
    largest = config.scale or (config.adapt_kwargs.maximum if config.adapt_kwargs else None)
    adapt = {"adaptive": config.adapt_kwargs is not None,
             "minimum": config.adapt_kwargs.minimum if config.adapt_kwargs else 0}  # fmt: skip
    if config.is_jobqueue:
        import dask

        def setting(key):
            return kwargs.get(key, dask.config.get(f"jobqueue.{cls.job_cls.config_name}.{key}"))

        threads, processes = setting("cores"), setting("processes") or 1
        if not threads:
            raise ConfigError("cluster_kwargs.cores: needed to plan (Dask threads per job)", name)
        job_cpu = kwargs.get("job_cpu") or threads
        memory = _bytes(kwargs.get("job_mem") or setting("memory"))
        return Resources(
            workers=largest or processes,
            threads=max(1, threads // processes),
            cores=max(1, job_cpu // processes),
            memory_gib=None if memory is None else memory / processes / GiB,
            walltime_s=_walltime_s(setting("walltime")),
            name=name,
            **adapt,
        )
    if not issubclass(cls, LocalCluster):
        raise ConfigError(f"cannot plan for {config.cluster_class}: only LocalCluster and "
                          "dask-jobqueue clusters", name)  # fmt: skip
    cpus = available_cores()
    workers, threads = local_workers_threads(kwargs, cpus)
    workers = largest or workers
    limit = _bytes(kwargs.get("memory_limit"))
    if limit is None:
        limit = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / workers
    return Resources(
        workers=int(workers),
        threads=int(threads),
        cores=max(1, cpus // int(workers)),
        memory_gib=limit / GiB,
        host_cores=cpus,  # the workers share this machine, with the server and the flow
        name=name,
        **adapt,
    )


def plan_observation(
    science_dir: str | os.PathLike[str],
    cluster: str | os.PathLike[str] = "local",
    strategy: str | os.PathLike[str] | None = None,
    calibrator_dir: str | os.PathLike[str] | None = None,
    costs: str | os.PathLike[str] | None = None,
) -> Plan:
    """Plan the block in ``science_dir`` (and the bandpass flow on ``calibrator_dir``) on
    ``cluster`` (a cluster YAML or built-in name) with ``strategy`` (default: packaged)."""
    config = load_cluster_config(cluster)
    resources = cluster_resources(config, Path(str(cluster)).name)
    table = load_cost_table(costs)
    plan = load_strategy(strategy)
    beams = beam_shapes(science_dir)
    calibrators = [] if calibrator_dir is None else beam_shapes(calibrator_dir, one_field=True)
    try:
        return plan_block(beams, plan, resources, table, calibrators)
    except InputError as error:  # a stage the table lacks: name the table
        raise InputError(error.problem, costs or default_cost_table_path()) from None
