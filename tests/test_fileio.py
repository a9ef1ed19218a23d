"""Atomic writes leave either the old file or the new one, never a partial file."""

import json

import pytest

from rexbert import fileio
from rexbert.errors import UserError


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    target = tmp_path / "sub" / "out.json"
    fileio.atomic_write_json(target, {"a": 1})
    fileio.atomic_write_json(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 2}
    assert [p.name for p in target.parent.iterdir()] == ["out.json"]


def test_failed_write_keeps_old_file(tmp_path, monkeypatch):
    target = tmp_path / "out.txt"
    fileio.atomic_write_text(target, "old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(fileio.os, "replace", broken_replace)
    with pytest.raises(OSError):
        fileio.atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_jsonl_errors_name_file_and_line(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n\n{"a": \n')
    reader = fileio.iter_jsonl(path)
    assert next(reader) == (1, {"a": 1})
    with pytest.raises(UserError, match=r"x.jsonl:3: malformed JSON line"):
        next(reader)
    with pytest.raises(UserError, match="not valid JSON"):
        bad = tmp_path / "b.json"
        bad.write_text("{")
        fileio.read_json(bad)


def test_atomic_write_has_ordinary_permissions(tmp_path):
    import os

    target = tmp_path / "report.md"
    fileio.atomic_write_text(target, "x")
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_iter_jsonl_missing_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match=r"missing.jsonl: file not found"):
        list(fileio.iter_jsonl(tmp_path / "missing.jsonl"))
