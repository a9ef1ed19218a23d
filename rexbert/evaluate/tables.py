"""Reading evaluation data files (parquet, JSONL, CSV/TSV) with column checks that name the fix."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from rexbert.errors import UserError
from rexbert.fileio import iter_jsonl

TABLE_SUFFIXES = (".parquet", ".jsonl", ".json", ".csv", ".tsv")


def read_table(path: str | Path, columns: Sequence[str] = (), flag: str = "--pairs") -> pd.DataFrame:
    """Load a table and check that `columns` exist.

    The format follows the suffix: `.parquet`, `.jsonl`/`.json` (one object per line), `.csv`,
    `.tsv`. A missing file, an unknown suffix or a missing column is a one-line `UserError` that
    names the file, the missing column and the columns that are there.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: file not found (given to {flag})")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            frame = pd.read_parquet(path)
        elif suffix in (".jsonl", ".json"):
            frame = pd.DataFrame([record for _, record in iter_jsonl(path)])
        elif suffix in (".csv", ".tsv"):
            frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", keep_default_na=False)
        else:
            raise UserError(
                f"{path}: unsupported file type '{suffix}' for {flag}; use one of {', '.join(TABLE_SUFFIXES)}"
            )
    except UserError:
        raise
    except Exception as err:  # pyarrow/pandas raise many types for a corrupt file
        raise UserError(
            f"{path}: cannot read as {suffix[1:]} ({type(err).__name__}: {err})"
        ) from err
    require_columns(frame, columns, path)
    return frame


def require_columns(frame: pd.DataFrame, columns: Sequence[str], source: str | Path) -> None:
    """Raise a `UserError` naming the first missing column and the available ones."""
    for column in columns:
        if column not in frame.columns:
            available = ", ".join(map(str, frame.columns)) or "none"
            raise UserError(
                f"{source}: no column '{column}' (columns: {available}); pick an existing field"
            )


def text_column(frame: pd.DataFrame, column: str) -> list[str]:
    """The column as stripped strings; missing values (None/NaN) become empty strings."""
    return [
        "" if value is None or value != value else str(value).strip() for value in frame[column]
    ]
