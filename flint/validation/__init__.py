"""Validate catalogues against a truth: completeness, fluxes, astrometry, noise, counts, PSFs."""

from flint.validation.crossmatch import crossmatch
from flint.validation.options import ValidationOptions
from flint.validation.report import ValidationResult, read_summary, validate
from flint.validation.summary import ValidationSummary
from flint.validation.truth import expected_truth

__all__ = [
    "ValidationOptions",
    "ValidationResult",
    "ValidationSummary",
    "crossmatch",
    "expected_truth",
    "read_summary",
    "validate",
]
