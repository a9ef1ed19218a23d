"""The docs match the tool: every `rexbert …` command line in README.md and docs/*.md parses
with the real parser (flags, choices, subcommands), so a renamed flag cannot linger in a page."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from rexbert.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
SHELL = {"", "bash", "sh", "console", "shell"}


def command_lines(page: Path) -> list[tuple[int, str]]:
    """`rexbert …` lines of the page's code blocks, continuation lines joined, comments cut."""
    text = page.read_text(encoding="utf-8")
    found = []
    for block in FENCE.finditer(text):
        if block.group(1) not in SHELL:
            continue
        start_line = text[: block.start()].count("\n") + 2
        joined, first = "", None
        for offset, raw in enumerate(block.group(2).splitlines()):
            line = raw.rstrip()
            if first is None:
                first = start_line + offset
            joined += line[:-1] + " " if line.endswith("\\") else line
            if line.endswith("\\"):
                continue
            for part in re.split(r"&&|\|\||;|\|", joined):
                part = part.split(" #", 1)[0].strip()
                if part.startswith("$ "):
                    part = part[2:]
                if part.startswith("rexbert ") or part.startswith("torchrun ") and " -m rexbert " in part:
                    found.append((first, part))
            joined, first = "", None
    return found


CASES = [(page, line, cmd) for page in PAGES for line, cmd in command_lines(page)]


@pytest.mark.parametrize(("page", "line", "command"), CASES,
                         ids=[f"{c[0].name}:{c[1]}" for c in CASES])
def test_command_line_parses(page: Path, line: int, command: str) -> None:
    words = shlex.split(command)
    if words[0] == "torchrun":
        words = words[words.index("rexbert"):]
    parser = build_parser()
    try:
        parser.parse_args(words[1:])
    except SystemExit as exit_:
        pytest.fail(f"{page.name}:{line}: `{command}` does not parse (exit {exit_.code})")


def test_the_pages_hold_command_lines() -> None:
    assert len(CASES) >= 20
