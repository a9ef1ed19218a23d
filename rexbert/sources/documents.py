"""The one reader of documents for every stage that reads text (curate, tokenizer, shards, spans,
evaluate mlm, run): files or folders of JSONL / JSONL.gz / JSONL.zst / parquet / CSV / TSV with a
field mapping.

    DocumentInput(paths=["products.jsonl"], text_fields=["title", "description"], domain="ecommerce")

A document's text is its text fields joined in order (blank parts left out); its id is the id
field, or a stable id made from the file and row when there is none; its domain is `domain`, the
value of `domain_field`, or the FineFineWeb folder layout (`<root>/<domain>/<domain>_NNNNNN.jsonl`)
— in that order. `url` and `language_score` are read when present and optional everywhere.

Every record passes through `clean_text` (the one place text is validated: lone surrogates,
NUL bytes, non-strings); a bad record is either an error naming `file:line` (on_error="raise")
or a `BadRecord` handed to the caller to reject with a reason (on_error="skip").
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from rexbert.config import ConfigModel

SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json.gz", ".parquet", ".csv", ".tsv")


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
    `bad_text`, …), `detail` says what was found, `source`/`line` where."""

    def __init__(self, reason: str, detail: str, source: Path, line: int) -> None:
        super().__init__(f"{source}:{line}: {reason}: {detail}")
        self.reason, self.detail, self.source, self.line = reason, detail, source, line


def clean_text(value: Any) -> str:
    """The text of a record as valid UTF-8 text, or ValueError saying why it cannot be."""
    raise NotImplementedError


def list_files(spec: DocumentInput) -> list[tuple[Path, str | None]]:
    """Every document file of `spec`, in a stable order, with the domain its path implies."""
    raise NotImplementedError


def iter_documents(spec: DocumentInput, on_error: Literal["raise", "skip"] = "raise",
                   files: list[tuple[Path, str | None]] | None = None) -> Iterator[Document | BadRecord]:
    """Yield the documents of `spec` in file order (or of `files`, a subset of `list_files`).

    With on_error="raise" a bad record is a `UserError` naming file:line and the fix; with
    "skip" it is yielded as a `BadRecord` for the caller to count and write out.
    """
    raise NotImplementedError
