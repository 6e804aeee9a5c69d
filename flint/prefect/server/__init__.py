"""Prefect server helpers: the embedded default, PostgreSQL, and a tuned uvicorn server."""

from flint.prefect.server._process import ServerError
from flint.prefect.server.embedded import ensure_prefect_server
from flint.prefect.server.postgres import PostgresOptions, start_postgres, stop_postgres
from flint.prefect.server.prefect_server import (
    PrefectServerOptions,
    prefect_server_status,
    start_prefect_server,
    stop_prefect_server,
)

__all__ = [
    "PostgresOptions",
    "PrefectServerOptions",
    "ServerError",
    "ensure_prefect_server",
    "prefect_server_status",
    "start_postgres",
    "start_prefect_server",
    "stop_postgres",
    "stop_prefect_server",
]
