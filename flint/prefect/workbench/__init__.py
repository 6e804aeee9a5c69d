"""The workbench's models, with no UI: what the JupyterLab panels show and do.

- :class:`ClusterManager`: one Dask cluster from a config (fixed or adaptive), its batch
  jobs, a test job;
- :class:`FlowSubmitter`: the serve runner of the offered flows, and submissions to it;
- :class:`RunFollower`: the one reader of flow-run and task-run states (Prefect events,
  polling only as a fallback), logs, cancel and retry;
- :class:`ResultsBrowser`: a run's products, images, catalogues, validation and thermal ratios;
- :class:`Explorer`: any measurement set, solutions file, image or catalogue;
- :class:`Session`: one of each, shared by the panels, with the background loop they use.

Importable without ipywidgets or bokeh; panels in ``flint_widgets`` are views over these.
"""

from flint.prefect.workbench._background import BACKGROUND, Background
from flint.prefect.workbench.cluster import ClusterManager, ClusterStatus, Job, TestReport
from flint.prefect.workbench.explore import Explorer, identify
from flint.prefect.workbench.follower import Change, RunFollower
from flint.prefect.workbench.results import MOSAIC, ResultsBrowser, RoundImage, ThermalRatio
from flint.prefect.workbench.session import Session
from flint.prefect.workbench.submitter import FlowSubmitter

__all__ = [
    "BACKGROUND",
    "MOSAIC",
    "Background",
    "Change",
    "ClusterManager",
    "ClusterStatus",
    "Explorer",
    "FlowSubmitter",
    "Job",
    "ResultsBrowser",
    "RoundImage",
    "RunFollower",
    "Session",
    "TestReport",
    "ThermalRatio",
    "identify",
]
