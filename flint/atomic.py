"""Write products atomically: build under a temporary name, then rename into place."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


@contextmanager
def atomic_path(final: str | os.PathLike[str], overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling path of ``final``; rename it to ``final`` on success.

    Works for files and directories (measurement sets). On error the temporary
    product is removed and ``final`` is untouched.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = final.with_name(f".{final.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        yield temporary
        if final.exists() or final.is_symlink():
            if not overwrite:
                raise FileExistsError(f"{final}: already exists; refusing to overwrite it")
            _remove(final)
        os.replace(temporary, final)
    finally:
        _remove(temporary)


def copy_atomically(
    source: str | os.PathLike[str], destination: str | os.PathLike[str], overwrite: bool = False
) -> Path:
    """Copy a file or directory tree to ``destination`` atomically; return the destination."""
    source, destination = Path(source), Path(destination)
    with atomic_path(destination, overwrite=overwrite) as temporary:
        if source.is_dir():
            shutil.copytree(source, temporary, symlinks=True)
        else:
            shutil.copy2(source, temporary)
    return destination


IGNORED_WHEN_DATING = frozenset({"table.lock"})
"""Files that change when a product is merely read (casacore's lock file)."""


def latest_mtime(path: str | os.PathLike[str]) -> float:
    """Modification time of a file, or the newest of a directory's own files (an MS)."""
    path = Path(path)
    if not path.is_dir():
        return path.stat().st_mtime
    times = [
        entry.stat().st_mtime
        for entry in path.iterdir()
        if entry.is_file() and entry.name not in IGNORED_WHEN_DATING
    ]
    return max(times, default=path.stat().st_mtime)


def up_to_date(
    products: Iterable[str | os.PathLike[str]], inputs: Iterable[str | os.PathLike[str]]
) -> bool:
    """True when every product exists and none is older than any input (a rerun may skip).

    A product made before its input was remade (a new image, say) is stale. Measurement
    sets are dated by their newest table file.
    """
    products = [Path(p) for p in products]
    if not all(p.exists() for p in products):
        return False
    newest_input = max((latest_mtime(i) for i in inputs if Path(i).exists()), default=0.0)
    return all(latest_mtime(p) >= newest_input for p in products)


def _recipe_path(product: Path) -> Path:
    return product.with_name(f"{product.name}.flint.json")


def record_recipe(product: str | os.PathLike[str], recipe: dict) -> None:
    """Write what ``product`` was made with (options, inputs) beside it, atomically."""
    import json

    with atomic_path(_recipe_path(Path(product)), overwrite=True) as temporary:
        temporary.write_text(json.dumps(recipe, sort_keys=True, default=str))


def made_with(product: str | os.PathLike[str], recipe: dict) -> bool:
    """True when ``product`` was recorded as made with exactly ``recipe``."""
    import json

    try:
        recorded = json.loads(_recipe_path(Path(product)).read_text())
    except (OSError, ValueError):
        return False
    return recorded == json.loads(json.dumps(recipe, sort_keys=True, default=str))
