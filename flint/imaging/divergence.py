"""Spot a diverging clean in wsclean's output and choose safer settings for a retry.

wsclean 3.1 does not report divergence by name: a runaway minor loop prints peaks
growing without bound (``Iteration 20: 6.65 KJy``), may end with ``Deconvolution
aborted.`` or ``Stopped on peak -nan Jy``, and still exits with code 0. A runaway major loop shows an ``Initial
peak`` larger than the first one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from flint.errors import FlintError
from flint.imaging.options import WSCleanOptions

_UNITS = {"µJy": 1e-6, "uJy": 1e-6, "mJy": 1e-3, "Jy": 1.0, "KJy": 1e3, "kJy": 1e3, "MJy": 1e6}
_FLUX = (
    r"(?P<value>[-+]?(?:\d+\.?\d*(?:e[-+]?\d+)?|nan|inf))\s*(?P<unit>µJy|uJy|mJy|Jy|KJy|kJy|MJy)"
)
_PEAK = re.compile(
    rf"^(?:Initial peak:|Stopped on peak|Iteration \d+(?:, scale \d+ px)?\s*:)\s*{_FLUX}",
    re.IGNORECASE,
)
_ABORTED = "Deconvolution aborted"
# wsclean also says "aborted" when nothing was above the threshold (a noise-only image)
_NOTHING_CLEANED = re.compile(r"^Performed 0 iterations")


class CleanDivergenceError(FlintError, RuntimeError):
    """wsclean's clean diverged and every retry with safer settings diverged too."""


def _jansky(match: re.Match[str]) -> float:
    return float(match["value"]) * _UNITS[match["unit"]]


def detect_divergence(lines: Iterable[str], growth: float = 10.0) -> str | None:
    """Return why the clean in wsclean output ``lines`` diverged, or None if it did not.

    Divergence: wsclean aborting deconvolution after cleaning something, a non-finite
    peak, or any peak more than ``growth`` times the first major iteration's initial peak.
    """
    first = None
    nothing_cleaned = False
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if line.startswith("Performed "):
            nothing_cleaned = bool(_NOTHING_CLEANED.match(line))
        if line.startswith(_ABORTED) and not nothing_cleaned:
            return f"line {number}: wsclean aborted the deconvolution"
        match = _PEAK.search(line)
        if match is None:
            continue
        peak = abs(_jansky(match))
        if not math.isfinite(peak):
            return f"line {number}: non-finite peak ({line})"
        if first is None:
            first = peak
        elif first > 0 and peak > growth * first:
            return f"line {number}: peak {peak:.3g} Jy grew beyond {growth:g} x the first peak {first:.3g} Jy"
    return None


def safer_options(options: WSCleanOptions, attempt: int) -> WSCleanOptions | None:
    """Settings for retry number ``attempt`` (1, 2, ...) after a divergence; None when out of ideas.

    Retry 1 lowers the minor and major gains; retry 2 also turns multi-scale off
    and lowers the gains further.
    """
    if attempt == 1:
        changes: dict[str, object] = {
            "gain": min(options.gain, 0.1),
            "mgain": min(options.mgain, 0.5),
        }
        if options.multiscale:
            changes["multiscale_gain"] = min(options.multiscale_gain or 0.2, 0.1)
        return options.with_options(**changes)
    if attempt == 2:
        return options.with_options(
            gain=min(options.gain, 0.05),
            mgain=min(options.mgain, 0.3),
            multiscale=False,
            multiscale_gain=None,
        )
    return None
