"""Flows hold their output directory for the whole run (:mod:`flint.runlock`)."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any

from flint.runlock import hold_output_dir

RUNNING: set[str] = set()
"""Ids of the flint flow runs executing in this process (for Ctrl-C: :mod:`running`)."""


def _this_run() -> tuple[str, dict]:
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return "a flow run outside Prefect", {}
    run = context.flow_run
    return f"flow run {run.name!r} ({run.id})", {"flow_run_id": str(run.id)}


def one_run_per_output_dir(function: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a flow function: hold its ``output_dir`` until every task it returned finished.

    Put it between ``@flow`` and the function. A second run on the directory fails at once
    with :class:`flint.runlock.OutputBusyError` naming the run that holds it.
    """
    signature = inspect.signature(function)

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        from prefect.futures import PrefectFuture, wait

        output_dir = signature.bind(*args, **kwargs).arguments["output_dir"]
        name, info = _this_run()
        run_id = info.get("flow_run_id")
        with hold_output_dir(output_dir, run=name, info=info):
            if run_id:
                RUNNING.add(run_id)
            try:
                result = function(*args, **kwargs)
                if isinstance(result, list):
                    wait([item for item in result if isinstance(item, PrefectFuture)])
                return result
            finally:
                RUNNING.discard(run_id)

    # Prefect reads the parameters' types from the signature: give it the function's own,
    # with its annotations resolved (they are strings here, and names of its module)
    run.__signature__ = inspect.signature(function, eval_str=True)
    run.__annotations__ = typing.get_type_hints(function)
    return run
