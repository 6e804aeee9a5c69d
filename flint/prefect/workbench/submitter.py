"""The flow submitter: owns the serve runner of the offered flows and submits runs to it (no UI).

A serve runner already offering the flows (started elsewhere) is used as it is; otherwise
the submitter starts its own, whose flow runs send their tasks to the running cluster
(``FLINT_DASK_ADDRESS``). When the cluster changes, its own runner is restarted onto the new
one before the next submission.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from flint.prefect.choices import FLINT_FLOWS
from flint.prefect.submit import (
    FlowChoice,
    ServeRunner,
    ServeSpec,
    Submission,
    SubmitError,
    connect,
    submit,
)

logger = logging.getLogger(__name__)


class FlowSubmitter:
    """Submit runs of ``choices`` (default: flint's simulate, bandpass and continuum)."""

    def __init__(
        self,
        choices: Sequence[FlowChoice] = FLINT_FLOWS,
        deployment: str = "workbench",
        log_dir: str = ".flint/serve",
    ) -> None:
        self.choices = list(choices)
        self.spec = (
            ServeSpec(entrypoints=tuple(c.entrypoint for c in self.choices), deployment=deployment)
            if self.choices
            else None
        )
        self.log_dir = log_dir
        self.runner: ServeRunner | None = None
        """The serve runner started here (None when one started elsewhere is used)."""
        self.runner_address: str | None = None
        """The cluster the flows of :attr:`runner` send their tasks to."""
        self.submissions: list[Submission] = []

    def _spec(self) -> ServeSpec:
        if self.spec is None:
            raise SubmitError("no flows offered: pass FlowChoice entries")
        return self.spec

    def model(self, index: int) -> type[BaseModel]:
        """The options model of choice ``index`` (its form is generated from it)."""
        return self.choices[index].model()

    async def connect(self, address: str | None = None) -> tuple[tuple[str, ...], bool]:
        """Use a live serve runner offering these flows, or start one; returns the
        deployment names and whether the runner was started here."""
        try:
            return await connect(self._spec()), False
        except SubmitError:
            logger.info("No serve runner offers these flows: starting one")
        return await self.start_runner(address), True

    async def start_runner(self, address: str | None = None) -> tuple[str, ...]:
        """Start a serve runner whose flow runs send their tasks to ``address`` (if any)."""
        from flint.prefect.cluster import CLUSTER_ADDRESS_ENV

        spec = self._spec()
        env = {CLUSTER_ADDRESS_ENV: address} if address else {}
        self.runner = await asyncio.to_thread(ServeRunner.start, spec, self.log_dir, env)
        self.runner_address = address
        return spec.deployment_names()

    def stop_runner(self) -> bool:
        """Stop the serve runner started here (not one only connected to)."""
        runner, self.runner = self.runner, None
        if runner is None:
            return False
        runner.stop()
        return True

    async def submit(
        self, index: int, options: BaseModel, address: str | None = None
    ) -> Submission:
        """Submit choice ``index`` with validated ``options``; tasks go to ``address``."""
        spec = self._spec()
        choice = self.choices[index]
        if self.runner is not None and address != self.runner_address:
            logger.info("Restarting the serve runner for cluster %s", address)
            await asyncio.to_thread(self.runner.stop)
            await self.start_runner(address)
        deployment = spec.deployment_names()[spec.entrypoints.index(choice.entrypoint)]
        submission = await submit(deployment, choice.parameters(options, address))
        self.submissions.append(submission)
        return submission

    def describe_runner(self) -> str:
        """Where the submitted flows' tasks run."""
        if self.runner is None:
            return "a serve runner started elsewhere"
        where = self.runner_address or "the flow's own process (no cluster)"
        return f"serve runner {self.runner.process.pid}, tasks on {where}"

    def parameters(self, index: int, options: BaseModel, address: str | None = None) -> Any:
        return self.choices[index].parameters(options, address)
