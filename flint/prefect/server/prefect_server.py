"""The Prefect API server run through uvicorn directly, for options Prefect's CLI lacks.

One server per ``PREFECT_HOME``, recorded in ``PREFECT_HOME/flint-server.json`` (pid,
command, URL; never the password). The command and environment are built by pure functions;
:func:`start_prefect_server` is the only place that starts it.
"""

from __future__ import annotations

import importlib.metadata
import ipaddress
import logging
import os
import secrets
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

from pydantic import Field, SecretStr

from flint.errors import ConfigError
from flint.options import BaseOptions
from flint.prefect.server import _process
from flint.prefect.server._process import ServerError
from flint.prefect.settings import prefect_home

logger = logging.getLogger(__name__)

APP = "prefect.server.api.server:create_app"
STATE_FILE = "flint-server.json"
LOG_FILE = "flint-server.log"
AUTH_FILE = "flint-api-auth"
"""Under PREFECT_HOME: the API auth string (``user:password``, mode 0600) flint generated."""
ALL_INTERFACES = {"0.0.0.0", "::", "[::]", ""}
SERVER_AUTH_ENV = "PREFECT_SERVER_API_AUTH_STRING"
CLIENT_AUTH_ENV = "PREFECT_API_AUTH_STRING"


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (reachable from this machine only)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name or an interface address: reachable from the network


class PrefectServerOptions(BaseOptions):
    """How to run the Prefect API server (defaults: the issue's tuning, bound to localhost)."""

    host: str = "127.0.0.1"
    """Address to bind; anything but loopback (e.g. 0.0.0.0) needs ``auth_string``."""
    auth_string: SecretStr | None = None
    """HTTP basic auth for the API, ``user:password`` (clients send PREFECT_API_AUTH_STRING)."""
    port: int = Field(4200, ge=0, le=65535)
    """TCP port; 0 picks a free one."""
    database_url: SecretStr | None = None
    """SQLAlchemy URL of the database; None uses SQLite under PREFECT_HOME."""
    web_concurrency: int = Field(1, ge=1)
    """uvicorn worker processes; more than 1 needs Redis messaging (else live events are lost)."""
    pool_size: int = Field(75, ge=1)
    """SQLAlchemy pool size per worker process (PostgreSQL only)."""
    max_overflow: int = Field(150, ge=0)
    """SQLAlchemy connections beyond the pool (PostgreSQL only)."""
    database_timeout: float = 80
    """Seconds a database statement may take."""
    database_connection_timeout: float = 90
    """Seconds to wait for a database connection."""
    csrf_protection: bool = False
    """Prefect's CSRF protection (clients then need a token)."""
    timeout_keep_alive: int = 10
    limit_max_requests: int = 4096
    """Requests after which uvicorn replaces a worker process. Passed only with more than
    one worker: a single uvicorn process has no supervisor, and would simply exit (the
    embedded server stopped after ~4096 requests, some 20 minutes of a busy run)."""
    timeout_graceful_shutdown: int = 7200
    recorder_batch_size: int = Field(200, ge=1)
    """Task-run recorder and event persister: rows written per batch."""
    flush_interval: float = Field(1.0, ge=1.0)
    """Task-run recorder and event persister: seconds between flushes (Prefect truncates to int)."""

    def api_url(self, host: str | None = None) -> str:
        """The URL clients use (``host`` overrides the bind address, e.g. 0.0.0.0)."""
        host = host or ("127.0.0.1" if self.host in ALL_INTERFACES else self.host)
        return f"http://{host}:{self.port}/api"


def redis_messaging(env: dict[str, str] | os._Environ = os.environ) -> bool:
    """Whether Prefect is configured to use Redis for messaging (needed for >1 web worker)."""
    return "redis" in env.get("PREFECT_MESSAGING_BROKER", "") + env.get(
        "PREFECT_SERVER_EVENTS_MESSAGING_BROKER", ""
    )


def check_options(options: PrefectServerOptions, env=os.environ) -> None:
    """Reject settings that would silently lose data or expose the API without auth."""
    if not is_loopback(options.host) and options.auth_string is None:
        raise ConfigError(
            f"host: {options.host} exposes the Prefect API beyond this machine, so it needs an "
            f"auth string: 'flint server start --host {options.host} --auth' generates one "
            f"(kept in PREFECT_HOME/{AUTH_FILE}, mode 600), or export "
            f"{SERVER_AUTH_ENV}=user:password"
        )
    if options.web_concurrency > 1 and not redis_messaging(env):
        raise ConfigError(
            f"web_concurrency: {options.web_concurrency} uvicorn workers need Redis messaging "
            "(PREFECT_MESSAGING_BROKER=prefect_redis.messaging); without it each worker keeps "
            "its own event stream and live events are lost. Use 1 or configure Redis."
        )
    if options.host in ALL_INTERFACES and not options.csrf_protection:
        logger.warning(
            "Binding the Prefect API to all interfaces (%r) with CSRF protection off: anyone "
            "who can reach port %d can control runs",
            options.host,
            options.port,
        )


def prefect_app_dir() -> Path:
    """The directory holding the installed ``prefect`` package (from its metadata, not sys.path).

    A ``prefect.py`` or ``prefect/`` in the working directory cannot shadow it.
    """
    dist = importlib.metadata.distribution("prefect")
    init = Path(dist.locate_file("prefect/__init__.py")).resolve()
    if not init.is_file():
        raise ServerError(f"the prefect distribution has no prefect/__init__.py at {init}")
    return init.parent.parent


def server_argv(
    options: PrefectServerOptions, app_dir: Path, python: str = sys.executable
) -> list[str]:
    """The uvicorn command (pure). ``-P`` keeps the working directory off ``sys.path``."""
    return [
        python, "-P", "-m", "uvicorn",
        "--app-dir", str(app_dir),
        "--factory", APP,
        "--host", options.host,
        "--port", str(options.port),
        "--workers", str(options.web_concurrency),
        "--timeout-keep-alive", str(options.timeout_keep_alive),
        *(("--limit-max-requests", str(options.limit_max_requests))
          if options.web_concurrency > 1 else ()),
        "--timeout-graceful-shutdown", str(options.timeout_graceful_shutdown),
    ]  # fmt: skip


def server_env(options: PrefectServerOptions, home: Path, base: dict[str, str]) -> dict[str, str]:
    """The server's complete environment (pure). Holds the database password: never log it."""
    env = {key: value for key, value in base.items() if key != "PREFECT_API_URL"}
    batch, flush = str(options.recorder_batch_size), str(options.flush_interval)
    env.update(
        {
            "PREFECT_HOME": str(home),
            "PREFECT_SERVER_API_HOST": options.host,
            "PREFECT_SERVER_API_PORT": str(options.port),
            "PREFECT_SERVER_CSRF_PROTECTION_ENABLED": str(options.csrf_protection).lower(),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "WEB_CONCURRENCY": str(options.web_concurrency),
            "PREFECT_SERVER_DATABASE_TIMEOUT": str(options.database_timeout),
            "PREFECT_SERVER_DATABASE_CONNECTION_TIMEOUT": str(options.database_connection_timeout),
            "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": batch,
            "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL": flush,
            "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE": batch,
            "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL": flush,
        }
    )
    if options.auth_string is not None:
        env[SERVER_AUTH_ENV] = options.auth_string.get_secret_value()
    if options.database_url is not None:
        env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = options.database_url.get_secret_value()
        env.pop("PREFECT_API_DATABASE_CONNECTION_URL", None)
        if options.database_url.get_secret_value().startswith("postgresql"):
            env["PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_SIZE"] = str(options.pool_size)
            env["PREFECT_SERVER_DATABASE_SQLALCHEMY_MAX_OVERFLOW"] = str(options.max_overflow)
    return env


def postgres_url(user: str, password: str, host: str, port: int, database: str) -> SecretStr:
    """``postgresql+asyncpg://USER:PASS@HOST:PORT/DB`` with the parts quoted, as a secret."""
    return SecretStr(
        f"postgresql+asyncpg://{quote(user, safe='')}:{quote(password, safe='')}"
        f"@{host}:{port}/{quote(database, safe='')}"
    )


def redact(text: str, *secrets: str) -> str:
    """``text`` with every non-empty secret (and its URL-quoted form) replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***").replace(quote(secret, safe=""), "***")
    return text


def client_settings(api_url: str) -> dict[str, str]:
    """What a client exports to use the server (no secrets)."""
    return {"PREFECT_API_URL": api_url}


def auth_file(home: Path | None = None) -> Path:
    """Where flint keeps the API auth string of this PREFECT_HOME's server."""
    return (home or prefect_home()) / AUTH_FILE


def api_auth_string(home: Path | None = None, create: bool = False) -> SecretStr | None:
    """The API auth string: from :data:`SERVER_AUTH_ENV`, else the auth file.

    With ``create`` a missing one is generated (``flint:<random>``) and written with mode
    0600. None when there is none and ``create`` is False.
    """
    if os.environ.get(SERVER_AUTH_ENV):
        return SecretStr(os.environ[SERVER_AUTH_ENV])
    path = auth_file(home)
    if path.exists():
        return SecretStr(path.read_text().strip())
    if not create:
        return None
    value = f"flint:{secrets.token_urlsafe(24)}"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    logger.info("Generated an API auth string in %s (mode 600)", path)
    return SecretStr(value)


def export_client_auth(home: Path | None = None) -> bool:
    """Export PREFECT_API_AUTH_STRING for this PREFECT_HOME's server, if it needs one.

    Worker processes (Dask, SLURM jobs, serve runners) inherit it from the environment.
    """
    from flint.prefect.settings import apply_environment

    current = running_server(home)
    if current is None or not current.info.get("auth"):
        return False
    secret = api_auth_string(home)
    if secret is None:
        raise ServerError(
            f"the Prefect server at {current.info.get('api_url')} needs an auth string, but "
            f"{auth_file(home)} is missing and {SERVER_AUTH_ENV} is unset"
        )
    apply_environment({CLIENT_AUTH_ENV: secret.get_secret_value()})
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def healthy(api_url: str, timeout: float = 2.0) -> bool:
    """Whether ``api_url``/health answers true."""
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=timeout) as reply:
            return reply.status == 200 and reply.read().strip() == b"true"
    except (OSError, urllib.error.URLError, ValueError):
        return False


def state_file(home: Path | None = None) -> Path:
    """Where the running server of ``PREFECT_HOME`` is recorded."""
    return (home or prefect_home()) / STATE_FILE


def running_server(home: Path | None = None) -> _process.Daemon | None:
    """The recorded server of this PREFECT_HOME if its process still runs."""
    daemon = _process.read_daemon(state_file(home))
    return daemon if daemon is not None and daemon.alive() else None


def start_prefect_server(
    options: PrefectServerOptions | None = None,
    *,
    home: Path | None = None,
    timeout: float = 90.0,
    kind: str = "custom",
) -> str:
    """Start the server (or reuse the healthy one already recorded); return its API URL."""
    options = options or PrefectServerOptions()
    home = (home or prefect_home()).resolve()
    check_options(options)
    current = running_server(home)
    if current is not None and healthy(current.info.get("api_url", "")):
        logger.info("Prefect server already running at %s", current.info["api_url"])
        return current.info["api_url"]
    if current is not None:
        raise ServerError(
            f"a Prefect server (pid {current.pid}) is recorded in {state_file(home)} but does "
            "not answer; stop it with 'flint server stop' first"
        )
    if options.port == 0:
        options = options.with_options(port=free_port(options.host or "127.0.0.1"))
    home.mkdir(parents=True, exist_ok=True)
    api_url = options.api_url()
    secret = options.database_url.get_secret_value() if options.database_url else ""
    argv = server_argv(options, prefect_app_dir())
    log_path = home / LOG_FILE
    offset = log_path.stat().st_size if log_path.exists() else 0
    daemon = _process.spawn(
        argv,
        state_file=state_file(home),
        log_path=log_path,
        env=server_env(options, home, dict(os.environ)),
        cwd=home,
        info={
            "api_url": api_url,
            "kind": kind,
            "database": redact(secret, *_password_of(options)) or "sqlite (PREFECT_HOME)",
            "log": str(log_path),
            "auth": options.auth_string is not None,
        },
    )
    deadline = time.monotonic() + timeout
    while not healthy(api_url):
        if not daemon.alive() or time.monotonic() > deadline:
            code = _process.exit_code(daemon)
            _process.stop(state_file(home))
            output = log_path.read_text(errors="replace")[offset:]
            hidden = [*_password_of(options)]
            if options.auth_string is not None:
                hidden.append(options.auth_string.get_secret_value())
            raise ServerError(
                f"the Prefect server did not become healthy at {api_url} "
                f"({'exit code ' + str(code) if code is not None else 'timed out'}); "
                f"last output:\n{redact(_last_lines(output), *hidden)}"
            )
        time.sleep(0.25)
    logger.info("Prefect server healthy at %s (pid %d)", api_url, daemon.pid)
    return api_url


def _password_of(options: PrefectServerOptions) -> list[str]:
    if options.database_url is None:
        return []
    from urllib.parse import unquote, urlsplit

    password = urlsplit(options.database_url.get_secret_value()).password
    return [unquote(password)] if password else []


def _last_lines(text: str, lines: int = 30) -> str:
    return "\n".join(text.splitlines()[-lines:])


def stop_prefect_server(home: Path | None = None, timeout: float = 30.0) -> bool:
    """Stop this PREFECT_HOME's recorded server; True if one was running."""
    return _process.stop(state_file(home), timeout=timeout)


def prefect_server_status(home: Path | None = None) -> dict:
    """JSON-ready status of this PREFECT_HOME's server."""
    path = state_file(home)
    daemon = _process.read_daemon(path)
    if daemon is None:
        return {"running": False, "state_file": str(path)}
    alive = daemon.alive()
    api_url = daemon.info.get("api_url", "")
    return {
        "running": alive,
        "healthy": alive and healthy(api_url),
        "pid": daemon.pid,
        "state_file": str(path),
        **daemon.info,
    }
