"""Shared fixtures: the real ASKAP reference files (see tests/data/PROVENANCE.md)."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import pytest
from fixtures_services import *  # noqa: F403 - real SLURM, Prefect and PostgreSQL fixtures
from fixtures_workbench import (  # noqa: F401 - served flows, real products
    demo_runner,
    demo_spec,
    prefect_api,
    real_products,
)

DATA = Path(__file__).parent / "data"
REAL_MS_ZIP = DATA / "SB39400.RACS_0635-31.beam0.small.ms.zip"
REAL_SOLUTIONS = DATA / "SB39433.B1934-638.beam0.calibrate.bin"


@pytest.fixture(scope="session", autouse=True)
def private_fingerprint_cache(tmp_path_factory: pytest.TempPathFactory):
    """Content fingerprints of test data are cached in the session's temporary directory
    (exported before any worker process starts), not in the user's ~/.cache."""
    saved = os.environ.get("FLINT_FINGERPRINT_CACHE")
    os.environ["FLINT_FINGERPRINT_CACHE"] = str(tmp_path_factory.mktemp("fingerprints"))
    yield
    if saved is None:
        os.environ.pop("FLINT_FINGERPRINT_CACHE", None)
    else:
        os.environ["FLINT_FINGERPRINT_CACHE"] = saved


@pytest.fixture(scope="session")
def real_ms_readonly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real 3-integration RACS-low beam-0 measurement set, unpacked once per session.

    Do not modify it; use ``real_ms`` for a private copy.
    """
    where = tmp_path_factory.mktemp("real_ms")
    with zipfile.ZipFile(REAL_MS_ZIP) as archive:
        archive.extractall(where)
    (ms,) = where.glob("*.ms")
    return ms


@pytest.fixture
def real_ms(real_ms_readonly: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the real measurement set."""
    copy = tmp_path / real_ms_readonly.name
    shutil.copytree(real_ms_readonly, copy)
    return copy


@pytest.fixture(scope="session")
def real_solutions_path() -> Path:
    """Real MWAOCAL bandpass solutions for beam 0 of SB39433 (PKS B1934-638)."""
    return REAL_SOLUTIONS
