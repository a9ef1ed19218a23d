"""Subcommands of the `sources` stage: `rexbert demo-data`."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this stage's subcommands to the `rexbert` parser."""
    demo = subparsers.add_parser(
        "demo-data",
        help="generate the embedded demo datasets (web corpus, ESCI, GLUE-layout tasks)",
        description=(
            "Write a deterministic demo corpus in the FineFineWeb layout (with planted defects and "
            "their ground truth in truth.jsonl), an ESCI products/examples parquet pair and demo "
            "tasks in the GLUE TSV layouts. Same seed and size give byte-identical files."
        ),
    )
    demo.add_argument("--out", required=True, help="output folder (must be empty unless --overwrite)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    demo.add_argument("--size", default="small", choices=["tiny", "small", "medium"],
                      help="tiny: a smoke-test corpus in about a second; small: about 18 MB in "
                           "seconds; medium: about 170 MB (default: small)")
    demo.add_argument("--overwrite", action="store_true",
                      help="replace the demo files in a non-empty --out folder")
    demo.set_defaults(handler=_demo_data)


def _demo_data(args: argparse.Namespace) -> int:
    from rexbert.sources.demo.generate import describe, generate_demo_data

    manifest = generate_demo_data(args.out, seed=args.seed, size=args.size, overwrite=args.overwrite)
    print(describe(manifest))
    print(f"  written to {args.out} (manifest.json lists every file)")
    return 0
