"""``flint bandpass`` and ``flint continuum``: the pipeline flows from the command line."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

CONSOLE_LOG = Path("logs") / "console.log"
"""Under the output directory: what other programs wrote to the console during the run."""


def _others_to_log(output_dir: Path, verbose: int) -> AbstractContextManager:
    """Other programs' console output (casacore's warnings, Dask workers' and Prefect's logs)
    to ``output_dir/logs/console.log`` rather than the terminal; with ``-v`` all of it stays
    on the terminal (:mod:`flint.console`)."""
    if verbose:
        return nullcontext()
    return _others_to_log_with_held(output_dir / CONSOLE_LOG)


@contextmanager
def _others_to_log_with_held(path: Path) -> Iterator[Path]:
    from flint.console import others_to_log
    from flint.prefect.progress import release_held_output

    with others_to_log(path):
        release_held_output()  # Prefect's first-run notice, held since it was imported
        yield path


def _cluster_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cluster", default="local", help="cluster config: YAML file or built-in name (local)"
    )


def register_bandpass(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``bandpass`` subcommand."""
    parser = subparsers.add_parser(
        "bandpass", help="flag and solve the bandpass of every beam of a PKS B1934-638 scan"
    )
    parser.add_argument(
        "calibrator_dir",
        type=Path,
        help="directory of the calibrator's beam MSs (a raw calibrator block, or flint layout)",
    )
    parser.add_argument("--output", type=Path, required=True, help="where solutions go")
    parser.add_argument("--beams", type=int, nargs="+", help="only these beams")
    _cluster_argument(parser)
    parser.set_defaults(handler=_bandpass)


def _bandpass(args: argparse.Namespace) -> int:
    from flint.prefect.progress import quiet_console

    quiet_console(args.verbose)  # before Prefect is imported
    from flint.prefect.flows.bandpass import bandpass_flow, check_bandpass_inputs
    from flint.prefect.running import run_flow

    observation, _ = check_bandpass_inputs(args.calibrator_dir, args.beams)  # nothing written
    print(observation.describe())

    with _others_to_log(args.output, args.verbose):
        run_flow(
            bandpass_flow,
            cluster=args.cluster,
            progress=True,
            n_beams=len(observation.beams),
            calibrator_dir=args.calibrator_dir,
            output_dir=args.output,
            beams=args.beams,
        )
    for path in sorted(args.output.glob("*.repaired.bin")):
        print(path)
    return 0


def register_continuum(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``continuum`` subcommand."""
    parser = subparsers.add_parser(
        "continuum", help="calibrate, image, self-calibrate, mosaic and validate every beam"
    )
    parser.add_argument(
        "science_dir", type=Path, help="directory of the science beam MSs (raw, CASDA or flint)"
    )
    parser.add_argument(
        "--bandpass",
        type=Path,
        help="bandpass flow output (required, except for calibrated CASDA data)",
    )
    parser.add_argument("--output", type=Path, required=True, help="where products go")
    parser.add_argument("--strategy", type=Path, help="strategy YAML (default: packaged)")
    parser.add_argument("--beams", type=int, nargs="+", help="only these beams")
    parser.add_argument("--truth", type=Path, help="reference catalogue to validate against")
    _cluster_argument(parser)
    parser.set_defaults(handler=_continuum)


def _continuum(args: argparse.Namespace) -> int:
    from flint.prefect.progress import quiet_console

    quiet_console(args.verbose)  # before Prefect is imported
    from flint.prefect.flows.continuum import check_inputs, continuum_flow
    from flint.prefect.running import run_flow

    _, observation, _ = check_inputs(args.science_dir, args.bandpass, args.strategy, args.beams)
    print(observation.describe())  # bad input failed above: nothing written
    with _others_to_log(args.output, args.verbose):
        results = run_flow(
            continuum_flow,
            cluster=args.cluster,
            progress=True,
            n_beams=len(observation.beams),
            science_dir=args.science_dir,
            bandpass_dir=args.bandpass,
            output_dir=args.output,
            strategy=args.strategy,
            beams=args.beams,
            truth=args.truth,
        )
    _print_results(results, args.output, args.verbose)
    return 0


def _print_results(results: list, output_dir: Path | None = None, verbose: int = 0) -> None:
    """The final summary: each beam's distance from the thermal limit, the validation
    summary, and where the products, the tools' logs and others' console output are."""
    from flint.validation import ValidationResult
    from flint.validation.thermal import ThermalLimit

    for result in results:
        if isinstance(result, ThermalLimit):
            floor = "" if result.clean_floor is None else f", clean floor {result.clean_floor:.3f}"
            print(  # one terminal row: residual rms over the noise imaged alone
                f"thermal  {result.residual.name}: rms {1e6 * result.residual_rms_jy:.1f} uJy "
                f"= {result.ratio:.3f} x noise alone ({1e6 * result.noise_rms_jy:.1f} uJy){floor}"
            )
    for result in results:
        if isinstance(result, ValidationResult):
            print(result.summary.describe())
            print(f"validation figure: {result.figure}")
    if output_dir is not None:
        print(f"products: {output_dir} (tool logs beside them: beamNN/images/*.log, */logs/)")
        if not verbose and (output_dir / CONSOLE_LOG).exists():
            print(f"other programs' console output: {output_dir / CONSOLE_LOG}")


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def register_demo(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demo`` subcommand."""
    parser = subparsers.add_parser(
        "demo", help="simulate a small observation, then run the bandpass and continuum flows"
    )
    parser.add_argument(
        "--output", type=Path, default=Path("flint-demo"), help="working directory (flint-demo)"
    )
    parser.add_argument("--beams", type=int, nargs="+", help="beams of the demo footprint")
    parser.add_argument(
        "--layout",
        choices=("raw", "casda", "flint"),
        default="raw",
        help="deliver the simulated data as the telescope (raw), CASDA or flint would (raw)",
    )
    parser.add_argument(
        "--sky",
        choices=("realistic", "simple"),
        default="simple",
        help="simple (faint point sources; the demo strategy meets the thermal limit on it) or "
        "realistic (extended, multi-component and bright sources, sources beyond the images "
        "and in the sidelobes; not yet at the thermal limit) (default: simple)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the simulation (1)")
    _cluster_argument(parser)
    parser.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    import time

    from flint.prefect.progress import quiet_console

    quiet_console(args.verbose)  # before Prefect is imported

    started = time.perf_counter()
    with _others_to_log(args.output, args.verbose):
        return _run_demo(args, started)


def _run_demo(args: argparse.Namespace, started: float) -> int:
    import time

    from flint.demo import (
        DEMO_BEAMS,
        demo_strategy_path,
        demo_summary,
        simulate_demo,
        write_demo_summary,
    )
    from flint.prefect.cluster import load_cluster_config, running_cluster
    from flint.prefect.flows.bandpass import bandpass_flow
    from flint.prefect.flows.continuum import continuum_flow
    from flint.prefect.progress import TerminalReporter
    from flint.prefect.running import run_flow
    from flint.prefect.server.embedded import ensure_prefect_server
    from flint.progress import listening

    ensure_prefect_server()
    beams = tuple(args.beams or DEMO_BEAMS)
    with TerminalReporter() as reporter, listening(reporter.core):
        observation = simulate_demo(
            args.output / "data", beams=beams, seed=args.seed, layout=args.layout, sky=args.sky
        )
        reporter.say(
            f"simulated ({args.sky} sky, {args.layout} layout): {observation.field.sbid_dir}"
        )
        if observation.calibrator is not None:
            reporter.say(f"calibrator:  {observation.calibrator.sbid_dir}")
        reporter.say(f"truth:       {observation.field.truth_dir}")
    bandpass_dir = None
    with running_cluster(load_cluster_config(args.cluster)) as address:  # one for both flows
        if observation.calibrator is not None:
            bandpass_dir = args.output / "bandpass"
            run_flow(
                bandpass_flow,
                scheduler_address=address,
                progress=True,
                n_beams=len(beams),
                calibrator_dir=observation.calibrator.sbid_dir,
                output_dir=bandpass_dir,
            )
        results = run_flow(
            continuum_flow,
            scheduler_address=address,
            progress=True,
            n_beams=len(beams),
            science_dir=observation.field.sbid_dir,
            bandpass_dir=bandpass_dir,
            output_dir=args.output / "continuum",
            strategy=demo_strategy_path(),
        )
    _print_results(results, args.output, args.verbose)
    summary = demo_summary(results, time.perf_counter() - started, args.sky, args.layout)
    path = write_demo_summary(args.output, summary)
    ratios = ", ".join(f"{beam}: {ratio:.3f}" for beam, ratio in summary["thermal_ratio"].items())
    floors = ", ".join(
        f"{beam}: {_number(floor)}" for beam, floor in summary["clean_floor"].items()
    )
    print(  # the summary's numbers, as printed above, in three rows
        f"summary: {path} ({summary['sky']} sky, {summary['layout']} layout, "
        f"{summary['wall_s']:.0f} s)\n  thermal_ratio {{{ratios}}}, completeness "
        f"{_number(summary['completeness'])}, median_flux_ratio "
        f"{_number(summary['median_flux_ratio'])}\n  clean_floor {{{floors}}}"
    )
    return 0
