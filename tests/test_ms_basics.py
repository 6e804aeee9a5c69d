"""Measurement-set basics on the real ASKAP reference file."""

from __future__ import annotations

import numpy as np
import pytest
from casacore.tables import table

from flint.errors import MeasurementSetError
from flint.ms import (
    add_column,
    open_ms,
    rename_column,
    split_column,
    summarise_ms,
    writable_copy,
)


def test_summary_of_real_ms(real_ms_readonly):
    summary = summarise_ms(real_ms_readonly)
    assert summary.n_rows == 1998
    assert len(summary.antennas) == 36 and summary.antennas[0] == "ak01"
    assert summary.n_channels == 288
    assert summary.correlations == ["XX", "XY", "YX", "YY"]
    assert summary.n_times == 3
    assert summary.fields == ["RACS_0635-31"]
    assert summary.frequency_range_hz[0] == pytest.approx(743.99e6, abs=0.01e6)
    ra, dec = summary.phase_centres_deg[0]
    assert (ra, dec) == pytest.approx((98.21196, -30.86100), abs=1e-4)
    assert summary.flag_fraction == 1.0  # every FLAG of the reference file is set
    assert summary.beams == [0]


def test_open_is_read_only_by_default(real_ms_readonly):
    with open_ms(real_ms_readonly) as tab:
        assert not tab.iswritable()


def test_missing_ms_error_names_the_path(tmp_path):
    missing = tmp_path / "nothing.ms"
    with pytest.raises(MeasurementSetError, match=r"nothing\.ms: no such measurement set"):
        summarise_ms(missing)


def test_writable_copy_never_touches_source(real_ms_readonly, tmp_path):
    before = sorted(p.stat().st_mtime_ns for p in real_ms_readonly.rglob("*"))
    copy = writable_copy(real_ms_readonly, tmp_path / "copy.ms")
    add_column(copy, "CORRECTED_DATA", like="DATA")
    with table(str(copy), ack=False) as tab:
        assert "CORRECTED_DATA" in tab.colnames()
        assert np.all(tab.getcol("CORRECTED_DATA") == 0)
    with table(str(real_ms_readonly), ack=False) as tab:
        assert "CORRECTED_DATA" not in tab.colnames()
    assert sorted(p.stat().st_mtime_ns for p in real_ms_readonly.rglob("*")) == before
    # an existing copy is never reused (it may be half-changed): replaced, or refused
    assert writable_copy(real_ms_readonly, tmp_path / "copy.ms", overwrite=True) == copy
    with table(str(copy), ack=False) as tab:
        assert "CORRECTED_DATA" not in tab.colnames()
    with pytest.raises(FileExistsError, match=r"copy\.ms"):
        writable_copy(real_ms_readonly, copy)
    with pytest.raises(MeasurementSetError, match="in place"):
        writable_copy(copy, copy)


def test_add_and_rename_columns_are_safe(real_ms):
    assert add_column(real_ms, "MODEL_DATA", like="DATA", fill=1 + 0j)
    assert not add_column(real_ms, "MODEL_DATA", exist_ok=True)
    with pytest.raises(MeasurementSetError, match="MODEL_DATA already exists"):
        add_column(real_ms, "MODEL_DATA")
    rename_column(real_ms, "MODEL_DATA", "OLD_MODEL")
    with pytest.raises(MeasurementSetError, match="DATA already exists"):
        rename_column(real_ms, "OLD_MODEL", "DATA")
    with pytest.raises(MeasurementSetError, match="NOPE does not exist"):
        rename_column(real_ms, "NOPE", "OTHER")
    with open_ms(real_ms) as tab:
        assert "OLD_MODEL" in tab.colnames()
        assert np.all(tab.getcol("OLD_MODEL", nrow=5) == 1 + 0j)


def test_split_column_moves_corrected_into_data(real_ms, tmp_path):
    add_column(real_ms, "CORRECTED_DATA", like="DATA", fill=2 + 1j)
    with open_ms(real_ms) as tab:
        original = tab.getcol("DATA")
    output = split_column(real_ms, tmp_path / "split.ms")
    with open_ms(output) as tab:
        assert "CORRECTED_DATA" not in tab.colnames()
        assert np.all(tab.getcol("DATA", nrow=10) == 2 + 1j)
    with open_ms(real_ms) as tab:  # the source keeps both columns, unchanged
        assert np.array_equal(tab.getcol("DATA"), original, equal_nan=True)
        assert "CORRECTED_DATA" in tab.colnames()
    assert split_column(real_ms, tmp_path / "split.ms") == output  # rerun: no work
    with pytest.raises(MeasurementSetError, match="NOPE"):
        split_column(real_ms, tmp_path / "other.ms", column="NOPE")


def test_add_column_after_a_split_reuses_no_data_manager_name(real_ms, tmp_path):
    add_column(real_ms, "CORRECTED_DATA", like="DATA", fill=1 + 0j)
    split = split_column(real_ms, tmp_path / "split.ms")  # DATA now lives in that manager
    assert add_column(split, "CORRECTED_DATA", like="DATA", fill=3 + 0j)
    with open_ms(split) as tab:
        assert np.all(tab.getcol("DATA", nrow=4) == 1 + 0j)
        assert np.all(tab.getcol("CORRECTED_DATA", nrow=4) == 3 + 0j)
