"""``flint bandpass`` and ``flint continuum``: the pipeline flows from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path


def _cluster_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cluster", default="local", help="cluster config: YAML file or built-in name (local)"
    )


def register_bandpass(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``bandpass`` subcommand."""
    parser = subparsers.add_parser(
        "bandpass", help="flag and solve the bandpass of every beam of a PKS B1934-638 scan"
    )
    parser.add_argument("calibrator_dir", type=Path, help="directory of the calibrator's beam MSs")
    parser.add_argument("--output", type=Path, required=True, help="where solutions go")
    parser.add_argument("--beams", type=int, nargs="+", help="only these beams")
    _cluster_argument(parser)
    parser.set_defaults(handler=_bandpass)


def _bandpass(args: argparse.Namespace) -> int:
    from flint.prefect.flows.bandpass import bandpass_flow
    from flint.prefect.running import run_flow

    run_flow(
        bandpass_flow,
        cluster=args.cluster,
        calibrator_dir=args.calibrator_dir,
        output_dir=args.output,
        beams=args.beams,
    )
    for path in sorted(args.output.glob("*.repaired.bin")):
        print(path)
    return 0
