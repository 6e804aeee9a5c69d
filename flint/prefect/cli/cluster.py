"""``flint cluster list|check``: the built-in cluster configs, and what a config resolves to."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``cluster`` subcommand."""
    parser = subparsers.add_parser("cluster", help="check Dask cluster configs")
    actions = parser.add_subparsers(dest="cluster_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="names of the built-in cluster configs")
    listing.set_defaults(handler=_list)
    check = actions.add_parser(
        "check",
        help="validate a cluster YAML and print its resolved settings and job script",
        description="Starts nothing: works without a scheduler or the workers' network.",
    )
    check.add_argument("config", nargs="?", default="local", help="YAML file or built-in name")
    check.add_argument("--json", action="store_true", help="print the resolved settings as JSON")
    check.set_defaults(handler=_check)


def _list(args: argparse.Namespace) -> int:
    from flint.prefect.cluster import builtin_cluster_names

    print("\n".join(builtin_cluster_names()))
    return 0


def _check(args: argparse.Namespace) -> int:
    from flint.prefect.cluster import cluster_kwargs, describe, job_script, load_cluster_config

    config = load_cluster_config(args.config)
    if args.json:
        data = config.model_dump(mode="json")
        data["cluster_kwargs"] = cluster_kwargs(config)
        data["job_script"] = job_script(config)
        print(json.dumps(data, indent=2))
    else:
        print(describe(config), end="")
    return 0
