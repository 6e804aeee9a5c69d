"""Run wsclean: image with retries on divergence, collect products atomically, predict models."""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path

import numpy as np
from astropy.io import fits

from flint.atomic import atomic_path
from flint.cores import task_cores
from flint.errors import InputError
from flint.external import run_tool, scaled_timeout
from flint.identity import Recipe, amend, digest, identity, read_sidecar
from flint.imaging.command import (
    CHANNEL_KINDS,
    build_predict_command,
    build_wsclean_command,
    expected_products,
    with_resources,
)
from flint.imaging.divergence import CleanDivergenceError, detect_divergence, safer_options
from flint.imaging.options import WSCleanOptions
from flint.imaging.products import ImageProducts
from flint.ms import check_ms
from flint.scratch import make_scratch, move_into_place, tool_scratch

logger = logging.getLogger(__name__)

WSCLEAN_SECONDS_PER_GB = 3600.0
"""wsclean's default timeout per GB of measurement sets imaged (at least 30 minutes)."""
WSCLEAN_MIN_TIMEOUT_S = 1800.0
MODEL_COLUMN = "MODEL_DATA"


def _absolute(options: WSCleanOptions) -> WSCleanOptions:
    """Make path options absolute: wsclean runs inside a scratch directory."""
    changes = {
        field: Path(os.path.abspath(getattr(options, field)))
        for field in ("fits_mask", "temp_dir")
        if getattr(options, field) is not None
    }
    return options.with_options(**changes) if changes else options


def _in_scratch(options: WSCleanOptions, scratch: Path) -> WSCleanOptions:
    """``options`` with wsclean's reordering files in ``scratch`` when the tool scratch is set
    and ``temp_dir`` is not (else wsclean writes them beside the measurement set)."""
    if options.temp_dir is None and tool_scratch() is not None:
        return options.with_options(temp_dir=scratch)
    return options


def _not_finite(files: dict[str, Path]) -> str | None:
    """Name a residual or model image holding NaN or infinite pixels, if any."""
    for key, path in files.items():
        if key.endswith(("residual", "model")) and path.exists():
            with fits.open(path, memmap=False) as hdus:
                finite = bool(np.all(np.isfinite(hdus[0].data)))
            if not finite:
                return f"{path.name} holds non-finite pixels"
    return None


def _collect(files: dict[str, Path], final: dict[str, Path]) -> None:
    """Rename scratch products into place, the restored image(s) last."""
    missing = [path.name for path in files.values() if not path.exists()]
    if missing:
        raise InputError(f"wsclean did not write {', '.join(sorted(missing))}")
    for key in sorted(files, key=lambda key: key.endswith("image")):
        move_into_place(files[key], final[key])


def _read_record(path: Path) -> dict:
    """The options a finished run recorded beside its products (empty if none)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _amend_model_column(ms_paths: Sequence[Path], by: str, before: dict) -> None:
    """Record that wsclean (the recipe ``by``) wrote MODEL_DATA into each measurement set."""
    for ms in ms_paths:
        record, base = before[ms]
        amend(ms, MODEL_COLUMN, by, record, base)


def run_wsclean(
    ms_paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    options: WSCleanOptions,
    output_dir: str | os.PathLike[str],
    name: str,
    *,
    skip_existing: bool = True,
    max_retries: int = 2,
    divergence_growth: float = 10.0,
    timeout: float | None = None,
    channel_kinds: Collection[str] = CHANNEL_KINDS,
    depends_on: Mapping[str, object] | None = None,
    before_run: Callable[[], object] | None = None,
) -> ImageProducts:
    """Image ``ms_paths`` with wsclean into ``output_dir/name-*``; return the products.

    wsclean writes into a scratch directory next to the products, or in the node-local
    tool scratch (:mod:`flint.scratch`, with its reordering files); they are moved into
    place only once the run finished without diverging, so a product that exists is
    complete. With ``skip_existing`` a rerun whose products were made from the
    same data, mask, options and wsclean version does nothing (:class:`flint.identity.Recipe`;
    the MODEL_DATA wsclean itself writes into the data is left out of their identity);
    anything else images again. wsclean's whole output is kept in ``name-wsclean.log``
    beside the products (also when it fails); ``timeout`` defaults to one scaled by the
    data's size. A diverging clean (see :func:`detect_divergence`) is retried up to
    ``max_retries`` times with :func:`safer_options`; if it still diverges,
    :class:`CleanDivergenceError` is raised. ``options.data_column`` must exist.
    Sub-band products of kinds not in ``channel_kinds`` (e.g. ``("image", "model")``)
    are discarded with the scratch directory: 12 sub-bands of every kind take ten times
    the disk of the MFS images. ``depends_on`` names further inputs the data depend on (the
    gains a working copy holds applied, :mod:`flint.working`): they join the recipe.
    ``before_run`` is called once wsclean is to run (not when the products are reused).
    """
    if isinstance(ms_paths, str | os.PathLike):
        ms_paths = [ms_paths]
    ms_paths = [Path(os.path.abspath(check_ms(path))) for path in ms_paths]
    output_dir = Path(output_dir).absolute()
    output_dir.mkdir(parents=True, exist_ok=True)
    final_prefix = output_dir / name
    log_path = output_dir / f"{name}-wsclean.log"
    record = output_dir / f"{name}-flint-options.json"
    requested = options.model_dump(mode="json")
    final = expected_products(final_prefix, options, channel_kinds)
    recipe = Recipe.of(
        "wsclean",
        {"ms": ms_paths, "fits_mask": options.fits_mask, **(depends_on or {})},
        {
            "options": requested,
            "channel_kinds": sorted(channel_kinds),
            "max_retries": max_retries,
            "divergence_growth": divergence_growth,
        },
        tools=("wsclean",),
        ignore=(MODEL_COLUMN,),
    )
    if skip_existing and recipe.made(*final.values(), record):
        used = WSCleanOptions.model_validate(_read_record(record)["used"])
        logger.info("Skipping wsclean for %s: made with these options already", final_prefix)
        return ImageProducts.from_files(
            final_prefix,
            expected_products(final_prefix, used, channel_kinds),
            used,
            log=log_path,
        )

    tool_scratch()  # a FLINT_TOOL_SCRATCH that is no directory fails before anything is written
    if before_run is not None:
        before_run()
    current = _absolute(options)
    timeout = timeout or scaled_timeout(
        ms_paths, seconds_per_gb=WSCLEAN_SECONDS_PER_GB, minimum=WSCLEAN_MIN_TIMEOUT_S
    )
    # each MS's sidecar and identity before wsclean writes MODEL_DATA into it
    before = {ms: (read_sidecar(ms), identity(ms, ignore=(MODEL_COLUMN,))) for ms in ms_paths}
    for attempt in range(1, max_retries + 2):
        scratch = make_scratch(f".{name}.tmp-", output_dir)
        try:
            command = build_wsclean_command(
                ms_paths,
                with_resources(_in_scratch(current, scratch), task_cores()),
                scratch / name,
            )
            run_tool(command.argv, log_path=log_path, timeout=timeout, cwd=scratch)
            with log_path.open(errors="replace") as lines:
                reason = detect_divergence(lines, growth=divergence_growth)
            reason = reason or _not_finite(command.products)
            if reason is None:
                final = expected_products(final_prefix, current, channel_kinds)
                _collect(expected_products(scratch / name, current, channel_kinds), final)
                if not current.no_update_model_required:
                    _amend_model_column(ms_paths, recipe.key, before)
                with atomic_path(record, overwrite=True) as temporary:
                    temporary.write_text(
                        json.dumps(
                            {"requested": requested, "used": current.model_dump(mode="json")}
                        )
                    )
                recipe.record(*final.values(), record)
                logger.info("wsclean products written to %s-*", final_prefix)
                return ImageProducts.from_files(
                    final_prefix, final, current, log=log_path, attempts=attempt
                )
            logger.warning("wsclean attempt %d for %s diverged: %s", attempt, name, reason)
            shutil.copyfile(log_path, output_dir / f"{name}-wsclean.diverged-{attempt}.log")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        safer = safer_options(current, attempt)
        if safer is None or attempt > max_retries:
            break
        logger.warning(
            "Retrying with gain=%g mgain=%g multiscale=%s",
            safer.gain,
            safer.mgain,
            safer.multiscale,
        )
        current = safer
    raise CleanDivergenceError(
        f"clean diverged in all {attempt} attempt(s); last: {reason}", final_prefix
    )


def predict_model_column(
    ms_paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    model_prefix: str | os.PathLike[str],
    options: WSCleanOptions,
    *,
    timeout: float | None = None,
    amend_column: bool = True,
) -> None:
    """Fill MODEL_DATA of ``ms_paths`` from the model images ``model_prefix[-NNNN]-model.fits``.

    ``options`` must match the run that made the models (``channels_out``, ``pol``);
    use ``ImageProducts.prefix`` and ``ImageProducts.options``. The log is kept as
    ``<model_prefix>-predict.log``; each MS records the amendment of its MODEL_DATA unless
    ``amend_column`` is false (a working copy tracks the column itself, :mod:`flint.working`).
    """
    if isinstance(ms_paths, str | os.PathLike):
        ms_paths = [ms_paths]
    ms_paths = [Path(os.path.abspath(check_ms(path))) for path in ms_paths]
    prefix = Path(os.path.abspath(model_prefix))
    models = [
        path
        for key, path in expected_products(prefix, options.with_options(niter=1)).items()
        if key.endswith("model") and not key.startswith("MFS")
    ]
    missing = [path.name for path in models if not path.exists()]
    if missing:
        raise InputError(f"missing model image(s) {', '.join(missing)}", prefix.parent)
    before = {ms: (read_sidecar(ms), identity(ms, ignore=(MODEL_COLUMN,))) for ms in ms_paths}
    by = digest(["predict", [identity(model) for model in models], options])
    timeout = timeout or scaled_timeout(ms_paths, seconds_per_gb=WSCLEAN_SECONDS_PER_GB)
    scratch = make_scratch(".predict-", prefix.parent)
    try:
        used = with_resources(_in_scratch(_absolute(options), scratch), task_cores())
        log = prefix.with_name(prefix.name + "-predict.log")
        run_tool(
            build_predict_command(ms_paths, prefix, used),
            log_path=log,
            timeout=timeout,
            cwd=scratch,
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if amend_column:
        _amend_model_column(ms_paths, by, before)
