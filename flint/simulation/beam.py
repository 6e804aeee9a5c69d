"""Write one beam's simulated measurement set and its truth, scan by scan.

A beam's MS holds one or more scans. A science field is one scan; a raw calibrator block
holds, in every beam's MS, one scan per beam position (field ``B1934-638_beamK``, during
which the calibrator sits at the centre of beam K). The data of a scan are phased to where
the beam points during it; the layout decides how the MS records that:

- ``raw`` (the telescope): FIELD holds the boresight, FEED ``BEAM_OFFSET`` the beam offsets,
  correlations in the PAF frame (RECEPTOR_ANGLE 90/180 deg);
- ``casda`` (ASKAPsoft's calibrated products): FIELD at the beam's pointing, bandpass removed
  with the true solutions, PAF frame, ASKAPsoft's I = XX + YY (values halved);
- ``flint``: FIELD at the beam's pointing, sky-frame correlations, nothing left to do.

Every random number is keyed by seed, beam and scan, so a scan's data are the same in
every layout once preprocessed.
"""

from __future__ import annotations

import logging
import math
import time as timer
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from flint.askap.frames import PAF_POL_AXIS_DEG, receptor_angles_rad, to_askap
from flint.atomic import atomic_path
from flint.calibration.jones import correct
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
    BeamCorruptions,
    BeamTruth,
    write_corruptions,
    write_json,
    write_sky_table,
)
from flint.simulation.uvw import antenna_uvw, baseline_uvw
from flint.simulation.writer import FieldRow, MSLayout, create_ms

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scan:
    """One pointing of a beam: which field, where the beam points, when."""

    field_name: str
    """FIELD name as the layout writes it (``B1934-638_beam14`` in a raw calibrator block)."""
    phase_centre_deg: tuple[float, float]
    """Where this beam points during the scan (the data are phased there)."""
    boresight_deg: tuple[float, float]
    """Where the dish points (the footprint centre)."""
    start_utc_mjd_s: float
    """Centre of the scan's first integration."""
    key: tuple[int, ...] = ()
    """Seeds the scan's phases, noise and RFI (the beam position of a calibrator scan)."""


@dataclass(frozen=True, eq=False)
class BeamPlan:
    """Where and what to simulate for one beam."""

    beam: int
    ms_path: Path
    field_name: str
    """The field (or calibrator) observed; names the truth files."""
    scans: tuple[Scan, ...]
    own_scan: int
    """Index of the scan whose truth is written (the beam on its own target)."""
    sky: object  # flint.sky.SkyModel
    beam_offsets_rad: NDArray[np.float64]
    """[36, 2] FEED BEAM_OFFSET of the footprint."""

    @property
    def target(self) -> Scan:
        """The beam's own scan."""
        return self.scans[self.own_scan]


@dataclass
class _ScanResult:
    times: NDArray[np.float64]
    phases: NDArray[np.float64]
    rfi_mask: NDArray[np.bool_]
    n_unflagged: int
    n_rfi: int
    sky: object
    offsets_deg: NDArray[np.float64]
    method: str


def truth_prefix(plan: BeamPlan) -> str:
    """Stem of a beam's truth files: ``<field>.beamNN``."""
    return f"{plan.field_name}.beam{plan.beam:02d}"


def pb_gain(offsets_deg, frequencies_hz, options: SimulationOptions) -> NDArray[np.float64]:
    """[ncomp, nchan] primary-beam power gain of components ``offsets_deg`` from the centre."""
    from flint.primary_beam import primary_beam

    frequencies = np.atleast_1d(np.asarray(frequencies_hz, dtype=float))
    if options.primary_beam == "none":
        return np.ones((len(offsets_deg), len(frequencies)))
    offsets = np.deg2rad(np.asarray(offsets_deg, dtype=float))[:, np.newaxis]
    return primary_beam(offsets, frequencies, model=options.primary_beam)


def inside_beam(sky, centre_deg, frequencies_hz, options: SimulationOptions):
    """Mask of components the beam sees (PB gain >= cutoff somewhere in the band)."""
    offsets = sky.separation_deg(*centre_deg)
    if options.primary_beam == "gaussian_sidelobes":  # sidelobes move with frequency
        gain = pb_gain(offsets, frequencies_hz, options).max(axis=1)
    else:  # falls monotonically with frequency
        gain = pb_gain(offsets, [float(np.min(frequencies_hz))], options)[:, 0]
    inside = gain >= options.pb_cutoff
    if options.primary_beam == "airy":  # the main lobe only (first null at 1.22 λ/D)
        first_null = np.rad2deg(1.2197 * 299_792_458.0 / np.min(frequencies_hz) / 12.0)
        inside &= offsets < first_null
    return inside, offsets


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


class _BeamWriter:
    """Everything one beam's scans share, and the writing of one scan into the open MS."""

    def __init__(self, plan: BeamPlan, options: SimulationOptions) -> None:
        self.plan, self.options = plan, options
        spectral = spectral_setup(options)
        self.freqs, self.width_hz = spectral.frequencies_hz, spectral.width_hz
        self.nchan = spectral.n_channels
        self.array = askap_layout(options.n_antennas)
        self.ntime = n_integrations(options)
        self.ant1, self.ant2 = baseline_indices(self.array.n_antennas, options.include_autos)
        self.nbl = len(self.ant1)
        self.cross = self.ant1 != self.ant2
        self.bandpass = _bandpass(options, plan.beam, self.freqs, self.array.n_antennas)
        products = corrupt.baseline_gain_products(self.bandpass, self.ant1, self.ant2)
        self.gain_flags = np.isnan(products).any(axis=2)  # [nbl, nchan]
        products[np.isnan(products)] = 0.0
        self.products = products  # [nbl, nchan, 4]
        self.sigma = options.noise_sigma_jy
        self.sigma_column = np.float32(self.sigma if self.sigma > 0 else 1.0)
        self.times_per_chunk = max(1, options.chunk_visibilities // (self.nbl * self.nchan))

    def ms_layout(self) -> MSLayout:
        """The MS's structure: one FIELD row per scan, as the layout records it."""
        plan, options = self.plan, self.options
        raw = options.layout == "raw"
        fields = tuple(
            FieldRow(
                scan.field_name,
                tuple(
                    math.radians(v) for v in (scan.boresight_deg if raw else scan.phase_centre_deg)
                ),
                scan.start_utc_mjd_s - options.integration_s / 2,
            )
            for scan in plan.scans
        )
        first = min(scan.start_utc_mjd_s for scan in plan.scans)
        last = max(scan.start_utc_mjd_s for scan in plan.scans)
        half = options.integration_s / 2
        return MSLayout(
            layout=self.array,
            frequencies_hz=self.freqs,
            channel_width_hz=self.width_hz,
            n_rows=len(plan.scans) * self.ntime * self.nbl,
            integration_s=options.integration_s,
            time_range_mjd_s=(
                first - half,
                last + options.integration_s * (self.ntime - 1) + half,
            ),
            fields=fields,
            beam=plan.beam,
            beam_offsets_rad=plan.beam_offsets_rad if raw else np.zeros_like(plan.beam_offsets_rad),
            receptor_angle_rad=receptor_angles_rad(
                0.0 if options.layout == "flint" else PAF_POL_AXIS_DEG
            ),
        )

    def _as_delivered(self, values: NDArray, ant1: NDArray, ant2: NDArray) -> NDArray:
        """Sky-frame visibilities ``[rows, nchan, 4]`` as the layout delivers them."""
        layout = self.options.layout
        if layout == "casda":  # calibrated by ASKAPsoft with the true bandpass
            jones = self.bandpass.reshape(*self.bandpass.shape[:2], 4)
            values = np.nan_to_num(correct(values, jones, ant1, ant2))
        if layout in ("raw", "casda"):
            values = to_askap(values, PAF_POL_AXIS_DEG, askapsoft_stokes=layout == "casda")
        return values

    def write_scan(self, tab, index: int, scan: Scan) -> _ScanResult:
        """Predict, corrupt and write scan ``index`` into its rows of the open table."""
        plan, options = self.plan, self.options
        freqs, nchan, nbl, ntime = self.freqs, self.nchan, self.nbl, self.ntime
        ant1, ant2 = self.ant1, self.ant2
        times = scan.start_utc_mjd_s + options.integration_s * np.arange(ntime)
        ra0, dec0 = (math.radians(value) for value in scan.phase_centre_deg)
        ant_uvw = antenna_uvw(self.array.itrf_m, times, ra0, dec0)

        inside, offsets = inside_beam(plan.sky, scan.phase_centre_deg, freqs, options)
        beam_sky = plan.sky.select(inside)
        flux = beam_sky.flux_at(freqs) * pb_gain(offsets[inside], freqs, options)
        lmn = direction_cosines(
            np.deg2rad(beam_sky.ra_deg), np.deg2rad(beam_sky.dec_deg), ra0, dec0
        )
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
                float(np.ptp(self.array.itrf_m, axis=0).max() * 1.1),
                float(freqs.max()),
                lmn[~gaussian],
            )
            <= GRIDDER_MAX_PIXELS
        )
        method = "gridder" if use_gridder else "dft"
        logger.info(
            "Beam %02d, field %s: %d components (%s), %d integrations x %d baselines x %d channels",
            plan.beam, scan.field_name, len(beam_sky), method, ntime, nbl, nchan,
        )  # fmt: skip

        phases = corrupt.antenna_phases(
            ntime,
            self.array.n_antennas,
            options.integration_s,
            options.phase_rms_deg,
            options.phase_timescale_s,
            np.random.default_rng([options.seed, 2, *scan.key]),
        )
        rfi_rng = np.random.default_rng([options.seed, 3, plan.beam, *scan.key])
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

        n_unflagged = n_rfi = 0
        first_row = index * ntime * nbl
        for chunk, first in enumerate(range(0, ntime, self.times_per_chunk)):
            last = min(first + self.times_per_chunk, ntime)
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
            turn = np.exp(1j * (phases[first:last, ant1] - phases[first:last, ant2]))  # [nt, nbl]
            data = model.reshape(nt, nbl, nchan, 1) * self.products[np.newaxis]
            data *= turn[:, :, np.newaxis, np.newaxis]
            data = data.reshape(nt * nbl, nchan, 4)
            noise_rng = np.random.default_rng([options.seed, 4, plan.beam, *scan.key, chunk])
            noise = np.zeros((nt * nbl, nchan, 4), dtype=np.complex64)
            if self.sigma > 0:
                noise.real = noise_rng.standard_normal(noise.shape, dtype=np.float32) * self.sigma
                noise.imag = noise_rng.standard_normal(noise.shape, dtype=np.float32) * self.sigma
            data += noise
            mask = np.broadcast_to(rfi.mask[first:last, np.newaxis, :], (nt, nbl, nchan))
            if options.rfi and mask.any():
                burst = rfi_rng.standard_normal((*mask.shape, 2)) @ np.array([1.0, 1j])
                hit = mask.reshape(-1, nchan)
                data[hit] += (options.rfi_amplitude_jy * burst.reshape(-1, nchan)[hit])[
                    :, np.newaxis
                ] * np.array([1.0, 0.1, 0.1, 1.0])
            flags = np.broadcast_to(self.gain_flags[np.newaxis], (nt, nbl, nchan)).reshape(
                -1, nchan
            )
            cross_rows = np.tile(self.cross, nt)
            n_unflagged += int((~flags[cross_rows]).sum())
            n_rfi += int(mask.reshape(-1, nchan)[cross_rows].sum())
            nrow = nt * nbl
            rows_ant1, rows_ant2 = np.tile(ant1, nt), np.tile(ant2, nt)
            columns = {
                "DATA": self._as_delivered(data, rows_ant1, rows_ant2).astype(np.complex64),
                "NOISE_DATA": self._as_delivered(noise, rows_ant1, rows_ant2).astype(np.complex64),
                "FLAG": np.repeat(flags[:, :, np.newaxis], 4, axis=2),
                "UVW": uvw,
                "ANTENNA1": rows_ant1,
                "ANTENNA2": rows_ant2,
                "TIME": np.repeat(times[first:last], nbl),
                "TIME_CENTROID": np.repeat(times[first:last], nbl),
                "INTERVAL": np.full(nrow, options.integration_s),
                "EXPOSURE": np.full(nrow, options.integration_s),
                "FEED1": np.full(nrow, plan.beam, dtype=np.int32),
                "FEED2": np.full(nrow, plan.beam, dtype=np.int32),
                "FIELD_ID": np.full(nrow, index, dtype=np.int32),
                "SCAN_NUMBER": np.full(nrow, index + 1, dtype=np.int32),
                "SIGMA": np.full((nrow, 4), self.sigma_column, dtype=np.float32),
                "WEIGHT": np.full((nrow, 4), 1.0 / self.sigma_column**2, dtype=np.float32),
                "STATE_ID": np.full(nrow, -1, dtype=np.int32),
            }
            start_row = first_row + first * nbl
            for name, values in columns.items():
                tab.putcol(name, values, startrow=start_row, nrow=nrow)
            logger.info(
                "Beam %02d, field %s: integrations %d-%d of %d written",
                plan.beam, scan.field_name, first + 1, last, ntime,
            )  # fmt: skip
            total = len(plan.scans) * ntime  # every scan of the beam's MS in one bar
            report(f"simulate beam {plan.beam:02d}", index * ntime + last, total)
        return _ScanResult(
            times, phases, rfi.mask, n_unflagged, n_rfi, beam_sky, offsets[inside], method
        )


def simulate_beam(plan: BeamPlan, options: SimulationOptions, truth_dir: Path) -> BeamTruth:
    """Write one beam's MS and truth (atomically: a failed run leaves nothing behind)."""
    from casacore.tables import table

    started = timer.perf_counter()
    if options.threads:
        import numba

        numba.set_num_threads(min(options.threads, numba.config.NUMBA_NUM_THREADS))
    writer = _BeamWriter(plan, options)
    results = []
    with atomic_path(plan.ms_path, overwrite=True) as temporary:
        create_ms(temporary, writer.ms_layout())
        with table(str(temporary), readonly=False, ack=False) as tab:
            for index, scan in enumerate(plan.scans):
                results.append(writer.write_scan(tab, index, scan))
    own = results[plan.own_scan]
    truth = _write_truth(plan, options, writer, own, truth_dir)
    logger.info(
        "Beam %02d done in %.1f s: %s", plan.beam, timer.perf_counter() - started, plan.ms_path
    )
    return truth


def _write_truth(
    plan: BeamPlan, options: SimulationOptions, writer: _BeamWriter, own: _ScanResult, truth_dir
) -> BeamTruth:
    name = truth_prefix(plan)
    freqs = writer.freqs
    sky_table = own.sky.to_table()
    centre_hz = float(freqs.mean())
    centre_gain = pb_gain(own.offsets_deg, [centre_hz], options)[:, 0]
    sky_table["apparent_flux"] = own.sky.flux_at([centre_hz])[:, 0] * centre_gain
    sky_table["pb_gain"] = centre_gain
    sky_table["offset_deg"] = own.offsets_deg
    sky_table.meta["APP_FREQ"] = centre_hz
    write_sky_table(truth_dir / f"{name}.sky.fits", sky_table)
    # CASDA data were calibrated with the true bandpass: none is left in them
    bandpass = (
        writer.bandpass
        if options.layout != "casda"
        else _bandpass(
            options.with_options(bandpass="none"), plan.beam, freqs, writer.array.n_antennas
        )
    )
    _write_bandpass(truth_dir / f"{name}.bandpass.bin", bandpass, own.times, options)
    write_corruptions(
        truth_dir / f"{name}.corruptions.npz",
        BeamCorruptions(own.times, own.phases, own.rfi_mask, freqs),
    )
    sigma = writer.sigma
    target = plan.target
    truth = BeamTruth(
        beam=plan.beam,
        measurement_set=plan.ms_path.name,
        field_name=target.field_name,
        phase_centre_deg=target.phase_centre_deg,
        boresight_deg=target.boresight_deg,
        start_utc_mjd_s=float(own.times[0]),
        n_integrations=len(own.times),
        n_components=len(own.sky),
        predict=own.method,
        noise_sigma_jy=float(sigma),
        n_unflagged_cross=own.n_unflagged,
        expected_image_noise_jy=(
            float(sigma / math.sqrt(2 * own.n_unflagged)) if own.n_unflagged else 0.0
        ),
        n_rfi_samples=own.n_rfi,
        sky=f"{name}.sky.fits",
        bandpass=f"{name}.bandpass.bin",
        corruptions=f"{name}.corruptions.npz",
    )
    write_json(truth_dir / f"{name}.json", truth.model_dump(mode="json"))
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
