"""The explorer: open any measurement set, solutions file, image or catalogue (no UI).

It tells what a path is, then hands out what to draw, read by flint's core in chunks and
made small in this process: a measurement set's summary, uv coverage, amplitude against uv
distance and flag waterfalls; a solutions file's bandpass curves, a page of antennas at a
time; an image's decimated plane; a catalogue's table. Long reads report their progress to
the listeners (``listener(fraction, what)``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from flint.errors import InputError

What = Literal["ms", "solutions", "image", "catalogue"]
ProgressListener = Callable[[float, str], None]
CATALOGUE_SUFFIXES = (".csv", ".vot", ".xml", ".ecsv")


def identify(path: str | os.PathLike[str]) -> What:
    """What ``path`` holds: a measurement set, MWAOCAL solutions, a FITS image or a catalogue."""
    path = Path(path)
    if path.is_dir():
        if (path / "table.dat").exists():
            return "ms"
        raise InputError("a directory, but not a measurement set (no table.dat)", path)
    if not path.is_file():
        raise InputError("no such file or measurement set", path)
    with path.open("rb") as handle:
        start = handle.read(8)
    if start == b"MWAOCAL\0":
        return "solutions"
    if path.suffix.lower() in CATALOGUE_SUFFIXES:
        return "catalogue"
    if start.startswith(b"SIMPLE"):
        from astropy.io import fits

        with fits.open(path) as hdus:
            primary = hdus[0]
            if primary.header.get("NAXIS", 0) >= 2 and primary.data is not None:
                return "image"
            if len(hdus) > 1 and isinstance(hdus[1], fits.BinTableHDU):
                return "catalogue"
    raise InputError("not a measurement set, MWAOCAL solutions, FITS image or catalogue", path)


class Explorer:
    """One opened path and what can be drawn from it."""

    def __init__(self, max_points: int = 20_000, max_pixels: int = 1024, page_size: int = 6):
        self.max_points = max_points
        self.max_pixels = max_pixels
        self.page_size = page_size
        self.path: Path | None = None
        self.what: What | None = None
        self.summary: Any = None
        """MSSummary of a measurement set, SolutionsSummary of a solutions file."""
        self.layout: Any = None
        """A measurement set's MSLayoutState: its layout and what preprocessing it needs."""
        self.solutions: Any = None
        self._listeners: list[ProgressListener] = []

    def on_progress(self, listener: ProgressListener) -> None:
        self._listeners.append(listener)

    def _progress(self, what: str) -> Callable[[int, int], None]:
        def report(done: int, total: int) -> None:
            for listener in self._listeners:
                listener(done / total if total else 1.0, what)

        return report

    def open(self, path: str | os.PathLike[str]) -> What:
        """Identify ``path`` and read its summary (measurement sets, solutions)."""
        what = identify(path)
        self.path, self.what = Path(path), what
        self.summary = self.solutions = self.layout = None
        if what == "ms":
            from flint.ms import detect_layout, summarise_ms

            self.summary = summarise_ms(self.path)
            self.layout = detect_layout(self.path)
        elif what == "solutions":
            from flint.calibration.solutions import read_solutions
            from flint.calibration.summary import summarise_solutions

            self.solutions = read_solutions(self.path)
            self.summary = summarise_solutions(self.solutions)
        return what

    def _need(self, what: What) -> Path:
        if self.path is None or self.what != what:
            raise InputError(f"open a {'measurement set' if what == 'ms' else what} first")
        return self.path

    # --- measurement sets -----------------------------------------------------------------
    def uv_coverage(self) -> Any:
        from flint.ms.views import uv_coverage

        path = self._need("ms")
        return uv_coverage(path, self.max_points, self._progress("uv coverage"))

    def amplitudes(self, column: str = "DATA") -> Any:
        from flint.ms.views import amplitude_vs_uvdist

        path = self._need("ms")
        return amplitude_vs_uvdist(
            path, column, self.max_points, progress=self._progress("amplitudes")
        )

    def waterfall(self, antenna: int | None = 0, baseline: tuple[int, int] | None = None) -> Any:
        from flint.ms.views import flag_waterfall

        path = self._need("ms")
        return flag_waterfall(path, antenna, baseline, progress=self._progress("flags"))

    # --- solutions ------------------------------------------------------------------------
    @property
    def pages(self) -> int:
        """Pages of antennas in the open solutions file."""
        if self.solutions is None:
            return 0
        return -(-self.solutions.n_ant // self.page_size)

    def bandpass_page(self, page: int, interval: int = 0) -> list[Any]:
        """Amplitude and phase curves of the antennas on ``page`` (0-based)."""
        from flint.calibration.curves import bandpass_curves

        self._need("solutions")
        if not 0 <= page < self.pages:
            raise InputError(f"no page {page + 1}: there are {self.pages}", self.path)
        first = page * self.page_size
        antennas = range(first, min(first + self.page_size, self.solutions.n_ant))
        return bandpass_curves(self.solutions, list(antennas), interval)

    # --- images and catalogues ------------------------------------------------------------
    def image(self) -> Any:
        from flint.imaging.preview import read_preview

        path = self._need("image")
        return read_preview(path, self.max_pixels, self._progress("image"))

    def catalogue(self) -> Any:
        from astropy.table import Table

        return Table.read(self._need("catalogue"))
