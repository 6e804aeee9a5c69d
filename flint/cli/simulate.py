"""``flint simulate calibrator|field``: simulated ASKAP measurement sets with their truth.

Every option of :class:`flint.simulation.SimulationOptions` is a flag (``--n-channels``,
``--sefd-jy``...), generated from the model, so help and validation follow it.
"""

from __future__ import annotations

import argparse
import types
import typing
from pathlib import Path
from typing import Any, Literal


def _flag_arguments(parser: argparse.ArgumentParser) -> None:
    from flint.simulation.observation import SimulationOptions

    for name, info in SimulationOptions.model_fields.items():
        flag = "--" + name.replace("_", "-")
        help_text = (info.description or "").replace("%", "%%") + f" (default: {info.default})"
        annotation = info.annotation
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if annotation is bool:
            parser.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=None, help=help_text
            )
        elif typing.get_origin(annotation) is Literal:
            parser.add_argument(
                flag, choices=typing.get_args(annotation), default=None, help=help_text
            )
        elif (
            typing.get_origin(annotation) in (typing.Union, types.UnionType)
            and args
            and typing.get_origin(args[0]) is list
        ):
            parser.add_argument(flag, type=int, nargs="+", default=None, help=help_text)
        else:
            kind = args[0] if args else annotation
            parser.add_argument(
                flag, type=kind if kind in (int, float) else str, default=None, help=help_text
            )


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``simulate`` subcommand."""
    parser = subparsers.add_parser("simulate", help="simulate ASKAP observations with known truth")
    actions = parser.add_subparsers(dest="simulate_command", metavar="KIND", required=True)
    calibrator = actions.add_parser(
        "calibrator", help="PKS B1934-638 observed by each beam in turn"
    )
    calibrator.add_argument("--calibrator", default="B1934-638", help="calibrator name")
    field = actions.add_parser("field", help="a science field seen by the beam footprint")
    sky = field.add_mutually_exclusive_group()
    sky.add_argument(
        "--sky",
        help="sky model: wsclean/PyBDSF component list, Aegean or PyBDSF FITS/CSV/ECSV "
        "catalogue (sizes given with the catalogue's PSF are deconvolved)",
    )
    sky.add_argument(
        "--random-sky",
        choices=("simple", "realistic"),
        help="draw a random sky over the simulated beams: simple (point sources from the "
        "SKADS counts) or realistic (measured sizes, doubles and triples, sources beyond "
        "the images and in the sidelobes, bright sources; seeded by --seed)",
    )
    field.add_argument(
        "--random-sky-min-jy",
        type=float,
        help="faintest source of the random sky at 888 MHz (default 0.002); alone, it "
        "draws a simple random sky",
    )
    field.add_argument(
        "--sky-reference-hz",
        type=float,
        help="reference frequency of a --sky catalogue that gives none (RACS-low: 887.5e6)",
    )
    field.add_argument(
        "--sky-spectral-index",
        type=float,
        default=-0.8,
        help="spectral index of --sky catalogue components without one (default -0.8)",
    )
    field.add_argument(
        "--image-width-deg",
        type=float,
        default=4.2667,
        help="width of the images the realistic sky's bright sources are placed around "
        "(default 4.2667: the demo and default strategies)",
    )
    for sub in (calibrator, field):
        sub.add_argument("--output", required=True, help="output directory (SBID directory inside)")
        sub.add_argument("--config", help="YAML file of options (flags override it)")
        _flag_arguments(sub)
    calibrator.set_defaults(handler=_calibrator)
    field.set_defaults(handler=_field)


def _options(args: argparse.Namespace):
    from flint.errors import ConfigError
    from flint.options import load_yaml_mapping, validated
    from flint.simulation.observation import SimulationOptions

    values: dict[str, Any] = {}
    if args.config:
        try:
            text = Path(args.config).read_text()
        except OSError as error:
            raise ConfigError(f"cannot read options: {error.strerror}", args.config) from None
        values.update(load_yaml_mapping(text, args.config, "simulation options are a mapping"))
    for name in SimulationOptions.model_fields:
        value = getattr(args, name, None)
        if value is not None:
            values[name] = value
    return validated(SimulationOptions, values, args.config or "command line")


def _report(result) -> int:
    from flint.simulation import read_truth

    truth = read_truth(result.truth_dir)
    for entry in truth.beams:
        print(
            f"beam {entry.beam:02d}  {result.sbid_dir / entry.measurement_set}  "
            f"{entry.n_components} components  sigma {entry.noise_sigma_jy:.4g} Jy  "
            f"expected image noise {entry.expected_image_noise_jy * 1e6:.1f} uJy"
        )
    if result.skipped:
        print(f"{len(result.skipped)} beam(s) were already complete and were skipped")
    print(f"truth: {result.truth_dir} (manifest {result.manifest.name})")
    return 0


def _calibrator(args: argparse.Namespace) -> int:
    from flint.simulation import simulate_calibrator

    return _report(simulate_calibrator(args.output, _options(args), args.calibrator))


def _field(args: argparse.Namespace) -> int:
    from flint.errors import InputError
    from flint.simulation import simulate_field

    kind = args.random_sky or ("simple" if args.random_sky_min_jy is not None else None)
    if (args.sky is None) == (kind is None):
        raise InputError("give a sky: --sky FILE or --random-sky simple|realistic")
    options = _options(args)
    min_flux = 2e-3 if args.random_sky_min_jy is None else args.random_sky_min_jy
    if kind == "realistic":
        from flint.footprint import Footprint
        from flint.sky.realistic import realistic_field_sky

        if options.primary_beam == "gaussian":  # a real dish has sidelobes
            options = options.with_options(primary_beam="gaussian_sidelobes")
        footprint = Footprint(
            name=options.footprint, pitch_deg=options.pitch_deg, pa_deg=options.footprint_pa_deg
        )
        ras, decs = footprint.beam_centres(options.ra_deg, options.dec_deg, options.beam_list)
        sky: Any = realistic_field_sky(
            list(zip(ras, decs, strict=True)),
            args.image_width_deg / 2,
            min_flux_jy=min_flux,
            seed=options.seed,
        )
    elif kind == "simple":
        from flint.sky import random_sky

        sky = random_sky(
            options.ra_deg,
            options.dec_deg,
            radius_deg=3.5 * options.pitch_deg + 2.0,
            min_flux_jy=min_flux,
            seed=options.seed,
        )
    else:
        from flint.sky import read_sky

        sky = read_sky(args.sky, args.sky_reference_hz, args.sky_spectral_index)
    return _report(simulate_field(args.output, sky, options))
