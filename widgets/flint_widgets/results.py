"""Results panel: an image (bokeh, WCS axes, colour stretch, zoom) and a catalogue table."""

from __future__ import annotations

import os
from typing import Any

import ipywidgets as w
import numpy as np

from flint_widgets._imaging import STRETCHES, decimate, stretch, wcs_ticks
from flint_widgets._panel import Panel


class ResultsPanel(Panel):
    """Show a FITS image (decimated in the kernel) and a source catalogue overlaid on it."""

    def __init__(self, max_pixels: int = 1024, **kwargs: Any) -> None:
        from bokeh.models import ColumnDataSource

        self.max_pixels = max_pixels
        self.data: np.ndarray | None = None
        self.wcs: Any = None
        self.factor = 1
        self.image_source = ColumnDataSource({"image": [np.zeros((1, 1))]})
        self.source_points = ColumnDataSource({"x": [], "y": []})
        self.table_source = ColumnDataSource({})
        self.path = w.Text(description="Image", placeholder="path/to/image.fits")
        self.catalogue_path = w.Text(description="Catalogue", placeholder="path/to/catalogue.fits")
        self.stretch = w.Dropdown(options=STRETCHES, value="sqrt", description="Stretch")
        self.limits = w.FloatRangeSlider(
            value=(1, 99.5), min=0, max=100, step=0.1, description="Percentiles"
        )
        self.path.on_submit(lambda _: self.show_image(self.path.value))
        self.catalogue_path.on_submit(lambda _: self.show_catalogue(self.catalogue_path.value))
        self.stretch.observe(lambda _: self.restretch(), "value")
        self.limits.observe(lambda _: self.restretch(), "value")
        self.figure, self.table = self._plots()
        from jupyter_bokeh import BokehModel

        self.image_view = BokehModel(self.figure)
        self.table_view = BokehModel(self.table)
        super().__init__(**kwargs)
        self.children = [
            w.HBox([self.path, self.catalogue_path]),
            w.HBox([self.stretch, self.limits]),
            self.image_view,
            self.table_view,
            self.status,
        ]

    def _plots(self) -> tuple[Any, Any]:
        from bokeh.models import DataTable
        from bokeh.plotting import figure

        fig = figure(
            width=600, height=600, match_aspect=True, tools="pan,wheel_zoom,box_zoom,reset"
        )
        fig.image("image", source=self.image_source, x=0, y=0, dw=1, dh=1, palette="Greys256")
        fig.scatter("x", "y", source=self.source_points, size=10, fill_alpha=0, line_color="red")
        return fig, DataTable(
            source=self.table_source, columns=[], width=600, height=250, sortable=True
        )

    def show_image(self, image: str | os.PathLike[str] | np.ndarray, wcs: Any = None) -> None:
        """Show a FITS file (or an array with an optional astropy WCS)."""
        try:
            if isinstance(image, (str, os.PathLike)):
                from astropy.io import fits
                from astropy.wcs import WCS

                with fits.open(image) as hdus:
                    image, wcs = hdus[0].data, WCS(hdus[0].header)
            self.data, self.factor = decimate(image, self.max_pixels)
            self.wcs = wcs
            ny, nx = self.data.shape
            glyph = self.figure.renderers[0].glyph
            glyph.dw, glyph.dh = nx, ny
            self.figure.x_range.update(start=0, end=nx)
            self.figure.y_range.update(start=0, end=ny)
            if wcs is not None:
                xl, yl = wcs_ticks(wcs, (ny, nx), self.factor)
                self.figure.xaxis.ticker, self.figure.yaxis.ticker = list(xl), list(yl)
                self.figure.xaxis.major_label_overrides, self.figure.yaxis.major_label_overrides = (
                    xl,
                    yl,
                )
                self.figure.xaxis.axis_label, self.figure.yaxis.axis_label = "RA", "Dec"
            self.restretch()
            self.notify(
                f"image {self.data.shape[1]}x{self.data.shape[0]} (decimated x{self.factor})"
            )
        except Exception as error:
            self.notify(f"cannot show image: {error}", "error")

    def restretch(self) -> None:
        if self.data is not None:
            self.image_source.data = {
                "image": [stretch(self.data, self.stretch.value, self.limits.value)]
            }

    def show_catalogue(self, catalogue: Any, ra: str = "ra", dec: str = "dec") -> None:
        """Show a catalogue (astropy Table or a file it reads) as a sortable table and overlay."""
        from bokeh.models import TableColumn

        try:
            if isinstance(catalogue, (str, os.PathLike)):
                from astropy.table import Table

                catalogue = Table.read(catalogue)
            columns = [c for c in catalogue.colnames if catalogue[c].ndim == 1]
            self.table_source.data = {c: np.asarray(catalogue[c]).tolist() for c in columns}
            self.table.columns = [TableColumn(field=c, title=c) for c in columns]
            if self.wcs is not None and ra in columns and dec in columns:
                x, y = self.wcs.celestial.world_to_pixel_values(catalogue[ra], catalogue[dec])
                self.source_points.data = {
                    "x": list(np.asarray(x) / self.factor),
                    "y": list(np.asarray(y) / self.factor),
                }
            self.notify(f"catalogue: {len(catalogue)} sources")
        except Exception as error:
            self.notify(f"cannot show catalogue: {error}", "error")
