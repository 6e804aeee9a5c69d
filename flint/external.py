"""Run external programs (wsclean, aoflagger, BANE...) from argument lists.

This is the one place flint spawns processes: a tool's whole output goes to its log
file (``log_path``, beside its product), never line by line to the logger; a timeout is
honoured, and failure raises :class:`ToolError` with the exit code and the end of the
output. On success the end of the output is logged at DEBUG only (``flint -v``).

Each tool runs in its own process group (a new session), so stopping it stops its
children too: on a timeout, and when a stop check (:func:`stopping_when`, installed by the
orchestration layer: a cancelled flow run) says so, the group gets SIGTERM and, after
:data:`KILL_GRACE_S`, SIGKILL. Where ``setpriv`` exists the tool also dies with the thread
that started it (a Dask worker process killed mid-task leaves no orphan tool behind).

With ``FLINT_TOOL_RECORD`` naming a file, each finished run appends one JSON line to it:
the argv, wall and CPU seconds and peak RSS of the tool (its own resource usage, children
included), which the benchmarks and the thread tests read.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import resource
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from flint.errors import ToolCancelled, ToolError

logger = logging.getLogger(__name__)

TAIL_LINES = 40
KILL_GRACE_S = 3.0
"""Seconds between SIGTERM and SIGKILL to a tool's process group."""
WATCH_INTERVAL_S = 0.5
"""How often a running tool's timeout and stop checks are looked at."""
MIN_TIMEOUT_S = 600.0
RECORD_ENV = "FLINT_TOOL_RECORD"
"""Environment variable naming a JSON-lines file each finished tool run is appended to."""

_STOP_CHECKS: ContextVar[tuple[Callable[[], bool], ...]] = ContextVar("flint_stop", default=())
_RUNNING: dict[int, list[str]] = {}
"""Process-group ids of the tools running in this process, with their argv."""
_RUNNING_LOCK = threading.Lock()


@contextlib.contextmanager
def stopping_when(check: Callable[[], bool]) -> Iterator[None]:
    """Tools started inside this block are stopped (their process group killed) as soon as
    ``check()`` returns True; :func:`run_tool` then raises :class:`ToolCancelled`."""
    token = _STOP_CHECKS.set((*_STOP_CHECKS.get(), check))
    try:
        yield
    finally:
        _STOP_CHECKS.reset(token)


def stop_all_tools(grace: float = KILL_GRACE_S) -> int:
    """Kill the process group of every tool this process runs (a worker closing); how many."""
    with _RUNNING_LOCK:
        groups = list(_RUNNING)
    for group in groups:
        _kill_group(group, grace)
    return len(groups)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_group(group: int, grace: float = KILL_GRACE_S) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left after ``grace`` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 0.0)):
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _group_alive(group):
                return
            time.sleep(0.05)


def data_size(paths: Iterable[str | os.PathLike[str]]) -> int:
    """Bytes in ``paths`` (files, or every file under a directory such as an MS)."""
    total = 0
    for path in paths:
        path = Path(path)
        if path.is_dir():
            total += sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        elif path.exists():
            total += path.stat().st_size
    return total


def scaled_timeout(
    paths: Iterable[str | os.PathLike[str]],
    seconds_per_gb: float,
    minimum: float = MIN_TIMEOUT_S,
) -> float:
    """A tool's timeout scaled by the size of the data it reads: ``seconds_per_gb`` per GB,
    at least ``minimum``, times ``FLINT_TIMEOUT_SCALE`` (default 1; raise it on slow disks)."""
    scale = float(os.environ.get("FLINT_TIMEOUT_SCALE", "1"))
    return scale * max(minimum, seconds_per_gb * data_size(paths) / 1e9)


@dataclass(frozen=True)
class ToolRun:
    """What a finished run of an external program produced."""

    argv: list[str]
    returncode: int
    seconds: float
    tail: str
    log_path: Path | None
    cpu_seconds: float = 0.0
    """User and system CPU time of the tool and the children it waited for."""
    max_rss_bytes: int = 0
    """Peak resident memory of the tool and its children, sampled every
    :data:`WATCH_INTERVAL_S` (``wait4``'s own figure counts the forking process's memory)."""
    output: str | None = None
    """The whole output, when asked for with ``capture=True``."""


def require_tool(name: str) -> str:
    """Return the path of executable ``name`` or raise a ToolError saying it is missing."""
    path = shutil.which(name)
    if path is None:
        raise ToolError([name], 127, f"{name} is not installed or not on PATH")
    return path


def run_tool(
    argv: Sequence[str | os.PathLike[str]],
    *,
    log_path: str | os.PathLike[str] | None = None,
    timeout: float | None = None,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    log_level: int = logging.INFO,
    capture: bool = False,
) -> ToolRun:
    """Run ``argv`` (never through a shell); raise ToolError on failure.

    The output goes to ``log_path`` (and, with ``capture``, into :attr:`ToolRun.output`);
    only the start and end of the run are logged, at ``log_level``. The tool runs in its
    own process group, killed on timeout (ToolError saying it timed out) or when a
    :func:`stopping_when` check fires (:class:`ToolCancelled`). Both name ``log_path``,
    which keeps the whole output.
    """
    argv = [os.fspath(part) for part in argv]
    require_tool(argv[0])
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    captured: list[str] | None = [] if capture else None
    log_file = None
    if log_path is not None:
        log_path = Path(log_path)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = log_path.open("w")
    logger.log(log_level, "Running %s", " ".join(argv))
    started = time.perf_counter()
    process = subprocess.Popen(
        _with_parent_death_signal(argv),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        cwd=cwd,
        env=None if env is None else {**os.environ, **env},
        start_new_session=True,
    )
    with _RUNNING_LOCK:
        _RUNNING[process.pid] = argv
    stopped: list[str] = []
    peak_rss = [0]
    done = threading.Event()
    watcher = threading.Thread(
        target=_watch,
        args=(
            process,
            Path(argv[0]).name,
            started,
            timeout,
            _STOP_CHECKS.get(),
            done,
            stopped,
            peak_rss,
        ),
        name=f"flint-watch-{process.pid}",
        daemon=True,
    )
    watcher.start()
    try:
        assert process.stdout is not None
        with process.stdout:
            for line in process.stdout:
                line = line.rstrip("\n")
                tail.append(line)
                if log_file:
                    log_file.write(line + "\n")
                if captured is not None:
                    captured.append(line)
        returncode, usage = _wait(process)
    except BaseException:
        _kill_group(process.pid)  # interrupted here (KeyboardInterrupt): the tool goes too
        raise
    finally:
        done.set()
        watcher.join()
        with _RUNNING_LOCK:
            _RUNNING.pop(process.pid, None)
        if log_file:
            log_file.close()
    seconds = time.perf_counter() - started
    if stopped and stopped[0] == "cancelled":
        raise ToolCancelled(argv, log_path)
    if returncode != 0:
        timed_out = bool(stopped)
        raise ToolError(argv, None if timed_out else returncode, "\n".join(tail), log_path)
    name = Path(argv[0]).name
    logger.log(
        log_level,
        "%s finished in %.1f s%s",
        name,
        seconds,
        f" (log: {log_path})" if log_path else "",
    )
    if tail and logger.isEnabledFor(logging.DEBUG):
        logger.debug("%s output, last %d lines:\n%s", name, len(tail), "\n".join(tail))
    run = ToolRun(
        argv,
        returncode,
        seconds,
        "\n".join(tail),
        log_path,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        max_rss_bytes=peak_rss[0],
        output=None if captured is None else "\n".join(captured),
    )
    _record(run)
    return run


def _wait(process: subprocess.Popen) -> tuple[int, resource.struct_rusage]:
    """Reap the tool with its resource usage (``wait4``); its exit code and the usage."""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage


def _append_record(line: dict) -> None:
    """Append ``line`` to the file ``FLINT_TOOL_RECORD`` names, if any (never fails the run)."""
    where = os.environ.get(RECORD_ENV)
    if not where:
        return
    try:
        with open(where, "a") as handle:
            handle.write(json.dumps(line) + "\n")
    except OSError as error:
        logger.debug(
            "cannot record %s in %s: %s", line.get("tool") or line.get("work"), where, error
        )


def _record(run: ToolRun) -> None:
    """Record a finished tool run (``FLINT_TOOL_RECORD``)."""
    _append_record(
        {
            "tool": Path(run.argv[0]).name,
            "argv": run.argv,
            "seconds": run.seconds,
            "cpu_seconds": run.cpu_seconds,
            "max_rss_bytes": run.max_rss_bytes,
            "ended": time.time(),
            "started": time.time() - run.seconds,
            "pid": os.getpid(),
        }
    )


@contextlib.contextmanager
def recorded_work(name: str) -> Iterator[None]:
    """Record the wall and CPU time of the work inside (a flint function a task calls, its
    tools included) in ``FLINT_TOOL_RECORD`` as ``{"work": name, ...}``: a task's wall time
    beyond it is the orchestration's (Prefect, Dask, result storage)."""
    if not os.environ.get(RECORD_ENV):
        yield
        return
    started, cpu = time.time(), time.thread_time()
    try:
        yield
    finally:
        _append_record(
            {
                "work": name,
                "seconds": time.time() - started,
                "cpu_seconds": time.thread_time() - cpu,
                "started": started,
                "ended": time.time(),
                "pid": os.getpid(),
            }
        )


def _with_parent_death_signal(argv: list[str]) -> list[str]:
    """``argv`` run through ``setpriv --pdeathsig KILL`` where available (it execs the tool,
    which keeps its pid and group): the tool dies if the thread that started it does."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL", "--", *argv] if setpriv else argv


def _watch(
    process: subprocess.Popen,
    name: str,
    started: float,
    timeout: float | None,
    checks: tuple[Callable[[], bool], ...],
    done: threading.Event,
    stopped: list[str],
    peak_rss: list[int] | None = None,
) -> None:
    """Kill the tool's process group on timeout or when a stop check fires; keep the peak
    resident memory of the tool and its children in ``peak_rss``."""
    while not done.wait(WATCH_INTERVAL_S):
        if peak_rss is not None:
            peak_rss[0] = max(peak_rss[0], _tree_rss(process.pid))
        if timeout is not None and time.perf_counter() - started >= timeout:
            reason = "timed out"
        elif any(checked(check) for check in checks):
            reason = "cancelled"
        else:
            continue
        stopped.append(reason)
        logger.warning("%s %s; stopping its process group %d", name, reason, process.pid)
        _kill_group(process.pid)
        return


def _tree_rss(pid: int) -> int:
    """Resident bytes of process ``pid`` and its descendants now (0 once it is gone)."""
    import psutil

    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for item in processes:
        with contextlib.suppress(psutil.Error):
            total += item.memory_info().rss
    return total


def checked(check: Callable[[], bool]) -> bool:
    """``check()``, False if it fails (an unreachable API never stops work)."""
    try:
        return bool(check())
    except Exception:  # a failing check (API down) never stops a tool
        logger.debug("stop check failed", exc_info=True)
        return False
