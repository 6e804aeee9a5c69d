"""ASKAP layouts: detection, preprocessing (pointing, frame rotation, CASDA's Stokes factor)
exactly once, and the simulator's raw and CASDA layouts equal to its flint layout."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from casacore.tables import table

from flint.askap.preprocess import preprocess_ms
from flint.calibration.jones import correct
from flint.demo import demo_sky
from flint.errors import MeasurementSetError
from flint.ms import detect_layout
from flint.simulation import SimulationOptions, read_truth, simulate_calibrator, simulate_field

CASDA_NAME = "scienceData.RACS_0635-31.SB39400.RACS_0635-31.beam00_averaged_cal.leakage.ms"
STOKES = np.array([10.0, 1.5, -0.8, 0.3])  # I Q U V of a polarised source


def askap_instrument_correlations(stokes: np.ndarray) -> np.ndarray:
    """ASKAPsoft correlations for pol axis P = -45 deg: I = XX+YY, Q = YY-XX, U = -(XY+YX),
    V = i(YX-XY) (fixms's documented instrument convention)."""
    i, q, u, v = stokes
    xx, yy = (i - q) / 2, (i + q) / 2
    xy = (-u + 1j * v) / 2
    yx = (-u - 1j * v) / 2
    return np.array([xx, xy, yx, yy])


def standard_stokes(corr: np.ndarray) -> np.ndarray:
    xx, xy, yx, yy = np.moveaxis(corr, -1, 0)
    return np.array([(xx + yy) / 2, (xx - yy) / 2, (xy + yx) / 2, 1j * (yx - xy) / 2])


def checksums(directory: Path) -> dict[str, str]:
    """sha256 of every file of a measurement set (to prove it was not written)."""
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def flint_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flint.cli", *args], capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("casda", [False, True])
def test_rotation_pointing_and_stokes_factor(real_ms, tmp_path, casda):
    source = tmp_path / (CASDA_NAME if casda else "2022-05-07_123456_0.ms")
    shutil.move(real_ms, source)
    offset = np.radians([0.6, -0.4])
    with table(f"{source}/FEED", readonly=False, ack=False) as tab:
        offsets = tab.getcol("BEAM_OFFSET")
        offsets[tab.getcol("FEED_ID") == 0, 0] = offset
        tab.putcol("BEAM_OFFSET", offsets)
    with table(f"{source}/FIELD", ack=False) as tab:
        ra0, dec0 = tab.getcol("PHASE_DIR")[0, 0]
    with table(str(source), readonly=False, ack=False) as tab:
        shape = tab.getcol("DATA").shape
        data = np.broadcast_to(askap_instrument_correlations(STOKES), shape).astype(np.complex64)
        tab.putcol("DATA", data)
    raw = data.copy()
    state = detect_layout(source)
    assert state.layout == ("casda" if casda else "raw")
    assert state.needs == ("direction", "rotation", *(("stokes factor",) if casda else ()))
    before = checksums(source)

    result = preprocess_ms(source, tmp_path / "pre.ms")
    assert result.steps == state.needs and result.pol_axis_deg == pytest.approx(-45.0)
    with table(str(result.ms), ack=False) as tab:
        np.testing.assert_array_equal(tab.getcol("INSTRUMENT_DATA"), raw)
        stokes = standard_stokes(tab.getcol("DATA")[0, 0])
    # CASDA data carry ASKAPsoft's I = XX + YY: after the fix the usual definitions give the truth
    expected = STOKES if casda else STOKES / 2
    np.testing.assert_allclose(stokes, expected, atol=1e-5)

    # beam pointing: offset (-dx along a great circle, dy in declination) from the boresight
    lat = dec0 + offset[1]
    dlon = -offset[0]
    dec = np.arcsin(np.cos(dlon) * np.sin(lat))
    ra = ra0 + np.arctan2(np.sin(dlon), np.cos(dlon) * np.cos(lat))
    with table(f"{result.ms}/FIELD", ack=False) as tab:
        new = tab.getcol("PHASE_DIR")[0, 0]
    assert new[1] == pytest.approx(dec, abs=1e-9)
    assert np.angle(np.exp(1j * (new[0] - ra))) == pytest.approx(0, abs=1e-9)
    assert (result.ms / "FIELD_OLD").exists() and (result.ms / "FEED_OLD").exists()
    with table(f"{result.ms}/FEED", ack=False) as tab:
        assert not tab.getcol("BEAM_OFFSET").any()
        np.testing.assert_allclose(np.degrees(tab.getcol("RECEPTOR_ANGLE")[:, 0]), 45.0)
    # the copy needs nothing more; the source was only read; a rerun reuses the copy
    done = detect_layout(result.ms)
    assert done.needs == () and done.calibrated is casda
    assert checksums(source) == before
    assert preprocess_ms(source, tmp_path / "pre.ms").skipped
    again = preprocess_ms(result.ms, tmp_path / "twice.ms")
    assert again.steps == () and again.ms == result.ms and not (tmp_path / "twice.ms").exists()


def test_the_real_partly_processed_ms_is_rotated_once_and_not_moved(real_ms_readonly, tmp_path):
    """The shared real MS: BEAM_OFFSET all zero (direction fixed), RECEPTOR_ANGLE 90/180 and no
    INSTRUMENT_DATA (correlations not rotated)."""
    state = detect_layout(real_ms_readonly)
    assert state.layout == "partly processed" and state.needs == ("rotation",)
    assert (state.beam, state.sbid, state.field) == (0, 39400, "RACS_0635-31")
    assert state.pointing_deg() == pytest.approx((98.21196, -30.86100), abs=1e-5)
    summary = flint_cli("ms", "summary", str(real_ms_readonly))
    assert summary.returncode == 0, summary.stderr
    assert "layout       partly processed" in summary.stdout
    assert "PAF frame (polarisation axis -45.0 deg): to rotate" in summary.stdout
    assert "beam 0 at (98.21196, -30.86100) deg" in summary.stdout

    before = checksums(real_ms_readonly)
    output = tmp_path / "pre"
    first = flint_cli("ms", "preprocess", str(real_ms_readonly), "--output", str(output))
    assert first.returncode == 0, first.stderr
    copy = output / "SB39400.RACS_0635-31.beam00.ms"
    assert f"{copy}: rotation (partly processed layout)" in first.stdout
    with table(f"{real_ms_readonly}/FIELD", ack=False) as tab, table(f"{copy}/FIELD") as new:
        np.testing.assert_array_equal(new.getcol("PHASE_DIR"), tab.getcol("PHASE_DIR"))
    assert not (copy / "FIELD_OLD").exists()  # the direction was not shifted again
    assert detect_layout(copy).needs == ()
    # idempotent: the same command changes nothing; the input is never written
    after_first = checksums(copy)
    second = flint_cli("ms", "preprocess", str(real_ms_readonly), "--output", str(output))
    assert second.returncode == 0 and "already preprocessed" in second.stdout
    assert checksums(copy) == after_first
    third = flint_cli("ms", "preprocess", str(copy), "--output", str(tmp_path / "again"))
    assert "nothing to do" in third.stdout and not (tmp_path / "again").exists()
    assert checksums(real_ms_readonly) == before


SMALL = {
    "sbid": 7,
    "field_name": "F",
    "n_channels": 288,
    "channel_average": 24,
    "duration_s": 150.0,
    "integration_s": 30.0,
    "seed": 3,
}


def test_raw_and_casda_layouts_preprocess_to_the_flint_layouts_data(tmp_path):
    """The same sky, gains and noise in every layout: after preprocessing, raw is the flint
    layout bit for bit (calibrator block and field), CASDA is it calibrated with the true
    bandpass."""
    cal = {
        layout: simulate_calibrator(
            tmp_path / layout, SimulationOptions(**SMALL, beams=[14, 20], layout=layout)
        )
        for layout in ("raw", "flint")
    }
    sky = demo_sky((14,), 5e-3, 1)
    field = {
        layout: simulate_field(
            tmp_path / layout,
            sky,
            SimulationOptions(**{**SMALL, "sbid": 8}, beams=[14], layout=layout),
        )
        for layout in ("raw", "flint", "casda")
    }
    columns = ("DATA", "NOISE_DATA", "UVW", "TIME", "FLAG", "ANTENNA1", "ANTENNA2")
    pairs = [
        (cal["raw"].measurement_sets[1], cal["flint"].measurement_sets[1]),
        (field["raw"].measurement_sets[0], field["flint"].measurement_sets[0]),
    ]
    for raw, flint_ms in pairs:
        result = preprocess_ms(raw, tmp_path / "pre" / raw.name)
        with table(str(result.ms), ack=False) as mine, table(str(flint_ms), ack=False) as ref:
            for column in columns:
                np.testing.assert_array_equal(mine.getcol(column), ref.getcol(column), column)
        with table(f"{result.ms}/FIELD", ack=False) as mine, table(f"{flint_ms}/FIELD") as ref:
            np.testing.assert_allclose(
                mine.getcol("PHASE_DIR"), ref.getcol("PHASE_DIR"), atol=1e-12
            )
    assert detect_layout(cal["raw"].measurement_sets[1]).field_for_beam() == "B1934-638_beam20"
    casda = preprocess_ms(field["casda"].measurement_sets[0], tmp_path / "pre" / "casda.ms")
    assert casda.steps == ("rotation", "stokes factor") and casda.calibrated
    bandpass = read_truth(field["flint"].truth_dir).bandpass(14)
    with table(str(casda.ms), ack=False) as mine, table(str(pairs[1][1]), ack=False) as ref:
        expected = correct(
            ref.getcol("DATA"), bandpass, ref.getcol("ANTENNA1"), ref.getcol("ANTENNA2")
        )
        np.testing.assert_allclose(mine.getcol("DATA"), expected, atol=1e-5)


def test_a_calibrator_ms_without_its_beams_field_is_refused(tmp_path):
    result = simulate_calibrator(tmp_path, SimulationOptions(**SMALL, beams=[3, 4]))
    ms = result.measurement_sets[0]  # beam 3: fields B1934-638_beam3 and _beam4
    with table(f"{ms}/FIELD", readonly=False, ack=False) as tab:
        tab.putcell("NAME", 0, "B1934-638_beam9")
    with pytest.raises(
        MeasurementSetError,
        match=r"calibrator block without the field B1934-638_beam3 for its beam 3 "
        r"\(fields: B1934-638_beam9, B1934-638_beam4\)",
    ):
        preprocess_ms(ms, tmp_path / "copy.ms")
    assert not (tmp_path / "copy.ms").exists()
