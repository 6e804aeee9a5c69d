"""The one rerun rule of flint: a product is reused only when it was made by the same recipe.

A *recipe* is what a step was given: the identity of each input, its options and the
versions of the tools it runs. Its key (a SHA-256 of that record) decides reuse, both in
the core (:meth:`Recipe.made`, then :meth:`Recipe.record` once the product is complete)
and in the Prefect flows' cache keys (``flint.prefect.cache``), so there is one rule.

The identity of a file or measurement set is content-derived but cheap:

- a product flint made carries, in its sidecar ``<product>.flint.json``, the key of the
  recipe that made it and the size and modification time of each of its files. While those
  still match, the product's identity is read from the sidecar (a ``stat`` per file, no
  reading of data). A sidecar is written last, after the product is complete, so an
  interrupted product has none (or a stale one) and is never taken as finished;
- anything else (raw data, a product changed behind flint's back) is identified by a
  SHA-256 of its content, cached per file against its device, inode, size and
  modification and change times (``FLINT_FINGERPRINT_CACHE``, default
  ``~/.cache/flint/fingerprints``): a multi-GB raw measurement set is read once, after
  that a check costs a ``stat`` per file. Touching a file without changing it keeps its
  identity.

A step that writes into a product it was given (wsclean filling MODEL_DATA of the
measurement set it images) records an *amendment* (:func:`amend`): the product's identity
then includes it, so a step reading that column sees the change; the writing step itself
leaves its own amendment out (``ignore=``), so it does not invalidate itself.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import math
import os
import shutil
import subprocess
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

SIDECAR_SUFFIX = ".flint.json"
PENDING = "pending"
"""Sidecar key of a product being changed in place (see :func:`read_sidecar`)."""
IGNORED_FILES = frozenset({"table.lock"})
"""Files that change when a product is merely read (casacore's lock file)."""
MISSING = "missing"
HASH_CHUNK = 8 * 2**20


# --- canonical JSON --------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data (pydantic models, dataclasses, paths, numpy, enums).

    Raises TypeError for anything else rather than keying on a ``repr`` (which may hold a
    memory address and would never match again).
    """
    from pydantic import BaseModel

    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, BaseModel):
        return jsonable(value.model_dump(mode="json"))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted(jsonable(item) for item in value)
    if hasattr(value, "tolist") and hasattr(value, "dtype"):  # numpy scalars and arrays
        return jsonable(value.tolist())
    raise TypeError(f"cannot make a recipe from a {type(value).__name__}: {value!r:.80}")


def digest(value: Any) -> str:
    """SHA-256 of ``value``'s canonical JSON."""
    text = json.dumps(jsonable(value), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


# --- files: stat signatures and content fingerprints -----------------------------------


def _files(path: Path) -> Iterator[tuple[str, os.stat_result]]:
    """(relative name, stat) of ``path`` itself or of every file under it, sorted."""
    if not path.is_dir():
        yield "", path.stat()
        return
    found = []
    for root, _, names in os.walk(path):
        for name in names:
            if name in IGNORED_FILES:
                continue
            full = Path(root) / name
            found.append((str(full.relative_to(path)), full.stat()))
    yield from sorted(found)


def stat_signature(path: str | os.PathLike[str]) -> list[list]:
    """Name, size and modification time (ns) of every file of ``path`` (a file or an MS)."""
    return [[name, st.st_size, st.st_mtime_ns] for name, st in _files(Path(path))]


def _cache_dir() -> Path:
    configured = os.environ.get("FLINT_FINGERPRINT_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "flint" / "fingerprints"


def _hash_file(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _load_cache(where: Path) -> dict:
    try:
        return json.loads(where.read_text())
    except (OSError, ValueError):
        return {}


def _save_cache(where: Path, entries: dict) -> None:
    from flint.atomic import atomic_path

    try:
        with atomic_path(where, overwrite=True) as temporary:
            temporary.write_text(json.dumps(entries))
    except OSError as error:  # a read-only cache only costs speed
        logger.debug("cannot write fingerprint cache %s: %s", where, error)


FINGERPRINT_STATS = {"hashed_bytes": 0}
"""Bytes read to fingerprint content in this process (tests and benchmarks read it)."""


def fingerprint(path: str | os.PathLike[str]) -> str:
    """SHA-256 of the content of a file or directory tree (names and file contents).

    Each file's digest is cached against its device, inode, size, mtime and ctime, so only
    files that changed (or were replaced) are read again. The ctime cannot be set by a
    user: a file rewritten and dated back is still read again.
    """
    path = Path(path).absolute()
    where = _cache_dir() / (hashlib.sha256(str(path).encode()).hexdigest() + ".json")
    cached = _load_cache(where)
    entries, changed = {}, False
    for name, st in _files(path):
        stamp = [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]
        known = cached.get(name)
        if known is not None and known[0] == stamp:
            entries[name] = known
            continue
        entries[name] = [stamp, _hash_file(path / name if name else path)]
        FINGERPRINT_STATS["hashed_bytes"] += st.st_size
        changed = True
    if changed or set(cached) != set(entries):
        _save_cache(where, entries)
    return digest(sorted((name, entry[1]) for name, entry in entries.items()))


# --- products: sidecars --------------------------------------------------------------


def sidecar_path(product: str | os.PathLike[str]) -> Path:
    """``<product>.flint.json`` beside ``product``."""
    product = Path(product)
    return product.with_name(product.name + SIDECAR_SUFFIX)


def read_sidecar(product: str | os.PathLike[str]) -> dict | None:
    """The sidecar of ``product`` if it still describes it (same files, sizes and times).

    A product flint changes in place (a beam's working copy, :mod:`flint.working`) is marked
    ``pending`` while it changes: its sidecar stands, and the owner repairs the product
    before using it again (a change a killed run left half done).
    """
    product = Path(product)
    try:
        record = json.loads(sidecar_path(product).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not product.exists():
        return None
    if record.get(PENDING):
        return record
    try:
        intact = record.get("stat") == stat_signature(product)
    except OSError:
        return None
    return record if intact else None


def write_sidecar(product: str | os.PathLike[str], record: dict) -> None:
    """Write ``record`` as the sidecar of ``product``, with its files' current sizes and times."""
    _write_sidecar(Path(product), record)


def _write_sidecar(product: Path, record: dict) -> None:
    from flint.atomic import atomic_path

    record = {**record, "stat": stat_signature(product)}
    with atomic_path(sidecar_path(product), overwrite=True) as temporary:
        temporary.write_text(json.dumps(record, indent=1, sort_keys=True))


def identity(path: str | os.PathLike[str], ignore: Iterable[str] = ()) -> str:
    """The content-derived identity of a file or measurement set (see the module docstring).

    ``ignore`` leaves out amendments of those columns (the step that writes them).
    """
    path = Path(path)
    if not path.exists():
        return MISSING
    record = read_sidecar(path)
    if record is None:
        return "content:" + fingerprint(path)
    amendments = {k: v for k, v in record.get("amendments", {}).items() if k not in set(ignore)}
    base = record["identity"]
    return base if not amendments else "amended:" + digest([base, amendments])


def identities(value: Any, ignore: Iterable[str] = ()) -> Any:
    """``value`` with each path in it (alone, in lists or dataclass fields, or a Path field of
    a pydantic record) replaced by its identity; other values stand for themselves."""
    if isinstance(value, str | os.PathLike):
        return identity(value, ignore)
    if isinstance(value, list | tuple):
        return [identities(item, ignore) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: identities(getattr(value, f.name), ignore) for f in dataclasses.fields(value)
        }
    from pydantic import BaseModel

    if isinstance(value, BaseModel):  # a record of products (ImageProducts): its Path fields
        return {
            name: _paths_identified(getattr(value, name), ignore)
            for name in type(value).model_fields
        }
    return jsonable(value)


def _paths_identified(value: Any, ignore: Iterable[str]) -> Any:
    """``value`` with each Path in it (not strings: options hold those) identified."""
    from pydantic import BaseModel

    if isinstance(value, os.PathLike):
        return identity(value, ignore)
    if isinstance(value, BaseModel):
        return {
            name: _paths_identified(getattr(value, name), ignore)
            for name in type(value).model_fields
        }
    if isinstance(value, Mapping):
        return {str(key): _paths_identified(item, ignore) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_paths_identified(item, ignore) for item in value]
    return jsonable(value)


def amend(
    product: str | os.PathLike[str], column: str, by: str, before: dict | None, base: str
) -> None:
    """Record that ``column`` of ``product`` was (re)written by the recipe with key ``by``.

    ``before`` is the product's sidecar as read (intact) before the writing step ran, and
    ``base`` its identity then without this column: the writing step changed the product's
    files, so its old sidecar no longer matches them and is carried over from ``before``.
    """
    record = dict(before) if before is not None else {"identity": base, "recipe": None}
    record["amendments"] = {**record.get("amendments", {}), column: by}
    _write_sidecar(Path(product), record)


def intact(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` exists and, if flint made it, is unchanged since (sidecar matches)."""
    path = Path(path)
    if not path.exists():
        return False
    if not sidecar_path(path).exists():
        return True
    return read_sidecar(path) is not None


# --- tool versions -------------------------------------------------------------------


@functools.cache
def tool_version(name: str) -> str:
    """The version of a tool flint runs: a Python distribution, else ``name --version``."""
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        pass
    executable = shutil.which(name)
    if executable is None:
        return MISSING
    try:
        out = subprocess.run(
            [executable, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    lines = [line.strip() for line in (out.stdout + out.stderr).splitlines() if line.strip()]
    return lines[0] if lines else "unknown"


FLINT = "flint-workbench"
KNOWN_TOOLS = (FLINT, "wsclean", "aoflagger", "AegeanTools", "python-casacore")


# --- recipes ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipe:
    """What a step is given: input identities, options and tool versions; its key decides reuse."""

    step: str
    inputs: dict[str, Any] = field(default_factory=dict)
    """Input name -> identity (or list of identities)."""
    options: dict[str, Any] = field(default_factory=dict)
    tools: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        step: str,
        inputs: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
        tools: Sequence[str] = (),
        ignore: Iterable[str] = (),
    ) -> Recipe:
        """The recipe of ``step`` for input paths ``inputs`` (identified now) and ``options``.

        flint's own version is always one of the tools. ``ignore`` leaves out amendments of
        those columns of the inputs (the columns this step writes).
        """
        ignore = tuple(ignore)
        return cls(
            step=step,
            inputs={name: identities(value, ignore) for name, value in (inputs or {}).items()},
            options=jsonable(dict(options or {})),
            tools={name: tool_version(name) for name in sorted({FLINT, *tools})},
        )

    @functools.cached_property
    def key(self) -> str:
        return digest(dataclasses.asdict(self))

    def made(self, *products: str | os.PathLike[str]) -> bool:
        """True when every product exists, is unchanged, and was made by this recipe."""
        for product in products:
            record = read_sidecar(product)
            if record is None or record.get("recipe") != self.key:
                return False
        return bool(products)

    def record(self, *products: str | os.PathLike[str], extra: dict | None = None) -> None:
        """Mark finished ``products`` as made by this recipe (call last, once complete);
        ``extra`` entries go into their sidecars too."""
        for product in products:
            product = Path(product)
            self_identity = "made:" + digest([self.key, product.name])
            _write_sidecar(
                product,
                {
                    **(extra or {}),
                    "identity": self_identity,
                    "recipe": self.key,
                    "made_with": self.describe(),
                },
            )

    def describe(self) -> dict:
        """The recipe as JSON data (kept in sidecars, for people)."""
        return jsonable(dataclasses.asdict(self))


def forget(*products: str | os.PathLike[str]) -> None:
    """Remove the sidecars of ``products`` (before remaking them in place)."""
    for product in products:
        sidecar_path(product).unlink(missing_ok=True)
