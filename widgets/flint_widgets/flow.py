"""Flow panel: pick a flow, fill the form generated from its options model, submit."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import ipywidgets as w

from flint.prefect.choices import FLINT_FLOWS
from flint.prefect.cluster import CLUSTER_ADDRESS_ENV
from flint.prefect.submit import FlowChoice, ServeRunner, ServeSpec, Submission, connect, submit
from flint.prefect.workbench._background import BACKGROUND
from flint_widgets._form import OptionsForm
from flint_widgets._panel import Panel, busy


class FlowPanel(Panel):
    """Submit flows to a serve runner (started here or already running), one form per flow.

    ``choices``: the flows offered (default: flint's simulate, bandpass and continuum).

    ``cluster_panel``: when given, its running cluster's address is passed to flows that
    declare a ``cluster_parameter``.
    """

    def __init__(
        self,
        choices: Sequence[FlowChoice] = FLINT_FLOWS,
        deployment: str = "workbench",
        log_dir: str = ".flint/serve",
        cluster_panel: Any = None,
        **kwargs: Any,
    ) -> None:
        self.choices = list(choices)
        self.spec = (
            ServeSpec(
                entrypoints=tuple(c.entrypoint for c in self.choices) or ("-",),
                deployment=deployment,
            )
            if self.choices
            else None
        )
        self.log_dir = log_dir
        self.cluster_panel = cluster_panel
        self.runner: ServeRunner | None = None
        self.runner_address: str | None = None
        """The cluster the flows of :attr:`runner` send their tasks to."""
        self.submissions: list[Submission] = []
        self.picker = w.Dropdown(
            options=[(c.label or c.entrypoint, i) for i, c in enumerate(self.choices)],
            description="Flow",
        )
        self.runner_button = w.Button(
            description="Start runner",
            icon="server",
            tooltip="start (or connect to) the serve runner of these flows",
        )
        self.submit_button = w.Button(
            description="Submit", button_style="primary", icon="paper-plane"
        )
        self.form_box = w.VBox()
        self.history = w.HTML()
        self.form: OptionsForm | None = None
        self.picker.observe(lambda _: self.pick(), "value")
        self.runner_button.on_click(lambda _: self.start_runner())
        self.submit_button.on_click(lambda _: self.submit())
        super().__init__(**kwargs)
        self.children = [
            w.HBox([self.picker, self.runner_button]),
            self.form_box,
            self.submit_button,
            self.status,
            self.history,
        ]
        if self.choices:
            self.pick()
        else:
            self.notify("no flows offered: pass FlowChoice entries", "warning")

    def _buttons(self) -> list[w.Button]:
        return [self.runner_button, self.submit_button]

    @property
    def choice(self) -> FlowChoice:
        return self.choices[self.picker.value]

    def pick(self) -> None:
        """Show the form of the picked flow."""
        try:
            self.form = OptionsForm(self.choice.model())
            self.form_box.children = [self.form]
        except Exception as error:
            self.form_box.children = []
            self.notify(str(error), "error")

    @busy
    async def start_runner(self) -> tuple[str, ...]:
        """Connect to a serve runner offering these flows, or start one."""
        try:
            names = await connect(self.spec)
            self.notify(f"connected: {', '.join(names)}", "success")
            return names
        except Exception:
            self.notify("starting a serve runner...")
        return await self._start_own_runner()

    def _cluster_address(self) -> str | None:
        """The scheduler address of the cluster panel's running cluster, if any."""
        if self.cluster_panel is None:
            return None
        return self.cluster_panel.last_status.scheduler_address

    async def _start_own_runner(self) -> tuple[str, ...]:
        """Start a serve runner whose flow runs send their tasks to the running cluster."""
        address = self._cluster_address()
        env = {CLUSTER_ADDRESS_ENV: address} if address else {}
        self.runner = await BACKGROUND.blocking(ServeRunner.start, self.spec, self.log_dir, env)
        self.runner_address = address
        names = self.spec.deployment_names()
        where = (
            f"tasks run on {address}" if address else "no cluster: tasks run in the flow's process"
        )
        self.notify(
            f"serve runner {self.runner.process.pid} offers {', '.join(names)} ({where})", "success"
        )
        return names

    def stop_runner(self) -> None:
        """Stop the serve runner this panel started (not one it only connected to)."""
        runner, self.runner = self.runner, None
        if runner is not None:
            runner.stop()
            self.notify("serve runner stopped")

    @busy
    async def submit(self) -> Submission:
        """Submit the picked flow with the form's options (invalid forms are refused)."""
        options = self.form.validate() if self.form else None
        if options is None:
            raise ValueError(f"fix the form first: {self.form.errors if self.form else 'no form'}")
        address = self._cluster_address()
        if self.runner is not None and address != self.runner_address:
            # the runner this panel started sends tasks to another (or no) cluster: restart it
            self.notify(f"restarting the serve runner for cluster {address}...")
            await BACKGROUND.blocking(self.runner.stop)
            await self._start_own_runner()
        index = self.spec.entrypoints.index(self.choice.entrypoint)
        deployment = self.spec.deployment_names()[index]
        sub = await submit(deployment, self.choice.parameters(options, address))
        self.submissions.append(sub)
        self.notify(f"submitted {sub.name}", "success")
        self.history.value = "<br>".join(
            f'{html.escape(s.deployment)}: <a href="{s.url}" target="_blank">{html.escape(s.name)}</a>'
            for s in reversed(self.submissions)
        )
        return sub
