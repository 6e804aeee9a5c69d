"""PostgreSQL for the Prefect server: initialise, tune to the machine, start, stop, status.

Native binaries run as a non-root user (``postgres`` when flint runs as root) with a data
directory of our own; every command goes through :func:`flint.external.run_tool`. The
password comes from ``POSTGRES_PASS`` or a password file and is handed to ``initdb`` in a
private file and to clients through the environment, never on a command line.
"""

from __future__ import annotations

import getpass
import glob
import logging
import os
import pwd
import secrets
import shutil
import stat
import tempfile
from pathlib import Path

from pydantic import Field

from flint.errors import ConfigError, ToolError
from flint.external import run_tool
from flint.options import BaseOptions
from flint.prefect.server._process import ServerError, tail

logger = logging.getLogger(__name__)

MiB = 2**20
GiB = 2**30
CONF_NAME = "flint.conf"
INCLUDE_LINE = f"include_if_exists = '{CONF_NAME}'"
# the settings that do not depend on the machine
FIXED_SETTINGS = {
    "wal_level": "minimal",
    "synchronous_commit": "off",
    "checkpoint_timeout": "60min",
    "checkpoint_completion_target": "0.9",
    "max_wal_size": "8GB",
    "min_wal_size": "2GB",
    "wal_writer_delay": "1ms",
    "commit_delay": "100",
    "commit_siblings": "10",
    "max_wal_senders": "0",
}


class PostgresOptions(BaseOptions):
    """Where and how PostgreSQL runs (defaults follow POSTGRES_* environment variables)."""

    data_dir: Path
    """The cluster's data directory (created by ``initdb`` when empty)."""
    host: str = Field(default_factory=lambda: os.environ.get("POSTGRES_ADDR", "127.0.0.1"))
    """listen_addresses; 127.0.0.1 keeps the database off the network."""
    port: int = Field(default_factory=lambda: int(os.environ.get("POSTGRES_PORT", "5432")))
    user: str = Field(default_factory=lambda: os.environ.get("POSTGRES_USER", "prefect"))
    """Database role owning the Prefect database (the cluster's superuser)."""
    database: str = Field(default_factory=lambda: os.environ.get("POSTGRES_DB", "prefect"))
    os_user: str | None = None
    """Operating-system account running the server; default ``postgres`` as root, else you."""
    memory_bytes: int | None = None
    """Memory to tune for; default the machine's total memory."""
    max_connections: int | None = None
    """Default: scaled to memory (at least 256, at most 9124)."""
    password_file: Path | None = None
    """File holding the password; default ``DATA_DIR.password`` (created when missing)."""

    def run_as(self) -> str:
        """The operating-system user that owns and runs the cluster."""
        if self.os_user:
            return self.os_user
        return "postgres" if os.geteuid() == 0 else getpass.getuser()

    def resolved_password_file(self) -> Path:
        return self.password_file or self.data_dir.with_name(self.data_dir.name + ".password")


def machine_memory() -> int:
    """Total physical memory in bytes."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def default_max_connections(memory_bytes: int) -> int:
    """Connections for the machine: 16 per GiB, between 256 (one tuned Prefect worker) and 9124."""
    return max(256, min(9124, int(16 * memory_bytes / GiB)))


def tuned_settings(memory_bytes: int, max_connections: int | None = None) -> dict[str, str]:
    """The issue's tuning scaled to ``memory_bytes`` (pure).

    shared_buffers 25 % and effective_cache_size 75 % of memory (16GB and 48GB on 64 GB),
    work_mem, maintenance_work_mem and wal_buffers capped at the issue's values.
    """
    mib = memory_bytes // MiB
    shared = max(128, mib // 4)
    return {
        "max_connections": str(max_connections or default_max_connections(memory_bytes)),
        "shared_buffers": f"{shared}MB",
        "effective_cache_size": f"{max(256, mib * 3 // 4)}MB",
        "work_mem": f"{max(4, min(64, mib // 384))}MB",
        "maintenance_work_mem": f"{max(64, min(256, mib // 64))}MB",
        "wal_buffers": f"{max(1, min(64, shared // 32))}MB",
        **FIXED_SETTINGS,
    }


def config_text(options: PostgresOptions) -> str:
    """The contents of ``flint.conf`` included from postgresql.conf (pure)."""
    settings = tuned_settings(options.memory_bytes or machine_memory(), options.max_connections)
    settings.update(
        {
            "listen_addresses": f"'{options.host}'",
            "port": str(options.port),
            "unix_socket_directories": f"'{options.data_dir}'",
        }
    )
    lines = ["# written by flint server; edits are overwritten"]
    lines += [f"{key} = {value}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def bin_dir() -> Path:
    """The newest Debian PostgreSQL binaries, or the directory of ``pg_ctl`` on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_version_key)
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl is None:
        raise ServerError("PostgreSQL is not installed (apt-get install postgresql)")
    return Path(pg_ctl).parent


def _version_key(path: str) -> int:
    part = Path(path).parent.parent.name
    return int(part) if part.isdigit() else 0


def as_user(user: str, argv: list[str]) -> list[str]:
    """``argv`` run as ``user`` (through runuser when that is not us; pure)."""
    if pwd.getpwuid(os.geteuid()).pw_name == user:
        return argv
    return ["runuser", "-u", user, "--", *argv]


def read_password(options: PostgresOptions, create: bool = False) -> str:
    """POSTGRES_PASS, else the password file (created with a random password if ``create``)."""
    if os.environ.get("POSTGRES_PASS"):
        return os.environ["POSTGRES_PASS"]
    path = options.resolved_password_file()
    if path.exists():
        return path.read_text().strip()
    if not create:
        raise ConfigError(f"no password: set POSTGRES_PASS or create {path}")
    password = secrets.token_urlsafe(24)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(password + "\n")
    logger.info("Generated a PostgreSQL password in %s (mode 600)", path)
    return password


def _check_reachable(directory: Path, user: str) -> None:
    """Raise unless ``user`` can traverse every parent of ``directory``."""
    uid = pwd.getpwnam(user).pw_uid
    for parent in reversed(directory.resolve().parents):
        mode = parent.stat()
        if parent.stat().st_uid != uid and not mode.st_mode & stat.S_IXOTH:
            raise ConfigError(
                f"data_dir: user {user!r} cannot reach {directory} because {parent} has mode "
                f"{stat.filemode(mode.st_mode)}; choose a directory {user!r} can traverse"
            )


def _chown(path: Path, user: str) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def initialise(options: PostgresOptions) -> bool:
    """Create the cluster, role and database when the data directory is new; True if created.

    Writes the tuning to ``flint.conf`` either way (safe to repeat).
    """
    user = options.run_as()
    data = options.data_dir.resolve()
    created = not (data / "PG_VERSION").exists()
    if created:
        data.mkdir(parents=True, exist_ok=True)
        if any(data.iterdir()):
            raise ConfigError(f"data_dir: {data} is not empty and not a PostgreSQL cluster")
        _check_reachable(data, user)
        _chown(data, user)
        data.chmod(0o700)
        password = read_password(options, create=True)
        with tempfile.TemporaryDirectory(prefix="flint-initdb-") as private:
            _chown(Path(private), user)
            pwfile = Path(private) / "pwfile"
            fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(password + "\n")
            _chown(pwfile, user)
            run_tool(as_user(user, [
                str(bin_dir() / "initdb"), "-D", str(data), "-U", options.user,
                f"--pwfile={pwfile}", "--auth=scram-sha-256", "--encoding=UTF8",
                "--no-instructions",
            ]), log_level=logging.DEBUG)  # fmt: skip
    conf = data / CONF_NAME
    conf.write_text(config_text(options))
    _chown(conf, user)
    main_conf = data / "postgresql.conf"
    if INCLUDE_LINE not in main_conf.read_text():
        with main_conf.open("a") as handle:
            handle.write(f"\n{INCLUDE_LINE}\n")
    return created


def log_path(options: PostgresOptions) -> Path:
    """The server log (inside the data directory, owned by the server's user)."""
    return options.data_dir.resolve() / "log" / "flint-postgres.log"


def _pg_ctl(options: PostgresOptions, *args: str) -> list[str]:
    return as_user(
        options.run_as(), [str(bin_dir() / "pg_ctl"), "-D", str(options.data_dir.resolve()), *args]
    )


def is_running(options: PostgresOptions) -> bool:
    """Whether the cluster in ``data_dir`` runs (``pg_ctl status``)."""
    if not (options.data_dir / "PG_VERSION").exists():
        return False
    try:
        run_tool(_pg_ctl(options, "status"), log_level=logging.DEBUG)
    except ToolError:
        return False
    return True


def start_postgres(options: PostgresOptions, timeout: int = 120) -> dict:
    """Initialise if needed, start (unless running) and create the database; return status."""
    initialise(options)
    if not is_running(options):
        log = log_path(options)
        log.parent.mkdir(exist_ok=True)
        _chown(log.parent, options.run_as())
        try:
            run_tool(_pg_ctl(options, "-l", str(log), "-w", "-t", str(timeout), "start"),
                     log_level=logging.DEBUG)  # fmt: skip
        except ToolError as error:
            raise ServerError(f"PostgreSQL did not start: {error}\nlog:\n{tail(log)}") from None
    create_database(options)
    return postgres_status(options)


def create_database(options: PostgresOptions) -> bool:
    """Create the Prefect database when missing (password through the environment)."""
    env = {"PGPASSWORD": read_password(options)}
    psql = str(bin_dir() / "psql")
    common = ["-h", "127.0.0.1" if options.host in ("0.0.0.0", "*", "") else options.host,
              "-p", str(options.port), "-U", options.user]  # fmt: skip
    query = f"SELECT 1 FROM pg_database WHERE datname = '{options.database}'"
    found = run_tool(
        [psql, *common, "-d", "postgres", "-tAc", query], env=env, log_level=logging.DEBUG
    )
    if found.tail.strip() == "1":
        return False
    run_tool([str(bin_dir() / "createdb"), *common, options.database], env=env)
    return True


def stop_postgres(options: PostgresOptions, timeout: int = 60) -> bool:
    """Stop the cluster (fast shutdown); True if it was running."""
    if not is_running(options):
        return False
    run_tool(
        _pg_ctl(options, "-m", "fast", "-w", "-t", str(timeout), "stop"), log_level=logging.DEBUG
    )
    return True


def postgres_status(options: PostgresOptions) -> dict:
    """JSON-ready status: running, pid, port, data directory, log."""
    data = options.data_dir.resolve()
    status: dict = {
        "running": is_running(options),
        "data_dir": str(data),
        "log": str(log_path(options)),
    }
    pidfile = data / "postmaster.pid"
    if status["running"] and pidfile.exists():
        lines = pidfile.read_text().splitlines()
        status.update(pid=int(lines[0]), port=int(lines[3]), host=options.host,
                      user=options.user, database=options.database)  # fmt: skip
    return status
