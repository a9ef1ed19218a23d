"""rexbert data stage: tokenizer, token shards, Guided-MLM spans, and the training stream.

The stage's entry points (`train_tokenizer`, `build_shards`, `mine_spans`) live in
`rexbert.data.api`; they are imported on first use, so `import rexbert.data` stays light.
"""

from importlib import import_module

_ENTRY_POINTS = ("train_tokenizer", "build_shards", "mine_spans")

__all__ = list(_ENTRY_POINTS)


def __getattr__(name: str):
    if name in _ENTRY_POINTS:
        return getattr(import_module("rexbert.data.api"), name)
    raise AttributeError(f"module 'rexbert.data' has no attribute {name!r}")
