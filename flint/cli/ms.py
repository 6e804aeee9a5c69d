"""``flint ms summary|preprocess``: what a measurement set holds, and making it usable."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``ms`` subcommand."""
    parser = subparsers.add_parser("ms", help="inspect and preprocess measurement sets")
    actions = parser.add_subparsers(dest="ms_command", metavar="ACTION", required=True)
    summary = actions.add_parser(
        "summary", help="layout, antennas, beams, fields, pointing, channels, times, flags"
    )
    summary.add_argument("ms", nargs="+", help="measurement set(s)")
    summary.add_argument("--json", action="store_true", help="print JSON")
    summary.set_defaults(handler=_summary)
    preprocess = actions.add_parser(
        "preprocess",
        help="copy raw/CASDA/partly processed MSs into the layout flint works on",
        description=(
            "Each MS is copied into DIR as SB<sbid>.<field>.beamNN.ms with what its layout "
            "needs: a raw calibrator block's field of the MS's own beam, the field direction "
            "moved to the beam's pointing, the correlations rotated to the sky frame, "
            "CASDA's Stokes factor. The input is only read; a rerun finds finished copies."
        ),
    )
    preprocess.add_argument("ms", nargs="+", type=Path, help="measurement set(s)")
    preprocess.add_argument("--output", type=Path, required=True, help="directory of the copies")
    preprocess.add_argument(
        "--field", help="keep only this field's rows (default: a calibrator block's own beam)"
    )
    preprocess.add_argument("--overwrite", action="store_true", help="remake finished copies")
    preprocess.set_defaults(handler=_preprocess)


def _summary(args: argparse.Namespace) -> int:
    from flint.ms import detect_layout, summarise_ms

    for path in args.ms:
        summary = summarise_ms(path)
        state = detect_layout(path)
        if args.json:
            payload = summary.model_dump(mode="json")
            payload["layout"] = {
                "layout": state.layout,
                "needs": list(state.needs),
                "calibrated": state.calibrated,
                "beam_pointing_deg": list(state.pointing_deg()),
                "calibrator_fields": {str(k): v for k, v in state.calibrator_fields.items()},
            }
            print(json.dumps(payload, indent=2))
            continue
        low, high = summary.frequency_range_hz
        print(f"{summary.path}")
        for line in state.describe():
            print(f"  {line}")
        print(f"  rows         {summary.n_rows}")
        print(
            f"  antennas     {len(summary.antennas)} ({summary.antennas[0]}..{summary.antennas[-1]})"
        )
        print(f"  beams        {summary.beams}")
        for name, (ra, dec) in zip(summary.fields, summary.phase_centres_deg, strict=True):
            print(f"  field        {name} at ({ra:.5f}, {dec:.5f}) deg")
        ra, dec = state.pointing_deg()
        print(f"  pointing     beam {state.beam} at ({ra:.5f}, {dec:.5f}) deg")
        print(
            f"  channels     {summary.n_channels} x {summary.channel_width_hz / 1e6:.3f} MHz, "
            f"{low / 1e6:.2f}-{high / 1e6:.2f} MHz"
        )
        print(f"  correlations {' '.join(summary.correlations)}")
        print(f"  times        {summary.n_times} x {summary.integration_s:.2f} s")
        print(f"  columns      {' '.join(summary.columns)}")
        print(f"  flagged      {100 * summary.flag_fraction:.2f} %")
    return 0


def _preprocess(args: argparse.Namespace) -> int:
    from flint.askap.preprocess import preprocess_ms
    from flint.errors import InputError, MeasurementSetError
    from flint.ms import detect_layout

    states = [detect_layout(path) for path in args.ms]  # every input checked first
    fields = []
    for state in states:
        if args.field is not None and args.field not in state.fields:
            raise MeasurementSetError(
                f"no field {args.field} (fields: {', '.join(state.fields)})", state.path
            )
        fields.append(args.field if args.field is not None else state.field_for_beam())
    targets = [args.output / f"{state.stem}.ms" for state in states]
    if len(set(targets)) < len(targets):
        raise InputError("two inputs would be written to the same copy", args.output)
    for state, field, target in zip(states, fields, targets, strict=True):
        result = preprocess_ms(state.path, target, field=field, overwrite=args.overwrite)
        if not result.steps:
            print(f"{state.path}: {state.layout} layout, nothing to do")
        elif result.skipped:
            print(f"{result.ms}: already preprocessed from {state.path}")
        else:
            print(f"{result.ms}: {', '.join(result.steps)} ({state.layout} layout)")
    return 0
