"""The workbench: every panel in one tab widget."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ipywidgets as w

from flint.prefect.choices import FLINT_FLOWS
from flint.prefect.submit import FlowChoice
from flint_widgets.cluster import ClusterPanel
from flint_widgets.flow import FlowPanel
from flint_widgets.results import ResultsPanel
from flint_widgets.runs import RunsPanel


class Workbench(w.Tab):
    """Cluster, Flows, Runs and Results panels; each also works on its own.

    ``flows``: the flows offered (default: flint's simulate, bandpass and continuum).
    """

    def __init__(
        self,
        flows: Sequence[FlowChoice] = FLINT_FLOWS,
        cluster: str = "local",
        **kwargs: Any,
    ) -> None:
        self.cluster = ClusterPanel(config=cluster)
        self.flows = FlowPanel(flows, cluster_panel=self.cluster)
        self.runs = RunsPanel()
        self.results = ResultsPanel()
        super().__init__(children=[self.cluster, self.flows, self.runs, self.results], **kwargs)
        for index, title in enumerate(("Cluster", "Flows", "Runs", "Results")):
            self.set_title(index, title)
        self.observe(self._opened, "selected_index")

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        self.results.prepare_display()  # BokehJS into the page, before the tabs
        return super()._repr_mimebundle_(**kwargs)

    def _opened(self, change: dict) -> None:
        if change["new"] == 2 and not self.runs.summaries:
            self.runs.refresh()
        if change["new"] == 3 and not self.results.run_picker.options:
            self.results.list_runs()
