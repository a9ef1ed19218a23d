"""Read documents (a `text` field) from JSONL, JSONL.gz, JSONL.zst and parquet files.

The data stage accepts any folder or file list in these formats: the curated `kept/` shards, a
FineFineWeb-layout folder (`<domain>/<domain>_NNNNNN.jsonl[.gz]`), or a user's own files. Every
document keeps its position (line number or row index) so a bad record is reported as
`file:line` with the fix, never skipped in silence.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path

from rexbert.errors import UserError

SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json.gz", ".parquet")


def is_document_file(path: Path) -> bool:
    """Whether `path` has one of the document-file suffixes this module reads."""
    name = path.name
    return any(name.endswith(suffix) for suffix in SUFFIXES) and not name.startswith(".")


def _open_lines(path: Path) -> io.BufferedIOBase:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rb")
    if path.name.endswith(".zst"):
        import zstandard

        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(path.open("rb")))
    return path.open("rb")


def iter_texts(path: str | Path, text_field: str = "text") -> Iterator[str]:
    """Yield the `text_field` of every record of one file, in file order.

    A malformed JSON line, a record without the field, or a non-string value is a `UserError`
    naming `file:line`; empty strings are yielded (the caller decides how to count them).
    """
    path = Path(path)
    if path.name.endswith(".parquet"):
        yield from _iter_parquet(path, text_field)
        return
    try:
        with _open_lines(path) as handle:
            for number, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                try:
                    record = json.loads(raw)
                except (json.JSONDecodeError, UnicodeDecodeError) as err:
                    raise UserError(f"{path}:{number}: malformed JSON line ({err}); fix or remove the line") from err
                if not isinstance(record, dict) or text_field not in record:
                    raise UserError(
                        f"{path}:{number}: record has no '{text_field}' field; "
                        f"pass --text-field with the name of the text column"
                    )
                text = record[text_field]
                if not isinstance(text, str):
                    raise UserError(f"{path}:{number}: field '{text_field}' is {type(text).__name__}, expected a string")
                yield text
    except (OSError, EOFError) as err:
        if isinstance(err, FileNotFoundError):
            raise UserError(f"{path}: file not found") from err
        raise UserError(f"{path}: cannot read ({err}); the file is truncated or not in its suffix's format") from err


def _iter_parquet(path: Path, text_field: str) -> Iterator[str]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (OSError, ValueError) as err:
        raise UserError(f"{path}: not a readable parquet file ({err})") from err
    if text_field not in parquet.schema_arrow.names:
        raise UserError(
            f"{path}: parquet file has no '{text_field}' column (columns: "
            f"{', '.join(parquet.schema_arrow.names)}); pass --text-field"
        )
    row = 0
    for batch in parquet.iter_batches(columns=[text_field], batch_size=4096):
        for value in batch.column(0).to_pylist():
            row += 1
            if value is None:
                raise UserError(f"{path}: row {row}: '{text_field}' is null; drop the row or fill it")
            yield value


def discover_sources(inputs: list[str]) -> dict[str, list[Path]]:
    """Map source name → document files from `--input` values.

    Each value is `PATH` or `NAME=PATH`. A folder whose sub-folders hold document files is read
    as FineFineWeb layout (one source per sub-folder, named after it); any other folder or a
    file becomes one source named `NAME`, or after its folder when no name is given.
    """
    sources: dict[str, list[Path]] = {}
    for value in inputs:
        name, sep, raw_path = value.partition("=")
        if not sep:
            name, raw_path = "", value
        path = Path(raw_path)
        if not path.exists():
            raise UserError(f"--input {value}: {path} does not exist")
        if path.is_file():
            if not is_document_file(path):
                raise UserError(f"--input {value}: {path} is not a .jsonl/.jsonl.gz/.jsonl.zst/.parquet file")
            sources.setdefault(name or path.parent.name or "default", []).append(path)
            continue
        direct = sorted(p for p in path.iterdir() if p.is_file() and is_document_file(p))
        subdirs = sorted(p for p in path.iterdir() if p.is_dir())
        if name or direct:
            files = sorted(p for p in path.rglob("*") if p.is_file() and is_document_file(p))
            if files:
                sources.setdefault(name or path.name, []).extend(files)
        else:
            for sub in subdirs:
                files = sorted(p for p in sub.rglob("*") if p.is_file() and is_document_file(p))
                if files:
                    sources.setdefault(sub.name, []).extend(files)
    if not sources:
        raise UserError(
            f"--input {' '.join(inputs)}: no .jsonl/.jsonl.gz/.jsonl.zst/.parquet files found; "
            "point it at the curated kept/ folder or a folder of document files"
        )
    for name in sources:
        if not name or "/" in name:
            raise UserError(f"source name '{name}' is not usable; name inputs as NAME=PATH")
    return sources
