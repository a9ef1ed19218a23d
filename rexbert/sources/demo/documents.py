"""Web documents of the demo corpus: commerce pages and non-commerce writing.

Commerce kinds (product page, review, buying guide, deal post) render products of the shared
`ProductSpace`. Non-commerce kinds (news story, how-to, narrative, essay) use a small sentence
grammar over each domain's `Topic`. Every function takes its own `random.Random` so output depends
only on the seed.
"""

from __future__ import annotations

import random

from rexbert.sources.demo import products as P
from rexbert.sources.demo.lexicon import (
    ASPECTS,
    FIRST_NAMES,
    LAST_NAMES,
    NEGATIVE_OPINIONS,
    NEGATIVE_VERDICTS,
    POSITIVE_OPINIONS,
    POSITIVE_VERDICTS,
    REVIEWER_CONTEXTS,
    TYPES_BY_DOMAIN,
)
from rexbert.sources.demo.topics import (
    GENERAL_ADJECTIVES,
    GENERAL_ADVERBS,
    GENERAL_NOUNS,
    GENERAL_VERBS,
    TOPICS,
    Topic,
)

COMMERCE_KINDS = ("product_page", "review", "buying_guide", "deal_post")
NON_COMMERCE_KINDS = ("news_story", "how_to", "narrative", "essay")

_PLACE_HEADS = ("North", "Port", "East", "Old", "Upper", "West", "Lower", "New", "Saint", "Fort")
_PLACE_ROOTS = ("ald", "bram", "cor", "dun", "elm", "fair", "glen", "hart", "kil", "lyn", "mar",
                "ness", "oak", "pen", "ros", "stan", "thorn", "wick", "wyn", "ash")
_PLACE_ENDS = ("mere", "ford", "ton", "bury", "haven", "field", "wick", "dale", "moor", "stead")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")


def person(rng: random.Random) -> str:
    """A composed full name."""
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def place(rng: random.Random) -> str:
    """A composed place name such as 'Port Glenmere'."""
    name = (rng.choice(_PLACE_ROOTS) + rng.choice(_PLACE_ENDS)).capitalize()
    return f"{rng.choice(_PLACE_HEADS)} {name}" if rng.random() < 0.5 else name


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


# --- non-commerce sentence grammar ----------------------------------------------------------------
_SENTENCES = (
    "{Person}, a {role} with {org}, said the {adj} {noun} had changed how people think about {concept}.",
    "In {year}, {org} {verb} the {adj} {noun} near {place}.",
    "The {noun} was {verb} by a {role} who had spent {n} years studying {concept}.",
    "According to {org}, the {event} drew about {big} people to {place} this {month}.",
    "Few expected the {noun} to matter, but the {adj} {noun2} proved otherwise.",
    "{Person} {verb} the {noun} before anyone else noticed the {adj} {noun2}.",
    "Critics pointed out that the {noun} and the {noun2} were never as {adj} as claimed.",
    "During the {event}, the {role} {verb} a {adj} {noun} in front of a small crowd.",
    "The {adj} {noun} remains one of the clearest examples of {concept}.",
    "Nobody at {org} could say exactly when the {noun} would be {verb} again.",
    "For {Person}, {concept} is less a theory than a daily habit.",
    "Records from {year} show that the {noun} was {verb} at least {n} times.",
    "\"We {verb} the {noun} because it mattered to the people of {place},\" said {Person}.",
    "\"It was a {adj} moment for all of us,\" the {role} added.",
    "Local residents say the {noun2} has become a symbol of {concept}.",
    "By the end of {month}, the {role} had {verb} every {noun} on the list.",
    "Some argue that {concept} explains the {adj} {noun}; others see a simpler cause.",
    "The {event} in {place} was {adj}, and the {noun} was the talk of the town.",
    "A {role} from {place} {verb} the {noun2} and described the result as {adj}.",
    "What began as a {adj} {noun} in {year} grew into a question about {concept}.",
    "The second {noun} was smaller, but the {role} insisted it was just as {adj}.",
    "Officials from {org} declined to comment on the {noun}.",
    "{Person} remembers the {event} of {year} as the moment everything changed.",
    "It took {n} weeks before the {noun} was fully {verb}.",
    "{Adverb}, the {gadj} {gnoun} of the {noun} was {gverb} by almost everyone in {place}.",
    "Her {gnoun} about the {noun} was {gadj}, and the {role} {gverb} it without a word.",
    "The {role} {gverb} a {gadj} {gnoun} and {gverb2} the {noun} that followed.",
    "{Adverb}, nobody {gverb} how {gadj} the {gnoun} had become.",
    "There was a {gadj} {gnoun} in the air when the {event} began.",
    "The {gnoun} and the {gnoun2} were {gverb} together for the first time in {year}.",
    "His {gadj} {gnoun} {gverb} the {noun}, at least for a {gnoun2}.",
    "{Adverb}, the {gnoun} {gverb} more than the {adj} {noun} ever could.",
    "Some {gverb} the {noun} as a {gadj} {gnoun}; others {gverb2} it as a matter of {concept}.",
    "It was a {gadj} {gnoun2}, the kind that people in {place} {gverb} for years.",
)


def _topic_slots(topic: Topic, rng: random.Random) -> dict[str, str]:
    return {
        "Person": person(rng), "role": rng.choice(topic.roles), "org": rng.choice(topic.orgs),
        "adj": rng.choice(topic.adjectives), "noun": rng.choice(topic.nouns), "noun2": rng.choice(topic.nouns),
        "verb": rng.choice(topic.verbs), "event": rng.choice(topic.events), "concept": rng.choice(topic.concepts),
        "place": place(rng), "year": str(rng.randrange(1890, 2025)), "n": str(rng.randrange(2, 40)),
        "big": f"{rng.randrange(2, 90) * 500:,}", "month": rng.choice(_MONTHS),
        "gnoun": rng.choice(GENERAL_NOUNS), "gnoun2": rng.choice(GENERAL_NOUNS),
        "gadj": rng.choice(GENERAL_ADJECTIVES), "Adverb": rng.choice(GENERAL_ADVERBS).capitalize(),
        "gverb": rng.choice(GENERAL_VERBS), "gverb2": rng.choice(GENERAL_VERBS),
    }


def topic_sentence(topic: Topic, rng: random.Random) -> str:
    """One sentence of domain-flavoured general prose."""
    return _cap(rng.choice(_SENTENCES).format(**_topic_slots(topic, rng)))


def _paragraphs(topic: Topic, rng: random.Random, count: int, low: int = 3, high: int = 7) -> list[str]:
    return [" ".join(topic_sentence(topic, rng) for _ in range(rng.randint(low, high))) for _ in range(count)]


def news_story(domain: str, rng: random.Random) -> str:
    """Headline, dateline and paragraphs of reported prose."""
    topic = TOPICS[domain]
    s = _topic_slots(topic, rng)
    headline = _cap(rng.choice((
        "{org} {verb} {adj} {noun} after {event}",
        "{Person} on the {noun} that {verb} {place}",
        "{adj} {noun} in {place}: what we know so far",
        "Why the {noun} matters for {concept}",
    )).format(**s))
    dateline = f"{place(rng).upper()}, {rng.choice(_MONTHS)} {rng.randrange(1, 29)} —"
    paragraphs = _paragraphs(topic, rng, rng.randint(3, 9) if rng.random() < 0.8 else rng.randint(10, 22))
    paragraphs[0] = f"{dateline} {paragraphs[0]}"
    return "\n\n".join([headline] + paragraphs)


def how_to(domain: str, rng: random.Random) -> str:
    """A how-to article: title, intro, numbered steps with explanations, closing tip."""
    topic = TOPICS[domain]
    task = rng.choice(topic.tasks)
    lines = [f"How to {task}", " ".join(topic_sentence(topic, rng) for _ in range(rng.randint(2, 4)))]
    steps = rng.sample(topic.steps, min(len(topic.steps), rng.randint(3, 6)))
    for number, step in enumerate(steps, start=1):
        lines.append(f"Step {number}: {_cap(step)}. " + " ".join(topic_sentence(topic, rng) for _ in range(rng.randint(1, 3))))
    lines.append(f"Tip: {_cap(rng.choice(topic.steps))} and be patient; {rng.choice(topic.concepts)} takes time.")
    return "\n\n".join(lines)


def narrative(domain: str, rng: random.Random) -> str:
    """A first-person story with time markers."""
    topic = TOPICS[domain]
    openers = ("Last {month}, I finally went to the {event} in {place}.",
               "My grandfather used to talk about the {noun} every winter.",
               "I never planned to care about {concept}, but then I met {Person}.",
               "It was raining the morning we left {place}.")
    markers = ("That afternoon,", "A week later,", "Looking back,", "At first,", "By evening,", "Years later,")
    paragraphs = [_cap(rng.choice(openers).format(**_topic_slots(topic, rng)))]
    for _ in range(rng.randint(3, 8) if rng.random() < 0.8 else rng.randint(9, 18)):
        body = " ".join(topic_sentence(topic, rng) for _ in range(rng.randint(2, 5)))
        paragraphs.append(f"{rng.choice(markers)} {body[:1].lower()}{body[1:]}")
    return "\n\n".join(paragraphs)


def essay(domain: str, rng: random.Random) -> str:
    """An explanatory essay organised around a concept, with section headings."""
    topic = TOPICS[domain]
    concept = rng.choice(topic.concepts)
    lines = [f"{_cap(concept)} and the {rng.choice(topic.nouns)}: an introduction"]
    for heading in rng.sample(("Background", "Key ideas", "An example", "Common misunderstandings", "History of the idea",
                               "Open questions", "Why it matters", "A worked case", "Further reading"),
                              rng.randint(3, 5) if rng.random() < 0.8 else rng.randint(6, 9)):
        lines.append(heading)
        lines.extend(_paragraphs(topic, rng, rng.randint(1, 2), 3, 6))
    return "\n\n".join(lines)


# --- commerce documents ---------------------------------------------------------------------------
def _review_text(product: P.Product, rng: random.Random, positive: bool) -> str:
    opinions = POSITIVE_OPINIONS if positive else NEGATIVE_OPINIONS
    verdicts = POSITIVE_VERDICTS if positive else NEGATIVE_VERDICTS
    aspect_phrases = [f"The {a} {rng.choice(opinions)}." for a in rng.sample(ASPECTS, rng.randint(2, 4))]
    kind, value = rng.choice(product.attributes)
    attr = f"I went with the {value} version and it {'is exactly as described' if positive else 'is not what the listing suggested'}."
    text = [f"{rng.choice(REVIEWER_CONTEXTS)}.", attr, *aspect_phrases,
            f"For {product.uses[0]} it {'works really well' if positive else 'is barely usable'}.", rng.choice(verdicts)]
    return " ".join(text)


def product_page(space: P.ProductSpace, domain: str, rng: random.Random) -> str:
    """A marketplace product page: title, price, bullets, details table, description, reviews."""
    product = space.sample_product(rng, domain=domain)
    rating = round(rng.uniform(3.1, 4.9), 1)
    lines = [P.title(product), f"Price: {P.price_text(product.price)}",
             f"{rating} out of 5 stars ({rng.randrange(3, 25000):,} ratings)", "About this item"]
    lines += [f"- {b}" for b in P.bullets(product, rng)]
    lines.append("Product details")
    lines += P.attribute_block(product)
    lines += ["Product description", P.description(product, rng)]
    if rng.random() < 0.7:
        lines.append("Customer reviews")
        for _ in range(rng.randint(1, 5) if rng.random() < 0.8 else rng.randint(6, 14)):
            positive = rng.random() < 0.7
            stars = rng.randint(4, 5) if positive else rng.randint(1, 2)
            lines.append(f"{stars} stars - {person(rng)}")
            lines.append(_review_text(product, rng, positive))
    return "\n".join(lines)


def review(space: P.ProductSpace, domain: str, rng: random.Random) -> str:
    """A blog-style hands-on review with pros, cons and a verdict."""
    product = space.sample_product(rng, domain=domain)
    positive = rng.random() < 0.65
    name = f"{product.brand} {product.model}"
    lines = [f"{name} {product.kind.name} review: {'worth it' if positive else 'not quite there'}",
             f"I spent {rng.randint(2, 8)} weeks with the {name}, a {product.kind.name} aimed at {product.uses[0]}. "
             + P.description(product, rng, sentences=rng.randint(3, 5))]
    lines += [_review_text(product, rng, positive) for _ in range(rng.randint(1, 3))]
    lines.append("Specifications")
    lines += P.attribute_block(product)
    pros = rng.sample(product.features, len(product.features))
    lines.append("Pros: " + "; ".join(pros))
    lines.append("Cons: " + "; ".join(f"the {a} {rng.choice(NEGATIVE_OPINIONS)}" for a in rng.sample(ASPECTS, 2)))
    lines.append(f"Verdict: {rng.choice(POSITIVE_VERDICTS if positive else NEGATIVE_VERDICTS)} "
                 f"At {P.price_text(product.price)}, the {name} {'is easy to recommend' if positive else 'faces strong competition'}.")
    return "\n\n".join(lines)


def buying_guide(space: P.ProductSpace, domain: str, rng: random.Random) -> str:
    """'The best X' guide: what to look for per attribute, then several picks with mini reviews."""
    kind = rng.choice(TYPES_BY_DOMAIN[domain])
    picks = [space.sample_product(rng, kind=kind) for _ in range(rng.randint(3, 7) if rng.random() < 0.75 else rng.randint(8, 15))]
    lines = [f"The {len(picks)} best {kind.plural} for {rng.choice(kind.uses)} in {rng.randrange(2019, 2026)}",
             f"We tested {len(picks) + rng.randint(3, 12)} {kind.plural} over {rng.randint(2, 10)} weeks. "
             f"Here is what to look for before you buy a {kind.name}, and the models we recommend."]
    lines.append("What to look for")
    for attr in kind.attributes:
        label = P.ATTRIBUTE_LABELS[attr]
        options = ", ".join(rng.sample(P.ATTRIBUTE_VALUES[attr], min(3, len(P.ATTRIBUTE_VALUES[attr]))))
        lines.append(f"{label}: common options are {options}. Pick based on how often you plan to use it for {rng.choice(kind.uses)}.")
    for rank, product in enumerate(picks, start=1):
        label = rng.choice(("Best overall", "Best value", "Best premium pick", "Best for beginners",
                            "Runner-up", "Also great", "Best budget option"))
        lines.append(f"{rank}. {label}: {P.title(product)}")
        lines.append(P.description(product, rng, sentences=rng.randint(2, 5)) + f" Price at the time of writing: {P.price_text(product.price)}.")
    return "\n\n".join(lines)


def deal_post(space: P.ProductSpace, domain: str, rng: random.Random) -> str:
    """A deal roundup: headline deal with old/new price and coupon, then more deals."""
    products = [space.sample_product(rng, domain=domain) for _ in range(rng.randint(2, 6))]
    lines = []
    for index, product in enumerate(products):
        was = product.price
        now = round(was * rng.uniform(0.55, 0.9), 2)
        off = round(100 * (1 - now / was))
        if index == 0:
            lines.append(f"Deal alert: {P.title(product)} drops to {P.price_text(now)} ({off}% off)")
            lines.append(f"The {product.brand} {product.kind.name} usually sells for {P.price_text(was)}, "
                         f"but today it is {P.price_text(now)} with code {product.brand.upper()[:4]}{rng.randrange(10, 60)}. "
                         + P.description(product, rng, sentences=3))
            lines.append("More deals we like")
        else:
            lines.append(f"- {P.title(product)}: {P.price_text(now)} (was {P.price_text(was)}, save {off}%)")
    lines.append(f"Prices were checked on {rng.choice(_MONTHS)} {rng.randrange(1, 29)} and may change at any time.")
    return "\n\n".join(lines)


COMMERCE_WRITERS = {"product_page": product_page, "review": review, "buying_guide": buying_guide,
                    "deal_post": deal_post}
NON_COMMERCE_WRITERS = {"news_story": news_story, "how_to": how_to, "narrative": narrative, "essay": essay}
