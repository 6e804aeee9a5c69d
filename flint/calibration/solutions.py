"""Read and write calibration solutions in the AO/MWA "MWAOCAL" binary format.

Layout (little-endian), as written by ``calibrate`` and read by ``applysolutions``:

- 8-byte magic ``MWAOCAL\\0``
- uint32 fileType, structureType, nSol (intervals), nAnt, nChan, nPol
- float64 startTime, endTime
- complex128 gains ``[nSol][nAnt][nChan][nPol]``; NaN marks a flagged solution

For ``nPol == 4`` the polarisations are the Jones terms (XX, XY, YX, YY). Gains are
kept bit for bit (NaN payloads included), so a read followed by a write reproduces
the file byte-identically.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from flint.atomic import atomic_path
from flint.errors import SolutionsError

logger = logging.getLogger(__name__)

MAGIC = b"MWAOCAL\0"
HEADER_DTYPE = np.dtype(
    [
        ("magic", "S8"),
        ("file_type", "<u4"),
        ("structure_type", "<u4"),
        ("n_sol", "<u4"),
        ("n_ant", "<u4"),
        ("n_chan", "<u4"),
        ("n_pol", "<u4"),
        ("start_time", "<f8"),
        ("end_time", "<f8"),
    ]
)
HEADER_BYTES = HEADER_DTYPE.itemsize  # 48
GAIN_DTYPE = np.dtype("<c16")
POLARISATIONS = {1: ("XX",), 2: ("XX", "YY"), 4: ("XX", "XY", "YX", "YY")}


@dataclass(frozen=True, eq=False)
class AOSolutions:
    """Gains of one solutions file: ``gains`` is complex128 ``[nSol, nAnt, nChan, nPol]``.

    NaN gains are flagged. Times are the MS times (MJD seconds) the solutions span.
    """

    gains: np.ndarray
    start_time: float = 0.0
    end_time: float = 0.0
    file_type: int = 0
    structure_type: int = 0
    path: Path | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        gains = np.asarray(self.gains)
        if gains.ndim != 4:
            raise SolutionsError(f"gains must be 4-d [nSol, nAnt, nChan, nPol], got {gains.shape}")
        if gains.shape[3] not in POLARISATIONS:
            raise SolutionsError(f"nPol must be 1, 2 or 4, got {gains.shape[3]}")
        object.__setattr__(self, "gains", gains.astype(np.complex128, copy=False))

    @property
    def n_sol(self) -> int:
        return int(self.gains.shape[0])

    @property
    def n_ant(self) -> int:
        return int(self.gains.shape[1])

    @property
    def n_chan(self) -> int:
        return int(self.gains.shape[2])

    @property
    def n_pol(self) -> int:
        return int(self.gains.shape[3])

    @property
    def polarisations(self) -> tuple[str, ...]:
        return POLARISATIONS[self.n_pol]

    @property
    def flags(self) -> np.ndarray:
        """True where a gain is flagged (not finite)."""
        return ~np.isfinite(self.gains)

    def pol_index(self, name: str) -> int:
        """Index of polarisation ``name`` (e.g. "XX") in the last axis."""
        try:
            return self.polarisations.index(name.upper())
        except ValueError:
            raise SolutionsError(
                f"no {name} term in {self.n_pol}-polarisation solutions", self.path
            ) from None

    def with_gains(self, gains: np.ndarray) -> AOSolutions:
        """A copy with new gains (same header), not tied to a file."""
        return replace(self, gains=np.asarray(gains, dtype=np.complex128), path=None)

    def equals(self, other: AOSolutions) -> bool:
        """True if header and gains match bit for bit (NaNs compare equal)."""
        return (
            self.gains.shape == other.gains.shape
            and (self.start_time, self.end_time, self.file_type, self.structure_type)
            == (other.start_time, other.end_time, other.file_type, other.structure_type)
            and self.gains.tobytes() == other.gains.tobytes()
        )


def _header(solutions: AOSolutions) -> bytes:
    header = np.zeros((), dtype=HEADER_DTYPE)
    header["magic"] = MAGIC
    header["file_type"] = solutions.file_type
    header["structure_type"] = solutions.structure_type
    header["n_sol"], header["n_ant"], header["n_chan"], header["n_pol"] = solutions.gains.shape
    header["start_time"] = solutions.start_time
    header["end_time"] = solutions.end_time
    return header.tobytes()


def read_solutions(path: str | os.PathLike[str]) -> AOSolutions:
    """Read an MWAOCAL solutions file; raise :class:`SolutionsError` naming the problem."""
    path = Path(path)
    if not path.is_file():
        raise SolutionsError("no such solutions file", path)
    raw = path.read_bytes()
    if len(raw) < HEADER_BYTES:
        raise SolutionsError(
            f"file is {len(raw)} bytes, shorter than the {HEADER_BYTES}-byte header", path
        )
    header = np.frombuffer(raw, dtype=HEADER_DTYPE, count=1)[0]
    magic = raw[:8]
    if magic != MAGIC:
        raise SolutionsError(f"bad magic {magic!r}; expected MWAOCAL\\0", path)
    shape = tuple(int(header[name]) for name in ("n_sol", "n_ant", "n_chan", "n_pol"))
    if shape[3] not in POLARISATIONS:
        raise SolutionsError(f"nPol is {shape[3]}; expected 1, 2 or 4", path)
    if int(header["file_type"]) != 0 or int(header["structure_type"]) != 0:
        raise SolutionsError(
            f"unsupported fileType/structureType {int(header['file_type'])}/"
            f"{int(header['structure_type'])}; only 0/0 (complex gains) is known",
            path,
        )
    expected = HEADER_BYTES + int(np.prod(shape)) * GAIN_DTYPE.itemsize
    if len(raw) != expected:
        raise SolutionsError(
            f"file is {len(raw)} bytes; header {shape} (nSol, nAnt, nChan, nPol) needs {expected}",
            path,
        )
    gains = np.frombuffer(raw, dtype=GAIN_DTYPE, offset=HEADER_BYTES).reshape(shape)
    return AOSolutions(
        gains=gains.astype(np.complex128),  # native-order, writable copy
        start_time=float(header["start_time"]),
        end_time=float(header["end_time"]),
        file_type=int(header["file_type"]),
        structure_type=int(header["structure_type"]),
        path=path,
    )


def write_solutions(
    solutions: AOSolutions, path: str | os.PathLike[str], overwrite: bool = True
) -> Path:
    """Write ``solutions`` to ``path`` atomically in MWAOCAL format; return the path."""
    path = Path(path)
    body = np.ascontiguousarray(solutions.gains, dtype=GAIN_DTYPE).tobytes()
    with atomic_path(path, overwrite=overwrite) as temporary:
        temporary.write_bytes(_header(solutions) + body)
    logger.info("Wrote %s solutions %s to %s", solutions.polarisations, solutions.gains.shape, path)
    return path
