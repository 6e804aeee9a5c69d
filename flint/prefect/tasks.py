"""Prefect tasks: one-line wraps of flint's units of work, cached by their inputs.

Every task persists its result and is cached on its inputs, its source and the times of
the files it reads, so a flow that is started again after a failure or interruption
finds finished work as ``Cached`` and reruns only what did not finish (or what reads a
file that was remade since). Tasks that write into a measurement set they read (wsclean
filling MODEL_DATA) change their own inputs; on a rerun they run again, and the core
function finds its products up to date and returns at once. Results (and the cache records) live under the flow's
output directory (:func:`results_under`), so deleting the output forgets the cache too.
Flows name each task run ``stage-beamNN-roundN`` (see :mod:`flint.prefect.runs`), which
the workbench's run grid is built from.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import Task, task
from prefect.cache_policies import INPUTS, TASK_SOURCE, CachePolicy
from prefect.context import TaskRunContext
from prefect.filesystems import LocalFileSystem
from prefect.utilities.hashing import hash_objects

from flint.askap.preprocess import preprocess_ms
from flint.atomic import latest_mtime
from flint.calibration.apply import apply_solutions
from flint.calibration.bandpass import solve_bandpass
from flint.calibration.repair import repair_solutions_file
from flint.convolve import convolve_images
from flint.demo import simulate_demo_calibrator, simulate_demo_field
from flint.flagging.aoflagger import run_aoflagger
from flint.imaging.run import run_wsclean
from flint.masking import make_clean_mask
from flint.mosaic import mosaic_images
from flint.ms.split import split_column
from flint.selfcal import solve_selfcal_gains
from flint.sourcefind import find_sources
from flint.validation import validate
from flint.validation.thermal import thermal_limit

RESULTS_DIRECTORY = ".flint-results"


@dataclass
class InputFileTimes(CachePolicy):
    """Part of the cache key: the modification times of the files and MSs a task reads.

    Inputs are mostly paths, and a path names a file that a rerun with other options may
    have remade: the task must then run again rather than return a stale cached result.
    Only the parameters in ``reads`` are dated (outputs must not change the key).
    """

    reads: tuple[str, ...] = ()

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        values = [inputs[name] for name in self.reads if name in inputs]
        stamps = sorted(f"{path}@{latest_mtime(path)}" for path in _paths(values) if path.exists())
        return hash_objects(stamps)


def _paths(values: Iterable[Any]) -> Iterator[Path]:
    for value in values:
        if isinstance(value, str | Path):
            yield Path(value)
        elif isinstance(value, list | tuple):
            yield from _paths(value)


def flint_task(function: Callable[..., Any], name: str, reads: tuple[str, ...]) -> Task:
    """Wrap a core function as a cached, persisted task; ``reads`` names its input files."""
    return task(
        function,
        name=name,
        cache_policy=INPUTS + TASK_SOURCE + InputFileTimes(reads=reads),
        persist_result=True,
        retries=0,
    )


def results_under(output_dir: str | Path) -> LocalFileSystem:
    """Result storage (and cache records) inside ``output_dir``, saved as a Prefect block."""
    return _storage(str(Path(output_dir).resolve()))


@functools.lru_cache(maxsize=64)
def _storage(output_dir: str) -> LocalFileSystem:
    """Prefect wants result storage persisted server-side; the block is named after the
    directory, so every run writing to one output directory shares one block."""
    path = Path(output_dir) / RESULTS_DIRECTORY
    path.mkdir(parents=True, exist_ok=True)
    name = "flint-results-" + hashlib.sha256(str(path).encode()).hexdigest()[:16]
    storage = LocalFileSystem(basepath=str(path))
    storage.save(name, overwrite=True)
    return storage


_LABEL: ContextVar[str | None] = ContextVar("flint_task_label", default=None)


def bind(task_: Task, output_dir: str | Path) -> Task:
    """``task_`` with its results stored under ``output_dir``, named by :func:`labelled`."""
    options: dict[str, Any] = {"result_storage": results_under(output_dir)}
    if (label := _LABEL.get()) is not None:
        options["task_run_name"] = label
    return task_.with_options(**options)


@contextmanager
def labelled(stage: str, beam: int | None = None, round_number: int | None = None):
    """Name the task runs bound inside ``stage-beamNN-roundN`` (the run grid's labels).

    Names rather than tags: a tagged task asks the server for tag concurrency slots on
    every run, an API call per task that a busy server can refuse.
    """
    parts = [stage]
    if beam is not None:
        parts.append(f"beam{beam:02d}")
    if round_number is not None:
        parts.append(f"round{round_number}")
    token = _LABEL.set("-".join(parts))
    try:
        yield
    finally:
        _LABEL.reset(token)


preprocess_task = flint_task(preprocess_ms, "preprocess", ("ms",))
solve_bandpass_task = flint_task(solve_bandpass, "solve", ("ms",))
repair_solutions_task = flint_task(repair_solutions_file, "repair", ("solutions_path",))
apply_solutions_task = flint_task(apply_solutions, "apply", ("ms", "solutions_path"))
flag_task = flint_task(run_aoflagger, "flag", ("ms",))
split_task = flint_task(split_column, "split", ("ms",))
image_task = flint_task(run_wsclean, "image", ("ms_paths",))
mask_task = flint_task(make_clean_mask, "mask", ("image",))
selfcal_task = flint_task(solve_selfcal_gains, "selfcal", ("ms",))
find_sources_task = flint_task(find_sources, "find", ("image",))
convolve_task = flint_task(convolve_images, "convolve", ("images",))
mosaic_task = flint_task(mosaic_images, "mosaic", ("images",))
validate_task = flint_task(validate, "validate", ("catalogue", "image", "rms_image"))
thermal_task = flint_task(thermal_limit, "thermal-limit", ("residual", "noise_image"))
simulate_calibrator_task = flint_task(simulate_demo_calibrator, "calibrator", ())
simulate_field_task = flint_task(simulate_demo_field, "field", ())
