"""Logging set-up for command-line use. Library modules only call ``getLogger(__name__)``."""

from __future__ import annotations

import logging

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def configure_cli_logging(verbose: int = 0) -> None:
    """Send flint's log records to stderr at INFO (or DEBUG with ``verbose``)."""
    level = logging.DEBUG if verbose else logging.INFO
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT, datefmt="%H:%M:%S"))
    logger = logging.getLogger("flint")
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False
