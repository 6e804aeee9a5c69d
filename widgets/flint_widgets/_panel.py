"""What every panel shares: a status line, a busy flag, and error reporting in the panel."""

from __future__ import annotations

import concurrent.futures
import functools
import html
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import ipywidgets as w
import traitlets

from flint.prefect.workbench._background import BACKGROUND

logger = logging.getLogger(__name__)
T = TypeVar("T")
_COLOURS = {"info": "#333", "success": "#2e7d32", "warning": "#b26a00", "error": "#c62828"}


def busy(
    method: Callable[..., Coroutine[Any, Any, T]],
) -> Callable[..., concurrent.futures.Future[T]]:
    """Run an async panel method in the background with ``busy`` set; errors go to the status.

    The decorated method returns a ``Future`` at once; ``busy`` is cleared in ``finally``.
    """

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

        return BACKGROUND.submit(run())

    return wrapper


class Panel(w.VBox):
    """A VBox with ``status`` (last message), ``message_level`` and ``busy`` traits."""

    busy = traitlets.Bool(False)
    message = traitlets.Unicode("")
    message_level = traitlets.Unicode("info")

    def __init__(self, **kwargs: Any) -> None:
        self.status = w.HTML()
        super().__init__(**kwargs)
        self.add_class("flint-panel")

    def notify(self, text: str, level: str = "info") -> None:
        """Show ``text`` in the panel's status line (safe from any thread)."""
        (logger.warning if level == "error" else logger.debug)("%s: %s", type(self).__name__, text)
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
