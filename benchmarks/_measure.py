"""What the benchmarks measure while flows run: memory, CPU and disk over time, per stage.

:class:`Sampler` samples, every ``interval`` seconds, the resident memory and CPU time of
the Dask worker processes and everything they started (the tools), the bytes on disk under
the directories a run reads and writes, and the machine's load (the load average, and the
CPU time of the whole machine from ``/proc/stat``, so the CPU other users took is known).
:func:`stage_costs` joins the samples with the task runs read from the Prefect server and
the tool runs :func:`flint.external.run_tool` recorded (``FLINT_TOOL_RECORD``).
"""

from __future__ import annotations

import bisect
import os
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil

GiB = 2**30


@contextmanager
def own_prefect_server(workdir: Path) -> Iterator[bool]:
    """Run a benchmark on an embedded Prefect server of its own (``workdir/prefect-home``)
    unless PREFECT_HOME or PREFECT_API_URL is set; stop that server on the way out. (It
    would outlive the benchmark, and its background services kept a fifth of a core
    busy under the next benchmarks.) Yields whether the server is the benchmark's own."""
    own = "PREFECT_HOME" not in os.environ and "PREFECT_API_URL" not in os.environ
    if own:
        os.environ["PREFECT_HOME"] = str(workdir / "prefect-home")
    try:
        yield own
    finally:
        if own:
            from flint.prefect.server.prefect_server import stop_prefect_server

            stop_prefect_server(Path(os.environ["PREFECT_HOME"]))


def process_cpu(pid: int | None = None, children: bool = True) -> float:
    """CPU seconds so far of ``pid`` (default: this process), with its descendants unless
    not ``children``; 0 if it is gone."""
    total = 0.0
    try:
        root = psutil.Process(pid) if pid else psutil.Process()
        for process in [root, *(root.children(recursive=True) if children else [])]:
            times = process.cpu_times()
            total += times.user + times.system
    except psutil.Error:
        pass
    return total


def server_pid() -> int | None:
    """The embedded Prefect server's process (flint.prefect.server.embedded), if recorded."""
    import json

    from flint.prefect.settings import prefect_home

    try:
        return json.loads((prefect_home() / "flint-server.json").read_text())["pid"]
    except (OSError, ValueError, KeyError):
        return None


def _tree(pids: Iterable[int]) -> list[psutil.Process]:
    found = []
    for pid in pids:
        try:
            root = psutil.Process(pid)
            found += [root, *root.children(recursive=True)]
        except psutil.Error:
            continue
    return found


def tree_usage(pids: Iterable[int]) -> tuple[int, float]:
    """Resident bytes and CPU seconds (own and of waited children) of ``pids`` and their
    descendants."""
    rss, cpu = 0, 0.0
    for process in _tree(pids):
        try:
            times = process.cpu_times()
            rss += process.memory_info().rss
            cpu += times.user + times.system + times.children_user + times.children_system
        except psutil.Error:
            continue
    return rss, cpu


def disk_bytes(paths: Iterable[Path]) -> int:
    """Bytes of every file under ``paths``."""
    total = 0
    for path in paths:
        for root, _, names in os.walk(path):
            for name in names:
                try:
                    total += os.stat(os.path.join(root, name)).st_size
                except OSError:
                    continue
    return total


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine since boot (``/proc/stat``)."""
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


@dataclass
class Sample:
    time: float
    rss: int
    cpu: float
    disk: dict[str, int]
    """Bytes under each group of directories."""
    load: float
    machine_cpu: float

    @property
    def total_disk(self) -> int:
        """Bytes on disk: every group but the tools' scratch (node-local, often memory)."""
        return sum(size for name, size in self.disk.items() if name != "tool_scratch")


@dataclass
class Sampler:
    """Samples memory, CPU and disk of a run every ``interval`` seconds (in a thread)."""

    pids: list[int]
    directories: dict[str, list[Path]]
    """Groups of directories whose bytes are counted (e.g. the raw data and a run's output)."""
    interval: float = 0.5
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self) -> Sample:
        rss, cpu = tree_usage(self.pids)
        disk = {name: disk_bytes(paths) for name, paths in self.directories.items()}
        taken = Sample(time.time(), rss, cpu, disk, os.getloadavg()[0], machine_cpu_seconds())
        self.samples.append(taken)
        return taken

    def __enter__(self) -> Sampler:
        self.sample()

        def loop() -> None:
            while not self._stop.wait(self.interval):
                self.sample()

        self._thread = threading.Thread(target=loop, name="bench-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()

    def between(self, start: float, end: float) -> list[Sample]:
        """Samples taken from ``start`` to ``end`` (at least the nearest one)."""
        times = [s.time for s in self.samples]
        first = bisect.bisect_left(times, start)
        last = bisect.bisect_right(times, end)
        if first >= last:
            index = min(max(first - 1, 0), len(self.samples) - 1)
            return [self.samples[index]]
        return self.samples[first:last]

    def cpu_at(self, moment: float) -> float:
        """CPU seconds of the worker tree at ``moment`` (interpolated)."""
        times = [s.time for s in self.samples]
        index = bisect.bisect_left(times, moment)
        if index <= 0:
            return self.samples[0].cpu
        if index >= len(self.samples):
            return self.samples[-1].cpu
        before, after = self.samples[index - 1], self.samples[index]
        fraction = (moment - before.time) / max(after.time - before.time, 1e-9)
        return before.cpu + fraction * (after.cpu - before.cpu)

    def load(self, start: float, end: float) -> dict:
        """The machine's load from ``start`` to ``end``: load average and CPU shares."""
        window = self.between(start, end)
        first, last = window[0], window[-1]
        span = max(last.time - first.time, 1e-9)
        ours = (last.cpu - first.cpu) / span
        everyone = (last.machine_cpu - first.machine_cpu) / span
        return {
            "load_average_min": min(s.load for s in window),
            "load_average_mean": sum(s.load for s in window) / len(window),
            "load_average_max": max(s.load for s in window),
            "cpus": os.cpu_count(),
            "our_cores_busy": ours,
            "others_cores_busy": max(everyone - ours, 0.0),
        }


def stage_of(name: str) -> str:
    """``image-beam15-round0`` -> ``image``."""
    return name.split("-beam")[0].split("-round")[0]


def task_runs(flow_run_id) -> list[dict]:
    """Every task run of a flow run: name, stage, start and end (epoch s), state."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs, offset = [], 0
        while page := client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
            offset=offset,
            limit=200,
        ):
            runs += page
            offset += len(page)
    return [
        {
            "name": run.name,
            "stage": stage_of(run.name),
            "start": run.start_time.timestamp() if run.start_time else None,
            "end": run.end_time.timestamp() if run.end_time else None,
            "state": run.state.name if run.state else None,
        }
        for run in runs
    ]


def flow_run_times(flow_run_id) -> tuple[float, float]:
    """Start and end (epoch s) of a flow run."""
    from prefect import get_client

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(flow_run_id)
    return run.start_time.timestamp(), run.end_time.timestamp()


def latest_flow_run(name: str):
    """The id of the newest flow run called ``name``."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        (run,) = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[name])),
            sort=FlowRunSort.START_TIME_DESC,
            limit=1,
        )
    return run.id


def busy_seconds(intervals: list[tuple[float, float]]) -> float:
    """Length of the union of ``intervals``."""
    total, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total


def stage_costs(
    tasks: list[dict], tools: list[dict], sampler: Sampler, work: list[dict] | None = None
) -> dict[str, dict]:
    """Per stage: task runs, wall, CPU (worker tree), the tools' own wall and CPU, the
    flint function's own wall (``work_s``: tools included; the rest of a task's wall is
    Prefect's and Dask's), peak memory and disk while the stage ran. Tasks must not overlap
    on one worker for the CPU figures to be the stage's own (the full-beam benchmark runs
    one task at a time)."""
    work = work or []
    stages: dict[str, dict] = {}
    for task in tasks:
        if task["start"] is None or task["end"] is None:
            continue
        start, end = task["start"], task["end"]
        inside = [t for t in tools if t["started"] >= start - 1.0 and t["ended"] <= end + 1.0]
        window = sampler.between(start, end)
        entry = stages.setdefault(
            task["stage"],
            {"tasks": 0, "wall_s": 0.0, "cpu_s": 0.0, "tool_s": 0.0, "tool_cpu_s": 0.0,
             "tools": {}, "peak_rss_gib": 0.0, "peak_disk_gib": 0.0, "cached": 0},
        )  # fmt: skip
        entry.setdefault("work_s", 0.0)
        entry["work_s"] += sum(
            w["seconds"] for w in work if w["started"] >= start - 1.0 and w["ended"] <= end + 1.0
        )
        entry["tasks"] += 1
        entry["cached"] += task["state"] == "Cached"
        entry["wall_s"] += end - start
        entry["cpu_s"] += sampler.cpu_at(end) - sampler.cpu_at(start)
        for tool in inside:
            entry["tool_s"] += tool["seconds"]
            entry["tool_cpu_s"] += tool["cpu_seconds"]
            entry["tools"][tool["tool"]] = entry["tools"].get(tool["tool"], 0.0) + tool["seconds"]
        peak_tool = max((t["max_rss_bytes"] for t in inside), default=0)
        entry["peak_rss_gib"] = max(
            entry["peak_rss_gib"], max(s.rss for s in window) / GiB, peak_tool / GiB
        )
        entry["peak_disk_gib"] = max(
            entry["peak_disk_gib"], max(s.total_disk for s in window) / GiB
        )
    for entry in stages.values():
        entry["wall_over_tools"] = entry["wall_s"] / entry["tool_s"] if entry["tool_s"] else None
        entry["wall_over_work"] = entry["wall_s"] / entry["work_s"] if entry["work_s"] else None
    return stages


def _record_lines(path: Path) -> list[dict]:
    import json

    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def read_tool_record(path: Path) -> list[dict]:
    """The tool runs :func:`flint.external.run_tool` appended to ``path``."""
    return [line for line in _record_lines(path) if "tool" in line]


def read_work_record(path: Path) -> list[dict]:
    """The tasks' own work (the flint function each ran, its tools included) that
    :func:`flint.external.recorded_work` appended to ``path``."""
    return [line for line in _record_lines(path) if "work" in line]
