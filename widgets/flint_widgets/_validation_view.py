"""A run's validation: headline numbers, each beam's distance from the thermal limit, and the
figures (validation, bandpass solutions); each part hidden while it does not exist."""

from __future__ import annotations

import html
from pathlib import Path

import ipywidgets as w

from flint.prefect.workbench import ThermalRatio
from flint_widgets._panel import shown


def thermal_html(ratios: list[ThermalRatio]) -> str:
    rows = "".join(
        f"<tr><td>{r.beam:02d}</td><td>{r.round}</td><td>{1e6 * r.residual_rms_jy:.1f}</td>"
        f"<td>{1e6 * r.noise_rms_jy:.1f}</td><td><b>{r.ratio:.3f}</b></td></tr>"
        for r in ratios
    )
    head = "".join(
        f"<th>{h}</th>"
        for h in ("beam", "round", "residual rms (uJy)", "noise alone (uJy)", "ratio")
    )
    return f'<table class="flint-thermal"><tr>{head}</tr>{rows}</table>'


class ValidationView(w.VBox):
    def __init__(self) -> None:
        self.summary, self.thermal = w.HTML(), w.HTML()
        self.plot_picker = w.Dropdown(description="Figure", options=[])
        self.plot_view = w.Image(format="png", layout=w.Layout(max_width="900px"))
        self.plot_picker.observe(lambda change: self.show_plot(change["new"]), "value")
        super().__init__([self.summary, self.thermal, self.plot_picker, self.plot_view])
        self.show(None, [], [])

    def show(self, summary: str | None, ratios: list[ThermalRatio], plots: list[Path]) -> None:
        self.summary.value = f"<pre>{html.escape(summary)}</pre>" if summary else ""
        self.thermal.value = thermal_html(ratios) if ratios else ""
        self.plot_picker.options = [(p.name, str(p)) for p in plots]
        self.plot_picker.value = str(plots[0]) if plots else None
        for part, visible in ((self.summary, summary), (self.thermal, ratios),
                              (self.plot_picker, plots)):  # fmt: skip
            shown(part, bool(visible))
        self.show_plot(self.plot_picker.value)

    def show_plot(self, path: str | None) -> None:
        """Show a PNG figure; hidden when there is none."""
        shown(self.plot_view, path is not None)
        if path is not None:
            self.plot_view.value = Path(path).read_bytes()
