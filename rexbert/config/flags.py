"""Command-line flags generated from config models.

A stage's config model is the one place where a setting's name, default, bounds and help text
live; `add_flags` turns chosen fields of it into argparse options (help text and default shown),
and `build` turns the parsed flags back into a validated model, layered over a `--config` YAML
when one is given. A bad value is reported with the flag that carried it:

    --workers: Input should be greater than or equal to 1 (got 0)

Flags are generated with `default=SUPPRESS`, so a flag the user did not type never overrides
the file or the model's default. Each generated action carries `rexbert_field = (model, path)`,
which is how the tests prove that no default is declared twice.
"""

from __future__ import annotations

import argparse
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from rexbert.config.base import ConfigModel, read_yaml
from rexbert.errors import UserError

ModelT = TypeVar("ModelT", bound=ConfigModel)
COMMAND_LINE = "the command line"


@dataclass(frozen=True)
class Flag:
    """One option of a subcommand, bound to a field of a config model.

    `path` is the dotted field path (`executor.workers`); the flag is `--workers` unless `name`
    says otherwise. `renamed_from` lists old spellings: typing one stops with a one-line hint.
    """

    path: str
    name: str | None = None
    required: bool = False
    renamed_from: tuple[str, ...] = ()
    metavar: str | None = None

    @property
    def option(self) -> str:
        return self.name or "--" + self.path.rsplit(".", 1)[-1].replace("_", "-")


class RenamedFlag(argparse.Action):
    """An old spelling of a flag: stop with the new one instead of guessing what was meant."""

    def __init__(self, option_strings, dest, new: str = "", **kwargs):
        kwargs.setdefault("nargs", "*")
        super().__init__(option_strings, dest, help=argparse.SUPPRESS, **kwargs)
        self.new = new

    def __call__(self, parser, namespace, values, option_string=None):
        raise UserError(f"{option_string} is now {self.new}; run the command again with {self.new}")


class _ListAction(argparse.Action):
    """Collects list values given as `a b c`, `a,b,c`, or the flag repeated; parses each item."""

    def __init__(self, option_strings, dest, item_type=str, **kwargs):
        super().__init__(option_strings, dest, **kwargs)
        self.item_type = item_type

    def __call__(self, parser, namespace, values, option_string=None):
        current = getattr(namespace, self.dest, None)
        items = list(current) if isinstance(current, list) else []
        for value in values:
            for part in str(value).split(","):
                if part.strip():
                    items.append(_convert(self.item_type, part.strip(), option_string))
        setattr(namespace, self.dest, items)


class _MappingAction(argparse.Action):
    """Collects `key=value` pairs (`E=1.0,S=0.66` or separate words) into a dict."""

    def __call__(self, parser, namespace, values, option_string=None):
        current = getattr(namespace, self.dest, None)
        table = dict(current) if isinstance(current, dict) else {}
        for value in values:
            for part in str(value).split(","):
                key, sep, raw = part.partition("=")
                if not sep or not key.strip():
                    raise UserError(f"{option_string}: expected KEY=VALUE pairs, got {part!r}")
                table[key.strip()] = raw.strip()
        setattr(namespace, self.dest, table)


def _convert(kind: Any, text: str, option: str | None) -> Any:
    if kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            raise UserError(f"{option}: expected {'an integer' if kind is int else 'a number'}, "
                            f"got {text!r}") from None
    return text


def _strip_optional(annotation: Any) -> Any:
    """`X | None` → `X` (flags never set None: leaving a flag out keeps the default)."""
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def field_at(model: type[BaseModel], path: str) -> FieldInfo:
    """The pydantic field at a dotted path, descending through nested config models."""
    current: Any = model
    parts = path.split(".")
    for position, part in enumerate(parts):
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            raise KeyError(f"{model.__name__} has no field {path!r}")
        info = fields[part]
        if position == len(parts) - 1:
            return info
        current = _strip_optional(info.annotation)
    raise KeyError(path)


def field_default(info: FieldInfo) -> Any:
    """The field's default value (calling its factory), or PydanticUndefined when required."""
    if info.default_factory is not None:
        return info.default_factory()
    return info.default


def _show(value: Any) -> str:
    if isinstance(value, BaseModel):
        return "see the config"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value) or "none"
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items()) or "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    return "none" if value is None else str(value)


def _help(info: FieldInfo, flag: Flag) -> str:
    text = (info.description or "").strip()
    default = field_default(info)
    if flag.required:
        return f"{text} (required)" if text else "(required)"
    if default is PydanticUndefined:
        return text
    return f"{text} (default: {_show(default)})" if text else f"(default: {_show(default)})"


def add_flags(parser: argparse.ArgumentParser, model: type[ConfigModel], flags: Iterable[Flag | str],
              group: str = "cfg") -> None:
    """Add one option per flag to `parser`, bound to `model`; values land under `group`."""
    for flag in flags:
        flag = Flag(flag) if isinstance(flag, str) else flag
        info = field_at(model, flag.path)
        kind = _strip_optional(info.annotation)
        origin = get_origin(kind)
        kwargs: dict[str, Any] = {"dest": f"{group}:{flag.path}", "default": argparse.SUPPRESS,
                                  "help": _help(info, flag), "required": flag.required}
        metavar = flag.metavar or flag.option.lstrip("-").replace("-", "_").upper()
        if kind is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif origin is Literal:
            kwargs["choices"] = [str(c) for c in get_args(kind)]
        elif origin in (list, tuple, Sequence):
            item = get_args(kind)[0] if get_args(kind) else str
            kwargs.update(action=_ListAction, nargs="+", item_type=_strip_optional(item))
        elif origin is dict:
            kwargs.update(action=_MappingAction, nargs="+")
        elif kind in (int, float):
            kwargs["type"] = kind
        elif kind in (str, Path) or kind is Any:
            kwargs["type"] = str
        else:
            raise TypeError(f"{model.__name__}.{flag.path}: no flag form for {kind!r}")
        if kind is not bool and origin is not Literal:
            kwargs["metavar"] = metavar
        action = parser.add_argument(flag.option, **kwargs)
        action.rexbert_field = (model, flag.path)  # type: ignore[attr-defined]
        for old in flag.renamed_from:
            parser.add_argument(old, action=RenamedFlag, new=flag.option, dest=f"renamed:{old}")


def given_flags(args: argparse.Namespace, group: str = "cfg") -> dict[str, Any]:
    """The flags of `group` that were typed: dotted path → value."""
    prefix = f"{group}:"
    return {key[len(prefix):]: value for key, value in vars(args).items() if key.startswith(prefix)}


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for path, value in flat.items():
        node = nested
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """`update` over `base`, recursing into mappings that both have."""
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def changed_values(old: Any, new: Any, sort_keys: bool = True, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """(dotted key, old, new) for every value where two nested mappings differ; keys sorted, or
    in the order the mappings give them."""
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return [] if old == new else [(prefix.rstrip("."), old, new)]
    keys = sorted(set(old) | set(new)) if sort_keys else list(dict.fromkeys([*old, *new]))
    return [change for key in keys
            for change in changed_values(old.get(key), new.get(key), sort_keys, f"{prefix}{key}.")]


def flag_names(parser: argparse.ArgumentParser, group: str = "cfg") -> dict[str, str]:
    """Dotted path → option string for the generated flags of `group` on `parser`."""
    prefix = f"{group}:"
    return {action.dest[len(prefix):]: action.option_strings[0]
            for action in parser._actions if action.dest.startswith(prefix) and action.option_strings}


def validate(model: type[ModelT], data: dict[str, Any], source: str,
             flags: dict[str, str] | None = None, given: Iterable[str] = ()) -> ModelT:
    """Validate `data` into `model`; a problem with a typed flag names the flag, others the file."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        given = set(given)
        flags = flags or {}
        lines = []
        for problem in err.errors():
            key = ".".join(str(p) for p in problem["loc"])
            got = problem.get("input")
            got_text = "" if isinstance(got, dict) else f" (got {got!r})"
            message = problem["msg"].removeprefix("Value error, ")
            if key in given and key in flags:
                lines.append(f"{flags[key]}: {message}{got_text}")
            elif problem["type"] == "missing" and key in flags:
                lines.append(f"{flags[key]} is required (or set '{key}' in {source})")
            elif problem["type"] == "extra_forbidden":
                lines.append(f"{source}: unknown key '{key}'")
            elif problem["type"] == "missing":
                lines.append(f"{source}: key '{key}' is required but missing")
            elif not key:  # a rule across fields: the message says which
                lines.append(message if source == COMMAND_LINE else f"{source}: {message}")
            else:
                lines.append(f"{source}: key '{key}': {message}{got_text}")
        first, rest = lines[0], lines[1:]
        raise UserError(first + (f" [+{len(rest)} more: {'; '.join(rest)}]" if rest else "")) from err


def build(model: type[ModelT], args: argparse.Namespace, parser: argparse.ArgumentParser | None = None,
          group: str = "cfg", config_file: str | Path | None = None,
          base: dict[str, Any] | None = None) -> ModelT:
    """The model from (in increasing priority) its defaults, `base`, a YAML file, and typed flags."""
    data: dict[str, Any] = dict(base or {})
    source = COMMAND_LINE
    if config_file is not None:
        data = deep_merge(data, read_yaml(config_file))
        source = str(config_file)
    given = given_flags(args, group)
    data = deep_merge(data, _nest(given))
    names = flag_names(parser, group) if parser is not None else {}
    return validate(model, data, source, names, given)


def generated_actions(parser: argparse.ArgumentParser) -> Iterable[tuple[str, argparse.Action]]:
    """Every action of `parser` and its subparsers, with the command path that holds it."""
    stack = [("rexbert", parser)]
    while stack:
        prog, current = stack.pop()
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    stack.append((f"{prog} {name}", sub))
            else:
                yield prog, action
