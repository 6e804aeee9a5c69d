"""Results panel: a run's products by beam and round, images (bokeh, WCS axes, colour stretch,
zoom), catalogues (sortable table, overlay), PNG plots, and a comparison of two rounds."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import ipywidgets as w
import numpy as np

from flint.prefect import runs
from flint.products import IMAGE_KINDS, ImageStatistics, Kind, Products, find_products
from flint.products import image_statistics as _statistics
from flint_widgets._bokeh import load_bokehjs, refresh
from flint_widgets._imaging import STRETCHES, decimate, stretch, wcs_ticks
from flint_widgets._panel import Panel, busy

MOSAIC = "mosaic"
"""The source picker's value for the mosaic (beams are their numbers)."""


def _read_fits(path: str | os.PathLike[str]) -> tuple[np.ndarray, Any]:
    import warnings

    from astropy.io import fits
    from astropy.wcs import WCS, FITSFixedWarning

    with fits.open(path) as hdus, warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)  # wsclean headers: DATE fix-up
        return np.asarray(hdus[0].data), WCS(hdus[0].header)


def _image_figure(size: int, title: str = "") -> tuple[Any, Any, Any]:
    """A bokeh figure showing one image (grey) with red circles: (figure, image, points)."""
    from bokeh.models import ColumnDataSource
    from bokeh.plotting import figure

    image_source = ColumnDataSource({"image": [np.zeros((1, 1))]})
    points = ColumnDataSource({"x": [], "y": []})
    fig = figure(
        width=size,
        height=size,
        match_aspect=True,
        title=title,
        tools="pan,wheel_zoom,box_zoom,reset",
    )
    fig.image("image", source=image_source, x=0, y=0, dw=1, dh=1, palette="Greys256")
    fig.scatter("x", "y", source=points, size=10, fill_alpha=0, line_color="red")
    return fig, image_source, points


def _place(fig: Any, shape: tuple[int, int], wcs: Any, factor: int) -> None:
    """Fit ``fig`` to an image of ``shape`` and label its axes in RA/Dec."""
    ny, nx = shape
    glyph = fig.renderers[0].glyph
    glyph.dw, glyph.dh = nx, ny
    fig.x_range.update(start=0, end=nx)
    fig.y_range.update(start=0, end=ny)
    if wcs is not None:
        xl, yl = wcs_ticks(wcs, (ny, nx), factor)
        fig.xaxis.ticker, fig.yaxis.ticker = list(xl), list(yl)
        fig.xaxis.major_label_overrides, fig.yaxis.major_label_overrides = xl, yl
        fig.xaxis.axis_label, fig.yaxis.axis_label = "RA", "Dec"


class ResultsPanel(Panel):
    """A flow run's products (or any directory's, or single files): pick a beam or the mosaic,
    a round and image/residual/model; its catalogue is tabled and overlaid; plots are shown;
    two rounds are compared side by side with their peak and residual rms."""

    def __init__(self, max_pixels: int = 1024, **kwargs: Any) -> None:
        from bokeh.models import ColumnDataSource, DataTable
        from jupyter_bokeh import BokehModel

        self.max_pixels = max_pixels
        self.data: np.ndarray | None = None
        self.wcs: Any = None
        self.factor = 1
        self.products: Products | None = None
        self.image_path: Path | None = None
        self.catalogue: Any = None
        self.comparison: dict[int, ImageStatistics] = {}
        self.compare_data: dict[int, np.ndarray] = {}
        self._updating = False
        self.figure, self.image_source, self.source_points = _image_figure(600)
        self.table_source = ColumnDataSource({})
        self.table = DataTable(
            source=self.table_source, columns=[], width=600, height=250, sortable=True
        )
        # where the products are: a flow run (its output_dir parameter) or a directory
        self.run_picker = w.Dropdown(description="Run", options=[], layout=w.Layout(width="36em"))
        self.runs_button = w.Button(description="Runs", icon="refresh", tooltip="list flow runs")
        self.directory = w.Text(description="Output", placeholder="a flow's output directory")
        # what to show
        self.source_picker = w.Dropdown(description="Show", options=[])
        self.round_picker = w.Dropdown(description="Round", options=[])
        self.kind_picker = w.ToggleButtons(options=[k.value for k in IMAGE_KINDS], value="image")
        self.path = w.Text(description="Image", placeholder="path/to/image.fits")
        self.catalogue_path = w.Text(description="Catalogue", placeholder="path/to/catalogue.fits")
        self.stretch = w.Dropdown(options=STRETCHES, value="sqrt", description="Stretch")
        self.limits = w.FloatRangeSlider(
            value=(1, 99.5), min=0, max=100, step=0.1, description="Percentiles"
        )
        self.plot_picker = w.Dropdown(description="Plot", options=[])
        self.plot_view = w.Image(format="png", layout=w.Layout(max_width="900px"))
        # comparison of two rounds
        self.compare_a = w.Dropdown(description="Round A", options=[])
        self.compare_b = w.Dropdown(description="Round B", options=[])
        self.compare_button = w.Button(description="Compare", icon="columns")
        self.compare_table = w.HTML()
        fig_a, self.compare_source_a, _ = _image_figure(380, "A")
        fig_b, self.compare_source_b, _ = _image_figure(380, "B")
        fig_b.x_range, fig_b.y_range = fig_a.x_range, fig_a.y_range  # zoom together
        self.compare_figures = (fig_a, fig_b)

        self.runs_button.on_click(lambda _: self.list_runs())
        self.run_picker.observe(self._run_picked, "value")
        self.directory.on_submit(lambda _: self.open_directory(self.directory.value))
        self.source_picker.observe(self._source_picked, "value")
        self.round_picker.observe(lambda _: self._selection_changed(), "value")
        self.kind_picker.observe(lambda _: self._selection_changed(), "value")
        self.path.on_submit(lambda _: self.show_image(self.path.value))
        self.catalogue_path.on_submit(lambda _: self.show_catalogue(self.catalogue_path.value))
        self.stretch.observe(lambda _: self.restretch(), "value")
        self.limits.observe(lambda _: self.restretch(), "value")
        self.plot_picker.observe(lambda change: self.show_plot(change["new"]), "value")
        self.compare_button.on_click(
            lambda _: self.compare(self.compare_a.value, self.compare_b.value)
        )

        self.image_view = BokehModel(self.figure)
        self.image_view.add_class("flint-image")
        self.table_view = BokehModel(self.table)
        self.table_view.add_class("flint-catalogue")
        from bokeh.layouts import row

        self.compare_view = BokehModel(row(*self.compare_figures))
        super().__init__(**kwargs)
        self.children = [
            w.HBox([self.run_picker, self.runs_button]),
            self.directory,
            w.HBox([self.source_picker, self.round_picker, self.kind_picker]),
            w.HBox([self.path, self.catalogue_path]),
            w.HBox([self.stretch, self.limits]),
            self.image_view,
            self.table_view,
            w.HTML("<b>Plots</b>"),
            self.plot_picker,
            self.plot_view,
            w.HTML("<b>Compare self-calibration rounds</b>"),
            w.HBox([self.compare_a, self.compare_b, self.compare_button]),
            self.compare_table,
            self.compare_view,
            self.status,
        ]

    def _buttons(self) -> list[w.Button]:
        return [self.runs_button]

    def prepare_display(self) -> None:
        """Load BokehJS into the page and bring the bokeh views up to date (before display)."""
        load_bokehjs()
        refresh((self.image_view, self.table_view, self.compare_view))

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        self.prepare_display()
        return super()._repr_mimebundle_(**kwargs)

    # --- where the products are -------------------------------------------------------
    @busy
    async def list_runs(self, limit: int = 50) -> list[runs.RunSummary]:
        """Offer the newest flow runs that name an output directory."""
        summaries, _ = await runs.list_flow_runs(limit=limit)
        usable = [s for s in summaries if s.parameters.get("output_dir")]
        self._updating = True
        try:
            self.run_picker.options = [
                (f"{s.name}  [{s.state_name}]  {s.flow_name}", s.id) for s in usable
            ]
            self.run_picker.value = None
        finally:
            self._updating = False
        self.notify(f"{len(usable)} run(s) with an output directory")
        return usable

    def _run_picked(self, change: dict) -> None:
        if change["new"] is not None and not self._updating:
            self.open_run(change["new"])

    @busy
    async def open_run(self, flow_run_id: str) -> Products | None:
        """Show the products in the output directory of flow run ``flow_run_id``."""
        run = await runs.read_flow_run(flow_run_id)
        output = run.parameters.get("output_dir")
        if not output:
            self.notify(f"run {run.name} has no output_dir parameter", "warning")
            return None
        self.directory.value = str(output)
        return self.open_directory(output, label=f"run {run.name}")

    def open_directory(self, directory: str | os.PathLike[str], label: str = "") -> Products | None:
        """Find the products under ``directory`` and show the first image."""
        try:
            products = find_products(directory)
        except Exception as error:
            self.notify(f"cannot read products: {error}", "error")
            return None
        self.products = products
        sources: list[tuple[str, Any]] = [(f"beam {b:02d}", b) for b in products.beams]
        if products.rounds(None):
            sources.insert(0, ("mosaic", MOSAIC))
        plots = [(f"{p.kind.value}: {p.path.name}", str(p.path)) for p in products.plots]
        self._updating = True
        try:
            self.plot_picker.options = plots
            self.plot_picker.value = None
            self.source_picker.options = sources
            self.source_picker.value = sources[0][1] if sources else None
        finally:
            self._updating = False
        self._rounds_for_source()
        if plots:
            self.plot_picker.value = plots[0][1]
        counts = ", ".join(
            f"{len(products.select(kind))} {kind.value}" for kind in Kind if products.select(kind)
        )
        where = label or str(products.directory)
        self.notify(f"{where}: {counts or 'no products yet'}", "success" if counts else "warning")
        return products

    # --- picking ------------------------------------------------------------------------
    @property
    def beam(self) -> int | None:
        """The picked beam; ``None`` for the mosaic."""
        value = self.source_picker.value
        return None if value in (None, MOSAIC) else int(value)

    def _source_picked(self, change: dict) -> None:
        if not self._updating:
            self._rounds_for_source()

    def _rounds_for_source(self) -> None:
        rounds = (
            self.products.rounds(self.beam)
            if self.products and self.source_picker.value is not None
            else []
        )
        self.kind_picker.disabled = self.source_picker.value == MOSAIC
        options = [(str(r), r) for r in rounds]
        self._updating = True
        try:
            self.round_picker.options = options
            self.round_picker.value = rounds[-1] if rounds else None
            self.compare_a.options = self.compare_b.options = options
            if rounds:
                self.compare_a.value, self.compare_b.value = rounds[0], rounds[-1]
        finally:
            self._updating = False
        self._selection_changed()

    def _selection_changed(self) -> None:
        if self._updating or self.products is None or self.round_picker.value is None:
            return
        kind = Kind.MOSAIC if self.beam is None else Kind(self.kind_picker.value)
        path = self.products.find(kind, self.beam, self.round_picker.value)
        if path is None:
            self.notify(f"no {kind.value} for round {self.round_picker.value}", "warning")
            return
        self.show_image(path)
        catalogue = self.products.find(Kind.CATALOGUE, self.beam, self.round_picker.value)
        if catalogue is not None:
            self.show_catalogue(catalogue)
        else:
            self.clear_catalogue()

    # --- images and catalogues ----------------------------------------------------------
    def show_image(self, image: str | os.PathLike[str] | np.ndarray, wcs: Any = None) -> None:
        """Show a FITS file (or an array with an optional astropy WCS)."""
        try:
            path = None
            if isinstance(image, (str, os.PathLike)):
                path = Path(image)
                image, wcs = _read_fits(path)
            self.data, self.factor = decimate(image, self.max_pixels)
            self.wcs = wcs
            self.image_path = path
            _place(self.figure, self.data.shape, wcs, self.factor)
            self.figure.title.text = path.name if path else ""
            self.restretch()
            if self.catalogue is not None:
                self._overlay()
            self.notify(
                f"image {self.data.shape[1]}x{self.data.shape[0]} (decimated x{self.factor})"
                + (f": {path.name}" if path else "")
            )
        except Exception as error:
            self.notify(f"cannot show image: {error}", "error")

    def restretch(self) -> None:
        if self.data is not None:
            self.image_source.data = {
                "image": [stretch(self.data, self.stretch.value, self.limits.value)]
            }
        for source, data in zip(
            (self.compare_source_a, self.compare_source_b), self.compare_data.values(), strict=False
        ):
            source.data = {"image": [stretch(data, self.stretch.value, self.limits.value)]}

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
            self.catalogue, self._radec = catalogue, (ra, dec)
            self._overlay()
            self.notify(f"catalogue: {len(catalogue)} sources")
        except Exception as error:
            self.notify(f"cannot show catalogue: {error}", "error")

    def _overlay(self) -> None:
        ra, dec = self._radec
        catalogue = self.catalogue
        if self.wcs is None or ra not in catalogue.colnames or dec not in catalogue.colnames:
            self.source_points.data = {"x": [], "y": []}
            return
        x, y = self.wcs.celestial.world_to_pixel_values(
            np.asarray(catalogue[ra], dtype=float), np.asarray(catalogue[dec], dtype=float)
        )
        self.source_points.data = {
            "x": list(np.asarray(x) / self.factor),
            "y": list(np.asarray(y) / self.factor),
        }

    def clear_catalogue(self) -> None:
        self.catalogue = None
        self.table_source.data = {}
        self.table.columns = []
        self.source_points.data = {"x": [], "y": []}

    # --- plots and comparisons ----------------------------------------------------------
    def show_plot(self, path: str | os.PathLike[str] | None) -> None:
        """Show a PNG plot (bandpass solutions, validation)."""
        if path is None or self._updating:
            return
        try:
            self.plot_view.value = Path(path).read_bytes()
        except OSError as error:
            self.notify(f"cannot show plot: {error}", "error")

    def compare(self, round_a: int | None, round_b: int | None) -> dict[int, ImageStatistics]:
        """Images of two rounds of the picked beam (or mosaic) side by side, and a table of
        each round's image peak and residual rms."""
        if self.products is None or round_a is None or round_b is None:
            self.notify("open a run's products first", "warning")
            return {}
        beam = self.beam
        image_kind = Kind.MOSAIC if beam is None else Kind.IMAGE
        rows: list[str] = []
        stats: dict[int, ImageStatistics] = {}
        shown: dict[int, np.ndarray] = {}
        try:
            for round_number, source, fig in zip(
                (round_a, round_b),
                (self.compare_source_a, self.compare_source_b),
                self.compare_figures,
                strict=True,
            ):
                image = self.products.find(image_kind, beam, round_number)
                residual = self.products.find(Kind.RESIDUAL, beam, round_number)
                if image is None:
                    raise FileNotFoundError(f"no image of round {round_number}")
                data, wcs = _read_fits(image)
                small, factor = decimate(data, self.max_pixels // 2)
                shown[round_number] = small
                _place(fig, small.shape, wcs, factor)
                fig.title.text = f"round {round_number}: {image.name}"
                source.data = {"image": [stretch(small, self.stretch.value, self.limits.value)]}
                peak = _statistics(image).peak
                rms = _statistics(residual).rms if residual else float("nan")
                stats[round_number] = ImageStatistics(rms=rms, peak=peak)
                rows.append(
                    f"<tr><td>{round_number}</td><td>{1e3 * peak:.3f}</td>"
                    f"<td>{'–' if residual is None else f'{1e3 * rms:.3f}'}</td></tr>"
                )
        except Exception as error:
            self.notify(f"cannot compare rounds: {error}", "error")
            return {}
        self.compare_data = shown
        self.comparison = stats
        self.compare_table.value = (
            '<table class="flint-compare"><tr><th>round</th><th>image peak (mJy/beam)</th>'
            f"<th>residual rms (mJy/beam)</th></tr>{''.join(rows)}</table>"
        )
        which = "mosaic" if beam is None else f"beam {beam:02d}"
        self.notify(f"{which}: round {round_a} vs round {round_b}")
        return stats
