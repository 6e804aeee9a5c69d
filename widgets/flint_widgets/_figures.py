"""Bokeh figures the panels draw into (empty on creation; panels fill their data sources)."""

from __future__ import annotations

from typing import Any

import numpy as np

STATE_TEMPLATE = (
    '<span style="color:<%= colour %>;font-weight:bold" data-state="<%= state %>">'
    "<%= value %></span>"
)
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def duration(seconds: float | None) -> str:
    """``42s``, ``3m05``, ``1h02`` (empty for None)."""
    if seconds is None or not np.isfinite(seconds):
        return ""
    seconds = round(float(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}"


def grid_figure() -> tuple[Any, Any]:
    """Beams (rows) x stages (columns), one coloured cell per task, its run time inside;
    clicking a cell selects it. Returns (figure, source)."""
    from bokeh.models import ColumnDataSource, FactorRange, HoverTool, TapTool
    from bokeh.plotting import figure

    keys = ("beam", "column", "state", "colour", "label", "tip")
    source = ColumnDataSource({key: [] for key in keys})
    fig = figure(
        x_range=FactorRange(), y_range=FactorRange(), x_axis_location="above",
        frame_width=400, frame_height=100, tools="", toolbar_location=None,
        min_border_left=10, min_border_right=10,
    )  # fmt: skip
    cells = fig.rect("column", "beam", 0.94, 0.9, source=source, fill_color="colour",
                     line_color=None, selection_line_color="black", selection_line_width=2,
                     nonselection_fill_alpha=1.0)  # fmt: skip
    fig.text("column", "beam", text="label", source=source, text_align="center",
             text_baseline="middle", text_color="white", text_font_size="9px")  # fmt: skip
    fig.add_tools(TapTool(renderers=[cells]), HoverTool(renderers=[cells], tooltips="@tip"))
    fig.xaxis.major_label_orientation = 0.9
    fig.axis.major_label_text_font_size = "10px"
    fig.grid.visible = False
    fig.outline_line_color = None
    return fig, source


def runs_table() -> tuple[Any, Any]:
    """The run list: name, flow, state (coloured), start, duration, main parameters."""
    from bokeh.models import ColumnDataSource, DataTable, HTMLTemplateFormatter, TableColumn

    keys = ("id", "name", "flow", "state", "colour", "value", "start", "duration", "parameters")
    source = ColumnDataSource({key: [] for key in keys})
    columns = [
        TableColumn(field="name", title="run", width=150),
        TableColumn(field="flow", title="flow", width=90),
        TableColumn(field="value", title="state",
                    formatter=HTMLTemplateFormatter(template=STATE_TEMPLATE), width=90),
        TableColumn(field="start", title="started", width=120),
        TableColumn(field="duration", title="duration", width=70),
        TableColumn(field="parameters", title="parameters", width=420),
    ]  # fmt: skip
    table = DataTable(source=source, columns=columns, width=960, height=230, index_position=None)
    return table, source


def image_figure(size: int, title: str = "") -> tuple[Any, Any, Any]:
    """A figure showing one grey image with red circles: (figure, image, points)."""
    from bokeh.models import ColumnDataSource
    from bokeh.plotting import figure

    image = ColumnDataSource({"image": [np.zeros((1, 1))]})
    points = ColumnDataSource({"x": [], "y": []})
    fig = figure(width=size, height=size, match_aspect=True, title=title,
                 tools="pan,wheel_zoom,box_zoom,reset")  # fmt: skip
    fig.image("image", source=image, x=0, y=0, dw=1, dh=1, palette="Greys256")
    fig.scatter("x", "y", source=points, size=10, fill_alpha=0, line_color="red")
    return fig, image, points


def xy_figure(title: str, x_label: str, y_label: str, width: int = 440) -> Any:
    """An empty figure with labelled axes and the usual tools."""
    from bokeh.plotting import figure

    fig = figure(width=width, height=360, title=title, tools="pan,wheel_zoom,box_zoom,reset")
    fig.xaxis.axis_label, fig.yaxis.axis_label = x_label, y_label
    return fig


def waterfall_figure() -> tuple[Any, Any]:
    """A time x channel image of flagged fractions (0 white .. 1 dark): (figure, source)."""
    from bokeh.models import ColumnDataSource, LinearColorMapper

    fig = xy_figure("flags", "frequency (MHz)", "time (s)", width=520)
    source = ColumnDataSource(
        {"image": [np.zeros((1, 1))], "x": [0], "y": [0], "dw": [1], "dh": [1]}
    )
    from bokeh.palettes import Reds256

    # nothing flagged white, everything flagged dark red
    mapper = LinearColorMapper(palette=Reds256[::-1], low=0, high=1, nan_color="#dddddd")
    fig.image("image", x="x", y="y", dw="dw", dh="dh", source=source, color_mapper=mapper)
    return fig, source
