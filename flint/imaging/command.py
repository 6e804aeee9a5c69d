"""Build wsclean command lines and name their products (pure functions, no I/O)."""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from flint import cores
from flint.errors import InputError
from flint.imaging.options import WSCleanOptions, polarisations

# fields emitted as "-flag value" (field name with '_' -> '-')
_VALUED = (
    "taper_gaussian",
    "minuv_l",
    "maxuv_l",
    "padding",
    "data_column",
    "channels_out",
    "fit_spectral_pol",
    "deconvolution_channels",
    "niter",
    "nmiter",
    "threshold",
    "auto_threshold",
    "auto_mask",
    "local_rms_window",
    "fits_mask",
    "gain",
    "mgain",
    "multiscale_scale_bias",
    "multiscale_gain",
    "multiscale_max_scales",
    "clean_border",
    "parallel_gridding",
    "wgridder_accuracy",
    "parallel_deconvolution",
    "abs_mem",
    "temp_dir",
)
# fields emitted as a bare "-flag" when true
_SWITCHES = (
    "join_channels",
    "local_rms",
    "multiscale",
    "no_negative",
    "use_wgridder",
    "no_update_model_required",
    "save_source_list",
    "make_psf",
    "no_dirty",
    "no_mf_weighting",
)
_MULTISCALE_ONLY = {"multiscale_scale_bias", "multiscale_gain", "multiscale_max_scales"}


@dataclass(frozen=True)
class WSCleanCommand:
    """A wsclean invocation: its argv, its ``-name`` prefix and the files it will write."""

    argv: list[str]
    prefix: Path
    products: dict[str, Path]
    """Expected products keyed by the part of the file name after ``prefix-`` (e.g. ``MFS-image``)."""


def with_resources(options: WSCleanOptions, task_cores: int) -> WSCleanOptions:
    """``options`` with what the run's resources decide filled in where left unset: ``-j``
    the task's cores, ``-parallel-gridding`` one sub-band per core, and
    ``-parallel-deconvolution`` sized to the image (:mod:`flint.cores`). None of these is
    part of a product's recipe; only the last changes results, and it follows the image size."""
    changes: dict[str, object] = {}
    if options.threads is None:
        changes["threads"] = task_cores
    if options.parallel_gridding is None:
        changes["parallel_gridding"] = cores.parallel_gridding(
            options.threads or task_cores, options.channels_out
        )
    if options.parallel_deconvolution is None:
        changes["parallel_deconvolution"] = cores.parallel_deconvolution(options.size)
    changes = {key: value for key, value in changes.items() if value is not None}
    return options.with_options(**changes) if changes else options


def _format(value: object) -> str:
    if isinstance(value, float):
        return repr(value)
    return os.fspath(value) if isinstance(value, os.PathLike) else str(value)


def _flag(field: str) -> str:
    return "-" + field.replace("_", "-")


def wsclean_option_args(options: WSCleanOptions) -> list[str]:
    """The option part of a wsclean command line (no ``-name``, no measurement sets)."""
    argv = ["-size", str(options.size), str(options.size), "-scale", options.scale]
    argv += ["-weight", options.weight]
    if options.weight == "briggs":
        argv.append(_format(options.robust))
    argv += ["-pol", options.pol]
    if options.shift is not None:
        argv += ["-shift", *options.shift]
    if options.threads is not None:
        argv += ["-j", str(options.threads)]
    for field in _VALUED:
        value = getattr(options, field)
        if value is None or (field in _MULTISCALE_ONLY and not options.multiscale):
            continue
        argv += [_flag(field), _format(value)]
    for field in _SWITCHES:
        if getattr(options, field):
            argv.append(_flag(field))
    if options.reorder is not None:
        argv.append("-reorder" if options.reorder else "-no-reorder")
    if options.multiscale and options.multiscale_scales:
        argv += ["-multiscale-scales", ",".join(str(scale) for scale in options.multiscale_scales)]
    return argv


CHANNEL_KINDS = ("image", "dirty", "residual", "model", "psf")
"""The kinds of sub-band product wsclean writes (one of each per output channel)."""


def expected_products(
    prefix: str | os.PathLike[str],
    options: WSCleanOptions,
    channel_kinds: Collection[str] = CHANNEL_KINDS,
) -> dict[str, Path]:
    """The files wsclean 3.1 writes for ``options`` under ``prefix``, keyed by name suffix.

    Naming: ``prefix[-NNNN|-MFS][-POL]-kind.fits``; the PSF has no polarisation part;
    MFS images exist only with several output channels. Sub-band products whose kind
    is not in ``channel_kinds`` are left out (a run discards them: see
    :func:`flint.imaging.run_wsclean`).
    """
    prefix = Path(prefix)
    pols = polarisations(options.pol)
    pol_parts = [f"-{pol}" for pol in pols] if len(pols) > 1 else [""]
    channel_parts = [""]
    if options.channels_out > 1:
        channel_parts = [f"-{index:04d}" for index in range(options.channels_out)] + ["-MFS"]
    kinds = ["image"]
    if not options.no_dirty:
        kinds.append("dirty")
    if options.niter > 0:
        kinds += ["residual", "model"]
    products: dict[str, Path] = {}
    for channel in channel_parts:
        whole_band = channel in ("", "-MFS")
        for pol in pol_parts:
            for kind in kinds:
                if whole_band or kind in channel_kinds:
                    suffix = f"{channel}{pol}-{kind}".lstrip("-")
                    products[suffix] = prefix.with_name(f"{prefix.name}-{suffix}.fits")
        if (options.niter > 0 or options.make_psf) and (whole_band or "psf" in channel_kinds):
            suffix = f"{channel}-psf".lstrip("-")
            products[suffix] = prefix.with_name(f"{prefix.name}-{suffix}.fits")
    if options.save_source_list and options.niter > 0:
        products["sources"] = prefix.with_name(f"{prefix.name}-sources.txt")
    return products


def build_wsclean_command(
    ms_paths: Sequence[str | os.PathLike[str]],
    options: WSCleanOptions,
    name_prefix: str | os.PathLike[str],
) -> WSCleanCommand:
    """Build the wsclean argv imaging ``ms_paths`` into files starting with ``name_prefix``."""
    if isinstance(ms_paths, str | os.PathLike):
        ms_paths = [ms_paths]
    if not ms_paths:
        raise InputError("wsclean needs at least one measurement set")
    prefix = Path(name_prefix)
    argv = ["wsclean", "-name", os.fspath(prefix), *wsclean_option_args(options)]
    argv += [os.fspath(path) for path in ms_paths]
    return WSCleanCommand(argv=argv, prefix=prefix, products=expected_products(prefix, options))


def build_predict_command(
    ms_paths: Sequence[str | os.PathLike[str]],
    model_prefix: str | os.PathLike[str],
    options: WSCleanOptions,
) -> list[str]:
    """The wsclean ``-predict`` argv filling MODEL_DATA from ``model_prefix``'s model images."""
    if isinstance(ms_paths, str | os.PathLike):
        ms_paths = [ms_paths]
    argv = ["wsclean", "-predict", "-name", os.fspath(model_prefix)]
    argv += ["-pol", options.pol, "-channels-out", str(options.channels_out)]
    if options.threads is not None:
        argv += ["-j", str(options.threads)]
    for field in ("padding", "abs_mem", "temp_dir", "parallel_gridding", "wgridder_accuracy"):
        value = getattr(options, field)
        if value is not None:
            argv += [_flag(field), _format(value)]
    if options.use_wgridder:
        argv.append("-use-wgridder")
    if options.reorder is not None:
        argv.append("-reorder" if options.reorder else "-no-reorder")
    return argv + [os.fspath(path) for path in ms_paths]
