"""``flint plan``: wall time, core-hours, memory and disk of a scheduling block on a cluster."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``plan`` subcommand."""
    parser = subparsers.add_parser(
        "plan",
        help="estimate wall time, core-hours, memory per worker and disk of a block",
        description=(
            "Lists the flows' tasks for every beam under SBID_DIR, costs each stage from the "
            "benchmarks' measurements (flint/data/costs/stage_costs.json; docs/performance.md) "
            "and schedules them on the cluster's workers. Reads only the tables' sizes."
        ),
    )
    parser.add_argument("sbid_dir", type=Path, help="directory of the science beam MSs")
    parser.add_argument(
        "--cluster", default="local", help="cluster config: YAML file or built-in name (local)"
    )
    parser.add_argument("--strategy", type=Path, help="strategy YAML (default: packaged)")
    parser.add_argument("--calibrator", type=Path, help="calibrator block: plan the bandpass too")
    parser.add_argument("--costs", type=Path, help="cost table JSON (default: packaged)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=_plan)


def _plan(args: argparse.Namespace) -> int:
    from flint.prefect.plan import plan_observation

    plan = plan_observation(args.sbid_dir, args.cluster, args.strategy, args.calibrator, args.costs)
    if args.json:
        print(json.dumps(asdict(plan), indent=1, default=str))
    else:
        print("\n".join(plan.describe()))
    return 0
