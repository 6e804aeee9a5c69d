"""Flow panel: pick a flow, fill the form generated from its options model, submit (a view of
the session's flow submitter; tasks go to the session's running cluster)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import ipywidgets as w

from flint.prefect.choices import FLINT_FLOWS
from flint.prefect.submit import FlowChoice, Submission
from flint.prefect.workbench import Session
from flint_widgets._form import OptionsForm
from flint_widgets._panel import Panel, busy


class FlowPanel(Panel):
    """Submit flows to a serve runner (started here or already running), one form per flow.

    ``choices``: the flows offered when the panel makes its own session (default: flint's
    simulate, bandpass and continuum).
    """

    def __init__(
        self,
        choices: Sequence[FlowChoice] = FLINT_FLOWS,
        deployment: str = "workbench",
        log_dir: str = ".flint/serve",
        session: Session | None = None,
        **kwargs: Any,
    ) -> None:
        session = session or Session(choices, deployment=deployment, log_dir=log_dir)
        super().__init__(session, **kwargs)
        self.submitter = self.session.submitter
        self.form: OptionsForm | None = None
        self.picker = w.Dropdown(
            options=[(c.label or c.entrypoint, i) for i, c in enumerate(self.choices)],
            description="Flow",
        )
        self.runner_button = w.Button(
            description="Start runner", icon="server",
            tooltip="start (or connect to) the serve runner of these flows",
        )  # fmt: skip
        self.submit_button = w.Button(
            description="Submit", button_style="primary", icon="paper-plane"
        )
        self.form_box = w.VBox()
        self.history = w.HTML()
        self.picker.observe(lambda _: self.pick(), "value")
        self.runner_button.on_click(lambda _: self.start_runner())
        self.submit_button.on_click(lambda _: self.submit())
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

    # the submitter's state, read through the panel by notebooks and tests
    choices = property(lambda self: self.session.submitter.choices)
    spec = property(lambda self: self.session.submitter.spec)
    runner = property(lambda self: self.session.submitter.runner)
    runner_address = property(lambda self: self.session.submitter.runner_address)
    submissions = property(lambda self: self.session.submitter.submissions)

    def _buttons(self) -> list[w.Button]:
        return [self.runner_button, self.submit_button]

    @property
    def choice(self) -> FlowChoice:
        return self.choices[self.picker.value]

    def pick(self) -> None:
        """Show the form of the picked flow."""
        try:
            self.form = OptionsForm(self.submitter.model(self.picker.value))
            self.form_box.children = [self.form]
        except Exception as error:
            self.form_box.children = []
            self.notify(str(error), "error")

    @busy
    async def start_runner(self) -> tuple[str, ...]:
        """Connect to a serve runner offering these flows, or start one."""
        self.notify("connecting to a serve runner (or starting one)...")
        names, started = await self.submitter.connect(self.session.cluster_address)
        verb = "started" if started else "connected"
        self.notify(f"{verb}: {', '.join(names)} ({self.submitter.describe_runner()})", "success")
        return names

    def stop_runner(self) -> None:
        """Stop the serve runner this panel started (not one it only connected to)."""
        if self.submitter.stop_runner():
            self.notify("serve runner stopped")

    @busy
    async def submit(self) -> Submission:
        """Submit the picked flow with the form's options (invalid forms are refused)."""
        options = self.form.validate() if self.form else None
        if options is None:
            raise ValueError(f"fix the form first: {self.form.errors if self.form else 'no form'}")
        sub = await self.submitter.submit(self.picker.value, options, self.session.cluster_address)
        self.notify(f"submitted {sub.name}", "success")
        self.history.value = "<br>".join(
            f'{html.escape(s.deployment)}: <a href="{s.url}" target="_blank">{html.escape(s.name)}</a>'
            for s in reversed(self.submissions)
        )
        return sub
