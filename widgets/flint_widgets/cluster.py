"""Cluster panel: a view of the session's cluster manager (config, job script, start, scale or
adapt, test job, batch jobs pending and running, the Dask dashboard inline)."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from flint.prefect.workbench import ClusterStatus, Session, TestReport
from flint_widgets._cluster_html import dashboard_html, summary_html
from flint_widgets._panel import Panel, busy

STATUS_SECONDS = 1.0


class ClusterPanel(Panel):
    """Start a Dask cluster from a named config or YAML path, and watch it work."""

    def __init__(self, config: str = "local", session: Session | None = None, **kwargs: Any):
        super().__init__(session, **kwargs)
        from flint.prefect.cluster import builtin_cluster_names

        self.manager = self.session.cluster
        self.last_status = ClusterStatus()
        self.config = w.Combobox(
            value=config, options=builtin_cluster_names(), description="Config",
            placeholder="name or path/to/cluster.yaml", ensure_option=False,
        )  # fmt: skip
        self.settings = w.Textarea(disabled=True, layout=w.Layout(width="100%", height="12em"))
        self.start_button = w.Button(description="Start", button_style="success", icon="play")
        self.stop_button = w.Button(description="Stop", button_style="danger", icon="stop")
        self.test_button = w.Button(description="Test", icon="stethoscope")
        self.workers = w.BoundedIntText(value=2, min=0, max=10_000, description="Workers")
        self.scale_button = w.Button(description="Scale", tooltip="fixed size; adapt off")
        self.minimum = w.BoundedIntText(value=0, min=0, max=10_000, description="Adapt min")
        self.maximum = w.BoundedIntText(value=4, min=1, max=10_000, description="max")
        self.adapt_button = w.Button(description="Adapt", tooltip="scale with the load")
        self.summary = w.HTML("No cluster running.")
        self.summary.add_class("flint-cluster-summary")
        self.dashboard = w.HTML()
        self.config.observe(lambda _: self.load(), "value")
        self.start_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        self.test_button.on_click(lambda _: self.test())
        self.scale_button.on_click(lambda _: self.scale())
        self.adapt_button.on_click(lambda _: self.adapt())
        self.children = [
            w.HBox([self.config, self.start_button, self.stop_button, self.test_button]),
            w.HTML("<small>Resolved settings (and the job script of batch clusters)</small>"),
            self.settings,
            w.HBox([self.workers, self.scale_button]),
            w.HBox([self.minimum, self.maximum, self.adapt_button]),
            self.summary, self.status, self.dashboard,
        ]  # fmt: skip
        self.load()

    def _buttons(self) -> list[w.Button]:
        buttons = [self.start_button, self.stop_button, self.test_button]
        return [*buttons, self.scale_button, self.adapt_button]

    def load(self) -> None:
        """Load the chosen config and show its resolved settings (errors in the panel)."""
        try:
            self.settings.value = self.manager.load(self.config.value)
            adapt = self.manager.config.adapt_kwargs
            if adapt is not None:
                self.minimum.value, self.maximum.value = adapt.minimum, adapt.maximum
            self.notify(f"config {self.config.value!r} loaded")
        except Exception as error:
            self.settings.value = ""
            self.notify(str(error), "error")

    @busy
    async def start(self) -> ClusterStatus:
        """Start the cluster in a worker thread, then follow its status."""
        self.notify("starting cluster...")
        status = await self.session.background.blocking(self.manager.start)
        self._show(status)
        self.session.background.every(f"cluster-{id(self)}", STATUS_SECONDS, self.refresh)
        self.notify(f"{status.cluster_class} started at {status.scheduler_address}", "success")
        return status

    @busy
    async def scale(self) -> ClusterStatus:
        await self.session.background.blocking(self.manager.scale, self.workers.value)
        self.notify(f"fixed at {self.workers.value} workers (adaptive scaling off)")
        return await self.refresh()

    @busy
    async def adapt(self) -> ClusterStatus:
        low, high = self.minimum.value, self.maximum.value
        await self.session.background.blocking(self.manager.adapt, low, high)
        self.notify(f"adaptive between {low} and {high} workers")
        return await self.refresh()

    @busy
    async def stop(self) -> list[str]:
        self.session.background.stop(f"cluster-{id(self)}")
        left = await self.session.background.blocking(self.manager.stop)
        self._show(ClusterStatus())
        self.notify("cluster stopped" + (f"; cancelled jobs {left}" if left else ""))
        return left

    @busy
    async def test(self) -> TestReport:
        """Submit one tiny job of the config and report whether its worker connects."""
        self.notify("testing: one job, one worker...")
        report = await self.session.background.blocking(self.manager.test)
        detail = f"\n{report.log_tail}" if report.log_tail else ""
        level = "success" if report.ok else "error"
        self.notify(f"test {'passed' if report.ok else 'failed'}: {report.message}{detail}", level)
        return report

    async def refresh(self) -> ClusterStatus:
        """Read the live status once (runs every second while a cluster runs)."""
        status = await self.session.background.blocking(self.manager.status)
        self._show(status)
        return status

    def _show(self, status: ClusterStatus) -> None:
        if status.problems and status.problems != self.last_status.problems:
            self.notify("; ".join(status.problems), "error")
        if status.dashboard_port != self.last_status.dashboard_port:
            self.dashboard.value = dashboard_html(status.dashboard_port)
        self.last_status = status
        self.summary.value = summary_html(status)
