"""The self-calibration strategy: versioned defaults plus per-round overrides."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    model_validator,
)
from pydantic.json_schema import WithJsonSchema

from flint.imaging.options import WSCleanOptions
from flint.masking.options import MaskingOptions
from flint.options import BaseOptions
from flint.peel.options import PeelOptions
from flint.sourcefind.options import SourceFindOptions
from flint.strategy.stages import GainSolveOptions

STRATEGY_VERSION = 1
STAGES: dict[str, type[BaseOptions]] = {
    "imaging": WSCleanOptions,
    "gain_solve": GainSolveOptions,
    "masking": MaskingOptions,
    "source_finding": SourceFindOptions,
    "peel": PeelOptions,
}
Stage = Literal["imaging", "gain_solve", "masking", "source_finding", "peel"]


class StrategyProblems(ValueError):
    """Several problems found by one validator, each already prefixed with its key path."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def format_errors(error: ValidationError, prefix: str = "") -> list[str]:
    """One ``key.path: message`` line per pydantic error (nested problem lists expanded)."""
    problems = []
    for item in error.errors():
        nested = (item.get("ctx") or {}).get("error")
        if isinstance(nested, StrategyProblems):
            problems += nested.problems
            continue
        path = ".".join([*([prefix] if prefix else []), *(str(part) for part in item["loc"])])
        problems.append(f"{path or '<root>'}: {item['msg']}")
    return problems


class StageOptions(BaseOptions):
    """Settings of every stage; the strategy's defaults."""

    imaging: WSCleanOptions = WSCleanOptions()
    """wsclean settings."""
    gain_solve: GainSolveOptions = GainSolveOptions()
    """Gain solving (rounds 1 and later)."""
    masking: MaskingOptions = MaskingOptions()
    """Clean masks."""
    source_finding: SourceFindOptions = SourceFindOptions()
    """Source finding."""
    peel: PeelOptions = PeelOptions()
    """Bright sources outside the image: found, then subtracted before imaging."""


def _override(model: type[BaseModel]) -> Any:
    """A partial mapping of ``model``'s fields, documented with ``model``'s (flat) schema."""
    schema = {**model.model_json_schema(), "title": f"{model.__name__} changes"}
    return Annotated[dict[str, Any], WithJsonSchema(schema)]


class RoundOverrides(BaseOptions):
    """Settings of one round that differ from the defaults (any subset of each stage's keys)."""

    imaging: _override(WSCleanOptions) = Field(default_factory=dict)
    """Changes to the wsclean settings."""
    gain_solve: _override(GainSolveOptions) = Field(default_factory=dict)
    """Changes to gain solving (not allowed in round 0, which only images)."""
    masking: _override(MaskingOptions) = Field(default_factory=dict)
    """Changes to clean masking."""
    source_finding: _override(SourceFindOptions) = Field(default_factory=dict)
    """Changes to source finding."""
    peel: _override(PeelOptions) = Field(default_factory=dict)
    """Changes to peeling."""


class Strategy(BaseOptions):
    """A self-calibration strategy: round 0 images; rounds 1..selfcal_rounds solve, apply, re-image."""

    version: Literal[1]
    """Strategy file format version."""
    selfcal_rounds: int = Field(3, ge=0)
    """Self-calibration rounds after the first image (round 0)."""
    defaults: StageOptions = StageOptions()
    """Settings every round starts from."""
    rounds: dict[int, RoundOverrides] = Field(default_factory=dict)
    """Per-round changes to the defaults, keyed by round number (0..selfcal_rounds)."""

    @model_validator(mode="wrap")
    @classmethod
    def _every_problem(cls, data: Any, handler: ModelWrapValidatorHandler[Strategy]) -> Strategy:
        """Report the rounds' problems together with every other one, not after them."""
        if not isinstance(data, dict):
            return handler(data)
        problems = _round_problems(data)
        try:
            strategy = handler(data)
        except ValidationError as error:
            rounds_checked = isinstance(data.get("rounds"), dict)
            raise StrategyProblems(
                [
                    problem
                    for problem in format_errors(error)
                    if not (rounds_checked and problem.startswith("rounds."))
                ]
                + problems
            ) from None
        if problems:
            raise StrategyProblems(problems)
        return strategy


def _stage_defaults(data: dict[str, Any], stage: str) -> BaseOptions | None:
    """The valid defaults of ``stage`` in raw strategy ``data``, or None if they are invalid."""
    defaults = data.get("defaults", {})
    section = defaults.get(stage, {}) if isinstance(defaults, dict) else None
    try:
        return STAGES[stage].model_validate(section)
    except ValidationError:
        return None


def _round_problems(data: dict[str, Any]) -> list[str]:
    """Problems of the raw ``rounds`` mapping, each with its key path."""
    rounds = data.get("rounds", {})
    if not isinstance(rounds, dict):
        return []  # the type error is reported by the normal validation
    last = data.get("selfcal_rounds", Strategy.model_fields["selfcal_rounds"].default)
    last = last if isinstance(last, int) and last >= 0 else None
    problems = []
    for key, overrides in rounds.items():
        where = f"rounds.{key}"
        try:
            number = int(key)
        except (TypeError, ValueError):
            problems.append(f"{where}: round numbers are integers 0..selfcal_rounds")
            continue
        if number < 0 or (last is not None and number > last):
            problems.append(f"{where}: no such round; rounds run from 0 to selfcal_rounds ({last})")
        if not isinstance(overrides, dict):
            problems.append(f"{where}: expected a mapping of stage names to changes")
            continue
        for stage in overrides:
            if stage not in STAGES:
                problems.append(f"{where}.{stage}: unknown stage; use {', '.join(STAGES)}")
        if number == 0 and overrides.get("gain_solve"):
            problems.append(
                f"{where}.gain_solve: round 0 only images; gain solving starts in round 1"
            )
        for stage, model in STAGES.items():
            changes = overrides.get(stage)
            if changes is None:
                continue
            if not isinstance(changes, dict):
                problems.append(f"{where}.{stage}: expected a mapping of option names to values")
                continue
            problems += _stage_problems(
                model, changes, _stage_defaults(data, stage), f"{where}.{stage}"
            )
    return problems


def _stage_problems(
    model: type[BaseOptions], changes: dict[str, Any], defaults: BaseOptions | None, where: str
) -> list[str]:
    """Problems of one round's ``changes`` to one stage: bad keys/values, then bad combinations."""
    problems = []
    try:  # the keys and values on their own (cross-field checks need the merged settings)
        model.model_validate(changes)
    except ValidationError as error:
        problems += [p for p in format_errors(error, where) if not p.startswith(f"{where}: ")]
    if problems or defaults is None:
        return problems
    try:
        model.model_validate({**defaults.model_dump(), **changes})
    except ValidationError as error:
        problems += format_errors(error, where)
    return problems
