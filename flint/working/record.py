"""What a working copy's sidecar records: its ledger, applied gains, pending change, markers.

The sidecar (``<ms>.flint.json``, :mod:`flint.identity`) of a working copy holds, besides
the recipe that made it:

- ``amendments`` and ``ledger``: the irreversible steps done to it in order (the bandpass
  applied to DATA, aoflagger's flags), each with its recipe key and what replaying it
  takes. The amendments are part of the copy's identity;
- ``applied``: the identity of the self-calibration gains applied to DATA, whose values
  are kept in ``<ms>.steps/applied.bin`` (undone before other gains are applied). Not part
  of the identity: steps that need DATA under given gains ask for them;
- ``held``: for each derived column a step outside the ledger wrote (peeling's
  ``PEELED_DATA``, ``OUTLIER_DATA``, ``FIELD_MODEL``, :mod:`flint.working.peeling`), the
  key of the recipe whose output it holds now; one column serves every round, so a step
  is done only while the column holds its output;
- ``pending``: a change in progress (see :func:`changing` and :func:`writing_columns`).

Each ledger step leaves a completion marker ``<ms>.steps/<step>-<key>``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from flint.errors import MeasurementSetError
from flint.identity import PENDING, sidecar_path, write_sidecar

logger = logging.getLogger(__name__)

STEPS_SUFFIX = ".steps"
APPLIED_GAINS = "applied.bin"
LEDGER = "ledger"
APPLIED = "applied"
HELD = "held"
TRANSIENT = "transient"
"""Pending kind of a change that only adds or drops a transient column (cheap to repair)."""
REBUILD = "rebuild"
"""Pending kind of a change whose interruption leaves the data unknown (rebuilt by replay)."""


def steps_dir(ms: str | os.PathLike[str]) -> Path:
    """``<ms>.steps``: the copy's completion markers and applied gains."""
    ms = Path(ms)
    return ms.with_name(ms.name + STEPS_SUFFIX)


def applied_gains_path(ms: str | os.PathLike[str]) -> Path:
    """Where the values of the gains applied to DATA are kept."""
    return steps_dir(ms) / APPLIED_GAINS


def marker_path(ms: str | os.PathLike[str], step: str, key: str) -> Path:
    """The completion marker of ledger step ``step`` with recipe ``key``."""
    return steps_dir(ms) / f"{step}-{key[:16]}"


def read_record(ms: str | os.PathLike[str]) -> dict | None:
    """The sidecar of ``ms`` as written, whether or not it still matches the files."""
    try:
        record = json.loads(sidecar_path(ms).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def write_record(ms: str | os.PathLike[str], record: dict) -> None:
    """Write ``record`` as the sidecar of ``ms`` (with its files as they are now)."""
    write_sidecar(ms, {key: value for key, value in record.items() if key != "stat"})


def ledger(record: dict) -> list[dict]:
    """The irreversible steps of a working copy, in order."""
    return list(record.get(LEDGER, []))


def with_ledger(record: dict, entries: list[dict]) -> dict:
    """``record`` whose ledger (and identity amendments) are ``entries``."""
    amendments = {entry["column"]: entry["key"] for entry in entries}
    out = {**record, LEDGER: entries}
    if amendments:
        out["amendments"] = amendments
    else:
        out.pop("amendments", None)
    return out


@contextmanager
def changing(ms: str | os.PathLike[str], kind: str, what: str) -> Iterator[dict]:
    """Mark ``ms`` pending while it changes in place; yield its record to update.

    The record (changed by the caller as the step requires) is written with the files'
    new sizes and times once the block ends without error. If it does not (an error, a
    killed run) the mark stays: the next step repairs the copy first.
    """
    record = read_record(ms)
    if record is None:
        raise FileNotFoundError(f"{ms}: not a working copy (no sidecar)")
    record[PENDING] = {"kind": kind, "what": what}
    write_record(ms, record)
    yield record
    record.pop(PENDING, None)
    write_record(ms, record)


@contextmanager
def writing_columns(
    ms: str | os.PathLike[str], what: str, columns: tuple[str, ...]
) -> Iterator[dict[str, str]]:
    """Mark ``ms`` pending while a step writes derived ``columns`` (and may amend the
    sidecar itself, as :mod:`flint.peel` does); yield a dict to fill with the recipe key
    each column now holds (``held``).

    Once the block ends without error the sidecar the step left is kept, unmarked, with
    ``columns``' held keys replaced and no amendment but the ledger's (what a derived column
    holds is its held key, which the steps reading it name: the copy's identity stays that
    of its irreversible steps, so steps that do not read those columns are not redone when
    they change); if it does not, the next step that uses the copy drops
    ``columns`` (:func:`flint.working.ensure_clean`): they are remade, never trusted half
    written.
    """
    record = read_record(ms)
    if record is None:
        raise FileNotFoundError(f"{ms}: not a working copy (no sidecar)")
    record[PENDING] = {"kind": TRANSIENT, "what": what, "columns": list(columns)}
    write_record(ms, record)
    held: dict[str, str] = {}
    yield held
    record = read_record(ms) or record
    record.pop(PENDING, None)
    others = {key: value for key, value in record.get(HELD, {}).items() if key not in columns}
    record[HELD] = {**others, **held}
    write_record(ms, with_ledger(record, ledger(record)))  # its amendments: the ledger's only


@dataclass(frozen=True)
class HeldColumns:
    """Derived columns a step wrote into a working copy, with the key of its recipe."""

    ms: Path
    columns: dict[str, str]
    """Column -> key of the recipe whose output it holds."""
    n_sources: int = 0
    """Sources the step modelled (peeling)."""
    skipped: bool = False
    """The copy held them already."""


def require_held(ms: str | os.PathLike[str], held: Sequence[HeldColumns]) -> dict[str, str]:
    """The columns ``held`` names, with their keys; MeasurementSetError if working copy
    ``ms`` no longer holds one of them (another step overwrote it since)."""
    wanted = {column: key for item in held for column, key in item.columns.items()}
    now = (read_record(ms) or {}).get(HELD, {})
    stale = sorted(column for column, key in wanted.items() if now.get(column) != key)
    if stale:
        raise MeasurementSetError(
            f"{', '.join(stale)} no longer hold(s) what this step needs (overwritten since); "
            "run the flow again",
            ms,
        )
    return wanted


def sync_markers(ms: str | os.PathLike[str], entries: list[dict]) -> list[Path]:
    """Leave exactly one completion marker per ledger entry; return them."""
    directory = steps_dir(ms)
    directory.mkdir(parents=True, exist_ok=True)
    wanted = {marker_path(ms, entry["step"], entry["key"]) for entry in entries}
    for path in directory.iterdir():
        if path.name != APPLIED_GAINS and path not in wanted:
            path.unlink()
    for path in wanted:
        if not path.exists():
            path.write_text(json.dumps([entry["key"] for entry in entries]) + "\n")
    return sorted(wanted)


def forget_copy(ms: str | os.PathLike[str]) -> None:
    """Remove a working copy, its markers first (a cached step is never taken as done on a
    copy that is gone), then the copy and its sidecar."""
    shutil.rmtree(steps_dir(ms), ignore_errors=True)
    shutil.rmtree(ms, ignore_errors=True)
    sidecar_path(ms).unlink(missing_ok=True)
