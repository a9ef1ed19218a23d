"""`rexbert run`: every stage end to end, on the embedded default or the user's own data.

The package is callable: `from rexbert import run; run(cfg, out)` (see `rexbert.run.api`).
"""

from rexbert.stage import make_callable

make_callable(__name__, "rexbert.run.api:run")
