"""Submit flows through a Prefect ``serve`` runner process, so every run can be cancelled.

A flow run started in a notebook kernel's thread cannot be cancelled; one started by a
``serve`` runner can (the runner kills its process). The workbench therefore starts a runner
process for flint's flows (or connects to one already running) and submits deployment runs::

    spec = ServeSpec(entrypoints=("flint.prefect.flows.continuum:continuum",))
    runner = ServeRunner.start(spec, log_dir)            # python -m flint.prefect.submit ...
    sub = await submit(spec.deployment_names()[0], {"options": {...}})
    sub.url                                              # the run in the Prefect UI

Entrypoints are data (``module:function`` or ``path/file.py:function``); each flow is served
as the deployment ``<flow name>/<spec.deployment>``. No UI here.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from flint.errors import FlintError

logger = logging.getLogger(__name__)


class SubmitError(FlintError, RuntimeError):
    """A serve runner could not be started or reached, or a run could not be submitted."""


class ServeSpec(BaseModel):
    """Which flows a serve runner offers, and under which deployment name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entrypoints: tuple[str, ...] = Field(min_length=1)
    """Flow functions as ``package.module:function`` or ``path/to/file.py:function``."""
    deployment: str = "workbench"
    """Deployment name given to every served flow."""
    limit: int | None = None
    """Most flow runs the runner executes at once (``None``: no limit)."""

    @cached_property
    def flow_names(self) -> tuple[str, ...]:
        """The Prefect names of the flows (imports each entrypoint in this process)."""
        from prefect.flows import load_flow_from_entrypoint

        try:
            return tuple(load_flow_from_entrypoint(ep).name for ep in self.entrypoints)
        except Exception as error:
            raise SubmitError(f"cannot load flow entrypoint: {error}") from error

    def deployment_names(self) -> tuple[str, ...]:
        """Full deployment names, ``<flow name>/<deployment>``, in entrypoint order."""
        return tuple(f"{name}/{self.deployment}" for name in self.flow_names)


class Submission(BaseModel):
    """A submitted flow run."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    deployment: str
    url: str
    """The run's page in the Prefect UI."""


class FlowChoice(BaseModel):
    """A flow offered in the workbench: its entrypoint and how its form maps to parameters."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entrypoint: str
    """The flow function, as in :attr:`ServeSpec.entrypoints`."""
    label: str | None = None
    """Shown in the flow picker (default: the flow's name)."""
    options_model: str | None = None
    """Dotted path of the pydantic options model the form is generated from; ``None``:
    a model built from the flow function's signature."""
    options_parameter: str | None = None
    """The flow parameter that takes the options; ``None``: fields are the parameters."""
    cluster_parameter: str | None = None
    """The flow parameter that takes the running cluster's scheduler address, if any."""

    def load_flow(self) -> Any:
        from prefect.flows import load_flow_from_entrypoint

        try:
            return load_flow_from_entrypoint(self.entrypoint)
        except Exception as error:
            raise SubmitError(f"cannot load flow {self.entrypoint!r}: {error}") from error

    def model(self) -> type[BaseModel]:
        """The options model whose JSON schema drives the form and validation."""
        if self.options_model is not None:
            from importlib import import_module

            module, _, name = self.options_model.rpartition(".")
            return getattr(import_module(module), name)
        return signature_model(self.load_flow().fn, skip=(self.cluster_parameter,))

    def parameters(self, options: BaseModel, cluster_address: str | None = None) -> dict[str, Any]:
        """The flow-run parameters for validated ``options`` (JSON-ready)."""
        values = options.model_dump(mode="json")
        params = {self.options_parameter: values} if self.options_parameter else values
        if self.cluster_parameter and cluster_address:
            params[self.cluster_parameter] = cluster_address
        return params


def signature_model(fn: Any, skip: Sequence[str | None] = ()) -> type[BaseModel]:
    """A pydantic model of a function's parameters (annotations, defaults, docstring-free)."""
    import inspect

    from pydantic import create_model

    fields: dict[str, Any] = {}
    for name, param in inspect.signature(fn, eval_str=True).parameters.items():
        if name in skip or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        annotation = Any if param.annotation is param.empty else param.annotation
        default = ... if param.default is param.empty else param.default
        fields[name] = (annotation, default)
    config = ConfigDict(extra="forbid", frozen=True)
    return create_model(f"{fn.__name__}_parameters", __config__=config, **fields)


def serve_argv(spec: ServeSpec, python: str = sys.executable) -> list[str]:
    """The command that runs a serve runner for ``spec`` (pure)."""
    argv = [python, "-m", "flint.prefect.submit", "--deployment", spec.deployment]
    if spec.limit is not None:
        argv += ["--limit", str(spec.limit)]
    return [*argv, *spec.entrypoints]


def ui_url(flow_run_id: str, api_url: str | None = None) -> str:
    """The Prefect UI page of a flow run, derived from ``PREFECT_API_URL``."""
    if api_url is None:
        from prefect.settings import PREFECT_API_URL

        api_url = PREFECT_API_URL.value() or ""
    base = api_url.rstrip("/").removesuffix("/api")
    return f"{base}/runs/flow-run/{flow_run_id}"


RUNNER_SILENT_SECONDS = 60.0
"""A deployment whose runner has not polled for this long has no live serve runner."""


def _served(deployment: Any, now: datetime) -> bool:
    """Whether a live runner polls ``deployment`` (``None``: unknown; each poll is recorded)."""
    last = getattr(deployment, "last_polled", None)
    return last is not None and (now - last).total_seconds() < RUNNER_SILENT_SECONDS


async def missing_deployments(names: Sequence[str]) -> list[str]:
    """The deployments of ``names`` that no live serve runner offers.

    Unknown deployments and deployments left behind by a runner that stopped (not polled
    for :data:`RUNNER_SILENT_SECONDS`) are both missing: runs submitted to them would
    wait forever.
    """
    from prefect import get_client
    from prefect.exceptions import ObjectNotFound

    async def read(client: Any, name: str) -> Any:
        try:
            return await client.read_deployment_by_name(name)
        except ObjectNotFound:
            return None

    async with get_client() as client:
        found = [await read(client, name) for name in names]
    now = datetime.now(UTC)
    return [name for name, d in zip(names, found, strict=True) if not _served(d, now)]


def _missing_deployments_sync(names: Sequence[str]) -> list[str]:
    """:func:`missing_deployments` for callers with or without a running event loop."""
    from prefect import get_client
    from prefect.exceptions import ObjectNotFound

    def read(client: Any, name: str) -> Any:
        try:
            return client.read_deployment_by_name(name)
        except ObjectNotFound:
            return None

    with get_client(sync_client=True) as client:
        found = [read(client, name) for name in names]
    now = datetime.now(UTC)
    return [name for name, d in zip(names, found, strict=True) if not _served(d, now)]


async def connect(spec: ServeSpec) -> tuple[str, ...]:
    """Check that a serve runner already registered every flow of ``spec``; return the names."""
    names = spec.deployment_names()
    if missing := await missing_deployments(names):
        raise SubmitError(f"no live serve runner offers {', '.join(missing)}; start one first")
    return names


async def submit(
    deployment: str,
    parameters: Mapping[str, Any] | None = None,
    tags: Sequence[str] = (),
    name: str | None = None,
) -> Submission:
    """Create a run of ``deployment`` and return at once (the runner picks it up)."""
    from prefect.deployments import arun_deployment
    from prefect.exceptions import ObjectNotFound

    try:
        run = await arun_deployment(
            deployment,
            parameters=dict(parameters or {}),
            tags=list(tags),
            flow_run_name=name,
            timeout=0,
            as_subflow=False,
        )
    except ObjectNotFound:
        raise SubmitError(f"no deployment named {deployment!r}; is the serve runner up?") from None
    return Submission(id=str(run.id), name=run.name, deployment=deployment, url=ui_url(str(run.id)))


class ServeRunner:
    """A serve runner subprocess started by this process; its output goes to ``log_path``."""

    def __init__(self, spec: ServeSpec, process: subprocess.Popen, log_path: Path) -> None:
        self.spec = spec
        self.process = process
        self.log_path = log_path

    @classmethod
    def start(
        cls,
        spec: ServeSpec,
        log_dir: str | os.PathLike[str],
        env: Mapping[str, str] | None = None,
        timeout: float = 120.0,
    ) -> ServeRunner:
        """Spawn the runner and wait until its deployments are registered.

        ``PREFECT_API_URL`` must point at a running server (in ``env`` or the environment).
        """
        environ = {**os.environ, **(env or {})}
        environ.setdefault("PREFECT_RUNNER_POLL_FREQUENCY", "2")  # Prefect's 10 s feels stuck
        if not environ.get("PREFECT_API_URL"):
            raise SubmitError("PREFECT_API_URL is not set: start a Prefect server first")
        log_path = Path(log_dir) / f"serve-{spec.deployment}-{os.getpid()}-{time.time_ns()}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                serve_argv(spec),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=environ,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        runner = cls(spec, process, log_path)
        try:
            runner.wait_ready(timeout)
        except BaseException:
            runner.stop()
            raise
        logger.info("serve runner %d offers %s", process.pid, spec.deployment_names())
        return runner

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 20) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, timeout: float) -> None:
        """Block until every deployment is registered; raise with the log tail on failure."""
        names = self.spec.deployment_names()
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive:
                raise SubmitError(
                    f"serve runner exited with code {self.process.returncode}:\n{self.tail()}"
                )
            if not _missing_deployments_sync(names):
                return
            if time.monotonic() > deadline:
                raise SubmitError(f"serve runner not ready after {timeout:.0f} s:\n{self.tail()}")
            time.sleep(0.5)

    def stop(self, timeout: float = 20.0) -> int | None:
        """Terminate the runner and its flow-run processes (SIGTERM, then SIGKILL).

        The runner leads its own process group, so its children stop with it.
        Returns the runner's exit code.
        """
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout)
                break
            except subprocess.TimeoutExpired:
                continue
        self.process.wait(timeout)
        return self.process.returncode


def entrypoint_type(entrypoint: str) -> Any:
    """How a served flow run loads its flow: by module for ``package.module:function``.

    Prefect's default (the file path) would load ``flint/prefect/flows/bandpass.py`` as a
    top-level module ``bandpass``, which Dask workers cannot import when they unpickle
    the flow's tasks.
    """
    from prefect.deployments.runner import EntrypointType

    path = entrypoint.rsplit(":", 1)[0]
    return EntrypointType.FILE_PATH if path.endswith(".py") else EntrypointType.MODULE_PATH


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the given flow entrypoints (the serve runner process's entry point)."""
    from prefect import serve
    from prefect.flows import load_flow_from_entrypoint

    parser = argparse.ArgumentParser(prog="python -m flint.prefect.submit")
    parser.add_argument("--deployment", default="workbench")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("entrypoints", nargs="+")
    args = parser.parse_args(argv)
    deployments = []
    for entrypoint in args.entrypoints:
        flow = load_flow_from_entrypoint(entrypoint)
        deployments.append(
            flow.to_deployment(name=args.deployment, entrypoint_type=entrypoint_type(entrypoint))
        )
    serve(
        *deployments,
        limit=args.limit,
        print_starting_message=False,
    )


if __name__ == "__main__":  # pragma: no cover
    main()
