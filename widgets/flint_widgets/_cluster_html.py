"""What the cluster panel shows of a status: one summary line, the dashboard plots (pure)."""

from __future__ import annotations

import html

from flint.prefect.workbench import ClusterStatus
from flint.prefect.workbench.cluster import DASHBOARD_PLOTS, proxy_url


def _gib(value: int) -> str:
    return f"{value / 2**30:.1f} GiB"


def summary_html(status: ClusterStatus) -> str:
    """One line: class, address, mode, workers, memory, batch jobs, dashboard link (pure)."""
    if not status.running:
        return "No cluster running."
    jobs = (
        ""
        if status.jobs is None
        else f" | jobs: {status.jobs_pending} pending, {status.jobs_running} running"
    )
    link = (
        f' | <a href="{status.dashboard_url}" target="_blank">full dashboard</a>'
        if status.dashboard_url
        else ""
    )
    return (
        f"<b>{html.escape(status.cluster_class)}</b> {html.escape(status.scheduler_address or '')}"
        f' | <span class="flint-mode">{html.escape(status.describe_mode())}</span>'
        f" | workers: {status.workers} | threads: {status.threads} | memory: "
        f"{_gib(status.memory_used_bytes)} / {_gib(status.memory_bytes)}{jobs}{link}"
    )


def dashboard_html(port: int | None) -> str:
    if port is None:
        return ""
    frames = "".join(
        f'<iframe class="flint-dashboard" src="{proxy_url(port, plot)}" title="{plot}" '
        f'style="width:100%;height:300px;border:0"></iframe>'
        for plot in DASHBOARD_PLOTS
    )
    return f'<div style="display:flex;flex-direction:column">{frames}</div>'
