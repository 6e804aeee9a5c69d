"""Packaged models of flux/bandpass calibrators (``flint/data/models/<name>.txt``)."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from flint.errors import SkyModelError
from flint.sky.model import SkyModel
from flint.sky.wsclean_format import read_wsclean_components


def _models_directory() -> Path:
    return Path(str(resources.files("flint") / "data" / "models"))


def _canonical(name: str) -> str:
    """``"PKS B1934-638"``, ``"1934-638"`` and ``"b1934-638"`` all become ``"1934-638"``."""
    text = re.sub(r"\s+", "", name).upper()
    text = text.removeprefix("PKS")
    return text.removeprefix("B") if re.match(r"B\d", text) else text


def known_calibrators() -> list[str]:
    """Names of the calibrators with a packaged model."""
    return sorted(path.stem for path in _models_directory().glob("*.txt"))


def calibrator_model(name: str = "B1934-638") -> SkyModel:
    """The packaged wsclean component-list model of calibrator ``name``."""
    wanted = _canonical(name)
    for known in known_calibrators():
        if _canonical(known) == wanted:
            return read_wsclean_components(_models_directory() / f"{known}.txt")
    raise SkyModelError(
        f"no packaged model for calibrator {name!r}; known calibrators: "
        f"{', '.join(known_calibrators())}"
    )
