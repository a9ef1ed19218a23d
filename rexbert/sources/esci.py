"""Reader for the Amazon Shopping Queries (ESCI) dataset: products + examples parquet pair.

The real release (github.com/amazon-science/esci-data) ships
`shopping_queries_dataset_products.parquet` and `shopping_queries_dataset_examples.parquet`;
`rexbert demo-data` writes the same two files. `load_esci` joins them on
`(product_locale, product_id)` — the same ASIN can exist in several locales — filters a locale
and optionally a split, and validates every row it returns.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from rexbert.errors import UserError
from rexbert.sources.hub import load_hub_dataset, looks_like_hub_id
from rexbert.sources.rejects import RejectLog, check_on_error

log = logging.getLogger(__name__)

PRODUCTS_FILE = "shopping_queries_dataset_products.parquet"
EXAMPLES_FILE = "shopping_queries_dataset_examples.parquet"
PRODUCT_COLUMNS = ("product_id", "product_title", "product_description", "product_bullet_point",
                   "product_brand", "product_color", "product_locale")
EXAMPLE_COLUMNS = ("example_id", "query", "query_id", "product_id", "product_locale", "esci_label",
                   "small_version", "large_version", "split")
ESCI_LABELS = ("E", "S", "C", "I")
LOCALES = ("us", "es", "jp")
SPLITS = ("train", "test")
_ROW = "__row__"


def esci_paths(folder: str | Path) -> tuple[Path, Path]:
    """The (products, examples) parquet paths inside an ESCI folder, with the official names."""
    folder = Path(folder)
    return folder / PRODUCTS_FILE, folder / EXAMPLES_FILE


def _read_table(source: str | Path, columns: tuple[str, ...], what: str) -> Any:
    """Read a parquet file (or a hub dataset) into pandas and check the required columns."""
    import pandas as pd

    if looks_like_hub_id(source):
        frame = load_hub_dataset(str(source), split="train", streaming=False).to_pandas()
    else:
        path = Path(source)
        if not path.is_file():
            raise UserError(f"{path}: {what} file not found; pass the ESCI {what} parquet "
                            f"({PRODUCTS_FILE if what == 'products' else EXAMPLES_FILE})")
        try:
            frame = pd.read_parquet(path)
        except Exception as err:
            raise UserError(f"{path}: not a readable parquet file ({err}); re-download or rewrite it") from err
    missing = [c for c in columns if c not in frame.columns]
    frame[_ROW] = range(1, len(frame) + 1)  # the row number in the file, kept through filters
    if missing:
        raise UserError(f"{source}: missing column(s) {', '.join(missing)} in the ESCI {what} table; "
                        f"expected {', '.join(columns)} (found {', '.join(map(str, frame.columns))})")
    return frame


def _bad_rows(frame: Any, checks: list[tuple[str, Any]]) -> list[tuple[int, int, str]]:
    """(position, file_row, reason) for each row failing a boolean-mask check; first reason wins."""
    import numpy as np

    reasons = np.full(len(frame), "", dtype=object)
    for reason, mask in checks:
        mask = np.asarray(mask, dtype=bool)
        reasons[(reasons == "") & mask] = reason
    rows = frame[_ROW].to_numpy()
    return [(int(i), int(rows[i]), reasons[i]) for i in np.flatnonzero(reasons != "")]


def _apply_policy(frame: Any, bad: list[tuple[int, int, str]], source: Any, on_error: str,
                  reject_log: RejectLog) -> Any:
    """Raise on the first bad row, or reject them all and return the frame without them."""
    if not bad:
        return frame
    if on_error == "raise":
        _, number, reason = bad[0]
        raise UserError(f"{source}:{number}: {reason} ({len(bad)} bad row(s) in total); fix or remove the "
                        "rows, or read with on_error='skip' to write them to a rejects file")
    for position, number, reason in bad:
        row = frame.iloc[position].drop(_ROW).to_json(force_ascii=False, default_handler=str)
        reject_log.add(source, number, reason, "", row)
    log.warning("%s: skipped %d malformed row(s)", source, len(bad))
    return frame.drop(frame.index[[position for position, _, _ in bad]])


def load_esci(
    products: str | Path,
    examples: str | Path,
    locale: str | None = "us",
    split: str | None = None,
    on_error: str = "raise",
    rejects: RejectLog | str | Path | None = None,
) -> Any:
    """Load the ESCI examples joined with their products as one pandas DataFrame.

    `products`/`examples` are parquet paths (or hub ids, read through `datasets`). `locale`
    keeps one of us/es/jp (None keeps all); `split` keeps train or test (None keeps both).
    Missing columns are a `UserError`; malformed rows (null query, unknown label or split, an
    example whose product is absent) stop with `file:row: reason`, or with `on_error="skip"` are
    counted and written to `rejects`. Columns: every example column plus the product columns.
    """
    check_on_error(on_error)
    if locale is not None and locale not in LOCALES:
        raise UserError(f"locale={locale!r} is not an ESCI locale; use one of {', '.join(LOCALES)} or None for all")
    if split is not None and split not in SPLITS:
        raise UserError(f"split={split!r} is not valid; use one of {', '.join(SPLITS)} or None for both")
    own_log = not isinstance(rejects, RejectLog)
    reject_log = RejectLog(rejects) if own_log else rejects  # type: ignore[arg-type]
    try:
        products_frame = _read_table(products, PRODUCT_COLUMNS, "products")
        examples_frame = _read_table(examples, EXAMPLE_COLUMNS, "examples")

        products_frame = _apply_policy(products_frame, _bad_rows(products_frame, [
            ("missing_product_id", products_frame["product_id"].isna()),
            ("missing_product_title", products_frame["product_title"].isna()),
            ("bad_product_locale", ~products_frame["product_locale"].isin(LOCALES)),
            ("duplicate_product", products_frame.duplicated(["product_locale", "product_id"])),
        ]), products, on_error, reject_log)
        examples_frame = _apply_policy(examples_frame, _bad_rows(examples_frame, [
            ("missing_query", examples_frame["query"].isna()),
            ("missing_product_id", examples_frame["product_id"].isna()),
            ("bad_esci_label", ~examples_frame["esci_label"].isin(ESCI_LABELS)),
            ("bad_split", ~examples_frame["split"].isin(SPLITS)),
            ("bad_product_locale", ~examples_frame["product_locale"].isin(LOCALES)),
        ]), examples, on_error, reject_log)

        if locale is not None:
            products_frame = products_frame[products_frame["product_locale"] == locale]
            examples_frame = examples_frame[examples_frame["product_locale"] == locale]
        if split is not None:
            examples_frame = examples_frame[examples_frame["split"] == split]

        known = products_frame.set_index(["product_locale", "product_id"]).index
        has_product = examples_frame.set_index(["product_locale", "product_id"]).index.isin(known)
        examples_frame = _apply_policy(examples_frame, _bad_rows(
            examples_frame, [("unknown_product", ~has_product)]), examples, on_error, reject_log)

        joined = examples_frame.drop(columns=_ROW).merge(
            products_frame.drop(columns=_ROW), on=["product_locale", "product_id"],
            how="inner", validate="many_to_one")
        return joined.reset_index(drop=True)
    finally:
        if own_log:
            reject_log.close()
