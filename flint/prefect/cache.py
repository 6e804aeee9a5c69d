"""Prefect's side of flint's rerun rule: cache keys from content identity, results as JSON.

- :class:`InputIdentity` is the cache policy of every flint task: the key is a SHA-256 of
  the task's source, its parameters (the paths it reads replaced by their content-derived
  identity, :func:`flint.identity.identity`) and the versions of the tools flint runs. It is
  the same rule the core's reuse checks use (:class:`flint.identity.Recipe`). A cached
  result whose products are no longer intact (deleted, or changed behind flint's back) is
  dropped, so the task runs again and remakes them.
- Results are stored as data only (:class:`FlintJSONSerializer`): a JSON document naming
  one of the result types flint's tasks declare, read back with pydantic. Nothing in a
  shared output directory is ever unpickled: :class:`FlintResultStorage` refuses any record
  not written by that serializer (a planted pickle is ignored and overwritten).
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import logging
import os
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from prefect._internal.compatibility.async_dispatch import async_dispatch
from prefect.cache_policies import CachePolicy
from prefect.context import TaskRunContext
from prefect.filesystems import LocalFileSystem
from prefect.serializers import Serializer
from pydantic import Field, TypeAdapter

from flint.errors import FlintError
from flint.identity import KNOWN_TOOLS, digest, identities, intact, jsonable, tool_version

logger = logging.getLogger(__name__)

SERIALIZER = "flint-json"
PLAIN = "json"
"""The type name of results that are plain JSON data (None, numbers, strings, lists...)."""
_RESULT_TYPES: dict[str, type] = {"pathlib.Path": Path}


class UnsafeResultError(FlintError, ValueError):
    """A stored result was not written by flint's JSON serializer; it is never loaded."""


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def register_result_type(cls: Any) -> None:
    """Allow results of type ``cls`` (a dataclass, pydantic model or Path) to be stored."""
    if isinstance(cls, type) and cls.__module__ != "builtins":
        TypeAdapter(cls).json_schema(mode="serialization")  # fails now if not JSON-able
        _RESULT_TYPES[_name(cls)] = cls


def register_return_type(function: Any) -> None:
    """Register the return annotation of a task's function (its result type)."""
    returned = typing.get_type_hints(function).get("return")
    for candidate in typing.get_args(returned) or (returned,):
        if candidate is not type(None):
            register_result_type(candidate)


def _paths_in(value: Any) -> set[str]:
    """Every path held by a result (dataclass fields, model fields, lists, dicts)."""
    import dataclasses

    from pydantic import BaseModel

    found: set[str] = set()
    if isinstance(value, Path):
        found.add(str(value))
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            found |= _paths_in(getattr(value, name))
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for item in dataclasses.fields(value):
            found |= _paths_in(getattr(value, item.name))
    elif isinstance(value, dict):
        for item in value.values():
            found |= _paths_in(item)
    elif isinstance(value, list | tuple | set):
        for item in value:
            found |= _paths_in(item)
    return found


class FlintJSONSerializer(Serializer):
    """Results as JSON: ``{"type": <registered result type>, "value": ..., "paths": [...]}``.

    Loading builds only registered types, through pydantic validation: no pickle, no
    import of a class named in the file.
    """

    type: Literal["flint-json"] = Field(default=SERIALIZER, frozen=True)

    def dumps(self, obj: Any) -> bytes:
        cls = type(obj)
        if _name(cls) in _RESULT_TYPES:
            name, value = _name(cls), TypeAdapter(cls).dump_python(obj, mode="json")
        else:
            name, value = PLAIN, jsonable(obj)  # TypeError for anything that is not data
        document = {"type": name, "value": value, "paths": sorted(_paths_in(obj))}
        return json.dumps(document).encode()

    def loads(self, blob: bytes) -> Any:
        document = json.loads(blob)
        name = document["type"]
        if name == PLAIN:
            return document["value"]
        cls = _RESULT_TYPES.get(name)
        if cls is None:
            raise UnsafeResultError(f"result type {name!r} is not one flint's tasks return")
        return TypeAdapter(cls).validate_python(document["value"])


def check_record(content: bytes, where: str | os.PathLike[str] = "") -> dict:
    """The parsed record if it was written by :class:`FlintJSONSerializer`; else raise."""
    try:
        record = json.loads(content)
        serializer = record["metadata"]["serializer"]["type"]
    except (ValueError, KeyError, TypeError):
        raise UnsafeResultError("not a flint result record", where) from None
    if serializer != SERIALIZER:
        raise UnsafeResultError(
            f"stored with the {serializer!r} serializer; flint loads only {SERIALIZER!r}", where
        )
    return record


class FlintResultStorage(LocalFileSystem):
    """A local result directory that hands Prefect only records flint's serializer wrote."""

    _block_type_name = "Flint Result Storage"
    _description = "Task results of flint flows: JSON records under the output directory."

    async def aread_path(self, path: str) -> bytes:
        content = await super().aread_path(path)
        check_record(content, self._resolve_path(path))
        return content

    @async_dispatch(aread_path)
    def read_path(self, path: str) -> bytes:
        content = LocalFileSystem.read_path(self, path, _sync=True)
        check_record(content, self._resolve_path(path))
        return content


def drop_unusable_record(storage: Any, key: str) -> bool:
    """Delete the stored result ``key`` if it is unsafe or its products are not intact.

    Returns True when a record was dropped: the task will then run again.
    """
    if not isinstance(storage, LocalFileSystem):
        return False
    path = Path(storage._resolve_path(key))
    try:
        content = path.read_bytes()
    except OSError:
        return False
    try:
        record = check_record(content, path)
        result = json.loads(record["result"])
        products = result.get("paths", [])
    except (UnsafeResultError, ValueError, KeyError, TypeError, AttributeError) as error:
        logger.warning("Dropping unusable cached result %s: %s", path, error)
        path.unlink(missing_ok=True)
        return True
    broken = [product for product in products if not intact(product)]
    if broken:
        logger.info(
            "Cached result %s dropped: %s missing or changed since; running again",
            path.name,
            ", ".join(broken[:3]) + ("..." if len(broken) > 3 else ""),
        )
        path.unlink(missing_ok=True)
        return True
    return False


@functools.cache
def source_digest(function: Any) -> str:
    """SHA-256 of a function's source (of the core function a task wraps)."""
    function = inspect.unwrap(function)
    try:
        text = inspect.getsource(function)
    except (OSError, TypeError):
        text = f"{function.__module__}.{function.__qualname__}"
    return hashlib.sha256(text.encode()).hexdigest()


@functools.cache
def tool_versions() -> dict[str, str]:
    """Versions of every tool flint runs (wsclean, aoflagger, AegeanTools...), once a process."""
    return {name: tool_version(name) for name in KNOWN_TOOLS}


@dataclass
class InputIdentity(CachePolicy):
    """Cache key: task source, parameters with ``reads`` identified by content, tool versions.

    ``reads`` names the parameters holding paths the task reads; ``amends`` the measurement
    set columns the task writes into one of those inputs (wsclean's MODEL_DATA): those
    amendments are left out of the inputs' identities, so the task does not invalidate its
    own cache by running.
    """

    reads: tuple[str, ...] = ()
    amends: tuple[str, ...] = ()

    def compute_key(
        self,
        task_ctx: TaskRunContext | None,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        values = {
            name: {"identity": identities(value, self.amends)}
            if name in self.reads
            else jsonable(value)
            for name, value in sorted(inputs.items())
        }
        task = getattr(task_ctx, "task", None)
        key = digest(
            {
                "task": getattr(task, "name", None),
                "source": source_digest(task.fn) if task is not None else None,
                "parameters": values,
                "tools": tool_versions(),
            }
        )
        store = getattr(task_ctx, "result_store", None)
        if store is not None:
            drop_unusable_record(store.result_storage, key)
        return key
