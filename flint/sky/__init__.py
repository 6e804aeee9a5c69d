"""Sky models: a vectorised component container, readers/writers, random skies, calibrators."""

from flint.sky.calibrators import calibrator_model, known_calibrators
from flint.sky.io import read_sky
from flint.sky.model import SkyModel, concatenate
from flint.sky.random_sky import expected_source_count, random_sky
from flint.sky.source_counts import load_source_counts
from flint.sky.tables import sky_to_table, table_to_sky
from flint.sky.wsclean_format import read_wsclean_components, write_wsclean_components

__all__ = [
    "SkyModel",
    "calibrator_model",
    "concatenate",
    "expected_source_count",
    "known_calibrators",
    "load_source_counts",
    "random_sky",
    "read_sky",
    "read_wsclean_components",
    "sky_to_table",
    "table_to_sky",
    "write_wsclean_components",
]
