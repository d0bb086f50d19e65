"""The base of every settings model and the one place pydantic errors become one line."""

from __future__ import annotations

import types
import typing
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict

from jinstruct.records import InputError


class ParamsModel(BaseModel):
    """A params section or sub-section: frozen, and a key it does not define is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def as_params(self) -> dict:
        """The section as the plain nested dict of params.yaml (for code that reads dicts)."""
        return self.model_dump(mode="python", by_alias=True)


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _model_at(model: type[BaseModel], location: tuple) -> type[BaseModel] | None:
    """The sub-model at ``location`` (the parent of an unknown key), when it is one.

    Walks model fields, ``X | None`` and the values of ``dict[str, X]`` (a source
    name, a task name), so the allowed keys of nested sections can be named too.
    """
    current: Any = model
    for part in location:
        if _is_model(current) and "root" in current.model_fields and isinstance(part, str) \
                and current.__pydantic_root_model__:
            current = current.model_fields["root"].annotation
        if _is_model(current):
            if part not in current.model_fields:
                return None
            current = current.model_fields[part].annotation
        elif typing.get_origin(current) is dict:
            current = typing.get_args(current)[1]
        else:
            return None
        options = [arg for arg in typing.get_args(current) if arg is not type(None)]
        if typing.get_origin(current) in (typing.Union, types.UnionType) and len(options) == 1:
            current = options[0]
    return current if _is_model(current) else None


def _dotted(section: str, location: tuple) -> str:
    return ".".join([section, *(str(part) for part in location)])


def _one_line(section: str, model: type[BaseModel], error: dict) -> str:
    location = tuple(error["loc"])
    if error["type"] == "extra_forbidden":
        parent = _model_at(model, location[:-1])
        allowed = f" (allowed: {', '.join(parent.model_fields)})" if parent is not None else ""
        return f"{_dotted(section, location)}: unknown key{allowed}"
    message = error["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    return f"{_dotted(section, location)}: {message[:1].lower()}{message[1:]}, got {error['input']!r}"


def validate_section(section: str, model: type[ParamsModel], values: object) -> ParamsModel:
    """``values`` (a params section) as ``model``; the first mistake as one InputError line."""
    try:
        return model.model_validate(values if values is not None else {})
    except pydantic.ValidationError as exc:
        errors = exc.errors(include_url=False)
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        raise InputError(_one_line(section, model, errors[0]) + more) from None
