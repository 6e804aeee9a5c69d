"""Long-running daemons: start detached from argument lists, track by pid file, stop by pid.

The one module of flint that keeps processes running (``flint.external.run_tool`` runs
tools to completion). Only processes whose pid file we wrote are ever signalled, and only
while their command line still matches, so a recycled pid is never killed.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from flint.atomic import atomic_path
from flint.errors import FlintError

logger = logging.getLogger(__name__)

# A short-lived launcher starts the daemon in its own session and exits, so the daemon is not
# our child: it may outlive this process (the embedded server is reused across runs).
_LAUNCHER = """
import subprocess, sys
with open(sys.argv[1], "ab") as log:
    daemon = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
print(daemon.pid)
"""


class ServerError(FlintError, RuntimeError):
    """A server flint manages failed to start, answer or stop."""


@dataclass(frozen=True)
class Daemon:
    """A process started by flint, as recorded in its state file."""

    pid: int
    argv: list[str]
    info: dict

    def alive(self) -> bool:
        """Whether the recorded process still runs (and is the one we started)."""
        try:
            cmdline = Path(f"/proc/{self.pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        if stat.rsplit(")", 1)[-1].split()[0] == "Z":
            return False
        return [part.decode(errors="replace") for part in cmdline if part] == self.argv


def write_json(path: Path, data: dict, mode: int = 0o600) -> None:
    """Write ``data`` as JSON atomically, readable by the owner only."""
    with atomic_path(path, overwrite=True) as temporary:
        temporary.write_text(json.dumps(data, indent=2))
        temporary.chmod(mode)


def read_daemon(state_file: Path) -> Daemon | None:
    """The daemon recorded in ``state_file``, or None when there is no usable record."""
    try:
        data = json.loads(state_file.read_text())
        return Daemon(int(data["pid"]), list(data["argv"]), dict(data.get("info", {})))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def spawn(
    argv: Sequence[str],
    *,
    state_file: Path,
    log_path: Path,
    env: Mapping[str, str],
    cwd: Path,
    info: dict,
) -> Daemon:
    """Start ``argv`` in its own session with output to ``log_path``; record it in ``state_file``.

    ``env`` is the complete environment (it may hold secrets: it is never logged).
    """
    argv = [os.fspath(part) for part in argv]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    logger.info("Starting %s (log: %s)", " ".join(argv), log_path)
    launched = subprocess.run(
        [sys.executable, "-P", "-c", _LAUNCHER, str(log_path), *argv],
        env=dict(env), cwd=cwd, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if launched.returncode != 0:
        raise ServerError(f"could not start {argv[0]}: {launched.stderr.strip()[-2000:]}")
    pid = int(launched.stdout.strip())
    daemon = Daemon(pid, argv, info)
    write_json(state_file, {"pid": daemon.pid, "argv": argv, "info": info})
    return daemon


def exit_code(daemon: Daemon) -> int | None:
    """Reap ``daemon`` if it is our exited child; its exit code, or None."""
    try:
        pid, status = os.waitpid(daemon.pid, os.WNOHANG)
    except ChildProcessError:
        return None
    return os.waitstatus_to_exitcode(status) if pid else None


def stop(state_file: Path, timeout: float = 30.0) -> bool:
    """Stop the daemon recorded in ``state_file`` (SIGTERM, then SIGKILL); True if one ran."""
    daemon = read_daemon(state_file)
    was_running = daemon is not None and daemon.alive()
    if daemon is not None and was_running:
        logger.info("Stopping pid %d (%s)", daemon.pid, Path(daemon.argv[0]).name)
        os.kill(daemon.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while daemon.alive() and time.monotonic() < deadline:
            exit_code(daemon)
            time.sleep(0.1)
        if daemon.alive():
            logger.warning("pid %d ignored SIGTERM for %.0f s; killing it", daemon.pid, timeout)
            os.kill(daemon.pid, signal.SIGKILL)
        exit_code(daemon)
    state_file.unlink(missing_ok=True)
    return was_running


def tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of a log file (empty if missing)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
