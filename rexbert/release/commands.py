"""Subcommands of the `release` stage: export, import-hf, fill-mask.

Thin callers of rexbert/release/api.py: setting flags are generated from `ExportConfig` and
`FillMaskConfig`; only plain I/O arguments are declared here.
"""

from __future__ import annotations

import argparse
import json

from rexbert.config.flags import Flag, RenamedFlag, add_flags, build


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this stage's subcommands to the `rexbert` parser."""
    from rexbert.release.api import ExportConfig, FillMaskConfig

    export = subparsers.add_parser(
        "export",
        help="write a transformers / sentence-transformers folder from a rexbert checkpoint",
        description=(
            "Export a rexbert checkpoint as a folder that transformers' AutoModelForMaskedLM / "
            "AutoModel and sentence-transformers load: config.json, model.safetensors, tokenizer "
            "files, sentence-transformers modules (mean pooling), a model card README.md and "
            "checkpoint.json (checksums). The checkpoint is verified before it is exported."
        ),
    )
    export.add_argument("--model", required=True, metavar="CHECKPOINT",
                        help="rexbert checkpoint folder (e.g. RUN/phase3_anneal/final)")
    # The old spelling stops with a one-line hint (every command names a model folder --model).
    export.add_argument("--checkpoint", action=RenamedFlag, new="--model", dest="renamed:--checkpoint")
    export.add_argument("--out", required=True, help="output folder (new, empty, or an earlier "
                                                     "export with --overwrite)")
    export.add_argument("--tokenizer", help="tokenizer folder (default: CHECKPOINT/tokenizer/)")
    export.add_argument("--overwrite", action="store_true", help="replace an earlier export in --out")
    add_flags(export, ExportConfig, ["sentence_max_length", "model_name", "license", "language",
                                     Flag("datasets", name="--dataset"), "onnx.format", "onnx.quantize", "onnx.opset",
                                     Flag("onnx.fill_mask", name="--onnx-fill-mask"),
                                     "onnx.parity_tolerance", "onnx.parity_max_length"])
    export.set_defaults(handler=lambda args: _export(args, export))

    importer = subparsers.add_parser(
        "import-hf",
        help="turn a transformers ModernBERT folder (or hub id) into a rexbert checkpoint",
        description=(
            "Convert a transformers ModernBertForMaskedLM folder (e.g. ModernBERT or Ettin "
            "checkpoints; a hub id is read from the local hub cache, or downloaded when the "
            "network is allowed) into a rexbert checkpoint to continue training from; the "
            "tokenizer files are copied to CHECKPOINT/tokenizer/."
        ),
    )
    importer.add_argument("--model", required=True,
                          help="transformers model folder (config.json + weights) or hub id")
    importer.add_argument("--out", required=True, help="rexbert checkpoint folder to write (new, "
                                                       "empty, or an earlier import with --overwrite)")
    importer.add_argument("--overwrite", action="store_true", help="replace an earlier import in --out")
    importer.set_defaults(handler=_import_hf)

    fill = subparsers.add_parser(
        "fill-mask",
        help="predict [MASK] tokens with a rexbert checkpoint or a ModernBERT folder",
        description=(
            "Run rexbert's own model on a text with [MASK] tokens and print the top-k candidates "
            "(a transformers folder or hub id is imported in memory first)."
        ),
    )
    fill.add_argument("--model", required=True,
                      help="rexbert checkpoint, transformers ModernBERT folder, or hub id")
    add_flags(fill, FillMaskConfig, ["top_k"])
    fill.add_argument("--json", action="store_true", help="print the pipeline-shaped JSON")
    fill.add_argument("text", help='text with the mask token, e.g. "red cotton [MASK] for men"')
    fill.set_defaults(handler=lambda args: _fill_mask(args, fill))


def _export(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from rexbert.release.api import ExportConfig, export

    result = export(args.model, args.out, build(ExportConfig, args, parser), tokenizer=args.tokenizer,
                    overwrite=args.overwrite)
    print(f"exported {result.checkpoint} → {result.out} ({result.parameters:,} parameters)")
    if result.onnx is not None:
        print(f"onnx graphs in {result.onnx.encoder.parent} (parity and int8 drift: {result.onnx.report})")
    return 0


def _import_hf(args: argparse.Namespace) -> int:
    from rexbert.release.api import import_hf

    result = import_hf(args.model, args.out, overwrite=args.overwrite)
    print(f"imported {args.model} → {result.out}")
    return 0


def _fill_mask(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from rexbert.release.api import FillMaskConfig, fill_mask
    from rexbert.release.fill_mask import format_predictions

    predictions = fill_mask(args.model, args.text, build(FillMaskConfig, args, parser))
    if args.json:
        print(json.dumps(predictions, ensure_ascii=False, indent=2))
    else:
        print(format_predictions(predictions, args.text))
    return 0

