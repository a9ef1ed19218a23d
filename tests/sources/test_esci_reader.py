"""The ESCI reader on a small products + examples parquet pair in the real schema."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from rexbert.errors import UserError
from rexbert.sources.esci import EXAMPLE_COLUMNS, PRODUCT_COLUMNS, esci_paths, load_esci
from rexbert.sources.rejects import RejectLog


def _products() -> pd.DataFrame:
    rows = []
    for locale, ids in (("us", ["B01", "B02", "B03"]), ("es", ["B01"])):
        for pid in ids:
            rows.append({"product_id": pid, "product_title": f"title {pid} {locale}",
                         "product_description": "d", "product_bullet_point": "b",
                         "product_brand": "Velmora", "product_color": "navy", "product_locale": locale})
    return pd.DataFrame(rows, columns=list(PRODUCT_COLUMNS))


def _examples() -> pd.DataFrame:
    rows = [(0, "navy shoes", 1, "B01", "us", "E", "train"), (1, "navy shoes", 1, "B02", "us", "S", "train"),
            (2, "red phone case", 2, "B03", "us", "C", "test"), (3, "zapatos", 3, "B01", "es", "I", "train")]
    return pd.DataFrame([{"example_id": e, "query": q, "query_id": qid, "product_id": p, "product_locale": loc,
                          "esci_label": lab, "small_version": 1, "large_version": 1, "split": s}
                         for e, q, qid, p, loc, lab, s in rows], columns=list(EXAMPLE_COLUMNS))


def _write(tmp_path: Path, products: pd.DataFrame, examples: pd.DataFrame) -> tuple[Path, Path]:
    prod_path, ex_path = esci_paths(tmp_path)
    products.to_parquet(prod_path)
    examples.to_parquet(ex_path)
    return prod_path, ex_path


def test_join_locale_and_split(tmp_path: Path) -> None:
    prod, ex = _write(tmp_path, _products(), _examples())
    us = load_esci(prod, ex)
    assert sorted(us["example_id"]) == [0, 1, 2]
    assert (us["product_locale"] == "us").all()
    assert us.set_index("example_id").loc[2, "product_title"] == "title B03 us"
    assert list(load_esci(prod, ex, split="test")["example_id"]) == [2]
    everything = load_esci(prod, ex, locale=None)
    # B01 exists in two locales: the join must pick the title of the example's own locale.
    assert everything.set_index("example_id").loc[3, "product_title"] == "title B01 es"
    assert set(PRODUCT_COLUMNS) | set(EXAMPLE_COLUMNS) == set(everything.columns)


def test_missing_column_names_file_and_column(tmp_path: Path) -> None:
    prod, ex = _write(tmp_path, _products().drop(columns=["product_brand"]), _examples())
    with pytest.raises(UserError, match=r"missing column\(s\) product_brand"):
        load_esci(prod, ex)


def test_bad_label_raises_with_row_or_is_rejected(tmp_path: Path) -> None:
    examples = _examples()
    examples.loc[1, "esci_label"] = "X"
    prod, ex = _write(tmp_path, _products(), examples)
    with pytest.raises(UserError, match=rf"{ex}:2: bad_esci_label"):
        load_esci(prod, ex)
    rejects_path = tmp_path / "rejects.jsonl"
    with RejectLog(rejects_path) as rejects:
        frame = load_esci(prod, ex, on_error="skip", rejects=rejects)
    assert sorted(frame["example_id"]) == [0, 2]
    assert rejects.counts == {"bad_esci_label": 1}
    assert json.loads(rejects_path.read_text())["line"] == 2


def test_example_without_product_is_not_dropped_silently(tmp_path: Path) -> None:
    examples = _examples()
    examples.loc[2, "product_id"] = "B99"
    prod, ex = _write(tmp_path, _products(), examples)
    with pytest.raises(UserError, match=rf"{ex}:3: unknown_product"):
        load_esci(prod, ex)
    rejects = RejectLog()
    assert sorted(load_esci(prod, ex, on_error="skip", rejects=rejects)["example_id"]) == [0, 1]
    assert rejects.counts == {"unknown_product": 1}


def test_bad_arguments_and_missing_files(tmp_path: Path) -> None:
    prod, ex = _write(tmp_path, _products(), _examples())
    with pytest.raises(UserError, match="locale"):
        load_esci(prod, ex, locale="fr")
    with pytest.raises(UserError, match="split"):
        load_esci(prod, ex, split="dev")
    with pytest.raises(UserError, match="not found"):
        load_esci(tmp_path / "nope.parquet", ex)
    (tmp_path / "junk.parquet").write_bytes(b"not parquet")
    with pytest.raises(UserError, match="not a readable parquet"):
        load_esci(tmp_path / "junk.parquet", ex)
