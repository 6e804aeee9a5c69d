"""Two self-calibration rounds side by side, zooming together, with each round's image peak
and residual rms; hidden until a comparison is made."""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as w
import numpy as np

from flint.prefect.workbench import RoundImage
from flint_widgets._bokeh import BokehView
from flint_widgets._figures import image_figure
from flint_widgets._image_view import place
from flint_widgets._panel import shown


class CompareView(w.VBox):
    """Round pickers and a Compare button; ``on_compare(a, b)`` makes the comparison."""

    def __init__(self, on_compare: Callable[[int, int], object], size: int = 380) -> None:
        from bokeh.layouts import row

        self.round_a = w.Dropdown(description="Round A", options=[])
        self.round_b = w.Dropdown(description="Round B", options=[])
        self.button = w.Button(description="Compare", icon="columns")
        self.button.on_click(lambda _: on_compare(self.round_a.value, self.round_b.value))
        self.controls = w.HBox([self.round_a, self.round_b, self.button])

        fig_a, self.source_a, _ = image_figure(size, "A")
        fig_b, self.source_b, _ = image_figure(size, "B")
        fig_b.x_range, fig_b.y_range = fig_a.x_range, fig_a.y_range  # zoom together
        self.figures = (fig_a, fig_b)
        self.table = w.HTML()
        self.data: dict[int, np.ndarray] = {}
        self.view = BokehView(row(*self.figures), "flint-compare")
        super().__init__([self.controls, self.table, self.view])
        self.offer([])

    def offer(self, rounds: list[int]) -> None:
        """Offer ``rounds`` (the first and last picked); hidden with fewer than two."""
        options = [(str(r), r) for r in rounds]
        self.round_a.options = self.round_b.options = options
        if rounds:
            self.round_a.value, self.round_b.value = rounds[0], rounds[-1]
        shown(self, len(rounds) > 1)
        for part in (self.table, self.view):
            shown(part, False)

    def show(self, images: list[RoundImage], stretch: str, limits: tuple[float, float]) -> None:
        rows = []
        for image, source, fig in zip(
            images, (self.source_a, self.source_b), self.figures, strict=True
        ):
            place(fig, image.preview)
            fig.title.text = f"round {image.round}: {image.preview.path.name}"
            source.data = {"image": [image.preview.stretched(stretch, limits)]}
            rms = image.statistics.rms
            rows.append(
                f"<tr><td>{image.round}</td><td>{1e3 * image.statistics.peak:.3f}</td>"
                f"<td>{'–' if not np.isfinite(rms) else f'{1e3 * rms:.3f}'}</td></tr>"
            )
        self.data = {image.round: image.preview.data for image in images}
        self.table.value = (
            '<table class="flint-compare"><tr><th>round</th><th>image peak (mJy/beam)</th>'
            f"<th>residual rms (mJy/beam)</th></tr>{''.join(rows)}</table>"
        )
        for part in (self.table, self.view):
            shown(part, True)
