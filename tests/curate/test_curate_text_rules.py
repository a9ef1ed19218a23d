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


# --- catalogue text: real-shaped fixtures written here (never read from ../shared) -----------------

LISTING = "\n".join([
    "Stainless Steel Vacuum Flask 750ml Leak Proof Matte Black",
    "£14.99",
    "Ceramic Coffee Mug Set 4 Pack Speckled Glaze 350ml",
    "£22.50",
    "Bamboo Cutting Board Large 45 x 30 cm",
    "£18.00",
    "Silicone Spatula Set 3 Piece Heat Resistant",
    "£7.99",
    "Cast Iron Skillet 26cm Pre-Seasoned",
    "£29.95",
    "Glass Storage Jars Bamboo Lids 6 Pack",
    "£24.99",
    "Electric Kettle 1.7L Cordless 3000W Brushed Steel",
    "£34.99",
    "Digital Kitchen Scale 5kg Slim Tempered Glass",
    "£12.49",
    "Kids Insulated Water Bottle 350ml Dinosaur Print",
    "£9.99",
    "Kids Insulated Water Bottle 350ml Dinosaur Print",
    "£9.99",
    "Kids Insulated Water Bottle 350ml Dinosaur Print",
    "£9.99",
    "Non-Stick Frying Pan 28cm Induction Granite",
    "£19.99",
])
SPEC_SHEET = "\n".join([
    "Cordless Drill Driver 18V Brushless",
    "Voltage: 18 V",
    "Chuck size: 13 mm",
    "Max torque: 60 Nm",
    "Speed: 0-450 / 0-1800 rpm",
    "Weight: 1.4 kg",
    "In the box: 2 x 2.0 Ah batteries, charger, case",
])


def test_listing_page_of_titles_passes_and_would_fail_the_prose_rules():
    cfg = QualityConfig()
    assert len(text_rules.STOP_WORDS & {w.lower() for w in text_rules.words(LISTING)}) < cfg.min_stop_words
    assert text_rules.LineProfile(LISTING).is_catalogue
    collapsed, removed, profile = text_rules.collapse_repeated_lines(LISTING)
    assert removed == 2 and collapsed.count("Dinosaur Print") == 1
    assert profile.lines == text_rules.LineProfile(collapsed).lines
    assert text_rules.quality_problem(collapsed, cfg) is None
    # a listing where every title is a bullet is still a listing, not a bullet-spam page
    assert text_rules.quality_problem("\n".join(f"- {ln}" for ln in collapsed.splitlines()), cfg) is None


def test_spec_sheet_and_short_product_description_pass():
    cfg = QualityConfig()
    assert text_rules.quality_problem(SPEC_SHEET, cfg) is None
    short = "Handmade leather wallet for men, bifold, six card slots and a coin pocket. Tan."
    assert text_rules.quality_problem(short, cfg) is None


def test_garbage_and_near_empty_pages_still_go():
    cfg = QualityConfig()
    assert text_rules.quality_problem("Page not found.", cfg) == "too_few_words"
    mash = " ".join(["qwrtz", "psdfgh", "jklxcv", "bnmqwr", "tzpsdf", "ghjklx"] * 8)
    assert text_rules.quality_problem(mash, cfg) == "garbage_words"
    assert text_rules.quality_problem(" ".join(["%%%% #### @@@@ ~~~~ <<>>"] * 10), cfg) is not None
    # one capitalised word repeated reads as catalogue structure, not prose: the repetition rule holds it
    assert text_rules.quality_problem(" ".join(["Register"] * 40), cfg) == "repeated_words"
    assert text_rules.quality_problem("COMPATIBLE: " * 30, cfg) == "repeated_words"
    stuffing = ", ".join("the cheap flights best hotel of deals and travel insurance with tips that to be have".split() * 2)
    assert text_rules.quality_problem(stuffing, cfg) == "keyword_list"
    colours = "Cotton polo shirt for men, slim fit, in Navy, Red, White, Black, Grey and Olive, sizes S, M, L, XL."
    assert text_rules.quality_problem(colours, cfg) is None
    spam = "\n".join(["CHEAP DESIGNER WATCHES BEST REPLICA ONLINE"] * 12)
    collapsed, _, _ = text_rules.collapse_repeated_lines(spam)
    assert text_rules.quality_problem(collapsed, cfg) == "too_few_words"
    assert text_rules.quality_problem(spam, cfg) == "duplicate_lines"  # with collapsing switched off


def test_navigation_cookie_and_footer_lines_around_a_listing_are_removed():
    page = "\n".join(["Menu Search Account Basket", "Free delivery on orders over £25 | Sign in | Basket (0)",
                      "We use cookies to give you the best experience. Accept all cookies", LISTING,
                      "Privacy Policy | Terms of Use | Cookie Settings | Sitemap", "© 2024 All rights reserved."])
    cleaned, removed = text_rules.remove_boilerplate_lines(page)
    assert removed == 5 and cleaned == LISTING
    # a two-word product title made of ordinary words is not navigation
    assert not text_rules.is_boilerplate_line("Women Heels")


def test_profanity_allow_list_and_density():
    from rexbert.curate.config import ProfanityConfig

    cfg, wordlist, allowed = ProfanityConfig(), text_rules.load_wordlist(), text_rules.load_allowlist()
    file_listing = LISTING + "\nBastard Cut Half Round File 10 inch with Handle\nWire Strippers Automatic 0.2-6mm"
    tokens = text_rules.words(file_listing)
    assert text_rules.profanity_hits(tokens, wordlist) == 2  # the plain list matches both...
    assert text_rules.profanity_terms(tokens, wordlist, allowed) == []  # ...the trade terms do not count
    # two incidental words in a long news story: below the density, fewer than the distinct terms
    story = " ".join([PROSE, "One resident told reporters the plan was bullshit.", PROSE, PROSE,
                      "Another called the architect a bastard, to laughter.", PROSE, PROSE])
    hits = text_rules.profanity_terms(text_rules.words(story), wordlist, allowed)
    assert len(hits) == 2 and not text_rules.is_profane(story, hits, len(text_rules.words(story)), cfg, wordlist, allowed)
    adult = "\n".join(["Free porn videos updated daily, hot xxx and milf clips.", "Watch horny sluts live now, nsfw cams."] * 3)
    hits = text_rules.profanity_terms(text_rules.words(adult), wordlist, allowed)
    assert text_rules.is_profane(adult, hits, len(text_rules.words(adult)), cfg, wordlist, allowed)
