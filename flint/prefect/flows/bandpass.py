"""The bandpass flow: every calibrator beam solved in parallel, then pre-flagged and plotted."""

from __future__ import annotations

import logging
from pathlib import Path

from prefect import flow
from prefect.futures import PrefectFuture

from flint.askap.preprocess import planned_steps
from flint.calibration.bandpass import BandpassOptions
from flint.calibration.repair import RepairOptions
from flint.errors import InputError
from flint.ms import Observation, find_observation
from flint.prefect.artifacts import publish_results
from flint.prefect.cluster import default_task_runner
from flint.prefect.holding import one_run_per_output_dir
from flint.prefect.tasks import (
    bind,
    labelled,
    preprocess_task,
    repair_solutions_task,
    solve_bandpass_task,
)

logger = logging.getLogger(__name__)

SOLUTIONS_SUFFIX = ".calibrate.bin"
REPAIRED_SUFFIX = ".calibrate.repaired.bin"


def solutions_name(stem: str, repaired: bool = True) -> str:
    """The bandpass solutions file of a beam's product ``stem`` (it keeps ``beamNN``)."""
    return stem + (REPAIRED_SUFFIX if repaired else SOLUTIONS_SUFFIX)


def check_bandpass_inputs(
    calibrator_dir: Path, beams: list[int] | None = None, calibrator: str = "B1934-638"
) -> tuple[Observation, dict[int, str | None]]:
    """The calibrator beams and the field each is solved on, checked before any work starts
    (the command line calls it before starting a flow run, so bad input fails at once)."""
    observation = find_observation(calibrator_dir, beams)
    if observation.calibrated:
        raise InputError(
            "these are calibrated (CASDA) science data, not a calibrator scan: nothing to solve",
            calibrator_dir,
        )
    selections = {
        beam: state.field_for_beam(calibrator) for beam, state in observation.beams.items()
    }
    return observation, selections


@flow(name="bandpass", task_runner=default_task_runner())
@one_run_per_output_dir
def bandpass_flow(
    calibrator_dir: Path,
    output_dir: Path,
    beams: list[int] | None = None,
    bandpass: BandpassOptions = BandpassOptions(),  # noqa: B008 - frozen options
    repair: RepairOptions = RepairOptions(),  # noqa: B008
) -> list[PrefectFuture]:
    """Solve, pre-flag and plot the bandpass of every beam of a PKS B1934-638 observation.

    ``calibrator_dir`` holds one MS per beam in any layout flint knows (see
    :mod:`flint.ms.layout`); of a raw calibrator block, beam N's solve uses the scan of
    field ``B1934-638_beamN``, selected into a preprocessed copy under ``output_dir/work``.
    Writes ``SB<sbid>.<field>.beamNN.calibrate.bin`` (raw solutions) and
    ``.calibrate.repaired.bin`` (flagged, smoothed, referenced; what the continuum flow
    applies) per beam into ``output_dir``. Finished beams are skipped on a rerun.
    """
    output_dir = Path(output_dir)
    observation, selections = check_bandpass_inputs(calibrator_dir, beams, bandpass.calibrator)
    logger.info("Bandpass calibrator: %s", observation.describe())
    output_dir.mkdir(parents=True, exist_ok=True)
    futures: list[PrefectFuture] = []
    products: list[Path] = []
    for beam, state in observation.beams.items():
        ms, after = state.path, []
        if planned_steps(state, selections[beam]):
            ms = output_dir / "work" / f"{state.stem}.ms"
            with labelled("preprocess", beam):
                after.append(
                    bind(preprocess_task, output_dir).submit(state.path, ms, field=selections[beam])
                )
        raw = output_dir / solutions_name(state.stem, repaired=False)
        with labelled("solve", beam):
            solved = bind(solve_bandpass_task, output_dir).submit(
                ms, raw, options=bandpass, work_dir=output_dir / "work", wait_for=after
            )
        with labelled("repair", beam):
            repaired = bind(repair_solutions_task, output_dir).submit(
                raw, output_dir / solutions_name(state.stem), options=repair, wait_for=[solved]
            )
        futures += [*after, solved, repaired]
        products.append(output_dir / solutions_name(state.stem))
    logger.info("Bandpass of %d beam(s) submitted", len(observation.beams))
    with labelled("publish"):
        published = bind(publish_results, output_dir).submit(
            output_dir, [], products, "Bandpass solutions", wait_for=futures
        )
    return [*futures, published]
