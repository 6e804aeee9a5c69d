"""The simulate flow: thin orchestration of flint.demo's simulation (the science is in core)."""

from __future__ import annotations

import numpy as np
import pytest
from casacore.tables import table
from fixtures_workbench import UNCLOSED_API_SOCKET
from prefect.states import State

from flint.demo import simulate_demo_field
from flint.naming import parse_ms_name
from flint.prefect.flows.simulate import simulate_flow

pytestmark = [pytest.mark.slow, UNCLOSED_API_SOCKET]


def test_simulate_flow_writes_what_the_core_simulation_writes(prefect_api, tmp_path):
    state = simulate_flow(tmp_path / "flow", beams=[14], sky="simple", return_state=True)
    assert state.is_completed(), state.message
    calibrator, field = (s.result() if isinstance(s, State) else s for s in state.result())
    (cal_ms,) = calibrator.measurement_sets
    (field_ms,) = field.measurement_sets
    # raw, as the telescope delivers them: YYYY-MM-DD_HHMMSS_<beam>.ms in SB<sbid>/
    assert parse_ms_name(cal_ms).style == "raw" and parse_ms_name(cal_ms).beam == 14
    assert parse_ms_name(field_ms).beam == 14 and parse_ms_name(field_ms).sbid == 50001
    assert cal_ms.parent == tmp_path / "flow" / "calibrator" / "SB50000"
    # the flow's field is exactly the core simulation's (same seed, same sky, same noise)
    (core_ms,) = simulate_demo_field(tmp_path / "core", beams=(14,), sky="simple").measurement_sets
    with table(str(field_ms), ack=False) as flow_tab, table(str(core_ms), ack=False) as core_tab:
        flow_data, core_data = flow_tab.getcol("DATA"), core_tab.getcol("DATA")
    assert np.abs(flow_data).max() > 0
    np.testing.assert_array_equal(flow_data, core_data)
