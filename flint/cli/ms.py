"""``flint ms summary``: what a measurement set holds."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``ms`` subcommand."""
    parser = subparsers.add_parser("ms", help="inspect measurement sets")
    actions = parser.add_subparsers(dest="ms_command", metavar="ACTION", required=True)
    summary = actions.add_parser("summary", help="antennas, beams, channels, times, flags")
    summary.add_argument("ms", nargs="+", help="measurement set(s)")
    summary.add_argument("--json", action="store_true", help="print JSON")
    summary.set_defaults(handler=_summary)


def _summary(args: argparse.Namespace) -> int:
    from flint.ms import summarise_ms

    for path in args.ms:
        summary = summarise_ms(path)
        if args.json:
            print(json.dumps(summary.model_dump(mode="json"), indent=2))
            continue
        low, high = summary.frequency_range_hz
        print(f"{summary.path}")
        print(f"  rows         {summary.n_rows}")
        print(
            f"  antennas     {len(summary.antennas)} ({summary.antennas[0]}..{summary.antennas[-1]})"
        )
        print(f"  beams        {summary.beams}")
        print(f"  fields       {', '.join(summary.fields)}")
        print(
            f"  channels     {summary.n_channels} x {summary.channel_width_hz / 1e6:.3f} MHz, "
            f"{low / 1e6:.2f}-{high / 1e6:.2f} MHz"
        )
        print(f"  correlations {' '.join(summary.correlations)}")
        print(f"  times        {summary.n_times} x {summary.integration_s:.2f} s")
        print(f"  columns      {' '.join(summary.columns)}")
        print(f"  flagged      {100 * summary.flag_fraction:.2f} %")
    return 0
