"""The one style for options: frozen pydantic models that reject unknown keys."""

from __future__ import annotations

from typing import Any, Self, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from flint.errors import ConfigError

ModelT = TypeVar("ModelT", bound=BaseModel)


class BaseOptions(BaseModel):
    """Immutable options; unknown keys are errors; ``with_options`` copies with changes."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", use_attribute_docstrings=True, validate_default=True
    )

    def with_options(self, **changes: Any) -> Self:
        """Return a validated copy with ``changes`` applied."""
        return validated(type(self), {**self.model_dump(), **changes})


def validated(model: type[ModelT], values: dict[str, Any], source: str | None = None) -> ModelT:
    """Build ``model`` from ``values``, raising one :class:`ConfigError` listing every problem."""
    try:
        return model.model_validate(values)
    except ValidationError as error:
        problems = [
            f"{'.'.join(str(part) for part in item['loc']) or '<root>'}: {item['msg']}"
            for item in error.errors()
        ]
        raise ConfigError(problems, source) from None


def load_yaml_mapping(text: str, source: str, what: str) -> dict[str, Any]:
    """Parse YAML ``text`` (safely) that must hold a mapping; ConfigError in one line otherwise.

    ``what`` says what the mapping is (e.g. "a strategy is a mapping with keys ...").
    """
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"not valid YAML: {where}{problem}", source) from None
    if data is None:
        raise ConfigError(f"the file is empty; {what}", source)
    if not isinstance(data, dict):
        raise ConfigError(f"holds a {type(data).__name__}, not a mapping; {what}", source)
    return data
