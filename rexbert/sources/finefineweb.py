"""The FineFineWeb schema and folder layout, on top of the one document reader.

Layout: `root/<domain>/<domain>_NNNNNN.<ext>` with `<ext>` one of `jsonl`, `jsonl.gz`,
`jsonl.zst` or `parquet`; each record has the fields `text, url, domain, language_score, id`
(extra fields are kept). This is the layout of FineFineWeb (m-a-p/FineFineWeb) and of the demo
corpus that `rexbert demo-data` writes. Files are read by `rexbert.sources.documents`; this
module adds what is FineFineWeb's own: the five required fields, the domain listing of a corpus
folder, and streaming the corpus from the hub.

Every record is validated. A malformed one either stops the run with `file:line: reason`
(`on_error="raise"`, the default) or is counted and written to a rejects file
(`on_error="skip"`); nothing is dropped silently. For parquet, `line` is the 1-based row number.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from rexbert.errors import UserError
from rexbert.sources.documents import (
    MalformedRecord,
    clean_text,
    decode_json_line,
    is_document_file,
    layout_domain,
    open_text_lines,
    raw_text,
    read_records,
)
from rexbert.sources.hub import load_hub_dataset, looks_like_hub_id
from rexbert.sources.rejects import RejectLog, check_on_error

log = logging.getLogger(__name__)

FINEFINEWEB_FIELDS = ("text", "url", "domain", "language_score", "id")
SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".parquet")

# MalformedRecord and open_text_lines live in the document reader; they are named here too because
# FineFineWeb-schema readers use them together with parse_record.
__all__ = ["FINEFINEWEB_FIELDS", "MalformedRecord", "iter_corpus", "iter_records", "list_domain_files",
           "open_text_lines", "parse_record", "validate_record"]


def list_domain_files(root: str | Path) -> dict[str, list[Path]]:
    """Map each domain folder under `root` to its shard files, sorted by shard number.

    A shard is `root/<domain>/<domain>_NNNNNN.{jsonl,jsonl.gz,jsonl.zst,parquet}`. Files that do
    not follow the naming are ignored (with a warning per folder, so that a typo is visible).
    Raises `UserError` if `root` is missing or holds no shard at all.
    """
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"{root}: corpus folder not found; pass a folder laid out as <domain>/<domain>_000000.jsonl")
    found: dict[str, list[Path]] = {}
    for domain_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        shards, ignored = [], []
        for file in sorted(domain_dir.iterdir()):
            if file.is_file() and file.name.endswith(SUFFIXES) and layout_domain(file) == domain_dir.name:
                shards.append(file)
            elif not file.name.startswith("."):
                ignored.append(file.name)
        if ignored:
            log.warning("%s: ignoring %d file(s) not named %s_NNNNNN.{jsonl,jsonl.gz,jsonl.zst,parquet}: %s",
                        domain_dir, len(ignored), domain_dir.name, ", ".join(ignored[:3]))
        if shards:
            found[domain_dir.name] = shards
    if not found:
        raise UserError(
            f"{root}: no corpus shards found; expected files like {root}/<domain>/<domain>_000000.jsonl "
            "(or .jsonl.gz, .jsonl.zst, .parquet)"
        )
    return found


def validate_record(record: Any) -> dict[str, Any]:
    """Check one decoded record against the FineFineWeb schema; return it with `id` as a string.

    The text goes through `clean_text`, the one validation every reader shares (a lone surrogate
    is `bad_text`; NUL characters are removed).
    """
    if not isinstance(record, dict):
        raise MalformedRecord("not_object", f"expected a JSON object, got {type(record).__name__}")
    for name in FINEFINEWEB_FIELDS:
        if record.get(name) is None:
            raise MalformedRecord(f"missing_{name}", f"field '{name}' is missing or null")
    if isinstance(record["text"], (bytes, bytearray)):
        try:
            record["text"] = bytes(record["text"]).decode("utf-8")
        except UnicodeDecodeError as err:
            raise MalformedRecord("bad_utf8", f"text is not UTF-8 ({err.reason} at byte {err.start})") from None
    for name in ("text", "url", "domain"):
        if not isinstance(record[name], str):
            raise MalformedRecord(f"bad_{name}", f"'{name}' must be a string, got {type(record[name]).__name__}")
        try:
            record[name] = clean_text(record[name])
        except ValueError as err:
            raise MalformedRecord(f"bad_{name}", f"'{name}': {err}") from None
    score = record["language_score"]
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0.0 <= float(score) <= 1.0:
        raise MalformedRecord("bad_language_score", f"'language_score' must be a number in [0, 1], got {score!r}")
    if isinstance(record["id"], bool) or not isinstance(record["id"], (str, int)):
        raise MalformedRecord("bad_id", f"'id' must be a string or integer, got {type(record['id']).__name__}")
    record["id"] = str(record["id"])
    return record


def parse_record(raw: bytes) -> dict[str, Any]:
    """Decode and validate one FineFineWeb JSON line; raise `MalformedRecord` if it is not valid."""
    return validate_record(decode_json_line(raw))


def _check_columns(path: Path, columns: list[str]) -> None:
    missing = [name for name in FINEFINEWEB_FIELDS if name not in columns]
    if missing:
        # A missing column is a file-level schema error, not a bad row: skipping would drop
        # every row, so both policies stop here.
        raise UserError(f"{path}: missing column(s) {', '.join(missing)}; a FineFineWeb shard needs "
                        f"{', '.join(FINEFINEWEB_FIELDS)} (found {', '.join(columns)})")


def iter_records(
    path: str | Path,
    on_error: str = "raise",
    rejects: RejectLog | str | Path | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield validated records from one shard (`.jsonl`, `.jsonl.gz`, `.jsonl.zst`, `.parquet`).

    `on_error="raise"`: the first malformed record raises `UserError("file:line: reason ...")`.
    `on_error="skip"`: malformed records are counted and written to `rejects` (a `RejectLog`
    shared across files, or a path to append JSONL to). Without a rejects log the count is
    still logged as a warning at the end of the file.
    """
    check_on_error(on_error)
    path = Path(path)
    if not path.name.endswith(SUFFIXES) or not is_document_file(path):
        raise UserError(f"{path}: unsupported file type; use one of {', '.join(SUFFIXES)}")
    own_log = not isinstance(rejects, RejectLog)
    reject_log = RejectLog(rejects) if own_log else rejects  # type: ignore[arg-type]
    before = reject_log.total
    try:
        for number, record, raw in read_records(path, _check_columns):
            try:
                if isinstance(record, MalformedRecord):
                    raise record
                yield validate_record(record)
            except MalformedRecord as bad:
                if on_error == "raise":
                    raise UserError(f"{path}:{number}: {bad.reason}: {bad.detail}; fix or remove the record, "
                                    "or read with on_error='skip' to write bad records to a rejects file") from None
                reject_log.add(path, number, bad.reason, bad.detail, raw_text(record, raw))
    finally:
        skipped = reject_log.total - before
        if skipped:
            log.warning("%s: skipped %d malformed record(s)%s", path, skipped,
                        f", written to {reject_log.path}" if reject_log.path else "")
        if own_log:
            reject_log.close()


def iter_corpus(
    source: str | Path,
    domains: Iterable[str] | None = None,
    on_error: str = "raise",
    rejects: RejectLog | str | Path | None = None,
    split: str = "train",
) -> Iterator[dict[str, Any]]:
    """Yield validated records of a whole corpus: a local FineFineWeb-layout folder or a hub id.

    A local folder is read domain by domain, shard by shard, in sorted order. An `owner/name`
    that is not a local path is streamed through `datasets` (network needed; offline this is a
    `UserError` that says to pass a local folder). `domains` restricts the domains read.
    """
    check_on_error(on_error)
    wanted = set(domains) if domains is not None else None
    own_log = not isinstance(rejects, RejectLog)
    reject_log = RejectLog(rejects) if own_log else rejects  # type: ignore[arg-type]
    try:
        if looks_like_hub_id(source):
            yield from _iter_hub(str(source), wanted, on_error, reject_log, split)
            return
        files = list_domain_files(source)
        if wanted is not None:
            unknown = sorted(wanted - set(files))
            if unknown:
                raise UserError(f"{source}: no such domain(s) {', '.join(unknown)}; available: {', '.join(sorted(files))}")
        for domain, shards in files.items():
            if wanted is not None and domain not in wanted:
                continue
            for shard in shards:
                yield from iter_records(shard, on_error=on_error, rejects=reject_log)
    finally:
        if own_log:
            reject_log.close()


def _iter_hub(hub_id: str, wanted: set[str] | None, on_error: str, reject_log: RejectLog,
              split: str) -> Iterator[dict[str, Any]]:
    dataset = load_hub_dataset(hub_id, split=split, streaming=True)
    for number, row in enumerate(dataset, start=1):
        try:
            record = validate_record(dict(row))
        except MalformedRecord as bad:
            if on_error == "raise":
                raise UserError(f"{hub_id}:{number}: {bad.reason}: {bad.detail}; fix or remove the record, "
                                "or read with on_error='skip' to write bad records to a rejects file") from None
            reject_log.add(hub_id, number, bad.reason, bad.detail, json.dumps(dict(row), default=repr))
            continue
        if wanted is None or record["domain"] in wanted:
            yield record
