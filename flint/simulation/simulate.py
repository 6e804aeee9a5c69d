"""Simulate ASKAP observations: a bandpass calibrator per beam, or a science field.

Output, as ASKAP delivers it: ``<output_dir>/<sbid>/scienceData_SB<sbid>_<field>.beamNN_averaged.ms``
(one MS per beam, phase-centred on the beam) and ``<output_dir>/<sbid>/truth/``
(see :mod:`flint.simulation.truth`). Beams already complete are skipped on a rerun.
"""

from __future__ import annotations

import logging
import math
import os
import time as timer
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from flint.atomic import atomic_path
from flint.errors import InputError, SkyModelError
from flint.naming import askap_ms_name, sbid_directory_name
from flint.progress import report
from flint.simulation import corruptions as corrupt
from flint.simulation.array_layout import askap_layout, baseline_indices
from flint.simulation.observation import SimulationOptions, n_integrations, spectral_setup
from flint.simulation.predict import (
    GRIDDER_MAX_PIXELS,
    direction_cosines,
    gridder_image_pixels,
    predict_dft,
    predict_gridder,
)
from flint.simulation.truth import (
    MANIFEST,
    BeamCorruptions,
    BeamTruth,
    read_beam_truth,
    read_truth,
    write_corruptions,
    write_json,
    write_manifest,
    write_sky_table,
)
from flint.simulation.uvw import antenna_uvw, baseline_uvw, utc_for_hour_angle
from flint.simulation.writer import MSLayout, create_ms

logger = logging.getLogger(__name__)

CALIBRATOR = "B1934-638"


@dataclass(frozen=True)
class SimulationResult:
    """What a simulation wrote."""

    sbid_dir: Path
    """``<output_dir>/<sbid>``."""
    measurement_sets: tuple[Path, ...]
    """One MS per beam (including skipped, already complete ones)."""
    truth_dir: Path
    """Directory with the manifest and per-beam truth."""
    manifest: Path
    """``truth/manifest.json``."""
    skipped: tuple[Path, ...]
    """Measurement sets that were already complete and left untouched."""


@dataclass(frozen=True, eq=False)
class BeamPlan:
    """Where and what to simulate for one beam."""

    beam: int
    ms_path: Path
    field_name: str
    phase_centre_deg: tuple[float, float]
    boresight_deg: tuple[float, float]
    start_utc_mjd_s: float
    sky: object  # flint.sky.SkyModel of the components inside this beam
    beam_offsets_rad: NDArray[np.float64]
    phase_key: tuple[int, ...]


def fixms_beam_offsets(
    boresight_deg: tuple[float, float], centres_deg: tuple[NDArray, NDArray]
) -> NDArray[np.float64]:
    """[nbeam, 2] FEED ``BEAM_OFFSET`` (rad) in the convention of ASKAP's ``fix_ms_dir``.

    ``fix_ms_dir`` moves the boresight by (−offset[0], offset[1]) with its ``Skypos.shift``
    (rotate about z by Δlon, about y by lat + Δlat, about z by lon); this is its inverse.
    """
    lon, lat = np.deg2rad(boresight_deg)
    ra, dec = (np.deg2rad(np.asarray(value, dtype=float)) for value in centres_deg)
    x = np.cos(dec) * np.cos(ra - lon)
    y = np.cos(dec) * np.sin(ra - lon)
    z = np.sin(dec)
    delta_lon = np.arcsin(np.clip(y, -1.0, 1.0))
    delta_lat = np.arctan2(z, x) - lat
    return np.column_stack([-delta_lon, delta_lat])


def fixms_boresight(target_deg: tuple[float, float], offset_rad) -> tuple[float, float]:
    """The boresight that ``fix_ms_dir`` shifts by ``offset_rad`` (a BEAM_OFFSET) onto ``target_deg``."""
    ra_t, dec_t = np.deg2rad(target_deg)
    delta_lon, delta_lat = -float(offset_rad[0]), float(offset_rad[1])
    latitude = math.asin(math.sin(dec_t) / math.cos(delta_lon))  # = lat + delta_lat
    lon = ra_t - math.atan2(math.sin(delta_lon), math.cos(delta_lon) * math.cos(latitude))
    return (math.degrees(lon) % 360.0, math.degrees(latitude - delta_lat))


def _footprint(options: SimulationOptions):
    from flint.footprint import Footprint

    return Footprint(
        name=options.footprint, pitch_deg=options.pitch_deg, pa_deg=options.footprint_pa_deg
    )


def _date_mjd(date: str) -> float:
    year, month, day = (int(part) for part in date.split("-"))
    # days from 1858-11-17 (MJD 0), proleptic Gregorian
    from datetime import date as calendar

    return float((calendar(year, month, day) - calendar(1858, 11, 17)).days)


def _pb_gain(offsets_deg, frequencies_hz, options: SimulationOptions) -> NDArray[np.float64]:
    """[ncomp, nchan] primary-beam power gain of components ``offsets_deg`` from the centre."""
    from flint.primary_beam import primary_beam

    frequencies = np.atleast_1d(np.asarray(frequencies_hz, dtype=float))
    if options.primary_beam == "none":
        return np.ones((len(offsets_deg), len(frequencies)))
    offsets = np.deg2rad(np.asarray(offsets_deg, dtype=float))[:, np.newaxis]
    return primary_beam(offsets, frequencies, model=options.primary_beam)


def _inside(sky, centre_deg, frequencies_hz, options: SimulationOptions):
    """Mask of components inside the beam (PB gain at the lowest frequency >= cutoff)."""
    offsets = sky.separation_deg(*centre_deg)
    gain = _pb_gain(offsets, [float(np.min(frequencies_hz))], options)[:, 0]
    inside = gain >= options.pb_cutoff
    if options.primary_beam == "airy":  # the main lobe only (first null at 1.22 λ/D)
        first_null = np.rad2deg(1.2197 * 299_792_458.0 / np.min(frequencies_hz) / 12.0)
        inside &= offsets < first_null
    return inside, offsets


def _plans_field(
    output: Path, sky, options: SimulationOptions, source: str | None = None
) -> list[BeamPlan]:
    footprint = _footprint(options)
    boresight = (options.ra_deg, options.dec_deg)
    all_centres = footprint.beam_centres(*boresight)
    offsets = fixms_beam_offsets(boresight, all_centres)
    spectral = spectral_setup(options)
    layout = askap_layout(options.n_antennas)
    start = utc_for_hour_angle(
        _date_mjd(options.date),
        math.radians(options.ra_deg),
        options.start_hour_angle_h,
        layout.centre_itrf_m,
    )
    plans, used = [], 0
    for beam in options.beam_list:
        centre = (float(all_centres[0][beam]), float(all_centres[1][beam]))
        inside, _ = _inside(sky, centre, spectral.frequencies_hz, options)
        used += int(inside.sum())
        plans.append(
            BeamPlan(
                beam=beam,
                ms_path=output / askap_ms_name(options.sbid, options.field_name, beam),
                field_name=options.field_name,
                phase_centre_deg=centre,
                boresight_deg=boresight,
                start_utc_mjd_s=start,
                sky=sky,
                beam_offsets_rad=offsets,
                phase_key=(),
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
    from flint.sky import calibrator_model

    sky = calibrator_model(name)
    target = (float(sky.ra_deg[0]), float(sky.dec_deg[0]))
    footprint = _footprint(options)
    offsets_deg = footprint.offsets_deg()
    layout = askap_layout(options.n_antennas)
    start = utc_for_hour_angle(
        _date_mjd(options.date),
        math.radians(target[0]),
        options.start_hour_angle_h,
        layout.centre_itrf_m,
    )
    duration = n_integrations(options) * options.integration_s
    field = name.replace(" ", "")
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    plans = []
    for order, beam in enumerate(options.beam_list):
        # point the dish so that this beam lands on the calibrator
        x, y = offsets_deg[beam]
        boresight_coord = SkyCoord(target[0] * u.deg, target[1] * u.deg).directional_offset_by(
            (math.atan2(x, y) + math.pi) * u.rad, math.hypot(x, y) * u.deg
        )
        provisional = (float(boresight_coord.ra.deg), float(boresight_coord.dec.deg))
        offsets = fixms_beam_offsets(provisional, footprint.beam_centres(*provisional))
        # exact: fix_ms_dir moves this boresight by this beam's offset onto the calibrator
        boresight = fixms_boresight(target, offsets[beam])
        plans.append(
            BeamPlan(
                beam=beam,
                ms_path=output / askap_ms_name(options.sbid, field, beam),
                field_name=field,
                phase_centre_deg=target,
                boresight_deg=boresight,
                start_utc_mjd_s=start + order * duration,  # beams observed in turn
                sky=sky,
                beam_offsets_rad=offsets,
                phase_key=(beam,),
            )
        )
    return plans


def _bandpass(options: SimulationOptions, beam: int, frequencies_hz, n_antennas: int):
    if options.bandpass == "none":
        gains = np.zeros((n_antennas, len(frequencies_hz), 2, 2), dtype=np.complex128)
        gains[:, :, 0, 0] = gains[:, :, 1, 1] = 1.0
        return gains
    if options.bandpass == "generated":
        rng = np.random.default_rng([options.seed, 1, beam])
        return corrupt.generated_bandpass(
            n_antennas, frequencies_hz, rng, options.bandpass_ripple, options.bandpass_delay_ns
        )
    return corrupt.bandpass_from_solutions(
        options.bandpass,
        n_antennas,
        options.n_channels,
        options.channel_average,
        options.bandpass_normalise,
    )


def _prefix(plan: BeamPlan) -> str:
    """Stem of a beam's truth files: ``<field>.beamNN``."""
    return f"{plan.field_name}.beam{plan.beam:02d}"


def _is_complete(plan: BeamPlan, truth_dir: Path) -> bool:
    marker = truth_dir / f"{_prefix(plan)}.json"
    if not (plan.ms_path / "table.dat").exists() or not marker.is_file():
        return False
    try:
        read_beam_truth(marker)
    except Exception:  # a damaged marker means: redo the beam
        return False
    return True


def simulate_beam(plan: BeamPlan, options: SimulationOptions, truth_dir: Path) -> BeamTruth:
    """Write one beam's MS and truth (atomically: a failed run leaves nothing behind)."""
    started = timer.perf_counter()
    spectral = spectral_setup(options)
    freqs, nchan = spectral.frequencies_hz, spectral.n_channels
    layout = askap_layout(options.n_antennas)
    nant = layout.n_antennas
    ntime = n_integrations(options)
    times = plan.start_utc_mjd_s + options.integration_s * np.arange(ntime)
    ra0, dec0 = (math.radians(value) for value in plan.phase_centre_deg)
    ant_uvw = antenna_uvw(layout.itrf_m, times, ra0, dec0)
    ant1, ant2 = baseline_indices(nant, options.include_autos)
    nbl = len(ant1)
    cross = ant1 != ant2

    sky = plan.sky
    inside, offsets = _inside(sky, plan.phase_centre_deg, freqs, options)
    beam_sky = sky.select(inside)
    flux = beam_sky.flux_at(freqs) * _pb_gain(offsets[inside], freqs, options)
    lmn = direction_cosines(np.deg2rad(beam_sky.ra_deg), np.deg2rad(beam_sky.dec_deg), ra0, dec0)
    shape = np.column_stack(
        [
            np.deg2rad(beam_sky.major_arcsec / 3600.0),
            np.deg2rad(beam_sky.minor_arcsec / 3600.0),
            np.deg2rad(beam_sky.pa_deg),
        ]
    )
    shape[beam_sky.kinds != "gaussian"] = 0.0
    gaussian = shape[:, 0] > 0
    use_gridder = options.predict == "gridder" or (
        options.predict == "auto"
        and int((~gaussian).sum()) > options.dft_max_components
        and gridder_image_pixels(
            float(np.ptp(layout.itrf_m, axis=0).max() * 1.1), float(freqs.max()), lmn[~gaussian]
        )
        <= GRIDDER_MAX_PIXELS
    )
    method = "gridder" if use_gridder else "dft"
    logger.info(
        "Beam %02d: %d components (%s), %d integrations x %d baselines x %d channels",
        plan.beam,
        len(beam_sky),
        method,
        ntime,
        nbl,
        nchan,
    )

    bandpass = _bandpass(options, plan.beam, freqs, nant)
    products = corrupt.baseline_gain_products(bandpass, ant1, ant2)  # [nbl, nchan, 4]
    gain_flags = np.isnan(products).any(axis=2)  # [nbl, nchan]
    products[np.isnan(products)] = 0.0
    phases = corrupt.antenna_phases(
        ntime,
        nant,
        options.integration_s,
        options.phase_rms_deg,
        options.phase_timescale_s,
        np.random.default_rng([options.seed, 2, *plan.phase_key]),
    )
    rfi_rng = np.random.default_rng([options.seed, 3, plan.beam])
    if options.rfi:
        rfi = corrupt.rfi_pattern(
            ntime,
            nchan,
            options.rfi_channel_fraction,
            options.rfi_burst_fraction,
            options.rfi_amplitude_jy,
            rfi_rng,
        )
    else:
        rfi = corrupt.RFIPattern(np.zeros((ntime, nchan), dtype=bool), 0.0)
    sigma = options.noise_sigma_jy
    sigma_column = np.float32(sigma if sigma > 0 else 1.0)

    if options.threads:
        import numba

        numba.set_num_threads(min(options.threads, numba.config.NUMBA_NUM_THREADS))
    times_per_chunk = max(1, options.chunk_visibilities // (nbl * nchan))
    n_unflagged = 0
    n_rfi = 0
    from casacore.tables import table

    spec = MSLayout(
        layout=layout,
        frequencies_hz=freqs,
        channel_width_hz=spectral.width_hz,
        n_rows=ntime * nbl,
        integration_s=options.integration_s,
        time_range_mjd_s=(
            float(times[0] - options.integration_s / 2),
            float(times[-1] + options.integration_s / 2),
        ),
        field_name=plan.field_name,
        phase_centre_rad=(ra0, dec0),
        beam=plan.beam,
        beam_offsets_rad=plan.beam_offsets_rad,
    )
    with atomic_path(plan.ms_path, overwrite=True) as temporary:
        create_ms(temporary, spec)
        with table(str(temporary), readonly=False, ack=False) as tab:
            for chunk, first in enumerate(range(0, ntime, times_per_chunk)):
                last = min(first + times_per_chunk, ntime)
                nt = last - first
                uvw = baseline_uvw(ant_uvw[first:last], ant1, ant2)
                model = np.zeros((nt * nbl, nchan), dtype=np.complex128)
                if use_gridder:
                    predict_gridder(
                        uvw,
                        freqs,
                        lmn[~gaussian],
                        flux[~gaussian],
                        options.gridder_epsilon,
                        max(options.threads, 1),
                        out=model,
                    )
                    if gaussian.any():
                        predict_dft(
                            uvw, freqs, lmn[gaussian], flux[gaussian], shape[gaussian], out=model
                        )
                else:
                    predict_dft(uvw, freqs, lmn, flux, shape, out=model)
                turn = np.exp(
                    1j * (phases[first:last, ant1] - phases[first:last, ant2])
                )  # [nt, nbl]
                data = model.reshape(nt, nbl, nchan, 1) * products[np.newaxis]
                data *= turn[:, :, np.newaxis, np.newaxis]
                data = data.reshape(nt * nbl, nchan, 4)
                noise_rng = np.random.default_rng([options.seed, 4, plan.beam, chunk])
                noise = np.zeros((nt * nbl, nchan, 4), dtype=np.complex64)
                if sigma > 0:
                    noise.real = noise_rng.standard_normal(noise.shape, dtype=np.float32) * sigma
                    noise.imag = noise_rng.standard_normal(noise.shape, dtype=np.float32) * sigma
                data += noise
                mask = np.broadcast_to(rfi.mask[first:last, np.newaxis, :], (nt, nbl, nchan))
                if options.rfi and mask.any():
                    burst = rfi_rng.standard_normal((*mask.shape, 2)) @ np.array([1.0, 1j])
                    hit = mask.reshape(-1, nchan)
                    data[hit] += (options.rfi_amplitude_jy * burst.reshape(-1, nchan)[hit])[
                        :, np.newaxis
                    ] * np.array([1.0, 0.1, 0.1, 1.0])
                flags = np.broadcast_to(gain_flags[np.newaxis], (nt, nbl, nchan)).reshape(-1, nchan)
                cross_rows = np.tile(cross, nt)
                n_unflagged += int((~flags[cross_rows]).sum())
                n_rfi += int(mask.reshape(-1, nchan)[cross_rows].sum())
                start_row = first * nbl
                nrow = nt * nbl
                columns = {
                    "DATA": data.astype(np.complex64),
                    "NOISE_DATA": noise,
                    "FLAG": np.repeat(flags[:, :, np.newaxis], 4, axis=2),
                    "UVW": uvw,
                    "ANTENNA1": np.tile(ant1, nt),
                    "ANTENNA2": np.tile(ant2, nt),
                    "TIME": np.repeat(times[first:last], nbl),
                    "TIME_CENTROID": np.repeat(times[first:last], nbl),
                    "INTERVAL": np.full(nrow, options.integration_s),
                    "EXPOSURE": np.full(nrow, options.integration_s),
                    "FEED1": np.full(nrow, plan.beam, dtype=np.int32),
                    "FEED2": np.full(nrow, plan.beam, dtype=np.int32),
                    "SIGMA": np.full((nrow, 4), sigma_column, dtype=np.float32),
                    "WEIGHT": np.full((nrow, 4), 1.0 / sigma_column**2, dtype=np.float32),
                    "STATE_ID": np.full(nrow, -1, dtype=np.int32),
                }
                for name, values in columns.items():
                    tab.putcol(name, values, startrow=start_row, nrow=nrow)
                logger.info(
                    "Beam %02d: integrations %d-%d of %d written", plan.beam, first + 1, last, ntime
                )
                report(f"simulate beam {plan.beam:02d}", last, ntime)

    name = _prefix(plan)
    sky_table = beam_sky.to_table()
    centre_hz = float(freqs.mean())
    centre_gain = _pb_gain(offsets[inside], [centre_hz], options)[:, 0]
    sky_table["apparent_flux"] = beam_sky.flux_at([centre_hz])[:, 0] * centre_gain
    sky_table["pb_gain"] = centre_gain
    sky_table["offset_deg"] = offsets[inside]
    sky_table.meta["APP_FREQ"] = centre_hz
    write_sky_table(truth_dir / f"{name}.sky.fits", sky_table)
    _write_bandpass(truth_dir / f"{name}.bandpass.bin", bandpass, times, options)
    write_corruptions(
        truth_dir / f"{name}.corruptions.npz",
        BeamCorruptions(times, phases, rfi.mask, freqs),
    )
    truth = BeamTruth(
        beam=plan.beam,
        measurement_set=plan.ms_path.name,
        field_name=plan.field_name,
        phase_centre_deg=plan.phase_centre_deg,
        boresight_deg=plan.boresight_deg,
        start_utc_mjd_s=float(times[0]),
        n_integrations=ntime,
        n_components=len(beam_sky),
        predict=method,
        noise_sigma_jy=float(sigma),
        n_unflagged_cross=n_unflagged,
        expected_image_noise_jy=float(sigma / math.sqrt(2 * n_unflagged)) if n_unflagged else 0.0,
        n_rfi_samples=n_rfi,
        sky=f"{name}.sky.fits",
        bandpass=f"{name}.bandpass.bin",
        corruptions=f"{name}.corruptions.npz",
    )
    write_json(truth_dir / f"{name}.json", truth.model_dump(mode="json"))
    logger.info(
        "Beam %02d done in %.1f s: %s", plan.beam, timer.perf_counter() - started, plan.ms_path
    )
    return truth


def _write_bandpass(path: Path, bandpass, times, options: SimulationOptions) -> None:
    from flint.calibration.solutions import AOSolutions, write_solutions

    gains = bandpass.reshape(1, bandpass.shape[0], bandpass.shape[1], 4)
    half = options.integration_s / 2
    write_solutions(
        AOSolutions(
            gains=gains, start_time=float(times[0] - half), end_time=float(times[-1] + half)
        ),
        path,
    )


# options that change how a simulation runs or which beams it covers, not what a beam holds
_RUN_ONLY_OPTIONS = frozenset({"beams", "overwrite", "threads", "chunk_visibilities"})


def _check_same_options(truth_dir: Path, options: SimulationOptions) -> None:
    """Refuse to reuse beams that an earlier run simulated with other options."""
    manifest = truth_dir / MANIFEST
    if options.overwrite or not manifest.is_file():
        return
    earlier = read_truth(truth_dir).options
    wanted = options.model_dump(mode="json")
    changed = sorted(
        name
        for name in wanted.keys() - _RUN_ONLY_OPTIONS
        if name in earlier and earlier[name] != wanted[name]
    )
    if changed:
        details = ", ".join(f"{name} {earlier[name]!r} -> {wanted[name]!r}" for name in changed)
        raise InputError(
            f"this SBID was simulated with other options ({details}): simulate into another "
            "directory, or set overwrite",
            manifest,
        )


def _run(
    output_dir, plans: list[BeamPlan], options: SimulationOptions, kind: str
) -> SimulationResult:
    sbid_dir = Path(output_dir) / sbid_directory_name(options.sbid)
    truth_dir = sbid_dir / "truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    _check_same_options(truth_dir, options)
    skipped = []
    for plan in plans:
        if not options.overwrite and _is_complete(plan, truth_dir):
            logger.info("Beam %02d already complete: %s", plan.beam, plan.ms_path)
            skipped.append(plan.ms_path)
            continue
        simulate_beam(plan, options, truth_dir)
    markers = [truth_dir / f"{_prefix(plan)}.json" for plan in plans]
    manifest = write_manifest(truth_dir, kind, options.model_dump(mode="json"), markers)
    return SimulationResult(
        sbid_dir, tuple(plan.ms_path for plan in plans), truth_dir, manifest, tuple(skipped)
    )


def simulate_calibrator(
    output_dir: str | os.PathLike[str], options: SimulationOptions, calibrator: str = CALIBRATOR
) -> SimulationResult:
    """Observe ``calibrator`` with each beam in turn (each MS phase-centred on it)."""
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
