"""Run wsclean: image with retries on divergence, collect products atomically, predict models."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np
from astropy.io import fits

from flint.atomic import atomic_path, up_to_date
from flint.errors import InputError
from flint.external import run_tool
from flint.imaging.command import (
    CHANNEL_KINDS,
    build_predict_command,
    build_wsclean_command,
    expected_products,
)
from flint.imaging.divergence import CleanDivergenceError, detect_divergence, safer_options
from flint.imaging.options import WSCleanOptions
from flint.imaging.products import ImageProducts
from flint.ms import check_ms

logger = logging.getLogger(__name__)


def _absolute(options: WSCleanOptions) -> WSCleanOptions:
    """Make path options absolute: wsclean runs inside a scratch directory."""
    changes = {
        field: Path(os.path.abspath(getattr(options, field)))
        for field in ("fits_mask", "temp_dir")
        if getattr(options, field) is not None
    }
    return options.with_options(**changes) if changes else options


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
        os.replace(files[key], final[key])


def _read_record(path: Path) -> dict:
    """The options a finished run recorded beside its products (empty if none)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


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
) -> ImageProducts:
    """Image ``ms_paths`` with wsclean into ``output_dir/name-*``; return the products.

    wsclean writes into a scratch directory next to the products; they are renamed
    into place only once the run finished without diverging, so a product that
    exists is complete. With ``skip_existing`` a rerun with the same options whose
    products all exist does nothing (the options are recorded beside the products); other
    options image again. A diverging clean (see :func:`detect_divergence`) is retried up to
    ``max_retries`` times with :func:`safer_options`; if it still diverges,
    :class:`CleanDivergenceError` is raised. ``options.data_column`` must exist.
    Sub-band products of kinds not in ``channel_kinds`` (e.g. ``("image", "model")``)
    are discarded with the scratch directory: 12 sub-bands of every kind take ten times
    the disk of the MFS images.
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
    done = _read_record(record)
    if (
        skip_existing
        and done.get("requested") == requested
        and all(path.exists() for path in final.values())
        and up_to_date([record], ms_paths)  # written last, after wsclean's MODEL_DATA
    ):
        used = WSCleanOptions.model_validate(done["used"])
        logger.info("Skipping wsclean for %s: made with these options already", final_prefix)
        return ImageProducts.from_files(
            final_prefix,
            expected_products(final_prefix, used, channel_kinds),
            used,
            log=log_path,
        )

    current = _absolute(options)
    for attempt in range(1, max_retries + 2):
        scratch = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=output_dir))
        try:
            command = build_wsclean_command(ms_paths, current, scratch / name)
            scratch_log = scratch / "wsclean.log"
            run_tool(command.argv, log_path=scratch_log, timeout=timeout, cwd=scratch)
            with scratch_log.open(errors="replace") as lines:
                reason = detect_divergence(lines, growth=divergence_growth)
            reason = reason or _not_finite(command.products)
            if reason is None:
                final = expected_products(final_prefix, current, channel_kinds)
                _collect(expected_products(scratch / name, current, channel_kinds), final)
                os.replace(scratch_log, log_path)
                with atomic_path(record, overwrite=True) as temporary:
                    temporary.write_text(
                        json.dumps(
                            {"requested": requested, "used": current.model_dump(mode="json")}
                        )
                    )
                logger.info("wsclean products written to %s-*", final_prefix)
                return ImageProducts.from_files(
                    final_prefix, final, current, log=log_path, attempts=attempt
                )
            logger.warning("wsclean attempt %d for %s diverged: %s", attempt, name, reason)
            shutil.copyfile(scratch_log, output_dir / f"{name}-wsclean.diverged-{attempt}.log")
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
) -> None:
    """Fill MODEL_DATA of ``ms_paths`` from the model images ``model_prefix[-NNNN]-model.fits``.

    ``options`` must match the run that made the models (``channels_out``, ``pol``);
    use ``ImageProducts.prefix`` and ``ImageProducts.options``.
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
    argv = build_predict_command(ms_paths, prefix, _absolute(options))
    with tempfile.TemporaryDirectory(prefix=".predict-", dir=prefix.parent) as scratch:
        run_tool(argv, log_path=Path(scratch) / "predict.log", timeout=timeout, cwd=scratch)
