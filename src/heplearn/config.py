"""Reading validated specs: YAML through ``safe_load``, pydantic errors as user errors."""

import difflib
from pathlib import Path
from typing import Any, TypeVar, get_args

import yaml
from pydantic import BaseModel, ValidationError

from heplearn.errors import ConfigError

Spec = TypeVar("Spec", bound=BaseModel)


def load_yaml(path: Path | str) -> Any:
    """Read a YAML file with ``yaml.safe_load``; a missing or malformed file is a ConfigError."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from None


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """Every pydantic model an annotation can hold (through unions, lists, dicts, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for argument in get_args(annotation) for model in _models_in(argument)]


def _allowed_keys(model: type[BaseModel], location: tuple[Any, ...]) -> list[str]:
    """The field names allowed at ``location`` (best effort, for spelling suggestions)."""
    current = [model]
    for part in location:
        fields = [m.model_fields[str(part)] for m in current if str(part) in m.model_fields]
        if fields:
            current = [m for field in fields for m in _models_in(field.annotation)]
        # otherwise a dict key, list index or union tag: the models stay the same
    return sorted({name for m in current for name in m.model_fields})


def validation_error(
    error: ValidationError, model: type[BaseModel] | None = None, prefix: str = ""
) -> ConfigError:
    """Rephrase a pydantic error: every problem with its dotted key, unknown keys with hints.

    Parameters
    ----------
    error : pydantic.ValidationError
        The error to rephrase.
    model : type[BaseModel], optional
        The model that was validated, to suggest the right spelling of unknown keys.
    prefix : str, optional
        Prepended to every key (``"data."`` when the spec sits under ``data``).
    """
    problems = []
    for item in error.errors():
        location = tuple(item["loc"])
        key = prefix + ".".join(str(part) for part in location)
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden" and model is not None:
            allowed = _allowed_keys(model, location[:-1])
            close = difflib.get_close_matches(str(location[-1]), allowed, n=1)
            if close:
                message = f"unknown key (did you mean '{close[0]}'?)"
            elif allowed:
                message = f"unknown key (allowed: {', '.join(allowed)})"
        problems.append(f"{key}: {message}" if key else message)
    return ConfigError("; ".join(problems))


def parse_spec(model: type[Spec], data: Any, prefix: str = "") -> Spec:
    """Validate ``data`` as ``model``, raising a ConfigError that names the bad keys."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise validation_error(error, model, prefix) from None
