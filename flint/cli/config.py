"""``flint config create|verify``: write and check self-calibration strategy files."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``config`` subcommand."""
    parser = subparsers.add_parser("config", help="create or verify a self-calibration strategy")
    actions = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="write the default strategy, with comments")
    create.add_argument("path", nargs="?", default="strategy.yaml", help="default: %(default)s")
    create.add_argument("--force", action="store_true", help="overwrite an existing file")
    create.set_defaults(handler=_create)
    verify = actions.add_parser("verify", help="print OK, or every problem of a strategy file")
    verify.add_argument("path", help="strategy YAML file")
    verify.set_defaults(handler=_verify)


def _create(args: argparse.Namespace) -> int:
    from flint.strategy import write_default_strategy

    path = write_default_strategy(args.path, overwrite=args.force)
    print(f"wrote {path}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from flint.errors import ConfigError
    from flint.strategy import load_strategy

    try:
        strategy = load_strategy(args.path)
    except ConfigError as error:
        print(f"{args.path}: {len(error.problems)} problem(s)", file=sys.stderr)
        for problem in error.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(
        f"OK: {args.path} (version {strategy.version}, {strategy.selfcal_rounds} self-calibration rounds)"
    )
    return 0
