"""Cluster configs: one YAML file names a Dask cluster class, its keywords and adapt limits.

``cluster_class`` must resolve to a Dask cluster class (a subclass of
``distributed.deploy.Cluster``, which covers LocalCluster, SpecCluster and every
dask-jobqueue cluster). For dask-jobqueue classes the keywords are checked against the
cluster's and job's signatures and their types, so a typo fails before anything is submitted.
Strings such as ``$LOCALDIR`` are kept as written: they are meant for the compute node.
"""

from __future__ import annotations

import importlib
import inspect
import os
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from flint.errors import ConfigError
from flint.options import BaseOptions, load_yaml_mapping, validated

GiB = 2**30
MIN_WORKER_MEMORY = 2 * GiB


class AdaptOptions(BaseOptions):
    """Limits for ``cluster.adapt``: Dask adds workers when work waits and removes idle ones."""

    minimum: int = Field(0, ge=0)
    """Fewest workers (0 lets the cluster shrink to nothing)."""
    maximum: int = Field(1, ge=1)
    """Most workers."""
    interval: str | float | None = None
    """How often to reconsider, e.g. "1s" (Dask's default when unset)."""
    wait_count: int | None = Field(None, ge=1)
    """Consecutive idle checks before a worker is retired."""
    target_duration: str | float | None = None
    """Aim to finish queued work within this time, e.g. "5s"."""

    @model_validator(mode="after")
    def _ordered(self) -> AdaptOptions:
        if self.minimum > self.maximum:
            raise ValueError(f"minimum ({self.minimum}) exceeds maximum ({self.maximum})")
        return self


class JobQueueKwargs(BaseModel):
    """Types of the common dask-jobqueue keywords (others are checked by name only)."""

    model_config = ConfigDict(extra="allow", strict=True)

    cores: int | None = Field(None, ge=1)
    processes: int | None = Field(None, ge=1)
    memory: str | None = None
    job_cpu: int | None = Field(None, ge=1)
    job_mem: str | None = None
    walltime: str | None = None
    name: str | None = None
    job_name: str | None = None
    queue: str | None = None
    account: str | None = None
    interface: str | None = None
    log_directory: str | None = None
    local_directory: str | None = None
    python: str | None = None
    shebang: str | None = None
    nanny: bool | None = None
    silence_logs: str | int | bool | None = None
    death_timeout: float | str | None = None
    job_extra_directives: list[str] | None = None
    job_directives_skip: list[str] | None = None
    job_script_prologue: list[str] | None = None
    worker_extra_args: list[str] | None = None
    scheduler_options: dict[str, Any] | None = None


class ClusterConfig(BaseOptions):
    """A Dask cluster as data: class, keywords, and adapt limits (or a fixed size)."""

    cluster_class: str = "distributed.LocalCluster"
    """Dotted path of a Dask cluster class, e.g. dask_jobqueue.SLURMCluster."""
    cluster_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Keywords for the class (for job queues: cores, memory, walltime, job_extra_directives...)."""
    adapt_kwargs: AdaptOptions | None = None
    """Scale between minimum and maximum workers with the load; None keeps a fixed size."""
    scale: int | None = Field(None, ge=0)
    """A fixed number of workers (job-queue clusters start none unless given)."""
    worker_lifetime: bool = True
    """For job queues with a walltime: retire workers (--lifetime, staggered) before it ends."""
    tool_scratch: str | None = None
    """Node-local directory for tools' temporary files (wsclean's reordering files and
    sub-band images), e.g. ``$TMPDIR`` or ``/dev/shm``: exported to every worker as
    ``FLINT_TOOL_SCRATCH`` (:mod:`flint.scratch`); kept as written, expanded on the node.
    None: temporary files stay beside the products."""
    tls: Literal["auto", "on", "off"] = "auto"
    """Encrypt and authenticate Dask's traffic with temporary credentials per cluster:
    ``auto`` whenever the scheduler listens beyond loopback (any interface but ``lo``)."""

    @field_validator("cluster_class")
    @classmethod
    def _is_cluster_class(cls, value: str) -> str:
        resolve_cluster_class(value)
        return value

    @model_validator(mode="after")
    def _check_kwargs(self) -> ClusterConfig:
        problems = kwargs_problems(resolve_cluster_class(self.cluster_class), self.cluster_kwargs)
        if self.scale is not None and self.adapt_kwargs is not None:
            problems.append((("scale",), "give either scale or adapt_kwargs, not both"))
        if problems:
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [
                    InitErrorDetails(
                        type=PydanticCustomError("cluster_config", "{problem}", {"problem": text}),
                        loc=loc,
                        input=None,
                    )
                    for loc, text in problems
                ],
            )
        return self

    @property
    def is_jobqueue(self) -> bool:
        """Whether the class submits workers as batch jobs (dask-jobqueue)."""
        return _is_jobqueue(resolve_cluster_class(self.cluster_class))


def resolve_cluster_class(dotted: str) -> type:
    """Import ``module.Class`` and check it is a Dask cluster class."""
    from distributed.deploy import Cluster

    module_name, _, name = dotted.rpartition(".")
    if not module_name:
        raise ValueError(f"{dotted!r} is not a dotted path such as dask_jobqueue.SLURMCluster")
    try:
        found = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as error:
        raise ValueError(f"cannot import {dotted!r}: {error}") from None
    if not (inspect.isclass(found) and issubclass(found, Cluster)):
        raise ValueError(
            f"{dotted!r} is not a Dask cluster class (a subclass of distributed.deploy.Cluster, "
            "e.g. distributed.LocalCluster or dask_jobqueue.SLURMCluster)"
        )
    return found


def _is_jobqueue(cls: type) -> bool:
    try:
        from dask_jobqueue import JobQueueCluster
    except ImportError:
        return False
    return issubclass(cls, JobQueueCluster)


def _parameters(*functions: Any) -> tuple[set[str], bool]:
    """Named keyword parameters of ``functions`` and whether any also takes ``**kwargs``."""
    names: set[str] = set()
    open_ended = False
    for function in functions:
        for parameter in inspect.signature(function).parameters.values():
            if parameter.kind is parameter.VAR_KEYWORD:
                open_ended = True
            elif parameter.name != "self":
                names.add(parameter.name)
    return names, open_ended


def kwargs_problems(cls: type, kwargs: dict[str, Any]) -> list[tuple[tuple, str]]:
    """Every problem with ``kwargs`` for cluster class ``cls``, as (location, message)."""
    problems: list[tuple[tuple, str]] = []
    if _is_jobqueue(cls):
        from dask_jobqueue.core import Job

        known, _ = _parameters(cls.__init__, cls.job_cls.__init__, Job.__init__)
        known -= {"scheduler", "job_cls", "loop", "asynchronous", "config_name", "job_kwargs"}
        open_ended = False
        try:
            JobQueueKwargs.model_validate(kwargs)
        except ValidationError as error:
            for item in error.errors():
                problems.append((("cluster_kwargs", *item["loc"]), item["msg"]))
        if not problems and not set(kwargs) - known:
            problems += _job_problems(cls, kwargs)
    else:
        known, open_ended = _parameters(cls.__init__)
        if open_ended and cls.__module__.startswith("distributed.deploy.local"):
            from distributed import Nanny, Worker

            extra, _ = _parameters(Nanny.__init__, Worker.__init__)
            known |= extra
            open_ended = False
    if not open_ended:
        for key in sorted(set(kwargs) - known):
            close = [name for name in sorted(known) if name.startswith(key[:3])][:3]
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            problems.append(
                (("cluster_kwargs", key), f"not a keyword of {cls.__module__}.{cls.__name__}{hint}")
            )
    return problems


def _job_problems(cls: type, kwargs: dict[str, Any]) -> list[tuple[tuple, str]]:
    """Build a throwaway job as dask-jobqueue does, to catch bad values (e.g. memory)."""
    from flint.prefect.cluster.jobqueue import render_job_script

    try:
        render_job_script(cls, kwargs)
    except (ValueError, TypeError) as error:
        return [(("cluster_kwargs",), f"{cls.__name__} rejects these keywords: {error}")]
    return []


def _builtin_dir():
    return files("flint.prefect").joinpath("data", "clusters")


def builtin_cluster_names() -> list[str]:
    """Names of the packaged cluster configs (``local``, ``slurm``...)."""
    return sorted(
        entry.name.removesuffix(".yaml")
        for entry in _builtin_dir().iterdir()
        if entry.name.endswith(".yaml")
    )


def _read_source(source: str | os.PathLike[str]) -> tuple[str, str]:
    """YAML text and a label for ``source``: a file path or a built-in name."""
    path = Path(source)
    if path.is_file():
        return path.read_text(), str(path)
    name = str(source)
    if name in builtin_cluster_names():
        return _builtin_dir().joinpath(f"{name}.yaml").read_text(), f"built-in {name!r}"
    raise ConfigError(
        f"no such file, and not a built-in cluster config ({', '.join(builtin_cluster_names())})",
        source,
    )


def load_cluster_config(source: str | os.PathLike[str] = "local") -> ClusterConfig:
    """Read a cluster YAML file (or built-in name) safely and validate it; ``auto`` is resolved."""
    text, label = _read_source(source)
    values = load_yaml_mapping(
        text, label, "a cluster config is a mapping with cluster_class, cluster_kwargs..."
    )
    return resolve_auto(validated(ClusterConfig, values, label))


def auto_local_size(cpus: int | None = None, memory: int | None = None) -> tuple[int, int]:
    """Workers and bytes per worker for a single-threaded LocalCluster on this machine."""
    cpus = cpus or len(os.sched_getaffinity(0))
    memory = memory or os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    workers = max(1, min(cpus, memory // MIN_WORKER_MEMORY))
    return workers, memory // workers


def resolve_auto(config: ClusterConfig) -> ClusterConfig:
    """Replace ``n_workers: auto`` and ``memory_limit: auto`` with numbers for this machine."""
    kwargs = dict(config.cluster_kwargs)
    if "auto" not in (kwargs.get("n_workers"), kwargs.get("memory_limit")):
        return config
    workers, memory = auto_local_size()
    if kwargs.get("n_workers") == "auto":
        kwargs["n_workers"] = workers
    if kwargs.get("memory_limit") == "auto":
        kwargs["memory_limit"] = f"{memory // 2**20}MiB"
    return config.with_options(cluster_kwargs=kwargs)
