"""Primary-beam and inverse-variance weighted linear mosaics of beam images."""

from flint.mosaic.headers import frequency_hz, pointing_deg, read_plane
from flint.mosaic.linmos import MosaicResult, accumulate_beam, mosaic_images, weight_name
from flint.mosaic.options import MosaicOptions

__all__ = [
    "MosaicOptions",
    "MosaicResult",
    "accumulate_beam",
    "frequency_hz",
    "mosaic_images",
    "pointing_deg",
    "read_plane",
    "weight_name",
]
