"""Subcommands of the `sources` stage: `rexbert demo-data`."""

from __future__ import annotations

import argparse

from rexbert.config.flags import add_flags, build


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this stage's subcommands to the `rexbert` parser."""
    from rexbert.sources.api import DemoDataConfig

    demo = subparsers.add_parser(
        "demo-data",
        help="generate the embedded demo datasets (web corpus, ESCI, GLUE-layout tasks)",
        description=(
            "Write a deterministic demo corpus in the FineFineWeb layout (with planted defects and "
            "their ground truth in truth.jsonl), an ESCI products/examples parquet pair and demo "
            "tasks in the GLUE TSV layouts. Same seed and size give byte-identical files."
        ),
    )
    demo.add_argument("--out", required=True, help="output folder (new or empty, or earlier demo data "
                                                   "with --overwrite)")
    add_flags(demo, DemoDataConfig, ["seed", "size"])
    demo.add_argument("--overwrite", action="store_true",
                      help="regenerate the demo data in a folder that already holds it")
    demo.set_defaults(handler=lambda args: _demo_data(args, demo))


def _demo_data(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from rexbert.sources.api import DemoDataConfig, demo_data
    from rexbert.sources.demo.generate import describe

    result = demo_data(build(DemoDataConfig, args, parser), args.out, overwrite=args.overwrite)
    print(describe(result.manifest))
    print(f"  written to {result.out} (manifest.json lists every file)")
    return 0
