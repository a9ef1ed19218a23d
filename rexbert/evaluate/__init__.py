"""rexbert evaluate stage: masked-token recovery, query–product similarity, GLUE.

The package is its entry point (`rexbert.evaluate(models, cfg, out, …)`, see rexbert/stage.py),
and `evaluate.mlm`, `evaluate.similarity` and `evaluate.glue` are the single evaluations, with
their config models beside them (`evaluate.MlmSettings`, `evaluate.PairsInput`, …). Everything is
imported from rexbert/evaluate/api.py on first use.
"""

from importlib import import_module

from rexbert.stage import make_callable

_API = ("mlm", "similarity", "glue", "EvaluateConfig", "EvaluateResult", "EvaluationResult",
        "MlmSettings", "SimilaritySettings", "GlueSettings", "PairsInput")


def __getattr__(name: str):
    if name in _API:
        return getattr(import_module("rexbert.evaluate.api"), name)
    raise AttributeError(f"module 'rexbert.evaluate' has no attribute {name!r}")


make_callable("rexbert.evaluate", "rexbert.evaluate.api:evaluate")
