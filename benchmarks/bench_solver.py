"""Benchmark the StEFCal bandpass solver: accuracy and speed against scipy least squares.

Simulates a PKS B1934-638 scan (36 antennas, real AO gains, thermal noise), writes it to
a measurement set and measures:

- ``read_s``: reading DATA once from the MS (``getcol``, a fresh array);
- ``stefcal_s``: the full solve (reading DATA, FLAG, UVW, predicting the model,
  accumulating and iterating) and ``ratio = stefcal_s / read_s`` (goal <= 2);
- the stricter ratio against reading DATA into an already allocated buffer (``getcolnp``,
  no page faults), the fastest read casacore offers;
- the accuracy (rms amplitude and phase error against truth) of StEFCal and of
  ``scipy.optimize.least_squares`` on the same channels (a subset, as it is slow).

Times are the minimum of ``--repeats`` runs (the machine is shared).

Usage: python benchmarks/bench_solver.py [--times 12] [--out benchmarks/results/solver.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
from casacore.tables import table
from scipy.optimize import least_squares

from flint.calibration.bandpass import BandpassOptions, _solve_once
from flint.calibration.jones import corrupt
from flint.calibration.model import CALIBRATORS
from flint.calibration.solutions import read_solutions
from flint.sky.model import SkyModel

ROOT = Path(__file__).resolve().parents[1]
SIGMA_JY = 1800.0 / np.sqrt(2 * 1e6 * 10.0)
SKY = SkyModel(
    ra_deg=CALIBRATORS["B1934-638"][0],
    dec_deg=CALIBRATORS["B1934-638"][1],
    flux_jy=14.23058308,
    reference_hz=888.5e6,
    spectral_terms=[0.42280414, -1.74293221, 0.605334],
)


def build_ms(where: Path, n_times: int, jones: np.ndarray) -> Path:
    """Real MS structure repeated to ``n_times`` integrations, with the simulated scan."""
    with zipfile.ZipFile(ROOT / "tests/data/SB39400.RACS_0635-31.beam0.small.ms.zip") as archive:
        archive.extractall(where)
    (ms,) = where.glob("*.ms")
    with table(f"{ms}/FIELD", readonly=False, ack=False) as tab:
        directions = tab.getcol("PHASE_DIR")
        directions[:, 0] = np.radians(CALIBRATORS["B1934-638"])
        tab.putcol("PHASE_DIR", directions)
    rng = np.random.default_rng(0)
    with table(str(ms), readonly=False, ack=False) as tab:
        per_time = tab.nrows() // 3
        tab.addrows((n_times - 3) * per_time)
        for name in ("ANTENNA1", "ANTENNA2", "FEED1", "FEED2", "TIME"):
            values = tab.getcol(name, 0, per_time)
            tiled = np.concatenate(
                [values + (10.0 * i if name == "TIME" else 0) for i in range(n_times)]
            )
            tab.putcol(name, tiled)
        ant1, ant2 = tab.getcol("ANTENNA1"), tab.getcol("ANTENNA2")
        with table(f"{ms}/ANTENNA", ack=False) as antennas:
            positions = antennas.getcol("POSITION")
        uvw = positions[ant2] - positions[ant1]
        tab.putcol("UVW", uvw)
        n_chan = jones.shape[1]
        model = np.zeros((len(ant1), n_chan, 4), complex)
        model[..., 0] = model[..., 3] = SKY.flux_at(np.linspace(744e6, 1031e6, n_chan))[0]
        data = corrupt(model, jones, ant1, ant2)
        scale = np.median(np.abs(jones[..., 0])) ** 2
        data += scale * SIGMA_JY * (rng.normal(size=data.shape) + 1j * rng.normal(size=data.shape))
        tab.putcol("DATA", data.astype(np.complex64))
        tab.putcol("FLAG", np.zeros(data.shape, bool))
    return ms


def errors(estimate: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    rotation = np.exp(-1j * np.angle(np.nansum(estimate * truth.conj(), axis=-1, keepdims=True)))
    ratio = estimate * rotation / truth
    return (
        float(np.sqrt(np.nanmean((np.abs(ratio) - 1) ** 2))),
        float(np.degrees(np.sqrt(np.nanmean(np.angle(ratio) ** 2)))),
    )


def scipy_solve(data, model, ant1, ant2, n_ant):
    """Plain least squares on real and imaginary gain parts for one channel/pol."""

    def residual(x):
        g = x[:n_ant] + 1j * x[n_ant:]
        r = data - g[ant1] * model * g[ant2].conj()
        return np.concatenate([r.real, r.imag])

    x0 = np.concatenate([np.full(n_ant, 0.1), np.zeros(n_ant)])
    x = least_squares(residual, x0, method="lm").x
    return x[:n_ant] + 1j * x[n_ant:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--times", type=int, default=12)
    parser.add_argument("--scipy-channels", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/solver.json")
    args = parser.parse_args()
    jones = (
        read_solutions(ROOT / "tests/data/SB39433.B1934-638.beam0.calibrate.bin").gains[0].copy()
    )
    jones[..., 1] = jones[..., 2] = 0
    jones[~np.isfinite(jones)] = 0.1
    truth = jones[..., [0, 3]].transpose(1, 2, 0)  # [chan, pol, ant]
    with tempfile.TemporaryDirectory() as tmp:
        ms = build_ms(Path(tmp), args.times, jones)
        with table(str(ms), ack=False) as tab:
            n_rows = tab.nrows()
            with table(f"{ms}/SPECTRAL_WINDOW", ack=False) as spw:
                frequencies = spw.getcell("CHAN_FREQ", 0)
        _solve_once(ms, SKY, 36, frequencies, BandpassOptions())  # JIT warm-up, page cache
        read_times, buffer_times, solve_times = [], [], []
        with table(str(ms), ack=False) as tab:
            buffer = np.empty((n_rows, len(frequencies), 4), np.complex64)
            for _ in range(args.repeats):
                started = time.perf_counter()
                data = tab.getcol("DATA")
                read_times.append(time.perf_counter() - started)
                started = time.perf_counter()
                tab.getcolnp("DATA", buffer)
                buffer_times.append(time.perf_counter() - started)
                started = time.perf_counter()
                result = _solve_once(ms, SKY, 36, frequencies, BandpassOptions())
                solve_times.append(time.perf_counter() - started)
        read_s, buffer_s, stefcal_s = min(read_times), min(buffer_times), min(solve_times)
        amp_err, phase_err = errors(result.gains, truth)
        with table(str(ms), ack=False) as tab:
            ant1, ant2 = tab.getcol("ANTENNA1"), tab.getcol("ANTENNA2")
        cross = ant1 != ant2
        channels = np.linspace(0, len(frequencies) - 1, args.scipy_channels).astype(int)
        flux = SKY.flux_at(frequencies)[0]
        started = time.perf_counter()
        scipy_gains = np.array(
            [
                [
                    scipy_solve(
                        data[cross, c, p],
                        np.full(cross.sum(), flux[c]),
                        ant1[cross],
                        ant2[cross],
                        36,
                    )
                    for p in (0, 3)
                ]
                for c in channels
            ]
        )
        scipy_s = (time.perf_counter() - started) * len(frequencies) / len(channels)
        scipy_amp, scipy_phase = errors(scipy_gains, truth[channels])
        sub_amp, sub_phase = errors(result.gains[channels], truth[channels])
    record = {
        "rows": n_rows,
        "channels": len(frequencies),
        "integrations": args.times,
        "repeats": args.repeats,
        "read_data_s": read_s,
        "read_data_into_buffer_s": buffer_s,
        "stefcal_solve_s": stefcal_s,
        "ratio_solve_over_read": stefcal_s / read_s,
        "ratio_solve_over_read_into_buffer": stefcal_s / buffer_s,
        "stefcal_iterations_mean": float(result.iterations.mean()),
        "stefcal_amplitude_rms_error": amp_err,
        "stefcal_phase_rms_error_deg": phase_err,
        "scipy_channels": len(channels),
        "scipy_estimated_full_solve_s": scipy_s,
        "scipy_amplitude_rms_error": scipy_amp,
        "scipy_phase_rms_error_deg": scipy_phase,
        "stefcal_same_channels_amplitude_rms_error": sub_amp,
        "stefcal_same_channels_phase_rms_error_deg": sub_phase,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2))
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
