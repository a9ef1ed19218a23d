"""The one reader of documents for every stage that reads text (curate, tokenizer, shards, spans,
evaluate mlm, run): files or folders of JSONL / JSONL.gz / JSONL.zst / parquet / CSV / TSV with a
field mapping.

    DocumentInput(paths=["products.jsonl"], text_fields=["title", "description"], domain="ecommerce")

A document's text is its text fields joined in order with a newline (blank parts left out); its id
is the id field, or a stable id made from the file (relative to its input root) and row when there
is none; its domain is `domain`, the NAME of a `NAME=PATH` input, the value of `domain_field`, or
the FineFineWeb folder layout (`<root>/<domain>/<domain>_NNNNNN.jsonl`, or a root folder of domain
sub-folders) — in that order. `url` and `language_score` are read when present and optional
everywhere.

Every record passes through `clean_text` (the one place text is validated: lone surrogates,
NUL bytes, non-strings); a bad record is either an error naming `file:line` (on_error="raise")
or a `BadRecord` handed to the caller to reject with a reason (on_error="skip"). A problem with a
whole file (truncated archive, unreadable parquet, a CSV that is not UTF-8, no text column at all,
a missing file) is always a one-line `UserError`: skipping it would drop every record in silence.

Formats: `.jsonl` and `.json.gz` (one JSON object per line; `.json.gz` is how many web corpora
name gzipped JSON Lines), `.jsonl.gz`, `.jsonl.zst`, `.parquet`, and `.csv` / `.tsv` with a
header row (RFC 4180 quoting, as pandas and spreadsheets write them). Line numbers count every
line of the file from 1 (parquet: the 1-based row), so they match `sed -n Np`.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import os
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from rexbert.config import ConfigModel
from rexbert.config.flags import Flag
from rexbert.errors import UserError

SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json.gz", ".parquet", ".csv", ".tsv")
OUTPUT_MARKER = ".rexbert-output.json"  # rexbert.outputs.MARKER: an output folder's ownership file
_JSON_LINES = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json.gz")
_NAMED = re.compile(r"^(?P<name>[A-Za-z0-9][\w.+-]*)=(?P<path>.+)$")
_SHARD_STEM = re.compile(r"^(?P<domain>.+)_\d{6}$")
_TEXT_FIX = "pass --text-field with the field(s) that hold the text, e.g. --text-field title,description"
_FIXES = {
    "bad_json": "fix or remove the line",
    "bad_utf8": "re-encode the file as UTF-8 or remove the line",
    "not_object": "each line must be one JSON object",
    "missing_text": _TEXT_FIX,
    "bad_text": "fix the text of the record or remove it",
    "bad_row": "fix the quoting of that row (a field holding the delimiter must be quoted)",
}


class DocumentInput(ConfigModel):
    """Where documents come from and which fields hold what."""

    paths: list[str] = Field(min_length=1, description="files or folders of .jsonl[.gz|.zst], "
                             ".parquet, .csv or .tsv; NAME=PATH sets the domain of that path's documents")
    text_fields: list[str] = Field(default_factory=lambda: ["text"], min_length=1,
                                   description="field(s) holding the text, joined in order "
                                               "(e.g. title,description)")
    id_field: str = Field("id", description="field holding a document id; made stably from the file "
                                            "and row when the field is absent")
    domain: str | None = Field(None, description="domain of every document (otherwise from "
                                                 "--domain-field or the <domain>/ folder layout)")
    domain_field: str | None = Field(None, description="field holding each document's domain")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        # A bare path or list of paths in a YAML file means "these files, default fields".
        if isinstance(data, (str, Path)):
            return {"paths": [str(data)]}
        if isinstance(data, list):
            return {"paths": [str(p) for p in data]}
        return data


@dataclass
class Document:
    """One record, with where it came from (for `file:line` messages and rejects)."""

    text: str
    id: str
    domain: str | None
    source: Path
    line: int
    url: str | None = None
    language_score: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class BadRecord(Exception):
    """A record that cannot become a document: `reason` is short (`bad_json`, `missing_text`,
    `bad_text`, …), `detail` says what was found, `source`/`line` where; `raw` is the record as
    read (the line, or the row as JSON), for a rejects file."""

    def __init__(self, reason: str, detail: str, source: Path, line: int, raw: str = "") -> None:
        super().__init__(f"{source}:{line}: {reason}: {detail}")
        self.reason, self.detail, self.source, self.line = reason, detail, source, line
        self.raw = raw

    def user_error(self) -> UserError:
        """The one-line error for this record: where, what, and how to fix it."""
        fix = _FIXES.get(self.reason, "fix or remove the record")
        return UserError(f"{self.source}:{self.line}: {self.reason}: {self.detail}; {fix}")


class MalformedRecord(ValueError):
    """A problem with one record, before it is known where it sits (`reason`, `detail`)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


# --------------------------------------------------------------------------- text validation

def clean_text(value: Any) -> str:
    """The text of a record as valid UTF-8 text, or ValueError saying why it cannot be.

    Rejected (no faithful text exists): a lone UTF-16 surrogate (JSON `"\\ud83d"` without its
    pair — half of a character cut off upstream; a replacement character would hide that the text
    was damaged, and tokenizers, fastText and UTF-8 writers all fail on it), bytes that are not
    UTF-8, booleans, lists and objects (no single text form), NaN and infinities.
    Repaired: NUL characters are removed (they carry no text, and C-string tools such as
    fastText's reader stop at them); integers and finite floats become their decimal text, so a
    `price` column can be one of the text fields.
    """
    if isinstance(value, str):
        text = value
    elif isinstance(value, (bytes, bytearray)):
        try:
            text = bytes(value).decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"not UTF-8 ({err.reason} at byte {err.start})") from None
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected text, got {type(value).__name__}")
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"expected text, got the number {value!r}")
    else:
        text = str(value)
    try:
        if not text.isascii():
            text.encode("utf-8")
    except UnicodeEncodeError as err:
        bad = text[err.start]
        raise ValueError(f"lone surrogate {bad!r} at character {err.start} (half of a UTF-16 pair: "
                         "the text was cut or mis-encoded upstream)") from None
    return text.replace("\x00", "") if "\x00" in text else text


def _absent(value: Any) -> bool:
    # None, and NaN as pandas writes a missing cell, mean "no value".
    return value is None or (isinstance(value, float) and math.isnan(value))


def _field_text(record: dict[str, Any], name: str, reason: str) -> str | None:
    value = record.get(name)
    if _absent(value):
        return None
    try:
        text = clean_text(value)
    except ValueError as err:
        raise MalformedRecord(reason, f"field '{name}': {err}") from None
    return text if text.strip() else None


def join_text(record: dict[str, Any], text_fields: Sequence[str]) -> str:
    """The text fields of `record` that it has, joined in order with "\\n" (blank ones left out).

    A record with none of the fields is `MalformedRecord("missing_text")` listing the fields it
    has; one whose fields are all blank gives "" (an empty document, for the caller to count).
    """
    if not any(not _absent(record.get(name)) for name in text_fields):
        present = ", ".join(map(str, record)) or "none"
        wanted = ", ".join(f"'{name}'" for name in text_fields)
        raise MalformedRecord("missing_text", f"record has no text field {wanted} (fields present: {present})")
    parts = [_field_text(record, name, "bad_text") for name in text_fields]
    return "\n".join(part for part in parts if part is not None)


def _score(record: dict[str, Any]) -> float | None:
    value = record.get("language_score")
    if _absent(value) or value == "":
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        score = float(value)  # CSV cells are text: "0.91"
    except (TypeError, ValueError):
        raise MalformedRecord("bad_language_score", f"'language_score' must be a number, got {value!r}") from None
    if not 0.0 <= score <= 1.0:
        raise MalformedRecord("bad_language_score", f"'language_score' must lie in [0, 1], got {value!r}")
    return score


def _record_id(record: dict[str, Any], id_field: str) -> str | None:
    value = record.get(id_field)
    if isinstance(value, bool) or not (_absent(value) or isinstance(value, (str, int))):
        raise MalformedRecord("bad_id", f"'{id_field}' must be a string or integer, got {type(value).__name__}")
    return _field_text(record, id_field, "bad_id")


# --------------------------------------------------------------------------- files

def is_document_file(path: Path) -> bool:
    """Whether `path` is a file this module reads (by suffix; hidden files and markers are not)."""
    name = path.name
    return not name.startswith(".") and name != OUTPUT_MARKER and name.endswith(SUFFIXES)


def suffix_of(path: Path) -> str:
    """The document suffix of `path` (`.jsonl.gz`, `.parquet`, …), or "" when it has none."""
    return next((s for s in sorted(SUFFIXES, key=len, reverse=True) if path.name.endswith(s)), "")


def layout_domain(path: Path) -> str | None:
    """`<domain>` for a file named `<domain>/<domain>_NNNNNN.<ext>` (the FineFineWeb layout)."""
    suffix = suffix_of(path)
    match = _SHARD_STEM.match(path.name[: len(path.name) - len(suffix)]) if suffix else None
    return match["domain"] if match and match["domain"] == path.parent.name else None


def split_named(value: str) -> tuple[str | None, Path]:
    """`NAME=PATH` → (NAME, PATH); a plain path (even an existing one holding '=') → (None, PATH)."""
    match = _NAMED.match(value)
    if match and not Path(value).exists():
        return match["name"], Path(match["path"])
    return None, Path(value)


def _walk(folder: Path) -> list[Path]:
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [Path(root, name) for name in files if is_document_file(Path(name))]
    return sorted(found, key=lambda p: p.relative_to(folder).parts)


def _files_of(value: str, name: str | None, path: Path) -> list[tuple[Path, str | None]]:
    kinds = ", ".join(SUFFIXES)
    if not path.exists():
        raise UserError(f"--input {value}: {path} does not exist; pass a file or folder of {kinds}")
    if path.is_file():
        if not is_document_file(path):
            raise UserError(f"--input {value}: {path} is not a document file; use one of {kinds}")
        return [(path, name or layout_domain(path))]
    files = _walk(path)
    if not files:
        raise UserError(f"--input {value}: no document files ({kinds}) under {path}")
    # A root holding only sub-folders is a folder of domains (FineFineWeb, curate's kept/).
    by_folder = all(p.parent != path for p in files)
    return [(p, name or layout_domain(p) or (p.relative_to(path).parts[0] if by_folder else None))
            for p in files]


def list_files(spec: DocumentInput) -> list[tuple[Path, str | None]]:
    """Every document file of `spec`, in a stable order, with the domain its path implies."""
    found: list[tuple[Path, str | None]] = []
    seen: set[Path] = set()
    for value in spec.paths:
        name, path = split_named(value)
        for file, domain in _files_of(value, name, path):
            if file.resolve() not in seen:
                seen.add(file.resolve())
                found.append((file, domain))
    return found


def holding_input(spec: DocumentInput, path: Path) -> str | None:
    """The value of `spec.paths` (`PATH` or `NAME=PATH`) that `path` was listed from, if any."""
    resolved = path.resolve()
    for value in spec.paths:
        root = split_named(value)[1].resolve()
        if root == resolved or (root.is_dir() and resolved.is_relative_to(root)):
            return value
    return None


def input_root(spec: DocumentInput, path: Path) -> tuple[Path, str | None]:
    """The input folder of `spec` that holds `path` (a file input: its folder) and its NAME."""
    value = holding_input(spec, path)
    if value is None:
        return path.resolve().parent, None
    name, root = split_named(value)
    root = root.resolve()
    return (root.parent if root.is_file() else root), name


# --------------------------------------------------------------------------- raw records

def open_text_lines(path: str | Path) -> Iterator[tuple[int, bytes]]:
    """Yield `(line_number, raw_line)` from a `.jsonl`, `.jsonl.gz`/`.json.gz` or `.jsonl.zst` file.

    Line numbers are 1-based and count every line, so they match `sed -n Np`. A truncated or
    corrupt compressed file is a `UserError` naming the file and the first line it cannot read.
    """
    path = Path(path)
    number = 0
    try:
        with path.open("rb") as raw_handle:
            handle: Iterable[bytes] = raw_handle
            if path.name.endswith(".gz"):
                handle = gzip.GzipFile(fileobj=raw_handle)
            elif path.name.endswith(".zst"):
                handle = _zstd_lines(raw_handle)
            for number, line in enumerate(handle, start=1):
                yield number, line
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except (OSError, EOFError, zlib.error) as err:
        raise _unreadable(path, number, err) from err
    except Exception as err:
        if type(err).__name__ == "ZstdError":
            raise _unreadable(path, number, err) from err
        raise


def _zstd_lines(handle: io.BufferedIOBase) -> Iterator[bytes]:
    """The lines of a zstd stream (one or more frames); EOFError when it ends inside a frame.

    zstandard's `stream_reader` returns a truncated stream's data without any error, so a cut
    download would read as a shorter file; a decompression object says whether its frame ended.
    """
    import zstandard

    decompressor = zstandard.ZstdDecompressor()
    frame, inside, pending = decompressor.decompressobj(), False, b""
    while chunk := handle.read(1 << 20):
        while chunk:
            pending += frame.decompress(chunk)
            inside, chunk = not frame.eof, frame.unused_data if frame.eof else b""
            if frame.eof:
                frame = decompressor.decompressobj()
        *lines, pending = pending.split(b"\n")
        yield from (line + b"\n" for line in lines)
    if inside:
        raise EOFError("the zstd stream ends inside a frame")
    if pending:
        yield pending


def _unreadable(path: Path, number: int, err: BaseException) -> UserError:
    return UserError(f"{path}:{number + 1}: cannot read ({_first_line(err)}); the file is "
                     "truncated or corrupt — re-download or rewrite it")


def decode_json_line(raw: bytes) -> Any:
    """The JSON value of one line; `MalformedRecord` (`bad_utf8`, `bad_json`) when it has none."""
    try:
        line = raw.decode("utf-8").rstrip("\r\n")  # so a message's column is on this line
    except UnicodeDecodeError as err:
        raise MalformedRecord("bad_utf8", f"{err.reason} at byte {err.start}") from None
    try:
        return json.loads(line)
    except json.JSONDecodeError as err:
        raise MalformedRecord("bad_json", f"{err.msg} at column {err.colno}") from None
    except RecursionError:
        raise MalformedRecord("bad_json", "nested too deeply") from None


ColumnCheck = Callable[[Path, list[str]], None]
RawRecord = tuple[int, Any, "bytes | None"]  # (line, record or MalformedRecord, raw line or None)


def _json_lines_records(path: Path) -> Iterator[RawRecord]:
    for number, raw in open_text_lines(path):
        if not raw.strip():
            continue  # a blank line holds no record: nothing is lost by passing it
        try:
            yield number, decode_json_line(raw), raw
        except MalformedRecord as bad:
            yield number, bad, raw


def _parquet_records(path: Path, check_columns: ColumnCheck | None) -> Iterator[RawRecord]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except Exception as err:  # pyarrow raises ArrowInvalid, OSError, … for a damaged file
        raise UserError(f"{path}: not a readable parquet file ({_first_line(err)}); re-download or "
                        "rewrite it") from err
    if check_columns is not None:
        check_columns(path, parquet.schema_arrow.names)
    number = 0
    try:
        for batch in parquet.iter_batches(batch_size=1024):
            for row in batch.to_pylist():
                number += 1
                yield number, row, None
    except (pa.ArrowException, OSError, ValueError) as err:
        raise UserError(f"{path}: row {number + 1}: cannot read ({_first_line(err)}); the file is "
                        "corrupt — re-download or rewrite it") from err


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _utf8_lines(path: Path, counter: list[int]) -> Iterator[str]:
    try:
        with path.open("rb") as handle:
            for counter[0], raw in enumerate(handle, start=1):
                try:
                    yield raw.decode("utf-8")
                except UnicodeDecodeError as err:
                    raise UserError(
                        f"{path}:{counter[0]}: not UTF-8 text ({err.reason}, byte 0x{raw[err.start]:02x} at "
                        f"column {err.start + 1}); re-save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)"
                    ) from None
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None


def _delimited_records(path: Path, check_columns: ColumnCheck | None) -> Iterator[RawRecord]:
    # Web documents are longer than csv's default 128 KiB field limit.
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))
    counter = [0]
    kind = "TSV" if path.name.endswith(".tsv") else "CSV"
    reader = csv.reader(_utf8_lines(path, counter), delimiter="\t" if kind == "TSV" else ",")
    try:
        header = next(reader, None)
        if header is None:
            return
        header = [header[0].removeprefix("\ufeff"), *header[1:]] if header else header
        if check_columns is not None:
            check_columns(path, header)
        previous = reader.line_num
        for row in reader:
            start, previous = previous + 1, reader.line_num
            if not row:
                continue  # a blank line
            if len(row) > len(header):
                bad = MalformedRecord("bad_row", f"{len(row)} fields but the header has {len(header)}")
                yield start, bad, _row_raw(row)
                continue
            # Fewer fields than the header: the missing trailing cells are absent (as spreadsheets
            # write rows whose last cells are empty).
            yield start, dict(zip(header, row, strict=False)), None
    except csv.Error as err:
        raise UserError(f"{path}:{counter[0]}: malformed {kind} ({err}); fix the quoting on that line") from err


def _row_raw(row: Any) -> bytes:
    return json.dumps(row, ensure_ascii=False, default=repr).encode("utf-8", "backslashreplace")


def read_records(path: str | Path, check_columns: ColumnCheck | None = None) -> Iterator[RawRecord]:
    """Yield `(line, record, raw)` for every record of one file, in file order.

    `record` is the decoded value (a dict for a well-formed record) or a `MalformedRecord`; `raw`
    is the line's bytes for JSON Lines, None for tabular files. `check_columns(path, names)` is
    called with the column names of a parquet/CSV/TSV file before its first row. Whole-file
    problems are `UserError`s.
    """
    path = Path(path)
    suffix = suffix_of(path)
    if suffix in _JSON_LINES:
        return _json_lines_records(path)
    if suffix == ".parquet":
        return _parquet_records(path, check_columns)
    if suffix in (".csv", ".tsv"):
        return _delimited_records(path, check_columns)
    raise UserError(f"{path}: unsupported file type; use one of {', '.join(SUFFIXES)}")


def raw_text(record: Any, raw: bytes | None) -> str:
    """The record as read, for a rejects file: the line (bad bytes as `\\xNN`) or the row as JSON."""
    data = raw if raw is not None else _row_raw(record)
    return data.decode("utf-8", errors="backslashreplace").rstrip("\r\n")


# --------------------------------------------------------------------------- documents

def _text_columns(spec: DocumentInput) -> ColumnCheck:
    def check(path: Path, columns: list[str]) -> None:
        # Checked once per tabular file: without any text column every row would be rejected.
        if not any(name in columns for name in spec.text_fields):
            wanted = ", ".join(f"'{name}'" for name in spec.text_fields)
            raise UserError(f"{path}: no text column {wanted} (columns: {', '.join(columns) or 'none'}); "
                            f"{_TEXT_FIX}")
    return check


@dataclass(frozen=True)
class _FileContext:
    spec: DocumentInput
    path: Path
    relative: str  # the file's path below its input root, for generated ids
    name: str | None  # NAME of a NAME=PATH input
    path_domain: str | None
    used: frozenset[str | None]  # fields that become Document attributes, not `extra`

    def document(self, line: int, record: Any) -> Document:
        """The document of one decoded record; `MalformedRecord` when it cannot be one."""
        if not isinstance(record, dict):
            raise MalformedRecord("not_object", f"expected a JSON object, got {type(record).__name__}")
        spec = self.spec
        text = join_text(record, spec.text_fields)
        doc_id = _record_id(record, spec.id_field) or f"{self.relative}:{line}"
        field_domain = _field_text(record, spec.domain_field, "bad_domain") if spec.domain_field else None
        return Document(
            text=text, id=doc_id, domain=spec.domain or self.name or field_domain or self.path_domain,
            source=self.path, line=line, url=_field_text(record, "url", "bad_url"),
            language_score=_score(record), extra={k: v for k, v in record.items() if k not in self.used},
        )


def _context(spec: DocumentInput, path: Path, path_domain: str | None) -> _FileContext:
    root, name = input_root(spec, path)
    resolved = path.resolve()
    relative = resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else path.name
    used = frozenset({*spec.text_fields, spec.id_field, spec.domain_field, "url", "language_score"})
    return _FileContext(spec, path, relative, name, path_domain, used)


def iter_documents(spec: DocumentInput, on_error: Literal["raise", "skip"] = "raise",
                   files: list[tuple[Path, str | None]] | None = None) -> Iterator[Document | BadRecord]:
    """Yield the documents of `spec` in file order (or of `files`, a subset of `list_files`).

    With on_error="raise" a bad record is a `UserError` naming file:line and the fix; with
    "skip" it is yielded as a `BadRecord` for the caller to count and write out.
    """
    if on_error not in ("raise", "skip"):
        raise UserError(f"on_error={on_error!r} is not valid; use one of raise, skip")
    check = _text_columns(spec)
    for path, path_domain in list_files(spec) if files is None else files:
        context = _context(spec, Path(path), path_domain)
        for line, record, raw in read_records(path, check):
            try:
                if isinstance(record, MalformedRecord):
                    raise record
                yield context.document(line, record)
            except MalformedRecord as problem:
                bad = BadRecord(problem.reason, problem.detail, context.path, line, raw_text(record, raw))
                if on_error == "raise":
                    raise bad.user_error() from None
                yield bad


def document_flags(required: bool = True) -> list[Flag]:
    """The flags of a `DocumentInput`, named alike on every command that reads documents:
    `--input`, `--text-field`, `--id-field`, `--domain`, `--domain-field` (for `add_flags`)."""
    return [Flag("paths", name="--input", required=required, metavar="[NAME=]PATH"),
            Flag("text_fields", name="--text-field", metavar="FIELD"), Flag("id_field", metavar="FIELD"),
            Flag("domain", metavar="NAME"), Flag("domain_field", metavar="FIELD")]
