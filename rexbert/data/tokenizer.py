"""Byte-level BPE tokenizer training and loading, with ModernBERT's special tokens.

ModernBERT uses a byte-level BPE (from OLMo) with `[CLS] [SEP] [MASK] [PAD] [UNK]`; `[MASK]`
strips the space to its left so that "a [MASK] b" masks the word and its leading space together.
The vocabulary is padded with `[unused<i>]` tokens to a multiple of 64 so that embedding and
decoder matmuls tile well on GPUs (50,368 at full size). The saved folder loads with
transformers' `AutoTokenizer.from_pretrained`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rexbert.errors import UserError

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
VOCAB_MULTIPLE = 64
MAX_LENGTH = 8192


@dataclass(frozen=True)
class TokenizerInfo:
    """What the data and train stages need to know about a tokenizer folder."""

    path: Path
    vocab_size: int  # len(tokenizer), including specials and padding tokens
    pad_token_id: int
    cls_token_id: int
    sep_token_id: int
    mask_token_id: int
    unk_token_id: int | None
    special_ids: tuple[int, ...]  # every id that must never be masked or sampled as a replacement
    fingerprint: str  # sha256 of tokenizer.json: shards and checkpoints record which tokenizer made them

    @property
    def padded_vocab_size(self) -> int:
        """The model's vocabulary: the tokenizer's rounded up to a multiple of 64."""
        return -(-self.vocab_size // VOCAB_MULTIPLE) * VOCAB_MULTIPLE


def train_tokenizer(
    texts: Iterable[str], vocab_size: int, out_dir: str | Path, min_frequency: int = 2
) -> TokenizerInfo:
    """Train a byte-level BPE on `texts` and save it under `out_dir`; returns its info.

    `vocab_size` must be a multiple of 64 and counts specials; when the corpus is too small to
    learn that many merges, `[unused<i>]` tokens fill the gap so the size stays exact.
    """
    from tokenizers import (
        AddedToken,
        Tokenizer,
        decoders,
        models,
        pre_tokenizers,
        processors,
        trainers,
    )
    from transformers import PreTrainedTokenizerFast

    if vocab_size % VOCAB_MULTIPLE:
        raise UserError(f"--vocab-size {vocab_size} is not a multiple of {VOCAB_MULTIPLE}; use e.g. "
                        f"{-(-vocab_size // VOCAB_MULTIPLE) * VOCAB_MULTIPLE}")
    # 256 byte symbols + the specials is the smallest byte-level vocabulary.
    if vocab_size < 256 + VOCAB_MULTIPLE:
        raise UserError(f"--vocab-size {vocab_size} is too small for a byte-level BPE; use at least 320")
    tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=True,
    )
    counted = _CountingIterator(texts)
    tokenizer.train_from_iterator(counted, trainer=trainer)
    if counted.count == 0:
        raise UserError("tokenizer training input holds no non-empty text; check --input")
    mask = AddedToken("[MASK]", lstrip=True, rstrip=False, normalized=False, special=True)
    tokenizer.add_special_tokens([mask])
    missing = vocab_size - tokenizer.get_vocab_size()
    if missing > 0:
        tokenizer.add_special_tokens([f"[unused{i}]" for i in range(missing)])
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token=mask,
        pad_token="[PAD]",
        unk_token="[UNK]",
        model_max_length=MAX_LENGTH,
        clean_up_tokenization_spaces=False,
    )
    fast.model_input_names = ["input_ids", "attention_mask"]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(str(out_dir))
    _write_compat_files(out_dir)
    return load_tokenizer_info(out_dir)


def _write_compat_files(out_dir: Path) -> None:
    """Name the class every transformers release knows and add `special_tokens_map.json`.

    transformers 5 records its own backend class name, which 4.x cannot resolve;
    `PreTrainedTokenizerFast` loads on both (ModernBERT's own folder uses it too).
    """
    from rexbert.fileio import atomic_write_json, read_json

    config_path = out_dir / "tokenizer_config.json"
    config = read_json(config_path)
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    atomic_write_json(config_path, config)
    special = {"cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]",
               "mask_token": {"content": "[MASK]", "lstrip": True, "rstrip": False,
                              "normalized": False, "single_word": False}}
    atomic_write_json(out_dir / "special_tokens_map.json", special)


class _CountingIterator:
    """Pass texts through to the trainer, skipping empty ones and counting the rest."""

    def __init__(self, texts: Iterable[str]) -> None:
        self._texts = texts
        self.count = 0

    def __iter__(self) -> Iterator[str]:
        for text in self._texts:
            if text.strip():
                self.count += 1
                yield text


def load_fast_tokenizer(path: str | Path):
    """The transformers tokenizer of a folder, with a clear error when it is not one."""
    from transformers import AutoTokenizer

    path = Path(path)
    if not (path / "tokenizer.json").is_file():
        raise UserError(
            f"{path}: not a tokenizer folder (no tokenizer.json); create one with "
            "`rexbert tokenizer train` or pass a transformers fast-tokenizer folder"
        )
    try:
        return AutoTokenizer.from_pretrained(str(path))
    except Exception as err:  # transformers raises many types for a broken folder
        raise UserError(f"{path}: transformers cannot load this tokenizer ({err})") from err


def load_tokenizer_info(path: str | Path) -> TokenizerInfo:
    """Validate a tokenizer folder (ours or an existing one such as ModernBERT's) and describe it."""
    path = Path(path)
    tok = load_fast_tokenizer(path)
    ids = {}
    for role in ("pad", "cls", "sep", "mask"):
        token_id = getattr(tok, f"{role}_token_id")
        if token_id is None:
            raise UserError(
                f"{path}: tokenizer has no {role} token; an MLM encoder needs [CLS] [SEP] [MASK] [PAD]"
            )
        ids[role] = int(token_id)
    special_ids = sorted({int(i) for i in tok.all_special_ids} | set(ids.values())
                         | {int(i) for i in getattr(tok, "added_tokens_decoder", {})
                            if tok.added_tokens_decoder[i].special})
    fingerprint = hashlib.sha256((path / "tokenizer.json").read_bytes()).hexdigest()
    return TokenizerInfo(
        path=path,
        vocab_size=len(tok),
        pad_token_id=ids["pad"],
        cls_token_id=ids["cls"],
        sep_token_id=ids["sep"],
        mask_token_id=ids["mask"],
        unk_token_id=tok.unk_token_id,
        special_ids=tuple(special_ids),
        fingerprint=fingerprint,
    )


def load_backend(path: str | Path):
    """The raw `tokenizers.Tokenizer` of a folder (fast batch encoding without specials)."""
    from tokenizers import Tokenizer

    path = Path(path) / "tokenizer.json"
    try:
        return Tokenizer.from_file(str(path))
    except Exception as err:  # tokenizers raises a bare Exception on a malformed file
        raise UserError(f"{path}: cannot load tokenizer ({err})") from err
