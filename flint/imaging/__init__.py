"""Imaging with wsclean: options, pure command building, runs with divergence retries."""

from flint.imaging.command import (
    WSCleanCommand,
    build_predict_command,
    build_wsclean_command,
    expected_products,
)
from flint.imaging.divergence import CleanDivergenceError, detect_divergence, safer_options
from flint.imaging.options import WSCleanOptions
from flint.imaging.products import ImageProducts
from flint.imaging.run import predict_model_column, run_wsclean

__all__ = [
    "CleanDivergenceError",
    "ImageProducts",
    "WSCleanCommand",
    "WSCleanOptions",
    "build_predict_command",
    "build_wsclean_command",
    "detect_divergence",
    "expected_products",
    "predict_model_column",
    "run_wsclean",
    "safer_options",
]
