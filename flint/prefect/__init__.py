"""Orchestration of flint with Prefect on Dask: clusters, the Prefect server, flows.

Thin by design: tasks wrap :mod:`flint` functions; nothing here does science.
"""
