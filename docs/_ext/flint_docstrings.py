"""Render flint's plain-text docstrings and CLI help as reStructuredText.

flint's docstrings and help texts are written to read well in ``help()`` and
``flint --help``: they use ``|g|`` for an absolute value and an indented block after a
sentence ending in ``:`` for a preformatted diagram. In reStructuredText the first is
a substitution reference and the second a block quote or definition list, which fail
the ``-W`` build. This extension rewrites just those two things (bars become ``\\|``,
the ``:`` becomes ``::``):

- in docstrings, as sphinx-autoapi hands each one to ``autodoc-process-docstring``;
- in the CLI help, through :func:`cli_parser`, which ``cli.md`` gives sphinx-argparse.

sphinx-autoapi also copies a base class's docstring into a class that has none, so a
flint model without a docstring would show pydantic's ``BaseModel`` documentation
(written for mkdocs). With ``autodoc_inherit_docstrings = False`` such a class shows no
docstring instead.
"""

from __future__ import annotations

import argparse
import importlib
import re
from typing import Any

# |text| where text neither starts nor ends with a space: an RST substitution reference
_BARS = re.compile(r"(?<![\\`|])\|(?=[^\s|])([^|`]*?[^\s|\\])\|(?![|_])")
_INLINE_LITERAL = re.compile(r"(``.+?``)")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def escape_bars(text: str) -> str:
    """Escape ``|x|`` outside inline literals."""
    parts = _INLINE_LITERAL.split(text)
    return "".join(
        part if part.startswith("``") else _BARS.sub(r"\\|\1\\|", part) for part in parts
    )


def _opens_preformatted(lines: list[str], index: int) -> bool:
    """A sentence ending in one ``:``, a blank line, then a more deeply indented line."""
    line = lines[index].rstrip()
    stripped = line.lstrip()
    if not line.endswith(":") or line.endswith("::") or stripped.startswith((":", "..")):
        return False
    following = index + 1
    if following >= len(lines) or lines[following].strip():
        return False
    while following < len(lines) and not lines[following].strip():
        following += 1
    return following < len(lines) and _indent(lines[following]) > _indent(line)


def rst_docstring(lines: list[str]) -> list[str]:
    """The docstring ``lines`` with bars escaped and preformatted blocks made literal."""
    out: list[str] = []
    literal_indent: int | None = None  # indentation of the paragraph that opened a literal block
    for index, line in enumerate(lines):
        if literal_indent is not None and line.strip() and _indent(line) <= literal_indent:
            literal_indent = None
        if literal_indent is not None:  # inside a literal block: keep verbatim
            out.append(line)
            continue
        if _opens_preformatted(lines, index):
            line = line.rstrip() + ":"
        if line.rstrip().endswith("::"):
            literal_indent = _indent(line)
        out.append(escape_bars(line))
    return out


def _own_docstring(name: str) -> bool | None:
    """Whether class ``name`` defines its own docstring (None: it cannot be imported)."""
    module_name, _, attribute = name.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError):
        return None
    return bool(cls.__dict__.get("__doc__"))


def _process_docstring(
    app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    lines[:] = rst_docstring(lines)


def _drop_inherited_docstring(
    app: Any, what: str, name: str, obj: Any, skip: bool, options: Any
) -> bool:
    # autoapi-skip-member runs before rendering, with the full name and the object
    inherit = app.config.autodoc_inherit_docstrings
    if what == "class" and not inherit and _own_docstring(name) is False:
        obj.docstring = ""
    return skip


def _escape_help(parser: argparse.ArgumentParser) -> None:
    parser.description = parser.description and escape_bars(parser.description)
    parser.epilog = parser.epilog and escape_bars(parser.epilog)
    for action in parser._actions:
        if isinstance(action.help, str):
            action.help = escape_bars(action.help)
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                choice.help = choice.help and escape_bars(choice.help)
            for subparser in action.choices.values():
                _escape_help(subparser)


def cli_parser() -> argparse.ArgumentParser:
    """``flint.cli.build_parser()`` (every plugin subcommand) with its help as valid reST."""
    from flint.cli import build_parser

    parser = build_parser()
    _escape_help(parser)
    return parser


def setup(app: Any) -> dict[str, Any]:
    """Sphinx entry point."""
    app.setup_extension("sphinx.ext.autodoc")  # defines autodoc-process-docstring
    app.connect("autodoc-process-docstring", _process_docstring)
    app.connect("autoapi-skip-member", _drop_inherited_docstring)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
