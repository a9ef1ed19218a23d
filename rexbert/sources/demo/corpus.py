"""The web corpus of one domain: clean documents plus planted defects, with their ground truth.

Order of work for a domain (all from one `random.Random` seeded by seed and domain):
1. clean English documents, commerce with the domain's `COMMERCE_SHARE`, else non-commerce;
2. boilerplate lines added to some of them;
3. foreign-language, adult and low-quality documents added;
4. everything shuffled; then exact and near duplicates of clean documents inserted *after*
   their originals, so "keep the first of each cluster" keeps the original.
"""

from __future__ import annotations

import random
import re
import uuid
from dataclasses import dataclass, field

from rexbert.sources.demo import defects
from rexbert.sources.demo.documents import (
    COMMERCE_WRITERS,
    NON_COMMERCE_WRITERS,
)
from rexbert.sources.demo.languages import LANGUAGES, foreign_document
from rexbert.sources.demo.lexicon import COMMERCE_SHARE, TYPES_BY_DOMAIN
from rexbert.sources.demo.products import ProductSpace
from rexbert.sources.demo.topics import TOPICS

COMMERCE_WEIGHTS = {"product_page": 0.4, "review": 0.25, "buying_guide": 0.15, "deal_post": 0.2}
NON_COMMERCE_WEIGHTS = {"news_story": 0.35, "how_to": 0.25, "narrative": 0.2, "essay": 0.2}


@dataclass(frozen=True)
class DefectRates:
    """Share of a domain's documents that carry each planted defect."""

    exact_duplicate: float = 0.03
    near_duplicate: float = 0.03
    foreign: float = 0.03
    boilerplate: float = 0.06
    profane: float = 0.02
    low_quality: float = 0.03


@dataclass
class Document:
    """One corpus record and its ground truth."""

    record: dict = field(default_factory=dict)  # text, url, domain, language_score, id
    truth: dict = field(default_factory=dict)  # id, domain, commerce, duplicate_of, ...


def _doc_id(rng: random.Random) -> str:
    return f"<urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}>"


_SLUG = re.compile(r"[^a-z0-9]+")


def _url(rng: random.Random, domain: str, text: str) -> str:
    head = rng.choice(TOPICS[domain].nouns).split()[0] if rng.random() < 0.5 else domain.split("_")[0]
    site = defects.site_name(rng, _SLUG.sub("", head.lower()))
    slug = _SLUG.sub("-", " ".join(text.split()[:8]).lower()).strip("-")[:80] or "page"
    return f"https://www.{site}/{domain.replace('_', '-')}/{slug}-{rng.randrange(10_000, 99_999)}"


def _make(rng: random.Random, domain: str, text: str, *, commerce: bool, doc_type: str,
          language: str = "en", profane: bool = False, low_quality: bool = False) -> Document:
    doc_id = _doc_id(rng)
    record = {"text": text, "url": _url(rng, domain, text), "domain": domain,
              # Same distribution for every document, so metadata does not reveal the defects.
              "language_score": round(rng.uniform(0.65, 0.99), 4), "id": doc_id}
    truth = {"id": doc_id, "domain": domain, "commerce": commerce, "duplicate_of": None,
             "near_duplicate": False, "language": language, "profane": profane,
             "boilerplate_lines": [], "low_quality": low_quality, "doc_type": doc_type}
    return Document(record, truth)


def _count(rate: float, n: int) -> int:
    # At least one of each defect per domain, so even the smallest corpus exercises every filter.
    return max(1, round(rate * n))


def build_domain(domain: str, n_docs: int, space: ProductSpace, seed: int,
                 rates: DefectRates = DefectRates()) -> list[Document]:
    """All documents of one domain, defects included, in file order."""
    rng = random.Random(f"{seed}:corpus:{domain}")
    n_dup, n_near = _count(rates.exact_duplicate, n_docs), _count(rates.near_duplicate, n_docs)
    n_foreign, n_profane = _count(rates.foreign, n_docs), _count(rates.profane, n_docs)
    n_low = _count(rates.low_quality, n_docs)
    n_clean = max(2, n_docs - n_dup - n_near - n_foreign - n_profane - n_low)

    commerce_kinds, commerce_w = zip(*COMMERCE_WEIGHTS.items(), strict=True)
    other_kinds, other_w = zip(*NON_COMMERCE_WEIGHTS.items(), strict=True)
    has_products = bool(TYPES_BY_DOMAIN[domain])
    clean: list[Document] = []
    for _ in range(n_clean):
        if has_products and rng.random() < COMMERCE_SHARE[domain]:
            kind = rng.choices(commerce_kinds, commerce_w)[0]
            text = COMMERCE_WRITERS[kind](space, domain, rng)
            clean.append(_make(rng, domain, text, commerce=True, doc_type=kind))
        else:
            kind = rng.choices(other_kinds, other_w)[0]
            text = NON_COMMERCE_WRITERS[kind](domain, rng)
            clean.append(_make(rng, domain, text, commerce=False, doc_type=kind))

    for doc in rng.sample(clean, min(len(clean), _count(rates.boilerplate, n_docs))):
        site = doc.record["url"].split("/")[2].removeprefix("www.")
        head, tail = defects.boilerplate_lines(rng, site, domain)
        doc.record["text"] = "\n".join(head + [doc.record["text"]] + tail)
        doc.truth["boilerplate_lines"] = head + tail

    sample_words = [w for doc in clean[:5] for w in doc.record["text"].split()[:30]]
    docs = list(clean)
    for _ in range(n_foreign):
        language = rng.choice(LANGUAGES)
        docs.append(_make(rng, domain, foreign_document(language, rng), commerce=False,
                          doc_type="foreign", language=language))
    for _ in range(n_profane):
        docs.append(_make(rng, domain, defects.profane_document(rng), commerce=False,
                          doc_type="adult", profane=True))
    for _ in range(n_low):
        docs.append(_make(rng, domain, defects.low_quality_document(rng, sample_words), commerce=False,
                          doc_type="low_quality", low_quality=True))
    rng.shuffle(docs)

    # Duplicates copy clean English documents; near duplicates need enough words to stay similar.
    # Near duplicates are edited copies, so they start from pages without boilerplate: an edit
    # must never alter a line that truth.jsonl lists verbatim.
    long_clean = [d for d in clean if len(d.record["text"].split()) >= 150] or clean
    editable = [d for d in long_clean if not d.truth["boilerplate_lines"]] or long_clean
    for index in range(n_dup + n_near):
        near = index >= n_dup
        original = rng.choice(editable if near else long_clean)
        text = defects.near_duplicate(original.record["text"], rng) if near else original.record["text"]
        copy = _make(rng, domain, text, commerce=original.truth["commerce"], doc_type=original.truth["doc_type"])
        copy.truth.update(duplicate_of=original.truth["id"], near_duplicate=near,
                          boilerplate_lines=list(original.truth["boilerplate_lines"]))
        position = next(i for i, d in enumerate(docs) if d is original)
        docs.insert(rng.randint(position + 1, len(docs)), copy)
    return docs
