"""Sphinx configuration of the flint documentation.

Build (offline, warnings are errors)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Notebooks in ``notebooks/`` are rendered as they are committed (without outputs):
they are never executed during the build (``nb_execution_mode = "off"``);
``tests/test_notebooks.py`` runs them.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import flint

HERE = Path(__file__).parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE / "_ext"))

project = "flint"
author = "flint developers"
copyright = "flint developers"
release = flint.__version__
version = release

extensions = [
    "myst_nb",  # MyST markdown pages and .ipynb notebooks
    "autoapi.extension",  # API reference from the source, without importing it
    "sphinxarg.ext",  # CLI reference from flint.cli:build_parser
    "sphinx.ext.viewcode",
    "flint_docstrings",  # docs/_ext: plain-text docstrings as reST, see its docstring
]

exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]

# -- MyST / myst-nb ---------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist", "fieldlist"]
myst_heading_anchors = 3
nb_execution_mode = "off"  # tests/test_notebooks.py executes them; the build never does


# the tutorials live in notebooks/ at the top of the repository; Sphinx only reads files
# below docs/, so they are copied into docs/tutorials/ (ignored by git) before each build
def _copy_notebooks(app) -> None:
    target = HERE / "tutorials"
    target.mkdir(exist_ok=True)
    wanted = {path.name for path in (ROOT / "notebooks").glob("*.ipynb")}
    for stale in target.glob("*.ipynb"):
        if stale.name not in wanted:
            stale.unlink()
    for name in sorted(wanted):
        source, copy = ROOT / "notebooks" / name, target / name
        if not copy.exists() or copy.read_bytes() != source.read_bytes():
            shutil.copyfile(source, copy)


# generated from the code at each build (ignored by git): configuration.md includes them
def _write_generated(app) -> None:
    from flint.strategy import strategy_json_schema

    target = HERE / "_generated"
    target.mkdir(exist_ok=True)
    text = json.dumps(strategy_json_schema(), indent=2) + "\n"
    path = target / "strategy.schema.json"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def setup(app) -> None:
    """Copy the notebooks in and write the generated files before Sphinx reads the sources."""
    app.connect("builder-inited", _copy_notebooks)
    app.connect("builder-inited", _write_generated)


# -- API reference (sphinx-autoapi) -----------------------------------------------------
autoapi_type = "python"
autoapi_dirs = [str(ROOT / "flint"), str(ROOT / "widgets" / "flint_widgets")]
autoapi_root = "api"
autoapi_add_toctree_entry = False  # api.md places it
autoapi_keep_files = False
autoapi_member_order = "groupwise"
autoapi_python_class_content = "both"
# Each object is documented once, in the module that defines it: with "imported-members"
# a package's re-exports would be second copies (flint.imaging.WSCleanOptions beside
# flint.imaging.options.WSCleanOptions) and every short cross-reference ambiguous.
# Private modules and names (leading underscore) are left out.
autoapi_options = [
    "members",
    "undoc-members",
    "show-inheritance",
    "show-module-summary",
]
autodoc_inherit_docstrings = False  # honoured by docs/_ext/flint_docstrings.py
autoapi_ignore = ["*/__pycache__/*", "*/data/*", "*/cli/__main__.py"]


# -- HTML -------------------------------------------------------------------------------
# code without a language (the CLI usage lines) is shown as plain text, not as Python
highlight_language = "none"
html_theme = "furo"
html_title = f"flint {release}"
html_static_path: list[str] = []
