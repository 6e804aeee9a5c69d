"""Make a beam's working copy, keep it clean, and do the irreversible steps to it in place.

:func:`make_working_copy` copies the raw beam once (preprocessed as its layout needs,
without the columns no step reads). :func:`calibrate_in_place` applies the bandpass to its
DATA and :func:`flag_in_place` flags it with aoflagger: each appends to the copy's ledger
(:mod:`flint.working.record`). A step whose ledger entry is there already with the same
recipe does nothing; one that finds another version of itself (other solutions, other
flagging options) first rebuilds the copy from the raw data up to the step before it.
:func:`ensure_clean` repairs a copy a killed run left changing.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flint.askap.preprocess import planned_steps, preprocess_in_place, preprocess_record
from flint.atomic import atomic_path
from flint.calibration.apply import apply_in_place
from flint.errors import MeasurementSetError
from flint.flagging.aoflagger import default_strategy, run_aoflagger
from flint.identity import PENDING, Recipe, identity, read_sidecar
from flint.ms.access import check_ms, open_ms
from flint.ms.layout import detect_layout
from flint.ms.select import copy_field
from flint.working.record import (
    APPLIED,
    HELD,
    LEDGER,
    REBUILD,
    TRANSIENT,
    applied_gains_path,
    changing,
    forget_copy,
    ledger,
    marker_path,
    read_record,
    sync_markers,
    write_record,
)

logger = logging.getLogger(__name__)

DROPPED_COLUMNS = ("NOISE_DATA", "MODEL_DATA", "CORRECTED_DATA", "INSTRUMENT_DATA")
"""Columns a working copy does without: the raw data keep them (a simulation's noise is
rebuilt from there for the thermal-limit image, :func:`flint.working.fill_noise`)."""
TRANSIENT_COLUMNS = ("MODEL_DATA", "NOISE_DATA", "COMPONENT_MODEL")
"""Columns added for one step and dropped after it."""


@dataclass(frozen=True)
class WorkingCopy:
    """A beam's working copy after a step."""

    ms: Path
    source: Path
    """The raw measurement set it was made from (only ever read)."""
    steps: tuple[str, ...]
    """Irreversible steps done to it, in order (``bandpass``, ``flag``)."""
    marker: Path | None = None
    """Completion marker of the step that returned this (None: the copy itself)."""
    skipped: bool = False
    """The step had been done already (same recipe)."""


def _working_record(source: Path, field: str | None) -> tuple[dict, tuple[str, ...], dict]:
    """Preprocessing record, steps and recipe options of a working copy of ``source``."""
    state = detect_layout(source)
    steps = planned_steps(state, field)
    record = preprocess_record(source, state, field, steps)
    options = {key: value for key, value in record.items() if key != "source"}
    return record, steps, {**options, "dropped": list(DROPPED_COLUMNS)}


def _build(source: Path, field: str | None, target: Path) -> None:
    """Copy ``source`` (the rows of ``field``) to ``target``, preprocessed, lean."""
    state = detect_layout(source)
    record, _, _ = _working_record(source, field)
    if field:
        copy_field(source, field, target)
    else:
        shutil.copytree(source, target, symlinks=True)
    with open_ms(target, readonly=False) as tab:
        dropped = [column for column in DROPPED_COLUMNS if column in tab.colnames()]
        if dropped:
            tab.removecols(dropped)
    preprocess_in_place(target, state, record, keep_original=False)


def make_working_copy(
    source: str | os.PathLike[str], ms: str | os.PathLike[str], field: str | None = None
) -> WorkingCopy:
    """Copy ``source`` to ``ms`` once, preprocessed as its layout needs (:mod:`flint.askap.preprocess`)
    and without :data:`DROPPED_COLUMNS`; the copy every later step changes in place.

    A copy made from the same data with the same steps is kept as it is (its ledger
    included); otherwise any earlier copy, and its markers, are removed first, so there is
    never more than one copy besides the raw data.
    """
    source, ms = check_ms(source), Path(ms)
    if source.resolve() == ms.resolve():
        raise MeasurementSetError("refusing to use the raw data as the working copy", source)
    _, steps, options = _working_record(source, field)
    recipe = Recipe.of("working copy", {"ms": source}, options)
    if recipe.made(ms):
        logger.info("Working copy %s of %s is up to date; keeping it", ms, source)
        record = read_record(ms) or {}
        entries = ledger(record)
        return WorkingCopy(ms, source, tuple(e["step"] for e in entries), skipped=True)
    forget_copy(ms)
    with atomic_path(ms, overwrite=True) as temporary:
        _build(source, field, temporary)
    recipe.record(ms, extra={"source": str(source.resolve()), "field": field or "", LEDGER: []})
    sync_markers(ms, [])
    logger.info(
        "Working copy %s of %s (%s)", ms, source, ", ".join(steps) or "nothing to preprocess"
    )
    return WorkingCopy(ms, source, ())


def ensure_clean(ms: str | os.PathLike[str]) -> dict:
    """The record of working copy ``ms``, repaired first if a change to it was interrupted
    (or it was changed outside flint): a transient column is dropped, anything else is
    rebuilt from the raw data by replaying the ledger."""
    ms = Path(ms)
    record = read_record(ms)
    if record is None or "source" not in record:
        raise MeasurementSetError(
            "not a working copy flint made (no sidecar naming its raw data)", ms
        )
    pending = record.get(PENDING)
    if pending is None:
        if ms.exists() and read_sidecar(ms) is not None:
            return record
        logger.warning("%s changed outside flint; rebuilding it from %s", ms, record["source"])
        return rebuild(ms, record, len(ledger(record)))
    if pending.get("kind") == TRANSIENT and ms.exists():
        try:
            drop_columns(ms, tuple(pending.get("columns", TRANSIENT_COLUMNS)), record)
            logger.warning("%s: dropped a column left by an interrupted %s", ms, pending["what"])
            return read_record(ms) or record
        except Exception as error:  # the table itself is damaged: rebuild
            logger.warning("%s: cannot drop a transient column (%s)", ms, error)
    logger.warning(
        "%s: an in-place %s was interrupted; rebuilding it from %s",
        ms,
        pending.get("what"),
        record["source"],
    )
    return rebuild(ms, record, len(ledger(record)))


def drop_columns(ms: Path, columns: tuple[str, ...], record: dict | None = None) -> None:
    """Drop ``columns`` (those present) from working copy ``ms`` and re-mark it clean; what
    its record says of them (amendments, held outputs) goes too."""
    record = record if record is not None else read_record(ms)
    with open_ms(ms, readonly=False) as tab:
        present = [column for column in columns if column in tab.colnames()]
        if present:
            tab.removecols(present)
    if record is not None:
        record.pop(PENDING, None)
        for key in ("amendments", HELD):
            if key in record:
                record[key] = {k: v for k, v in record[key].items() if k not in columns}
        if not record.get("amendments"):
            record.pop("amendments", None)
        write_record(ms, record)


def _replay_bandpass(ms: Path, args: dict) -> None:
    apply_in_place(ms, args["solutions"], "DATA")


def _replay_flag(ms: Path, args: dict) -> None:
    run_aoflagger(
        ms,
        None,
        column=args["column"],
        keep_input_flags=args["keep_input_flags"],
        strategy=args["strategy"],
        base_threshold=args["base_threshold"],
        log_path=ms.with_name(ms.name + ".replay.aoflagger.log"),
    )


REPLAY: dict[str, Callable[[Path, dict], None]] = {
    "bandpass": _replay_bandpass,
    "flag": _replay_flag,
}


def _still_valid(entry: dict) -> bool:
    """Whether a ledger entry's inputs are still what they were (it replays to the same state)."""
    for name, path in entry.get("inputs", {}).items():
        if identity(path) != entry["identities"][name]:
            logger.info("%s of %s changed since; not replaying it", name, entry["step"])
            return False
    return True


def rebuild(ms: str | os.PathLike[str], record: dict, keep: int) -> dict:
    """Remake working copy ``ms`` from its raw data and replay the first ``keep`` ledger
    steps (whose inputs are unchanged); its new record. Replays are deterministic, so the
    copy's identity, and every product made from it, stays valid."""
    ms = Path(ms)
    source = check_ms(record["source"])
    entries = []
    for entry in ledger(record)[:keep]:
        if not _still_valid(entry):
            break
        entries.append(entry)
    shutil.rmtree(ms, ignore_errors=True)
    applied_gains_path(ms).unlink(missing_ok=True)
    with atomic_path(ms, overwrite=True) as temporary:
        _build(source, record.get("field") or None, temporary)
        for entry in entries:
            logger.info("Replaying %s on %s", entry["step"], ms)
            REPLAY[entry["step"]](temporary, entry["args"])
    dropped = (PENDING, APPLIED, HELD)  # the copy is remade: no gains, no derived columns
    record = {key: value for key, value in record.items() if key not in dropped}
    record = _set_ledger(record, entries)
    write_record(ms, record)
    sync_markers(ms, entries)
    return record


def _set_ledger(record: dict, entries: list[dict]) -> dict:
    amendments = {entry["column"]: entry["key"] for entry in entries}
    record[LEDGER] = entries
    if amendments:
        record["amendments"] = amendments
    else:
        record.pop("amendments", None)
    return record


def _append_step(
    ms: Path,
    step: str,
    column: str,
    recipe: Recipe,
    args: dict,
    inputs: dict[str, Path],
    action: Callable[[], object],
) -> WorkingCopy:
    """Do ``action`` (an irreversible change of ``column``) unless the ledger has it."""
    record = ensure_clean(ms)
    entries = ledger(record)
    source = Path(record["source"])
    position = next((i for i, e in enumerate(entries) if e["column"] == column), len(entries))
    marker = marker_path(ms, step, recipe.key)
    if position < len(entries) and entries[position]["key"] == recipe.key:
        sync_markers(ms, entries)
        logger.info("%s of %s done already with these inputs; skipping", step, ms)
        steps = tuple(e["step"] for e in entries[: position + 1])
        return WorkingCopy(ms, source, steps, marker, skipped=True)
    if position < len(entries) or record.get(APPLIED):
        logger.info("%s: %s again from the raw data (its inputs changed)", ms, step)
        record = rebuild(ms, record, position)
        entries = ledger(record)
        if len(entries) < position:
            raise MeasurementSetError(
                f"cannot {step}: a step before it no longer replays (its inputs changed); "
                "run the flow again",
                ms,
            )
    entry = {
        "step": step,
        "column": column,
        "key": recipe.key,
        "args": args,
        "inputs": {name: str(Path(path).absolute()) for name, path in inputs.items()},
        "identities": {name: identity(path) for name, path in inputs.items()},
    }
    with changing(ms, REBUILD, step) as current:
        action()
        _set_ledger(current, [*entries, entry])
    sync_markers(ms, [*entries, entry])
    return WorkingCopy(ms, source, tuple(e["step"] for e in [*entries, entry]), marker)


def calibrate_in_place(
    ms: str | os.PathLike[str], solutions_path: str | os.PathLike[str]
) -> WorkingCopy:
    """Apply bandpass ``solutions_path`` to DATA of working copy ``ms``, in place."""
    ms, solutions_path = Path(ms), Path(solutions_path).absolute()
    ensure_clean(ms)
    recipe = Recipe.of(
        "bandpass in place",
        {"ms": ms, "solutions": solutions_path},
        {"data_column": "DATA"},
        ignore=("DATA", "FLAG"),
    )
    return _append_step(
        ms,
        "bandpass",
        "DATA",
        recipe,
        {"solutions": str(solutions_path)},
        {"solutions": solutions_path},
        lambda: apply_in_place(ms, solutions_path, "DATA"),
    )


def flag_in_place(
    ms: str | os.PathLike[str],
    *,
    column: str = "DATA",
    keep_input_flags: bool = True,
    strategy: str | os.PathLike[str] | None = None,
    base_threshold: float | None = None,
    log_path: str | os.PathLike[str] | None = None,
) -> WorkingCopy:
    """Flag working copy ``ms`` with aoflagger, in place (see :func:`flint.flagging.run_aoflagger`)."""
    ms = Path(ms)
    ensure_clean(ms)
    strategy = Path(strategy or default_strategy()).absolute()
    settings = {
        "column": column,
        "keep_input_flags": keep_input_flags,
        "base_threshold": base_threshold,
    }
    recipe = Recipe.of(
        "aoflagger in place",
        {"ms": ms, "strategy": strategy},
        settings,
        tools=("aoflagger",),
        ignore=("FLAG",),
    )
    return _append_step(
        ms,
        "flag",
        "FLAG",
        recipe,
        {**settings, "strategy": str(strategy)},
        {"strategy": strategy},
        lambda: run_aoflagger(ms, None, **settings, strategy=strategy, log_path=log_path),
    )
