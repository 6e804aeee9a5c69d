"""The flint workbench: JupyterLab panels, views over :mod:`flint.prefect.workbench`.

``from flint_widgets import Workbench; Workbench()`` shows every panel in one tab widget;
each panel also works on its own (with a session of its own, or a shared one).
"""

from flint_widgets.cluster import ClusterPanel
from flint_widgets.explore import ExplorePanel
from flint_widgets.flow import FlowPanel
from flint_widgets.results import ResultsPanel
from flint_widgets.runs import RunsPanel
from flint_widgets.workbench import Workbench

__all__ = ["ClusterPanel", "ExplorePanel", "FlowPanel", "ResultsPanel", "RunsPanel", "Workbench"]
