"""The product space: brands × product types × attribute values × phrasings.

One `ProductSpace` per seed holds the composed brand list. `sample_product` draws a product;
`title`, `bullets`, `description` and `attribute_block` render it. The same functions write the
ESCI catalogue and the commerce pages of the web corpus, so both come from one distribution.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from rexbert.sources.demo.lexicon import (
    ATTRIBUTE_LABELS,
    ATTRIBUTE_VALUES,
    BRAND_HEADS,
    BRAND_TAILS,
    DOMAINS,
    PRODUCT_TYPES,
    TYPES_BY_DOMAIN,
    ProductType,
)

TITLE_ADJECTIVES = ("Lightweight", "Premium", "Portable", "Professional", "Durable", "Compact",
                    "Upgraded", "Heavy Duty", "Ergonomic", "Classic", "Ultra-Slim", "Everyday",
                    "Deluxe", "Essential", "Modern", "All-Purpose", "Travel-Friendly", "Eco-Friendly",
                    "Rechargeable", "Adjustable", "Sleek", "Rugged", "Quiet", "Soft-Touch", "Signature")
COLOR_KINDS = ("color", "shade")
MATERIAL_KINDS = ("fabric", "shoe_material", "hard_material", "bag_material", "wood", "string_material",
                  "bristle", "band")
QUANTITY_KINDS = ("pack", "count", "set_pieces", "pieces", "sheets", "discs")


@dataclass(frozen=True)
class Product:
    """One concrete product: brand, type, one value per attribute kind, and its selling points."""

    brand: str
    kind: ProductType
    attributes: tuple[tuple[str, str], ...]  # (attribute kind, value) in the type's order
    model: str
    adjectives: tuple[str, ...]
    features: tuple[str, ...]
    uses: tuple[str, ...]
    price: float
    title_variant: int = field(default=0)

    def value(self, attribute: str) -> str | None:
        """The value of one attribute kind, or None if this product has no such attribute."""
        for kind, value in self.attributes:
            if kind == attribute:
                return value
        return None

    def with_value(self, attribute: str, value: str) -> Product:
        """A copy with one attribute changed (or the brand, when `attribute == "brand"`)."""
        if attribute == "brand":
            return Product(value, self.kind, self.attributes, self.model, self.adjectives, self.features,
                           self.uses, self.price, self.title_variant)
        attrs = tuple((k, value if k == attribute else v) for k, v in self.attributes)
        return Product(self.brand, self.kind, attrs, self.model, self.adjectives, self.features,
                       self.uses, self.price, self.title_variant)


def _compose_brands(rng: random.Random) -> list[str]:
    """Every head+tail syllable pair (about 3,000 brands), in a seed-dependent order."""
    brands = sorted({(head + tail).capitalize() for head in BRAND_HEADS for tail in BRAND_TAILS})
    rng.shuffle(brands)
    return brands


def _model_number(rng: random.Random) -> str:
    letters = "ABCDEFGHJKLMNPRSTVXZ"
    style = rng.randrange(5)
    if style == 0:
        return f"{rng.choice(letters)}{rng.randrange(100, 999)}"
    if style == 1:
        return f"{rng.choice(letters)}{rng.choice(letters)}-{rng.randrange(10, 99) * 100}"
    if style == 2:
        return f"{rng.choice(('Pro', 'Max', 'Air', 'Lite', 'Plus', 'Go', 'Ultra'))} {rng.randrange(2, 12)}"
    if style == 3:
        return f"{rng.choice(letters)}{rng.randrange(1, 9)} {rng.choice(('Gen 2', 'Gen 3', 'Mk II', 'SE', 'V2'))}"
    return f"{rng.choice(letters)}{rng.choice(letters)}{rng.randrange(1000, 9999)}"


class ProductSpace:
    """The brands of one seed, and a sampler for products of any type or domain.

    Each brand has a home domain (brands specialise, as real ones do): a product takes a brand
    from its domain's pool most of the time, so brand ↔ product type is learnable but not fixed.
    """

    def __init__(self, seed: int) -> None:
        self.brands = _compose_brands(random.Random(f"{seed}:brands"))
        self.brands_by_domain = {d: self.brands[i::len(DOMAINS)] for i, d in enumerate(DOMAINS)}

    def sample_brand(self, rng: random.Random, domain: str) -> str:
        """A brand, usually one that specialises in `domain`."""
        pool = self.brands_by_domain[domain] if rng.random() < 0.85 else self.brands
        return rng.choice(pool)

    def sample_product(self, rng: random.Random, kind: ProductType | None = None,
                       domain: str | None = None) -> Product:
        """A random product of `kind`, else of a random type of `domain`, else of any type."""
        if kind is None:
            kind = rng.choice(TYPES_BY_DOMAIN[domain]) if domain else rng.choice(PRODUCT_TYPES)
        attributes = tuple((a, rng.choice(ATTRIBUTE_VALUES[a])) for a in kind.attributes)
        price = rng.randrange(kind.price_low, kind.price_high + 1) + rng.choice((0.99, 0.49, 0.95, 0.0))
        return Product(
            brand=self.sample_brand(rng, kind.domain),
            kind=kind,
            attributes=attributes,
            model=_model_number(rng),
            adjectives=tuple(rng.sample(TITLE_ADJECTIVES, 2)),
            features=tuple(rng.sample(kind.features, min(len(kind.features), rng.randint(2, 3)))),
            uses=tuple(rng.sample(kind.uses, min(len(kind.uses), 2))),
            price=round(price, 2),
            title_variant=rng.randrange(5),
        )


def type_title(kind: ProductType) -> str:
    """'usb-c cable' → 'USB-C Cable'; keeps words already capitalised."""
    words = []
    for word in kind.name.split():
        if word in ("usb-c", "hdmi", "d3"):
            words.append(word.upper())
        else:
            words.append("-".join(part[:1].upper() + part[1:] for part in word.split("-")))
    return " ".join(words)


def _cap_phrase(text: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in text.split())


def title(product: Product) -> str:
    """The catalogue title: brand, type, every attribute value and selling points (tens of tokens)."""
    kind = type_title(product.kind)
    values = [v for k, v in product.attributes if k != "gender"]
    gender = product.value("gender")
    who = f"{gender} " if gender else ""
    adj1, adj2 = product.adjectives
    feat = _cap_phrase(product.features[0])
    feat2 = _cap_phrase(product.features[1]) if len(product.features) > 1 else feat
    use = _cap_phrase(product.uses[0])
    variant = product.title_variant
    if variant == 0:
        return f"{product.brand} {who}{adj1} {kind} {product.model}, {', '.join(values)}, {feat}"
    if variant == 1:
        return f"{product.brand} {who}{kind} with {feat} and {feat2} for {use} - {' | '.join(values)}"
    if variant == 2:
        head, rest = values[0], values[1:]
        tail = f", {', '.join(rest)}" if rest else ""
        return f"{product.brand} {product.model} {adj1} {adj2} {who}{kind}, {head}, {feat}{tail}"
    if variant == 3:
        return f"{product.brand} {values[0]} {who}{kind} - {feat}, {adj1} Design for {use}" + (
            f", {', '.join(values[1:])}" if len(values) > 1 else "")
    return f"{who}{product.brand} {kind} ({', '.join(values)}) - {adj1}, {feat}, {feat2}, Model {product.model}"


# --- description phrasing -------------------------------------------------------------------------
_OPENINGS = (
    "Meet the {brand} {type}, designed for {use} and built to last.",
    "The {brand} {model} {type} is made for {use}.",
    "Looking for a reliable {type} for {use}? The {brand} {type} has you covered.",
    "{brand} set out to build a {adj} {type} that works as hard as you do.",
    "Whether you need it for {use} or {use2}, this {adj} {type} from {brand} delivers.",
    "Upgrade your {use} with the {brand} {type}.",
    "This {type} from {brand} combines a {adj} design with {feature}.",
    "Built around {feature}, the {brand} {model} is a {adj} {type} for {use}.",
)
_FEATURE_SENTENCES = (
    "Thanks to the {feature}, it stays dependable day after day.",
    "The {feature} makes {use} noticeably easier.",
    "{brand} added {feature} so you spend less time adjusting and more time enjoying it.",
    "You also get {feature}, a detail you will appreciate during {use}.",
    "With {feature}, this {type} stands out from basic models.",
    "We designed the {feature} after listening to customers who use their {plural} for {use}.",
    "The {feature} is tested in our lab for thousands of cycles.",
    "Compared with the previous version, the {feature} has been refined for {use}.",
)
_ATTRIBUTE_SENTENCES = {
    "color": ("Available in {value}, it matches almost any style.",
              "The {value} finish looks great at home or on the go.",
              "This version comes in {value}.",
              "Choose {value} for a look that never goes out of style."),
    "material": ("Made from {value}, it feels sturdy without being heavy.",
                 "The {value} construction resists wear and keeps its shape.",
                 "{value} gives it a {adj} feel.",
                 "We chose {value} because it holds up to {use}."),
    "quantity": ("You get {value}, enough for everyday use.",
                 "Each order includes {value}.",
                 "Sold as {value}, so you always have a spare.",
                 "The {value} option is great value for families."),
    "spec": ("{label}: {value}.",
             "With a {label_lower} of {value}, it is ready for {use}.",
             "The {value} {label_lower} is ideal for {use}.",
             "It offers a {label_lower} of {value}, one of the most requested specs for a {type}.",
             "Choose the {value} version if you mainly use it for {use}."),
}
_CLOSINGS = (
    "Every {brand} product is backed by a {years}-year warranty and friendly support.",
    "What's in the box: 1 x {brand} {type}, quick start guide{extra}.",
    "Order today and see why customers love {brand}.",
    "Please check the size chart and specifications before ordering.",
    "If you have any questions, our support team replies within 24 hours.",
    "Add it to your cart and enjoy free returns within 30 days.",
)


_ARTICLE = re.compile(r"\b([Aa]) (?=[aeiouAEIOU][a-z])")


def _attribute_family(kind: str) -> str:
    if kind in COLOR_KINDS:
        return "color"
    if kind in MATERIAL_KINDS:
        return "material"
    if kind in QUANTITY_KINDS:
        return "quantity"
    return "spec"


def _fill(template: str, product: Product, rng: random.Random, **extra: str) -> str:
    slots = {
        "brand": product.brand, "type": product.kind.name, "plural": product.kind.plural,
        "model": product.model, "adj": rng.choice(TITLE_ADJECTIVES).lower(),
        "feature": rng.choice(product.features), "use": product.uses[0],
        "use2": product.uses[-1], "years": str(rng.choice((1, 2, 3, 5))), "extra": "",
    }
    slots.update(extra)
    text = _ARTICLE.sub(r"\1n ", template.format(**slots))  # "a eco-friendly" -> "an eco-friendly"
    return text[:1].upper() + text[1:]


def attribute_sentence(product: Product, kind: str, value: str, rng: random.Random) -> str:
    """One sentence stating an attribute value, in one of several phrasings for its family."""
    label = ATTRIBUTE_LABELS[kind]
    template = rng.choice(_ATTRIBUTE_SENTENCES[_attribute_family(kind)])
    return _fill(template, product, rng, value=value, label=label, label_lower=label.lower())


def description(product: Product, rng: random.Random, sentences: int | None = None) -> str:
    """A product description: opening, attribute and feature sentences, closing (about 80–250 words)."""
    parts = [_fill(rng.choice(_OPENINGS), product, rng)]
    body = [attribute_sentence(product, k, v, rng) for k, v in product.attributes]
    body += [_fill(t, product, rng) for t in rng.sample(_FEATURE_SENTENCES, rng.randint(2, 4))]
    rng.shuffle(body)
    parts += body
    if sentences is not None:
        parts = parts[:sentences]
    comps = product.kind.complements
    extra = f", {rng.choice(comps)} sold separately" if rng.random() < 0.5 else ""
    parts.append(_fill(rng.choice(_CLOSINGS), product, rng, extra=extra))
    return " ".join(parts)


def bullets(product: Product, rng: random.Random) -> list[str]:
    """Four to six selling-point bullets in the 'KEY POINT: sentence' style of marketplaces."""
    items = []
    for feature in product.features:
        items.append(f"{feature.upper()}: " + _fill(rng.choice(_FEATURE_SENTENCES), product, rng, feature=feature))
    for kind, value in rng.sample(product.attributes, min(len(product.attributes), 3)):
        items.append(f"{ATTRIBUTE_LABELS[kind].upper()}: " + attribute_sentence(product, kind, value, rng))
    items.append("WHAT YOU GET: " + _fill(rng.choice(_CLOSINGS[:2]), product, rng))
    return items


def attribute_block(product: Product) -> list[str]:
    """'Label: value' lines as in a product-details table."""
    lines = [f"Brand: {product.brand}", f"Model: {product.model}"]
    lines += [f"{ATTRIBUTE_LABELS[k]}: {v}" for k, v in product.attributes]
    return lines


def price_text(price: float) -> str:
    """$12.99-style price."""
    return f"${price:,.2f}"
