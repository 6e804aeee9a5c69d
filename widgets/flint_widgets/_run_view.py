"""The followed run, drawn: header, beams x stages grid (scrolling inside the panel), the log
tail of a clicked cell, and the run's logs. Drawing only; the runs panel wires it up."""

from __future__ import annotations

import html
from collections.abc import Callable

import ipywidgets as w

from flint.prefect import runs
from flint.prefect.submit import ui_url
from flint_widgets._bokeh import BokehView
from flint_widgets._figures import duration, grid_figure, runs_table
from flint_widgets._panel import STATE_COLOURS, shown
from flint_widgets._run_data import grid_data, runs_data

CELL_PX, ROW_PX = 64, 18


class RunList(BokehView):
    """The run table; ``on_pick(flow_run_id)`` is called when a row is clicked."""

    def __init__(self, on_pick: Callable[[str], object]) -> None:
        table, self.source = runs_table()

        def picked(attr: str, old: object, new: list[int]) -> None:
            if new:
                on_pick(self.source.data["id"][new[0]])

        self.source.selected.on_change("indices", picked)
        super().__init__(table, "flint-runs")

    def show(self, summaries: list[runs.RunSummary], followed: str | None) -> None:
        """The runs; the followed one stays selected where it now is (a click on a row at its
        old index would otherwise change nothing, and follow nothing)."""
        self.source.data = runs_data(summaries)
        ids = self.source.data["id"]
        self.source.selected.indices = [ids.index(followed)] if followed in ids else []


class RunView(w.VBox):
    """``on_cell(beam, column)`` is called when a grid cell is clicked."""

    def __init__(self, on_cell: Callable[[str, str], object]) -> None:
        figure, self.grid_source = grid_figure()
        self.grid_view = BokehView(figure, "flint-grid")
        self.grid_box = w.Box(
            [self.grid_view], layout=w.Layout(max_height="560px", overflow="auto")
        )
        self.header, self.totals = w.HTML(), w.HTML()
        self.header.add_class("flint-run-header")
        self.task_log = w.Textarea(disabled=True, layout=w.Layout(width="100%", height="10em"))
        self.logs = w.Textarea(disabled=True, layout=w.Layout(width="100%", height="12em"))
        self.task_log.add_class("flint-task-log")

        def clicked(attr: str, old: object, new: object) -> None:
            if indices := self.grid_source.selected.indices:
                on_cell(*(self.grid_source.data[k][indices[0]] for k in ("beam", "column")))

        self.grid_source.selected.on_change("indices", clicked)
        super().__init__([self.grid_box, self.totals, self.task_log, self.logs])
        self.clear()

    def clear(self) -> None:
        self.header.value = self.totals.value = self.task_log.value = self.logs.value = ""
        shown(self.grid_box, False)
        shown(self.task_log, False)

    def show_run(self, run: runs.RunSummary, live: str) -> None:
        colour = STATE_COLOURS.get(run.state_type, "#333")
        self.header.value = (
            f"<b>{html.escape(run.name)}</b> ({html.escape(run.flow_name)}) "
            f'<span style="color:{colour}" data-state="{run.state_type}">'
            f"{html.escape(run.state_name)}</span> {duration(run.seconds())} "
            f'<a href="{ui_url(run.id)}" target="_blank">Prefect UI</a> <small>({live})</small>'
        )

    def show_grid(self, grid: runs.RunGrid) -> None:
        fig = self.grid_view.model
        fig.x_range.factors, fig.y_range.factors = list(grid.columns), list(reversed(grid.beams))
        fig.frame_width = max(200, CELL_PX * len(grid.columns))
        fig.frame_height = max(40, ROW_PX * len(grid.beams))
        self.grid_source.data = grid_data(grid)
        totals = ", ".join(f"{n} {s.lower()}" for s, n in sorted(grid.totals.items()))
        self.totals.value = f"<small>{totals or 'no task runs yet'}</small>"
        shown(self.grid_box, bool(grid.beams))

    def show_logs(self, lines: list[runs.LogLine]) -> None:
        self.logs.value = "\n".join(
            f"{ln.timestamp:%H:%M:%S} {ln.name}: {ln.message}" for ln in lines[-2000:]
        )

    def show_task_log(self, task: runs.TaskRunInfo, lines: list[runs.LogLine]) -> None:
        text = "\n".join(f"{ln.timestamp:%H:%M:%S} {ln.message}" for ln in lines)
        self.task_log.value = f"{task.name} [{task.state_name}]\n{text or '(no log lines yet)'}"
        shown(self.task_log, True)
