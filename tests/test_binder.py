"""The Binder files: they agree with the project, and the environment they build runs the quickstart.

repo2docker cannot run here (no container engine); ``binder/build.sh`` does what it would do
with the same files (apt.txt, runtime.txt, postBuild, start) in a directory instead of an
image, then executes the quickstart notebook in that environment, followed by tutorial 06,
which explores the quickstart's products in the same session directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# run in this order in one Binder session: 06 explores what the quickstart made
SESSION_NOTEBOOKS = ("01_quickstart", "06_exploring_results")


def test_binder_check_passes():
    result = subprocess.run(
        ["bash", str(ROOT / "binder" / "check.sh")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_binder_environment_runs_the_quickstart_then_tutorial_06(tmp_path: Path):
    uv = shutil.which("uv", path=str(ROOT / ".venv" / "bin")) or shutil.which("uv")
    assert uv, "uv is installed by scripts/bootstrap.sh"
    env = {**os.environ, "BINDER_UV": uv}
    result = subprocess.run(
        [
            "bash",
            str(ROOT / "binder" / "build.sh"),
            str(tmp_path),
            *(str(ROOT / "notebooks" / f"{name}.ipynb") for name in SESSION_NOTEBOOKS),
        ],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=1800,
    )
    print(result.stderr[-3000:])
    assert result.returncode == 0, result.stderr[-6000:]
    # the environment is the Binder one: flint installed from the checkout, not editable
    python = tmp_path / "env" / "bin" / "python"
    where = subprocess.run(
        [str(python), "-c", "import flint, flint_widgets; print(flint.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,  # not the checkout, whose flint/ would shadow the installed one
    ).stdout
    assert str(tmp_path / "env") in where, where
    assert "quickstart" in (tmp_path / "home/.jupyter/jupyter_server_config.py").read_text()
