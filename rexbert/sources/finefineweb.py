"""Reader for a web corpus in the FineFineWeb layout.

Layout: `root/<domain>/<domain>_NNNNNN.<ext>` with `<ext>` one of `jsonl`, `jsonl.gz`,
`jsonl.zst` or `parquet`; each record has the fields `text, url, domain, language_score, id`
(extra fields are kept). This is the layout of FineFineWeb (m-a-p/FineFineWeb) and of the demo
corpus that `rexbert demo-data` writes.

Every record is validated. A malformed one either stops the run with `file:line: reason`
(`on_error="raise"`, the default) or is counted and written to a rejects file
(`on_error="skip"`); nothing is dropped silently. For parquet, `line` is the 1-based row number.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import re
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from rexbert.errors import UserError
from rexbert.sources.hub import load_hub_dataset, looks_like_hub_id
from rexbert.sources.rejects import RejectLog, check_on_error

log = logging.getLogger(__name__)

FINEFINEWEB_FIELDS = ("text", "url", "domain", "language_score", "id")
SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".parquet")
_SHARD_NAME = re.compile(r"^(?P<domain>.+)_(?P<index>\d{6})(?P<suffix>\.jsonl(\.gz|\.zst)?|\.parquet)$")


class MalformedRecord(Exception):
    """One record that does not follow the schema.

    `reason` is short and machine-readable (`bad_json`, `bad_utf8`, `not_object`,
    `missing_<field>`, `bad_<field>`); `detail` says what was found.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


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
            match = _SHARD_NAME.match(file.name)
            if file.is_file() and match and match.group("domain") == domain_dir.name:
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


def open_text_lines(path: str | Path) -> Iterator[tuple[int, bytes]]:
    """Yield `(line_number, raw_line)` from a `.jsonl`, `.jsonl.gz` or `.jsonl.zst` file.

    Line numbers are 1-based and count every line, so they match `sed -n Np`. A truncated or
    corrupt compressed file is a `UserError` naming the file and the last good line.
    """
    path = Path(path)
    name = path.name
    number = 0
    try:
        with path.open("rb") as raw_handle:
            if name.endswith(".gz"):
                handle: Iterable[bytes] = gzip.GzipFile(fileobj=raw_handle)
            elif name.endswith(".zst"):
                import zstandard

                reader = zstandard.ZstdDecompressor().stream_reader(raw_handle)
                handle = io.BufferedReader(reader)  # type: ignore[arg-type]
            else:
                handle = raw_handle
            for number, line in enumerate(handle, start=1):
                yield number, line
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except (OSError, EOFError, zlib.error) as err:
        raise UserError(f"{path}:{number + 1}: cannot decompress ({err}); the file is truncated or corrupt, re-download it") from err
    except Exception as err:
        if type(err).__name__ == "ZstdError":
            raise UserError(f"{path}:{number + 1}: cannot decompress ({err}); the file is truncated or corrupt, re-download it") from err
        raise


def validate_record(record: Any) -> dict[str, Any]:
    """Check one decoded record against the FineFineWeb schema; return it with `id` as a string."""
    if not isinstance(record, dict):
        raise MalformedRecord("not_object", f"expected a JSON object, got {type(record).__name__}")
    for field in FINEFINEWEB_FIELDS:
        if record.get(field) is None:
            raise MalformedRecord(f"missing_{field}", f"field '{field}' is missing or null")
    text = record["text"]
    if isinstance(text, bytes):
        try:
            text = record["text"] = text.decode("utf-8")
        except UnicodeDecodeError as err:
            raise MalformedRecord("bad_utf8", f"text is not UTF-8 ({err.reason} at byte {err.start})") from None
    for field in ("text", "url", "domain"):
        if not isinstance(record[field], str):
            raise MalformedRecord(f"bad_{field}", f"'{field}' must be a string, got {type(record[field]).__name__}")
    score = record["language_score"]
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0.0 <= float(score) <= 1.0:
        raise MalformedRecord("bad_language_score", f"'language_score' must be a number in [0, 1], got {score!r}")
    if isinstance(record["id"], bool) or not isinstance(record["id"], (str, int)):
        raise MalformedRecord("bad_id", f"'id' must be a string or integer, got {type(record['id']).__name__}")
    record["id"] = str(record["id"])
    return record


def parse_record(raw: bytes) -> dict[str, Any]:
    """Decode and validate one FineFineWeb JSON line; raise `MalformedRecord` if it is not valid."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise MalformedRecord("bad_utf8", f"{err.reason} at byte {err.start}") from None
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        raise MalformedRecord("bad_json", f"{err.msg} at column {err.colno}") from None
    return validate_record(record)


def _iter_raw(path: Path) -> Iterator[tuple[int, Any, bytes | str]]:
    """Yield `(line, parsed_or_MalformedRecord, raw)` for every non-blank record of one shard."""
    if path.name.endswith(".parquet"):
        yield from _iter_parquet(path)
        return
    for number, raw in open_text_lines(path):
        if not raw.strip():
            continue  # a blank line holds no record: nothing is lost by passing it
        try:
            yield number, parse_record(raw), raw
        except MalformedRecord as bad:
            yield number, bad, raw


def _iter_parquet(path: Path) -> Iterator[tuple[int, Any, bytes | str]]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except Exception as err:
        raise UserError(f"{path}: not a readable parquet file ({err}); re-download or rewrite it") from err
    columns = parquet.schema_arrow.names
    missing = [field for field in FINEFINEWEB_FIELDS if field not in columns]
    if missing:
        # A missing column is a file-level schema error, not a bad row: skipping would drop
        # every row, so both policies stop here.
        raise UserError(f"{path}: missing column(s) {', '.join(missing)}; a FineFineWeb shard needs "
                        f"{', '.join(FINEFINEWEB_FIELDS)} (found {', '.join(columns)})")
    number = 0
    for batch in parquet.iter_batches(batch_size=2048):
        for row in batch.to_pylist():
            number += 1
            try:
                yield number, validate_record(row), ""
            except MalformedRecord as bad:
                yield number, bad, json.dumps(row, ensure_ascii=False, default=repr)


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
    if not path.name.endswith(SUFFIXES):
        raise UserError(f"{path}: unsupported file type; use one of {', '.join(SUFFIXES)}")
    own_log = not isinstance(rejects, RejectLog)
    reject_log = RejectLog(rejects) if own_log else rejects  # type: ignore[arg-type]
    before = reject_log.total
    try:
        for number, parsed, raw in _iter_raw(path):
            if isinstance(parsed, MalformedRecord):
                if on_error == "raise":
                    raise UserError(f"{path}:{number}: {parsed.reason}: {parsed.detail}; fix the record, "
                                    "or pass --on-error skip to write bad records to a rejects file")
                reject_log.add(path, number, parsed.reason, parsed.detail, raw)
                continue
            yield parsed
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
                raise UserError(f"{hub_id}:{number}: {bad.reason}: {bad.detail}; "
                                "pass --on-error skip to write bad records to a rejects file") from None
            reject_log.add(hub_id, number, bad.reason, bad.detail, json.dumps(dict(row), default=repr))
            continue
        if wanted is None or record["domain"] in wanted:
            yield record
