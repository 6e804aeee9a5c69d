"""Self-calibration strategies: versioned YAML with defaults and per-round overrides."""

from flint.strategy.load import (
    check_strategy,
    default_strategy_text,
    load_strategy,
    options_for_round,
    strategy_json_schema,
    write_default_strategy,
)
from flint.strategy.model import STAGES, RoundOverrides, StageOptions, Strategy
from flint.strategy.stages import GainSolveOptions

__all__ = [
    "STAGES",
    "GainSolveOptions",
    "RoundOverrides",
    "StageOptions",
    "Strategy",
    "check_strategy",
    "default_strategy_text",
    "load_strategy",
    "options_for_round",
    "strategy_json_schema",
    "write_default_strategy",
]
