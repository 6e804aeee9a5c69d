"""What every panel shares: the session, a status line, a busy flag, errors shown in the panel."""

from __future__ import annotations

import concurrent.futures
import functools
import html
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import ipywidgets as w
import traitlets

from flint.prefect.workbench import Session

logger = logging.getLogger(__name__)
T = TypeVar("T")
_COLOURS = {"info": "#333", "success": "#2e7d32", "warning": "#b26a00", "error": "#c62828"}
STATE_COLOURS = {
    "COMPLETED": "#2e7d32",
    "FAILED": "#c62828",
    "CRASHED": "#ef6c00",
    "RUNNING": "#1565c0",
    "PENDING": "#9e9e9e",
    "SCHEDULED": "#fbc02d",
    "CANCELLED": "#616161",
    "CANCELLING": "#8d6e63",
    "PAUSED": "#6a1b9a",
}


def busy(
    method: Callable[..., Coroutine[Any, Any, T]],
) -> Callable[..., concurrent.futures.Future[T]]:
    """Run an async panel method on the session's background loop with ``busy`` set; errors
    go to the status line. The decorated method returns a ``Future`` at once."""

    @functools.wraps(method)
    def wrapper(self: Panel, *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:
        async def run() -> T:
            self.busy = True
            try:
                return await method(self, *args, **kwargs)
            except Exception as error:
                self.notify(f"{method.__name__} failed: {error}", "error")
                raise
            finally:
                self.busy = False

        return self.session.background.submit(run())

    return wrapper


def shown(widget: w.Widget, visible: bool) -> None:
    """Show or hide ``widget`` (hidden widgets take no room: nothing empty is drawn)."""
    widget.layout.display = None if visible else "none"


class Panel(w.VBox):
    """A VBox over a :class:`~flint.prefect.workbench.Session`, with ``status`` (last
    message), ``message_level`` and ``busy`` traits."""

    busy = traitlets.Bool(False)
    message = traitlets.Unicode("")
    message_level = traitlets.Unicode("info")

    def __init__(self, session: Session | None = None, **kwargs: Any) -> None:
        self.session = session or Session()
        self.status = w.HTML()
        self._updating = False
        super().__init__(**kwargs)
        self.add_class("flint-panel")

    def _set(self, picker: w.Dropdown, options: list, value: Any) -> None:
        """Change a picker's options and value without acting on it as on a user's pick."""
        self._updating = True
        try:
            picker.options, picker.value = options, value
        finally:
            self._updating = False

    def _quiet(self, action: Callable[..., Any], *args: Any) -> None:
        """Run ``action`` for a user's pick, not for the panel's own updates (or a None)."""
        if not self._updating and (not args or args[0] is not None):
            action(*args)

    def prepare_display(self) -> None:
        """Bring bokeh views up to date before the panel is displayed (panels that have them)."""

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        self.prepare_display()
        return super()._repr_mimebundle_(**kwargs)

    def notify(self, text: str, level: str = "info") -> None:
        """Show ``text`` in the panel's status line (safe from any thread)."""
        logger.debug("%s (%s): %s", type(self).__name__, level, text)
        self.message_level = level
        self.message = text
        colour = _COLOURS.get(level, "#333")
        self.status.value = f'<span style="color:{colour}">{html.escape(text)}</span>'

    @traitlets.observe("busy")
    def _show_busy(self, change: dict) -> None:
        for child in self._buttons():
            child.disabled = bool(change["new"])
        self._sync_buttons()

    def _buttons(self) -> list[w.Button]:
        """Buttons disabled while busy."""
        return []

    def _sync_buttons(self) -> None:
        """Enable or disable buttons that depend on more than ``busy``."""
