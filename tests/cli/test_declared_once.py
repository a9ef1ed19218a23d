"""Every default and bound is declared once: on a config model field.

The CLI's options are generated from the config models (each generated action carries the field
it stands for); an option written by hand may only be a plain input/output argument with no
default of its own. `rexbert run`'s config embeds the stage models instead of repeating fields.
"""

from __future__ import annotations

import argparse

from pydantic import BaseModel

from rexbert.cli.main import build_parser
from rexbert.config.flags import field_at, generated_actions

# Hand-written arguments that are inputs, outputs or switches of a command, not settings:
# they name files or say what to do, and carry no default that a model also declares.
IO_ARGUMENTS = {
    "--out", "--config", "--model", "--overwrite", "--resume", "--force", "--from", "--runs",
    "--truth", "--tokenizer", "--shards", "--glue-dir", "--pairs", "--esci", "--products",
    "--train", "--test", "--data", "--seed-labels", "--no-relevance", "--json", "--source",
    "--reference-source", "--phases", "--help", "-h", "--version", "--log-level", "--debug",
}


def _hand_written(action: argparse.Action) -> bool:
    return not hasattr(action, "rexbert_field") and action.dest != "help" and not \
        action.dest.startswith("renamed:")


def test_every_option_is_generated_from_a_model_or_is_plain_io() -> None:
    offenders = []
    for prog, action in generated_actions(build_parser()):
        if not _hand_written(action) or not action.option_strings:
            continue
        name = action.option_strings[-1] if action.option_strings[-1].startswith("--") else \
            action.option_strings[0]
        defaulted = action.default not in (None, False, argparse.SUPPRESS) and \
            not isinstance(action, argparse._VersionAction) and name != "--log-level"
        if name not in IO_ARGUMENTS or defaulted:
            offenders.append(f"{prog} {name} (default {action.default!r})")
    assert not offenders, "options declared outside a config model: " + "; ".join(offenders)


def test_generated_options_show_the_model_default() -> None:
    for prog, action in generated_actions(build_parser()):
        if hasattr(action, "rexbert_field") and not action.required:
            model, path = action.rexbert_field
            info = field_at(model, path)
            assert info.description, f"{prog} {action.option_strings[0]}: {model.__name__}.{path} has no description"
            if info.is_required():  # required by the model, given by the flag or a --config file
                continue
            assert "default:" in (action.help or ""), f"{prog} {action.option_strings[0]} hides its default"


def _types_in(annotation: object) -> list[object]:
    """The classes inside an annotation such as `X`, `X | None` or `list[X]`."""
    args = getattr(annotation, "__args__", None)
    return [annotation] if not args else [t for a in args for t in _types_in(a)]


def _fields(model: type[BaseModel]) -> dict[str, object]:
    return dict(model.model_fields)


def test_run_config_embeds_stage_models_instead_of_copying_their_fields() -> None:
    from rexbert.run.config import RunConfig, stage_models

    stage_fields: dict[str, set[str]] = {}
    for stage_model in stage_models():
        for name in _fields(stage_model):
            stage_fields.setdefault(name, set()).add(stage_model.__name__)
    copies = []
    for section_name, info in RunConfig.model_fields.items():
        section = info.annotation
        if not (isinstance(section, type) and issubclass(section, BaseModel)):
            continue
        if section in stage_models():
            continue
        for name, field in _fields(section).items():
            embedded = any(arg in stage_models() for arg in _types_in(field.annotation))
            if not embedded and name in stage_fields and name not in getattr(section, "run_owned", set()):
                copies.append(f"{section_name}.{name} (also on {', '.join(sorted(stage_fields[name]))})")
    assert not copies, "run config fields that copy a stage model's field: " + "; ".join(copies)
