"""Run every tutorial notebook top to bottom in a fresh kernel (the venv's Python).

Each notebook runs in its own temporary working directory with its own PREFECT_HOME, so
nothing is left in the repository and no Prefect server is shared with the developer's.
The notebooks are committed without outputs; executing them here does not write them back.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
# seconds a whole notebook may take on a loaded 2-core machine (each is about a minute)
TIMEOUTS = {"default": 600}
CELL_TIMEOUT = 900
# notebooks another test executes (in a different environment), not run twice
RUN_ELSEWHERE = {
    "01_quickstart": "tests/test_binder.py, in the environment built from binder/",
    "06_exploring_results": "tests/test_binder.py, after the quickstart, on its products",
}


def _notebooks() -> list[Path]:
    return sorted(p for p in NOTEBOOKS.glob("*.ipynb") if p.stem not in RUN_ELSEWHERE)


def test_notebooks_run_elsewhere_exist_and_binder_opens_the_quickstart() -> None:
    """Binder opens the first notebook (binder/postBuild), the one the Binder test runs."""
    names = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
    assert set(RUN_ELSEWHERE) <= set(names), "RUN_ELSEWHERE names a notebook that does not exist"
    assert names[0] == "01_quickstart"


def _kernel_spec(directory: Path) -> str:
    """A kernelspec running this interpreter, so notebooks see the same environment."""
    from ipykernel.kernelspec import install

    install(prefix=str(directory), kernel_name="flint-tests")
    return "flint-tests"


@pytest.mark.slow
@pytest.mark.parametrize("path", _notebooks(), ids=lambda path: path.stem)
def test_notebook_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notebook = nbformat.read(path, as_version=4)
    assert all(
        not cell.get("outputs") and cell.get("execution_count") is None
        for cell in notebook.cells
        if cell.cell_type == "code"
    ), f"{path.name} is committed with outputs; clear them"

    prefix = tmp_path / "kernel"
    kernel = _kernel_spec(prefix)
    work = tmp_path / "work"
    work.mkdir()
    env = {
        "JUPYTER_PATH": str(prefix / "share" / "jupyter"),
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "MPLBACKEND": "agg",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)

    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name=kernel,
        resources={"metadata": {"path": str(work)}},
    )
    started = time.monotonic()
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as error:
        pytest.fail(f"{path.name}: a cell failed\n{error}")
    finally:
        # a notebook may start the embedded Prefect server under PREFECT_HOME: stop it
        _stop_prefect_server(tmp_path / "prefect")
    seconds = time.monotonic() - started
    limit = TIMEOUTS.get(path.stem, TIMEOUTS["default"])
    print(f"{path.name}: {seconds:.0f} s", file=sys.stderr)
    assert seconds < limit, f"{path.name} took {seconds:.0f} s (limit {limit} s)"
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors


def _stop_prefect_server(home: Path) -> None:
    if not home.exists():
        return
    from flint.prefect.server import stop_prefect_server

    stop_prefect_server(home)
    os.environ.pop("PREFECT_API_URL", None)
