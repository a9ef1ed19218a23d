"""The FineFineWeb reader on small fixture shards written in the real schema."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from rexbert.errors import UserError
from rexbert.sources.finefineweb import (
    FINEFINEWEB_FIELDS,
    MalformedRecord,
    iter_corpus,
    iter_records,
    list_domain_files,
    open_text_lines,
    parse_record,
)
from rexbert.sources.rejects import RejectLog


def _record(i: int, domain: str = "fashion") -> dict:
    return {"text": f"Document number {i} about {domain}.", "url": f"https://example.com/{i}",
            "domain": domain, "language_score": 0.91, "id": f"<urn:uuid:{i:08d}>"}


def _jsonl_bytes(records: list[dict]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """Four domains, one per file format, three records each."""
    root = tmp_path / "corpus"
    writers = {
        "fashion": ("jsonl", lambda p, rs: p.write_bytes(_jsonl_bytes(rs))),
        "beauty": ("jsonl.gz", lambda p, rs: p.write_bytes(gzip.compress(_jsonl_bytes(rs)))),
        "movie": ("jsonl.zst", lambda p, rs: p.write_bytes(zstandard.ZstdCompressor().compress(_jsonl_bytes(rs)))),
        "photo": ("parquet", lambda p, rs: pq.write_table(pa.Table.from_pylist(rs), p)),
    }
    for domain, (ext, write) in writers.items():
        (root / domain).mkdir(parents=True)
        write(root / domain / f"{domain}_000000.{ext}", [_record(i, domain) for i in range(3)])
    return root


def test_list_domain_files_finds_every_format(corpus: Path) -> None:
    files = list_domain_files(corpus)
    assert sorted(files) == ["beauty", "fashion", "movie", "photo"]
    assert [p.name for p in files["movie"]] == ["movie_000000.jsonl.zst"]


def test_list_domain_files_empty_folder_is_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no corpus shards"):
        list_domain_files(tmp_path)
    with pytest.raises(UserError, match="not found"):
        list_domain_files(tmp_path / "missing")


def test_every_format_reads_the_same_records(corpus: Path) -> None:
    records = list(iter_corpus(corpus))
    assert len(records) == 12
    assert {r["domain"] for r in records} == {"beauty", "fashion", "movie", "photo"}
    for record in records:
        assert set(FINEFINEWEB_FIELDS) <= set(record)
        assert isinstance(record["id"], str)


def test_open_text_lines_numbers_lines_from_one(corpus: Path) -> None:
    lines = list(open_text_lines(corpus / "beauty" / "beauty_000000.jsonl.gz"))
    assert [n for n, _ in lines] == [1, 2, 3]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"text": "a", ', "bad_json"),
        (b'["not", "an", "object"]', "not_object"),
        (b'{"url": "u", "domain": "d", "language_score": 0.9, "id": "1"}', "missing_text"),
        (b'{"text": "a", "url": "u", "domain": "d", "language_score": 0.9}', "missing_id"),
        (b'{"text": 5, "url": "u", "domain": "d", "language_score": 0.9, "id": "1"}', "bad_text"),
        (b'{"text": "a", "url": "u", "domain": "d", "language_score": 7, "id": "1"}', "bad_language_score"),
        (b'{"text": "caf\xe9", "url": "u", "domain": "d", "language_score": 0.9, "id": "1"}', "bad_utf8"),
    ],
)
def test_parse_record_reasons(raw: bytes, reason: str) -> None:
    with pytest.raises(MalformedRecord) as caught:
        parse_record(raw)
    assert caught.value.reason == reason


def _shard_with_bad_lines(tmp_path: Path, suffix: str = "jsonl") -> Path:
    path = tmp_path / "news" / f"news_000000.{suffix}"
    path.parent.mkdir(parents=True)
    body = (_jsonl_bytes([_record(0, "news")]) + b'{"text": broken\n' + b"\n"
            + b'{"text": "\xff\xfe", "url": "u", "domain": "news", "language_score": 0.5, "id": "x"}\n'
            + _jsonl_bytes([_record(1, "news")]))
    if suffix == "jsonl.zst":
        body = zstandard.ZstdCompressor().compress(body)
    path.write_bytes(body)
    return path


def test_malformed_line_stops_with_file_and_line(tmp_path: Path) -> None:
    path = _shard_with_bad_lines(tmp_path)
    reader = iter_records(path)
    assert next(reader)["id"] == "<urn:uuid:00000000>"
    with pytest.raises(UserError, match=rf"{path}:2: bad_json"):
        next(reader)


@pytest.mark.parametrize("suffix", ["jsonl", "jsonl.zst"])
def test_skip_counts_and_writes_rejects(tmp_path: Path, suffix: str) -> None:
    path = _shard_with_bad_lines(tmp_path, suffix)
    rejects_path = tmp_path / "rejects.jsonl"
    with RejectLog(rejects_path) as rejects:
        kept = list(iter_records(path, on_error="skip", rejects=rejects))
    assert [r["id"] for r in kept] == ["<urn:uuid:00000000>", "<urn:uuid:00000001>"]
    assert rejects.counts == {"bad_json": 1, "bad_utf8": 1}
    rejected = [json.loads(line) for line in rejects_path.read_text().splitlines()]
    assert [(r["line"], r["reason"]) for r in rejected] == [(2, "bad_json"), (4, "bad_utf8")]
    assert "\\xff\\xfe" in rejected[1]["raw"]  # the bad bytes stay visible, not dropped


def test_skip_with_path_appends_to_file(tmp_path: Path) -> None:
    path = _shard_with_bad_lines(tmp_path)
    rejects_path = tmp_path / "out" / "rejects.jsonl"
    assert len(list(iter_records(path, on_error="skip", rejects=rejects_path))) == 2
    assert len(rejects_path.read_text().splitlines()) == 2


def test_parquet_missing_column_is_user_error(tmp_path: Path) -> None:
    path = tmp_path / "law" / "law_000000.parquet"
    path.parent.mkdir()
    rows = [{k: v for k, v in _record(i, "law").items() if k != "url"} for i in range(2)]
    pq.write_table(pa.Table.from_pylist(rows), path)
    for policy in ("raise", "skip"):
        with pytest.raises(UserError, match="missing column.*url"):
            list(iter_records(path, on_error=policy))


def test_parquet_bad_row_reports_row_number(tmp_path: Path) -> None:
    path = tmp_path / "law" / "law_000000.parquet"
    path.parent.mkdir()
    rows = [_record(0, "law"), {**_record(1, "law"), "text": None}, _record(2, "law")]
    pq.write_table(pa.Table.from_pylist(rows), path)
    with pytest.raises(UserError, match=rf"{path}:2: missing_text"):
        list(iter_records(path))
    rejects = RejectLog()
    assert len(list(iter_records(path, on_error="skip", rejects=rejects))) == 2
    assert rejects.counts == {"missing_text": 1}


def test_truncated_gzip_is_user_error(tmp_path: Path) -> None:
    path = tmp_path / "food" / "food_000000.jsonl.gz"
    path.parent.mkdir()
    path.write_bytes(gzip.compress(_jsonl_bytes([_record(i) for i in range(50)]))[:60])
    with pytest.raises(UserError, match="truncated or corrupt"):
        list(iter_records(path))


def test_unknown_policy_and_domain_are_user_errors(corpus: Path) -> None:
    with pytest.raises(UserError, match="on_error"):
        list(iter_corpus(corpus, on_error="ignore"))
    with pytest.raises(UserError, match="no such domain"):
        list(iter_corpus(corpus, domains=["nope"]))
    assert {r["domain"] for r in iter_corpus(corpus, domains=["movie"])} == {"movie"}


def test_hub_id_offline_is_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match="offline"):
        list(iter_corpus("m-a-p/FineFineWeb"))
