"""A form generated from a pydantic model's JSON schema: one widget per field, errors inline."""

from __future__ import annotations

import contextlib
import html
import json
from typing import Any

import ipywidgets as w
import traitlets
from pydantic import BaseModel, ValidationError

_STYLE = {"description_width": "12em"}
_LAYOUT = w.Layout(width="32em")


def _kind(schema: dict[str, Any]) -> tuple[str, bool]:
    """The field's JSON type and whether ``null`` is allowed."""
    options = schema.get("anyOf", [schema])
    nullable = any(option.get("type") == "null" for option in options)
    kinds = [option for option in options if option.get("type") != "null"]
    first = kinds[0] if len(kinds) == 1 else {}
    if "enum" in first or "const" in first:
        return "enum", nullable
    return first.get("type", "json"), nullable


def _enum_values(schema: dict[str, Any]) -> list[Any]:
    for option in schema.get("anyOf", [schema]):
        if "enum" in option:
            return list(option["enum"])
        if "const" in option:
            return [option["const"]]
    return []


class OptionsForm(w.VBox):
    """Edit an instance of ``model``; ``errors`` maps field names to messages."""

    errors = traitlets.Dict()

    def __init__(self, model: type[BaseModel], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = model
        schema = model.model_json_schema()
        required = set(schema.get("required", []))
        self.required = required
        self.fields: dict[str, tuple[w.Widget, str, bool]] = {}
        self.messages: dict[str, w.HTML] = {}
        rows = []
        for name, prop in schema.get("properties", {}).items():
            kind, nullable = _kind(prop)
            widget = self._widget(name, prop, kind, nullable)
            widget.description = prop.get("title", name) + (" *" if name in required else "")
            widget.tooltip = prop.get("description", "")
            self.fields[name] = (widget, kind, nullable)
            self.messages[name] = w.HTML()
            help_text = html.escape(prop.get("description", ""))
            rows.append(
                w.HBox(
                    [
                        widget,
                        w.HTML(f'<small style="color:#666">{help_text}</small>'),
                        self.messages[name],
                    ]
                )
            )
            widget.observe(lambda _: self.validate(), "value")
        self.children = rows
        self.validate()

    def _widget(self, name: str, prop: dict[str, Any], kind: str, nullable: bool) -> w.Widget:
        default = prop.get("default")
        common = {"style": _STYLE, "layout": _LAYOUT}
        if kind == "boolean":
            return w.Checkbox(value=bool(default), indent=False, **common)
        if kind == "enum":
            values = _enum_values(prop) + ([None] if nullable else [])
            return w.Dropdown(options=[(str(v), v) for v in values], value=default, **common)
        if kind in ("integer", "number") and not nullable and default is not None:
            cls = w.IntText if kind == "integer" else w.FloatText
            return cls(value=default, **common)
        if kind == "string" and default is not None:
            return w.Text(value=str(default), **common)
        text = "" if default is None else json.dumps(default)
        return w.Text(value=text, placeholder="empty: none" if nullable else "JSON", **common)

    def raw(self) -> dict[str, Any]:
        """The form's values, before validation (text fields parsed as JSON where needed)."""
        values: dict[str, Any] = {}
        for name, (widget, kind, nullable) in self.fields.items():
            value = widget.value
            if name in self.required and isinstance(value, str) and value.strip() == "":
                continue  # left empty: validation reports the field as required
            if (isinstance(widget, w.Text) and kind != "string") or (kind == "string" and nullable):
                if value.strip() == "":
                    if nullable:
                        values[name] = None
                    continue
                if kind != "string":
                    with contextlib.suppress(json.JSONDecodeError):  # else validation says why
                        value = json.loads(value)
            values[name] = value
        return values

    def validate(self) -> BaseModel | None:
        """The validated options, or None with every problem shown next to its field."""
        errors: dict[str, str] = {}
        result = None
        try:
            result = self.model.model_validate(self.raw())
        except ValidationError as error:
            for item in error.errors():
                key = str(item["loc"][0]) if item["loc"] else "<form>"
                errors.setdefault(key, item["msg"])
        for name, message in self.messages.items():
            text = errors.get(name, "")
            message.value = (
                f'<span style="color:#c62828">{html.escape(text)}</span>' if text else ""
            )
        self.errors = errors
        return result
