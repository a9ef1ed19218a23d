"""Config loading: unknown keys, wrong types and out-of-range values become one-line errors."""

from typing import Literal

import pytest
from pydantic import Field

from rexbert.config import ConfigModel, load_config, parse_config
from rexbert.errors import UserError


class Inner(ConfigModel):
    lr: float = Field(1e-3, gt=0)
    kind: Literal["adam", "sgd"] = "adam"


class Outer(ConfigModel):
    name: str = "run"
    steps: int = Field(10, ge=1)
    optim: Inner = Inner()


def test_valid_file_round_trips(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text("name: x\nsteps: 3\noptim:\n  lr: 0.5\n  kind: sgd\n")
    cfg = load_config(Outer, path)
    assert (cfg.name, cfg.steps, cfg.optim.lr, cfg.optim.kind) == ("x", 3, 0.5, "sgd")
    again = tmp_path / "again.yaml"
    again.write_text(cfg.to_yaml())
    assert load_config(Outer, again) == cfg


def test_unknown_nested_key_names_file_key_and_accepted_keys(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("optim:\n  learning_rate: 0.1\n")
    with pytest.raises(UserError) as err:
        load_config(Outer, path)
    message = str(err.value)
    assert "\n" not in message
    assert str(path) in message
    assert "unknown key 'optim.learning_rate'" in message
    assert "accepted keys: kind, lr" in message


def test_wrong_type_and_range(tmp_path):
    with pytest.raises(UserError, match=r"key 'steps'.*greater than or equal to 1 \(got 0\)"):
        parse_config(Outer, {"steps": 0}, source="cfg.yaml")
    with pytest.raises(UserError, match=r"key 'optim.kind'.*'adam' or 'sgd'.*'rmsprop'"):
        parse_config(Outer, {"optim": {"kind": "rmsprop"}}, source="cfg.yaml")
    with pytest.raises(UserError, match=r"key 'steps'.*valid integer"):
        parse_config(Outer, {"steps": "many"}, source="cfg.yaml")


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(UserError, match="config file not found"):
        load_config(Outer, tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("steps: [1, 2\n")
    with pytest.raises(UserError, match=r"broken.yaml:\d+: not valid YAML"):
        load_config(Outer, broken)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("42\n")
    with pytest.raises(UserError, match="expected a mapping"):
        load_config(Outer, scalar)
