"""Read, check and query strategy files; the packaged default strategy."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from flint.atomic import atomic_path
from flint.errors import ConfigError, InputError
from flint.options import BaseOptions, load_yaml_mapping, validated
from flint.strategy.model import STAGES, Stage, Strategy, format_errors

STRATEGY_KEYS = "a strategy is a mapping with keys version, selfcal_rounds, defaults, rounds"


def default_strategy_text() -> str:
    """The packaged default strategy, with its comments."""
    return resources.files("flint").joinpath("data/strategies/default.yaml").read_text()


def check_strategy(data: Any, source: str | None = None) -> Strategy:
    """Validate parsed YAML ``data``; raise one ConfigError listing every problem with its key path."""
    if not isinstance(data, dict):
        raise ConfigError(f"holds a {type(data).__name__}, not a mapping; {STRATEGY_KEYS}", source)
    if "version" in data and data["version"] != 1:
        raise ConfigError(
            f"version: this flint reads strategy version 1, not {data['version']!r}", source
        )
    try:
        strategy = Strategy.model_validate(data)
    except ValidationError as error:
        raise ConfigError(format_errors(error), source) from None
    _check_rounds(strategy, source)
    return strategy


def _check_rounds(strategy: Strategy, source: str | None) -> None:
    """ConfigError for a round whose stages do not fit together (a wide outside model
    on a round its pixels cannot model)."""
    from flint.peel.wide import check_wide_model

    for round_number in range(strategy.selfcal_rounds + 1):
        peel = options_for_round(strategy, "peel", round_number)
        if peel.subtract_outside and peel.outside_model == "wide":
            try:
                check_wide_model(options_for_round(strategy, "imaging", round_number), peel)
            except ValueError as error:
                raise ConfigError(f"rounds.{round_number}.peel: {error}", source) from None


def load_strategy(path: str | os.PathLike[str] | None = None) -> Strategy:
    """Load and validate a strategy YAML file (the packaged default when ``path`` is None)."""
    if path is None:
        return check_strategy(yaml.safe_load(default_strategy_text()), "default strategy")
    path = Path(path)
    if not path.is_file():
        raise InputError("no such strategy file", path)
    return check_strategy(load_yaml_mapping(path.read_text(), str(path), STRATEGY_KEYS), str(path))


def write_default_strategy(path: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Write the commented default strategy to ``path`` (atomically); return the path."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise InputError("already exists; choose another name or overwrite it", path)
    with atomic_path(path, overwrite=overwrite) as temporary:
        temporary.write_text(default_strategy_text())
    return path


def options_for_round(strategy: Strategy, stage: Stage, round_number: int) -> BaseOptions:
    """The settings of ``stage`` in round ``round_number``: defaults, then that round's changes."""
    if stage not in STAGES:
        raise InputError(f"unknown stage {stage!r}; choose one of {', '.join(STAGES)}")
    if not 0 <= round_number <= strategy.selfcal_rounds:
        raise InputError(f"round {round_number} is outside 0..{strategy.selfcal_rounds}")
    if stage == "gain_solve" and round_number == 0:
        raise InputError("round 0 only images: it has no gain solving")
    defaults = getattr(strategy.defaults, stage)
    overrides = strategy.rounds.get(round_number)
    changes = getattr(overrides, stage) if overrides is not None else {}
    return validated(
        STAGES[stage], {**defaults.model_dump(), **changes}, f"round {round_number} {stage}"
    )


def strategy_json_schema() -> dict[str, Any]:
    """JSON schema of strategy files (for docs and option forms)."""
    return Strategy.model_json_schema()
