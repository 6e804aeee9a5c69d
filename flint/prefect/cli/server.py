"""``flint server start|stop|status``: the Prefect server, optionally on PostgreSQL."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

POSTGRES_STATE = "flint-postgres.json"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``server`` subcommand."""
    parser = subparsers.add_parser(
        "server",
        help="run the Prefect server (embedded SQLite, or PostgreSQL for scale)",
        description="State lives under PREFECT_HOME; one server per PREFECT_HOME.",
    )
    actions = parser.add_subparsers(dest="server_command", metavar="ACTION", required=True)
    start = actions.add_parser(
        "start", help="start PostgreSQL (with --postgres) and the Prefect server"
    )
    start.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    start.add_argument("--port", type=int, default=4200, help="API port (0: a free one)")
    start.add_argument("--web-concurrency", type=int, default=1,
                       help="uvicorn workers; >1 needs Redis messaging")  # fmt: skip
    start.add_argument("--csrf", action="store_true", help="enable Prefect's CSRF protection")
    start.add_argument(
        "--auth",
        action="store_true",
        help="require an API auth string (PREFECT_SERVER_API_AUTH_STRING, else one generated "
        "in PREFECT_HOME/flint-api-auth, mode 600); needed with any --host but loopback",
    )
    start.add_argument("--postgres", action="store_true", help="use PostgreSQL (else SQLite)")
    start.add_argument("--data-dir", type=Path, default=os.environ.get("FLINT_POSTGRES_DATA"),
                       help="PostgreSQL data directory [FLINT_POSTGRES_DATA]")  # fmt: skip
    start.add_argument(
        "--pg-port", type=int, default=None, help="PostgreSQL port [POSTGRES_PORT or 5432]"
    )
    start.add_argument(
        "--pg-user", default=None, help="OS user running PostgreSQL (default postgres as root)"
    )
    start.add_argument("--password-file", type=Path, default=None,
                       help="file with the database password (default: POSTGRES_PASS, else DATA_DIR.password)")  # fmt: skip
    start.add_argument("--memory", default=None, help="memory to tune PostgreSQL for, e.g. 8GB")
    start.add_argument("--max-connections", type=int, default=None)
    start.set_defaults(handler=_start)
    stop = actions.add_parser("stop", help="stop the Prefect server and flint's PostgreSQL")
    stop.set_defaults(handler=_stop)
    status = actions.add_parser("status", help="what runs, where, and what clients export")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=_status)


def _postgres_options(args: argparse.Namespace):
    from dask.utils import parse_bytes

    from flint.errors import ConfigError
    from flint.prefect.server.postgres import PostgresOptions

    if args.data_dir is None:
        raise ConfigError("--data-dir (or FLINT_POSTGRES_DATA) is needed with --postgres")
    values = {"data_dir": args.data_dir, "os_user": args.pg_user, "password_file": args.password_file,
              "max_connections": args.max_connections}  # fmt: skip
    if args.pg_port is not None:
        values["port"] = args.pg_port
    if args.memory:
        values["memory_bytes"] = parse_bytes(args.memory)
    return PostgresOptions(**{k: v for k, v in values.items() if v is not None})


def _start(args: argparse.Namespace) -> int:
    from flint.options import validated
    from flint.prefect.server import _process
    from flint.prefect.server.postgres import read_password, start_postgres
    from flint.prefect.server.prefect_server import (
        CLIENT_AUTH_ENV,
        PrefectServerOptions,
        api_auth_string,
        auth_file,
        check_options,
        client_settings,
        postgres_url,
        start_prefect_server,
    )
    from flint.prefect.settings import apply_prefect_defaults, prefect_home

    values = {"host": args.host, "port": args.port, "web_concurrency": args.web_concurrency,
              "csrf_protection": args.csrf}  # fmt: skip
    if not args.auth or api_auth_string() is not None:
        check_options(validated(PrefectServerOptions, {**values, "auth_string": api_auth_string()}))
    auth = api_auth_string(create=args.auth)  # the environment's, or flint's file
    if auth is not None:
        values["auth_string"] = auth
    apply_prefect_defaults()
    if args.postgres:
        pg = _postgres_options(args)
        status = start_postgres(pg)
        _process.write_json(prefect_home() / POSTGRES_STATE, pg.model_dump(mode="json"))
        print(
            f"PostgreSQL running (pid {status['pid']}, port {status['port']}, data {status['data_dir']})"
        )
        values["database_url"] = postgres_url(
            pg.user, read_password(pg), "127.0.0.1" if pg.host in ("0.0.0.0", "*") else pg.host,
            pg.port, pg.database,
        )  # fmt: skip
    options = validated(PrefectServerOptions, values, "flint server start")
    api_url = start_prefect_server(options, kind="postgres" if args.postgres else "sqlite")
    print(f"Prefect server healthy at {api_url}\nClients export:")
    client_host = None if args.host in ("127.0.0.1", "localhost") else os.uname().nodename
    settings = client_settings(options.api_url(client_host) if client_host else api_url)
    for key, value in settings.items():
        print(f"  export {key}={value}")
    if auth is not None:
        value = (
            f"$(cat {auth_file()})" if auth_file().exists() else '"$PREFECT_SERVER_API_AUTH_STRING"'
        )
        print(f"  export {CLIENT_AUTH_ENV}={value}  # keep it secret")
    return 0


def _recorded_postgres():
    from flint.prefect.server.postgres import PostgresOptions
    from flint.prefect.settings import prefect_home

    path = prefect_home() / POSTGRES_STATE
    return PostgresOptions(**json.loads(path.read_text())) if path.exists() else None


def _stop(args: argparse.Namespace) -> int:
    from flint.prefect.server.postgres import stop_postgres
    from flint.prefect.server.prefect_server import stop_prefect_server
    from flint.prefect.settings import prefect_home

    print("Prefect server stopped" if stop_prefect_server() else "no Prefect server running")
    pg = _recorded_postgres()
    if pg is not None:
        print("PostgreSQL stopped" if stop_postgres(pg) else "PostgreSQL was not running")
        (prefect_home() / POSTGRES_STATE).unlink(missing_ok=True)
    return 0


def _status(args: argparse.Namespace) -> int:
    from flint.prefect.server.postgres import postgres_status
    from flint.prefect.server.prefect_server import prefect_server_status
    from flint.prefect.settings import prefect_home

    pg = _recorded_postgres()
    status = {
        "prefect_home": str(prefect_home()),
        "PREFECT_API_URL": os.environ.get("PREFECT_API_URL"),
        "server": prefect_server_status(),
        "postgres": postgres_status(pg) if pg is not None else None,
    }
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    server = status["server"]
    print(f"PREFECT_HOME  {status['prefect_home']}")
    if server["running"]:
        health = "healthy" if server["healthy"] else "NOT answering"
        print(
            f"server        {server['kind']} at {server['api_url']} (pid {server['pid']}, {health})"
        )
        print(f"database      {server['database']}\nlog           {server['log']}")
        print(f"clients       export PREFECT_API_URL={server['api_url']}")
    else:
        print("server        not running (flows start the embedded one when needed)")
    if status["postgres"] is not None:
        pgs = status["postgres"]
        print(
            f"postgres      {'running pid ' + str(pgs['pid']) if pgs['running'] else 'stopped'} ({pgs['data_dir']})"
        )
    if status["PREFECT_API_URL"]:
        print(f"this shell    PREFECT_API_URL={status['PREFECT_API_URL']}")
    return 0
