"""A Prefect server beyond loopback needs an API auth string; clients pass it along."""

from __future__ import annotations

import os
import stat
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from fixtures_services import free_port, restore_environment

from flint.cli import main
from flint.prefect.server.prefect_server import (
    AUTH_FILE,
    PrefectServerOptions,
    check_options,
    is_loopback,
)

pytestmark = pytest.mark.slow  # one real server start (~20 s)


def test_exposed_host_without_auth_is_refused_with_the_way_to_set_it(tmp_path, capsys):
    saved = dict(os.environ)
    os.environ["PREFECT_HOME"] = str(tmp_path)
    os.environ.pop("PREFECT_SERVER_API_AUTH_STRING", None)
    try:
        assert main(["server", "start", "--host", "0.0.0.0", "--port", "0"]) == 1
    finally:
        restore_environment(saved)
    err = capsys.readouterr().err
    assert "host: 0.0.0.0 exposes the Prefect API beyond this machine" in err
    assert "flint server start --host 0.0.0.0 --auth" in err
    assert "PREFECT_SERVER_API_AUTH_STRING=user:password" in err
    assert list(tmp_path.iterdir()) == []  # nothing started, nothing written
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("10.1.2.3") and not is_loopback("node01")
    with pytest.raises(Exception, match="needs an auth string"):
        check_options(PrefectServerOptions(host="10.1.2.3"))


def _status(url: str, auth: str | None = None, body: bytes | None = None) -> int:
    request = urllib.request.Request(url, data=body, method="POST" if body else "GET")
    request.add_header("Content-Type", "application/json")
    if auth:
        import base64

        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status
    except urllib.error.HTTPError as error:
        return error.code


def test_exposed_server_with_generated_auth(tmp_path, capsys):
    """--host 0.0.0.0 --auth: 401 without the string; flows and the workbench's run list work
    with it (exported from the 0600 file by ensure_prefect_server, as workers inherit it)."""
    from prefect import flow

    from flint.prefect import runs
    from flint.prefect.server.embedded import ensure_prefect_server

    saved = dict(os.environ)
    home = tmp_path / "home"
    port = free_port()
    os.environ["PREFECT_HOME"] = str(home)
    for key in ("PREFECT_API_URL", "PREFECT_API_AUTH_STRING", "PREFECT_SERVER_API_AUTH_STRING"):
        os.environ.pop(key, None)
    try:
        assert main(["server", "start", "--host", "0.0.0.0", "--port", str(port), "--auth"]) == 0
        out = capsys.readouterr().out
        secret_file = home / AUTH_FILE
        secret = secret_file.read_text().strip()
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
        assert secret not in out and f"PREFECT_API_AUTH_STRING=$(cat {secret_file})" in out
        api = f"http://127.0.0.1:{port}/api"
        assert _status(f"{api}/health") == 200  # probes stay open
        assert _status(f"{api}/flow_runs/filter", body=b"{}") == 401
        assert _status(f"{api}/flow_runs/filter", auth="flint:wrong", body=b"{}") == 401
        assert _status(f"{api}/flow_runs/filter", auth=secret, body=b"{}") == 200

        assert ensure_prefect_server() == api  # the recorded server, with its auth exported
        assert os.environ["PREFECT_API_AUTH_STRING"] == secret
        restore_environment(dict(os.environ))

        @flow(name="behind-auth")
        def tiny(x: int) -> int:
            return x + 1

        assert tiny(1) == 2
        from fixtures_workbench import sync

        page, total = sync(runs.list_flow_runs(runs.RunFilter(flow_name="behind-auth")))
        assert total == 1 and page[0].state_type == "COMPLETED"
    finally:
        os.environ["PREFECT_HOME"] = str(home)
        main(["server", "stop"])
        restore_environment(saved)
    assert Path(home).exists()
