"""Faults of the data stage as a user meets them on the command line: one record that has no
faithful text (a lone surrogate) is rejected with its reason while `tokenizer train` and `shards
build` finish, and a rerun gives the same files; a file of garbage bytes is one error line naming
it, with nothing half-written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rexbert.cli.main import main

BROKEN = '{"text": "a cut emoji \\ud83d in a shoe listing"}'


def with_a_lone_surrogate(folder: Path) -> Path:
    """`folder/x.jsonl`: 30 good records with one lone surrogate as the 11th line."""
    folder.mkdir(parents=True)
    lines = [json.dumps({"text": f"navy cotton shirt size {i} for men"}) for i in range(30)]
    lines.insert(10, BROKEN)
    (folder / "x.jsonl").write_text("\n".join(lines) + "\n")
    return folder / "x.jsonl"


def rejects(path: Path) -> list[tuple[int, str, str]]:
    return [(r["line"], r["reason"], r["raw"]) for r in map(json.loads, path.read_text().splitlines())]


def one_error_line(capsys) -> str:
    """The one `rexbert: error:` line, printed last (after any progress bar has closed)."""
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "rexbert: error:" in line]
    assert len(errors) == 1 and errors[0].startswith("rexbert: error:") and err.endswith(errors[0] + "\n"), err
    assert "Traceback" not in err
    return errors[0]


@pytest.mark.parametrize("command", ["tokenizer", "shards"])
def test_a_lone_surrogate_is_rejected_and_the_stage_finishes(tokenizer_dir, tmp_path, capsys, command):
    data = with_a_lone_surrogate(tmp_path / "in")
    out = tmp_path / "out"
    argv = (["tokenizer", "train", "--input", str(data), "--vocab-size", "320", "--out", str(out)]
            if command == "tokenizer" else
            ["shards", "build", "--input", str(data), "--tokenizer", str(tokenizer_dir), "--out", str(out)])
    assert main(argv) == 0
    said = "1 record(s) rejected" if command == "tokenizer" else "rejected 1 record(s) (bad_text: 1)"
    assert said in capsys.readouterr().out
    assert rejects(out / "rejects.jsonl") == [(11, "bad_text", BROKEN)]
    before = {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file() and not p.name.startswith(".")}
    assert main(argv) == 0  # the rerun meets the record again
    after = {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file() and not p.name.startswith(".")}
    assert after == before


@pytest.mark.parametrize("command", ["tokenizer", "shards"])
def test_a_parquet_file_of_garbage_bytes_is_one_line_naming_it(tokenizer_dir, tmp_path, capsys, command):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl").write_text('{"text": "navy shirt"}\n')
    garbage = tmp_path / "in" / "b.parquet"
    garbage.write_bytes(b"PAR1 not parquet" * 40)
    out = tmp_path / "out"
    argv = (["tokenizer", "train", "--input", str(tmp_path / "in"), "--vocab-size", "320", "--out", str(out)]
            if command == "tokenizer" else
            ["shards", "build", "--input", str(tmp_path / "in"), "--tokenizer", str(tokenizer_dir), "--out", str(out)])
    assert main(argv) == 2
    err = one_error_line(capsys)
    assert str(garbage) in err and "parquet" in err and "ArrowInvalid" not in err
    assert not (out / "index.json").exists() and not (out / "tokenizer.json").exists()
