"""What the Explore panel draws: a measurement set (uv coverage, amplitude against uv
distance, flag waterfall) and a solutions file (bandpass amplitude and phase, a page of
antennas, flagged channels marked). Drawing only: the data come made small from the model."""

from __future__ import annotations

from typing import Any

import ipywidgets as w
import numpy as np

from flint_widgets._bokeh import BokehView
from flint_widgets._figures import PALETTE, waterfall_figure, xy_figure


def _finite(values: np.ndarray) -> np.ndarray:
    """Values as floats; NaN (not None, which bokeh would draw as 0) breaks a line."""
    return np.asarray(values, dtype=float)


class MSView(w.VBox):
    """uv coverage, amplitude against uv distance, and a flag waterfall."""

    def __init__(self) -> None:
        from bokeh.layouts import gridplot
        from bokeh.models import ColumnDataSource

        self.uv_source = ColumnDataSource({"u": [], "v": []})
        self.amp_source = ColumnDataSource({"uv": [], "amp": []})
        self.mean_source = ColumnDataSource({"uv": [], "mean": []})
        uv = xy_figure("uv coverage", "u (kλ)", "v (kλ)", width=420)
        uv.match_aspect = True
        uv.scatter("u", "v", source=self.uv_source, size=2, alpha=0.5)
        amp = xy_figure("amplitude", "uv distance (kλ)", "|V| Stokes I (Jy)", width=420)
        amp.scatter("uv", "amp", source=self.amp_source, size=2, alpha=0.3)
        amp.line("uv", "mean", source=self.mean_source, color="red", line_width=2)
        self.waterfall, self.flag_source = waterfall_figure()
        self.figures = {"uv": uv, "amplitude": amp, "flags": self.waterfall}
        self.view = BokehView(gridplot([[uv, amp], [self.waterfall, None]]), "flint-explore-ms")
        self.column = w.Dropdown(description="Column", options=["DATA"])
        self.antenna = w.Dropdown(description="Antenna", options=[])
        self.other = w.Dropdown(description="baseline with", options=[("—", None)])
        self.flags_button = w.Button(description="Flags", icon="th")
        self.controls = w.HBox([self.column, self.antenna, self.other, self.flags_button])
        super().__init__([self.controls, self.view])

    def offer(self, summary: Any) -> None:
        """The summary's columns and antennas in the pickers."""
        data = [c for c in summary.columns if c.endswith("DATA") and c != "MODEL_DATA"]
        self.column.options = data or ["DATA"]
        self.column.value = self.column.options[0]
        antennas = [(name, i) for i, name in enumerate(summary.antennas)]
        self.antenna.options, self.antenna.value = antennas, 0
        self.other.options, self.other.value = [("—", None), *antennas], None

    def show_uv(self, coverage: Any) -> None:
        self.uv_source.data = {"u": coverage.u_klambda.tolist(), "v": coverage.v_klambda.tolist()}

    def show_amplitudes(self, amplitudes: Any) -> None:
        self.amp_source.data = {"uv": amplitudes.uv_klambda.tolist(),
                                "amp": amplitudes.amplitude.tolist()}  # fmt: skip
        self.mean_source.data = {"uv": amplitudes.bin_centres_klambda,
                                 "mean": _finite(amplitudes.bin_mean)}  # fmt: skip
        self.figures["amplitude"].title.text = f"amplitude ({amplitudes.column})"

    def show_flags(self, waterfall: Any) -> None:
        f_mhz, t_s = waterfall.frequency_hz / 1e6, waterfall.time_s
        step_f = (f_mhz[-1] - f_mhz[0]) / max(1, len(f_mhz) - 1) or 1.0
        step_t = (t_s[-1] - t_s[0]) / max(1, len(t_s) - 1) or 1.0
        self.flag_source.data = {
            "image": [waterfall.fraction], "x": [f_mhz[0] - step_f / 2], "y": [t_s[0] - step_t / 2],
            "dw": [step_f * len(f_mhz)], "dh": [step_t * len(t_s)],
        }  # fmt: skip
        self.waterfall.title.text = f"flagged fraction, {waterfall.selection}"


class SolutionsView(w.VBox):
    """Bandpass amplitude and phase of a page of antennas; flagged channels as red crosses."""

    def __init__(self) -> None:
        from bokeh.layouts import row
        from bokeh.models import ColumnDataSource

        keys = {"xs": [], "ys": [], "colour": [], "dash": [], "label": []}
        self.amp_source, self.phase_source = (
            ColumnDataSource(dict(keys)),
            ColumnDataSource(dict(keys)),
        )
        self.amp_flags = ColumnDataSource({"x": [], "y": []})
        self.phase_flags = ColumnDataSource({"x": [], "y": []})
        amp = xy_figure("bandpass amplitude", "channel", "|g|", width=460)
        phase = xy_figure("bandpass phase", "channel", "phase (deg)", width=460)
        for fig, lines, flags in ((amp, self.amp_source, self.amp_flags),
                                  (phase, self.phase_source, self.phase_flags)):  # fmt: skip
            fig.multi_line("xs", "ys", source=lines, color="colour", line_dash="dash",
                           legend_field="label")  # fmt: skip
            fig.scatter("x", "y", source=flags, marker="x", color="red", size=7)
            fig.legend.label_text_font_size = "8px"
        self.figures = {"amplitude": amp, "phase": phase}
        self.view = BokehView(row(amp, phase), "flint-explore-solutions")
        self.prev_button = w.Button(icon="chevron-left", layout=w.Layout(width="3em"))
        self.next_button = w.Button(icon="chevron-right", layout=w.Layout(width="3em"))
        self.page_label = w.Label()
        super().__init__([w.HBox([self.prev_button, self.page_label, self.next_button]), self.view])

    def show(self, curves: list[Any], page: int, pages: int) -> None:
        amp: dict[str, list] = {k: [] for k in ("xs", "ys", "colour", "dash", "label")}
        phase: dict[str, list] = {k: [] for k in amp}
        flags: dict[str, list] = {"x": [], "amp": [], "phase": []}
        for index, curve in enumerate(curves):
            colour = PALETTE[index % len(PALETTE)]
            for pol, dash in zip(
                curve.amplitude, ("solid", "dashed", "dotted", "dotdash"), strict=False
            ):
                for data, values in ((amp, curve.amplitude[pol]), (phase, curve.phase_deg[pol])):
                    for key, value in (("xs", curve.channels.astype(float)), ("ys", _finite(values)),
                                       ("colour", colour), ("dash", dash),
                                       ("label", f"ant {curve.antenna} {pol}")):  # fmt: skip
                        data[key].append(value)
                flagged = curve.channels[curve.flagged[pol]].tolist()
                flags["x"] += flagged
        self.amp_source.data, self.phase_source.data = amp, phase
        self.amp_flags.data = {"x": flags["x"], "y": [0.0] * len(flags["x"])}
        self.phase_flags.data = {"x": flags["x"], "y": [-180.0] * len(flags["x"])}
        antennas = f"{curves[0].antenna}-{curves[-1].antenna}" if curves else ""
        self.page_label.value = f"antennas {antennas} (page {page + 1} of {pages})"
