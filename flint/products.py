"""The products a flow wrote into its output directory, by kind, beam and round (no UI).

Recognised (names as the flows write them, see :mod:`flint.naming`)::

    beamNN/images/<ms stem>.roundN[-MFS]-{image,residual,model}.fits   image/residual/model
    beamNN/catalogues/<image stem>_comp.fits                          catalogue of a beam image
    beamNN/images/<ms stem>.noise[-MFS]-dirty.fits                    the noise alone (thermal limit;
                                                                      ``-image`` in older runs)
    mosaic/roundN/mosaic.roundN.fits                                  mosaic
    mosaic/roundN/catalogues/mosaic.roundN_comp.fits                  catalogue of the mosaic
    validation/*.png                                                  validation plot
    validation/*.summary.json                                         validation summary
    <ms stem>.calibrate.repaired.png                                  bandpass solution plot

A directory holding several flow outputs (``bandpass/``, ``continuum/``, as ``flint demo``
writes) is searched one level down when it holds no product itself.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np

from flint.errors import InputError
from flint.naming import parse_ms_name


class Kind(StrEnum):
    """What a product is."""

    IMAGE = "image"
    RESIDUAL = "residual"
    MODEL = "model"
    MOSAIC = "mosaic"
    CATALOGUE = "catalogue"
    BANDPASS_PLOT = "bandpass plot"
    VALIDATION_PLOT = "validation plot"
    VALIDATION_SUMMARY = "validation summary"
    NOISE = "noise"


IMAGE_KINDS = (Kind.IMAGE, Kind.RESIDUAL, Kind.MODEL)
_BEAM_IMAGE = re.compile(
    r"^(?P<stem>.+)\.round(?P<round>\d+)(?:-MFS)?-(?P<kind>image|residual|model)\.fits$"
)
_BEAM_CATALOGUE = re.compile(r"^(?P<stem>.+)\.round(?P<round>\d+)(?:-MFS)?-image_comp\.fits$")
_NOISE = re.compile(r"^(?P<stem>.+)\.noise(?:-MFS)?-(?P<kind>dirty|image)\.fits$")
_MOSAIC = re.compile(r"^mosaic\.round(?P<round>\d+)\.fits$")
_MOSAIC_CATALOGUE = re.compile(r"^mosaic\.round(?P<round>\d+)_comp\.fits$")
_BANDPASS_PLOT = re.compile(r"^(?P<stem>.+)\.calibrate\.repaired\.png$")
_BEAM_DIRECTORY = re.compile(r"^beam(?P<beam>\d+)$")


@dataclass(frozen=True)
class Product:
    """One product file; ``beam`` is ``None`` for the mosaic and whole-field products."""

    kind: Kind
    beam: int | None
    round: int | None
    path: Path

    def sort_key(self) -> tuple:
        """Kind, then beams in order (whole-field products, ``None``, first), round, path."""
        return (
            self.kind.value,
            self.beam is not None,
            self.beam or 0,
            self.round is not None,
            self.round or 0,
            str(self.path),
        )


def _beam_of(stem: str, directory: Path | None = None) -> int | None:
    """The beam of an MS-derived name (via :func:`flint.naming.parse_ms_name`), else of
    its ``beamNN`` directory."""
    try:
        return parse_ms_name(f"{stem}.ms").beam
    except InputError:
        pass
    if directory is not None and (match := _BEAM_DIRECTORY.match(directory.name)):
        return int(match["beam"])
    return None


def _scan(directory: Path) -> list[Product]:
    found: list[Product] = []
    for path in directory.glob("*/images/*.fits"):
        if match := _BEAM_IMAGE.match(path.name):
            beam = _beam_of(match["stem"], path.parent.parent)
            found.append(Product(Kind(match["kind"]), beam, int(match["round"]), path))
        elif (match := _NOISE.match(path.name)) and not (
            match["kind"] == "image"
            and path.with_name(path.name.removesuffix("image.fits") + "dirty.fits").exists()
        ):  # the noise cleaned as the data were: its dirty image, not its restored one
            found.append(
                Product(Kind.NOISE, _beam_of(match["stem"], path.parent.parent), None, path)
            )
    for path in directory.glob("*/catalogues/*_comp.fits"):
        if match := _BEAM_CATALOGUE.match(path.name):
            beam = _beam_of(match["stem"], path.parent.parent)
            found.append(Product(Kind.CATALOGUE, beam, int(match["round"]), path))
    for path in directory.glob("mosaic/round*/*.fits"):
        if match := _MOSAIC.match(path.name):
            found.append(Product(Kind.MOSAIC, None, int(match["round"]), path))
    for path in directory.glob("mosaic/round*/catalogues/*_comp.fits"):
        if match := _MOSAIC_CATALOGUE.match(path.name):
            found.append(Product(Kind.CATALOGUE, None, int(match["round"]), path))
    for path in directory.glob("validation/*.png"):
        found.append(Product(Kind.VALIDATION_PLOT, None, None, path))
    for path in directory.glob("validation/*.summary.json"):
        found.append(Product(Kind.VALIDATION_SUMMARY, None, None, path))
    for path in directory.glob("*.png"):
        if match := _BANDPASS_PLOT.match(path.name):
            found.append(Product(Kind.BANDPASS_PLOT, _beam_of(match["stem"]), None, path))
    return found


@dataclass(frozen=True)
class Products:
    """Every product found under ``directory``, sorted by kind, beam, round and path."""

    directory: Path
    items: tuple[Product, ...]

    def select(
        self,
        kind: Kind | str | None = None,
        beam: int | str | None = "any",
        round: int | str | None = "any",
    ) -> list[Product]:
        """Products of ``kind``, ``beam`` and ``round`` (``"any"``: not narrowed)."""
        return [
            p
            for p in self.items
            if (kind is None or p.kind == kind)
            and (beam == "any" or p.beam == beam)
            and (round == "any" or p.round == round)
        ]

    def find(self, kind: Kind | str, beam: int | None, round: int | None) -> Path | None:
        """The one product of ``kind`` for ``beam`` (``None``: the mosaic) and ``round``."""
        if kind in IMAGE_KINDS and beam is None:
            kind = Kind.MOSAIC if kind == Kind.IMAGE else kind
        matches = self.select(kind, beam, round)
        return matches[0].path if matches else None

    @property
    def beams(self) -> list[int]:
        """Beams with at least one image."""
        return sorted({p.beam for p in self.items if p.kind in IMAGE_KINDS and p.beam is not None})

    def rounds(self, beam: int | None) -> list[int]:
        """Self-calibration rounds imaged for ``beam`` (``None``: rounds of the mosaic)."""
        kinds = (Kind.MOSAIC,) if beam is None else IMAGE_KINDS
        return sorted(
            {
                p.round
                for p in self.items
                if p.kind in kinds and p.beam == beam and p.round is not None
            }
        )

    @property
    def plots(self) -> list[Product]:
        """Bandpass solution plots, then validation plots."""
        return self.select(Kind.BANDPASS_PLOT) + self.select(Kind.VALIDATION_PLOT)


def find_products(directory: str | os.PathLike[str]) -> Products:
    """The products under a flow's output ``directory`` (one level down if none there)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError("output directory does not exist", directory)
    found = _scan(directory)
    if not found:
        for child in sorted(directory.iterdir()):
            if child.is_dir() and child.suffix != ".ms":
                found += _scan(child)
    return Products(directory, tuple(sorted(found, key=Product.sort_key)))


@dataclass(frozen=True)
class ImageStatistics:
    """Summary numbers of one image (finite pixels only)."""

    rms: float
    """Root mean square, sqrt(mean(x^2))."""
    peak: float
    """Largest pixel value."""


def image_statistics(path: str | os.PathLike[str]) -> ImageStatistics:
    """rms and peak of a FITS image's finite pixels."""
    from astropy.io import fits

    try:
        data = np.asarray(fits.getdata(path), dtype=float)
    except (OSError, IndexError) as error:
        raise InputError(f"cannot read image: {error}", path) from error
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        raise InputError("image has no finite pixels", path)
    return ImageStatistics(rms=float(np.sqrt(np.mean(finite**2))), peak=float(finite.max()))
