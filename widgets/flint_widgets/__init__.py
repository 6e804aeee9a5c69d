"""The flint workbench: JupyterLab panels over :mod:`flint.prefect`.

``from flint_widgets import Workbench; Workbench()`` shows every panel in one tab widget.
"""

from flint_widgets.cluster import ClusterPanel
from flint_widgets.flow import FlowPanel
from flint_widgets.results import ResultsPanel
from flint_widgets.runs import RunsPanel
from flint_widgets.workbench import Workbench

__all__ = ["ClusterPanel", "FlowPanel", "ResultsPanel", "RunsPanel", "Workbench"]
