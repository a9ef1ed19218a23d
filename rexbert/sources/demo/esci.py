"""Demo ESCI data: a product catalogue and query–product judgments with the real label semantics.

For each query (a product type plus one to three constraints, e.g. colour and size, sometimes the
brand) the generator writes:
- E (exact): products of the query's type that satisfy every constraint;
- S (substitute): the same type with exactly one constraint changed;
- C (complement): a product of a complementary type (phone → phone case);
- I (irrelevant): a product of an unrelated type from another domain.
Queries are split train/test as a whole (no query in both), as in the real release. Filler
products that no query touches fill the catalogue, as held-out titles for evaluation.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from rexbert.sources.demo import products as P
from rexbert.sources.demo.lexicon import ATTRIBUTE_VALUES, PRODUCT_TYPES, TYPE_BY_NAME, ProductType

# Attribute kinds that shoppers usually type before the product noun ("navy running shoes").
_BEFORE_TYPE = {"color", "gender", "shade", "finish", "fabric", "shoe_material", "hard_material",
                "bag_material", "wood", "capacity_mah", "storage_gb", "wattage", "small_watts",
                "speaker_watts", "resolution", "megapixels", "roast", "flavor", "scent", "season",
                "guitar_size", "yarn_weight", "string_material"}
TEST_SHARE = 0.25
SMALL_VERSION_SHARE = 0.6


@dataclass(frozen=True)
class Query:
    """A shopping query: its type, its constraints (attribute kind or "brand" → value) and text."""

    query_id: int
    text: str
    kind: ProductType
    constraints: tuple[tuple[str, str], ...]
    split: str
    small_version: int


@dataclass(frozen=True)
class Judgment:
    """One row of the examples table before it is written."""

    example_id: int
    query: Query
    product_id: str
    label: str


def satisfies(product: P.Product, query: Query) -> bool:
    """True if `product` is of the query's type and meets every constraint (the E condition)."""
    if product.kind.name != query.kind.name:
        return False
    return all((product.brand if k == "brand" else product.value(k)) == v for k, v in query.constraints)


def mismatches(product: P.Product, query: Query) -> list[str]:
    """The constraints of `query` that `product` does not meet."""
    return [k for k, v in query.constraints if (product.brand if k == "brand" else product.value(k)) != v]


def render_query(kind: ProductType, constraints: tuple[tuple[str, str], ...], rng: random.Random) -> str:
    """Lower-case query text: some constraints before the product noun, the others after it."""
    before, after = [], []
    for attribute, value in constraints:  # the brand, when present, comes first and stays first
        in_front = attribute == "brand" or attribute in _BEFORE_TYPE
        if attribute != "brand" and rng.random() < 0.15:  # real queries do not always follow the usual order
            in_front = not in_front
        (before if in_front else after).append(value)
    return " ".join(before + [kind.name] + after).lower()


def _asin(rng: random.Random, used: set[str]) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    while True:
        candidate = "B0" + "".join(rng.choice(alphabet) for _ in range(8))
        if candidate not in used:
            used.add(candidate)
            return candidate


class Catalogue:
    """Products with ASIN-like ids, in insertion order."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.ids: set[str] = set()
        self.products: dict[str, P.Product] = {}

    def add(self, product: P.Product) -> str:
        """Store a product and return its new id."""
        product_id = _asin(self.rng, self.ids)
        self.products[product_id] = product
        return product_id


def _other_value(attribute: str, current: str, space: P.ProductSpace, kind: ProductType,
                 rng: random.Random) -> str:
    while True:
        value = space.sample_brand(rng, kind.domain) if attribute == "brand" else rng.choice(ATTRIBUTE_VALUES[attribute])
        if value != current:
            return value


def build_esci(space: P.ProductSpace, seed: int, n_queries: int, n_filler: int
               ) -> tuple[Catalogue, list[Query], list[Judgment]]:
    """The catalogue, the queries and their judgments (about 10 per query)."""
    rng = random.Random(f"{seed}:esci")
    catalogue = Catalogue(rng)
    queries: list[Query] = []
    judgments: list[Judgment] = []
    for query_id in range(n_queries):
        kind = rng.choice(PRODUCT_TYPES)
        anchor = space.sample_product(rng, kind=kind)
        picked = rng.sample(kind.attributes, rng.randint(1, min(3, len(kind.attributes))))
        constraints = [(a, anchor.value(a)) for a in kind.attributes if a in picked]
        if rng.random() < 0.3:
            constraints.insert(0, ("brand", anchor.brand))
        constraints_t = tuple(constraints)
        query = Query(query_id, render_query(kind, constraints_t, rng), kind, constraints_t,
                      "test" if rng.random() < TEST_SHARE else "train",
                      int(rng.random() < SMALL_VERSION_SHARE))
        queries.append(query)

        rows: list[tuple[str, str]] = []
        for _ in range(rng.randint(1, 4)):  # E: a fresh product forced to meet every constraint
            product = space.sample_product(rng, kind=kind)
            for attribute, value in constraints_t:
                product = product.with_value(attribute, value)
            rows.append((catalogue.add(product), "E"))
        for _ in range(rng.randint(1, 3)):  # S: same type, exactly one constraint wrong
            product = space.sample_product(rng, kind=kind)
            for attribute, value in constraints_t:
                product = product.with_value(attribute, value)
            wrong, value = rng.choice(constraints_t)
            product = product.with_value(wrong, _other_value(wrong, value, space, kind, rng))
            rows.append((catalogue.add(product), "S"))
        for _ in range(rng.randint(1, 2)):  # C: a complementary type
            complement = TYPE_BY_NAME[rng.choice(kind.complements)]
            rows.append((catalogue.add(space.sample_product(rng, kind=complement)), "C"))
        for _ in range(rng.randint(1, 3)):  # I: unrelated type from another domain
            while True:
                other = rng.choice(PRODUCT_TYPES)
                if (other.domain != kind.domain and other.name not in kind.complements
                        and kind.name not in other.complements):
                    break
            rows.append((catalogue.add(space.sample_product(rng, kind=other)), "I"))
        rng.shuffle(rows)
        for product_id, label in rows:
            judgments.append(Judgment(len(judgments), query, product_id, label))
    for _ in range(n_filler):
        catalogue.add(space.sample_product(rng))
    return catalogue, queries, judgments


def product_rows(catalogue: Catalogue, seed: int) -> dict[str, list]:
    """Columns of the ESCI products table (all products in locale "us")."""
    rng = random.Random(f"{seed}:esci-text")
    columns: dict[str, list] = {c: [] for c in ("product_id", "product_title", "product_description",
                                                "product_bullet_point", "product_brand", "product_color",
                                                "product_locale")}
    for product_id, product in catalogue.products.items():
        columns["product_id"].append(product_id)
        columns["product_title"].append(P.title(product))
        columns["product_description"].append(P.description(product, rng))
        columns["product_bullet_point"].append("\n".join(P.bullets(product, rng)))
        columns["product_brand"].append(product.brand)
        columns["product_color"].append(product.value("color") or product.value("shade"))
        columns["product_locale"].append("us")
    return columns


def example_rows(judgments: list[Judgment]) -> dict[str, list]:
    """Columns of the ESCI examples table."""
    columns: dict[str, list] = {c: [] for c in ("example_id", "query", "query_id", "product_id",
                                                "product_locale", "esci_label", "small_version",
                                                "large_version", "split")}
    for j in judgments:
        columns["example_id"].append(j.example_id)
        columns["query"].append(j.query.text)
        columns["query_id"].append(j.query.query_id)
        columns["product_id"].append(j.product_id)
        columns["product_locale"].append("us")
        columns["esci_label"].append(j.label)
        columns["small_version"].append(j.query.small_version)
        columns["large_version"].append(1)
        columns["split"].append(j.query.split)
    return columns
