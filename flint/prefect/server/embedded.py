"""The embedded default: one local Prefect server (SQLite under PREFECT_HOME), shared by runs.

Without a server Prefect starts a temporary one in every process, Dask workers included.
:func:`ensure_prefect_server` starts one server per ``PREFECT_HOME`` (or reuses the one
already recorded and healthy) and exports ``PREFECT_API_URL`` into ``os.environ`` so every
process started afterwards (Dask workers, SLURM jobs) talks to it.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

from flint.prefect.server.prefect_server import (
    PrefectServerOptions,
    export_client_auth,
    start_prefect_server,
)
from flint.prefect.settings import apply_environment, apply_prefect_defaults, prefect_home

logger = logging.getLogger(__name__)

LOCK_FILE = "flint-server.lock"


def ensure_prefect_server(timeout: float = 90.0) -> str:
    """Return the Prefect API URL to use, starting the embedded server if none is configured.

    ``PREFECT_API_URL`` already set: used as is. Otherwise the server recorded under
    ``PREFECT_HOME`` is reused when healthy, or one is started on a free 127.0.0.1 port.
    Either way ``PREFECT_API_URL`` is then in ``os.environ`` and flint's Prefect defaults
    (:func:`flint.prefect.settings.apply_prefect_defaults`) are applied. Safe to call often
    and from several processes at once.
    """
    apply_prefect_defaults()
    configured = os.environ.get("PREFECT_API_URL")
    if configured:
        return configured
    home = prefect_home().resolve()
    home.mkdir(parents=True, exist_ok=True)
    with _locked(home / LOCK_FILE):
        api_url = start_prefect_server(
            PrefectServerOptions(host="127.0.0.1", port=0), home=home, timeout=timeout,
            kind="embedded",
        )  # fmt: skip
    apply_environment({"PREFECT_API_URL": api_url})
    export_client_auth(home)  # a server started with an auth string needs it from clients
    logger.info("Using the embedded Prefect server at %s (PREFECT_HOME=%s)", api_url, home)
    return api_url


class _locked:
    """An exclusive advisory lock on ``path`` (serialises starts across processes)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> None:
        self.handle = self.path.open("a")
        fcntl.flock(self.handle, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()
