"""Planted defects for the curation stage to find, each recorded in truth.jsonl.

- boilerplate lines (navigation, cookie banners, footers, share bars) added around a document;
  the lines come from a small set of site templates, so they repeat across pages as real ones do;
- near duplicates: a copy with a few words replaced, dropped or swapped, kept at word 5-gram
  Jaccard ≥ `NEAR_DUPLICATE_MIN_JACCARD` so MinHash dedup at the usual 0.8 threshold must find it;
- adult/profane pages built from a short, clinical list of explicit words that any word-list
  filter (e.g. the LDNOOBW list used by C4) contains;
- low-quality documents: too short, symbol soup, keyboard mash, repeated tokens.
"""

from __future__ import annotations

import random
import re

NEAR_DUPLICATE_MIN_JACCARD = 0.85
SHINGLE_SIZE = 5

SITE_WORDS = ("daily", "hub", "corner", "review", "world", "spot", "place", "zone", "guide", "central")

_BOILERPLATE_HEAD = (
    "Home | Shop | Blog | About Us | Contact",
    "Skip to main content",
    "Menu Search Sign in Register",
    "Home > {section} > Latest",
    "We use cookies to improve your experience on {site}. By continuing you accept our cookie policy. Accept all cookies",
    "This website uses cookies. Manage preferences | Accept",
    "Free shipping on orders over $35 | Log in | Cart (0)",
)
_BOILERPLATE_TAIL = (
    "Share this article: Facebook Twitter Pinterest Email",
    "Subscribe to our newsletter for the latest updates",
    "© {year} {site}. All rights reserved.",
    "Privacy Policy | Terms of Use | Cookie Settings | Sitemap",
    "Related posts",
    "Leave a comment Cancel reply",
    "Back to top",
    "Powered by WordPress | Theme by {site}",
)

# Explicit words as they appear in adult spam; chosen because they are in every common
# profanity/adult word list, so a word-list filter can detect them.
PROFANE_WORDS = ("porn", "xxx", "fuck", "pussy", "cock", "slut", "nude", "horny", "milf", "blowjob",
                 "hardcore", "orgasm", "nsfw", "cumshot", "tits")
_PROFANE_TEMPLATES = (
    "Free {w1} videos updated daily, hot {w2} and {w3} clips.",
    "Click here for {w1} {w2} content, no signup, 100% {w3}.",
    "Best {w1} site online: {w2} {w3} galleries for adults only.",
    "Watch {w1} {w2} live now, {w3} cams 24/7.",
    "Only {n} spots left for {w1} {w2} chat, {w3} guaranteed.",
    "Warning: {w1} content. 18+ only. {w2} and {w3} inside.",
)


def site_name(rng: random.Random, head: str) -> str:
    """A site host such as 'velmorahub.com' built from a word of the document's world."""
    return f"{head.lower()}{rng.choice(SITE_WORDS)}.{rng.choice(('com', 'net', 'org', 'co', 'info'))}"


def boilerplate_lines(rng: random.Random, site: str, section: str) -> tuple[list[str], list[str]]:
    """(lines to put before the text, lines to put after it) for one page of `site`."""
    fill = {"site": site, "section": section.replace("_", " ").title(), "year": rng.randrange(2014, 2025)}
    head = [t.format(**fill) for t in rng.sample(_BOILERPLATE_HEAD, rng.randint(1, 3))]
    tail = [t.format(**fill) for t in rng.sample(_BOILERPLATE_TAIL, rng.randint(1, 3))]
    return head, tail


def profane_document(rng: random.Random) -> str:
    """An adult spam page: several short lines, each with explicit words."""
    lines = []
    for _ in range(rng.randint(4, 12)):
        w1, w2, w3 = rng.sample(PROFANE_WORDS, 3)
        lines.append(rng.choice(_PROFANE_TEMPLATES).format(w1=w1, w2=w2, w3=w3, n=rng.randrange(2, 20)))
    return "\n".join(lines)


def low_quality_document(rng: random.Random, sample_words: list[str]) -> str:
    """A document a quality filter should drop: too short, garbage characters, or repetition."""
    style = rng.randrange(5)
    if style == 0:  # too short
        return rng.choice(("Click here.", "Page not found.", "Loading...", "Coming soon!", "Read more",
                           "404 error", "Thanks for visiting.", "Login required"))
    if style == 1:  # symbol soup
        return "".join(rng.choice("#@$%^&*(){}[]<>|~=+_-0123456789") for _ in range(rng.randint(80, 600)))
    if style == 2:  # keyboard mash
        return " ".join("".join(rng.choice("qwrtzpsdfghjklxcvbnm") for _ in range(rng.randint(3, 12)))
                        for _ in range(rng.randint(20, 120)))
    if style == 3:  # one word repeated
        word = rng.choice(sample_words) if sample_words else "buy"
        return " ".join([word] * rng.randint(30, 300))
    # keyword stuffing: a list of unrelated words without sentences
    return ", ".join(rng.choice(sample_words) for _ in range(rng.randint(40, 200))) if sample_words else "..."


_WORD = re.compile(r"\S+")


def shingles(text: str, size: int = SHINGLE_SIZE) -> set[tuple[str, ...]]:
    """Word n-gram shingles (lower-cased), the unit MinHash dedup compares."""
    words = [w.lower() for w in _WORD.findall(text)]
    return {tuple(words[i:i + size]) for i in range(max(1, len(words) - size + 1))}


def jaccard(a: str, b: str) -> float:
    """Exact Jaccard similarity of the 5-gram shingle sets of two texts."""
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb) if sa | sb else 1.0


def near_duplicate(text: str, rng: random.Random) -> str:
    """A copy of `text` with a few single-word edits, still ≥ NEAR_DUPLICATE_MIN_JACCARD similar.

    Edits are made line by line on whitespace-separated words, so the line structure survives.
    About one edit per 50 words; if the copy falls below the threshold, edits are halved.
    """
    lines = text.split("\n")
    words_per_line = [line.split(" ") for line in lines]
    positions = [(i, j) for i, ws in enumerate(words_per_line) for j, w in enumerate(ws) if len(w) > 3]
    edits = max(1, len(positions) // 50)
    vocabulary = [words_per_line[i][j] for i, j in positions]
    while True:
        copy = [list(ws) for ws in words_per_line]
        for i, j in rng.sample(positions, min(edits, len(positions))):
            action = rng.randrange(3)
            if action == 0:
                copy[i][j] = rng.choice(vocabulary)
            elif action == 1:
                copy[i][j] = ""
            elif j + 1 < len(copy[i]):
                copy[i][j], copy[i][j + 1] = copy[i][j + 1], copy[i][j]
        result = "\n".join(" ".join(w for w in ws if w) for ws in copy)
        if result != text and jaccard(text, result) >= NEAR_DUPLICATE_MIN_JACCARD:
            return result
        if edits == 1:
            # One edit still too much (very short text): append a word instead, the mildest change.
            return text + " " + rng.choice(vocabulary or ["again"])
        edits = max(1, edits // 2)
