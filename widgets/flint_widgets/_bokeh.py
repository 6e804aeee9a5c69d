"""Bokeh inside widgets: BokehJS loaded inline into the page (offline), views kept up to date."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from jupyter_bokeh import BokehModel


def load_bokehjs() -> None:
    """Publish BokehJS (inline: no network) into the output being displayed.

    ``jupyter_bokeh`` views need BokehJS in the page (JupyterLab and Voila alike); it is
    published with every display, since a reloaded page has lost what was loaded before.
    """
    from bokeh.io import output_notebook
    from bokeh.resources import INLINE

    output_notebook(INLINE, hide_banner=True)


class BokehView(BokehModel):
    """A bokeh layout as a widget (Python callbacks without a bokeh server), with a CSS class."""

    def __init__(self, model: Any, css_class: str | None = None, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        if css_class:
            self.add_class(css_class)

    @property
    def model(self) -> Any:
        return self._model

    def refresh(self) -> None:
        """Re-serialise the model: changes made before the first display are otherwise lost
        (they are sent as patches, and no view existed to receive them)."""
        self.update_from_model(self._model)


def refresh(views: Iterable[BokehView]) -> None:
    for view in views:
        view.refresh()
