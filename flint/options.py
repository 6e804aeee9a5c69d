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
