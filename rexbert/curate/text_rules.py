"""Pure text functions used by the cleaning steps: line cleanup, quality heuristics, profanity.

They are our own small implementations rather than datatrove's Gopher/C4 filters because
those need spaCy for word splitting and ran at 0.3-0.5 MB/s per core on real text (measured,
see DESIGN.md); one regex tokenisation shared by every rule here is enough for English and
`benchmarks/curate_throughput.py` compares the two.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from pathlib import Path

WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
TOKEN_RE = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_SPACES = re.compile(r"\s+")

# Gopher's stop words (Rae et al., 2021, §A.1.1): real English prose contains several of them.
STOP_WORDS = frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})
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
)
_BOILERPLATE_RE = re.compile("|".join(f"(?:{p})" for p in _BOILERPLATE_PATTERNS), re.IGNORECASE)
_BOILERPLATE_MAX_WORDS = 14


def words(text: str) -> list[str]:
    """Word tokens (letters/digits, inner apostrophes kept), in order."""
    return WORD_RE.findall(text)


def count_tokens(text: str) -> int:
    """Word-level token count used in statistics: words and punctuation marks (regex `\\w+|[^\\w\\s]`)."""
    return sum(1 for _ in TOKEN_RE.finditer(text))


def is_boilerplate_line(line: str) -> bool:
    """Whether one line is navigation, cookie, sharing, newsletter or advertisement chrome."""
    stripped = line.strip()
    if not stripped:
        return False
    n_words = len(words(stripped))
    if n_words > _BOILERPLATE_MAX_WORDS:
        return False
    if stripped.count("|") >= 3:  # "Home | News | Sports | Contact" menus
        return True
    return _BOILERPLATE_RE.search(stripped) is not None


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


def quality_problem(text: str, cfg) -> str | None:
    """The first Gopher/C4-style heuristic `text` fails (a short reason), or None if it passes.

    `cfg` is a `QualityConfig`. Checks follow Gopher (Rae et al., 2021, §A.1.1): word count,
    mean word length, symbol-to-word ratio, bullet/ellipsis line fractions, alphabetic words,
    stop words; and C4-style repeated lines.
    """
    tokens = text.split()
    n = len(tokens)
    if n < cfg.min_words:
        return "too_few_words"
    if n > cfg.max_words:
        return "too_many_words"
    word_list = words(text)
    if not word_list:
        return "no_alpha_words"
    mean_len = sum(len(w) for w in word_list) / len(word_list)
    if mean_len < cfg.min_mean_word_length or mean_len > cfg.max_mean_word_length:
        return "mean_word_length"
    symbols = text.count("#") + text.count("...") + text.count("…")
    if symbols / n > cfg.max_symbol_word_ratio:
        return "symbol_ratio"
    alpha = sum(1 for t in tokens if any(c.isalpha() for c in t))
    if alpha / n < cfg.min_alpha_word_fraction:
        return "alpha_fraction"
    lowered = {w.lower() for w in word_list}
    if len(STOP_WORDS & lowered) < cfg.min_stop_words:
        return "stop_words"
    lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
    if lines:
        if sum(ln.startswith(BULLETS) for ln in lines) / len(lines) > cfg.max_bullet_line_fraction:
            return "bullet_lines"
        if sum(ln.endswith(("...", "…")) for ln in lines) / len(lines) > cfg.max_ellipsis_line_fraction:
            return "ellipsis_lines"
        if len(lines) >= 3 and 1 - len(set(lines)) / len(lines) > cfg.max_duplicate_line_fraction:
            return "duplicate_lines"
    return None


@lru_cache(maxsize=8)
def load_wordlist(path: str | None = None) -> frozenset[str]:
    """Profanity/adult terms, one per line (`#` comments); the shipped list when `path` is None."""
    if path is None:
        raw = resources.files("rexbert.curate").joinpath("resources/profanity_en.txt").read_text("utf-8")
    else:
        raw = Path(path).read_text("utf-8")
    return frozenset(
        line.strip().lower() for line in raw.splitlines() if line.strip() and not line.lstrip().startswith("#")
    )


def profanity_hits(word_list: Iterable[str], wordlist: frozenset[str]) -> int:
    """How many words of `word_list` are on the profanity list (case-insensitive)."""
    return sum(1 for w in word_list if w.lower() in wordlist)


def fasttext_text(text: str, max_words: int) -> str:
    """One-line, lower-cased, truncated text as fed to the relevance classifiers (train = score)."""
    return " ".join(words(text.lower())[:max_words])


def single_line(text: str) -> str:
    """Whitespace-collapsed text (fastText's predict refuses newlines)."""
    return _SPACES.sub(" ", text).strip()
