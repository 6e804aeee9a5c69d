"""An image with RA/Dec axes, colour stretch and zoom, its catalogue as a sortable table whose
rows centre the image on their source; hidden until there is something to draw."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import ipywidgets as w
import numpy as np

from flint.imaging.preview import STRETCHES, ImagePreview, preview_array, read_preview
from flint_widgets._bokeh import BokehView
from flint_widgets._figures import image_figure
from flint_widgets._panel import shown

ZOOM_PIXELS = 40
"""Half-width (displayed pixels) of the view centred on a picked source."""


def place(fig: Any, preview: ImagePreview) -> None:
    """Fit ``fig`` to the preview and label its axes in RA/Dec."""
    ny, nx = preview.data.shape
    glyph = fig.renderers[0].glyph
    glyph.dw, glyph.dh = nx, ny
    fig.x_range.update(start=0, end=nx)
    fig.y_range.update(start=0, end=ny)
    xl, yl = preview.ticks()
    if xl:
        fig.xaxis.ticker, fig.yaxis.ticker = list(xl), list(yl)
        fig.xaxis.major_label_overrides, fig.yaxis.major_label_overrides = xl, yl
        fig.xaxis.axis_label, fig.yaxis.axis_label = "RA", "Dec"


def load_image(image: Any, max_pixels: int, wcs: Any = None) -> tuple[ImagePreview, str]:
    """A FITS path (read in blocks) or an array (with an optional WCS) as (preview, title)."""
    if isinstance(image, str | os.PathLike):
        return read_preview(image, max_pixels), Path(image).name
    return preview_array(image, max_pixels, wcs), ""


def load_catalogue(catalogue: Any) -> Any:
    """An astropy Table, or the file it reads."""
    if isinstance(catalogue, str | os.PathLike):
        from astropy.table import Table

        return Table.read(catalogue)
    return catalogue


class ImageView(w.VBox):
    """``show(preview)``, ``show_catalogue(table)``; ``centre(row)`` on a table row."""

    def __init__(self, size: int = 600) -> None:
        from bokeh.models import ColumnDataSource, DataTable

        self.preview: ImagePreview | None = None
        self.catalogue: Any = None
        self.figure, self.image_source, self.points = image_figure(size)
        self.table_source = ColumnDataSource({})
        self.table = DataTable(source=self.table_source, columns=[], width=size, height=250,
                               sortable=True)  # fmt: skip
        self.table_source.selected.on_change("indices", lambda attr, old, new: self._picked())
        self.stretch = w.Dropdown(options=STRETCHES, value="sqrt", description="Stretch")
        self.limits = w.FloatRangeSlider(
            value=(1, 99.5), min=0, max=100, step=0.1, description="Percentiles"
        )
        self.stretch.observe(lambda _: self.restretch(), "value")
        self.limits.observe(lambda _: self.restretch(), "value")
        self.image_view = BokehView(self.figure, "flint-image")
        self.table_view = BokehView(self.table, "flint-catalogue")
        self.controls = w.HBox([self.stretch, self.limits])
        super().__init__([self.controls, self.image_view])
        self.clear()

    @property
    def data(self) -> np.ndarray | None:
        return None if self.preview is None else self.preview.data

    def clear(self) -> None:
        self.preview = None
        self.clear_catalogue()
        for part in (self.controls, self.image_view):
            shown(part, False)

    def show(self, preview: ImagePreview, title: str = "") -> None:
        self.preview = preview
        place(self.figure, preview)
        self.figure.title.text = title
        self.restretch()
        if self.catalogue is not None:
            self._overlay()
        for part in (self.controls, self.image_view):
            shown(part, True)

    def restretch(self) -> None:
        if self.preview is not None:
            data = self.preview.stretched(self.stretch.value, self.limits.value)
            self.image_source.data = {"image": [data]}

    def show_catalogue(self, catalogue: Any) -> None:
        """A catalogue (astropy Table) as a sortable table, its sources circled on the image."""
        from bokeh.models import TableColumn

        columns = [c for c in catalogue.colnames if catalogue[c].ndim == 1]
        self.table_source.data = {c: np.asarray(catalogue[c]).tolist() for c in columns}
        self.table.columns = [TableColumn(field=c, title=c) for c in columns]
        self.catalogue = catalogue
        self._overlay()
        if self.table_view not in self.children:  # added visible (a table laid out while
            self.table_view.refresh()  # hidden shows no rows), as it is now (changes made
            self.children = [*self.children, self.table_view]  # undisplayed were not sent)

    def clear_catalogue(self) -> None:
        self.catalogue = None
        self.table_source.data = {}
        self.table.columns = []
        self.points.data = {"x": [], "y": []}
        self.children = [child for child in self.children if child is not self.table_view]

    def _overlay(self) -> None:
        catalogue, preview = self.catalogue, self.preview
        if preview is None or preview.wcs is None or not {"ra", "dec"} <= set(catalogue.colnames):
            self.points.data = {"x": [], "y": []}
            return
        x, y = preview.to_pixels(catalogue["ra"], catalogue["dec"])
        self.points.data = {"x": list(x), "y": list(y)}

    def _picked(self) -> None:
        if indices := self.table_source.selected.indices:
            self.centre(indices[0])

    def centre(self, row: int) -> tuple[float, float] | None:
        """Centre (and zoom) the image on the source of table row ``row``."""
        xs = self.points.data.get("x", [])
        if row >= len(xs):
            return None
        x, y = xs[row], self.points.data["y"][row]
        self.figure.x_range.update(start=x - ZOOM_PIXELS, end=x + ZOOM_PIXELS)
        self.figure.y_range.update(start=y - ZOOM_PIXELS, end=y + ZOOM_PIXELS)
        return x, y
