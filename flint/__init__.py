"""flint: units of work for ASKAP calibration, imaging and mosaicking.

The core never imports the orchestration layer (:mod:`flint.prefect`) or the
notebook workbench (:mod:`flint_widgets`); every function here runs in a plain
script or a Dask worker.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("flint-workbench")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["__version__"]
