"""One self-calibration round on a working copy: image, solve gains, image the noise.

Every step says which gains it needs applied to DATA (:func:`flint.working.apply_gains`
brings the copy there, undoing others), so rounds can be redone in any order without a
copy per round. The model the gains are solved against is predicted from the previous
round's model images into a MODEL_DATA column that exists only while the gains are solved;
imaging never writes MODEL_DATA. The simulated noise for the thermal-limit image is rebuilt
from the raw data into NOISE_DATA for that image only.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Collection, Sequence
from pathlib import Path

from flint.atomic import copy_atomically
from flint.calibration.solutions import AOSolutions, write_solutions
from flint.identity import Recipe
from flint.imaging.command import CHANNEL_KINDS
from flint.imaging.options import WSCleanOptions
from flint.imaging.products import ImageProducts
from flint.imaging.run import MODEL_COLUMN, predict_model_column, run_wsclean
from flint.ms.columns import add_column
from flint.selfcal.components import predict_components, with_constant_phases
from flint.selfcal.gains import SelfcalGains, compute_selfcal_gains, describe_gains
from flint.strategy.stages import GainSolveOptions
from flint.working.copy import drop_columns, ensure_clean
from flint.working.gains import applied_solutions, apply_gains, fill_noise
from flint.working.record import TRANSIENT, HeldColumns, changing, require_held

logger = logging.getLogger(__name__)

NOISE_COLUMN = "NOISE_DATA"
COMPONENT_COLUMN = "COMPONENT_MODEL"
"""Transient column of the fitted components the constant phases are solved against."""


def image_round(
    ms: str | os.PathLike[str],
    options: WSCleanOptions,
    output_dir: str | os.PathLike[str],
    name: str,
    gains_path: str | os.PathLike[str] | None = None,
    channel_kinds: Collection[str] = CHANNEL_KINDS,
    held: Sequence[HeldColumns] = (),
) -> ImageProducts:
    """Image DATA of working copy ``ms`` corrected by ``gains_path`` (None: the bandpass
    alone), or the derived column ``options.data_column`` that ``held`` names (peeling's
    ``PEELED_DATA``), with wsclean (:func:`flint.imaging.run_wsclean`, which reuses products
    made from the same data, gains, columns and options). wsclean leaves MODEL_DATA alone."""
    ms = Path(ms)
    ensure_clean(ms)
    options = options.with_options(no_update_model_required=True)
    columns = {column: key for item in held for column, key in item.columns.items()}

    def prepare() -> None:
        apply_gains(ms, gains_path)
        require_held(ms, held)

    return run_wsclean(
        ms,
        options,
        output_dir,
        name,
        channel_kinds=channel_kinds,
        depends_on={"gains": gains_path, **({"held": columns} if columns else {})},
        before_run=prepare,
    )


def model_images(model: ImageProducts) -> list[Path]:
    """The images wsclean predicts from: the sub-band models (the only one without sub-bands)."""
    return [
        path
        for key, path in sorted(model.files.items())
        if key.endswith("model") and not key.startswith("MFS")
    ]


def predict_into(ms: Path, model: ImageProducts) -> None:
    """Predict ``model``'s model images into MODEL_DATA of working copy ``ms`` (a column of
    its own storage, added if missing; the caller marks the copy as changing)."""
    add_column(ms, MODEL_COLUMN, like="DATA", fill=None, exist_ok=True)
    predict_model_column(ms, model.prefix, model.options, amend_column=False)


def solve_round(
    ms: str | os.PathLike[str],
    model: ImageProducts,
    solutions_path: str | os.PathLike[str],
    options: GainSolveOptions | None = None,
    keep_model: bool = False,
    model_columns: Sequence[str] = (MODEL_COLUMN,),
    held: Sequence[HeldColumns] = (),
    catalogue: str | os.PathLike[str] | None = None,
) -> SelfcalGains:
    """Solve gains of working copy ``ms`` against the model images of ``model`` (the
    previous round's products) into ``solutions_path``.

    The model is predicted into MODEL_DATA (wsclean ``-predict``), which is dropped once the
    gains are solved unless ``keep_model``. ``model_columns`` are summed into the model:
    other columns (peeling's ``FIELD_MODEL`` instead of MODEL_DATA, its ``OUTLIER_DATA``
    besides, :mod:`flint.working.peeling`) must be in the copy already, as ``held`` says. Whatever gains
    DATA holds are undone on the fly: the gains correct the bandpass-calibrated data. Gains
    solved from the same data (its columns included), model images and options are reused.

    With ``options.constant_from_components``, ``catalogue`` (the previous image's fitted
    components) then gives one phase per antenna for the whole observation, solved on the
    data the first gains correct against the components and the other ``model_columns``
    (the sky outside the image), and multiplied in (:mod:`flint.selfcal.components`).
    """
    ms, solutions_path = Path(ms), Path(solutions_path)
    options = options or GainSolveOptions()
    model_columns = list(model_columns)
    ensure_clean(ms)
    models = model_images(model)
    if options.constant_from_components and catalogue is None:
        raise ValueError("constant_from_components needs the previous image's catalogue")
    catalogue = Path(catalogue) if options.constant_from_components else None
    recipe = Recipe.of(
        "selfcal",
        {"ms": ms, "model": models, **({"catalogue": catalogue} if catalogue else {})},
        {
            "options": options,
            "model_columns": model_columns,
            "held": {column: key for item in held for column, key in item.columns.items()},
        },
    )
    if recipe.made(solutions_path):
        logger.info("Self-calibration gains %s are up to date; skipping", solutions_path)
        return SelfcalGains(solutions_path, 0, float("nan"), float("nan"), skipped=True)
    record = ensure_clean(ms)
    require_held(ms, held)
    applied = applied_solutions(ms, record)
    with changing(ms, TRANSIENT, MODEL_COLUMN):
        if MODEL_COLUMN in model_columns:
            predict_into(ms, model)
        solutions = compute_selfcal_gains(ms, options, "DATA", model_columns, applied)
    if not keep_model:
        drop_columns(ms, (MODEL_COLUMN,))
    if catalogue is not None:
        solutions = _constant_from_components(
            ms, catalogue, solutions, options, model_columns, applied
        )
    write_solutions(solutions, solutions_path, overwrite=True)
    recipe.record(solutions_path)
    return describe_gains(ms, solutions, solutions_path)


def _constant_from_components(
    ms: Path,
    catalogue: Path,
    solutions: AOSolutions,
    options: GainSolveOptions,
    model_columns: list[str],
    applied: AOSolutions | None,
) -> AOSolutions:
    """``solutions`` times one phase per antenna solved against ``catalogue``'s components
    (in place of the image's model, the first of ``model_columns``; the others are kept)."""
    with changing(ms, TRANSIENT, COMPONENT_COLUMN):
        if not predict_components(ms, catalogue, COMPONENT_COLUMN):
            logger.warning("No components in %s: the constant phases stay as solved", catalogue)
            constant = None
        else:
            columns = [COMPONENT_COLUMN, *model_columns[1:]]
            once = options.with_options(solint_s=None, mode="phase")
            constant = compute_selfcal_gains(ms, once, "DATA", columns, applied, solutions)
    drop_columns(ms, (COMPONENT_COLUMN,))
    if constant is None:
        return solutions
    return with_constant_phases(solutions, constant, options.refant)


def noise_options(options: WSCleanOptions) -> WSCleanOptions:
    """``options`` as :func:`noise_image` runs them: on NOISE_DATA, with a dirty image (the
    thermal limit) beside the residual (what the clean leaves of the noise alone)."""
    return options.with_options(
        data_column=NOISE_COLUMN, no_update_model_required=True, no_dirty=False
    )


def noise_image(
    ms: str | os.PathLike[str],
    options: WSCleanOptions,
    output_dir: str | os.PathLike[str],
    name: str,
    gains_path: str | os.PathLike[str] | None = None,
    keep_noise: bool = False,
) -> ImageProducts:
    """Image the simulated noise alone, calibrated as DATA is under ``gains_path`` (the
    thermal limit the residual is judged against): the raw data's NOISE_DATA, taken
    through the copy's preprocessing, bandpass and gains into a NOISE_DATA column that is
    dropped afterwards unless ``keep_noise``. ``options`` should be the last round's own,
    cleaning included: clean takes some of the noise into any model, so the residual is
    judged against the noise's residual made the same way."""
    ms = Path(ms)
    ensure_clean(ms)
    options = noise_options(options)

    def prepare() -> None:
        apply_gains(ms, gains_path)
        fill_noise(ms, NOISE_COLUMN)

    products = run_wsclean(
        ms,
        options,
        output_dir,
        name,
        channel_kinds=(),
        depends_on={"gains": gains_path},
        before_run=prepare,
    )
    if not keep_noise:
        drop_columns(ms, (NOISE_COLUMN,))
    return products


def keep_round_copy(
    ms: str | os.PathLike[str],
    gains_path: str | os.PathLike[str] | None,
    destination: str | os.PathLike[str],
) -> Path:
    """Copy working copy ``ms`` as a round imaged it (DATA corrected by ``gains_path``) to
    ``destination``: an intermediate kept on request (``keep_intermediates``)."""
    ms, destination = Path(ms), Path(destination)
    ensure_clean(ms)
    recipe = Recipe.of("round copy", {"ms": ms, "gains": gains_path})
    if recipe.made(destination):
        return destination
    apply_gains(ms, gains_path)
    copy_atomically(ms, destination, overwrite=True)
    recipe.record(destination)
    logger.info("Kept %s as %s", ms, destination)
    return destination
