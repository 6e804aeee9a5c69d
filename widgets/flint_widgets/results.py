"""Results panel: a view of the session's results browser (a run's images by beam and round,
catalogues, the validation figure and summary, per-beam thermal ratios, two rounds compared)."""

from __future__ import annotations

import os
from typing import Any

import ipywidgets as w

from flint.prefect import runs
from flint.prefect.workbench import MOSAIC, RoundImage, Session
from flint.products import Products
from flint_widgets._bokeh import load_bokehjs, refresh
from flint_widgets._compare import CompareView
from flint_widgets._image_view import ImageView, load_catalogue, load_image
from flint_widgets._panel import Panel, busy
from flint_widgets._validation_view import ValidationView


class ResultsPanel(Panel):
    """A run's products (or any directory's, or single files); nothing is drawn until it exists."""

    def __init__(self, max_pixels: int = 1024, session: Session | None = None, **kwargs: Any):
        super().__init__(session, **kwargs)
        self.browser = self.session.results
        self.browser.max_pixels = max_pixels
        self.run_picker = w.Dropdown(description="Run", options=[], layout=w.Layout(width="36em"))
        self.runs_button = w.Button(description="Runs", icon="refresh", tooltip="list flow runs")
        self.directory = w.Text(description="Output", placeholder="a flow's output directory")
        self.source_picker = w.Dropdown(description="Show", options=[])
        self.round_picker = w.Dropdown(description="Round", options=[])
        self.kind_picker = w.ToggleButtons(options=["image", "residual", "model"], value="image")
        self.view, self.validation = ImageView(), ValidationView()
        self.compared = CompareView(on_compare=lambda a, b: self.compare(a, b))
        self.runs_button.on_click(lambda _: self.list_runs())
        self.run_picker.observe(lambda c: self._quiet(self.open_run, c["new"]), "value")
        self.directory.on_submit(lambda _: self.open_directory(self.directory.value))
        self.source_picker.observe(lambda _: self._quiet(self._rounds_for_source), "value")
        self.round_picker.observe(lambda _: self._quiet(self._selection_changed), "value")
        self.kind_picker.observe(lambda _: self._quiet(self._selection_changed), "value")
        self.children = [
            w.HBox([self.run_picker, self.runs_button]),
            self.directory,
            w.HBox([self.source_picker, self.round_picker, self.kind_picker]),
            self.view,
            self.validation,
            self.compared,
            self.status,
        ]

    # what notebooks and tests read
    products = property(lambda self: self.browser.products)
    data = property(lambda self: self.view.data)
    image_path = property(lambda self: self.view.preview.path if self.view.preview else None)
    plot_picker = property(lambda self: self.validation.plot_picker)
    plot_view = property(lambda self: self.validation.plot_view)

    def _buttons(self) -> list[w.Button]:
        return [self.runs_button, self.compared.button]

    def prepare_display(self) -> None:
        """Load BokehJS into the page and bring the bokeh views up to date (before display)."""
        load_bokehjs()
        refresh((self.view.image_view, self.view.table_view, self.compared.view))

    @busy
    async def list_runs(self, limit: int = 50) -> list[runs.RunSummary]:
        """Offer the newest flow runs that name an output directory."""
        summaries = await self.session.follower.list_runs(limit=limit)
        usable = [s for s in summaries if s.parameters.get("output_dir")]
        options = [(f"{s.name}  [{s.state_name}]  {s.flow_name}", s.id) for s in usable]
        self._set(self.run_picker, options, None)
        self.notify(f"{len(usable)} run(s) with an output directory")
        return usable

    @busy
    async def open_run(self, flow_run_id: str) -> Products | None:
        """Show the products in the output directory of flow run ``flow_run_id``."""
        run = await self.session.follower.read_run(flow_run_id)
        if not (output := run.parameters.get("output_dir")):
            self.notify(f"run {run.name} has no output_dir parameter", "warning")
            return None
        self.directory.value = str(output)
        return self.open_directory(output, label=f"run {run.name}")

    def open_directory(self, directory: str | os.PathLike[str], label: str = "") -> Products | None:
        """Find the products under ``directory``; show the newest image and the validation."""
        try:
            products = self.browser.open_directory(directory, label)
        except Exception as error:
            self.notify(f"cannot read products: {error}", "error")
            return None
        sources = self.browser.sources()
        self._set(self.source_picker, sources, sources[0][1] if sources else None)
        self._rounds_for_source()
        browser = self.browser
        self.validation.show(
            browser.validation_summary(), browser.thermal_ratios(), browser.plots()
        )
        self.notify(browser.describe(), "success" if products.items else "warning")
        return products

    def _rounds_for_source(self) -> None:
        rounds = self.browser.rounds(self.source_picker.value)
        self.kind_picker.disabled = self.source_picker.value == MOSAIC
        self._set(self.round_picker, [(str(r), r) for r in rounds], rounds[-1] if rounds else None)
        self.compared.offer(rounds)
        self._selection_changed()

    def _selection_changed(self) -> None:
        source, round_number = self.source_picker.value, self.round_picker.value
        if round_number is None:
            self.view.clear()
            return
        kind = "image" if source == MOSAIC else self.kind_picker.value
        path = self.browser.image_path(source, round_number, kind)
        if path is None:
            self.notify(f"no {kind} for round {round_number}", "warning")
            return
        self.show_image(path)
        catalogue = self.browser.catalogue(source, round_number)
        if catalogue is None:
            self.view.clear_catalogue()
        else:
            self.view.show_catalogue(catalogue)

    def show_image(self, image: str | os.PathLike[str] | Any, wcs: Any = None) -> None:
        """Show a FITS file (or an array with an optional astropy WCS)."""
        try:
            preview, title = load_image(image, self.browser.max_pixels, wcs)
            self.view.show(preview, title)
            ny, nx = preview.data.shape
            self.notify(f"image {nx}x{ny} (decimated x{preview.factor}) {title}")
        except Exception as error:
            self.notify(f"cannot show image: {error}", "error")

    def show_catalogue(self, catalogue: Any) -> None:
        """Show a catalogue (astropy Table or a file it reads) as a sortable table and overlay."""
        try:
            self.view.show_catalogue(load_catalogue(catalogue))
            self.notify(f"catalogue: {len(self.view.catalogue)} sources")
        except Exception as error:
            self.notify(f"cannot show catalogue: {error}", "error")

    def compare(self, round_a: int | None, round_b: int | None) -> list[RoundImage]:
        """Two rounds of the picked beam (or mosaic) side by side, with peak and residual rms."""
        try:
            images = self.browser.compare(self.source_picker.value, round_a, round_b)
        except Exception as error:
            self.notify(f"cannot compare rounds: {error}", "error")
            return []
        self.compared.show(images, self.view.stretch.value, self.view.limits.value)
        self.notify(f"round {round_a} vs round {round_b}")
        return images
