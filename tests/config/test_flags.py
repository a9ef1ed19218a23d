"""Flags generated from config models: help and defaults from the model, errors name the flag."""

from __future__ import annotations

import argparse
from typing import Literal

import pytest
from pydantic import Field

from rexbert.config import ConfigModel
from rexbert.config.flags import Flag, add_flags, build
from rexbert.errors import UserError


class Inner(ConfigModel):
    workers: int = Field(1, ge=1, description="parallel tasks")


class Settings(ConfigModel):
    block_sizes: list[int] = Field(default_factory=lambda: [128, 256], description="block sizes")
    kind: Literal["local", "ray"] = Field("local", description="executor")
    fast: bool = Field(False, description="go fast")
    label_map: dict[str, float] = Field(default_factory=dict, description="labels")
    name: str | None = Field(None, description="a name")
    inner: Inner = Field(default_factory=Inner)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="x")
    add_flags(parser, Settings, ["block_sizes", "kind", "fast", "label_map", "name",
                                 Flag("inner.workers", renamed_from=("--n-workers",))])
    return parser


def test_help_shows_description_and_default_from_the_model() -> None:
    text = _parser().format_help()
    assert "block sizes (default: 128,256)" in text
    assert "parallel tasks (default: 1)" in text
    assert "{local,ray}" in text


def test_values_parse_in_every_list_form_and_override_only_when_typed(tmp_path) -> None:
    parser = _parser()
    args = parser.parse_args(["--block-sizes", "64,96", "512", "--fast", "--label-map", "E=1,I=0",
                              "--workers", "3"])
    cfg = build(Settings, args, parser)
    assert cfg.block_sizes == [64, 96, 512] and cfg.fast and cfg.label_map == {"E": 1.0, "I": 0.0}
    assert cfg.inner.workers == 3 and cfg.kind == "local" and cfg.name is None
    config = tmp_path / "c.yaml"
    config.write_text("kind: ray\ninner: {workers: 5}\n")
    cfg = build(Settings, parser.parse_args(["--name", "n"]), parser, config_file=config)
    assert (cfg.kind, cfg.inner.workers, cfg.name) == ("ray", 5, "n")
    cfg = build(Settings, parser.parse_args(["--workers", "2"]), parser, config_file=config)
    assert cfg.inner.workers == 2


def test_a_bad_value_names_the_flag_and_an_old_spelling_names_the_new_one() -> None:
    parser = _parser()
    with pytest.raises(UserError, match=r"^--workers: Input should be greater than or equal to 1 \(got 0\)$"):
        build(Settings, parser.parse_args(["--workers", "0"]), parser)
    with pytest.raises(UserError, match="--block-sizes: expected an integer, got 'x'"):
        parser.parse_args(["--block-sizes", "x"])
    with pytest.raises(UserError, match="^--n-workers is now --workers"):
        parser.parse_args(["--n-workers", "2"])


def test_cli_reports_a_renamed_flag_in_one_line(capsys) -> None:
    from rexbert.cli.main import main

    assert main(["demo-data", "--out", "x", "--seed", "-1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["rexbert: error: --seed: Input should be greater than or equal to 0 (got -1)"]
