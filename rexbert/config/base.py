"""Strict config models and a YAML loader whose errors name the file, the key and the fix.

Every stage's config is a `ConfigModel`: unknown keys are refused (a typo must not silently fall
back to a default), types are checked, and ranges are declared with `Field(ge=…, le=…)`. A bad
file becomes one `UserError` line such as

    recipe.yaml: key 'train.lr': Input should be greater than 0 (got -1)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from rexbert.errors import UserError

ModelT = TypeVar("ModelT", bound="ConfigModel")


class ConfigModel(BaseModel):
    """Base of every rexbert config: strict keys, validated assignment, frozen-by-convention."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())

    def to_yaml(self) -> str:
        """The config as YAML, in the form `load_config` reads back."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def _accepted_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names accepted at `loc` (the parent of an unknown key), for the error message."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return []
        annotation = fields[part].annotation
        current = _first_model(annotation)
    fields = getattr(current, "model_fields", None)
    return sorted(fields) if fields else []


def _first_model(annotation: Any) -> Any:
    """The BaseModel class inside an annotation such as `X`, `X | None` or `list[X]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _first_model(arg)
        if found is not None:
            return found
    return None


def format_validation_error(source: str, model: type[BaseModel], err: ValidationError) -> str:
    """Turn pydantic's multi-line report into one line per problem (the first one leads)."""
    lines = []
    for problem in err.errors():
        loc = tuple(problem["loc"])
        key = ".".join(str(p) for p in loc) or "<top level>"
        if problem["type"] == "extra_forbidden":
            accepted = _accepted_keys(model, loc[:-1])
            hint = f"; accepted keys: {', '.join(accepted)}" if accepted else ""
            lines.append(f"{source}: unknown key '{key}'{hint}")
        elif problem["type"] == "missing":
            lines.append(f"{source}: key '{key}' is required but missing")
        else:
            got = problem.get("input")
            got_text = "" if isinstance(got, dict) else f" (got {got!r})"
            lines.append(f"{source}: key '{key}': {problem['msg']}{got_text}")
    first, rest = lines[0], lines[1:]
    return first + (f" [+{len(rest)} more: {'; '.join(rest)}]" if rest else "")


def parse_config(model: type[ModelT], data: dict[str, Any] | None, source: str = "<config>") -> ModelT:
    """Validate a plain dict into `model`, raising `UserError` with a one-line message."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UserError(f"{source}: expected a mapping of keys at the top level, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise UserError(format_validation_error(source, model, err)) from err


def packaged_config(relative: str) -> Path:
    """Path of a config shipped inside the package (`rexbert/configs/…`)."""
    from importlib import resources

    path = Path(str(resources.files("rexbert") / "configs" / relative))
    if not path.is_file():
        raise UserError(f"packaged config {relative} is missing from this install; reinstall rexbert")
    return path


def resolve_config_path(value: str | Path, key: str = "--config") -> Path:
    """A config file: an existing path, or one shipped with rexbert.

    `configs/pretrain/micro.yaml` (or `pretrain/micro.yaml`) names the packaged file when no
    such file exists here, so the documented commands work from any folder and from a
    non-editable install.
    """
    if Path(value).is_file():
        return Path(value)
    from importlib import resources

    packaged = Path(str(resources.files("rexbert") / "configs" / str(value).removeprefix("configs/")))
    if packaged.is_file():
        return packaged
    raise UserError(f"{key} {value}: config file not found (neither here nor among the packaged "
                    "configs/); pass an existing YAML file")


def read_yaml(path: str | Path) -> dict[str, Any]:
    """The mapping at the top of a YAML file (a path, or a packaged configs/… name); a missing
    file or bad syntax is a one-line error."""
    path = resolve_config_path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        where = ""
        mark = getattr(err, "problem_mark", None)
        if mark is not None:
            where = f":{mark.line + 1}"
        reason = str(getattr(err, "problem", None) or err).splitlines()[0]
        raise UserError(f"{path}{where}: not valid YAML ({reason}); fix the syntax") from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of keys at the top level, got {type(data).__name__}")
    return data


def load_config(model: type[ModelT], path: str | Path) -> ModelT:
    """Read a YAML file into a validated config of type `model`."""
    return parse_config(model, read_yaml(path), source=str(path))
