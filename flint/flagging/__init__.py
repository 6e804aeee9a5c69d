"""Flagging: aoflagger with the ASKAP strategy, simple rules and flag statistics."""

from flint.flagging.aoflagger import build_aoflagger_command, default_strategy, run_aoflagger
from flint.flagging.basic import BasicFlagCounts, flag_basic, set_flags
from flint.flagging.statistics import FlagStatistics, flag_statistics

__all__ = [
    "BasicFlagCounts",
    "FlagStatistics",
    "build_aoflagger_command",
    "default_strategy",
    "flag_basic",
    "flag_statistics",
    "run_aoflagger",
    "set_flags",
]
