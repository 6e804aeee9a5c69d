"""The simulate flow: the demo observation (calibrator scan and science field) in parallel."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from prefect import flow
from prefect.futures import PrefectFuture

from flint.demo import DEMO_BEAMS
from flint.prefect import tasks
from flint.prefect.cluster import default_task_runner
from flint.prefect.tasks import bind, labelled

logger = logging.getLogger(__name__)


@flow(name="simulate", task_runner=default_task_runner())
def simulate_flow(
    output_dir: Path,
    beams: list[int] = list(DEMO_BEAMS),  # noqa: B006 - Prefect copies parameters
    min_flux_jy: float = 2e-3,
    seed: int = 1,
    layout: Literal["raw", "casda", "flint"] = "raw",
    sky: Literal["simple", "realistic"] = "simple",
) -> list[PrefectFuture]:
    """Simulate the demo's PKS B1934-638 scan and science field of ``beams``.

    Writes ``output_dir/calibrator/SB<sbid>`` (the bandpass flow's input) and
    ``output_dir/field/SB<sbid>`` with its truth (the continuum flow's input), delivered as
    ``layout`` says (CASDA: the calibrated field alone); a rerun finds the finished
    measurement sets and leaves them alone. ``min_flux_jy`` is the faintest source of the
    simulated sky; ``sky`` is ``realistic`` or ``simple`` (see :mod:`flint.demo`).
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    futures = []
    if layout != "casda":
        with labelled("calibrator"):
            futures.append(
                bind(tasks.simulate_calibrator_task, output_dir).submit(
                    output_dir, tuple(beams), seed, layout
                )
            )
    with labelled("field"):
        futures.append(
            bind(tasks.simulate_field_task, output_dir).submit(
                output_dir, tuple(beams), min_flux_jy, seed, layout, sky
            )
        )
    logger.info("Simulating the demo (%s layout) of beams %s", layout, list(beams))
    return futures
