"""Subcommands of the `release` stage: export, import-hf, fill-mask."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this stage's subcommands to the `rexbert` parser."""
    export = subparsers.add_parser(
        "export",
        help="write a transformers / sentence-transformers folder from a rexbert checkpoint",
        description=(
            "Export a rexbert checkpoint as a folder that transformers' AutoModelForMaskedLM / "
            "AutoModel and sentence-transformers load: config.json, model.safetensors, tokenizer "
            "files, sentence-transformers modules (mean pooling) and a model card README.md."
        ),
    )
    export.add_argument("--checkpoint", required=True, help="rexbert checkpoint directory")
    export.add_argument("--out", required=True, help="output folder")
    export.add_argument(
        "--tokenizer", default=None,
        help="tokenizer folder (default: CHECKPOINT/tokenizer/)",
    )
    export.add_argument("--overwrite", action="store_true", help="replace a non-empty --out folder")
    export.set_defaults(handler=_export)

    importer = subparsers.add_parser(
        "import-hf",
        help="turn a transformers ModernBERT folder into a rexbert checkpoint",
        description=(
            "Convert a transformers ModernBertForMaskedLM folder (e.g. ModernBERT or Ettin "
            "checkpoints) into a rexbert checkpoint to continue training from; the tokenizer "
            "files are copied to CHECKPOINT/tokenizer/."
        ),
    )
    importer.add_argument("--model", required=True, help="transformers model folder (config.json + weights)")
    importer.add_argument("--out", required=True, help="rexbert checkpoint directory to write")
    importer.set_defaults(handler=_import_hf)

    fill = subparsers.add_parser(
        "fill-mask",
        help="predict [MASK] tokens with a rexbert checkpoint or a ModernBERT folder",
        description=(
            "Run rexbert's own model on a text with [MASK] tokens and print the top-k candidates "
            "(a transformers folder is imported in memory first)."
        ),
    )
    fill.add_argument("--model", required=True, help="rexbert checkpoint or transformers ModernBERT folder")
    fill.add_argument("--top-k", type=int, default=5, help="candidates per mask (default: 5)")
    fill.add_argument("--json", action="store_true", help="print the pipeline-shaped JSON")
    fill.add_argument("text", help='text with the mask token, e.g. "red cotton [MASK] for men"')
    fill.set_defaults(handler=_fill_mask)


def _export(args: argparse.Namespace) -> int:
    from rexbert.release.export import export_checkpoint

    out = export_checkpoint(args.checkpoint, args.out, tokenizer=args.tokenizer, overwrite=args.overwrite)
    print(f"exported {args.checkpoint} → {out}")
    return 0


def _import_hf(args: argparse.Namespace) -> int:
    from rexbert.release.export import import_hf

    out = import_hf(args.model, args.out)
    print(f"imported {args.model} → {out}")
    return 0


def _fill_mask(args: argparse.Namespace) -> int:
    from rexbert.errors import UserError
    from rexbert.release.fill_mask import fill_mask, format_predictions, load_any, load_tokenizer

    if args.top_k < 1:
        raise UserError(f"--top-k must be at least 1, got {args.top_k}")
    model, tokenizer_dir = load_any(args.model)
    tokenizer = load_tokenizer(tokenizer_dir)
    predictions = fill_mask(model, tokenizer, args.text, top_k=args.top_k)
    if args.json:
        print(json.dumps(predictions, ensure_ascii=False, indent=2))
    else:
        print(format_predictions(predictions, args.text))
    return 0
