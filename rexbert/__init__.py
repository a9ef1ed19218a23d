"""rexbert: domain-specialized ModernBERT-style encoders from open data, end to end.

The Python API is the same set of typed entry points the CLI and `rexbert run` call::

    from rexbert import curate, pretrain, export, evaluate

Each takes the config model its subcommand is generated from and returns a result object that
names its output paths (see docs/python-api.md). Imports are lazy, so `import rexbert` and
`rexbert --help` need neither torch nor transformers.
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("rexbert")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"

# Entry points that are functions of a stage package (the stage packages `curate`, `evaluate`
# and `run` are themselves callable; see rexbert/stage.py).
_ENTRY_POINTS = {
    "demo_data": "rexbert.sources.api",
    "train_tokenizer": "rexbert.data.api",
    "build_shards": "rexbert.data.api",
    "mine_spans": "rexbert.data.api",
    "pretrain": "rexbert.train.api",
    "export": "rexbert.release.api",
    "import_hf": "rexbert.release.api",
    "fill_mask": "rexbert.release.api",
}

__all__ = ["curate", "evaluate", "run", *_ENTRY_POINTS]


def __getattr__(name: str):
    if name in _ENTRY_POINTS:
        return getattr(import_module(_ENTRY_POINTS[name]), name)
    if name in ("curate", "evaluate", "run"):
        return import_module(f"rexbert.{name}")
    raise AttributeError(f"module 'rexbert' has no attribute {name!r}")
