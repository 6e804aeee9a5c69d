"""The bandpass flow: every calibrator beam solved in parallel, then pre-flagged and plotted."""

from __future__ import annotations

import logging
from pathlib import Path

from prefect import flow
from prefect.futures import PrefectFuture

from flint.calibration.bandpass import BandpassOptions
from flint.calibration.repair import RepairOptions
from flint.ms import find_beam_measurement_sets
from flint.prefect.artifacts import publish_results
from flint.prefect.cluster import default_task_runner
from flint.prefect.tasks import bind, labelled, repair_solutions_task, solve_bandpass_task

logger = logging.getLogger(__name__)

SOLUTIONS_SUFFIX = ".calibrate.bin"
REPAIRED_SUFFIX = ".calibrate.repaired.bin"


def solutions_name(ms: Path, repaired: bool = True) -> str:
    """The bandpass solutions file name of calibrator ``ms`` (it keeps the ``beamNN`` token)."""
    return ms.stem + (REPAIRED_SUFFIX if repaired else SOLUTIONS_SUFFIX)


@flow(name="bandpass", task_runner=default_task_runner())
def bandpass_flow(
    calibrator_dir: Path,
    output_dir: Path,
    beams: list[int] | None = None,
    bandpass: BandpassOptions = BandpassOptions(),  # noqa: B008 - frozen options
    repair: RepairOptions = RepairOptions(),  # noqa: B008
) -> list[PrefectFuture]:
    """Solve, pre-flag and plot the bandpass of every beam of a PKS B1934-638 observation.

    Writes ``<ms stem>.calibrate.bin`` (raw solutions) and ``.calibrate.repaired.bin``
    (flagged, smoothed, referenced; what the continuum flow applies) per beam into
    ``output_dir``. Finished beams are skipped on a rerun.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    futures: list[PrefectFuture] = []
    products: list[Path] = []
    for beam, (ms, _) in find_beam_measurement_sets(calibrator_dir, beams).items():
        raw = output_dir / solutions_name(ms, repaired=False)
        with labelled("solve", beam):
            solved = bind(solve_bandpass_task, output_dir).submit(
                ms, raw, options=bandpass, work_dir=output_dir / "work"
            )
        with labelled("repair", beam):
            repaired = bind(repair_solutions_task, output_dir).submit(
                raw, output_dir / solutions_name(ms), options=repair, wait_for=[solved]
            )
        futures += [solved, repaired]
        products.append(output_dir / solutions_name(ms))
    logger.info("Bandpass of %d beam(s) submitted", len(futures) // 2)
    with labelled("publish"):
        published = bind(publish_results, output_dir).submit(
            output_dir, [], products, "Bandpass solutions", wait_for=futures
        )
    return [*futures, published]
