"""Explore panel: open any measurement set, solutions file, image or catalogue and look at it
(a view of the session's explorer; data are read in chunks and made small in the kernel)."""

from __future__ import annotations

import html
import os
from typing import Any

import ipywidgets as w

from flint.prefect.workbench import Session
from flint_widgets._bokeh import load_bokehjs, refresh
from flint_widgets._explore_views import MSView, SolutionsView
from flint_widgets._image_view import ImageView
from flint_widgets._panel import Panel, busy, shown


def summary_html(what: str, summary: Any, layout: Any = None) -> str:
    """A few headline numbers of a measurement set (and its layout) or solutions file (pure)."""
    if what == "ms":
        lo, hi = (f / 1e6 for f in summary.frequency_range_hz)
        items = {
            "rows": summary.n_rows, "antennas": len(summary.antennas), "beams": summary.beams,
            "fields": ", ".join(summary.fields), "channels": f"{summary.n_channels} ({lo:.1f}-{hi:.1f} MHz)",
            "integrations": f"{summary.n_times} x {summary.integration_s:.1f} s",
            "correlations": " ".join(summary.correlations), "flagged": f"{summary.flag_fraction:.1%}",
        }  # fmt: skip
        if layout is not None:  # as flint ms summary says it: what preprocessing is left
            todo = f" (to do: {', '.join(layout.needs)})" if layout.needs else ""
            items = {"layout": layout.layout + todo, **items}
    else:
        items = {
            "intervals x antennas x channels": f"{summary.n_sol} x {summary.n_ant} x {summary.n_chan}",
            "polarisations": " ".join(summary.polarisations),
            "flagged": f"{summary.flagged_fraction:.1%}",
            "flagged antennas": summary.fully_flagged_antennas or "none",
        }  # fmt: skip
    rows = "".join(f"<tr><th>{k}</th><td>{html.escape(str(v))}</td></tr>" for k, v in items.items())
    return f'<table class="flint-summary">{rows}</table>'


class ExplorePanel(Panel):
    """Type a path and Open: what is drawn depends on what the path holds."""

    def __init__(self, session: Session | None = None, **kwargs: Any) -> None:
        super().__init__(session, **kwargs)
        self.explorer = self.session.explorer
        self.path = w.Text(description="Path", placeholder="an MS, solutions, image or catalogue",
                           layout=w.Layout(width="48em"))  # fmt: skip
        self.open_button = w.Button(description="Open", icon="folder-open")
        self.progress = w.FloatProgress(min=0, max=1, description="Reading")
        self.summary = w.HTML()
        self.ms, self.solutions, self.image = MSView(), SolutionsView(), ImageView()
        self.page = 0
        self.path.on_submit(lambda _: self.open_path(self.path.value))
        self.open_button.on_click(lambda _: self.open_path(self.path.value))
        self.ms.column.observe(lambda _: self._quiet(self.draw_amplitudes), "value")
        self.ms.flags_button.on_click(lambda _: self.draw_flags())
        self.solutions.prev_button.on_click(lambda _: self.show_page(self.page - 1))
        self.solutions.next_button.on_click(lambda _: self.show_page(self.page + 1))
        self.explorer.on_progress(self._progress)
        self.children = [
            w.HBox([self.path, self.open_button]), self.progress, self.summary,
            self.ms, self.solutions, self.image, self.status,
        ]  # fmt: skip
        for part in (self.progress, self.ms, self.solutions, self.image):
            shown(part, False)

    def _buttons(self) -> list[w.Button]:
        return [self.open_button, self.ms.flags_button]

    def prepare_display(self) -> None:
        load_bokehjs()
        views = (self.ms.view, self.solutions.view, self.image.image_view, self.image.table_view)
        refresh(views)

    def _progress(self, fraction: float, what: str) -> None:
        self.progress.value, self.progress.description = fraction, what
        shown(self.progress, fraction < 1)

    @busy
    async def open_path(self, path: str | os.PathLike[str]) -> str:
        """Open ``path`` and draw what it holds."""
        blocking = self.session.background.blocking
        what = await blocking(self.explorer.open, path)
        for part, kind in ((self.ms, "ms"), (self.solutions, "solutions")):
            shown(part, what == kind)
        shown(self.image, what in ("image", "catalogue"))
        self.summary.value = (
            summary_html(what, self.explorer.summary, self.explorer.layout)
            if self.explorer.summary
            else ""
        )
        if what == "ms":
            self._updating = True  # filling the pickers is not a user's pick
            try:
                self.ms.offer(self.explorer.summary)
            finally:
                self._updating = False
            self.ms.show_uv(await blocking(self.explorer.uv_coverage))
            await self._amplitudes()
            await self._flags()
        elif what == "solutions":
            self.page = 0
            self._show_page(await blocking(self.explorer.bandpass_page, 0))
        elif what == "image":
            self.image.clear()
            self.image.show(await blocking(self.explorer.image), os.path.basename(path))
        else:
            self.image.show_catalogue(await blocking(self.explorer.catalogue))
        self.notify(f"{what}: {path}", "success")
        return what

    @busy
    async def draw_amplitudes(self) -> Any:
        """Amplitude against uv distance of the chosen column."""
        return await self._amplitudes()

    @busy
    async def draw_flags(self) -> Any:
        """The flag waterfall of the chosen antenna (or baseline, with a second antenna)."""
        return await self._flags()

    async def _amplitudes(self) -> Any:
        column = self.ms.column.value
        found = await self.session.background.blocking(self.explorer.amplitudes, column)
        self.ms.show_amplitudes(found)
        return found

    async def _flags(self) -> Any:
        antenna, other = self.ms.antenna.value, self.ms.other.value
        baseline = None if other is None else (antenna, other)
        found = await self.session.background.blocking(self.explorer.waterfall, antenna, baseline)
        self.ms.show_flags(found)
        return found

    @busy
    async def show_page(self, page: int) -> list[Any]:
        """Page ``page`` (0-based) of the solutions' antennas."""
        page = max(0, min(page, self.explorer.pages - 1))
        curves = await self.session.background.blocking(self.explorer.bandpass_page, page)
        self.page = page
        self._show_page(curves)
        return curves

    def _show_page(self, curves: list[Any]) -> None:
        self.solutions.show(curves, self.page, self.explorer.pages)
