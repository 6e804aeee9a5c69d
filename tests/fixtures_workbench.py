"""Fixtures of the run and workbench tests: a real Prefect server and a real serve runner."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest

from flint.prefect import runs
from flint.prefect.submit import ServeRunner, ServeSpec
from flint.prefect.workbench._background import BACKGROUND

T = TypeVar("T")
# Prefect's API client leaves a keep-alive socket to the local server for the collector
# (seen with Prefect 3.9 during deployment runs); nothing else unraisable is ignored.
UNCLOSED_API_SOCKET = pytest.mark.filterwarnings(
    r"ignore:Exception ignored in.*(socket\.socket|_SelectorTransport):"
    "pytest.PytestUnraisableExceptionWarning"
)

DEMO_FLOW = '''
"""A tiny demo flow following flint's task labelling convention (tests only)."""
import time
from pathlib import Path

from prefect import flow, tags, task
from prefect.cache_policies import INPUTS


@task(cache_policy=INPUTS, persist_result=True)
def step(stage: str, beam: int, round: int, sleep: float, fail_if: str | None) -> str:
    time.sleep(sleep)
    if fail_if and Path(fail_if).exists():
        raise RuntimeError(f"{stage} of beam {beam} failed: {fail_if} exists")
    return f"{stage}-{beam}-{round}"


@flow(name="demo-continuum")
def demo(beams: int = 3, rounds: int = 1, sleep: float = 0.05, fail_beam: int = -1,
         fail_if: str | None = None, cluster: str | None = None,
         output_dir: str | None = None) -> int:
    """``output_dir`` names products made elsewhere (the results panel shows them)."""
    futures = []
    for beam in range(beams):
        with tags(f"beam:{beam:02d}"):
            with tags("stage:flag"):
                futures.append(step.submit("flag", beam, 0, sleep, None))
            with tags("stage:solve"):
                futures.append(step.submit("solve", beam, 0, sleep,
                                           fail_if if beam == fail_beam else None))
            for r in range(1, rounds + 1):
                with tags("stage:image", f"round:{r}"):
                    futures.append(step.submit("image", beam, r, sleep, None))
    with tags("stage:mosaic"):
        futures.append(step.submit("mosaic", -1, 0, sleep, None))
    return sum(1 for f in futures if f.result())
'''
_RUNNERS: dict[str, ServeRunner] = {}
_SERVER_HOME: list = []


def wait_for(condition: Callable[[], object], timeout: float = 60.0, every: float = 0.1) -> float:
    """Seconds until ``condition()`` is truthy; fails the test after ``timeout``."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(every)
    return time.monotonic() - start


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real Prefect server for the session (reused by every module importing this)."""
    from flint.prefect.server import PrefectServerOptions, start_prefect_server, stop_prefect_server
    from flint.prefect.settings import apply_environment

    home = tmp_path_factory.getbasetemp() / "prefect-home"
    _SERVER_HOME.append(home)
    saved = {k: os.environ.get(k) for k in ("PREFECT_HOME", "PREFECT_API_URL")}
    apply_environment({"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"})
    os.environ.pop("PREFECT_API_URL", None)
    api = start_prefect_server(PrefectServerOptions(host="127.0.0.1", port=0), home=home)
    apply_environment({"PREFECT_API_URL": api})
    yield api
    for runner in _RUNNERS.values():
        runner.stop()
    _RUNNERS.clear()
    stop_prefect_server(home)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def stop_prefect_api() -> None:
    """Stop the session's Prefect server (as if it went away); see :func:`restart_prefect_api`."""
    from flint.prefect.server import stop_prefect_server

    assert stop_prefect_server(_SERVER_HOME[-1]), "the session's Prefect server was not running"


def restart_prefect_api(api_url: str) -> None:
    """Start the session's Prefect server again on the same port and database."""
    from urllib.parse import urlparse

    from flint.prefect.server import PrefectServerOptions, start_prefect_server

    port = urlparse(api_url).port
    again = start_prefect_server(
        PrefectServerOptions(host="127.0.0.1", port=port), home=_SERVER_HOME[-1]
    )
    assert again == api_url, f"restarted at {again}, not {api_url}"


@pytest.fixture(scope="session")
def real_products(tmp_path_factory: pytest.TempPathFactory):
    """Small real bandpass and continuum products (wsclean, Aegean, linmos; ~30 s, once)."""
    from products_factory import make_real_products

    return make_real_products(tmp_path_factory.mktemp("products"))


@pytest.fixture(scope="session")
def demo_spec(tmp_path_factory: pytest.TempPathFactory) -> ServeSpec:
    path = tmp_path_factory.getbasetemp() / "demo_flow.py"
    if not path.exists():
        path.write_text(DEMO_FLOW)
    return ServeSpec(entrypoints=(f"{path}:demo",))


@pytest.fixture(scope="session")
def demo_runner(prefect_api: str, demo_spec: ServeSpec, tmp_path_factory) -> ServeRunner:
    """A serve runner of the demo flow (one per session; stopped with the server)."""
    if "demo" not in _RUNNERS or not _RUNNERS["demo"].alive:
        logs = tmp_path_factory.getbasetemp() / "serve-logs"
        _RUNNERS["demo"] = ServeRunner.start(
            demo_spec, logs, env={"PREFECT_RUNNER_POLL_FREQUENCY": "1"}
        )
    return _RUNNERS["demo"]


def sync(coro: Coroutine[Any, Any, T], timeout: float = 120.0) -> T:
    """Run ``coro`` on the one long-lived background loop (as the widgets do).

    A fresh loop per call (``asyncio.run``) leaves Prefect client sockets to the collector.
    """
    return BACKGROUND.submit(coro).result(timeout)


def run_to_end(flow_run_id: str, timeout: float = 90.0) -> runs.RunSummary:
    async def follow() -> runs.RunSummary:
        while not (run := await runs.read_flow_run(flow_run_id)).finished:
            await asyncio.sleep(0.2)
        return run

    return sync(asyncio.wait_for(follow(), timeout))


def grid_settles(flow_run_id: str, timeout: float = 30.0) -> runs.RunGrid:
    """The grid once every task run has finished (task states reach the API shortly after)."""
    grids: list[runs.RunGrid] = []

    def settled() -> bool:
        grids.append(sync(runs.read_run_grid(flow_run_id)))
        return set(grids[-1].totals) <= runs.TERMINAL_STATES

    wait_for(settled, timeout, every=0.3)
    return grids[-1]


def logs_settle(flow_run_id: str, timeout: float = 30.0) -> list[runs.LogLine]:
    """The run's log lines once its own final line has arrived (logs are sent in batches:
    a task's last line can reach the API before the flow run's)."""
    lines: list[runs.LogLine] = []

    def settled() -> bool:
        lines[:] = sync(runs.read_logs(flow_run_id))
        return any(
            line.task_run_id is None and line.message.startswith("Finished in state")
            for line in lines
        )

    wait_for(settled, timeout, every=0.3)
    return lines


# --- pure: labels and grid -------------------------------------------------------------
