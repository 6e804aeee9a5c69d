"""Peeling: sources modelled in small images of their own (outside the image, or too bright
and resolved for the round's image to model), subtracted or added to the self-cal model."""

from flint.peel.find import Outlier, bright_sources, find_outliers, read_outliers
from flint.peel.options import PeelOptions
from flint.peel.stamps import (
    FIELD_COLUMN,
    OUTLIER_COLUMN,
    PEELED_COLUMN,
    PeelResult,
    refine_bright,
    subtract_outliers,
)

__all__ = [
    "FIELD_COLUMN",
    "OUTLIER_COLUMN",
    "PEELED_COLUMN",
    "Outlier",
    "PeelOptions",
    "PeelResult",
    "bright_sources",
    "find_outliers",
    "read_outliers",
    "refine_bright",
    "subtract_outliers",
]
