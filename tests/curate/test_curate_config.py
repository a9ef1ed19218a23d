"""Shipped curate configs parse, and the default file is the built-in recipe (paper Table 1)."""

from pathlib import Path

import pytest

from rexbert.curate.config import (
    DIRECTLY_SELECTED_DOMAINS,
    FILTER_REQUIRED_DOMAINS,
    default_config,
    read_config,
)
from rexbert.errors import UserError

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "curate"


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_parse(path):
    assert read_config(path).domains.filter_required


def test_default_file_is_the_builtin_recipe():
    cfg = default_config()
    assert read_config(CONFIGS / "default.yaml") == cfg
    assert cfg.domains.filter_required == list(FILTER_REQUIRED_DOMAINS) and len(FILTER_REQUIRED_DOMAINS) == 9
    assert cfg.domains.directly_selected == list(DIRECTLY_SELECTED_DOMAINS) and len(DIRECTLY_SELECTED_DOMAINS) == 6
    assert cfg.cleaning.language.languages == ["en"]
    # the offline teacher: the fitted embedding head, audited by the same head reading more of each document
    assert (cfg.labelling.labeller.backend, cfg.labelling.auditor.backend) == ("embedding", "embedding")
    assert cfg.labelling.auditor.embedding.passages > cfg.labelling.labeller.embedding.passages


def test_backend_blocks_are_required(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("labelling: {labeller: {backend: openai}}\n")
    with pytest.raises(UserError, match="needs an 'openai:' block"):
        read_config(path)
    path.write_text("executor: {kind: slurm}\n")
    with pytest.raises(UserError, match="needs a 'slurm:' block"):
        read_config(path)
