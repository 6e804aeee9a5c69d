"""Peeling (:mod:`flint.peel`) on a beam's working copy.

Peeling's columns live in the working copy beside DATA: ``PEELED_DATA`` (the data less
the sources outside the image, what a peeling round images), ``OUTLIER_DATA`` (their
model) and ``FIELD_MODEL`` (a round's model refined at full resolution), each written by
one step and read by the next ones (the round's image, refinement, the next
self-calibration). Peeling's scratch columns (``PEEL_RESIDUAL``, and MODEL_DATA, which
each source's image writes) are dropped once a step is done unless kept.

One column serves every round, so the copy records the recipe whose output each column
holds (``held``, :mod:`flint.working.record`) instead of amending its identity; the steps
reading a column name the key they need (:class:`HeldColumns`: the round's image, the next
solve), and only they are redone when it changes. A step whose output is held does nothing;
any other runs again (its scratch directory's records forgotten, so peeling does not take
its own old markers for done). A step's recipe names the gains DATA must hold (it applies
them first) and, for the field model, the previous round's model images (predicted into
MODEL_DATA) or the held ``FIELD_MODEL``. A step is marked pending while it writes, so a
run killed during it leaves the copy to be repaired by dropping what it was writing
(:func:`flint.working.ensure_clean`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from flint.atomic import copy_atomically
from flint.errors import MeasurementSetError
from flint.identity import SIDECAR_SUFFIX, Recipe
from flint.imaging.options import WSCleanOptions
from flint.imaging.products import ImageProducts
from flint.imaging.run import MODEL_COLUMN
from flint.peel import (
    FIELD_COLUMN,
    OUTLIER_COLUMN,
    PEELED_COLUMN,
    Outlier,
    PeelOptions,
    bright_sources,
    find_outliers,
    read_outliers,
    refine_bright,
    subtract_outliers,
)
from flint.peel.stamps import RESIDUAL_COLUMN
from flint.working.copy import drop_columns, ensure_clean
from flint.working.gains import apply_gains
from flint.working.record import HELD, HeldColumns, writing_columns
from flint.working.rounds import model_images, predict_into

logger = logging.getLogger(__name__)

PEEL_COLUMNS = (MODEL_COLUMN, PEELED_COLUMN, OUTLIER_COLUMN, FIELD_COLUMN, RESIDUAL_COLUMN)
"""Every column peeling writes (left out of the copy's identity in its steps' recipes)."""
SCRATCH_COLUMNS = (RESIDUAL_COLUMN, MODEL_COLUMN)
"""Columns a peeling step needs only while it runs."""


def _forget_scratch(work_dir: Path) -> None:
    """Forget the records of products in ``work_dir`` (peeling's markers, source images):
    what they say was done is no longer what the copy holds."""
    for sidecar in work_dir.glob(f"*{SIDECAR_SUFFIX}"):
        sidecar.unlink()


def find_outliers_in_place(
    ms: str | os.PathLike[str],
    image: WSCleanOptions,
    options: PeelOptions,
    output: str | os.PathLike[str],
    gains_path: str | os.PathLike[str] | None = None,
) -> list[Outlier]:
    """:func:`flint.peel.find_outliers` on DATA of working copy ``ms`` corrected by
    ``gains_path`` (None: the bandpass alone); the same data and options read ``output``
    back."""
    ms, output = Path(ms), Path(output)
    ensure_clean(ms)
    recipe = Recipe.of(
        "outliers in place",
        {"ms": ms, "gains": gains_path},
        {"image": image, "options": options},
        tools=("wsclean",),
        ignore=PEEL_COLUMNS,
    )
    if recipe.made(output):
        return read_outliers(output)
    apply_gains(ms, gains_path)
    scratch = output.with_name(output.name.removesuffix(".json") + ".find")
    scratch.mkdir(parents=True, exist_ok=True)
    _forget_scratch(scratch)
    found = scratch / output.name
    outliers = find_outliers(ms, image, options, "DATA", found)
    copy_atomically(found, output, overwrite=True)
    recipe.record(output)
    return outliers


def _require_held(record: dict, column: str, ms: Path) -> str:
    key = record.get(HELD, {}).get(column)
    if key is None:
        raise MeasurementSetError(f"no {column} from an earlier step in the working copy", ms)
    return key


def subtract_in_place(
    ms: str | os.PathLike[str],
    outliers: list[Outlier],
    image: WSCleanOptions,
    options: PeelOptions,
    work_dir: str | os.PathLike[str],
    gains_path: str | os.PathLike[str] | None = None,
    field_model: ImageProducts | None = None,
    field_model_column: str | None = None,
    keep_columns: bool = False,
) -> HeldColumns:
    """:func:`flint.peel.subtract_outliers` on DATA of working copy ``ms`` corrected by
    ``gains_path``: ``PEELED_DATA`` and ``OUTLIER_DATA`` (module doc).

    ``field_model_column``: the previous round's model of the field, MODEL_DATA (predicted
    from ``field_model``'s model images), ``FIELD_MODEL`` (held by the copy, refined) or
    None (the sources' images see the field).
    """
    ms, work_dir = Path(ms), Path(work_dir)
    # a cached result of find_outliers_in_place comes back as plain JSON (a list of dicts)
    outliers = [item if isinstance(item, Outlier) else Outlier(**item) for item in outliers]
    record = ensure_clean(ms)
    inputs: dict = {"ms": ms, "gains": gains_path}
    if field_model_column == MODEL_COLUMN:
        if field_model is None:
            raise ValueError("a MODEL_DATA field model needs the images to predict it from")
        inputs["field_model"] = model_images(field_model)
    held_model = None
    if field_model_column == FIELD_COLUMN:
        held_model = _require_held(record, FIELD_COLUMN, ms)
    recipe = Recipe.of(
        "peel in place",
        inputs,
        {
            "outliers": [vars(item) for item in outliers],
            "image": image,
            "options": options,
            "field_model_column": field_model_column,
            "field_model_held": held_model,
        },
        tools=("wsclean",),
        ignore=PEEL_COLUMNS,
    )
    written = {PEELED_COLUMN: recipe.key, OUTLIER_COLUMN: recipe.key}
    if all(record.get(HELD, {}).get(column) == key for column, key in written.items()):
        logger.info("%s holds these outside sources subtracted already; skipping", ms.name)
        return HeldColumns(ms, written, len(outliers), skipped=True)
    apply_gains(ms, gains_path)
    work_dir.mkdir(parents=True, exist_ok=True)
    _forget_scratch(work_dir)
    writes = (PEELED_COLUMN, OUTLIER_COLUMN, *SCRATCH_COLUMNS)
    with writing_columns(ms, "peel", writes) as held:
        if field_model_column == MODEL_COLUMN:
            predict_into(ms, field_model)
        result = subtract_outliers(
            ms, outliers, image, options, "DATA", work_dir, field_model_column
        )
        held.update(written)
    if not keep_columns:
        drop_columns(ms, SCRATCH_COLUMNS)
    return HeldColumns(ms, written, result.n_sources)


def refine_in_place(
    ms: str | os.PathLike[str],
    image: ImageProducts,
    options: PeelOptions,
    work_dir: str | os.PathLike[str],
    gains_path: str | os.PathLike[str] | None = None,
    keep_columns: bool = False,
) -> HeldColumns:
    """:func:`flint.peel.refine_bright` of the round imaged as ``image`` (DATA corrected by
    ``gains_path``, or the held ``PEELED_DATA``): ``FIELD_MODEL`` (module doc). The
    round's model is predicted into MODEL_DATA from ``image``'s model images first (a
    working copy's image does not write it)."""
    ms, work_dir = Path(ms), Path(work_dir)
    record = ensure_clean(ms)
    data_column = image.options.data_column
    data_held = None if data_column == "DATA" else _require_held(record, data_column, ms)
    recipe = Recipe.of(
        "refine in place",
        {"ms": ms, "gains": gains_path, "restored": image.image, "model": model_images(image)},
        {"image": image.options, "options": options, "data_held": data_held},
        tools=("wsclean",),
        ignore=PEEL_COLUMNS,
    )
    written = {FIELD_COLUMN: recipe.key}
    if record.get(HELD, {}).get(FIELD_COLUMN) == recipe.key:
        logger.info("%s holds these bright sources refined already; skipping", ms.name)
        sources = bright_sources(image.image, options)
        return HeldColumns(ms, written, len(sources), skipped=True)
    apply_gains(ms, gains_path)
    work_dir.mkdir(parents=True, exist_ok=True)
    _forget_scratch(work_dir)
    with writing_columns(ms, "refine", (FIELD_COLUMN, *SCRATCH_COLUMNS)) as held:
        predict_into(ms, image)
        result = refine_bright(ms, image.image, image.options, options, work_dir)
        held.update(written)
    if not keep_columns:
        drop_columns(ms, SCRATCH_COLUMNS)
    return HeldColumns(ms, written, result.n_sources)
