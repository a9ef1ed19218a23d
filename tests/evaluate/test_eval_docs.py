"""Every command line in docs/evaluate.md and docs/model.md parses with the real parser."""

import re
import shlex
from pathlib import Path

import pytest

from rexbert.cli.main import build_parser

DOCS = Path(__file__).resolve().parents[2] / "docs"


def command_lines(page: Path) -> list[str]:
    """`rexbert …` lines of the page's bash blocks, continuation lines joined, comments dropped."""
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", page.read_text(encoding="utf-8"), re.S):
        for command in block.replace("\\\n", " ").splitlines():
            command = command.split(" # ")[0].strip()
            if command.startswith("rexbert "):
                lines.append(command)
    return lines


@pytest.mark.parametrize("page", ["evaluate.md", "model.md"])
def test_every_documented_command_parses(page):
    commands = command_lines(DOCS / page)
    assert len(commands) >= 5
    parser = build_parser()
    for command in commands:
        try:
            args = parser.parse_args(shlex.split(command)[1:])
        except SystemExit:
            pytest.fail(f"{page}: does not parse: {command}")
        assert getattr(args, "handler", None) is not None, command
