"""Background and rms maps from BANE (AegeanTools), run as a separate process with a timeout."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from flint.cores import bane_cores, image_rows, task_cores
from flint.external import run_tool, scaled_timeout
from flint.identity import Recipe
from flint.masking.options import MaskingOptions

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackgroundMaps:
    """BANE's products for one image."""

    background: Path
    rms: Path


def bane_executable() -> str:
    """BANE's console script: next to the running Python if installed there, else on PATH."""
    beside = Path(sys.executable).parent / "BANE"
    return os.fspath(beside) if beside.exists() else "BANE"


def bane_products(out_base: str | os.PathLike[str]) -> BackgroundMaps:
    """The files BANE writes for ``--out out_base``."""
    base = os.fspath(out_base)
    return BackgroundMaps(background=Path(f"{base}_bkg.fits"), rms=Path(f"{base}_rms.fits"))


def build_bane_command(
    image: str | os.PathLike[str],
    out_base: str | os.PathLike[str],
    options: MaskingOptions,
    cores: int = 1,
) -> list[str]:
    """The BANE argv writing ``out_base_{bkg,rms}.fits`` for ``image`` (``cores`` unless the
    options fix them)."""
    cores = options.bane_cores or cores
    argv = [bane_executable(), "--out", os.fspath(out_base), "--cores", str(cores)]
    if options.bane_grid is not None:
        argv += ["--grid", *map(str, options.bane_grid)]
    if options.bane_box is not None:
        argv += ["--box", *map(str, options.bane_box)]
    return [*argv, os.fspath(image)]


def run_bane(
    image: str | os.PathLike[str],
    options: MaskingOptions,
    out_base: str | os.PathLike[str] | None = None,
    *,
    skip_existing: bool = True,
) -> BackgroundMaps:
    """Run BANE on ``image`` (default products ``IMAGE_{bkg,rms}.fits``), atomically.

    BANE writes into a scratch directory; both maps are renamed into place only
    after it succeeded, and its log is kept as ``<out_base>.bane.log``. Maps made from
    the same image and settings are reused when ``skip_existing``.
    """
    image = Path(image).absolute()
    if out_base is None:
        out_base = image.with_suffix("")
    final = bane_products(Path(out_base).absolute())
    settings = {"grid": options.bane_grid, "box": options.bane_box}
    recipe = Recipe.of("bane", {"image": image}, settings, tools=("AegeanTools",))
    if skip_existing and recipe.made(final.background, final.rms):
        logger.info("Reusing BANE maps %s, %s", final.background, final.rms)
        return final
    final.rms.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".bane-", dir=final.rms.parent) as scratch:
        scratch_base = Path(scratch) / "bane"
        made = bane_products(scratch_base)
        run_tool(
            build_bane_command(
                image, scratch_base, options, bane_cores(task_cores(), image_rows(image))
            ),
            log_path=Path(f"{Path(out_base).absolute()}.bane.log"),
            timeout=scaled_timeout([image], 6_000.0, minimum=options.bane_timeout_s),
            cwd=scratch,
        )
        os.replace(made.background, final.background)
        os.replace(made.rms, final.rms)
    recipe.record(final.background, final.rms)
    return final
