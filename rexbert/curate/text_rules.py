"""Pure text functions used by the cleaning steps: line cleanup, quality heuristics, profanity.

They are our own small implementations rather than datatrove's Gopher/C4 filters because
those need spaCy for word splitting and ran at 0.3-0.5 MB/s per core on real text (measured,
see DESIGN.md); one regex tokenisation shared by every rule here is enough for English and
`benchmarks/curate_throughput.py` compares the two.

Catalogue text is semi-structured: a listing page is a column of product titles, a product page
has attribute-value lines and specification tables. Gopher's rules were written for prose: they
expect stop words, distrust bullet lists and repeated lines, and they dropped most real listing
pages (`benchmarks/curate_quality.py`). So every line is first classed as prose or structure
(`is_structured_line`), and the prose-only rules look at a document's prose only; the rules
against garbage (symbols, keyboard mash, near-empty pages) look at every document.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path

WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
TOKEN_RE = re.compile(r"\w+|[^\w\s]", re.UNICODE)

# Gopher's stop words (Rae et al., 2021, §A.1.1): real English prose contains several of them.
STOP_WORDS = frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})
_GOPHER_MIN_WORDS = 50  # Gopher's shortest document
BULLETS = ("•", "●", "▪", "◦", "‣", "-", "*", "·")

# Boilerplate and advertisement lines that web pages repeat around the content. Each rule is a
# case-insensitive pattern for a whole short line; long lines are kept (real prose can mention
# "privacy policy" in passing).
_BOILERPLATE_PATTERNS = (
    r"(we|this (site|website)) uses? cookies", r"accept (all )?cookies", r"cookie (policy|settings|preferences)",
    r"subscribe( now)? to (our|the) newsletter", r"sign up for (our|the) newsletter", r"^subscribe\b",
    r"all rights reserved", r"^(©|\(c\)|copyright)\s*(\d{4})?", r"\bclick here\b", r"^read more\b",
    r"^(share|tweet|pin)( this| it)?( on)? ?(facebook|twitter|pinterest|linkedin|x|email)?\s*$",
    r"^share (on|via) ", r"^follow us( on)?\b", r"terms (of|and) (use|service|conditions)", r"^privacy policy",
    r"^(log ?in|sign ?in|register|sign ?up)( \| .*)?$", r"^advertisement\s*$", r"^sponsored( content)?\s*$",
    r"^skip to (main )?content", r"enable javascript", r"^(back to top|top of page)\s*$",
    r"^(home|menu|search|contact us|about us)(\s*[|>»/]\s*\w[\w ]*)*\s*$", r"^related (posts|articles|stories):?\s*$",
    r"^(leave a (comment|reply)|comments? \(\d+\))", r"^posted (by|in|on) ", r"^tags?:\s", r"^\d+ comments?\s*$",
    r"limited time offer", r"^(buy now|shop now|order now|learn more)[.!]?\s*$", r"^loading\.*\s*$",
    r"\b(basket|cart|bag|trolley)\s*\(\d+\)", r"^free (delivery|shipping|returns) on (all )?orders\b",
    r"^(error )?404\b", r"\bpage (not found|cannot be found|could not be found|does not exist)\b", r"^coming soon\b",
)
# two regexes, not one: the anchored rules are tried at the start of a line only (`match`), so
# `search` scans each line with the few unanchored ones (a third of the time on real listings)
_BOILERPLATE_START_RE = re.compile("|".join(f"(?:{p[1:]})" for p in _BOILERPLATE_PATTERNS if p.startswith("^")),
                                   re.IGNORECASE)
_BOILERPLATE_ANYWHERE_RE = re.compile("|".join(f"(?:{p})" for p in _BOILERPLATE_PATTERNS if not p.startswith("^")),
                                      re.IGNORECASE)
_BOILERPLATE_MAX_WORDS = 14
_BOILERPLATE_MAX_CHARS = 40 * _BOILERPLATE_MAX_WORDS  # longer lines hold more words, or words no page chrome has
# Words of site chrome (menus, account bars). A short line made only of these is navigation;
# product and category words ("women", "bag", "sale") are deliberately absent, so a two-word
# product title is never taken for a menu.
NAVIGATION_WORDS = frozenset("""
home menu search account my your basket cart checkout wishlist sign log in out up register login logout signin
signup help contact us about faq faqs support sitemap careers blog track order orders returns store stores locator
finder language currency skip to content main navigation close open back top next previous prev page view all more
""".split())
_NAVIGATION_MAX_WORDS = 8

# Line shapes of catalogue text: "Colour: Navy", "Battery life: 10 hours" (a short key, a value).
_ATTRIBUTE_RE = re.compile(r"^[^\W\d_][^:：]{0,40}[:：]\s*\S")
_ATTRIBUTE_MAX_WORDS = 16
_SENTENCE_END = (".", "!", "?", "…", '"', "”", "’")
# Longer than this, an uncapitalised line is prose even without a full stop (news text with
# its punctuation stripped, one paragraph per line).
_PROSE_LINE_WORDS = 25
# A document is catalogue text when most of its words sit in structured lines.
STRUCTURED_WORD_SHARE = 0.5

# Tokens that carry no letter but are content in catalogue text: prices, sizes, model numbers,
# dates ("£9.99", "0-4-0", "2/3/4", "12\"", "(3)") and list separators.
_NUMBER_TOKEN_RE = re.compile(r"[(\[]?[£$€₹¥]?[+-]?\d[\d.,:/×x%\'\"-]*[)\].,;:!?]*")
SEPARATOR_TOKENS = frozenset({"-", "–", "—", "|", "/", "&", "+", "•", "·", "*", ":", ",", "x", "×", "="})
_VOWELS = set("aeiouyAEIOUY")


def words(text: str) -> list[str]:
    """Word tokens (letters/digits, inner apostrophes kept), in order."""
    return WORD_RE.findall(text)


def count_tokens(text: str) -> int:
    """Word-level token count used in statistics: words and punctuation marks (regex `\\w+|[^\\w\\s]`)."""
    return len(TOKEN_RE.findall(text))


def is_boilerplate_line(line: str) -> bool:
    """Whether one line is navigation, cookie, sharing, newsletter or advertisement chrome."""
    stripped = line.strip()
    if not stripped or len(stripped) > _BOILERPLATE_MAX_CHARS:
        return False  # a paragraph: no need to split it into words to see that it is long
    line_words = words(stripped)
    if len(line_words) > _BOILERPLATE_MAX_WORDS:
        return False
    if stripped.count("|") >= 3:  # "Home | News | Sports | Contact" menus
        return True
    if 2 <= len(line_words) <= _NAVIGATION_MAX_WORDS and all(w.lower() in NAVIGATION_WORDS for w in line_words):
        return True  # "Menu Search Account Basket", "Sign in Register"
    return _BOILERPLATE_START_RE.match(stripped) is not None or _BOILERPLATE_ANYWHERE_RE.search(stripped) is not None


def remove_boilerplate_lines(text: str) -> tuple[str, int]:
    """Drop boilerplate lines; return the cleaned text and how many lines were removed."""
    kept, removed = [], 0
    for line in text.split("\n"):
        if is_boilerplate_line(line):
            removed += 1
        else:
            kept.append(line)
    if not removed:
        return text, 0
    return "\n".join(kept).strip(), removed


def is_structured_line(line: str, line_words: Sequence[str]) -> bool:
    """Whether a line is catalogue structure (a title, an attribute-value pair, a table row, a label) rather than prose.

    Titles, brand and model names and specification values are mostly capitalised or numeric;
    prose is mostly lower case and runs in sentences.
    """
    if not line_words:
        return True
    if "\t" in line or (len(line_words) <= _ATTRIBUTE_MAX_WORDS and _ATTRIBUTE_RE.match(line)):
        return True
    capitalised = sum(1 for w in line_words if w[0].isupper() or w[0].isdigit())
    if 2 * capitalised >= len(line_words):
        return True
    return len(line_words) <= _PROSE_LINE_WORDS and not line.rstrip().endswith(_SENTENCE_END)


class LineProfile:
    """A document's non-empty lines, their words and whether each is structure or prose."""

    def __init__(self, text: str | None = None) -> None:
        self.lines = [ln.strip() for ln in (text or "").split("\n") if ln.strip()]
        self.line_words = [words(ln) for ln in self.lines]
        self.structured = [is_structured_line(ln, ws) for ln, ws in zip(self.lines, self.line_words, strict=True)]

    @property
    def words(self) -> list[str]:
        """Every word, in order (as `words(text)`: no word spans a line break)."""
        return [w for ws in self.line_words for w in ws]

    def without(self, drop: set[int]) -> LineProfile:
        """The profile of the same text without the lines at positions `drop`."""
        other = LineProfile()
        keep = [i for i in range(len(self.lines)) if i not in drop]
        other.lines = [self.lines[i] for i in keep]
        other.line_words = [self.line_words[i] for i in keep]
        other.structured = [self.structured[i] for i in keep]
        return other

    @property
    def n_words(self) -> int:
        """Words in all lines."""
        return sum(len(ws) for ws in self.line_words)

    @property
    def prose_lines(self) -> list[str]:
        """The lines classed as prose."""
        return [ln for ln, s in zip(self.lines, self.structured, strict=True) if not s]

    @property
    def is_catalogue(self) -> bool:
        """Whether most words sit in structured lines (a listing, a product or spec page)."""
        structured = sum(len(ws) for ws, s in zip(self.line_words, self.structured, strict=True) if s)
        return structured > STRUCTURED_WORD_SHARE * max(self.n_words, 1)


def collapse_repeated_lines(text: str, profile: LineProfile | None = None) -> tuple[str, int, LineProfile]:
    """In catalogue text, keep the first of identical structured lines (size/colour variants); prose is untouched.

    Real category pages list one title per variant; the copies add nothing, and the repeated-line
    rule (meant for templated spam) would otherwise drop the whole page. Returns the text, how
    many lines were removed, and the profile of the returned text.
    """
    profile = profile or LineProfile(text)
    if not profile.is_catalogue:
        return text, 0, profile
    seen: set[str] = set()
    repeats: set[int] = set()
    for i, (line, line_words) in enumerate(zip(profile.lines, profile.line_words, strict=True)):
        if line in seen and len(line_words) >= 3:
            repeats.add(i)
        seen.add(line)
    if not repeats:
        return text, 0, profile
    drop = {profile.lines[i] for i in repeats}
    kept, seen_raw = [], set()
    for raw in text.split("\n"):
        key = raw.strip()
        if key in drop and key in seen_raw:
            continue
        seen_raw.add(key)
        kept.append(raw)
    return "\n".join(kept), len(repeats), profile.without(repeats)


# Whole words as WORD_RE splits them (no letter or digit around, no inner apostrophe), found by
# one regex pass over the text instead of a Python loop over its words: these rules run on
# every document of the corpus
_EDGE_BEFORE, _EDGE_AFTER = r"(?<![^\W_])(?<![^\W_]['’])", r"(?![^\W_])(?!['’][^\W_])"
_LATIN_WORD_RE = re.compile(_EDGE_BEFORE + r"[A-Za-z]{4,}" + _EDGE_AFTER)
_VOWELLESS_WORD_RE = re.compile(_EDGE_BEFORE + r"[b-df-hj-np-tv-xzB-DF-HJ-NP-TV-XZ]{4,}" + _EDGE_AFTER)
_LETTER_RE = re.compile(r"[^\W\d_]")
_REPETITION_MIN_WORDS = 10
_KEYWORD_ITEM_SHARE = 0.8
_LETTERLESS_TOKEN_RE = re.compile(r"(?<!\S)(?:(?![^\W\d_])\S)+(?!\S)")


def _garbage_token_fraction(text: str, n_tokens: int) -> float:
    """Share of whitespace tokens that hold no letter and are neither numbers (prices, sizes) nor separators."""
    garbage = sum(1 for t in _LETTERLESS_TOKEN_RE.findall(text)
                  if t not in SEPARATOR_TOKENS and not _NUMBER_TOKEN_RE.fullmatch(t))
    return garbage / max(n_tokens, 1)


def _vowelless_fraction(text: str) -> float:
    """Share of Latin-letter words of 4+ letters without a vowel (keyboard mash; "HDMI", "XXL" are rare)."""
    latin = len(_LATIN_WORD_RE.findall(text))
    return len(_VOWELLESS_WORD_RE.findall(text)) / latin if latin else 0.0


def _is_keyword_list(text: str, min_items: int) -> bool:
    """Keyword stuffing: at least `min_items` comma-separated items, nearly all of them one word.

    Prose puts phrases between its commas, and a product line lists a few colours or sizes; a
    page that is one long run of "word, word, word, ..." is neither.
    """
    if text.count(",") < min_items - 1:
        return False
    items = [item for item in (part.strip() for part in text.split(",")) if item]
    return len(items) >= min_items and sum(1 for item in items if " " not in item) >= _KEYWORD_ITEM_SHARE * len(items)


def _document_problem(text: str, tokens: list[str], word_list: list[str], cfg) -> str | None:
    """Rules for every document: length, word shape, symbols, garbage tokens."""
    if len(tokens) < cfg.min_words:
        return "too_few_words"
    if len(tokens) > cfg.max_words:
        return "too_many_words"
    if not _LETTER_RE.search(text):
        return "no_alpha_words"
    mean_len = sum(map(len, word_list)) / len(word_list)
    if mean_len < cfg.min_mean_word_length or mean_len > cfg.max_mean_word_length:
        return "mean_word_length"
    symbols = text.count("#") + text.count("...") + text.count("…")
    if symbols / len(tokens) > cfg.max_symbol_word_ratio:
        return "symbol_ratio"
    if 1 - _garbage_token_fraction(text, len(tokens)) < cfg.min_alpha_word_fraction:
        return "alpha_fraction"
    if _vowelless_fraction(text) > cfg.max_vowelless_word_fraction:
        return "garbage_words"
    if _is_keyword_list(text, cfg.keyword_list_min_items):
        return "keyword_list"
    if len(word_list) >= _REPETITION_MIN_WORDS:
        top = Counter(map(str.lower, word_list)).most_common(1)[0][1]
        if top > cfg.max_top_word_fraction * len(word_list):
            return "repeated_words"  # "Register Register Register ...": one word, however it is laid out
    return None


def _line_problem(lines: list[str], cfg, *, bullets: bool) -> str | None:
    """Gopher's bullet and ellipsis fractions and C4's repeated lines over `lines`."""
    if not lines:
        return None
    if bullets and sum(ln.startswith(BULLETS) for ln in lines) / len(lines) > cfg.max_bullet_line_fraction:
        return "bullet_lines"
    if sum(ln.endswith(("...", "…")) for ln in lines) / len(lines) > cfg.max_ellipsis_line_fraction:
        return "ellipsis_lines"
    if len(lines) >= 3 and 1 - len(set(lines)) / len(lines) > cfg.max_duplicate_line_fraction:
        return "duplicate_lines"
    return None


def quality_problem(text: str, cfg, profile: LineProfile | None = None) -> str | None:
    """The first quality rule `text` fails (a short reason), or None if it passes.

    `cfg` is a `QualityConfig`. Every document: word count, mean word length, symbol-to-word
    ratio, garbage tokens, vowel-less words (Gopher, Rae et al., 2021, §A.1.1, with prices and
    sizes counted as content). Prose documents also: stop words, bullet and ellipsis line
    fractions, repeated lines (C4). Catalogue documents (lists of titles, attribute lines, spec
    tables) are held to the line rules on their prose lines only and to repeated lines
    over all lines: a list of products is not a bullet-list spam page. `profile` is the
    text's `LineProfile` when the caller has it already.
    """
    profile = profile or LineProfile(text)
    tokens, word_list = text.split(), profile.words
    problem = _document_problem(text, tokens, word_list, cfg)
    if problem:
        return problem
    if profile.is_catalogue:
        prose = profile.prose_lines
        if len(prose) >= 3:
            problem = _line_problem(prose, cfg, bullets=False)
        # repeated titles only: a price or "by <brand>" line recurs on any listing
        items = [ln for ln, ws in zip(profile.lines, profile.line_words, strict=True) if len(ws) >= 3]
        if problem is None and len(items) >= 3 and 1 - len(set(items)) / len(items) > cfg.max_duplicate_line_fraction:
            problem = "duplicate_lines"
        return problem
    # Gopher applied its stop-word rule to documents of 50 words or more; a shorter prose text
    # (a two-sentence product description) needs one of them, not two
    needed = cfg.min_stop_words if len(word_list) >= _GOPHER_MIN_WORDS else min(cfg.min_stop_words, 1)
    if len(STOP_WORDS.intersection(map(str.lower, word_list))) < needed:
        return "stop_words"
    return _line_problem(profile.lines, cfg, bullets=True)


def _read_list(path: str | None, shipped: str) -> str:
    if path is None:
        return resources.files("rexbert.curate").joinpath(f"resources/{shipped}").read_text("utf-8")
    if not Path(path).is_file():
        from rexbert.errors import UserError

        raise UserError(f"{path}: word list not found; fix cleaning.profanity.wordlist_path / allowlist_path")
    return Path(path).read_text("utf-8")


def _entries(raw: str) -> list[str]:
    return [line.strip().lower() for line in raw.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@lru_cache(maxsize=8)
def load_wordlist(path: str | None = None) -> frozenset[str]:
    """Profanity/adult terms, one per line (`#` comments); the shipped list when `path` is None."""
    return frozenset(_entries(_read_list(path, "profanity_en.txt")))


@lru_cache(maxsize=8)
def load_allowlist(path: str | None = None) -> tuple[tuple[str, ...], ...]:
    """Trade terms that contain a listed word ("bastard cut", "paint stripper"), as word tuples."""
    return tuple(tuple(words(entry)) for entry in _entries(_read_list(path, "profanity_allow_en.txt")))


def may_hold_listed_word(text: str, wordlist: frozenset[str]) -> bool:
    """A quick pre-check: whether any listed word occurs in `text` at all, as a substring (never misses a hit)."""
    lowered = text.lower()
    return any(term in lowered for term in wordlist)


def _allowed_at(tokens: Sequence[str], i: int, allowed: Sequence[tuple[str, ...]]) -> bool:
    """Whether the word at position i is part of an allow-listed phrase."""
    for phrase in allowed:
        for offset, word in enumerate(phrase):
            start = i - offset
            if word == tokens[i] and start >= 0 and tuple(tokens[start:start + len(phrase)]) == phrase:
                return True
    return False


def profanity_terms(word_list: Iterable[str], wordlist: frozenset[str],
                    allowed: Sequence[tuple[str, ...]] = ()) -> list[str]:
    """The listed words of `word_list` (whole words, case-insensitive), in order, outside allow-listed phrases."""
    tokens = [w.lower() for w in word_list]
    return [t for i, t in enumerate(tokens) if t in wordlist and not (allowed and _allowed_at(tokens, i, allowed))]


def profanity_hits(word_list: Iterable[str], wordlist: frozenset[str], allowed: Sequence[tuple[str, ...]] = ()) -> int:
    """How many words of `word_list` are on the profanity list (case-insensitive), outside allowed phrases."""
    return len(profanity_terms(word_list, wordlist, allowed))


def is_profane(text: str, hits: Sequence[str], n_words: int, cfg, wordlist: frozenset[str],
               allowed: Sequence[tuple[str, ...]] = ()) -> bool:
    """Whether a document with these hits is profane or adult: dense hits, or many distinct terms.

    `cfg` is a `ProfanityConfig`. One incidental word (a quoted insult in a news story, a file cut
    in a tool listing) never drops a page: it takes `min_hits` hits and then either
    `distinct_terms` different terms (long adult pages repeat many of them), or dense hits: in
    prose, `min_hits_per_100_words`; in catalogue text, where every line is another product,
    hits on at least `min_hit_line_fraction` of the lines (two novelty mugs do not make a listing
    of 22 products adult; a shop of adult products has them on every line).
    """
    if len(hits) < cfg.min_hits:
        return False
    if len(Counter(hits)) >= cfg.distinct_terms:
        return True
    profile = LineProfile(text)
    if profile.is_catalogue and len(profile.lines) >= 3:
        flagged = sum(1 for ws in profile.line_words if profanity_terms(ws, wordlist, allowed))
        return flagged >= cfg.min_hit_line_fraction * len(profile.lines)
    return 100.0 * len(hits) / max(n_words, 1) >= cfg.min_hits_per_100_words


def fasttext_text(text: str, max_words: int) -> str:
    """One-line, lower-cased, truncated text as fed to the relevance classifiers (train = score)."""
    return " ".join(words(text.lower())[:max_words])
