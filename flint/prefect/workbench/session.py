"""One workbench session: a model of each kind, shared by every panel (no UI)."""

from __future__ import annotations

from collections.abc import Sequence

from flint.prefect.choices import FLINT_FLOWS
from flint.prefect.submit import FlowChoice
from flint.prefect.workbench._background import BACKGROUND, Background
from flint.prefect.workbench.cluster import ClusterManager
from flint.prefect.workbench.explore import Explorer
from flint.prefect.workbench.follower import RunFollower
from flint.prefect.workbench.results import ResultsBrowser
from flint.prefect.workbench.submitter import FlowSubmitter


class Session:
    """The cluster manager, flow submitter, run follower, results browser and explorer of
    one workbench, and the background loop their slow calls run on.

    Panels talk to each other only through this: the flow panel sends tasks to
    :attr:`cluster_address`; the results panel reads a run through :attr:`follower`.
    """

    def __init__(
        self,
        flows: Sequence[FlowChoice] = FLINT_FLOWS,
        cluster: str = "local",
        deployment: str = "workbench",
        log_dir: str = ".flint/serve",
        background: Background = BACKGROUND,
    ) -> None:
        self.background = background
        self.cluster_source = cluster
        self.cluster = ClusterManager()
        self.submitter = FlowSubmitter(flows, deployment, log_dir)
        self.follower = RunFollower(background)
        self.results = ResultsBrowser()
        self.explorer = Explorer()

    @property
    def cluster_address(self) -> str | None:
        """The scheduler address of the running cluster (None when none runs)."""
        cluster = self.cluster.cluster
        return getattr(cluster, "scheduler_address", None) if cluster is not None else None

    def close(self) -> None:
        """Stop following runs and the serve runner started here (the cluster keeps running)."""
        self.follower.close()
        self.submitter.stop_runner()
