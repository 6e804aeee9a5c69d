"""The continuum flow: calibrate, flag, image and self-calibrate every beam, then mosaic.

Per beam (beams run in parallel; nothing waits for other beams)::

    raw MS --preprocess (as its layout needs)--> SB<sbid>.<field>.beamNN.ms
           --apply bandpass--> .bandpass.ms --flag--> .flagged.ms --split--> .round0.ms
    (calibrated CASDA data: preprocess --flag--> .flagged.ms, imaged as round 0)
    round 0: image
    round r: mask (image r-1) -> solve gains (DATA vs the model of MS r-1) -> apply
             -> .round{r}.ms -> [peel] -> image (with the mask, unless the round's
             masking says use_fits_mask: false) -> [refine]
    last round: find sources

Peeling (the round's ``peel`` stage, see :mod:`flint.peel`): with ``subtract_outside``
the first such round finds bright sources outside the image in a wide image, and every
such round subtracts them (each cleaned in its own small image) and images
``PEELED_DATA``; with ``refine_bright`` a round remodels its brightest sources at full
resolution into ``FIELD_MODEL``. The next self-calibration solves against the round's
model (``FIELD_MODEL`` or MODEL_DATA) plus the subtracted sources (``OUTLIER_DATA``).

Joins (per round, waiting for every beam): convolve to a common resolution, mosaic,
find sources on the mosaic; after the last round, validate against the truth (a
simulation's manifest found beside the data, or a catalogue given by the user) and
image the simulated noise alone (the thermal limit) when the data carry NOISE_DATA.
Products go under ``output_dir``: ``beamNN/`` per beam and ``mosaic/roundN/``.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from prefect import flow
from prefect.futures import PrefectFuture

from flint.askap.preprocess import planned_steps
from flint.calibration.apply import check_compatible, check_usable, match_solutions
from flint.calibration.solutions import read_solutions
from flint.convolve import conv_name
from flint.errors import InputError
from flint.imaging import ImageProducts, WSCleanOptions
from flint.imaging.command import expected_products
from flint.ms import MSLayoutState, Observation, find_observation, open_ms
from flint.peel import FIELD_COLUMN, OUTLIER_COLUMN, PEELED_COLUMN
from flint.prefect import tasks
from flint.prefect.artifacts import publish_results
from flint.prefect.cluster import default_task_runner
from flint.prefect.holding import one_run_per_output_dir
from flint.prefect.tasks import bind, labelled
from flint.sourcefind import source_find_paths
from flint.strategy import Strategy, load_strategy, options_for_round
from flint.validation.truth import find_simulation_truth, simulation_sky

logger = logging.getLogger(__name__)


@dataclass
class BeamChain:
    """The futures of one beam's products in the current round."""

    beam: int
    stem: str
    directory: Path
    ms: Path
    image: ImageProducts
    imaged: PrefectFuture
    modelled: PrefectFuture
    """The model the next self-calibration solves against is complete (image, refinement)."""
    outliers: PrefectFuture | None = None
    """The bright sources outside the image (found once, by the first peeling round)."""
    peeled: bool = False
    """This round imaged data with those sources subtracted (its model lacks them)."""
    model_column: str = "MODEL_DATA"
    """The round's model of the field: the image's, or refined (``FIELD_MODEL``)."""


SUB_BAND_KINDS = ("image", "model")
"""Sub-band products a round keeps: the images, and the models the next round predicts from."""


def image_products(
    prefix: Path, options: WSCleanOptions, channel_kinds: Collection[str]
) -> ImageProducts:
    """The products wsclean will keep for ``prefix`` (paths known before it runs)."""
    files = expected_products(prefix, options, channel_kinds)
    return ImageProducts.from_files(prefix, files, options)


def _imaging(strategy: Strategy, round_number: int, **changes) -> WSCleanOptions:
    return options_for_round(strategy, "imaging", round_number).with_options(**changes)


def _start_beam(
    state: MSLayoutState, solutions: Path | None, output_dir: Path, strategy: Strategy
) -> BeamChain:
    beam, stem = state.beam, state.stem
    directory = output_dir / f"beam{beam:02d}"
    directory.mkdir(parents=True, exist_ok=True)
    ms, after = state.path, []
    if planned_steps(state, None):
        ms = directory / f"{stem}.ms"
        with labelled("preprocess", beam):
            after.append(bind(tasks.preprocess_task, output_dir).submit(state.path, ms, field=None))
    column = "DATA"
    if solutions is not None:
        with labelled("apply", beam):
            after = [
                bind(tasks.apply_solutions_task, output_dir).submit(
                    ms, solutions, directory / f"{stem}.bandpass.ms", data_column="DATA",
                    wait_for=after,
                )
            ]  # fmt: skip
        ms, column = directory / f"{stem}.bandpass.ms", "CORRECTED_DATA"
    flagged_ms = directory / f"{stem}.flagged.ms"
    with labelled("flag", beam):
        flagged = bind(tasks.flag_task, output_dir).submit(
            ms,
            flagged_ms,
            column=column,
            log_path=directory / "logs" / "aoflagger.log",
            wait_for=after,
        )
    round_ms, after = flagged_ms, [flagged]
    if column != "DATA":
        round_ms = directory / f"{stem}.round0.ms"
        with labelled("split", beam):
            after = [
                bind(tasks.split_task, output_dir).submit(
                    flagged_ms, round_ms, column=column, wait_for=[flagged]
                )
            ]
    options = _imaging(strategy, 0, data_column="DATA")
    return _image(beam, stem, directory, round_ms, options, 0, strategy, output_dir, after)


def check_inputs(
    science_dir: Path,
    bandpass_dir: Path | None,
    strategy: Path | None = None,
    beams: list[int] | None = None,
) -> tuple[Strategy, Observation, dict[int, Path | None]]:
    """The strategy, the science beams and each one's solutions, checked before anything is
    written (by the CLI before the flow starts, and by the flow): InputError naming the bad
    file first."""
    plan = load_strategy(strategy)
    observation = find_observation(science_dir, beams)
    bandpass = None if bandpass_dir is None else Path(bandpass_dir)
    return plan, observation, _bandpass_of_beams(observation, bandpass)


def _bandpass_of_beams(
    observation: Observation, bandpass_dir: Path | None
) -> dict[int, Path | None]:
    """Each beam's solutions, matched and checked against its data."""
    if observation.calibrated:
        if bandpass_dir is not None:
            raise InputError(
                "calibrated (CASDA) data take no bandpass: leave out --bandpass",
                bandpass_dir,
            )
        return dict.fromkeys(observation.beams)
    if bandpass_dir is None:
        raise InputError(
            f"{observation.layout} data need bandpass solutions: give --bandpass "
            "(the bandpass flow's output directory)",
            observation.directory,
        )
    candidates = sorted(Path(bandpass_dir).glob("*.repaired.bin"))
    chosen = {}
    for beam, state in observation.beams.items():
        if state.is_calibrator_block and len(state.fields) > 1:
            raise InputError(
                "a calibrator block (one field per beam position): give it to flint bandpass",
                state.path,
            )
        chosen[beam] = match_solutions(state.path, candidates)
        solutions = read_solutions(chosen[beam])
        check_compatible(state.path, solutions)
        check_usable(state.path, solutions)
    return chosen


def _image(
    beam, stem, directory, ms, options, round_number, strategy, output_dir, after, previous=None
):
    """Image one round (peeling first or after it, as the round's ``peel`` stage says)."""
    peel = options_for_round(strategy, "peel", round_number)
    peel_dir = directory / "peel"
    outliers = previous.outliers if previous is not None else None
    if peel.subtract_outside:
        if outliers is None:
            with labelled("outliers", beam, round_number):
                outliers = bind(tasks.find_outliers_task, output_dir).submit(
                    ms, options, peel, options.data_column,
                    peel_dir / f"{stem}.outliers.json", wait_for=after,
                )  # fmt: skip
        # the previous round's model, if it imaged peeled data (else its edge holds parts
        # of the sources being peeled)
        field_model = previous.model_column if previous is not None and previous.peeled else None
        with labelled("peel", beam, round_number):
            after = [
                bind(tasks.peel_task, output_dir).submit(
                    ms, outliers, options, peel, options.data_column,
                    peel_dir / f"round{round_number}", field_model, wait_for=after,
                )
            ]  # fmt: skip
        options = options.with_options(data_column=PEELED_COLUMN)
    name = f"{stem}.round{round_number}"
    image = image_products(directory / "images" / name, options, SUB_BAND_KINDS)
    with labelled("image", beam, round_number):
        imaged = bind(tasks.image_task, output_dir).submit(
            ms, options, directory / "images", name, channel_kinds=SUB_BAND_KINDS, wait_for=after
        )
    chain = BeamChain(beam, stem, directory, ms, image, imaged, imaged, outliers)
    chain.peeled = peel.subtract_outside
    if peel.refine_bright and round_number < strategy.selfcal_rounds:
        with labelled("refine", beam, round_number):
            chain.modelled = bind(tasks.refine_task, output_dir).submit(
                ms, image.image, options, peel, peel_dir / f"round{round_number}",
                wait_for=[imaged],
            )  # fmt: skip
        chain.model_column = FIELD_COLUMN
    return chain


def _find(chain: BeamChain, round_number: int, strategy: Strategy, output_dir: Path):
    with labelled("find", chain.beam, round_number):
        return bind(tasks.find_sources_task, output_dir).submit(
            chain.image.image,
            chain.directory / "catalogues",
            options_for_round(strategy, "source_finding", round_number),
            wait_for=[chain.imaged],
        )


def _selfcal_round(chain: BeamChain, round_number: int, strategy: Strategy, output_dir: Path):
    beam, directory, stem = chain.beam, chain.directory, chain.stem
    masking = options_for_round(strategy, "masking", round_number)
    mask, after = None, []
    if masking.use_fits_mask:
        mask = directory / "masks" / f"{stem}.round{round_number - 1}.mask.fits"
        with labelled("mask", beam, round_number):
            after.append(
                bind(tasks.mask_task, output_dir).submit(
                    chain.image.image, mask, masking, wait_for=[chain.imaged]
                )
            )
    gains = directory / "gains" / f"{stem}.round{round_number}.gains.bin"
    with labelled("selfcal", beam, round_number):
        solved = bind(tasks.selfcal_task, output_dir).submit(
            chain.ms,
            gains,
            options_for_round(strategy, "gain_solve", round_number),
            data_column="DATA",
            model_column=[chain.model_column, OUTLIER_COLUMN]
            if chain.peeled
            else chain.model_column,
            wait_for=[chain.modelled],
        )
    round_ms = directory / f"{stem}.round{round_number}.ms"
    with labelled("apply", beam, round_number):
        applied = bind(tasks.apply_solutions_task, output_dir).submit(
            chain.ms, gains, round_ms, data_column="DATA", wait_for=[solved]
        )
    options = _imaging(strategy, round_number, data_column="CORRECTED_DATA", fits_mask=mask)
    return _image(
        beam,
        stem,
        directory,
        round_ms,
        options,
        round_number,
        strategy,
        output_dir,
        [applied, *after],
        chain,
    )


def _mosaic_round(chains: list[BeamChain], round_number: int, output_dir: Path, strategy: Strategy):
    directory = output_dir / "mosaic" / f"round{round_number}"
    with labelled("convolve", round_number=round_number):
        convolved = bind(tasks.convolve_task, output_dir).submit(
            [chain.image.image for chain in chains],
            output_dir=directory / "convolved",
            wait_for=[chain.imaged for chain in chains],
        )
    images = [directory / "convolved" / conv_name(chain.image.image) for chain in chains]
    mosaic = directory / f"mosaic.round{round_number}.fits"
    with labelled("mosaic", round_number=round_number):
        mosaicked = bind(tasks.mosaic_task, output_dir).submit(images, mosaic, wait_for=[convolved])
    return mosaic, mosaicked


@flow(name="continuum", task_runner=default_task_runner())
@one_run_per_output_dir
def continuum_flow(
    science_dir: Path,
    bandpass_dir: Path | None,
    output_dir: Path,
    strategy: Path | None = None,
    beams: list[int] | None = None,
    truth: Path | None = None,
) -> list[PrefectFuture]:
    """Continuum images, self-calibrated per beam, mosaicked and validated.

    ``science_dir`` holds one MS per beam in any layout flint knows (raw, CASDA, flint;
    see :mod:`flint.ms.layout`): each is preprocessed into a copy as its layout needs.
    ``bandpass_dir`` is the bandpass flow's output (``None`` for calibrated CASDA data).
    ``strategy`` is a strategy YAML (default: the packaged one); ``truth`` a reference
    catalogue or sky model to validate against (default: the simulation truth found
    under ``science_dir``, if any).
    """
    output_dir = Path(output_dir)
    plan, observation, solutions = check_inputs(science_dir, bandpass_dir, strategy, beams)
    logger.info("Science data: %s", observation.describe())
    output_dir.mkdir(parents=True, exist_ok=True)
    chains = []
    noise_beams = set()  # simulated data carry the noise alone, for the thermal limit
    for beam, state in observation.beams.items():
        chains.append(_start_beam(state, solutions[beam], output_dir, plan))
        with open_ms(state.path) as tab:
            if "NOISE_DATA" in tab.colnames():
                noise_beams.add(beam)
    futures: list[PrefectFuture] = []
    for round_number in range(plan.selfcal_rounds + 1):
        if round_number:
            chains = [_selfcal_round(chain, round_number, plan, output_dir) for chain in chains]
        mosaic, mosaicked = _mosaic_round(chains, round_number, output_dir, plan)
        futures.append(mosaicked)
    last = plan.selfcal_rounds
    futures += [_find(chain, last, plan, output_dir) for chain in chains]
    with labelled("find", round_number=last):
        found = bind(tasks.find_sources_task, output_dir).submit(
            mosaic,
            mosaic.parent / "catalogues",
            options_for_round(plan, "source_finding", last),
            wait_for=[mosaicked],
        )
    futures.append(found)
    checks = _validation(
        chains, noise_beams, mosaic, found, plan, Path(science_dir), truth, output_dir
    )
    products = [mosaic, source_find_paths(mosaic, mosaic.parent / "catalogues").catalogue_fits]
    products += [chain.image.image for chain in chains]
    with labelled("publish"):
        published = bind(publish_results, output_dir).submit(
            output_dir, checks, products, "Continuum products", wait_for=[found, *checks]
        )
    return [*futures, *checks, published]


def _validation(
    chains, noise_beams, mosaic, found, strategy, science_dir, truth, output_dir
) -> list[PrefectFuture]:
    """Validate the last mosaic against the truth; compare each beam with its thermal limit."""
    futures = []
    last = strategy.selfcal_rounds
    for chain in chains:
        options = _imaging(
            strategy,
            last,
            data_column="NOISE_DATA",
            fits_mask=None,
            niter=0,  # the noise alone, not cleaned: what the residual is judged against
            no_update_model_required=True,
            no_dirty=True,  # identical to the image without cleaning
        )
        if chain.beam not in noise_beams:
            continue
        noise = image_products(chain.directory / "images" / f"{chain.stem}.noise", options, ())
        with labelled("noise", chain.beam, last):
            imaged = bind(tasks.image_task, output_dir).submit(
                chain.ms, options, chain.directory / "images", noise.prefix.name,
                channel_kinds=(), wait_for=[chain.imaged],
            )  # fmt: skip
        with labelled("validate", chain.beam, last):
            futures.append(
                bind(tasks.thermal_task, output_dir).submit(
                    chain.image.residual, noise.image, wait_for=[imaged]
                )
            )
    truth = truth or find_simulation_truth(science_dir)
    if truth is None:
        logger.info("No truth to validate against (no simulation manifest, no --truth)")
        return futures
    sky = simulation_sky(truth) if Path(truth).is_dir() else Path(truth)
    paths = source_find_paths(mosaic, mosaic.parent / "catalogues")
    with labelled("validate", round_number=last):
        futures.append(
            bind(tasks.validate_task, output_dir).submit(
                paths.catalogue_fits,
                sky,
                mosaic,
                paths.rms,
                output_dir / "validation",
                psf_images=[chain.image.psf for chain in chains if chain.image.psf],
                wait_for=[found],
            )
        )
    return futures
