"""The one document reader: every format gives the same records; ids, domains, joined fields;
every bad input is a one-line error naming the file, or a BadRecord with its reason."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from rexbert.errors import UserError
from rexbert.sources.documents import (
    BadRecord,
    Document,
    DocumentInput,
    clean_text,
    iter_documents,
    list_files,
)

# Products in a team's own shape: the text is title + description, the domain a category column.
RECORDS = [
    {"id": 101, "title": "Acme cotton shirt", "description": "Navy, slim fit; \"soft\" feel",
     "category": "apparel", "url": "https://shop.example/101", "language_score": 0.93},
    {"id": 102, "title": "Zenith laptop 13", "description": None, "category": "electronics",
     "url": None, "language_score": None},
    {"id": 103, "title": "Orbit phone", "description": "6.5 inch screen\nsecond line\twith a tab",
     "category": "electronics", "url": "https://shop.example/103", "language_score": 0.5},
    {"id": 104, "title": "", "description": "Café crème — 500 ml 🙂", "category": "grocery",
     "url": "", "language_score": 1.0},
]
COLUMNS = list(RECORDS[0])
EXPECTED = [
    ("Acme cotton shirt\nNavy, slim fit; \"soft\" feel", "101", "apparel", "https://shop.example/101", 0.93),
    ("Zenith laptop 13", "102", "electronics", None, None),
    ("Orbit phone\n6.5 inch screen\nsecond line\twith a tab", "103", "electronics", "https://shop.example/103", 0.5),
    ("Café crème — 500 ml 🙂", "104", "grocery", None, 1.0),
]
FORMATS = ("jsonl", "jsonl.gz", "jsonl.zst", "json.gz", "parquet", "csv", "tsv")


def _jsonl(records: list[dict]) -> bytes:
    # Missing values are left out of JSON objects, as most exporters do.
    return "".join(json.dumps({k: v for k, v in r.items() if v is not None}, ensure_ascii=False) + "\n"
                   for r in records).encode()


def write_records(path: Path, records: list[dict], columns: list[str] | None = None) -> Path:
    """Write `records` in the format that `path`'s suffix names."""
    path.parent.mkdir(parents=True, exist_ok=True)
    name = path.name
    if name.endswith(".zst"):
        path.write_bytes(zstandard.ZstdCompressor().compress(_jsonl(records)))
    elif name.endswith(".gz"):
        path.write_bytes(gzip.compress(_jsonl(records)))
    elif name.endswith(".jsonl"):
        path.write_bytes(_jsonl(records))
    elif name.endswith(".parquet"):
        pq.write_table(pa.Table.from_pylist(records), path)
    else:
        columns = columns or list(records[0])
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, delimiter="\t" if name.endswith(".tsv") else ",")
            writer.writerow(columns)
            for record in records:
                writer.writerow(["" if record.get(c) is None else record[c] for c in columns])
    return path


def _summary(documents) -> list[tuple]:
    return [(d.text, d.id, d.domain, d.url, d.language_score) for d in documents]


PRODUCTS = DocumentInput.model_validate({"paths": ["x"], "text_fields": ["title", "description"],
                                         "domain_field": "category"})


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_reads_the_same_records(tmp_path: Path, fmt: str) -> None:
    path = write_records(tmp_path / f"products.{fmt}", RECORDS)
    spec = PRODUCTS.model_copy(update={"paths": [str(path)]})
    documents = list(iter_documents(spec))
    assert all(isinstance(d, Document) for d in documents)
    assert _summary(documents) == EXPECTED
    assert [d.source for d in documents] == [path] * 4
    assert documents[0].extra == {}  # every field was used


def test_text_fields_are_joined_in_the_order_given(tmp_path: Path) -> None:
    path = write_records(tmp_path / "p.jsonl", RECORDS)
    spec = DocumentInput(paths=[str(path)], text_fields=["description", "title"])
    texts = [d.text for d in iter_documents(spec)]
    assert texts[0] == "Navy, slim fit; \"soft\" feel\nAcme cotton shirt"
    assert texts[3] == "Café crème — 500 ml 🙂"  # the blank title is left out, not joined as ""


def test_own_files_with_different_text_fields_are_read_together(tmp_path: Path) -> None:
    products = write_records(tmp_path / "products.jsonl", [
        {"sku": "A1", "category": "shoes", "brand": "Acme", "title": "Trail runner",
         "description": "Grippy sole", "price_usd": 89.5}])
    general = write_records(tmp_path / "general.jsonl", [{"id": "g1", "body": "The river flows."}])
    spec = DocumentInput(paths=[str(products), str(general)], text_fields=["title", "description", "body"])
    documents = list(iter_documents(spec))
    assert [d.text for d in documents] == ["Trail runner\nGrippy sole", "The river flows."]
    assert documents[0].extra == {"sku": "A1", "category": "shoes", "brand": "Acme", "price_usd": 89.5}
    assert [d.id for d in documents] == ["products.jsonl:1", "g1"]


def test_generated_ids_are_stable_and_name_file_and_line(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.jsonl").write_text('{"text": "one"}\n\n{"text": "two"}\n')
    write_records(root / "b.csv", [{"text": "three"}, {"text": "four"}])
    spec = DocumentInput(paths=[str(root)])
    ids = [d.id for d in iter_documents(spec)]
    assert ids == ["b.csv:2", "b.csv:3", "sub/a.jsonl:1", "sub/a.jsonl:3"]
    assert [d.id for d in iter_documents(spec)] == ids
    # The same file given directly is named relative to its own folder.
    direct = DocumentInput(paths=[str(root / "sub" / "a.jsonl")])
    assert [d.id for d in iter_documents(direct)] == ["a.jsonl:1", "a.jsonl:3"]


def test_domain_comes_from_each_source_in_order(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write_records(corpus / "fashion" / "fashion_000000.jsonl", [{"text": "a", "topic": "shoes"}])
    write_records(corpus / "law" / "law_000001.parquet", [{"text": "b", "topic": "courts"}])
    kept = tmp_path / "kept"
    write_records(kept / "physics" / "00000.jsonl", [{"text": "c"}])
    plain = write_records(tmp_path / "plain" / "part-0.jsonl", [{"text": "d", "topic": "misc"}, {"text": "e"}])

    def domains(**spec) -> list[str | None]:
        return [d.domain for d in iter_documents(DocumentInput(**spec))]

    # The FineFineWeb layout, and a root folder of domain sub-folders (curate's kept/).
    assert domains(paths=[str(corpus), str(kept)]) == ["fashion", "law", "physics"]
    assert domains(paths=[str(corpus / "law" / "law_000001.parquet")]) == ["law"]
    assert domains(paths=[str(plain)]) == [None, None]
    # A domain field beats the layout; NAME=PATH beats the field; --domain beats everything.
    assert domains(paths=[str(corpus), str(plain)], domain_field="topic") == ["shoes", "courts", "misc", None]
    assert domains(paths=[f"shop={corpus}", str(plain)], domain_field="topic") == ["shop", "shop", "misc", None]
    assert domains(paths=[f"shop={corpus}"], domain="ecommerce") == ["ecommerce", "ecommerce"]


def test_list_files_is_recursive_sorted_and_skips_hidden_and_marker_files(tmp_path: Path) -> None:
    root = tmp_path / "in"
    for name in ("b/2.jsonl", "b/10.csv", "a.parquet", ".hidden.jsonl", ".cache/x.jsonl", "notes.txt",
                 ".rexbert-output.json", "c/deep/d.tsv"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("")
    spec = DocumentInput(paths=[str(root), str(root / "a.parquet")])  # a file given twice is read once
    assert [p.relative_to(root).as_posix() for p, _ in list_files(spec)] == [
        "a.parquet", "b/10.csv", "b/2.jsonl", "c/deep/d.tsv"]


@pytest.mark.parametrize(("setup", "match"), [
    (lambda d: d / "missing.jsonl", r"missing.jsonl does not exist"),
    (lambda d: (d / "empty").mkdir() or d / "empty", r"no document files"),
    (lambda d: (d / "notes.txt").write_text("x") and d / "notes.txt", r"not a document file"),
])
def test_bad_input_paths_are_one_line_errors(tmp_path: Path, setup, match: str) -> None:
    with pytest.raises(UserError, match=match) as caught:
        list_files(DocumentInput(paths=[str(setup(tmp_path))]))
    assert "\n" not in str(caught.value)


def _truncated_gz(d: Path) -> Path:
    data = gzip.compress(_jsonl([{"text": f"record {i} " * 20} for i in range(200)]))
    (d / "t.jsonl.gz").write_bytes(data[: len(data) // 2])
    return d / "t.jsonl.gz"


def _truncated_zst(d: Path) -> Path:
    data = zstandard.ZstdCompressor().compress(_jsonl([{"text": f"record {i} " * 20} for i in range(200)]))
    (d / "t.jsonl.zst").write_bytes(data[: len(data) // 2])
    return d / "t.jsonl.zst"


def _garbage_parquet(d: Path) -> Path:
    (d / "g.parquet").write_bytes(b"PAR1 this is not parquet at all" * 10)
    return d / "g.parquet"


def _latin1(suffix: str):
    def make(d: Path) -> Path:
        path = d / f"l.{suffix}"
        sep = "\t" if suffix == "tsv" else ","
        path.write_bytes(f"id{sep}text\n1{sep}fine\n2{sep}caf".encode() + b"\xe9\n")
        return path
    return make


def _no_text_column(suffix: str):
    def make(d: Path) -> Path:
        return write_records(d / f"n.{suffix}", [{"sku": "a", "body": "x"}])
    return make


@pytest.mark.parametrize(("make", "match"), [
    (_truncated_gz, r"t.jsonl.gz:\d+: cannot read .*truncated or corrupt"),
    (_truncated_zst, r"t.jsonl.zst:\d+: cannot read .*truncated or corrupt"),
    (_garbage_parquet, r"g.parquet: not a readable parquet file .*re-download or rewrite it"),
    (_latin1("csv"), r"l.csv:3: not UTF-8 text .*re-save the file as UTF-8"),
    (_latin1("tsv"), r"l.tsv:3: not UTF-8 text .*re-save the file as UTF-8"),
    (_no_text_column("parquet"), r"n.parquet: no text column 'text' \(columns: sku, body\); pass --text-field"),
    (_no_text_column("csv"), r"n.csv: no text column 'text' \(columns: sku, body\); pass --text-field"),
])
@pytest.mark.parametrize("on_error", ["raise", "skip"])
def test_whole_file_problems_are_one_line_errors_under_both_policies(tmp_path: Path, make, match: str,
                                                                     on_error: str) -> None:
    path = make(tmp_path)
    with pytest.raises(UserError, match=match) as caught:
        list(iter_documents(DocumentInput(paths=[str(path)]), on_error=on_error))
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)


def test_a_file_that_vanished_is_a_one_line_error(tmp_path: Path) -> None:
    path = write_records(tmp_path / "gone.jsonl", [{"text": "a"}])
    files = list_files(DocumentInput(paths=[str(path)]))
    path.unlink()
    with pytest.raises(UserError, match=r"gone.jsonl: file not found"):
        list(iter_documents(DocumentInput(paths=[str(tmp_path)]), files=files))


BAD_LINES = [
    (b'{"text": "good one"}', None),
    (b'{"text": broken', "bad_json"),
    (b'["not", "an", "object"]', "not_object"),
    (b'{"sku": "A1", "body": "x"}', "missing_text"),
    (b'{"text": "cut emoji \\ud83d here"}', "bad_text"),
    (b'{"text": "caf\xe9"}', "bad_utf8"),
    (b'{"text": ["a", "list"]}', "bad_text"),
    (b'{"text": "last good", "id": "z"}', None),
]


def test_skip_yields_bad_records_with_reasons_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(line for line, _ in BAD_LINES) + b"\n")
    items = list(iter_documents(DocumentInput(paths=[str(path)]), on_error="skip"))
    assert [getattr(i, "reason", None) for i in items] == [reason for _, reason in BAD_LINES]
    bad = [i for i in items if isinstance(i, BadRecord)]
    assert [b.line for b in bad] == [2, 3, 4, 5, 6, 7]
    assert all(b.source == path for b in bad)
    assert bad[3].raw == '{"text": "cut emoji \\ud83d here"}' and "surrogate" in bad[3].detail
    assert bad[4].raw == '{"text": "caf\\xe9"}'  # the bad byte stays visible in the rejects file
    assert "fields present: sku, body" in bad[2].detail
    assert bad[0].detail == "Expecting value at column 10"  # the column on the line, not past its end
    assert [i.text for i in items if isinstance(i, Document)] == ["good one", "last good"]


def test_raise_names_file_line_fields_present_and_the_flag(tmp_path: Path) -> None:
    path = tmp_path / "general.jsonl"
    path.write_text('{"id": "g1", "body": "The river."}\n')
    spec = DocumentInput(paths=[str(path)], text_fields=["description"])
    with pytest.raises(UserError) as caught:
        list(iter_documents(spec))
    message = str(caught.value)
    assert message.startswith(f"{path}:1: missing_text: record has no text field 'description' "
                              "(fields present: id, body); pass --text-field")
    assert "\n" not in message and "--on-error" not in message
    path.write_text('{"text": "a \\udc00 b"}\n')
    with pytest.raises(UserError, match=rf"{path}:1: bad_text: field 'text': lone surrogate"):
        list(iter_documents(DocumentInput(paths=[str(path)])))


def test_lone_surrogates_in_parquet_and_csv_rows_are_rejected_too(tmp_path: Path) -> None:
    rows = [{"text": "fine"}, {"text": "broken \ud83d"}]
    parquet = tmp_path / "s.parquet"
    pq.write_table(pa.table({"text": pa.array([r["text"].encode("utf-8", "surrogatepass") for r in rows],
                                              pa.binary())}), parquet)
    items = list(iter_documents(DocumentInput(paths=[str(parquet)]), on_error="skip"))
    assert isinstance(items[0], Document) and items[0].text == "fine"
    assert isinstance(items[1], BadRecord) and items[1].reason == "bad_text" and items[1].line == 2


def test_csv_rows_with_too_many_fields_are_rejected_and_short_rows_read(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("id,text,url\n1,one,u\n2,two,u,extra\n3,three\n")
    items = list(iter_documents(DocumentInput(paths=[str(path)]), on_error="skip"))
    assert [getattr(i, "reason", None) for i in items] == [None, "bad_row", None]
    assert (items[2].text, items[2].url, items[1].line) == ("three", None, 3)


def test_clean_text_rejects_what_has_no_faithful_text_and_repairs_the_rest() -> None:
    assert clean_text("plain") == "plain"
    assert clean_text("a\x00b\x00") == "ab"
    assert clean_text(json.loads('"\\ud83d\\ude00"')) == "😀"  # a whole surrogate pair is a character
    assert clean_text(19.5) == "19.5" and clean_text(7) == "7"
    assert clean_text("café".encode()) == "café"
    for bad in ("x\ud83d", "\udfff", b"caf\xe9", True, ["a"], {"a": 1}, float("nan"), None):
        with pytest.raises(ValueError):
            clean_text(bad)


def test_bad_optional_fields_are_reasons_not_crashes(tmp_path: Path) -> None:
    path = tmp_path / "o.jsonl"
    path.write_text('{"text": "a", "language_score": "high"}\n{"text": "b", "id": [1]}\n'
                    '{"text": "c", "url": "http://x/\\ud800"}\n{"text": "d", "language_score": "0.25"}\n')
    items = list(iter_documents(DocumentInput(paths=[str(path)]), on_error="skip"))
    assert [getattr(i, "reason", None) for i in items] == ["bad_language_score", "bad_id", "bad_url", None]
    assert items[3].language_score == 0.25


def test_unknown_policy_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="on_error"):
        list(iter_documents(DocumentInput(paths=[str(tmp_path)]), on_error="ignore"))  # type: ignore[arg-type]
