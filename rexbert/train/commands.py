"""Subcommands of the `train` stage: `rexbert pretrain`."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this stage's subcommands to the `rexbert` parser."""
    pretrain = subparsers.add_parser(
        "pretrain", help="run the pretraining curriculum of a recipe (phases 1–3)",
        description="Train the phases declared in a recipe YAML into RUN_DIR. Under torchrun "
                    "(`torchrun --nproc_per_node N -m rexbert pretrain …`) it trains with DDP, or "
                    "FSDP2 when the recipe sets `distributed: fsdp2`. SIGTERM/SIGINT write a "
                    "checkpoint and exit 0; `--resume` continues exactly where it stopped.",
    )
    pretrain.add_argument("--config", required=True, help="recipe YAML (see configs/pretrain/)")
    pretrain.add_argument("--out", required=True, help="run folder (checkpoints, metrics.csv, config.yaml)")
    pretrain.add_argument("--max-steps", type=int, default=None,
                          help="cap every phase at N optimizer steps (schedules shrink to fit); for smoke runs")
    pretrain.add_argument("--resume", action="store_true",
                          help="continue the run in --out from its latest intact checkpoint")
    pretrain.add_argument("--phases", nargs="+", default=None, metavar="NAME",
                          help="run only these phases (the others must be finished or not needed)")
    pretrain.add_argument("--tokenizer", default=None, help="override data.tokenizer of the recipe")
    pretrain.add_argument("--shards", default=None, help="override data.shards of the recipe")
    pretrain.set_defaults(handler=_pretrain)


def _pretrain(args: argparse.Namespace) -> int:
    from rexbert.train.trainer import run_pretrain

    return run_pretrain(args.config, args.out, max_steps=args.max_steps, resume=args.resume,
                        phases=args.phases, tokenizer=args.tokenizer, shards=args.shards)
