"""Demo tasks in the GLUE TSV layouts, built from demo products, reviews and queries.

They are not GLUE: they let the evaluation code run its real GLUE readers on the embedded
default. Layouts and file names follow the GLUE release:

- SST-2/{train,dev}.tsv        sentence, label (1 positive / 0 negative review sentence)
- QNLI/{train,dev}.tsv         index, question, sentence, label (entailment / not_entailment)
- QQP/{train,dev}.tsv          id, qid1, qid2, question1, question2, is_duplicate
- MNLI/train.tsv, dev_matched.tsv, dev_mismatched.tsv   the MNLI columns; genre = domain; the
                               mismatched dev set uses domains held out from train
- STS-B/{train,dev}.tsv        index, genre, filename, year, old_index, source1, source2,
                               sentence1, sentence2, score (0–5)
"""

from __future__ import annotations

import random

from rexbert.sources.demo import products as P
from rexbert.sources.demo.lexicon import (
    ASPECTS,
    ATTRIBUTE_LABELS,
    ATTRIBUTE_VALUES,
    DOMAINS,
    NEGATIVE_OPINIONS,
    POSITIVE_OPINIONS,
    PRODUCT_TYPES,
    TYPES_BY_DOMAIN,
)

Rows = list[list[str]]
MNLI_TRAIN_HEADER = ["index", "promptID", "pairID", "genre", "sentence1_binary_parse",
                     "sentence2_binary_parse", "sentence1_parse", "sentence2_parse", "sentence1",
                     "sentence2", "label1", "gold_label"]
MNLI_DEV_HEADER = MNLI_TRAIN_HEADER[:-1] + ["label2", "label3", "label4", "label5", "gold_label"]
STSB_HEADER = ["index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1",
               "sentence2", "score"]
# MNLI's mismatched dev set comes from genres absent from training; these domains play that role.
MNLI_MISMATCHED_DOMAINS = ("celebrity", "painting", "law", "history", "mathematics")

_POSITIVE_WORDS = ("sturdy", "comfortable", "reliable", "beautiful", "quiet", "well made", "easy to use")
_NEGATIVE_WORDS = ("flimsy", "uncomfortable", "unreliable", "ugly", "noisy", "badly made", "confusing")


def _clean(text: str) -> str:
    # GLUE files are unquoted TSV: a tab or newline inside a field would shift the columns.
    return " ".join(text.replace("\t", " ").split())


def sst2(rng: random.Random, space: P.ProductSpace, n: int) -> Rows:
    """Review sentences with their sentiment; negation makes some of them less obvious."""
    rows = [["sentence", "label"]]
    for _ in range(n):
        product = space.sample_product(rng)
        positive = rng.random() < 0.5
        aspect = rng.choice(ASPECTS)
        thing = f"the {product.kind.name}"
        style = rng.randrange(4)
        if style == 0:
            sentence = f"the {aspect} of {thing} {rng.choice(POSITIVE_OPINIONS if positive else NEGATIVE_OPINIONS)}"
        elif style == 1:  # negated opposite word
            word = rng.choice(_NEGATIVE_WORDS if positive else _POSITIVE_WORDS)
            sentence = f"{thing} is {'not at all' if positive else 'not very'} {word} , {'and' if positive else 'but'} the {aspect} is {'great' if positive else 'poor'}"
        elif style == 2:
            sentence = (f"i expected little from this {product.brand.lower()} {product.kind.name} but it "
                        f"{rng.choice(POSITIVE_OPINIONS)}" if positive else
                        f"i had high hopes for this {product.brand.lower()} {product.kind.name} but it "
                        f"{rng.choice(NEGATIVE_OPINIONS)}")
        else:
            word = rng.choice(_POSITIVE_WORDS if positive else _NEGATIVE_WORDS)
            sentence = f"{'a' if positive else 'a disappointingly'} {word} {product.kind.name} for {product.uses[0]}"
        rows.append([_clean(sentence.lower() + " ."), "1" if positive else "0"])
    return rows


def qnli(rng: random.Random, space: P.ProductSpace, n: int) -> Rows:
    """Question about one attribute; the sentence states that attribute or a different one."""
    rows = [["index", "question", "sentence", "label"]]
    for index in range(n):
        product = space.sample_product(rng)
        while len(product.attributes) < 2:
            product = space.sample_product(rng)
        (asked, _), (other, other_value) = rng.sample(product.attributes, 2)
        question = f"What is the {ATTRIBUTE_LABELS[asked].lower()} of the {product.brand} {product.kind.name}?"
        entailed = rng.random() < 0.5
        kind, value = (asked, product.value(asked)) if entailed else (other, other_value)
        sentence = f"The {product.brand} {product.kind.name} has a {ATTRIBUTE_LABELS[kind].lower()} of {value}."
        if rng.random() < 0.5:
            sentence = P.attribute_sentence(product, kind, value, rng)
            sentence = f"{sentence[:-1]} on the {product.brand} {product.kind.name}."
        rows.append([str(index), _clean(question), _clean(sentence), "entailment" if entailed else "not_entailment"])
    return rows


_QUESTION_FORMS = ("where can i buy {q}?", "what is the best {q}?", "is a {q} worth buying?",
                   "which {q} should i get?", "any recommendations for a {q}?", "how much does a {q} cost?")


def _query_phrase(product: P.Product, attributes: list[str], rng: random.Random) -> str:
    values = [product.value(a) or "" for a in attributes]
    rng.shuffle(values)
    return " ".join(values[: len(values) // 2] + [product.kind.name] + values[len(values) // 2:]).lower()


def qqp(rng: random.Random, space: P.ProductSpace, n: int) -> Rows:
    """Pairs of shopping questions: duplicates share every constraint, non-duplicates differ in one."""
    rows = [["id", "qid1", "qid2", "question1", "question2", "is_duplicate"]]
    for index in range(n):
        product = space.sample_product(rng)
        attributes = rng.sample(product.kind.attributes, min(2, len(product.kind.attributes)))
        first = rng.choice(_QUESTION_FORMS).format(q=_query_phrase(product, attributes, rng))
        duplicate = rng.random() < 0.45
        other = product
        if not duplicate:
            changed = rng.choice(attributes)
            values = [v for v in ATTRIBUTE_VALUES[changed] if v != product.value(changed)]
            other = product.with_value(changed, rng.choice(values))
        second = rng.choice(_QUESTION_FORMS).format(q=_query_phrase(other, attributes, rng))
        rows.append([str(index), str(2 * index + 1), str(2 * index + 2), _clean(first), _clean(second),
                     "1" if duplicate else "0"])
    return rows


def _binary_parse(sentence: str) -> str:
    tokens = sentence.replace(".", " .").split()
    tree = tokens[-1]
    for token in reversed(tokens[:-1]):
        tree = f"( {token} {tree} )"
    return tree


def _flat_parse(sentence: str) -> str:
    return "(ROOT (S " + " ".join(f"(X {t})" for t in sentence.replace(".", " .").split()) + "))"


def mnli(rng: random.Random, space: P.ProductSpace, n: int, domains: tuple[str, ...], dev: bool,
         start: int = 0) -> Rows:
    """Premise about a product; hypothesis restates, contradicts or goes beyond one attribute."""
    rows = [MNLI_DEV_HEADER if dev else MNLI_TRAIN_HEADER]
    for offset in range(n):
        domain = rng.choice(domains)
        product = space.sample_product(rng, domain=domain)
        while len(product.attributes) < 2:
            product = space.sample_product(rng, domain=domain)
        stated = rng.sample(product.attributes, 2)
        premise = (f"The {product.brand} {product.kind.name} comes with a {ATTRIBUTE_LABELS[stated[0][0]].lower()} "
                   f"of {stated[0][1]} and a {ATTRIBUTE_LABELS[stated[1][0]].lower()} of {stated[1][1]}.")
        label = rng.choice(("entailment", "contradiction", "neutral"))
        kind, value = rng.choice(stated)
        if label == "contradiction":
            value = rng.choice([v for v in ATTRIBUTE_VALUES[kind] if v != value])
        if label == "neutral":
            hypothesis = f"The {product.kind.name} is a popular choice for {rng.choice(product.kind.uses)}."
        else:
            hypothesis = f"The {product.kind.name} has a {ATTRIBUTE_LABELS[kind].lower()} of {value}."
        index = start + offset
        row = [str(index), str(100000 + index), f"{100000 + index}{label[0]}", domain,
               _binary_parse(premise), _binary_parse(hypothesis), _flat_parse(premise),
               _flat_parse(hypothesis), premise, hypothesis, label]
        row += [label] * 4 + [label] if dev else [label]
        rows.append([_clean(c) for c in row])
    return rows


def stsb(rng: random.Random, space: P.ProductSpace, n: int) -> Rows:
    """Pairs of short product statements scored by how many facts they share (0–5)."""
    rows = [STSB_HEADER]
    for index in range(n):
        product = space.sample_product(rng)
        relation = rng.randrange(4)
        if relation == 0:  # same product, reworded
            other = product
        elif relation == 1:  # same type, some attributes changed
            other = product
            for attribute in rng.sample(product.kind.attributes, rng.randint(1, len(product.kind.attributes))):
                other = other.with_value(attribute, rng.choice(ATTRIBUTE_VALUES[attribute]))
        elif relation == 2:  # same domain, different type
            other = space.sample_product(rng, kind=rng.choice(TYPES_BY_DOMAIN[product.kind.domain]))
        else:
            other = space.sample_product(rng, kind=rng.choice(PRODUCT_TYPES))
        if other.kind.name == product.kind.name:
            same = sum(product.value(a) == other.value(a) for a in product.kind.attributes)
            score = 1.0 + 4.0 * same / len(product.kind.attributes)
        else:
            score = 0.8 if other.kind.domain == product.kind.domain else 0.0
        first = f"A {product.kind.name} in {', '.join(v for _, v in product.attributes)}."
        second = f"This {other.kind.name} offers {' and '.join(v for _, v in reversed(other.attributes))}."
        rows.append([str(index), "main-products", "demo-products", "2024", str(index), "none", "none",
                     _clean(first), _clean(second), f"{score:.3f}"])
    return rows


def build_glue(space: P.ProductSpace, seed: int, n_train: int, n_dev: int) -> dict[str, Rows]:
    """Every task's files, keyed by relative path such as 'SST-2/train.tsv'."""
    def rng(name: str) -> random.Random:
        return random.Random(f"{seed}:glue:{name}")

    matched = tuple(d for d in DOMAINS if d not in MNLI_MISMATCHED_DOMAINS)
    return {
        "SST-2/train.tsv": sst2(rng("sst2-train"), space, n_train),
        "SST-2/dev.tsv": sst2(rng("sst2-dev"), space, n_dev),
        "QNLI/train.tsv": qnli(rng("qnli-train"), space, n_train),
        "QNLI/dev.tsv": qnli(rng("qnli-dev"), space, n_dev),
        "QQP/train.tsv": qqp(rng("qqp-train"), space, n_train),
        "QQP/dev.tsv": qqp(rng("qqp-dev"), space, n_dev),
        "MNLI/train.tsv": mnli(rng("mnli-train"), space, n_train, matched, dev=False),
        "MNLI/dev_matched.tsv": mnli(rng("mnli-dev-m"), space, n_dev, matched, dev=True, start=n_train),
        "MNLI/dev_mismatched.tsv": mnli(rng("mnli-dev-mm"), space, n_dev, MNLI_MISMATCHED_DOMAINS,
                                        dev=True, start=n_train + n_dev),
        "STS-B/train.tsv": stsb(rng("stsb-train"), space, n_train),
        "STS-B/dev.tsv": stsb(rng("stsb-dev"), space, n_dev),
    }
