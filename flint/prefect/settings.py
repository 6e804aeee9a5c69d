"""Prefect settings flint relies on, applied explicitly (never at import).

Defaults (only where the user has not set them):

- ``PREFECT_LOGGING_EXTRA_LOGGERS="flint,fixms"``: flint's log lines reach the run's logs;
- ``PREFECT_RESULTS_PERSIST_BY_DEFAULT=true``: a task whose worker died is looked up, not
  recomputed;
- ``PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW=ignore``: flint logging outside a run is no error;
- ``PREFECT_LOGGING_SETTINGS_PATH``: a copy of Prefect's logging configuration that also
  gives the extra loggers the level ``PREFECT_LOGGING_LEVEL`` (Prefect only copies their
  handlers, so INFO lines would stop at the root logger's WARNING). Being an environment
  variable it reaches Dask worker processes, local or in SLURM jobs.

``PREFECT_HOME`` and ``PREFECT_LOGGING_LEVEL`` are Prefect's own and are honoured as is.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from concurrent.futures import wait
from pathlib import Path
from typing import Any

import yaml

from flint.atomic import atomic_path

logger = logging.getLogger(__name__)

DEFAULTS: dict[str, str] = {
    "PREFECT_LOGGING_EXTRA_LOGGERS": "flint,fixms",
    "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
    # flint's loggers are also used outside runs (CLI, notebooks): no API warning there
    "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
    # send log batches often: adapt retires an idle worker within seconds, and lines still
    # queued in it (default interval 2 s) would be lost
    "PREFECT_LOGGING_TO_API_BATCH_INTERVAL": "0.5",
}
LOGGING_FILE_NAME = "flint-logging.yml"


def prefect_home() -> Path:
    """``PREFECT_HOME`` (default ``~/.prefect``), read without importing Prefect."""
    return Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()


def extra_loggers() -> list[str]:
    """The loggers Prefect forwards to the API besides its own."""
    value = os.environ.get(
        "PREFECT_LOGGING_EXTRA_LOGGERS", DEFAULTS["PREFECT_LOGGING_EXTRA_LOGGERS"]
    )
    return [name.strip() for name in value.split(",") if name.strip()]


def logging_config_text(base_config: Mapping, loggers: list[str]) -> str:
    """Prefect's logging configuration with ``loggers`` at ``PREFECT_LOGGING_LEVEL`` (pure)."""
    config = dict(base_config)
    config["loggers"] = dict(config.get("loggers", {}))
    for name in loggers:
        config["loggers"].setdefault(name, {"level": "${PREFECT_LOGGING_LEVEL}"})
    return yaml.safe_dump(config, sort_keys=False)


def _write_logging_settings(home: Path) -> Path:
    from prefect.logging.configuration import DEFAULT_LOGGING_SETTINGS_PATH

    base = yaml.safe_load(DEFAULT_LOGGING_SETTINGS_PATH.read_text())
    path = home / LOGGING_FILE_NAME
    text = logging_config_text(base, extra_loggers())
    if not path.exists() or path.read_text() != text:
        home.mkdir(parents=True, exist_ok=True)
        with atomic_path(path, overwrite=True) as temporary:
            temporary.write_text(text)
    return path


def apply_environment(values: Mapping[str, str]) -> None:
    """Put ``values`` into ``os.environ`` and make an imported Prefect see them."""
    os.environ.update(values)
    refresh_prefect_settings()


def refresh_prefect_settings() -> None:
    """Make an imported Prefect see ``os.environ`` as it is now.

    When that changes the API (its URL or credentials), Prefect's event and API-log workers
    of this process are stopped, after sending what they hold to the server they started
    with: they are cached without the URL, so a flow run on the new server would otherwise
    have its task-run states and log lines sent to the old one. The next event or log line
    starts workers for the new server.
    """
    if "prefect.context" not in sys.modules:
        return
    import prefect.context

    before = _api_of(prefect.context.GLOBAL_SETTINGS_CONTEXT.settings)
    prefect.context.refresh_global_settings_context()
    if _api_of(prefect.context.GLOBAL_SETTINGS_CONTEXT.settings) != before:
        _stop_api_services()


def _api_of(settings: Any) -> tuple[Any, ...]:
    api = settings.api
    return (api.url, api.key, getattr(api, "auth_string", None))


def _stop_api_services(timeout: float = 5.0) -> None:
    from prefect._internal.concurrency.services import _QueueServiceBase
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    cached = tuple(_QueueServiceBase._instances.values())  # one dict for every service kind
    services = [s for s in cached if isinstance(s, (EventsWorker, APILogWorker))]
    if services:
        logger.debug("Prefect API changed: stopping %d API-bound services", len(services))
        wait([service._drain() for service in services], timeout=timeout)


def apply_prefect_defaults() -> dict[str, str]:
    """Set flint's Prefect defaults where unset; return what was set. Safe to repeat."""
    changes = {key: value for key, value in DEFAULTS.items() if key not in os.environ}
    home = prefect_home()
    if "PREFECT_LOGGING_SETTINGS_PATH" not in os.environ and not (home / "logging.yml").exists():
        os.environ.update(changes)  # the file depends on the extra loggers
        changes["PREFECT_LOGGING_SETTINGS_PATH"] = str(_write_logging_settings(home))
    if changes:
        logger.debug("Prefect defaults set: %s", changes)
        apply_environment(changes)
    _attach_extra_loggers()
    return changes


def _attach_extra_loggers() -> None:
    """In this process, give the extra loggers Prefect's API handler and level (idempotent)."""
    if "prefect.logging.configuration" not in sys.modules:
        return  # Prefect configures them itself when imported later
    from prefect.logging.configuration import PROCESS_LOGGING_CONFIG

    if not PROCESS_LOGGING_CONFIG:
        return
    level = logging.getLevelName(os.environ.get("PREFECT_LOGGING_LEVEL", "INFO").upper())
    handlers = logging.getLogger("prefect.extra").handlers
    for name in extra_loggers():
        target = logging.getLogger(name)
        for handler in handlers:
            if handler not in target.handlers:
                target.addHandler(handler)
        if target.level == logging.NOTSET and isinstance(level, int):
            target.setLevel(level)
