"""Prefect tasks: one-line wraps of flint's units of work, cached by their inputs.

Every task persists its result and is cached on its inputs and source, so a flow that
is started again after a failure or interruption finds finished work as ``Cached`` and
reruns only what did not finish. Results (and the cache records) live under the flow's
output directory (:func:`results_under`), so deleting the output forgets the cache too.
Flows label each call with ``beam:NN``, ``stage:NAME`` and ``round:N`` tags (see
:mod:`flint.prefect.runs`), which the workbench's run grid is built from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prefect import Task, tags, task
from prefect.cache_policies import INPUTS, TASK_SOURCE
from prefect.filesystems import LocalFileSystem

from flint.calibration.apply import apply_solutions
from flint.calibration.bandpass import solve_bandpass
from flint.calibration.repair import repair_solutions_file
from flint.convolve import convolve_images
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


def flint_task(function: Callable[..., Any], name: str) -> Task:
    """Wrap a core function as a cached, persisted task."""
    return task(
        function,
        name=name,
        cache_policy=INPUTS + TASK_SOURCE,
        persist_result=True,
        retries=0,
    )


def results_under(output_dir: str | Path) -> LocalFileSystem:
    """Result storage (and cache records) inside ``output_dir``, saved as a Prefect block.

    Prefect wants result storage persisted server-side; the block is named after the
    directory, so every run writing to one output directory shares one block.
    """
    path = Path(output_dir).resolve() / RESULTS_DIRECTORY
    path.mkdir(parents=True, exist_ok=True)
    name = "flint-results-" + hashlib.sha256(str(path).encode()).hexdigest()[:16]
    storage = LocalFileSystem(basepath=str(path))
    storage.save(name, overwrite=True)
    return storage


def bind(task_: Task, output_dir: str | Path) -> Task:
    """``task_`` with its results stored under ``output_dir``."""
    return task_.with_options(result_storage=results_under(output_dir))


@contextmanager
def labelled(stage: str, beam: int | None = None, round_number: int | None = None):
    """Tag the task runs submitted inside with their stage, beam and round."""
    labels = [f"stage:{stage}"]
    if beam is not None:
        labels.append(f"beam:{beam:02d}")
    if round_number is not None:
        labels.append(f"round:{round_number}")
    with tags(*labels):
        yield


solve_bandpass_task = flint_task(solve_bandpass, "solve")
repair_solutions_task = flint_task(repair_solutions_file, "repair")
apply_solutions_task = flint_task(apply_solutions, "apply")
flag_task = flint_task(run_aoflagger, "flag")
split_task = flint_task(split_column, "split")
image_task = flint_task(run_wsclean, "image")
mask_task = flint_task(make_clean_mask, "mask")
selfcal_task = flint_task(solve_selfcal_gains, "selfcal")
find_sources_task = flint_task(find_sources, "find")
convolve_task = flint_task(convolve_images, "convolve")
mosaic_task = flint_task(mosaic_images, "mosaic")
validate_task = flint_task(validate, "validate")
thermal_task = flint_task(thermal_limit, "thermal-limit")
