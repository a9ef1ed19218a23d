"""The CLI frame: version, help, and one-line user errors with exit code 2."""

import argparse
import subprocess
import sys

import pytest

from rexbert import __version__
from rexbert.cli import main as cli_main
from rexbert.errors import UserError


def test_version_flag(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli_main.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"rexbert {__version__}"


def test_no_command_prints_help_and_exits_2(capsys):
    assert cli_main.main([]) == 2
    assert "usage: rexbert" in capsys.readouterr().out


def _parser_with_failing_command(monkeypatch, exc):
    real_build = cli_main.build_parser

    def build():
        parser = real_build()
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        cmd = sub.add_parser("explode")

        def handler(args):
            raise exc

        cmd.set_defaults(handler=handler)
        return parser

    monkeypatch.setattr(cli_main, "build_parser", build)


def test_user_error_is_one_line_exit_2(monkeypatch, capsys):
    _parser_with_failing_command(monkeypatch, UserError("data.jsonl:3: bad line; fix it"))
    assert cli_main.main(["explode"]) == 2
    err = capsys.readouterr().err
    assert err == "rexbert: error: data.jsonl:3: bad line; fix it\n"


def test_debug_adds_traceback(monkeypatch, capsys):
    _parser_with_failing_command(monkeypatch, UserError("boom"))
    assert cli_main.main(["--debug", "explode"]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_unknown_flag_is_an_argparse_error():
    result = subprocess.run(
        [sys.executable, "-m", "rexbert", "--no-such-flag"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "unrecognized arguments" in result.stderr or "usage:" in result.stderr


def test_help_is_import_light():
    # `rexbert --help` must not import torch: it answers instantly even on a cold cache.
    code = (
        "import sys; from rexbert.cli.main import build_parser; build_parser(); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
