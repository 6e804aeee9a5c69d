"""The workbench: every panel in one tab widget, over one session."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ipywidgets as w

from flint.prefect.choices import FLINT_FLOWS
from flint.prefect.submit import FlowChoice
from flint.prefect.workbench import Session
from flint_widgets.cluster import ClusterPanel
from flint_widgets.explore import ExplorePanel
from flint_widgets.flow import FlowPanel
from flint_widgets.results import ResultsPanel
from flint_widgets.runs import RunsPanel

TITLES = ("Cluster", "Flows", "Runs", "Results", "Explore")


class Workbench(w.Tab):
    """Cluster, Flows, Runs, Results and Explore panels sharing one :class:`Session`.

    ``flows``: the flows offered (default: flint's simulate, bandpass and continuum).
    """

    def __init__(
        self,
        flows: Sequence[FlowChoice] = FLINT_FLOWS,
        cluster: str = "local",
        session: Session | None = None,
        **kwargs: Any,
    ) -> None:
        self.session = session or Session(flows, cluster=cluster)
        self.cluster = ClusterPanel(config=cluster, session=self.session)
        self.flows = FlowPanel(session=self.session)
        self.runs = RunsPanel(session=self.session)
        self.results = ResultsPanel(session=self.session)
        self.explore = ExplorePanel(session=self.session)
        panels = [self.cluster, self.flows, self.runs, self.results, self.explore]
        super().__init__(children=panels, **kwargs)
        for index, title in enumerate(TITLES):
            self.set_title(index, title)
        self.observe(self._opened, "selected_index")

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        self.results.prepare_display()  # BokehJS into the page, before the tabs
        self.explore.prepare_display()
        self.runs.prepare_display()
        return super()._repr_mimebundle_(**kwargs)

    def _opened(self, change: dict) -> None:
        if change["new"] == 2 and not self.runs.summaries:
            self.runs.refresh()
        if change["new"] == 3 and not self.results.run_picker.options:
            self.results.list_runs()
