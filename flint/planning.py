"""Plan a scheduling block: wall time, core-hours, memory per worker and disk, from measured
per-stage costs (``flint plan``; docs/performance.md explains the model).

The flows' tasks are listed as the flows submit them (:func:`block_tasks`), each with its
size: the visibilities it reads (rows x channels, in millions: ``mvis``) and the image
pixels it makes or reads (in millions: ``mpix``; wsclean's sub-bands count once each); an
image also has the depth of its data (``depth``: :attr:`BeamShape.depth`). A stage's cost is
linear in those sizes, with coefficients the full-beam benchmarks measured
(:class:`CostTable`, ``flint/data/costs/stage_costs.json``, made by
``benchmarks/cost_table.py``)::

    cpu_s  = fixed + per_mvis * mvis + per_mpix * mpix + per_mpix_depth * mpix * depth
    wall_s = overhead + cpu_s * ((1 - p) + p / task_cores)   (Amdahl, p measured per stage)
    rss    = the same linear form, on top of the worker's own memory

The tasks are then scheduled as Dask runs them (:func:`schedule`): every worker thread is a
slot, a task starts when its inputs are done and a slot is free, earliest submitted first;
where the workers share one node (``Resources.host_cores``: a laptop, or several jobs on
one node), the running tasks share its cores with what the Prefect server and the flow
runner take (``CostTable.orchestration_cpu_s_per_task``), and need more CPU the more of its
cores are busy (``CostTable.shared_node_slowdown``). That gives the wall time, the idle
fraction and the allocation's core-hours.
"""

from __future__ import annotations

import heapq
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from flint.errors import InputError
from flint.strategy import Strategy, options_for_round

GiB = 2**30
COMPLEX64_BYTES = 8
"""Bytes per visibility and correlation of a complex64 column (MODEL_DATA, NOISE_DATA)."""


class StageCost(BaseModel):
    """Cost of one task of a stage, linear in its visibilities and pixels (millions)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cpu_s: float = Field(0.0, ge=0)
    """CPU seconds every task takes whatever its size."""
    cpu_s_per_mvis: float = Field(0.0, ge=0)
    cpu_s_per_mpix: float = Field(0.0, ge=0)
    cpu_s_per_mpix_depth: float = Field(0.0, ge=0)
    """CPU seconds per million pixels and unit of the data's depth (:attr:`BeamShape.depth`):
    deconvolution cleans deeper, with more components and major cycles, the lower the noise."""
    parallel_fraction: float = Field(0.0, ge=0, le=1)
    """Share of the CPU time that runs on every core the task has (Amdahl's p)."""
    rss_gib: float = Field(0.0, ge=0)
    """Peak memory above the worker's own (its tools included)."""
    rss_gib_per_mvis: float = Field(0.0, ge=0)
    rss_gib_per_mpix: float = Field(0.0, ge=0)

    def cpu(self, mvis: float, mpix: float, depth: float = 0.0) -> float:
        return (
            self.cpu_s
            + self.cpu_s_per_mvis * mvis
            + (self.cpu_s_per_mpix + self.cpu_s_per_mpix_depth * depth) * mpix
        )

    def wall(self, mvis: float, mpix: float, cores: int, depth: float = 0.0) -> float:
        """Seconds on ``cores`` cores of its own (the task's overhead not included)."""
        p = self.parallel_fraction
        return self.cpu(mvis, mpix, depth) * ((1 - p) + p / max(1, cores))

    def rss(self, mvis: float, mpix: float) -> float:
        return self.rss_gib + self.rss_gib_per_mvis * mvis + self.rss_gib_per_mpix * mpix


class DiskCost(BaseModel):
    """Bytes a run writes, linear in the data and image sizes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    working_copy_bytes: float = Field(0.0, ge=0)
    """Fixed bytes of a beam's working copy (its subtables)."""
    working_copy_bytes_per_vis: float = Field(ge=0)
    """Bytes per visibility and correlation of the working copy (DATA, FLAG, weights...)."""
    products_bytes_per_mpix: float = Field(ge=0)
    """Bytes kept per million pixels imaged (images, models, masks, catalogues of a beam)."""


class CostTable(BaseModel):
    """Per-stage costs measured by the benchmarks, and where they were measured."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = 1
    stages: dict[str, StageCost]
    disk: DiskCost
    worker_rss_gib: float = Field(ge=0)
    """A worker's own memory (Python, Prefect, Dask and flint imported)."""
    worker_start_s: float = Field(0.0, ge=0)
    """From a worker asked for to its first task (not a batch queue's wait)."""
    task_overhead_s: float = Field(0.0, ge=0)
    """Wall seconds every task holds its slot beyond its stage's work, using no core: Dask
    handing it over and Prefect creating its run and recording its states."""
    flow_overhead_s: float = Field(0.0, ge=0)
    """Wall seconds of every flow run beyond its tasks (its start: the run created, the task
    runner connected; its end)."""
    orchestration_cpu_s_per_task: float = Field(0.0, ge=0)
    """CPU seconds the Prefect server and the flow runner spend per task. Where the workers
    share a node with them (``Resources.host_cores``) it takes from the workers' cores."""
    shared_node_slowdown: float = Field(0.0, ge=0)
    """How much more CPU a task needs while every core of its node is busy than alone (0.14:
    14 % more: the cores' shared caches and memory bandwidth), counted where the workers
    share a node (``Resources.host_cores``), growing with the cores busy beyond the first."""
    measured: list[dict] = Field(default_factory=list)
    """The benchmarks the table was fitted to: file, size, cores, load at the time."""
    unmeasured: list[str] = Field(default_factory=list)
    """Stages the flows run that no benchmark measured: each costs its task overhead alone."""
    image_stages: dict | None = None
    """The measurement of the image-plane stages at several sizes, if used."""


def default_cost_table_path() -> Path:
    """The packaged cost table."""
    return Path(str(files("flint").joinpath("data/costs/stage_costs.json")))


def load_cost_table(path: str | os.PathLike[str] | None = None) -> CostTable:
    """Read a cost table (default: the packaged one); errors name the file."""
    path = Path(path) if path is not None else default_cost_table_path()
    if not path.is_file():
        raise InputError("no such cost table", path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise InputError(f"not JSON: {error.msg} at line {error.lineno}", path) from None
    try:
        return CostTable.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "top level"
        raise InputError(f"not a cost table: {where}: {first['msg']}", path) from None


@dataclass(frozen=True)
class BeamShape:
    """What the plan needs of one beam's measurement set."""

    beam: int
    rows: int
    channels: int
    correlations: int = 4
    raw_bytes: int = 0
    noise: bool = False
    """Carries the simulated noise alone (NOISE_DATA): a thermal-limit image is made."""
    pointing_deg: tuple[float, float] | None = None
    """Where the beam points (RA, Dec): the beams' spread sizes the mosaic."""
    integration_s: float = 10.0
    channel_mhz: float = 1.0

    @property
    def mvis(self) -> float:
        """Visibilities (rows x channels) in millions."""
        return self.rows * self.channels / 1e6

    @property
    def depth(self) -> float:
        """How deep the data go: visibility-seconds-MHz in millions of RACS-low's (10 s x
        1 MHz), proportional to one over the image's noise variance. A full RACS-low beam:
        16; the same beam averaged to fewer channels or longer integrations is as deep."""
        return self.mvis * self.integration_s * self.channel_mhz / 10.0


def beam_shapes(directory: str | os.PathLike[str], one_field: bool = False) -> list[BeamShape]:
    """The shape of every beam's measurement set under ``directory`` (any layout; the
    table's size and first cell are read). ``one_field``: count the rows of the largest
    field only (a raw calibrator block holds one field per beam position; a beam's
    bandpass uses one)."""
    from flint.ms import find_observation, open_ms
    from flint.working.summary import tree_bytes

    shapes = []
    for beam, state in sorted(find_observation(directory).beams.items()):
        with open_ms(state.path) as tab:
            rows = tab.nrows()
            if not rows:
                raise InputError("the main table has no rows", state.path)
            if one_field:
                rows = int(np.bincount(tab.getcol("FIELD_ID")).max())
            channels, correlations = tab.getcell("DATA", 0).shape
            noise = "NOISE_DATA" in tab.colnames()
            interval = float(tab.getcell("INTERVAL", 0))
        with open_ms(state.path, "SPECTRAL_WINDOW") as spw:
            channel_mhz = float(np.abs(spw.getcell("CHAN_WIDTH", 0)).mean()) / 1e6
        pointing = tuple(state.pointing_deg())
        shapes.append(
            BeamShape(beam, rows, channels, correlations, tree_bytes(state.path), noise,
                      pointing, interval, channel_mhz)
        )  # fmt: skip
    return shapes


@dataclass(frozen=True)
class Resources:
    """The cluster a block runs on: workers, each with ``threads`` task slots and ``cores``."""

    workers: int
    threads: int
    cores: int
    memory_gib: float | None = None
    walltime_s: float | None = None
    """A worker's time limit (a batch job's walltime), if any."""
    name: str = ""
    adaptive: bool = False
    """Workers come and go with the work (``adapt``): only those with work are paid for."""
    minimum: int = 0
    """Fewest workers an adaptive cluster keeps."""
    host_cores: int | None = None
    """Cores of the one node the workers share (a laptop's LocalCluster, several jobs on one
    node), with the Prefect server and the flow runner: the running tasks share them. None:
    every worker has its cores, and the orchestration runs elsewhere."""

    @property
    def task_cores(self) -> int:
        """Cores the tools of one task get (flint.cores.share)."""
        return max(1, self.cores // max(1, self.threads))

    @property
    def slots(self) -> int:
        return self.workers * self.threads


@dataclass(frozen=True)
class PlannedTask:
    """One task run of a flow, with its size and what it waits for."""

    name: str
    stage: str
    mvis: float = 0.0
    mpix: float = 0.0
    after: tuple[str, ...] = ()
    depth: float = 0.0
    """The depth of the data an image is cleaned on (:attr:`BeamShape.depth`)."""
    held_mpix: float | None = None
    """Million pixels in memory at once, where fewer than it works through (a join takes
    the beams' images one at a time); None: ``mpix``."""

    @property
    def memory_mpix(self) -> float:
        return self.mpix if self.held_mpix is None else self.held_mpix


def _megapixels(size: int, planes: int = 1) -> float:
    return size * size * planes / 1e6


_UNITS_DEG = {"asec": 1 / 3600, "arcsec": 1 / 3600, "amin": 1 / 60, "arcmin": 1 / 60, "deg": 1.0}


def _angle_deg(text: str) -> float:
    """``12asec`` -> degrees (wsclean's unit when none is given is degrees)."""
    number = text.rstrip("abcdefghijklmnopqrstuvwxyz")
    return float(number) * _UNITS_DEG.get(text[len(number) :] or "deg", 1.0)


def mosaic_megapixels(beams: Sequence[BeamShape], size: int, scale: str) -> float:
    """Million pixels of the mosaic of ``beams``' images (``size`` pixels of ``scale``): the
    spread of their pointings plus one image; without pointings, one image per beam (an
    upper bound)."""
    pointings = [beam.pointing_deg for beam in beams]
    if any(p is None for p in pointings):
        return _megapixels(size) * len(beams)
    ra, dec = np.radians(np.array(pointings, float)).T
    ra = np.unwrap(ra)  # a block across RA 0 is not 360 degrees wide
    pixel = np.radians(_angle_deg(scale))
    width = (ra.max() - ra.min()) * np.cos(dec.mean()) / pixel + size
    height = (dec.max() - dec.min()) / pixel + size
    return float(width * height / 1e6)


def bandpass_tasks(calibrators: Sequence[BeamShape]) -> list[PlannedTask]:
    """The bandpass flow's tasks: per beam preprocess, solve, repair; then the flow's
    artifacts (publish)."""
    tasks = []
    for beam in calibrators:
        b = f"beam{beam.beam:02d}"
        tasks += [
            PlannedTask(f"preprocess-{b}-cal", "preprocess", beam.mvis),
            PlannedTask(f"solve-{b}", "solve", beam.mvis, after=(f"preprocess-{b}-cal",)),
            PlannedTask(f"repair-{b}", "repair", 0.0, after=(f"solve-{b}",)),
        ]
    if tasks:
        tasks.append(PlannedTask("publish-bandpass", "publish", after=tuple(t.name for t in tasks)))
    return tasks


def continuum_tasks(beams: Sequence[BeamShape], strategy: Strategy) -> list[PlannedTask]:
    """The continuum flow's tasks in the order it submits them (flint.prefect.flows.continuum:
    a beam's round-0 image right after its flagging; Dask runs ready tasks in that order)."""
    last = strategy.selfcal_rounds
    imaging = [options_for_round(strategy, "imaging", r) for r in range(last + 1)]
    tasks: list[PlannedTask] = []
    image: dict[int, str] = {}
    ready: dict[int, str] = {}
    noise: dict[int, str] = {}
    for beam in beams:
        b = f"beam{beam.beam:02d}"
        image[beam.beam] = f"image-{b}-r0"
        tasks += [
            PlannedTask(f"preprocess-{b}", "preprocess", beam.mvis),
            PlannedTask(f"apply-{b}", "apply", beam.mvis, after=(f"preprocess-{b}",)),
            PlannedTask(f"flag-{b}", "flag", beam.mvis, after=(f"apply-{b}",)),
            PlannedTask(image[beam.beam], "image", beam.mvis,
                        _megapixels(imaging[0].size, imaging[0].channels_out),
                        (f"flag-{b}",), depth=beam.depth),
        ]  # fmt: skip
        ready[beam.beam] = f"flag-{b}"
    mosaic = ""
    for r in range(last + 1):
        size, planes = imaging[r].size, imaging[r].channels_out
        for beam in beams if r else ():  # round 0's images are submitted above
            b, after = f"beam{beam.beam:02d}", [ready[beam.beam]]
            previous = image[beam.beam]
            if options_for_round(strategy, "masking", r).use_fits_mask:
                tasks.append(PlannedTask(f"mask-{b}-r{r}", "mask", 0.0,
                                         _megapixels(imaging[r - 1].size), (previous,)))  # fmt: skip
                after.append(f"mask-{b}-r{r}")
            solve_after = [previous, ready[beam.beam]]
            if options_for_round(strategy, "gain_solve", r).constant_from_components:
                tasks.append(PlannedTask(f"find-{b}-r{r - 1}", "find", 0.0,
                                         _megapixels(imaging[r - 1].size), (previous,)))  # fmt: skip
                solve_after.append(f"find-{b}-r{r - 1}")
            tasks += [
                PlannedTask(f"selfcal-{b}-r{r}", "selfcal", beam.mvis,
                            _megapixels(imaging[r - 1].size, imaging[r - 1].channels_out),
                            tuple(solve_after)),
                PlannedTask(f"apply-{b}-r{r}", "apply", beam.mvis, 0.0, (f"selfcal-{b}-r{r}",)),
            ]  # fmt: skip
            ready[beam.beam] = f"apply-{b}-r{r}"
            after.append(ready[beam.beam])
            if r == last and beam.noise:
                noise[beam.beam] = f"noise-{b}"
                tasks.append(PlannedTask(f"noise-{b}", "noise", beam.mvis,
                                         _megapixels(size, planes), (ready[beam.beam],)))  # fmt: skip
                after.append(noise[beam.beam])
            image[beam.beam] = f"image-{b}-r{r}"
            tasks.append(PlannedTask(image[beam.beam], "image", beam.mvis,
                                     _megapixels(size, planes), tuple(after),
                                     depth=beam.depth))  # fmt: skip
        field = mosaic_megapixels(beams, size, imaging[r].scale)
        images = tuple(image[beam.beam] for beam in beams)
        each, every = _megapixels(size), _megapixels(size) * len(beams)
        tasks += [  # one beam's image at a time; the mosaic's grid and one beam's image
            PlannedTask(f"convolve-r{r}", "convolve", 0.0, every, images, held_mpix=each),
            PlannedTask(f"mosaic-r{r}", "mosaic", 0.0, every, (f"convolve-r{r}",),
                        held_mpix=field + each),
        ]  # fmt: skip
        mosaic = f"mosaic-r{r}"
    size = imaging[last].size
    field = mosaic_megapixels(beams, size, imaging[last].scale)
    for beam in beams:
        b = f"beam{beam.beam:02d}"
        tasks.append(PlannedTask(f"find-{b}", "find", 0.0, _megapixels(size), (image[beam.beam],)))
    tasks.append(PlannedTask("find-mosaic", "find", 0.0, field, (mosaic,)))
    for beam in beams:
        if beam.noise:
            b = f"beam{beam.beam:02d}"
            if beam.beam not in noise:  # no self-calibration round
                noise[beam.beam] = f"noise-{b}"
                tasks.append(PlannedTask(noise[beam.beam], "noise", beam.mvis,
                                         _megapixels(size, imaging[last].channels_out),
                                         (ready[beam.beam],)))  # fmt: skip
            tasks.append(PlannedTask(f"validate-{b}", "validate", 0.0, _megapixels(size),
                                     (image[beam.beam], noise[beam.beam])))  # fmt: skip
    tasks.append(PlannedTask("validate", "validate", 0.0, field,
                             ("find-mosaic",)))  # fmt: skip
    checks = tuple(t.name for t in tasks if t.stage == "validate")
    tasks.append(PlannedTask("publish", "publish", after=("find-mosaic", *checks)))
    tasks.append(PlannedTask("summary", "summary", after=tuple(t.name for t in tasks)))
    return tasks


@dataclass(frozen=True)
class Scheduled:
    """When a planned task runs, and what it costs."""

    task: PlannedTask
    start_s: float
    end_s: float
    cpu_s: float
    rss_gib: float


def schedule(
    tasks: Sequence[PlannedTask],
    costs: CostTable,
    resources: Resources,
    start_s: float = 0.0,
    taken_cores: float = 0.0,
) -> list[Scheduled]:
    """Run ``tasks`` on ``resources``' slots as Dask would: a task starts once its inputs are
    done and a slot is free, the earliest submitted first. It holds its slot for the table's
    overhead, then for its work. Where the workers share a node (``resources.host_cores``,
    of which other processes take ``taken_cores``), the running tasks share what is left
    (:func:`_share`) and need more CPU the busier the node (:func:`_slowdown`)."""
    by_name = {task.name: task for task in tasks}
    order = {task.name: index for index, task in enumerate(tasks)}
    waiting = {task.name: {n for n in task.after if n in by_name} for task in tasks}
    needed_by: dict[str, list[str]] = {}
    for task in tasks:
        for name in waiting[task.name]:
            needed_by.setdefault(name, []).append(task.name)
    ready = [order[name] for name, inputs in waiting.items() if not inputs]
    heapq.heapify(ready)
    cores = resources.task_cores
    overhead = costs.task_overhead_s
    # running: order -> [overhead left, work left (s on its own cores), start, cpu, rss,
    # work done weighted by the slowdown it was done at, the task's work]
    running: dict[int, list[float]] = {}
    free, now, done = resources.slots, start_s, []
    while ready or running:
        while free and ready:
            index = heapq.heappop(ready)
            task = tasks[index]
            cost = _stage(costs, task.stage)
            work = cost.wall(task.mvis, task.mpix, cores, task.depth)
            cpu = cost.cpu(task.mvis, task.mpix, task.depth)
            rss = cost.rss(task.mvis, task.memory_mpix)
            running[index] = [overhead, work, now, cpu, rss, 0.0, work]
            free -= 1
        working = sum(1 for left, *_ in running.values() if left <= 0)
        slowdown = _slowdown(resources, working, taken_cores, costs.shared_node_slowdown)
        rate = _share(resources, working, taken_cores) / slowdown
        # the next event: an overhead ends (work starts: the share changes) or a task ends
        step, first = min(
            (left if left > 0 else work / rate, index)
            for index, (left, work, *_) in running.items()
        )
        now += step
        for state in running.values():
            if state[0] > 0:
                state[0] -= step
            else:
                state[1] -= step * rate
                state[5] += step * rate * slowdown
        left, work, started, cpu, rss, weighted, total = running[first]
        if left > 1e-12 or work > 1e-9 * max(1.0, step):
            running[first][0] = max(0.0, left)  # its overhead ended: its work starts
            continue
        del running[first]
        cpu *= weighted / total if total > 0 else 1.0
        done.append(Scheduled(tasks[first], started, now, cpu, rss))
        free += 1
        for later in needed_by.get(tasks[first].name, []):
            waiting[later].discard(tasks[first].name)
            if not waiting[later]:
                heapq.heappush(ready, order[later])
    return done


def _share(resources: Resources, working: int, taken_cores: float = 0.0) -> float:
    """How fast tasks work when ``working`` of them run: 1 unless their cores exceed what
    other processes leave of the host's."""
    if resources.host_cores is None or not working:
        return 1.0
    left = max(resources.host_cores - taken_cores, 0.1 * resources.host_cores)
    return min(1.0, left / (working * resources.task_cores))


def _slowdown(resources: Resources, working: int, taken_cores: float, full: float) -> float:
    """CPU a task needs on a node with ``working`` tasks (and ``taken_cores`` of other work)
    over its CPU alone: ``1 + full`` with every core busy, 1 with one, linear between."""
    host = resources.host_cores
    if host is None or host < 2 or not working or not full:
        return 1.0
    busy = min(float(host), working * resources.task_cores + taken_cores)
    return 1.0 + full * min(1.0, max(0.0, (busy - 1) / (host - 1)))


def _most_at_once(runs: Sequence[Scheduled]) -> int:
    """Most tasks running at the same moment."""
    events = sorted([(r.start_s, 1) for r in runs] + [(r.end_s, -1) for r in runs])
    running = most = 0
    for _, step in events:  # at equal times an end (-1) sorts before a start
        running += step
        most = max(most, running)
    return most


def _stage(costs: CostTable, stage: str) -> StageCost:
    try:
        return costs.stages[stage]
    except KeyError:
        raise InputError(f"the cost table has no stage {stage!r}") from None


@dataclass
class StagePlan:
    tasks: int = 0
    cpu_s: float = 0.0
    wall_s: float = 0.0
    peak_rss_gib: float = 0.0


@dataclass
class Plan:
    """What a block needs on a cluster."""

    resources: Resources
    beams: int
    visibilities: int
    """Of the science beams (rows x channels, summed)."""
    wall_s: float
    workers_used: int
    """Most workers with a task at once (an adaptive cluster needs no more)."""
    core_hours: float
    """Allocated: the workers' cores for the whole run (all workers of a fixed-size cluster;
    of an adaptive one, as many as are ever busy at once: an upper bound)."""
    busy_core_hours: float
    """CPU time the tasks use."""
    idle_fraction: float
    peak_rss_gib_per_worker: float
    raw_bytes: int
    peak_disk_bytes: int
    """Raw data, the working copies, the columns added while solving, the products."""
    kept_bytes: int
    """What the runs leave beside the raw data: working copies and products."""
    stages: dict[str, StagePlan] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> list[str]:
        """Lines for people."""
        r = self.resources
        lines = [
            f"{self.beams} beams, {self.visibilities / 1e6:.2f} M visibilities, on {r.workers} "
            f"worker(s) x {r.threads} thread(s) x {r.cores} core(s) ({r.task_cores} per task)"
            + (f" [{r.name}]" if r.name else ""),
            f"  wall time        {_hms(self.wall_s)}, at most {self.workers_used} worker(s) busy",
            f"  core-hours       {self.core_hours:.2f} allocated, {self.busy_core_hours:.2f} busy "
            f"(idle {100 * self.idle_fraction:.0f} %)",
            f"  memory           {self.peak_rss_gib_per_worker:.2f} GiB peak per worker"
            + (f" (of {r.memory_gib:.1f} GiB)" if r.memory_gib else ""),
            f"  disk             {self.peak_disk_bytes / 1e9:.2f} GB peak "
            f"(raw {self.raw_bytes / 1e9:.2f} GB; the runs keep {self.kept_bytes / 1e9:.2f} GB)",
            "  stage            tasks     cpu h    wall h  peak GiB",
        ]
        for name, stage in sorted(self.stages.items(), key=lambda item: -item[1].cpu_s):
            lines.append(
                f"  {name:14s} {stage.tasks:7d} {stage.cpu_s / 3600:9.3f} "
                f"{stage.wall_s / 3600:9.3f} {stage.peak_rss_gib:9.2f}"
            )
        lines += [f"  warning: {text}" for text in self.warnings]
        return lines


def _hms(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 3600:d}:{seconds // 60 % 60:02d}:{seconds % 60:02d} ({seconds:d} s)"


def plan_block(
    beams: Sequence[BeamShape],
    strategy: Strategy,
    resources: Resources,
    costs: CostTable,
    calibrators: Sequence[BeamShape] = (),
) -> Plan:
    """Wall time, core-hours, memory per worker and disk of the bandpass flow on
    ``calibrators`` (if any) then the continuum flow on ``beams``, on ``resources``."""
    if not beams:
        raise InputError("no beams to plan")
    flows = [t for t in (bandpass_tasks(calibrators), continuum_tasks(beams, strategy)) if t]
    runs, wall = _schedule_flows(flows, costs, resources, 0.0)
    if resources.host_cores is not None and costs.orchestration_cpu_s_per_task > 0:
        for _ in range(2):  # the orchestration's cores depend on the wall they spread over
            taken = costs.orchestration_cpu_s_per_task * len(runs) / max(wall, 1e-9)
            runs, wall = _schedule_flows(flows, costs, resources, taken)
    stages: dict[str, StagePlan] = {}
    for run in runs:
        stage = stages.setdefault(run.task.stage, StagePlan())
        stage.tasks += 1
        stage.cpu_s += run.cpu_s
        stage.wall_s += run.end_s - run.start_s
        stage.peak_rss_gib = max(stage.peak_rss_gib, run.rss_gib)
    busy = sum(run.cpu_s for run in runs)
    used = min(resources.workers, max(1, math.ceil(_most_at_once(runs) / resources.threads)))
    paid = max(used, resources.minimum) if resources.adaptive else resources.workers
    allocated = paid * resources.cores * wall
    peak_task = max(run.rss_gib for run in runs)
    rss = costs.worker_rss_gib + min(resources.threads, len(runs)) * peak_task
    disk = _disk(beams, calibrators, strategy, resources, costs)
    plan = Plan(
        resources=resources,
        beams=len(beams),
        visibilities=sum(beam.rows * beam.channels for beam in beams),
        wall_s=wall,
        workers_used=used,
        core_hours=allocated / 3600,
        busy_core_hours=busy / 3600,
        idle_fraction=max(0.0, 1 - busy / allocated) if allocated else 0.0,
        peak_rss_gib_per_worker=rss,
        stages=stages,
        **disk,
    )
    if resources.memory_gib is not None and rss > resources.memory_gib:
        plan.warnings.append(
            f"a worker may need {rss:.1f} GiB, more than its {resources.memory_gib:.1f} GiB: "
            "fewer threads per worker or more memory"
        )
    if resources.walltime_s is not None and wall > resources.walltime_s:
        plan.warnings.append(
            f"the run takes {_hms(wall)}, longer than a worker's walltime "
            f"{_hms(resources.walltime_s)}: workers are replaced as they retire (more "
            "start-up and queue time), or ask for a longer walltime"
        )
    return plan


def _schedule_flows(
    flows: Sequence[Sequence[PlannedTask]], costs: CostTable, resources: Resources, taken: float
) -> tuple[list[Scheduled], float]:
    """The flows' task runs one flow after the other, and the wall time of them all."""
    runs: list[Scheduled] = []
    now = costs.worker_start_s
    for tasks in flows:
        runs += schedule(tasks, costs, resources, start_s=now, taken_cores=taken)
        now = max(run.end_s for run in runs) + costs.flow_overhead_s
    return runs, now


def products_megapixels(strategy: Strategy) -> float:
    """Million pixels a beam's kept products scale with: each round's sub-bands and MFS image."""
    rounds = range(strategy.selfcal_rounds + 1)
    imaging = [options_for_round(strategy, "imaging", r) for r in rounds]
    return sum(_megapixels(o.size, o.channels_out + 1) for o in imaging)


def _disk(beams, calibrators, strategy, resources, costs) -> dict[str, int]:
    d = costs.disk
    mpix = products_megapixels(strategy)
    raw = sum(beam.raw_bytes for beam in (*beams, *calibrators))
    copies = sum(
        d.working_copy_bytes + d.working_copy_bytes_per_vis * beam.mvis * 1e6 * beam.correlations
        for beam in (*beams, *calibrators)
    )
    products = len(beams) * d.products_bytes_per_mpix * mpix
    column = max(COMPLEX64_BYTES * beam.mvis * 1e6 * beam.correlations for beam in beams)
    transient = min(resources.slots, len(beams)) * column  # MODEL_DATA while solving
    return {
        "raw_bytes": int(raw),
        "peak_disk_bytes": int(raw + copies + products + transient),
        "kept_bytes": int(copies + products),
    }


__all__ = [
    "BeamShape",
    "CostTable",
    "DiskCost",
    "Plan",
    "PlannedTask",
    "Resources",
    "StageCost",
    "bandpass_tasks",
    "beam_shapes",
    "continuum_tasks",
    "default_cost_table_path",
    "load_cost_table",
    "mosaic_megapixels",
    "plan_block",
    "products_megapixels",
    "schedule",
]
