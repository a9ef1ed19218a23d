"""The demo-data generator: a deterministic web corpus, ESCI catalogue and GLUE-layout tasks.

`generate_demo_data(out_dir, seed, size, overwrite)` writes everything and returns the manifest.
Modules: `lexicon` and `topics` (vocabulary), `products` (the product space and its phrasing),
`documents` (web pages), `languages` and `defects` (planted problems), `corpus` (one domain with
ground truth), `esci`, `glue`, `stats` (variety numbers), `writer` (byte-reproducible files).
"""

from rexbert.sources.demo.generate import SIZES, generate_demo_data

__all__ = ["SIZES", "generate_demo_data"]
