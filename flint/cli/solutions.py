"""``flint solutions inspect|flag|plot``: look at and repair calibration solutions."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``solutions`` subcommand."""
    parser = subparsers.add_parser("solutions", help="inspect and repair calibration solutions")
    actions = parser.add_subparsers(dest="solutions_command", metavar="ACTION", required=True)

    inspect = actions.add_parser("inspect", help="shape, flags and per-antenna numbers")
    inspect.add_argument("file", type=Path, help="MWAOCAL solutions file")
    inspect.add_argument("--json", action="store_true", help="print JSON")
    inspect.set_defaults(handler=_inspect)

    flag = actions.add_parser("flag", help="flag outliers (and smooth); write a repaired copy")
    flag.add_argument("file", type=Path, help="MWAOCAL solutions file")
    flag.add_argument("-o", "--output", type=Path, help="default: FILE with .flagged before .bin")
    flag.add_argument("--smooth", type=int, default=0, help="Savitzky-Golay window (channels)")
    flag.add_argument("--plot", action="store_true", help="also write a PNG of the result")
    flag.add_argument("--json", action="store_true", help="print what was flagged as JSON")
    flag.set_defaults(handler=_flag)

    plot = actions.add_parser("plot", help="amplitude and phase per antenna (PNG)")
    plot.add_argument("file", type=Path)
    plot.add_argument("-o", "--output", type=Path, help="default: FILE.png")
    plot.set_defaults(handler=_plot)


def _inspect(args: argparse.Namespace) -> int:
    from flint.calibration.summary import format_summary, summarise_solutions

    summary = summarise_solutions(args.file)
    print(
        json.dumps(summary.model_dump(mode="json"), indent=2)
        if args.json
        else format_summary(summary)
    )
    return 0


def _flag(args: argparse.Namespace) -> int:
    from flint.calibration.plots import plot_solutions
    from flint.calibration.repair import RepairOptions, repair_solutions
    from flint.calibration.solutions import read_solutions, write_solutions

    solutions = read_solutions(args.file)
    output = args.output or args.file.with_name(
        f"{args.file.stem}.{'smoothed' if args.smooth else 'flagged'}{args.file.suffix}"
    )
    repaired, report = repair_solutions(solutions, RepairOptions(smooth_window=args.smooth))
    write_solutions(repaired, output)
    if args.plot:
        plot_solutions(repaired, output.with_suffix(".png"), reference=solutions)
    if args.json:
        print(json.dumps({"output": str(output), **report.as_dict()}, indent=2))
        return 0
    print(f"wrote {output}")
    print(f"  reference antenna  {report.reference_antenna}")
    print(
        f"  flagged            {100 * report.flagged_fraction_before:.2f} % -> "
        f"{100 * report.flagged_fraction_after:.2f} %"
    )
    print(f"  whole antennas     {report.antennas}")
    for name in ("amplitude", "phase", "ratio"):
        for antenna, channels in getattr(report, name).items():
            print(f"  ant {antenna:3d} {name:9s} channels {channels}")
    return 0


def _plot(args: argparse.Namespace) -> int:
    from flint.calibration.plots import plot_solutions
    from flint.calibration.solutions import read_solutions

    output = plot_solutions(read_solutions(args.file), args.output or args.file.with_suffix(".png"))
    print(f"wrote {output}")
    return 0
