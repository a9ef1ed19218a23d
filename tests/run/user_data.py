"""Small files in the shapes users bring: a products JSONL (`sku, category, brand, title,
description, price_usd`), general paragraphs (`{"id", "body"}`) and relevance judgments
(`query, sku, product_title, relevance`), plus CSV and parquet variants.

The text is written here, from small word lists, so the tests need no data outside the repo.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

BRANDS = ["Northway", "Kelby", "Arden & Co", "Vortexa", "Milano Home", "Trailhead", "Lumio", "Baxter"]
PRODUCTS = {
    "kitchen": [("stainless steel frying pan", "28 cm", "induction-ready base, riveted handle"),
                ("ceramic mixing bowl set", "3 pieces", "dishwasher safe, stackable"),
                ("cast iron casserole dish", "4.5 litre", "enamel coated, oven safe to 250 C")],
    "outdoor": [("waterproof hiking jacket", "size M", "taped seams, adjustable hood, two zip pockets"),
                ("two person dome tent", "2.1 kg", "aluminium poles, 3000 mm hydrostatic head"),
                ("insulated water bottle", "750 ml", "keeps drinks cold for 24 hours")],
    "toys": [("wooden train set", "42 pieces", "beech wood tracks, ages 3 and up"),
             ("remote control racing car", "1:16 scale", "rechargeable battery, 25 km/h top speed"),
             ("jigsaw puzzle", "1000 pieces", "landscape print, poster included")],
    "electronics": [("wireless earbuds", "black", "noise cancelling, 30 hour battery with case"),
                    ("usb-c charging cable", "2 m", "braided nylon, 60 W fast charging"),
                    ("bluetooth speaker", "20 W", "splash proof, pairs two speakers for stereo")],
}
GENERAL = [
    "The river rises in the northern hills and flows south for about two hundred kilometres before it "
    "reaches the sea. Several small towns grew up along its banks during the medieval period.",
    "The committee met on Tuesday to discuss the new budget. Members argued about the cost of repairs "
    "to the old library and agreed to publish a report before the end of the year.",
    "In physics, the conservation of energy states that the total energy of an isolated system remains "
    "constant. Energy can change form, for example from kinetic to potential energy.",
    "The team won the final after extra time. Their captain scored twice in the second half, and the "
    "coach praised the players for their patience and discipline.",
    "The novel follows a family over three generations, moving between the city and the countryside. "
    "Critics praised its careful portrait of ordinary life and changing times.",
    "Volcanic islands often form above hot spots in the mantle. As the tectonic plate moves, a chain "
    "of islands appears, the oldest furthest from the active volcano.",
]


def products(count: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for index in range(count):
        category = rng.choice(sorted(PRODUCTS))
        name, size, features = rng.choice(PRODUCTS[category])
        brand = rng.choice(BRANDS)
        colour = rng.choice(["red", "navy", "grey", "green", "white", "black"])
        rows.append({
            "sku": f"SKU-{index:05d}", "category": category, "brand": brand,
            "title": f"{brand} {colour} {name}, {size}",
            "description": f"A {colour} {name} from {brand}: {features}. Ideal for everyday use; "
                           f"comes with a {rng.choice([1, 2, 3])}-year warranty.",
            "price_usd": round(rng.uniform(5, 250), 2)})
    return rows


def general(count: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    return [{"id": f"g{index}", "body": " ".join(rng.sample(GENERAL, 3))} for index in range(count)]


def relevance(rows: list[dict], seed: int = 0) -> list[dict]:
    """Graded judgments: 3 exact product type, 2 same category, 0 another category."""
    rng = random.Random(seed)
    judged = []
    for category, items in sorted(PRODUCTS.items()):
        for name, _, _ in items:
            for row in rng.sample(rows, 12):
                grade = 3 if name in row["title"] else 2 if row["category"] == category else 0
                judged.append({"query": name, "sku": row["sku"], "product_title": row["title"],
                               "relevance": grade})
    return judged


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_csv(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_parquet(path: Path, rows: list[dict]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def write_user_folder(root: Path) -> Path:
    """`root/my/`: products.jsonl (+ .csv), general.jsonl (+ .parquet), heldout.jsonl,
    relevance.csv — the files docs/own-data.md starts from."""
    my = root / "my"
    catalogue = products(160)
    write_jsonl(my / "products.jsonl", catalogue[:120])
    write_csv(my / "products.csv", catalogue[:120])
    write_jsonl(my / "heldout.jsonl", catalogue[120:])
    paragraphs = general(80)
    write_jsonl(my / "general.jsonl", paragraphs)
    write_parquet(my / "general.parquet", paragraphs)
    write_csv(my / "relevance.csv", relevance(catalogue))
    return my
