"""Pure builders of the BANE and Aegean argument lists and of the product names."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from flint.sourcefind.options import SourceFindOptions


@dataclass(frozen=True)
class SourceFindPaths:
    """Where the products of source finding on one image go."""

    image: Path
    background: Path
    rms: Path
    catalogue_fits: Path
    catalogue_csv: Path


def image_stem(image: str | os.PathLike[str]) -> str:
    """The image name without its ``.fits`` suffix (``beam0.conv.fits`` -> ``beam0.conv``)."""
    name = Path(image).name
    return name[: -len(".fits")] if name.lower().endswith(".fits") else Path(name).stem


def source_find_paths(
    image: str | os.PathLike[str], output_dir: str | os.PathLike[str] | None = None
) -> SourceFindPaths:
    """BANE's and Aegean's own names for the products (``_bkg``, ``_rms``, ``_comp``)."""
    image = Path(image)
    where = image.parent if output_dir is None else Path(output_dir)
    stem = image_stem(image)
    return SourceFindPaths(
        image=image,
        background=where / f"{stem}_bkg.fits",
        rms=where / f"{stem}_rms.fits",
        catalogue_fits=where / f"{stem}_comp.fits",
        catalogue_csv=where / f"{stem}_comp.csv",
    )


def build_bane_command(
    image: str | os.PathLike[str],
    out_base: str | os.PathLike[str],
    options: SourceFindOptions,
    executable: str | None = None,
    cores: int = 1,
) -> list[str]:
    """``BANE`` writing ``{out_base}_bkg.fits`` and ``{out_base}_rms.fits``; ``cores`` unless
    the options fix them."""
    argv = [executable or options.bane_executable, "--cores", str(options.bane_cores or cores)]
    if options.bane_grid is not None:
        argv += ["--grid", *(str(step) for step in options.bane_grid)]
    if options.bane_box is not None:
        argv += ["--box", *(str(size) for size in options.bane_box)]
    return [*argv, "--out", os.fspath(out_base), os.fspath(image)]


def build_aegean_command(
    image: str | os.PathLike[str],
    background: str | os.PathLike[str],
    rms: str | os.PathLike[str],
    table_base: str | os.PathLike[str],
    options: SourceFindOptions,
    executable: str | None = None,
    cores: int = 1,
) -> list[str]:
    """``aegean`` with explicit background and noise maps, writing ``{table_base}_comp.{fits,csv}``;
    ``cores`` unless the options fix them."""
    base = os.fspath(table_base)
    argv = [
        executable or options.aegean_executable,
        "--cores",
        str(options.aegean_cores or cores),
        "--background",
        os.fspath(background),
        "--noise",
        os.fspath(rms),
        "--seedclip",
        str(options.seedclip),
        "--floodclip",
        str(options.floodclip),
        "--table",
        f"{base}.fits,{base}.csv",
    ]
    if options.maxsummits is not None:
        argv += ["--maxsummits", str(options.maxsummits)]
    return [*argv, os.fspath(image)]
