"""ASKAP preprocessing: beam pointing, frame rotation and the CASDA Stokes factor."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from casacore.tables import table

from flint.askap.preprocess import is_casda_name, preprocess_askap_ms
from flint.errors import MeasurementSetError

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


@pytest.mark.parametrize("casda", [False, True])
def test_rotation_and_stokes_factor(real_ms, tmp_path, casda):
    source = tmp_path / (CASDA_NAME if casda else "raw.ms")
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

    result = preprocess_askap_ms(source, tmp_path / "pre.ms")
    assert result.stokes_factor_fixed is casda
    assert result.pol_axis_deg == pytest.approx(-45.0)
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
    with table(f"{result.ms}/FEED", ack=False) as tab:
        assert not tab.getcol("BEAM_OFFSET").any()
        np.testing.assert_allclose(np.degrees(tab.getcol("RECEPTOR_ANGLE")[:, 0]), 45.0)
    # the source is untouched, a rerun is skipped
    with table(str(source), ack=False) as tab:
        assert "INSTRUMENT_DATA" not in tab.colnames()
    assert preprocess_askap_ms(source, tmp_path / "pre.ms").skipped


def test_preprocessed_input_is_refused(real_ms, tmp_path):
    first = preprocess_askap_ms(real_ms, tmp_path / "once.ms")
    with pytest.raises(MeasurementSetError, match="already has INSTRUMENT_DATA"):
        preprocess_askap_ms(first.ms, tmp_path / "twice.ms")
    assert not (tmp_path / "twice.ms").exists()


def test_casda_names():
    assert is_casda_name(CASDA_NAME)
    assert not is_casda_name("SB39400.RACS_0635-31.beam0.small.ms")
    assert not is_casda_name(CASDA_NAME.replace(".leakage", ""))
