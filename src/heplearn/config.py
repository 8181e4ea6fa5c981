"""Reading validated specs: YAML through ``safe_load``, pydantic errors as user errors."""

import difflib
import re
from collections.abc import Mapping, Sequence
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
        raise ConfigError(yaml_error_message(path, error)) from None


def yaml_error_message(path: Path | str, error: yaml.YAMLError) -> str:
    """One line naming the file, line and column of a YAML syntax error, and the problem.

    Parameters
    ----------
    path : Path or str
        The file that was read.
    error : yaml.YAMLError
        The error of ``yaml.safe_load``.

    Returns
    -------
    str
        E.g. ``config.yaml, line 5, column 10: not valid YAML: mapping values are not
        allowed here``.
    """
    mark = getattr(error, "problem_mark", None)
    where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    detail = f"{problem} ({context})" if context else problem
    return f"{path}{where}: not valid YAML: {' '.join(str(detail).split())}"


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


_UNION_MEMBER = re.compile(r"^(int|float|str|bool|none|literal\[.*\]|list\[.*\]|dict\[.*\])$")
_EXPECTED = {
    "int_parsing": "an integer",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_parsing": "a number",
    "float_type": "a number",
    "string_type": "text",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
}


def merge_union_errors(items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Pydantic's errors with the failed members of one union said as one problem.

    For ``devices: int | Literal["auto"]`` and the value ``abc`` pydantic reports
    ``devices.int: Input should be a valid integer ...; devices.literal['auto']: Input
    should be 'auto'``; this gives one item at ``devices``: ``expected an integer or
    'auto', got 'abc'``. Other errors pass unchanged.

    Parameters
    ----------
    items : sequence of mapping
        ``ValidationError.errors()``.

    Returns
    -------
    list of dict
        Items with ``loc``, ``msg`` and ``type``.
    """
    groups: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for item in items:
        location = tuple(item["loc"])
        member = location and isinstance(location[-1], str) and _UNION_MEMBER.match(location[-1])
        groups.setdefault(location[:-1] if member else (*location, None), []).append(item)
    merged = []
    for key, group in groups.items():
        if key[-1:] == (None,) or len(group) < 2:
            merged += [dict(item) for item in group]
            continue
        expected = []
        for item in group:
            context = item.get("ctx") or {}
            wanted = _EXPECTED.get(item["type"]) or context.get("expected") or item["msg"]
            expected += [] if wanted in expected else [str(wanted)]
        message = f"expected {' or '.join(expected)}, got {group[0].get('input')!r}"
        merged.append({"loc": key, "msg": message, "type": "union"})
    return merged


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
    for item in merge_union_errors(error.errors()):
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
