"""Bokeh inside widgets: BokehJS loaded inline into the page (offline), views brought up to date."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def load_bokehjs() -> None:
    """Publish BokehJS (inline: no network) into the output being displayed.

    ``jupyter_bokeh`` views need BokehJS in the page (JupyterLab and Voila alike); it is
    published with every display, since a reloaded page has lost what was loaded before.
    """
    from bokeh.io import output_notebook
    from bokeh.resources import INLINE

    output_notebook(INLINE, hide_banner=True)


def refresh(views: Iterable[Any]) -> None:
    """Re-serialise ``BokehModel`` widgets: changes made before their first display are
    otherwise lost (they are sent as patches, and no view existed to receive them)."""
    for view in views:
        view.update_from_model(view._model)
