"""rexbert release stage: export to transformers / sentence-transformers, import-hf, fill-mask.

The typed entry points live in rexbert/release/api.py (`rexbert.export`, `rexbert.import_hf`,
`rexbert.fill_mask`).
"""
