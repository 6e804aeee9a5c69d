"""Fixtures that start the real services: a single-node SLURM, Prefect servers, PostgreSQL.

Imported by tests/conftest.py. Each fixture starts what it needs, fails with a clear message
when a service cannot start (never skips), and stops only what it started.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["postgres_dir", "prefect_env", "prefect_home_server", "slurm"]

REPO = Path(__file__).resolve().parent.parent
SLURM_SCRIPTS = REPO / "scripts" / "slurm"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def restore_environment(saved: dict[str, str]) -> None:
    """Put ``os.environ`` back as ``saved`` and let an imported Prefect see it."""
    import logging

    import dask

    os.environ.clear()
    os.environ.update(saved)
    for name in ("flint", "fixms"):  # handlers flint.prefect.settings attached
        target = logging.getLogger(name)
        target.handlers[:] = [
            h for h in target.handlers if not type(h).__module__.startswith("prefect")
        ]
        target.setLevel(logging.NOTSET)
    preload = [
        p for p in dask.config.get("distributed.worker.preload", []) if not p.startswith("flint.")
    ]
    dask.config.set({"distributed.worker.preload": preload})
    from flint.prefect.settings import refresh_prefect_settings

    refresh_prefect_settings()


@pytest.fixture(scope="session")
def slurm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A running single-node SLURM (scripts/slurm/start.sh); yields its environment."""
    missing = [tool for tool in ("munged", "slurmctld", "slurmd", "sbatch") if not
               shutil.which(tool, path=os.environ["PATH"] + ":/usr/sbin")]  # fmt: skip
    if missing:
        pytest.fail(
            f"SLURM is not installed ({', '.join(missing)} missing): run scripts/bootstrap.sh test"
        )
    directory = Path(tempfile.mkdtemp(prefix="flint-slurm-"))
    env = {
        **os.environ,
        "FLINT_SLURM_DIR": str(directory),
        "FLINT_SLURM_CTLD_PORT": str(free_port()),
        "FLINT_SLURM_SLURMD_PORT": str(free_port()),
    }
    started = subprocess.run([SLURM_SCRIPTS / "start.sh"], env=env, capture_output=True, text=True)
    if started.returncode != 0:
        subprocess.run([SLURM_SCRIPTS / "stop.sh", "--purge"], env=env, capture_output=True)
        pytest.fail(f"single-node SLURM did not start:\n{started.stderr}")
    saved = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(directory / "etc" / "slurm.conf")
    try:
        yield {"SLURM_CONF": os.environ["SLURM_CONF"], "FLINT_SLURM_DIR": str(directory)}
    finally:
        subprocess.run([SLURM_SCRIPTS / "stop.sh", "--purge"], env=env, capture_output=True)
        if saved is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = saved


@pytest.fixture(scope="session")
def prefect_home_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """The embedded Prefect server of a throwaway PREFECT_HOME, started once per session."""
    from flint.prefect.server.embedded import ensure_prefect_server
    from flint.prefect.server.prefect_server import stop_prefect_server

    home = tmp_path_factory.mktemp("prefect-home")
    saved = dict(os.environ)
    os.environ["PREFECT_HOME"] = str(home)
    os.environ.pop("PREFECT_API_URL", None)
    try:
        api_url = ensure_prefect_server()
    except Exception as error:  # a start failure must fail the tests, with its output
        restore_environment(saved)
        stop_prefect_server(home)
        pytest.fail(f"the embedded Prefect server did not start: {error}")
    restore_environment(saved)
    try:
        yield home, api_url
    finally:
        stop_prefect_server(home)


@pytest.fixture
def prefect_env(prefect_home_server: tuple[Path, str]) -> Iterator[str]:
    """PREFECT_HOME and PREFECT_API_URL of the session's server for one test; restored after."""
    from flint.prefect.server.embedded import ensure_prefect_server

    home, api_url = prefect_home_server
    saved = dict(os.environ)
    os.environ["PREFECT_HOME"] = str(home)
    os.environ.pop("PREFECT_API_URL", None)
    try:
        assert ensure_prefect_server() == api_url
        yield api_url
    finally:
        restore_environment(saved)


@pytest.fixture
def postgres_dir() -> Iterator[Path]:
    """An empty directory the ``postgres`` user can traverse (pytest's tmp dirs are 0700)."""
    directory = Path(tempfile.mkdtemp(prefix="flint-pg-"))
    directory.chmod(0o755)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)
