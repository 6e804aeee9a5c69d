"""Build the Sphinx site as CI does (warnings are errors) and check the generated pages."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sphinx")
pytest.importorskip("myst_nb")
pytest.importorskip("autoapi")
pytest.importorskip("sphinxarg")

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _text(page: Path) -> str:
    """The text of an HTML page (highlighting splits words into spans)."""
    return re.sub(r"<[^>]+>", "", page.read_text())


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path: Path) -> None:
    output = tmp_path / "html"
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-j", "auto", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(tmp_path / "doctrees"), str(DOCS), str(output)],
        capture_output=True,
        text=True,
        timeout=1200,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-5000:]

    cli = _text(output / "cli.html")
    for command in ("flint simulate", "flint bandpass", "flint server", "flint config"):
        assert command in cli, f"{command} missing from the CLI reference"

    api = output / "api"
    assert (api / "flint" / "index.html").is_file()
    assert (api / "flint_widgets" / "index.html").is_file()
    pages = "".join(_text(page) for page in api.rglob("*.html"))
    assert "SimulationOptions" in pages
    assert "strategy_json_schema" in pages

    configuration = _text(output / "configuration.html")
    assert "selfcal_rounds" in configuration and "SLURMCluster" in configuration
    for notebook in sorted((DOCS.parent / "notebooks").glob("*.ipynb")):
        assert (output / "tutorials" / f"{notebook.stem}.html").is_file(), notebook.name
