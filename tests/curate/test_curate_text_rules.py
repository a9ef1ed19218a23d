"""Line cleanup, quality heuristics, profanity list and token counting."""

from rexbert.curate import text_rules
from rexbert.curate.config import QualityConfig

PROSE = ("The committee met on Tuesday to discuss the plan for the new library, and the members agreed that the "
         "building should have more room for children. They said that the work would take two years and that "
         "the city would pay for most of it with money from the state.")


def test_boilerplate_lines_are_removed_and_prose_kept():
    text = "\n".join(["Home | News | Sports | Contact", PROSE, "We use cookies to improve your experience.",
                      "Subscribe to our newsletter", "Share on Facebook", "© 2024 Example Inc. All rights reserved."])
    cleaned, removed = text_rules.remove_boilerplate_lines(text)
    assert removed == 5
    assert cleaned == PROSE


def test_long_line_mentioning_privacy_policy_is_not_boilerplate():
    line = ("Our reporter read the privacy policy of the company and found that it shares data with partners in "
            "ways that most users would never expect from a simple weather application on their phone.")
    assert not text_rules.is_boilerplate_line(line)


def test_quality_reasons():
    cfg = QualityConfig(min_words=20)
    assert text_rules.quality_problem(PROSE, cfg) is None
    assert text_rules.quality_problem("too short to keep", cfg) == "too_few_words"
    assert text_rules.quality_problem(" ".join(["1234 5678 %%%% ####"] * 20), cfg) in {"no_alpha_words", "mean_word_length",
                                                                                     "symbol_ratio", "alpha_fraction"}
    no_stop = " ".join(["apple banana cherry orange melon grape lemon peach"] * 5)
    assert text_rules.quality_problem(no_stop, cfg) == "stop_words"
    repeated = "\n".join([PROSE] * 6)
    assert text_rules.quality_problem(repeated, cfg) == "duplicate_lines"


def test_profanity_matches_whole_words_only():
    wordlist = text_rules.load_wordlist()
    assert text_rules.profanity_hits(text_rules.words("This class passed the assessment"), wordlist) == 0
    assert text_rules.profanity_hits(text_rules.words("what a fucking bullshit day"), wordlist) == 2


def test_token_count_counts_words_and_punctuation():
    assert text_rules.count_tokens("Buy 2 shirts, now!") == 6


def test_fasttext_text_is_one_lowercase_line():
    assert text_rules.fasttext_text("Buy NOW\nfree Shipping", 3) == "buy now free"
