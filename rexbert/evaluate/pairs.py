"""Judged query–product pairs from any `PairsInput`: the ESCI files or a user's own tables.

Every source becomes the same `Pairs` (query, product text, graded target), split into train and
test: by the ESCI `split` column, by the table's split column, by two files, or — when a single
table has no split column — by query (a query's pairs all land on one side, so the test scores
queries the model was not tuned on), with the seed and `test_fraction`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from rexbert.errors import UserError
from rexbert.evaluate.config import PairsInput
from rexbert.evaluate.tables import read_table, require_columns, text_column

_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
SPLITS = ("train", "test")


def strip_markup(text: str) -> str:
    """Product descriptions carry HTML (`<br>`, `<p>`); keep the words only."""
    return _SPACE.sub(" ", _TAG.sub(" ", text)).strip()


@dataclass
class Pairs:
    """Aligned lists of queries, product texts and graded targets."""

    queries: list[str]
    texts: list[str]
    targets: list[float]

    def __len__(self) -> int:
        return len(self.targets)

    def select(self, keep: list[int]) -> Pairs:
        """The pairs at positions `keep`, in that order."""
        return Pairs([self.queries[i] for i in keep], [self.texts[i] for i in keep],
                     [self.targets[i] for i in keep])

    def subset(self, count: int | None, seed: int) -> Pairs:
        """A seeded random sample of `count` pairs (all when count is None or larger).

        Sampling, not the first rows: files are usually sorted by query, so a prefix would
        cover only a few queries.
        """
        if count is None or count >= len(self):
            return self
        import numpy as np

        keep = sorted(np.random.default_rng(seed).choice(len(self), size=count, replace=False))
        return self.select([int(i) for i in keep])


@dataclass
class PairSplits:
    """Train and test pairs, and how they were split (stored with the results)."""

    train: Pairs
    test: Pairs
    split: str


def _targets(frame: Any, spec: PairsInput, source: str) -> list[float]:
    if spec.score_field:
        targets = []
        for row, value in enumerate(frame[spec.score_field]):
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = math.nan
            if not math.isfinite(number):
                raise UserError(f"{source}: row {row + 1}: '{spec.score_field}' value {value!r} is "
                                "not a finite number; fix the row or use --label-field")
            targets.append(number)
        return targets
    labels = text_column(frame, spec.label_field)
    unknown = sorted({label for label in labels if label not in spec.label_map})
    if unknown:
        count = sum(label in unknown for label in labels)
        raise UserError(
            f"{source}: {count} row(s) with label(s) {', '.join(map(repr, unknown[:5]))} in "
            f"'{spec.label_field}' outside the label map {sorted(spec.label_map)}; "
            "extend --label-map or fix the data")
    return [spec.label_map[label] for label in labels]


def frame_to_pairs(frame: Any, spec: PairsInput, source: str) -> Pairs:
    """Validate the columns of a table of pairs and map its labels (or read its scores)."""
    target_column = spec.score_field or spec.label_field
    require_columns(frame, [spec.query_field, *spec.text_fields, target_column], source)
    queries = text_column(frame, spec.query_field)
    parts = [text_column(frame, name) for name in spec.text_fields]
    texts = [strip_markup(". ".join(p for p in pieces if p)) for pieces in zip(*parts, strict=True)]
    return Pairs(queries, texts, _targets(frame, spec, source))


def split_by_query(pairs: Pairs, fraction: float, seed: int, source: str) -> tuple[Pairs, Pairs]:
    """(train, test): a seeded `fraction` of the distinct queries, with all their pairs, is test."""
    import numpy as np

    queries = sorted(set(pairs.queries))
    if len(queries) < 2:
        raise UserError(f"{source}: all pairs have one query; splitting by query needs at least two "
                        "(or add a split column and pass --split-field)")
    count = min(len(queries) - 1, max(1, round(fraction * len(queries))))
    order = np.random.default_rng(seed).permutation(len(queries))
    test_queries = {queries[i] for i in order[:count]}
    test = [i for i, q in enumerate(pairs.queries) if q in test_queries]
    train = [i for i, q in enumerate(pairs.queries) if q not in test_queries]
    return pairs.select(train), pairs.select(test)


def _split_column(frame: Any, pairs: Pairs, spec: PairsInput, source: str) -> tuple[Pairs, Pairs]:
    values = [v.lower() for v in text_column(frame, spec.split_field)]
    unknown = sorted(set(values) - set(SPLITS))
    if unknown:
        count = sum(v in unknown for v in values)
        raise UserError(f"{source}: {count} row(s) with '{spec.split_field}' value(s) "
                        f"{', '.join(map(repr, unknown[:5]))}; the split column holds train or test "
                        "(name another column with --split-field)")
    return (pairs.select([i for i, v in enumerate(values) if v == "train"]),
            pairs.select([i for i, v in enumerate(values) if v == "test"]))


def _esci(spec: PairsInput, examples: str, split: str | None) -> tuple[Any, str]:
    from rexbert.sources.esci import load_esci

    frame = load_esci(spec.products, examples, locale=spec.locale, split=split)
    where = f"split={split}, " if split else ""
    return frame, f"{examples} ({where}locale={spec.locale})"


def _one_table(spec: PairsInput, path: str, flag: str, seed: int, fraction: float) -> PairSplits:
    if spec.products:
        frame, source = _esci(spec, path, None)
    else:
        frame, source = read_table(path, flag=flag), path
    pairs = frame_to_pairs(frame, spec, source)
    if spec.split_field in frame.columns:
        train, test = _split_column(frame, pairs, spec, source)
        return PairSplits(train, test, f"column '{spec.split_field}'")
    train, test = split_by_query(pairs, fraction, seed, source)
    return PairSplits(train, test, f"by query: {fraction:g} of the queries to test, seed {seed}")


def _two_tables(spec: PairsInput) -> PairSplits:
    splits = []
    for split, path in (("train", spec.train), ("test", spec.test)):
        if spec.products:
            frame, source = _esci(spec, str(path), split)
        else:
            frame, source = read_table(path, flag=f"--{split}"), str(path)
        splits.append(frame_to_pairs(frame, spec, source))
    return PairSplits(splits[0], splits[1], "two files")


def load_pair_splits(spec: PairsInput, seed: int, test_fraction: float) -> PairSplits:
    """(train, test) pairs of `spec`; an empty split or a constant test target is an error."""
    from rexbert.sources.esci import esci_paths

    if spec.esci:
        products, examples = esci_paths(spec.esci)
        for path in (products, examples):
            if not path.is_file():
                raise UserError(f"--esci {spec.esci}: missing {path.name}; expected the ESCI parquet "
                                "layout (or pass --products and --pairs)")
        spec = spec.model_copy(update={"products": str(products)})
        splits = _one_table(spec, str(examples), "--esci", seed, test_fraction)
    elif spec.test:
        splits = _two_tables(spec)
    else:
        path = spec.pairs or spec.train
        flag = "--pairs" if spec.pairs else "--train"
        splits = _one_table(spec, str(path), flag, seed, test_fraction)
    where = ", ".join(str(p) for p in spec.files())
    for name, pairs in (("train", splits.train), ("test", splits.test)):
        if len(pairs) == 0:
            action = "fine-tune on" if name == "train" else "score"
            raise UserError(f"{where}: the {name} split is empty; nothing to {action}")
    if len(set(splits.test.targets)) < 2:
        raise UserError(f"{where}: every test pair has the same target; correlations need at "
                        "least two values")
    return splits
