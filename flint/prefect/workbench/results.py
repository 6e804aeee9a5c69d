"""The results browser: a run's products by beam and round, made ready to draw (no UI).

Opens a flow's output directory (or a run's, through its ``output_dir`` parameter), lists
what can be shown, and returns decimated images (:class:`~flint.imaging.preview.ImagePreview`),
catalogues, the validation figure and summary, each beam's distance from the thermal limit,
and two self-calibration rounds side by side. Nothing is returned for what does not exist,
so a view never has to draw an empty plot.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flint.imaging.preview import ImagePreview, read_preview
from flint.products import IMAGE_KINDS, ImageStatistics, Kind, Products, find_products
from flint.products import image_statistics as _statistics

MOSAIC = "mosaic"
"""The source value of the mosaic (beams are their numbers)."""


@dataclass(frozen=True)
class ThermalRatio:
    """One beam's residual rms against the image of its noise alone (1 is the thermal limit)."""

    beam: int
    round: int
    residual_rms_jy: float
    noise_rms_jy: float

    @property
    def ratio(self) -> float:
        return self.residual_rms_jy / self.noise_rms_jy


@dataclass(frozen=True)
class RoundImage:
    """One round's image, with its peak and its residual's rms, for a comparison."""

    round: int
    preview: ImagePreview
    statistics: ImageStatistics


class ResultsBrowser:
    """Products of one output directory."""

    def __init__(self, max_pixels: int = 1024) -> None:
        self.max_pixels = max_pixels
        self.products: Products | None = None
        self.label = ""

    def open_directory(self, directory: str | os.PathLike[str], label: str = "") -> Products:
        """Find the products under ``directory`` (raises InputError if it does not exist)."""
        self.products = find_products(directory)
        self.label = label or str(self.products.directory)
        return self.products

    def describe(self) -> str:
        """``run x: 6 image, 6 residual, ...`` (or that there is nothing yet)."""
        if self.products is None:
            return "nothing opened"
        counts = ", ".join(
            f"{len(self.products.select(kind))} {kind.value}"
            for kind in Kind
            if self.products.select(kind)
        )
        return f"{self.label}: {counts or 'no products yet'}"

    # --- what there is ------------------------------------------------------------------
    def sources(self) -> list[tuple[str, Any]]:
        """(label, value) of the mosaic (if any) and every beam with an image."""
        if self.products is None:
            return []
        found: list[tuple[str, Any]] = [(f"beam {b:02d}", b) for b in self.products.beams]
        if self.products.rounds(None):
            found.insert(0, ("mosaic", MOSAIC))
        return found

    @staticmethod
    def beam_of(source: Any) -> int | None:
        return None if source in (None, MOSAIC) else int(source)

    def rounds(self, source: Any) -> list[int]:
        return [] if self.products is None else self.products.rounds(self.beam_of(source))

    def kinds(self, source: Any, round_number: int | None) -> list[str]:
        """Image kinds that exist for ``source`` and round (the mosaic has only its image)."""
        if self.products is None or round_number is None:
            return []
        beam = self.beam_of(source)
        if beam is None:
            return [Kind.IMAGE.value] if self.products.find(Kind.MOSAIC, None, round_number) else []
        return [k.value for k in IMAGE_KINDS if self.products.find(k, beam, round_number)]

    # --- things to show -------------------------------------------------------------------
    def image_path(self, source: Any, round_number: int, kind: str = "image") -> Path | None:
        if self.products is None:
            return None
        beam = self.beam_of(source)
        return self.products.find(Kind.MOSAIC if beam is None else Kind(kind), beam, round_number)

    def image(self, source: Any, round_number: int, kind: str = "image") -> ImagePreview | None:
        """The decimated image, or None when there is none."""
        path = self.image_path(source, round_number, kind)
        return None if path is None else read_preview(path, self.max_pixels)

    def catalogue_path(self, source: Any, round_number: int) -> Path | None:
        if self.products is None:
            return None
        return self.products.find(Kind.CATALOGUE, self.beam_of(source), round_number)

    def catalogue(self, source: Any, round_number: int) -> Any:
        """The component catalogue (astropy Table) of that image, or None."""
        path = self.catalogue_path(source, round_number)
        if path is None:
            return None
        from astropy.table import Table

        return Table.read(path)

    def plots(self) -> list[Path]:
        """Validation figures first, then bandpass plots."""
        if self.products is None:
            return []
        return [
            p.path
            for p in self.products.select(Kind.VALIDATION_PLOT)
            + self.products.select(Kind.BANDPASS_PLOT)
        ]

    def validation_summary(self) -> str | None:
        """The validation's headline numbers as text, or None without a validation."""
        if self.products is None or not (found := self.products.select(Kind.VALIDATION_SUMMARY)):
            return None
        from flint.validation import read_summary

        return read_summary(found[0].path).describe()

    def thermal_ratios(self) -> list[ThermalRatio]:
        """Each beam with a noise image: its last round's residual against it."""
        if self.products is None:
            return []
        from flint.validation.thermal import thermal_limit

        ratios = []
        for noise in self.products.select(Kind.NOISE):
            rounds = self.products.rounds(noise.beam)
            residual = self.products.find(Kind.RESIDUAL, noise.beam, rounds[-1]) if rounds else None
            if residual is None or noise.beam is None:
                continue
            limit = thermal_limit(residual, noise.path)
            ratios.append(
                ThermalRatio(noise.beam, rounds[-1], limit.residual_rms_jy, limit.noise_rms_jy)
            )
        return ratios

    def compare(self, source: Any, round_a: int, round_b: int) -> list[RoundImage]:
        """Two rounds' images of ``source`` with each image's peak and its residual's rms."""
        beam = self.beam_of(source)
        found = []
        for round_number in (round_a, round_b):
            image = self.image_path(source, round_number)
            if image is None:
                raise FileNotFoundError(f"no image of round {round_number}")
            residual = None if beam is None else self.image_path(source, round_number, "residual")
            peak = _statistics(image).peak
            rms = _statistics(residual).rms if residual else float("nan")
            preview = read_preview(image, self.max_pixels // 2)
            found.append(RoundImage(round_number, preview, ImageStatistics(rms=rms, peak=peak)))
        return found
