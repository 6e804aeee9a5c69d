"""The terminal while a flow runs: tasks as they start and finish, a progress bar per stage
and round, and the core's own progress (the simulation), drawn with rich.

On a terminal, a live region redrawn in place (and gone at the end) holds one row per
running task, its start time and run time so far, above one status row of every active
bar side by side; each finished task leaves one line above it (its end time, state, name
and run time). Elsewhere (a log file, CI) there is no live region: one line per finished
task, and one as it starts only for a task still running after :data:`LONG_TASK_SECONDS`,
so a long step shows that it is under way without doubling the lines of short ones.

The lines come from the run follower (:class:`flint.prefect.workbench.RunFollower`, Prefect's
events), the same reader the workbench's Runs panel uses; tools' output stays in their log
files and the Prefect and Dask consoles are quiet (:func:`quiet_console`).
"""

from __future__ import annotations

import io
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flint.prefect.runs import TERMINAL_STATES, TaskRunInfo, parse_task_label

logger = logging.getLogger(__name__)

BAR_NAMES = {
    "calibrator": "simulate calibrator", "field": "simulate field",
    "preprocess": "preprocess (copy)", "apply": "apply (in place)",
    "split": "split (copy)", "flag": "flag", "solve": "solve bandpass", "repair": "repair",
    "mask": "mask", "selfcal": "solve self-cal", "image": "image", "noise": "image noise",
    "convolve": "convolve", "mosaic": "mosaic", "find": "find sources", "validate": "validate",
    "outliers": "find outliers", "peel": "peel (subtract)", "refine": "refine bright",
    "keep": "keep round copy", "summary": "summary",
}  # fmt: skip
"""Descriptions of the progress bars, one per stage and round (a grid column)."""
LONG_TASK_SECONDS = 5.0
"""Off a terminal, a task still running this long after its start gets a "started" line."""
MAX_RUNNING_ROWS = 12
"""Running tasks shown in the live region at most (the rest are counted in one row)."""
SETTLE_SECONDS = 10.0
"""After the flow returns, how long its last task events may take to arrive."""


_HELD: list[str] = []


def quiet_console(verbose: int = 0) -> None:
    """Keep Prefect's and Dask's consoles (here and in worker processes) to warnings, and
    flint's to warnings in this process; ``verbose``: INFO, and tools' output tails (DEBUG).

    Call before Prefect is imported: worker processes inherit the environment. Prefect is
    imported here, and what it prints then (its first-run telemetry notice) is held for the
    run's console log (:func:`release_held_output`).
    """
    if verbose:
        os.environ.setdefault("PREFECT_LOGGING_LOGGERS_FLINT_LEVEL", "DEBUG")
        return
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
    for handler in logging.getLogger("flint").handlers:
        if type(handler) is logging.StreamHandler:
            handler.setLevel(logging.WARNING)
    if "prefect" not in sys.modules:  # what it prints on import: for the run's console log
        held = io.StringIO()
        with redirect_stderr(held):
            import prefect  # noqa: F401  (its first-run telemetry notice, on a terminal)
        _HELD.append(held.getvalue())
        loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
        for handler in {h for lg in loggers for h in getattr(lg, "handlers", ())}:
            if isinstance(handler, logging.StreamHandler) and handler.stream is held:
                handler.setStream(sys.stderr)  # (should Prefect set up its logging on import)


def release_held_output() -> None:
    """Write what Prefect printed when :func:`quiet_console` imported it to standard error
    (inside :func:`flint.console.others_to_log`: the run's console log)."""
    while _HELD:
        if text := _HELD.pop(0):
            sys.stderr.write(text)
    sys.stderr.flush()


def _seconds(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{seconds:.1f} s"


_EPOCH = datetime.fromtimestamp(0, UTC)


def _clock(moment: datetime) -> str:
    """A moment as the local time of day."""
    return moment.astimezone().strftime("%H:%M:%S")


@dataclass
class Bar:
    """One progress bar: ``done`` of ``total`` units of ``description``."""

    description: str
    total: float
    done: float = 0.0
    started: float = field(default_factory=time.monotonic)

    def render(self, width: int = 10) -> str:
        filled = round(width * min(1.0, self.done / self.total)) if self.total else 0
        count = f"{self.done:g}/{self.total:g}"
        return f"{self.description} {'━' * filled}{'─' * (width - filled)} {count}"


class TerminalReporter:
    """Listens to a run follower (``reporter(change)``) and to :mod:`flint.progress`.

    Lines are printed above the live region (module docstring): a terminal redraws that
    region in place, so only the printed lines add to what scrolls.
    """

    def __init__(self, console: object | None = None, beams: int | None = None) -> None:
        from rich.console import Console
        from rich.live import Live

        from flint.console import terminal_stream

        self.console = console or Console(file=terminal_stream(), highlight=False)
        self.beams = beams
        self.bars: dict[str, Bar] = {}
        self._columns: dict[str, dict] = {}
        self._lock = threading.RLock()
        self._since = time.monotonic()
        self.lines = 0
        self.failed: list[TaskRunInfo] = []
        self.started: set[str] = set()
        self.finished: set[str] = set()
        self.running: dict[str, TaskRunInfo] = {}
        """Tasks started and not finished, by id (the live region's rows)."""
        self._timers: dict[str, threading.Timer] = {}
        self.live = Live(
            get_renderable=self._status, console=self.console, transient=True,
            refresh_per_second=4, redirect_stdout=False, redirect_stderr=False,
        )  # fmt: skip

    @property
    def live_region(self) -> bool:
        """Whether running tasks are drawn in place (a terminal) rather than as lines."""
        return bool(self.console.is_terminal) and not self.console.is_dumb_terminal

    def __enter__(self) -> TerminalReporter:
        self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.stop()
        with self._lock:
            timers, self._timers = list(self._timers.values()), {}
        for timer in timers:
            timer.cancel()

    def _status(self) -> object:
        from rich.console import Group
        from rich.text import Text

        # no lock here: rich calls this holding its own lock, which say() needs to print
        width = max(20, self.console.width - 1)
        rows = []
        running = sorted(list(self.running.values()), key=lambda t: t.start_time or _EPOCH)
        shown = running if len(running) <= MAX_RUNNING_ROWS else running[: MAX_RUNNING_ROWS - 1]
        now = datetime.now(UTC)
        for task in shown:
            since = _clock(task.start_time) if task.start_time else self._now()
            row = Text(f"{since} running   {task.name}  {_seconds(task.seconds(now))}".rstrip())
            rows.append(row)
        if len(shown) < len(running):
            rows.append(Text(f"         ... and {len(running) - len(shown)} more running"))
        bars = [bar.render() for bar in list(self.bars.values())]
        minutes, seconds = divmod(int(time.monotonic() - self._since), 60)
        rows.append(Text(" · ".join([*bars, f"{minutes}:{seconds:02d}"])))
        for row in rows:
            row.no_wrap = True
            row.truncate(width, overflow="ellipsis")
        return Group(*rows)

    def say(self, text: str) -> None:
        """One line above the live region."""
        with self._lock:  # (never held while printing: rich's lock is taken inside print)
            self.lines += 1
        self.console.print(text, markup=False, soft_wrap=True)  # the terminal wraps, not rich

    # --- tasks (from the run follower) ----------------------------------------------------
    def __call__(self, change: object) -> None:
        task, before = getattr(change, "task", None), getattr(change, "before", None)
        if getattr(change, "kind", None) != "task" or task is None:
            return
        was = before.state_type if before else None
        if task.state_type == "RUNNING" and was != "RUNNING" and task.id not in self.started:
            self.started.add(task.id)
            self._advance(task, started=True)
            self.running[task.id] = task
            if self.live_region and self.live.is_started:
                self.live.refresh()  # drawn at once: a short task's start is seen too
            elif not self.live_region:  # a line only if it runs long (module docstring)
                timer = threading.Timer(LONG_TASK_SECONDS, self._still_running, (task.id,))
                timer.daemon = True
                with self._lock:
                    self._timers[task.id] = timer
                timer.start()
        elif task.state_type in TERMINAL_STATES and task.id not in self.finished:
            self.finished.add(task.id)
            self.running.pop(task.id, None)
            with self._lock:
                timer = self._timers.pop(task.id, None)
            if timer is not None:
                timer.cancel()
            self._advance(task, started=False)
            self.say(self._finish_line(task))

    def _still_running(self, task_id: str) -> None:
        with self._lock:
            self._timers.pop(task_id, None)
        task = self.running.get(task_id)
        if task is not None:
            since = _clock(task.start_time) if task.start_time else self._now()
            self.say(f"{since} started   {task.name}")

    def _finish_line(self, task: TaskRunInfo) -> str:
        if task.state_type == "COMPLETED":
            word = "cached" if task.state_name == "Cached" else "finished"
            return f"{self._now()} {word:<9} {task.name}  {_seconds(task.seconds())}".rstrip()
        self.failed.append(task)
        why = task.state_message.strip().splitlines()
        reason = f": {why[0][:200]}" if why else ""
        return f"{self._now()} {task.state_name.upper():<9} {task.name}{reason}"

    @staticmethod
    def _now() -> str:
        return _clock(datetime.now(UTC))

    def _advance(self, task: TaskRunInfo, started: bool) -> None:
        """The bar of the task's grid column: beams done of beams (one for whole-field tasks)."""
        label = parse_task_label(task.name, task.tags)
        whole = label.beam == "all"
        key = label.column + (" (all)" if whole else "")
        with self._lock:
            column = self._columns.setdefault(key, {"members": set(), "done": set()})
            column["members"].add(task.id)
            if not started:
                column["done"].add(task.id)
            total = (
                len(column["members"]) if whole else max(len(column["members"]), self.beams or 0)
            )
            done = len(column["done"])
            if done >= total:
                self.bars.pop(key, None)
                return
            if key not in self.bars:
                description = BAR_NAMES.get(label.stage, label.stage)
                if label.round is not None:
                    description += f" {label.round}"
                self.bars[key] = Bar(description, total)
            self.bars[key].total, self.bars[key].done = total, done

    # --- the core's own progress (flint.progress) ----------------------------------------
    def core(self, step: str, done: float, total: float) -> None:
        with self._lock:
            if done >= total:
                self.bars.pop(step, None)
            else:
                self.bars.setdefault(step, Bar(step, total)).done = done


@contextmanager
def terminal_progress(flow_run_name: str, beams: int | None = None) -> Iterator[TerminalReporter]:
    """Follow the flow run named ``flow_run_name`` (started inside the block) on the
    terminal; after the block, wait briefly for its last task events."""
    from flint.prefect.workbench.follower import RunFollower

    follower = RunFollower()
    with TerminalReporter(beams=beams) as reporter:
        follower.subscribe(reporter)
        follower.follow_name(flow_run_name)
        try:
            yield reporter
        finally:
            deadline = time.monotonic() + SETTLE_SECONDS
            while time.monotonic() < deadline and not _settled(follower, reporter):
                time.sleep(0.2)
            follower.close()


def _settled(follower: object, reporter: TerminalReporter) -> bool:
    run = getattr(follower, "run", None)
    tasks = getattr(follower, "tasks", {})
    return (
        run is not None
        and run.finished
        and all(t.finished for t in tasks.values())
        and set(tasks) <= reporter.finished
    )
