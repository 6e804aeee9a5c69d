"""Real Prefect servers: embedded reuse, app-dir shadowing, PostgreSQL deployment, restart mid-flow."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fixtures_services import restore_environment

from flint.cli import main
from flint.prefect.server import _process
from flint.prefect.server.prefect_server import (
    PrefectServerOptions,
    healthy,
    prefect_app_dir,
    server_argv,
    start_prefect_server,
    state_file,
    stop_prefect_server,
)

pytestmark = pytest.mark.slow


def test_app_dir_is_immune_to_a_local_prefect_module(tmp_path, monkeypatch):
    (tmp_path / "prefect.py").write_text("raise SystemExit('shadowed')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    app_dir = prefect_app_dir()
    assert (app_dir / "prefect" / "server" / "api" / "server.py").is_file()
    argv = server_argv(PrefectServerOptions(), app_dir)
    # the server's interpreter, started here, imports the real prefect
    probe = subprocess.run([*argv[:2], "-c", "import prefect.server.api.server as s; print(s.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, check=True)  # fmt: skip
    assert probe.stdout.startswith(str(app_dir))


def test_embedded_server_is_reused_and_managed(prefect_env, capsys):
    home = Path(os.environ["PREFECT_HOME"])
    assert healthy(prefect_env)
    record = _process.read_daemon(state_file(home))
    assert record.alive() and record.info["kind"] == "embedded" and "127.0.0.1" in prefect_env
    assert main(["server", "status"]) == 0
    out = capsys.readouterr().out
    assert f"export PREFECT_API_URL={prefect_env}" in out
    assert os.environ["PREFECT_LOGGING_EXTRA_LOGGERS"] == "flint,fixms"
    assert os.environ["PREFECT_RESULTS_PERSIST_BY_DEFAULT"] == "true"


def test_a_kernel_switching_servers_records_each_flow_s_task_runs_on_its_server(
    prefect_api, prefect_env
):
    """Prefect's event worker is cached without the API URL: flint restarts it when the
    API changes, or task-run states of flows on the new server went to the old one."""
    from prefect import flow, task

    from flint.prefect.runs import read_settled_task_runs
    from flint.prefect.settings import apply_environment

    @task
    def double(x: int) -> int:
        return 2 * x

    @flow
    def doubled(x: int) -> int:
        return double(x)

    assert prefect_api != prefect_env  # two servers: the workbench's and the embedded one
    for api_url in (prefect_api, prefect_env, prefect_api):
        apply_environment({"PREFECT_API_URL": api_url})
        state = doubled(3, return_state=True)
        assert state.is_completed() and state.result() == 6
        runs = asyncio.run(read_settled_task_runs(state.state_details.flow_run_id, 1, 30))
        assert [(run.name.split("-")[0], run.state.name) for run in runs] == [
            ("double", "Completed")
        ], api_url


def test_refuses_many_web_workers_without_redis():
    from flint.errors import ConfigError

    with pytest.raises(ConfigError, match="web_concurrency"):
        start_prefect_server(PrefectServerOptions(web_concurrency=4), home=Path("/nonexistent"))


async def _flow_runs(names):
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        return [run for run in await client.read_flow_runs(limit=200) if run.name in names]


async def _db_rows(port: int, password: str) -> list[str]:
    import asyncpg

    connection = await asyncpg.connect(host="127.0.0.1", port=port, user="prefect",
                                       password=password, database="prefect")  # fmt: skip
    try:
        return [row["name"] for row in await connection.fetch("SELECT name FROM flow_run")]
    finally:
        await connection.close()


def test_postgres_deployment_records_flow_runs(postgres_dir, tmp_path, capsys):
    """flint server start --postgres: flow runs read back through the API and found in PostgreSQL."""
    from fixtures_services import free_port
    from prefect import flow

    saved = dict(os.environ)
    password = "s3cret-Pa55word"
    pg_port, api_port = free_port(), free_port()
    os.environ.update(PREFECT_HOME=str(tmp_path / "home"), POSTGRES_PASS=password)
    os.environ.pop("PREFECT_API_URL", None)
    try:
        started = time.monotonic()
        code = main(["server", "start", "--postgres", "--data-dir", str(postgres_dir / "data"),
                     "--pg-port", str(pg_port), "--port", str(api_port), "--memory", "1GiB"])  # fmt: skip
        out = capsys.readouterr().out
        assert code == 0, out
        print(f"PostgreSQL + Prefect server up in {time.monotonic() - started:.1f} s")
        api_url = f"http://127.0.0.1:{api_port}/api"
        assert f"export PREFECT_API_URL={api_url}" in out and password not in out
        server = _process.read_daemon(state_file())
        cmdlines = [server.argv] + [Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
                                    for pid in os.listdir("/proc") if pid.isdigit()
                                    and Path(f"/proc/{pid}/cmdline").exists()]  # fmt: skip
        assert not any(password in str(line) for line in cmdlines)
        assert password not in (Path(os.environ["PREFECT_HOME"]) / "flint-server.log").read_text()
        conf = (postgres_dir / "data" / "flint.conf").read_text()
        assert "shared_buffers = 256MB" in conf and "effective_cache_size = 768MB" in conf

        os.environ["PREFECT_API_URL"] = api_url
        restore_environment(dict(os.environ))

        @flow
        def tiny(x: int) -> int:
            return x + 1

        names = [f"pg-run-{i}" for i in range(3)]
        for name in names:
            assert tiny.with_options(flow_run_name=name)(1) == 2
        runs = asyncio.run(_flow_runs(set(names)))
        assert sorted(run.name for run in runs) == names
        assert all(run.state.is_completed() for run in runs)
        assert set(names) <= set(asyncio.run(_db_rows(pg_port, password)))
    finally:
        assert main(["server", "stop"]) == 0
        restore_environment(saved)
    assert not (postgres_dir / "data" / "postmaster.pid").exists()


@pytest.mark.fault
def test_server_restart_during_a_flow(tmp_path):
    """Stop the Prefect server mid-flow and start it again on the same port: the flow finishes
    (the client retries while the API is away) and its run is Completed in the database."""
    from fixtures_services import free_port
    from prefect import flow, task

    saved = dict(os.environ)
    home = tmp_path / "home"
    options = PrefectServerOptions(port=free_port())
    api_url = start_prefect_server(options, home=home)
    os.environ.update(PREFECT_HOME=str(home), PREFECT_API_URL=api_url)
    restore_environment(dict(os.environ))

    @task
    def step(i: int) -> int:
        time.sleep(1)
        return i

    @flow(name="restart-probe")
    def probe(n: int):
        return [step(i) for i in range(n)]

    outcome: dict = {}
    runner = threading.Thread(target=lambda: outcome.update(state=probe(8, return_state=True)))
    try:
        runner.start()
        time.sleep(3)
        assert stop_prefect_server(home)
        time.sleep(2)
        start_prefect_server(options, home=home)
        runner.join(timeout=120)
        state = outcome["state"]
        print(f"flow across a server restart: {state.type}")
        assert state.is_completed(), state
    finally:
        stop_prefect_server(home)
        restore_environment(saved)


def test_server_argv_has_issue_options():
    argv = server_argv(PrefectServerOptions(), Path("/x"), python=sys.executable)
    text = " ".join(argv)
    for option in ("--timeout-keep-alive 10", "--timeout-graceful-shutdown 7200",
                   "--host 127.0.0.1", "--factory prefect", "--workers 1"):  # fmt: skip
        assert option in text
    # one uvicorn process has no supervisor: a request limit would end the server itself
    assert "--limit-max-requests" not in text
    several = server_argv(PrefectServerOptions(web_concurrency=4), Path("/x"))
    assert "--limit-max-requests 4096" in " ".join(several)
