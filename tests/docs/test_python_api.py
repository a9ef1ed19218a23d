"""Every Python example in docs/python-api.md runs as written (in a temporary folder)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "python-api.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", PAGE.read_text(encoding="utf-8"), re.S | re.M)


def test_the_page_has_examples():
    assert len(BLOCKS) >= 3


@pytest.mark.slow
def test_the_examples_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in BLOCKS:
        exec(compile(block, str(PAGE), "exec"), namespace)  # noqa: S102 - the docs' own code
    printed = capsys.readouterr().out
    assert "documents kept of" in printed and "title top-1:" in printed
    assert (tmp_path / "model" / "model.safetensors").is_file()
    assert (tmp_path / "eval" / "results.json").is_file()
