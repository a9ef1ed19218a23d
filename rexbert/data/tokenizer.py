"""Byte-level BPE tokenizer training and loading, with ModernBERT's special tokens.

ModernBERT uses a byte-level BPE (from OLMo) with `[CLS] [SEP] [MASK] [PAD] [UNK]`; `[MASK]`
strips the space to its left so that "a [MASK] b" masks the word and its leading space together.
The vocabulary is padded with `[unused<i>]` tokens to a multiple of 64 so that embedding and
decoder matmuls tile well on GPUs (50,368 at full size). The saved folder loads with
transformers' `AutoTokenizer.from_pretrained`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rexbert.errors import UserError
from rexbert.progress import Progress, is_terminal

if TYPE_CHECKING:
    from rexbert.data.api import TokenizerConfig
    from rexbert.sources.documents import DocumentInput

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
VOCAB_MULTIPLE = 64
MAX_LENGTH = 8192
STAGING_PREFIX = ".staging-"


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


def train_bpe(texts: Iterable[str], cfg: TokenizerConfig, out_dir: str | Path,
              progress: bool = True) -> TokenizerInfo:
    """Train a byte-level BPE on `texts` and save it under `out_dir`; returns its info.

    `cfg.vocab_size` counts the specials; when the corpus is too small to learn that many merges,
    `[unused<i>]` tokens fill the gap so the size stays exact.
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

    tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=cfg.vocab_size,
        min_frequency=cfg.min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        # the tokenizers library's own bars on a terminal; elsewhere rexbert's lines
        show_progress=progress and is_terminal(),
    )
    with Progress(desc="tokenizer: reading documents", unit="doc", enabled=progress and not is_terminal()) as reading:
        counted = _CountingIterator(texts, reading)
        tokenizer.train_from_iterator(counted, trainer=trainer)
    if counted.count == 0:
        raise UserError("tokenizer training input holds no non-empty text; check --input and --text-field")
    mask = AddedToken("[MASK]", lstrip=True, rstrip=False, normalized=False, special=True)
    tokenizer.add_special_tokens([mask])
    missing = cfg.vocab_size - tokenizer.get_vocab_size()
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
    _save(fast, Path(out_dir))
    return load_tokenizer_info(out_dir)


def _save(fast, out_dir: Path) -> None:
    """Save into a staging folder inside `out_dir`, then move each file into place, so a kill
    leaves the previous complete file or the new one, never half a tokenizer.json."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for leftover in out_dir.glob(f"{STAGING_PREFIX}*"):  # from a killed earlier attempt
        shutil.rmtree(leftover, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out_dir))
    # mkdtemp creates 0700 folders; give it the permissions a plain mkdir would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)
    try:
        fast.save_pretrained(str(staging))
        _write_compat_files(staging)
        for file in sorted(staging.iterdir()):
            os.replace(file, out_dir / file.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class TrainingTexts:
    """The texts a tokenizer trains on: the non-empty documents of `inputs` in order, at most
    `max_documents`; records that cannot be read go to `rejects` (a RejectLog) with their reason.

    Iterate once; afterwards `count` is the number of documents used.
    """

    def __init__(self, inputs: list[DocumentInput], max_documents: int | None, rejects_path: Path) -> None:
        from rexbert.sources.rejects import RejectLog

        self.inputs = inputs
        self.max_documents = max_documents
        rejects_path.unlink(missing_ok=True)  # an earlier run's rejects; this run writes its own
        self.rejects = RejectLog(rejects_path)
        self.count = 0

    def __iter__(self) -> Iterator[str]:
        from rexbert.sources.documents import iter_documents
        from rexbert.sources.rejects import readable_documents

        with self.rejects:
            for spec in self.inputs:
                for document in readable_documents(iter_documents(spec, on_error="skip"), self.rejects):
                    if not document.text.strip():
                        continue
                    self.count += 1
                    yield document.text
                    if self.max_documents is not None and self.count >= self.max_documents:
                        return


def read_training_texts(inputs: list[DocumentInput], max_documents: int | None,
                        rejects_path: Path) -> TrainingTexts:
    """The training texts of `inputs` (see `TrainingTexts`)."""
    return TrainingTexts(inputs, max_documents, rejects_path)


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

    def __init__(self, texts: Iterable[str], progress: Progress) -> None:
        self._texts = texts
        self.count = 0
        self.progress = progress

    def __iter__(self) -> Iterator[str]:
        for text in self._texts:
            if text.strip():
                self.count += 1
                self.progress.update()
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
    added = getattr(tok, "added_tokens_decoder", {})  # a property that rebuilds its dict: read once
    special_ids = sorted({int(i) for i in tok.all_special_ids} | set(ids.values())
                         | {int(i) for i, token in added.items() if token.special})
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
