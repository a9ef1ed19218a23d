"""Where skipped records go: a per-reason count and, optionally, a JSONL file of the records.

The readers never drop a record silently. With `on_error="raise"` the first bad record stops the
run with `file:line: reason`; with `on_error="skip"` it is handed to a `RejectLog`, which counts it
by reason and appends it to a rejects file so that a user can inspect and repair it.

Each line of a rejects file is a JSON object:
`{"file": str, "line": int, "reason": str, "detail": str, "raw": str}` where `raw` is the
original line (undecodable bytes written as `\\xNN` escapes) or the row as JSON for parquet.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Literal

from rexbert.errors import UserError
from rexbert.sources.documents import BadRecord, Document

log = logging.getLogger(__name__)

OnError = Literal["raise", "skip"]
ON_ERROR_CHOICES = ("raise", "skip")


def check_on_error(on_error: str) -> None:
    """Refuse an unknown `on_error` policy with the accepted values."""
    if on_error not in ON_ERROR_CHOICES:
        raise UserError(f"on_error={on_error!r} is not valid; use one of {', '.join(ON_ERROR_CHOICES)}")


class RejectLog:
    """Counts skipped records by reason and appends them to `path` (if given) as JSONL.

    Use as a context manager, or call `close()`. One log can be shared by several readers, so a
    whole corpus produces a single rejects file and a single count table.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.counts: Counter[str] = Counter()
        self._handle: IO[str] | None = None

    @property
    def total(self) -> int:
        """How many records were rejected so far."""
        return sum(self.counts.values())

    def add(self, file: str | Path, line: int, reason: str, detail: str, raw: bytes | str) -> None:
        """Record one rejected record (counted always, written when the log has a path)."""
        self.counts[reason] += 1
        if self.path is None:
            return
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("a", encoding="utf-8")
        if isinstance(raw, bytes):
            # backslashreplace keeps the exact bad bytes visible instead of losing them.
            raw = raw.decode("utf-8", errors="backslashreplace")
        entry = {"file": str(file), "line": line, "reason": reason, "detail": detail, "raw": raw.rstrip("\n")}
        self._handle.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def reject(self, bad: BadRecord) -> None:
        """Record one `BadRecord` from the document reader."""
        self.add(bad.source, bad.line, bad.reason, bad.detail, bad.raw)

    def summary(self) -> str:
        """One line such as `3 rejected (bad_json: 2, missing_text: 1) -> rejects.jsonl`."""
        parts = ", ".join(f"{reason}: {n}" for reason, n in sorted(self.counts.items()))
        where = f" -> {self.path}" if self.path is not None else ""
        return f"{self.total} rejected ({parts}){where}" if self.total else "0 rejected"

    def close(self) -> None:
        """Flush and close the rejects file."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> RejectLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def readable_documents(items: Iterable[Document | BadRecord], log: RejectLog) -> Iterator[Document]:
    """The documents among `items` (the reader's output with on_error="skip"); every `BadRecord`
    goes to `log` with its reason.

    A file that holds records but gives not one document, some of them missing their text field,
    stops with that record's error instead: the field mapping does not fit the file (the error
    lists the fields present and says to pass --text-field), and rejecting every record would
    hide that.
    """
    current: object = None
    documents, missing = 0, None
    for item in items:
        if item.source != current:
            _check_mapping(documents, missing)
            current, documents, missing = item.source, 0, None
        if isinstance(item, BadRecord):
            log.reject(item)
            if missing is None and item.reason == "missing_text":
                missing = item
            continue
        documents += 1
        yield item
    _check_mapping(documents, missing)


def _check_mapping(documents: int, missing: BadRecord | None) -> None:
    if documents == 0 and missing is not None:
        raise missing.user_error()
