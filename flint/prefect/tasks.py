"""Prefect tasks: one-line wraps of flint's units of work, cached by what they read.

A task is made with :func:`flint_task` from a core function, a name, and the parameters
that hold the paths it reads::

    preprocess_task = flint_task(preprocess_askap_ms, "preprocess", reads=("ms",))

Every task persists its result and is cached by flint's one rerun rule
(:mod:`flint.prefect.cache`): the content-derived identity of what it reads, its other
parameters, its source and the tool versions. A flow started again after a failure or
interruption finds finished work as ``Cached`` and reruns exactly what changed inputs or
options imply, or what lost its products. A task that writes into a measurement set it
reads (wsclean filling MODEL_DATA) names that column in ``amends``. Results are stored as
JSON (never pickles) under the flow's output directory (:func:`results_under`), so deleting
the output forgets the cache too. Each task's tools are stopped when its flow run is
cancelled (:mod:`flint.prefect.cancel`). Flows name each task run
``stage-beamNN-roundN`` (see :mod:`flint.prefect.runs`), which the workbench's run grid is
built from.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from prefect import Task, task
from prefect.cache_policies import NO_CACHE

from flint.askap.preprocess import preprocess_ms
from flint.calibration.apply import apply_solutions
from flint.calibration.bandpass import solve_bandpass
from flint.calibration.repair import repair_solutions_file
from flint.convolve import convolve_images
from flint.demo import simulate_demo_calibrator, simulate_demo_field
from flint.external import checked, recorded_work, stopping_when
from flint.flagging.aoflagger import run_aoflagger
from flint.imaging.run import run_wsclean
from flint.masking import make_clean_mask
from flint.mosaic import mosaic_images
from flint.ms.split import split_column
from flint.prefect.cache import (
    FlintJSONSerializer,
    FlintResultStorage,
    InputIdentity,
    register_return_type,
)
from flint.prefect.cancel import TaskCancelled, stop_check
from flint.selfcal import solve_selfcal_gains
from flint.sourcefind import find_sources
from flint.validation import validate
from flint.validation.thermal import thermal_limit
from flint.working import (
    apply_gains,
    calibrate_in_place,
    find_outliers_in_place,
    flag_in_place,
    image_round,
    keep_round_copy,
    make_working_copy,
    noise_image,
    refine_in_place,
    solve_round,
    subtract_in_place,
    summarise_run,
)

RESULTS_DIRECTORY = ".flint-results"


def flint_task(
    function: Callable[..., Any],
    name: str,
    reads: tuple[str, ...],
    amends: tuple[str, ...] = (),
    cached: bool = True,
) -> Task:
    """Wrap a core function as a cached, persisted, cancellable task.

    ``reads`` names the parameters holding the paths the function reads (files or
    measurement sets, or lists of them); ``amends`` the MS columns it writes into one of
    them (a step changing a working copy in place leaves those, and the later steps',
    out of the copy's identity). The function's return annotation must be JSON-able data
    (a dataclass or pydantic model of paths, numbers and strings): it is how the result is
    stored. A task that is not ``cached`` runs every time (a summary of the run).
    """
    register_return_type(function)

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        stopped = stop_check()
        if checked(stopped):  # the run was cancelled before this task reached a worker
            raise TaskCancelled(f"{name}: not started, its flow run was cancelled or ended")
        with stopping_when(stopped), recorded_work(name):
            return function(*args, **kwargs)

    return task(
        run,
        name=name,
        cache_policy=InputIdentity(reads=tuple(reads), amends=tuple(amends))
        if cached
        else NO_CACHE,
        persist_result=True,
        result_serializer=FlintJSONSerializer(),
        retries=0,
    )


def results_under(output_dir: str | Path) -> FlintResultStorage:
    """Result storage (and cache records) inside ``output_dir``, saved as a Prefect block."""
    return _storage(str(Path(output_dir).resolve()))


@functools.lru_cache(maxsize=64)
def _storage(output_dir: str) -> FlintResultStorage:
    """Prefect wants result storage persisted server-side; the block is named after the
    directory, so every run writing to one output directory shares one block."""
    path = Path(output_dir) / RESULTS_DIRECTORY
    path.mkdir(parents=True, exist_ok=True)
    name = "flint-results-" + hashlib.sha256(str(path).encode()).hexdigest()[:16]
    storage = FlintResultStorage(basepath=str(path))
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
image_task = flint_task(run_wsclean, "image", ("ms_paths",), amends=("MODEL_DATA",))
mask_task = flint_task(make_clean_mask, "mask", ("image", "maps"))
selfcal_task = flint_task(solve_selfcal_gains, "selfcal", ("ms",))
find_sources_task = flint_task(find_sources, "find", ("image",))
convolve_task = flint_task(convolve_images, "convolve", ("images",))
mosaic_task = flint_task(mosaic_images, "mosaic", ("images", "noise"))
validate_task = flint_task(
    validate, "validate", ("catalogue", "truth", "image", "rms_image", "psf_images")
)
thermal_task = flint_task(
    thermal_limit, "thermal-limit", ("residual", "noise_image", "noise_residual")
)
simulate_calibrator_task = flint_task(simulate_demo_calibrator, "calibrator", ())
simulate_field_task = flint_task(simulate_demo_field, "field", ())

# a beam's working copy (flint.working): made once, then changed in place
working_copy_task = flint_task(make_working_copy, "preprocess", ("source",))
calibrate_task = flint_task(
    calibrate_in_place, "apply", ("ms", "solutions_path"), amends=("DATA", "FLAG")
)
flag_working_task = flint_task(flag_in_place, "flag", ("ms",), amends=("FLAG",))
apply_gains_task = flint_task(apply_gains, "apply", ("ms", "gains_path"))
image_round_task = flint_task(image_round, "image", ("ms", "gains_path"))
solve_round_task = flint_task(solve_round, "selfcal", ("ms", "model", "catalogue"))
noise_image_task = flint_task(noise_image, "noise", ("ms", "gains_path"))
keep_round_task = flint_task(keep_round_copy, "keep", ("ms", "gains_path"))
summary_task = flint_task(summarise_run, "summary", (), cached=False)
# peeling in the working copy: one column serves every round, so these steps always run
# and do nothing while the copy holds their output (flint.working.peeling)
find_outliers_task = flint_task(find_outliers_in_place, "outliers", ("ms", "gains_path"))
peel_task = flint_task(subtract_in_place, "peel", (), cached=False)
refine_task = flint_task(refine_in_place, "refine", (), cached=False)
