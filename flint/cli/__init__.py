"""The ``flint`` command.

Subcommands are plugins registered under the ``flint.cli`` entry-point group, so
the core never imports the orchestration layer: ``flint.prefect`` adds its own
subcommands (bandpass, continuum, demo, cluster, server) the same way. A plugin is
a function ``register(subparsers)`` that adds one subparser and sets ``handler``;
heavy imports belong inside the handler so ``flint --help`` stays fast.
"""

from __future__ import annotations

import argparse
import logging
import sys
from importlib.metadata import entry_points

from flint import __version__
from flint.errors import FlintError
from flint.logs import configure_cli_logging

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="flint", description="ASKAP calibration, imaging and mosaicking workbench."
    )
    parser.add_argument("--version", action="version", version=f"flint {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for plugin in sorted(entry_points(group="flint.cli"), key=lambda ep: ep.name):
        try:
            register = plugin.load()
        except ImportError as error:  # a broken optional part must not take the others down
            logger.warning("flint %s is unavailable: %s", plugin.name, error)
            continue
        register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``flint`` command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    configure_cli_logging(args.verbose)
    try:
        return int(args.handler(args) or 0)
    except FlintError as error:
        print(f"flint {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
