"""Byte-reproducible writers: JSONL, parquet and TSV written atomically with fixed options.

Same input → same bytes: JSON keys keep their insertion order, parquet uses fixed compression,
page and row-group settings and no pandas metadata, and no file holds a timestamp.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from pathlib import Path

from rexbert.fileio import atomic_write_bytes

# Fixed parquet options: changing any of them changes the bytes of every written file.
PARQUET_OPTIONS = {"compression": "zstd", "compression_level": 3, "use_dictionary": True,
                   "write_statistics": True, "version": "2.6", "data_page_version": "1.0",
                   "row_group_size": 50_000}


def jsonl_bytes(records: Iterable[dict]) -> bytes:
    """Records as UTF-8 JSON lines."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")


def write_jsonl(path: Path, records: Iterable[dict]) -> int:
    """Write JSONL atomically; returns the number of bytes written."""
    data = jsonl_bytes(records)
    atomic_write_bytes(path, data)
    return len(data)


def write_parquet(path: Path, columns: dict[str, list], schema: object) -> int:
    """Write columns as a parquet file with `schema` and the fixed options; returns bytes written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pydict(columns, schema=schema)
    buffer = io.BytesIO()
    pq.write_table(table, buffer, **PARQUET_OPTIONS)
    data = buffer.getvalue()
    atomic_write_bytes(path, data)
    return len(data)


def write_tsv(path: Path, rows: list[list[str]]) -> int:
    """Write rows (header first) as unquoted tab-separated text, GLUE style; returns bytes written."""
    data = "".join("\t".join(row) + "\n" for row in rows).encode("utf-8")
    atomic_write_bytes(path, data)
    return len(data)


def esci_schemas() -> tuple[object, object]:
    """pyarrow schemas of the products and examples tables (types as in the real release)."""
    import pyarrow as pa

    products = pa.schema([(name, pa.string()) for name in (
        "product_id", "product_title", "product_description", "product_bullet_point", "product_brand",
        "product_color", "product_locale")])
    examples = pa.schema([("example_id", pa.int64()), ("query", pa.string()), ("query_id", pa.int64()),
                          ("product_id", pa.string()), ("product_locale", pa.string()),
                          ("esci_label", pa.string()), ("small_version", pa.int64()),
                          ("large_version", pa.int64()), ("split", pa.string())])
    return products, examples
