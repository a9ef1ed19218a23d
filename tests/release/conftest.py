"""A tiny word-level tokenizer and a tiny trained-shape checkpoint for the release tests."""

import pytest
import torch

from rexbert.model.checkpoint import save_model
from rexbert.model.config import ModelConfig
from rexbert.model.modeling import RexBertForMaskedLM

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = (
    "red blue green black white cotton silk wool shirt dress jeans shoes watch phone case "
    "for men women kids boys girls with and the a of size small large pack set slim fit "
    "casual formal running leather steel smart"
).split()


def build_tokenizer(folder):
    """Save an AutoTokenizer-loadable word-level tokenizer ([CLS] text [SEP]) to `folder`."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {token: index for index, token in enumerate(SPECIALS + WORDS)}
    core = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    core.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", 2), ("[SEP]", 3)],
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]",
        sep_token="[SEP]", mask_token="[MASK]", model_max_length=512,
    )
    tokenizer.save_pretrained(str(folder))
    return tokenizer


def release_config(**overrides) -> ModelConfig:
    """A tiny model whose vocabulary is the tokenizer's (5 specials + words, padded to 48)."""
    fields = dict(
        vocab_size=48, hidden_size=32, intermediate_size=24, num_layers=4, num_heads=2,
        local_attention_window=4, global_attn_every_n_layers=2, max_position_embeddings=512,
        pad_token_id=0, cls_token_id=2, sep_token_id=3, mask_token_id=4,
    )
    fields.update(overrides)
    return ModelConfig(**fields)


@pytest.fixture
def tokenizer_dir(tmp_path):
    """Folder holding the tiny tokenizer."""
    folder = tmp_path / "tokenizer_src"
    build_tokenizer(folder)
    return folder


@pytest.fixture
def checkpoint(tmp_path, tokenizer_dir):
    """A rexbert checkpoint (random weights, random norms and bias) with its tokenizer."""
    torch.manual_seed(0)
    model = RexBertForMaskedLM(release_config())
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "norm" in name or "bias" in name:
                param.add_(torch.randn_like(param) * 0.2)
        # Larger embeddings make the top-k predictions clearly separated.
        model.model.embeddings.tok_embeddings.weight.mul_(20)
    path = tmp_path / "ckpt"
    save_model(model, path, tokenizer_dir=tokenizer_dir)
    return path
