"""The continuum flow: calibrate, flag, image and self-calibrate every beam, then mosaic.

Per beam (beams run in parallel; nothing waits for other beams), on one working copy
changed in place (:mod:`flint.working`; the raw data are only read)::

    raw MS --preprocess (as its layout needs)--> beamNN/SB<sbid>.<field>.beamNN.ms
           --apply bandpass (in place)--> --flag (in place)-->
    (calibrated CASDA data: no bandpass)
    round 0: image DATA
    round r: mask (image r-1) -> solve gains against the model of image r-1 (predicted
             into MODEL_DATA for the solve only) -> apply them to DATA in place (undoing
             round r-1's) -> [peel] -> image (with the mask, unless the round's masking
             says use_fits_mask: false) -> [refine]
    last round: image the simulated noise alone, cleaned as the data are (before the last
                image), find sources

At most two copies of a beam's visibilities are on disk at any moment: the raw data and
the working copy. ``keep_intermediates`` also keeps a copy of the working copy as each
round imaged it (``.roundN.ms``) and its MODEL_DATA and NOISE_DATA columns; what a run
keeps is listed in ``<output_dir>/summary.json``.

Peeling (the round's ``peel`` stage, see :mod:`flint.peel`): with ``subtract_outside``
the first such round finds bright sources outside the image in a wide image, and every
such round subtracts them (each cleaned in its own small image) and images
``PEELED_DATA``; with ``refine_bright`` a round remodels its brightest sources at full
resolution into ``FIELD_MODEL``. The next self-calibration solves against the round's
model (``FIELD_MODEL`` or MODEL_DATA) plus the subtracted sources (``OUTLIER_DATA``).
These columns live in the working copy, which records whose output each holds
(:mod:`flint.working.peeling`); with peeling on it holds up to three more data columns
between steps (five while a peeling step runs).

Joins (per round, waiting for every beam): convolve to a common resolution, mosaic,
find sources on the mosaic; after the last round, validate against the truth (a
simulation's manifest found beside the data, or a catalogue given by the user) and
compare each beam with the image of its simulated noise (the thermal limit) when the raw
data carry NOISE_DATA. Products go under ``output_dir``: ``beamNN/`` per beam and
``mosaic/roundN/``.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, replace
from pathlib import Path

from prefect import flow
from prefect.futures import PrefectFuture

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
from flint.working.rounds import noise_options

logger = logging.getLogger(__name__)


@dataclass
class BeamChain:
    """The futures of one beam's products in the current round."""

    beam: int
    stem: str
    directory: Path
    ms: Path
    """The beam's working copy."""
    image: ImageProducts
    imaged: PrefectFuture
    modelled: PrefectFuture
    """The model the next self-calibration solves against is complete (image, refinement)."""
    gains: Path | None = None
    """The gains the round's image was made with (None: the bandpass alone)."""
    ready: PrefectFuture | None = None
    """The last task that changed the working copy (its gains applied, a column written)."""
    outliers: PrefectFuture | None = None
    """The bright sources outside the image (found once, by the first peeling round)."""
    peeled: bool = False
    """This round imaged data with those sources subtracted (its model lacks them)."""
    peel: PrefectFuture | None = None
    """The round's subtraction (the working copy's columns it wrote), when it peeled."""
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
    """The round's wsclean options; the working copy's DATA always holds the round's data."""
    return options_for_round(strategy, "imaging", round_number).with_options(
        data_column="DATA", no_update_model_required=True, **changes
    )


def _start_beam(
    state: MSLayoutState,
    solutions: Path | None,
    output_dir: Path,
    strategy: Strategy,
    keep_intermediates: bool = False,
) -> BeamChain:
    beam, stem = state.beam, state.stem
    directory = output_dir / f"beam{beam:02d}"
    directory.mkdir(parents=True, exist_ok=True)
    ms = directory / f"{stem}.ms"
    with labelled("preprocess", beam):
        after = bind(tasks.working_copy_task, output_dir).submit(state.path, ms)
    if solutions is not None:
        with labelled("apply", beam):
            after = bind(tasks.calibrate_task, output_dir).submit(ms, solutions, wait_for=[after])
    with labelled("flag", beam):
        flagged = bind(tasks.flag_working_task, output_dir).submit(
            ms, log_path=directory / "logs" / "aoflagger.log", wait_for=[after]
        )
    options = _imaging(strategy, 0)
    return _image(
        beam, stem, directory, ms, options, 0, strategy, output_dir, None, [flagged],
        keep_intermediates=keep_intermediates,
    )  # fmt: skip


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
    beam, stem, directory, ms, options, round_number, strategy, output_dir, gains, after,
    previous=None, keep_intermediates=False,
):  # fmt: skip
    """Image one round of the working copy (peeling first or after it, as the round's
    ``peel`` stage says; the peel columns live in the working copy, :mod:`flint.working`)."""
    peel = options_for_round(strategy, "peel", round_number)
    peel_dir = directory / "peel"
    outliers = previous.outliers if previous is not None else None
    if peel.subtract_outside:
        if outliers is None and peel.outside_model == "wide":
            outliers = []  # the wide model needs no sources found first
        elif outliers is None:
            with labelled("outliers", beam, round_number):
                outliers = bind(tasks.find_outliers_task, output_dir).submit(
                    ms, options, peel, peel_dir / f"{stem}.outliers.json", gains,
                    wait_for=after,
                )  # fmt: skip
        # the previous round's model, if it imaged peeled data (else its edge holds parts
        # of the sources being peeled), or always for the wide model (it blanks the image's
        # own area, so only what the field model leaves outside is cleaned)
        peeled_before = previous is not None and (previous.peeled or peel.outside_model == "wide")
        with labelled("peel", beam, round_number):
            peeled = bind(tasks.peel_task, output_dir).submit(
                ms, outliers, options, peel, peel_dir / f"round{round_number}" / "outside",
                gains, previous.imaged if peeled_before else None,
                previous.model_column if peeled_before else None,
                keep_columns=keep_intermediates, wait_for=after,
            )  # fmt: skip
        after = [peeled]
        options = options.with_options(data_column=PEELED_COLUMN)
    name = f"{stem}.round{round_number}"
    image = image_products(directory / "images" / name, options, SUB_BAND_KINDS)
    with labelled("image", beam, round_number):
        imaged = bind(tasks.image_round_task, output_dir).submit(
            ms, options, directory / "images", name, gains, channel_kinds=SUB_BAND_KINDS,
            held=[peeled] if peel.subtract_outside else [], wait_for=after,
        )  # fmt: skip
    chain = BeamChain(
        beam, stem, directory, ms, image, imaged, modelled=imaged, gains=gains, ready=imaged,
        outliers=outliers, peeled=peel.subtract_outside,
        peel=peeled if peel.subtract_outside else None,
    )  # fmt: skip
    if peel.refine_bright and round_number < strategy.selfcal_rounds:
        with labelled("refine", beam, round_number):
            chain.modelled = chain.ready = bind(tasks.refine_task, output_dir).submit(
                ms, imaged, peel, peel_dir / f"round{round_number}" / "bright", gains,
                keep_columns=keep_intermediates, wait_for=[imaged],
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


def _selfcal_round(
    chain: BeamChain,
    round_number: int,
    strategy: Strategy,
    output_dir: Path,
    noise: bool = False,
    keep_intermediates: bool = False,
) -> tuple[BeamChain, PrefectFuture | None]:
    """One self-calibration round of a beam; with ``noise`` (the last round of simulated
    data) also the image of the noise alone, made before the round's image (the disk peak
    stays lower); returns it too."""
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
    solve = options_for_round(strategy, "gain_solve", round_number)
    catalogue, found = None, []
    if solve.constant_from_components:  # the previous image's components
        found = [_find(chain, round_number - 1, strategy, output_dir)]
        catalogue = source_find_paths(chain.image.image, directory / "catalogues").catalogue_fits
    with labelled("selfcal", beam, round_number):
        solved = bind(tasks.solve_round_task, output_dir).submit(
            chain.ms,
            chain.imaged,  # the previous round's products: its models are predicted
            gains,
            solve,
            keep_model=keep_intermediates,
            model_columns=[chain.model_column, OUTLIER_COLUMN]
            if chain.peeled
            else [chain.model_column],
            held=_held_models(chain),
            catalogue=catalogue,
            wait_for=[chain.modelled, chain.ready, *found],
        )
    with labelled("apply", beam, round_number):
        applied = bind(tasks.apply_gains_task, output_dir).submit(
            chain.ms, gains, wait_for=[solved]
        )
    after.append(applied)
    options = _imaging(strategy, round_number, fits_mask=mask)
    noise_image = None
    if noise:  # the noise alone, imaged and cleaned as the round's data: its dirty image is
        # the thermal limit, its residual what clean leaves of the noise alone
        with labelled("noise", beam, round_number):
            noise_image = bind(tasks.noise_image_task, output_dir).submit(
                chain.ms, options, directory / "images", f"{stem}.noise", gains,
                keep_noise=keep_intermediates, wait_for=list(after),
            )  # fmt: skip
        after.append(noise_image)
    next_chain = _image(
        beam, stem, directory, chain.ms, options, round_number, strategy, output_dir, gains,
        after, chain, keep_intermediates,
    )  # fmt: skip
    return next_chain, noise_image


def _held_models(chain: BeamChain) -> list[PrefectFuture]:
    """The steps whose columns the next solve sums into its model (refinement, subtraction)."""
    held = [chain.modelled] if chain.model_column == FIELD_COLUMN else []
    return held + ([chain.peel] if chain.peel is not None else [])


def _keep_round(chain: BeamChain, round_number: int, output_dir: Path) -> BeamChain:
    """A copy of the working copy as round ``round_number`` imaged it (an intermediate);
    the next change of the working copy waits for it."""
    destination = chain.directory / f"{chain.stem}.round{round_number}.ms"
    with labelled("keep", chain.beam, round_number):
        kept = bind(tasks.keep_round_task, output_dir).submit(
            chain.ms, chain.gains, destination, wait_for=[chain.ready]
        )
    return replace(chain, ready=kept)


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
    keep_intermediates: bool = False,
) -> list[PrefectFuture]:
    """Continuum images, self-calibrated per beam, mosaicked and validated.

    ``science_dir`` holds one MS per beam in any layout flint knows (raw, CASDA, flint;
    see :mod:`flint.ms.layout`): each is preprocessed into one working copy as its layout
    needs, which every later step changes in place. ``bandpass_dir`` is the bandpass flow's
    output (``None`` for calibrated CASDA data). ``strategy`` is a strategy YAML (default:
    the packaged one); ``truth`` a reference catalogue or sky model to validate against
    (default: the simulation truth found under ``science_dir``, if any).
    ``keep_intermediates`` keeps a copy of each round's data and the transient columns
    (disk: one more beam copy per round). The last task lists what is kept
    (``summary.json``).
    """
    output_dir = Path(output_dir)
    plan, observation, solutions = check_inputs(science_dir, bandpass_dir, strategy, beams)
    logger.info("Science data: %s", observation.describe())
    output_dir.mkdir(parents=True, exist_ok=True)
    chains = []
    noise_beams = set()  # simulated data carry the noise alone, for the thermal limit
    for beam, state in observation.beams.items():
        chains.append(_start_beam(state, solutions[beam], output_dir, plan, keep_intermediates))
        with open_ms(state.path) as tab:
            if "NOISE_DATA" in tab.colnames():
                noise_beams.add(beam)
    futures: list[PrefectFuture] = []
    last = plan.selfcal_rounds
    noise_images: dict[int, PrefectFuture] = {}
    for round_number in range(last + 1):
        if keep_intermediates and round_number:
            chains = [_keep_round(chain, round_number - 1, output_dir) for chain in chains]
            futures += [chain.ready for chain in chains]
        if round_number:
            stepped = []
            for chain in chains:
                noise = round_number == last and chain.beam in noise_beams
                chain, noise_image = _selfcal_round(
                    chain, round_number, plan, output_dir, noise, keep_intermediates
                )
                stepped.append(chain)
                if noise_image is not None:
                    noise_images[chain.beam] = noise_image
            chains = stepped
        mosaic, mosaicked = _mosaic_round(chains, round_number, output_dir, plan)
        futures.append(mosaicked)
    if keep_intermediates:
        chains = [_keep_round(chain, last, output_dir) for chain in chains]
        futures += [chain.ready for chain in chains]
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
        chains, noise_beams, noise_images, mosaic, found, plan, Path(science_dir), truth,
        output_dir, keep_intermediates,
    )  # fmt: skip
    products = [mosaic, source_find_paths(mosaic, mosaic.parent / "catalogues").catalogue_fits]
    products += [chain.image.image for chain in chains]
    with labelled("publish"):
        published = bind(publish_results, output_dir).submit(
            output_dir, checks, products, "Continuum products", wait_for=[found, *checks]
        )
    futures += [*checks, published]
    with labelled("summary"):
        futures.append(
            bind(tasks.summary_task, output_dir).submit(
                output_dir,
                [state.path for state in observation.beams.values()],
                keep_intermediates,
                wait_for=list(futures),
            )
        )
    return futures


def _validation(
    chains, noise_beams, noise_images, mosaic, found, strategy, science_dir, truth, output_dir,
    keep_intermediates,
) -> list[PrefectFuture]:  # fmt: skip
    """Validate the last mosaic against the truth; compare each beam with its thermal limit."""
    futures = []
    last = strategy.selfcal_rounds
    for chain in chains:
        if chain.beam not in noise_beams:
            continue
        noise = noise_images.get(chain.beam)
        if noise is None:  # no self-calibration round: the noise of the bandpass-calibrated data
            with labelled("noise", chain.beam, last):
                noise = bind(tasks.noise_image_task, output_dir).submit(
                    chain.ms, chain.image.options, chain.directory / "images",
                    f"{chain.stem}.noise",
                    chain.gains, keep_noise=keep_intermediates, wait_for=[chain.ready],
                )  # fmt: skip
        with labelled("validate", chain.beam, last):
            futures.append(
                bind(tasks.thermal_task, output_dir).submit(
                    chain.image.residual,
                    noise_image_path(chain),
                    noise_residual=noise_residual_path(chain),
                    wait_for=[chain.imaged, noise],
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


def _noise_products(chain: BeamChain) -> ImageProducts:
    """The products of a beam's noise alone, imaged and cleaned as its last image."""
    prefix = chain.directory / "images" / f"{chain.stem}.noise"
    return image_products(prefix, noise_options(chain.image.options), ())


def noise_image_path(chain: BeamChain) -> Path:
    """The dirty image of a beam's noise alone (what its thermal limit is read from)."""
    return _noise_products(chain).dirty


def noise_residual_path(chain: BeamChain) -> Path:
    """What clean leaves of a beam's noise alone, cleaned as its last image (the floor)."""
    return _noise_products(chain).residual
