"""Cluster panel: pick a config, start/scale/adapt/stop, live status, the dashboard inline."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w

from flint.prefect.workbench._background import BACKGROUND
from flint_widgets._cluster_manager import (
    DASHBOARD_PLOTS,
    ClusterManager,
    ClusterStatus,
    proxy_url,
)
from flint_widgets._panel import Panel, busy

STATUS_SECONDS = 1.0


def _gib(value: int) -> str:
    return f"{value / 2**30:.1f} GiB"


class ClusterPanel(Panel):
    """Start a Dask cluster from a named config or YAML path, and watch it work."""

    def __init__(
        self, config: str = "local", manager: ClusterManager | None = None, **kwargs: Any
    ) -> None:
        self.manager = manager or ClusterManager()
        self.last_status = ClusterStatus()
        self.config = w.Combobox(
            value=config,
            options=self._names(),
            description="Config",
            placeholder="name or path/to/cluster.yaml",
            ensure_option=False,
        )
        self.settings = w.Textarea(disabled=True, layout=w.Layout(width="100%", height="10em"))
        self.start_button = w.Button(description="Start", button_style="success", icon="play")
        self.stop_button = w.Button(description="Stop", button_style="danger", icon="stop")
        self.workers = w.BoundedIntText(value=2, min=0, max=10_000, description="Workers")
        self.scale_button = w.Button(description="Scale")
        self.minimum = w.BoundedIntText(value=0, min=0, max=10_000, description="Adapt min")
        self.maximum = w.BoundedIntText(value=4, min=1, max=10_000, description="max")
        self.adapt_button = w.Button(description="Adapt")
        self.summary = w.HTML("No cluster running.")
        self.dashboard = w.HTML()
        self.config.observe(lambda _: self.load(), "value")
        self.start_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        self.scale_button.on_click(lambda _: self.scale())
        self.adapt_button.on_click(lambda _: self.adapt())
        super().__init__(**kwargs)
        self.children = [
            w.HBox([self.config, self.start_button, self.stop_button]),
            self.settings,
            w.HBox([self.workers, self.scale_button]),
            w.HBox([self.minimum, self.maximum, self.adapt_button]),
            self.summary,
            self.status,
            self.dashboard,
        ]
        self.load()

    @staticmethod
    def _names() -> list[str]:
        from flint.prefect.cluster import builtin_cluster_names

        return builtin_cluster_names()

    def _buttons(self) -> list[w.Button]:
        return [self.start_button, self.stop_button, self.scale_button, self.adapt_button]

    def load(self) -> None:
        """Load the chosen config and show its resolved settings (errors in the panel)."""
        try:
            self.settings.value = self.manager.load(self.config.value)
            self.notify(f"config {self.config.value!r} loaded")
        except Exception as error:
            self.settings.value = ""
            self.notify(str(error), "error")

    @busy
    async def start(self) -> ClusterStatus:
        """Start the cluster in a worker thread, then follow its status."""
        self.notify("starting cluster...")
        status = await BACKGROUND.blocking(self.manager.start)
        self._show(status)
        BACKGROUND.every(f"cluster-{id(self)}", STATUS_SECONDS, self.refresh)
        self.notify(f"{status.cluster_class} started at {status.scheduler_address}", "success")
        return status

    @busy
    async def scale(self) -> None:
        await BACKGROUND.blocking(self.manager.scale, self.workers.value)
        self.notify(f"scaling to {self.workers.value} workers")

    @busy
    async def adapt(self) -> None:
        await BACKGROUND.blocking(self.manager.adapt, self.minimum.value, self.maximum.value)
        self.notify(f"adapting between {self.minimum.value} and {self.maximum.value} workers")

    @busy
    async def stop(self) -> None:
        BACKGROUND.stop(f"cluster-{id(self)}")
        await BACKGROUND.blocking(self.manager.stop)
        self._show(ClusterStatus())
        self.notify("cluster stopped")

    async def refresh(self) -> ClusterStatus:
        """Read the live status once (runs every second while a cluster runs)."""
        status = await BACKGROUND.blocking(self.manager.status)
        self._show(status)
        return status

    def _show(self, status: ClusterStatus) -> None:
        if status.problems and status.problems != self.last_status.problems:
            self.notify("; ".join(status.problems), "error")
        if status.dashboard_port != self.last_status.dashboard_port:
            self.dashboard.value = self._dashboard_html(status.dashboard_port)
        self.last_status = status
        if not status.running:
            self.summary.value = "No cluster running."
            return
        jobs = (
            ""
            if status.jobs_pending is None
            else (f" | jobs: {status.jobs_pending} pending, {status.jobs_running} running")
        )
        link = (
            f' | <a href="{status.dashboard_url}" target="_blank">full dashboard</a>'
            if status.dashboard_url
            else ""
        )
        self.summary.value = (
            f"<b>{html.escape(status.cluster_class)}</b> {html.escape(status.scheduler_address or '')}"
            f" | workers: {status.workers} | threads: {status.threads} | memory: "
            f"{_gib(status.memory_used_bytes)} / {_gib(status.memory_bytes)}{jobs}{link}"
        )

    @staticmethod
    def _dashboard_html(port: int | None) -> str:
        if port is None:
            return ""
        frames = "".join(
            f'<iframe class="flint-dashboard" src="{proxy_url(port, plot)}" title="{plot}" '
            f'style="width:100%;height:300px;border:0"></iframe>'
            for plot in DASHBOARD_PLOTS
        )
        return f'<div style="display:flex;flex-direction:column">{frames}</div>'
