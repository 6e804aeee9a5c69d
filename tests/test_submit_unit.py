"""Pure parts of the serve-runner plumbing: how flows are loaded, when a runner counts as live."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from prefect.deployments.runner import EntrypointType

from flint.prefect.submit import RUNNER_SILENT_SECONDS, _served, entrypoint_type


def test_package_flows_are_served_by_module_path():
    assert (
        entrypoint_type("flint.prefect.flows.bandpass:bandpass_flow") is EntrypointType.MODULE_PATH
    )
    assert entrypoint_type("/tmp/my_flows.py:demo") is EntrypointType.FILE_PATH


def test_a_deployment_counts_as_served_only_while_its_runner_polls():
    now = datetime.now(UTC)
    recent = SimpleNamespace(last_polled=now - timedelta(seconds=2))
    silent = SimpleNamespace(last_polled=now - timedelta(seconds=RUNNER_SILENT_SECONDS + 1))
    never = SimpleNamespace(last_polled=None)
    assert _served(recent, now)
    assert not _served(silent, now)
    assert not _served(never, now)
