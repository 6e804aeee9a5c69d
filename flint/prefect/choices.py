"""The flows the workbench offers by default: simulate, bandpass and continuum (data only)."""

from __future__ import annotations

from flint.prefect.submit import FlowChoice

SIMULATE = FlowChoice(entrypoint="flint.prefect.flows.simulate:simulate_flow", label="simulate")
BANDPASS = FlowChoice(entrypoint="flint.prefect.flows.bandpass:bandpass_flow", label="bandpass")
CONTINUUM = FlowChoice(entrypoint="flint.prefect.flows.continuum:continuum_flow", label="continuum")

FLINT_FLOWS: tuple[FlowChoice, ...] = (SIMULATE, BANDPASS, CONTINUUM)
"""In the order a new user runs them: simulate the demo, solve its bandpass, image it."""
