"""How many cores a task's tools may use: its worker's share, set from the cluster config.

A Dask worker runs as many tasks at once as it has threads. Every tool a flint task
starts (wsclean ``-j``, aoflagger ``-j``, BANE and Aegean ``--cores``) gets an equal share
of the worker's cores, so the tools of one worker never run more threads than it has cores:

    cores per task = the worker's cores // the worker's threads (at least 1)

The cluster factory (:mod:`flint.prefect.cluster`) works that out from the cluster config
and exports it to every worker as ``FLINT_TASK_CORES``: ``job_cpu // cores`` of a job-queue
job (SLURM's ``cpus-per-task`` shared by the job's Dask threads), ``cpus // (n_workers *
threads_per_worker)`` of a LocalCluster. Outside a cluster (a command run by hand) tools
get every core this process may use.
"""

from __future__ import annotations

import math
import os

TASK_CORES_ENV = "FLINT_TASK_CORES"
"""Environment variable holding the cores each task of this worker may use."""
PARALLEL_DECONVOLUTION_ABOVE = 4096
"""Images larger than this many pixels a side are deconvolved in sub-images (wsclean)."""
SUB_IMAGE_PIXELS = 2048
"""Largest side of those sub-images."""


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, which batch systems restrict)."""
    return len(os.sched_getaffinity(0))


def task_cores() -> int:
    """Cores the tools of the current task may use (``FLINT_TASK_CORES``, else every core)."""
    value = os.environ.get(TASK_CORES_ENV, "").strip()
    if value:
        try:
            return max(1, int(value))
        except ValueError:
            raise ValueError(f"{TASK_CORES_ENV}={value!r} is not a whole number of cores") from None
    return available_cores()


def share(cores: int, threads: int) -> int:
    """Cores per task of a worker with ``cores`` cores running ``threads`` tasks at once."""
    return max(1, cores // max(1, threads))


def parallel_gridding(cores: int, channels_out: int) -> int | None:
    """Sub-bands wsclean grids at once: one per core, at most one per sub-band (None: 1)."""
    count = min(cores, channels_out)
    return count if count > 1 else None


def parallel_deconvolution(size: int) -> int | None:
    """Sub-image side for wsclean's parallel deconvolution, sized to the image: none for
    images up to :data:`PARALLEL_DECONVOLUTION_ABOVE` pixels, else equal pieces of at most
    :data:`SUB_IMAGE_PIXELS` (a 6144-pixel image: 3 x 3 sub-images of 2048)."""
    if size <= PARALLEL_DECONVOLUTION_ABOVE:
        return None
    pieces = math.ceil(size / SUB_IMAGE_PIXELS)
    return math.ceil(size / pieces)


BANE_STRIPE_ROWS = 512
"""BANE gives each core a stripe of the image; narrower stripes fail (a zero step in its
sigma filter, seen on a 256-pixel image) and gain nothing."""


def bane_cores(cores: int, image_rows: int) -> int:
    """Cores for BANE on an image of ``image_rows`` rows: ``cores``, at most one per
    :data:`BANE_STRIPE_ROWS` rows."""
    return max(1, min(cores, image_rows // BANE_STRIPE_ROWS))


def image_rows(image: str | os.PathLike[str]) -> int:
    """Rows (NAXIS2) of a FITS image, read from its header."""
    from astropy.io import fits

    return int(fits.getheader(image)["NAXIS2"])
