"""Flows submitted from the workbench run their tasks on the cluster started in its Cluster panel.

A real LocalCluster (started by the panel in this process), a real serve runner and a real
Prefect server: the flow's task reports the scheduler of the Dask worker it ran on.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fixtures_workbench import UNCLOSED_API_SOCKET, run_to_end, wait_for

from flint.prefect.submit import FlowChoice
from flint.prefect.workbench import Session
from flint_widgets import ClusterPanel, FlowPanel

pytestmark = [pytest.mark.slow, UNCLOSED_API_SOCKET]

WHERE_FLOW = '''
"""Where do my tasks run? (declared like flint's flows: default_task_runner())"""
from pathlib import Path

from prefect import flow, task

from flint.prefect.cluster import default_task_runner


@task
def where() -> str:
    try:
        from distributed import get_worker
    except ImportError:
        return "no-dask"
    try:
        return get_worker().scheduler.address
    except ValueError:  # not in a Dask worker
        return "no-dask"


@flow(name="where-do-tasks-run", task_runner=default_task_runner())
def where_flow(output: str) -> str:
    answer = where.submit().result()
    Path(output).write_text(answer)
    return answer
'''


def _submit_and_read(panel: FlowPanel, output: Path) -> str:
    panel.form.fields["output"][0].value = str(output)
    submission = panel.submit().result(180)
    run = run_to_end(submission.id, timeout=180)
    assert run.state_name == "Completed", run.state_name
    return output.read_text()


def test_flows_run_on_the_panels_cluster(prefect_api, tmp_path: Path, monkeypatch):
    # the flow lives in a package, as flint's do: served by module path, its tasks unpickle
    # on the workers (served by file path, the module would be a top-level "where_flow")
    package = tmp_path / "site" / "where_package"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "where_flow.py").write_text(WHERE_FLOW)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))  # this process loads it too
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path / 'site'}:{os.environ.get('PYTHONPATH', '')}")
    session = Session(
        [FlowChoice(entrypoint="where_package.where_flow:where_flow", label="where")],
        deployment=f"where-{tmp_path.name}",
        log_dir=str(tmp_path / "serve"),
    )  # the panels share it: the flow panel sends tasks to the cluster panel's cluster
    cluster = ClusterPanel(config="local", session=session)
    flows = FlowPanel(session=session)
    try:
        # no cluster yet: the runner's flows keep their tasks in their own process
        flows.start_runner().result(180)
        assert flows.runner is not None and flows.runner_address is None
        assert _submit_and_read(flows, tmp_path / "before.txt") == "no-dask"

        # start a cluster from its panel: the next submission restarts the runner onto it
        cluster.start().result(180)
        address = cluster.last_status.scheduler_address
        assert address and address.startswith("tcp://127.0.0.1:")
        assert _submit_and_read(flows, tmp_path / "after.txt") == address
        assert flows.runner_address == address

    finally:
        flows.stop_runner()
        cluster.stop().result(60)
    wait_for(lambda: not cluster.last_status.running, 30)
