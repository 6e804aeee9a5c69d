"""Run BANE then Aegean on one image (beam or mosaic), each as a subprocess with a timeout."""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.table import Table

from flint.atomic import atomic_path
from flint.cores import bane_cores, image_rows, task_cores
from flint.errors import InputError, ToolError
from flint.external import run_tool, scaled_timeout
from flint.identity import Recipe
from flint.sourcefind.commands import (
    SourceFindPaths,
    build_aegean_command,
    build_bane_command,
    image_stem,
    source_find_paths,
)
from flint.sourcefind.options import SourceFindOptions

logger = logging.getLogger(__name__)

TOOL_SECONDS_PER_GB = 6_000.0
"""BANE's and Aegean's timeouts per GB of image, beyond their options' minimum."""

# Aegean's component columns and their types, for an empty catalogue
_COMPONENT_COLUMNS: dict[str, type] = {
    "island": np.int32,
    "source": np.int32,
    "background": float,
    "local_rms": float,
    "ra_str": str,
    "dec_str": str,
    "ra": float,
    "err_ra": float,
    "dec": float,
    "err_dec": float,
    "peak_flux": float,
    "err_peak_flux": float,
    "int_flux": float,
    "err_int_flux": float,
    "a": float,
    "err_a": float,
    "b": float,
    "err_b": float,
    "pa": float,
    "err_pa": float,
    "flags": np.int32,
    "residual_mean": float,
    "residual_std": float,
    "uuid": str,
    "psf_a": float,
    "psf_b": float,
    "psf_pa": float,
}


@dataclass(frozen=True)
class SourceFindResult:
    """The products of source finding on one image."""

    image: Path
    background: Path
    rms: Path
    catalogue_fits: Path
    catalogue_csv: Path
    n_sources: int
    skipped: bool
    """True when every product already existed and nothing was run."""


def resolve_executable(name: str) -> str:
    """``name`` on PATH, else next to the running Python (a venv's ``bin``), else ``name``."""
    found = shutil.which(name)
    if found:
        return found
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else name


def run_bane(
    image: str | os.PathLike[str],
    paths: SourceFindPaths,
    options: SourceFindOptions,
    log_path: Path | None = None,
) -> None:
    """Write BANE's background and rms maps to ``paths`` atomically (BANE in a subprocess)."""
    with (
        tempfile.TemporaryDirectory(dir=paths.rms.parent, prefix=".bane-") as work,
        atomic_path(paths.background, overwrite=True) as background,
        atomic_path(paths.rms, overwrite=True) as rms,
    ):
        out_base = Path(work) / image_stem(image)
        argv = build_bane_command(
            image,
            out_base,
            options,
            resolve_executable(options.bane_executable),
            bane_cores(task_cores(), image_rows(image)),
        )
        timeout = scaled_timeout([image], TOOL_SECONDS_PER_GB, minimum=options.bane_timeout_s)
        run_tool(argv, log_path=log_path, timeout=timeout)
        for produced, temporary in (
            (f"{out_base}_bkg.fits", background),
            (f"{out_base}_rms.fits", rms),
        ):
            if not Path(produced).exists():
                raise ToolError(argv, 0, f"BANE did not write {Path(produced).name}", log_path)
            os.replace(produced, temporary)


def empty_catalogue() -> Table:
    """An Aegean component table with no rows."""
    return Table({name: np.zeros(0, dtype=kind) for name, kind in _COMPONENT_COLUMNS.items()})


def run_aegean(
    image: str | os.PathLike[str],
    paths: SourceFindPaths,
    options: SourceFindOptions,
    log_path: Path | None = None,
) -> int:
    """Write Aegean's component catalogue (FITS and CSV) atomically; return the number of components."""
    with (
        tempfile.TemporaryDirectory(dir=paths.catalogue_fits.parent, prefix=".aegean-") as work,
        atomic_path(paths.catalogue_csv, overwrite=True) as csv,
        atomic_path(paths.catalogue_fits, overwrite=True) as fits_table,
    ):
        base = Path(work) / image_stem(image)
        argv = build_aegean_command(
            image,
            paths.background,
            paths.rms,
            base,
            options,
            resolve_executable(options.aegean_executable),
            task_cores(),
        )
        timeout = scaled_timeout([image], TOOL_SECONDS_PER_GB, minimum=options.aegean_timeout_s)
        run_tool(argv, log_path=log_path, timeout=timeout)
        produced_fits, produced_csv = Path(f"{base}_comp.fits"), Path(f"{base}_comp.csv")
        if produced_fits.exists() and produced_csv.exists():
            n_sources = len(Table.read(produced_fits))
            os.replace(produced_fits, fits_table)
            os.replace(produced_csv, csv)
        else:
            logger.warning("Aegean found no sources in %s; writing empty catalogues", image)
            table = empty_catalogue()
            table.write(fits_table, format="fits")
            table.write(csv, format="csv")
            n_sources = 0
    return n_sources


def find_sources(
    image: str | os.PathLike[str],
    output_dir: str | os.PathLike[str] | None = None,
    options: SourceFindOptions | None = None,
) -> SourceFindResult:
    """Background, noise and a component catalogue for ``image``; finished products are reused.

    Products (in ``output_dir``, default the image's directory) carry BANE's and
    Aegean's own names: ``{stem}_bkg.fits``, ``{stem}_rms.fits``,
    ``{stem}_comp.fits`` and ``{stem}_comp.csv``. Tool logs go next to them. BANE's maps
    are reused when made from the same image and options, the catalogue when also made
    from the same maps (:class:`flint.identity.Recipe`; timeouts are not part of it).
    """
    image = Path(image)
    if not image.is_file():
        raise InputError("image to search for sources does not exist", image)
    options = options or SourceFindOptions()
    paths = source_find_paths(image, output_dir)
    paths.rms.parent.mkdir(parents=True, exist_ok=True)
    logs = paths.rms.parent / "logs"
    stem = image_stem(image)

    settings = options.model_dump(mode="json", exclude={"bane_timeout_s", "aegean_timeout_s"})
    bane = Recipe.of("bane", {"image": image}, settings, tools=("AegeanTools",))
    if bane.made(paths.background, paths.rms):
        logger.info("Reusing BANE maps %s, %s", paths.background, paths.rms)
    else:
        run_bane(image, paths, options, logs / f"{stem}.bane.log")
        bane.record(paths.background, paths.rms)

    aegean = Recipe.of(
        "aegean",
        {"image": image, "background": paths.background, "rms": paths.rms},
        settings,
        tools=("AegeanTools",),
    )
    if aegean.made(paths.catalogue_fits, paths.catalogue_csv):
        n_sources = len(Table.read(paths.catalogue_fits))
        logger.info("Reusing catalogue %s (%d components)", paths.catalogue_fits, n_sources)
        return SourceFindResult(**vars(paths), n_sources=n_sources, skipped=True)

    n_sources = run_aegean(image, paths, options, logs / f"{stem}.aegean.log")
    aegean.record(paths.catalogue_fits, paths.catalogue_csv)
    logger.info("Aegean found %d components in %s", n_sources, image)
    return SourceFindResult(**vars(paths), n_sources=n_sources, skipped=False)
