"""Bandpass solutions from the calibrator restore a corrupted science field to the noise level."""

from __future__ import annotations

import numpy as np
import pytest
from casacore.tables import table

from flint.calibration.apply import apply_solutions
from flint.calibration.bandpass import solve_bandpass
from flint.footprint import Footprint
from flint.simulate import SimulationOptions, simulate_calibrator, simulate_field
from flint.sky import SkyModel

pytestmark = pytest.mark.slow


def test_calibrator_solutions_restore_science_visibilities(tmp_path, real_solutions_path):
    options = SimulationOptions(
        layout="flint",  # the steps under test work on preprocessed data (tests/test_preprocess.py)
        beams=[0],
        duration_s=120.0,
        bandpass=str(real_solutions_path),
        phase_rms_deg=0.0,
        seed=5,
    )
    calibrator = simulate_calibrator(tmp_path / "cal", options)
    ras, decs = Footprint(name=options.footprint, pitch_deg=options.pitch_deg).beam_centres(
        options.ra_deg, options.dec_deg, beams=[0]
    )
    sky = SkyModel(
        ra_deg=[float(ras[0]) + 0.1, float(ras[0]) - 0.2],
        dec_deg=[float(decs[0]), float(decs[0]) + 0.15],
        flux_jy=[3.0, 1.5],
        reference_hz=888e6,
    )
    science = simulate_field(tmp_path / "science", sky, options.with_options(seed=6))
    truth = simulate_field(
        tmp_path / "truth", sky, options.with_options(bandpass="none", sigma_jy=0.0, seed=6)
    )
    solutions = tmp_path / "beam00.calibrate.bin"
    solve_bandpass(calibrator.measurement_sets[0], solutions, work_dir=tmp_path / "work")
    corrected = apply_solutions(science.measurement_sets[0], solutions, tmp_path / "data.ms")
    noise = apply_solutions(
        science.measurement_sets[0], solutions, tmp_path / "noise.ms", data_column="NOISE_DATA"
    )
    with table(str(corrected.ms), ack=False) as tab:
        data = tab.getcol("CORRECTED_DATA")[..., [0, 3]]
        flags = tab.getcol("FLAG")[..., [0, 3]]
        raw = tab.getcol("DATA")[..., [0, 3]]
        noise_in_copy = tab.getcol("NOISE_DATA")[..., [0, 3]]
    with table(str(science.measurement_sets[0]), ack=False) as tab:
        raw_noise = tab.getcol("NOISE_DATA")[..., [0, 3]]
    with table(str(noise.ms), ack=False) as tab:
        calibrated_noise = tab.getcol("CORRECTED_DATA")[..., [0, 3]]
    with table(str(truth.measurement_sets[0]), ack=False) as tab:
        model = tab.getcol("DATA")[..., [0, 3]]
    good = ~flags
    assert good.mean() > 0.9
    residual = np.sqrt(np.mean(np.abs(data - model)[good] ** 2))
    noise_level = np.sqrt(np.mean(np.abs(calibrated_noise)[good] ** 2))
    before = np.sqrt(np.mean(np.abs(raw - model)[good] ** 2))
    assert before > 3 * noise_level  # the bandpass corruption is far above the noise
    assert residual < 1.05 * noise_level  # calibrated data are the truth plus the noise
    # the copy's noise column got the same correction (imaging it gives the thermal limit of
    # the calibrated data); the raw measurement set keeps its own
    np.testing.assert_allclose(noise_in_copy[good], calibrated_noise[good], rtol=1e-5, atol=1e-6)
    assert not np.allclose(raw_noise[good], calibrated_noise[good], rtol=1e-3)
