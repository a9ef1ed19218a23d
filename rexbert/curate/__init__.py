"""The curate stage: a commerce-focused corpus out of web text and a user's own documents.

The package is callable: `from rexbert import curate; curate(cfg, inputs, out)` runs
`rexbert.curate.api.curate` (see rexbert/stage.py); its parts stay importable as
`rexbert.curate.config`, `rexbert.curate.pipeline`, ….
"""

from rexbert.stage import make_callable

make_callable(__name__, "rexbert.curate.api:curate")
