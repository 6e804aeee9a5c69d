"""Simulate ASKAP observations: a bandpass calibrator block, or a science field.

Output, in the layout the options ask for (see :mod:`flint.simulation.beam`), under
``<output_dir>/SB<sbid>/``: one MS per beam, named

- ``raw``: ``YYYY-MM-DD_HHMMSS_<beam>.ms`` (as the telescope writes them);
- ``casda``: ``scienceData.<field>.SB<sbid>.<field>.beamNN_averaged_cal.leakage.ms``;
- ``flint``: ``scienceData_SB<sbid>_<field>.beamNN_averaged.ms``;

and ``truth/`` (see :mod:`flint.simulation.truth`). Beams already complete are skipped on
a rerun; a rerun with other options is refused.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flint.askap.pointing import beam_offsets_rad, beam_pointing_deg, boresight_for
from flint.errors import InputError, SkyModelError
from flint.naming import askap_ms_name, casda_ms_name, raw_ms_name, sbid_directory_name
from flint.simulation.array_layout import askap_layout
from flint.simulation.beam import (
    BeamPlan,
    Scan,
    inside_beam,
    simulate_beam,
    truth_prefix,
)
from flint.simulation.observation import SimulationOptions, n_integrations, spectral_setup
from flint.simulation.truth import MANIFEST, read_beam_truth, read_truth, write_manifest
from flint.simulation.uvw import utc_for_hour_angle

logger = logging.getLogger(__name__)

CALIBRATOR = "B1934-638"
MJD_EPOCH = datetime(1858, 11, 17, tzinfo=UTC)


@dataclass(frozen=True)
class SimulationResult:
    """What a simulation wrote."""

    sbid_dir: Path
    """``<output_dir>/SB<sbid>``."""
    measurement_sets: tuple[Path, ...]
    """One MS per beam (including skipped, already complete ones)."""
    truth_dir: Path
    """Directory with the manifest and per-beam truth."""
    manifest: Path
    """``truth/manifest.json``."""
    skipped: tuple[Path, ...]
    """Measurement sets that were already complete and left untouched."""


def _footprint(options: SimulationOptions):
    from flint.footprint import Footprint

    return Footprint(
        name=options.footprint, pitch_deg=options.pitch_deg, pa_deg=options.footprint_pa_deg
    )


def _date_mjd(date: str) -> float:
    year, month, day = (int(part) for part in date.split("-"))
    return float((datetime(year, month, day, tzinfo=UTC) - MJD_EPOCH).days)


def _ms_name(options: SimulationOptions, field: str, beam: int, block_start_mjd_s: float) -> str:
    """The beam's MS name in the options' layout (``block_start``: centre of the block's
    first integration; raw names carry the block's start, the same for every beam)."""
    if options.layout == "raw":
        start = MJD_EPOCH + timedelta(seconds=block_start_mjd_s - options.integration_s / 2)
        return raw_ms_name(start, beam)
    if options.layout == "casda":
        return casda_ms_name(options.sbid, field, beam)
    return askap_ms_name(options.sbid, field, beam)


def _plans_field(
    output: Path, sky, options: SimulationOptions, source: str | None = None
) -> list[BeamPlan]:
    footprint = _footprint(options)
    boresight = (options.ra_deg, options.dec_deg)
    all_centres = footprint.beam_centres(*boresight)
    offsets = beam_offsets_rad(boresight, all_centres)
    spectral = spectral_setup(options)
    start = utc_for_hour_angle(
        _date_mjd(options.date),
        math.radians(options.ra_deg),
        options.start_hour_angle_h,
        askap_layout(options.n_antennas).centre_itrf_m,
    )
    plans, used = [], 0
    for beam in options.beam_list:
        centre = (float(all_centres[0][beam]), float(all_centres[1][beam]))
        inside, _ = inside_beam(sky, centre, spectral.frequencies_hz, options)
        used += int(inside.sum())
        scan = Scan(options.field_name, centre, boresight, start)
        plans.append(
            BeamPlan(
                beam=beam,
                ms_path=output / _ms_name(options, options.field_name, beam, start),
                field_name=options.field_name,
                scans=(scan,),
                own_scan=0,
                sky=sky,
                beam_offsets_rad=offsets,
            )
        )
    if used == 0:
        raise SkyModelError(
            f"no component falls inside any of beams {options.beam_list} "
            f"(primary beam >= {options.pb_cutoff} of footprint {options.footprint} at "
            f"RA {options.ra_deg:.3f}, Dec {options.dec_deg:.3f})",
            source,
        )
    return plans


def _plans_calibrator(output: Path, options: SimulationOptions, name: str) -> list[BeamPlan]:
    """The calibrator visits each beam position in turn (one scan each).

    The footprint's offsets are fixed in the dish frame: in the scan for beam K the dish
    points so that beam K lands on the calibrator. A raw block records every scan in every
    beam's MS (field ``<name>_beamK``); the other layouts keep each beam's own scan.
    """
    from flint.sky import calibrator_model

    if options.layout == "casda":
        raise InputError(
            "CASDA serves calibrated science data, not calibrator scans: simulate the "
            "calibrator with --layout raw or flint"
        )
    sky = calibrator_model(name)
    target = (float(sky.ra_deg[0]), float(sky.dec_deg[0]))
    offsets = beam_offsets_rad(target, _footprint(options).beam_centres(*target))
    start = utc_for_hour_angle(
        _date_mjd(options.date),
        math.radians(target[0]),
        options.start_hour_angle_h,
        askap_layout(options.n_antennas).centre_itrf_m,
    )
    duration = n_integrations(options) * options.integration_s
    field = name.replace(" ", "")
    boresights = {beam: boresight_for(target, offsets[beam]) for beam in options.beam_list}
    starts = {beam: start + order * duration for order, beam in enumerate(options.beam_list)}
    raw = options.layout == "raw"
    plans = []
    for beam in options.beam_list:
        visited = options.beam_list if raw else [beam]
        scans = tuple(
            Scan(
                f"{field}_beam{position}" if raw else field,
                target
                if position == beam
                else beam_pointing_deg(boresights[position], offsets[beam]),
                boresights[position],
                starts[position],
                key=(position,),
            )
            for position in visited
        )
        plans.append(
            BeamPlan(
                beam=beam,
                ms_path=output / _ms_name(options, field, beam, start),
                field_name=field,
                scans=scans,
                own_scan=visited.index(beam),
                sky=sky,
                beam_offsets_rad=offsets,
            )
        )
    return plans


def _is_complete(plan: BeamPlan, truth_dir: Path) -> bool:
    marker = truth_dir / f"{truth_prefix(plan)}.json"
    if not (plan.ms_path / "table.dat").exists() or not marker.is_file():
        return False
    try:
        read_beam_truth(marker)
    except Exception:  # a damaged marker means: redo the beam
        return False
    return True


# options that change how a simulation runs or which beams it covers, not what a beam holds
_RUN_ONLY_OPTIONS = frozenset({"beams", "overwrite", "threads", "chunk_visibilities"})


def _check_same_options(truth_dir: Path, options: SimulationOptions, kind: str) -> None:
    """Refuse to reuse beams that an earlier run simulated with other options (in a raw
    calibrator block the beams are part of every MS: each holds a scan per beam)."""
    manifest = truth_dir / MANIFEST
    if options.overwrite or not manifest.is_file():
        return
    earlier = {**_DEFAULTS_BEFORE, **read_truth(truth_dir).options}
    wanted = options.model_dump(mode="json")
    run_only = _RUN_ONLY_OPTIONS
    if kind == "calibrator" and options.layout == "raw":
        run_only = run_only - {"beams"}
    changed = sorted(
        name
        for name in wanted.keys() - run_only
        if name in earlier and earlier[name] != wanted[name]
    )
    if changed:
        details = ", ".join(f"{name} {earlier[name]!r} -> {wanted[name]!r}" for name in changed)
        raise InputError(
            f"this SBID was simulated with other options ({details}): simulate into another "
            "directory, or set overwrite",
            manifest,
        )


_DEFAULTS_BEFORE = {"layout": "flint"}
"""Options that manifests written before the option existed did not record."""


def _run(
    output_dir, plans: list[BeamPlan], options: SimulationOptions, kind: str
) -> SimulationResult:
    sbid_dir = Path(output_dir) / sbid_directory_name(options.sbid)
    truth_dir = sbid_dir / "truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    _check_same_options(truth_dir, options, kind)
    skipped = []
    for plan in plans:
        if not options.overwrite and _is_complete(plan, truth_dir):
            logger.info("Beam %02d already complete: %s", plan.beam, plan.ms_path)
            skipped.append(plan.ms_path)
            continue
        simulate_beam(plan, options, truth_dir)
    markers = [truth_dir / f"{truth_prefix(plan)}.json" for plan in plans]
    manifest = write_manifest(truth_dir, kind, options.model_dump(mode="json"), markers)
    return SimulationResult(
        sbid_dir, tuple(plan.ms_path for plan in plans), truth_dir, manifest, tuple(skipped)
    )


def simulate_calibrator(
    output_dir: str | os.PathLike[str], options: SimulationOptions, calibrator: str = CALIBRATOR
) -> SimulationResult:
    """Observe ``calibrator`` with each beam in turn (see :func:`_plans_calibrator`)."""
    output = Path(output_dir) / sbid_directory_name(options.sbid)
    return _run(output_dir, _plans_calibrator(output, options, calibrator), options, "calibrator")


def simulate_field(
    output_dir: str | os.PathLike[str], sky, options: SimulationOptions
) -> SimulationResult:
    """Observe ``sky`` (a :class:`flint.sky.SkyModel` or a sky-model file) with the footprint."""
    source = None
    if isinstance(sky, str | os.PathLike):
        from flint.sky import read_sky

        source = str(sky)
        sky = read_sky(sky)
    output = Path(output_dir) / sbid_directory_name(options.sbid)
    return _run(output_dir, _plans_field(output, sky, options, source), options, "field")
