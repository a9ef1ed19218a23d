"""Subcommands of the `train` stage: `rexbert pretrain` (flags generated from `PretrainConfig`)."""

from __future__ import annotations

import argparse
import os
import sys

from rexbert.config.flags import Flag, add_flags, build


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this stage's subcommands to the `rexbert` parser."""
    from rexbert.train.config import PretrainConfig

    pretrain = subparsers.add_parser(
        "pretrain", help="run the pretraining curriculum of a recipe (phases 1–3)",
        description="Train the phases declared in a recipe YAML into RUN_DIR. Under torchrun "
                    "(`torchrun --nproc_per_node N -m rexbert pretrain …`) it trains with DDP, or "
                    "FSDP2 when the recipe sets `distributed: fsdp2`. SIGTERM/SIGINT write a "
                    "checkpoint and exit with 128 + the signal (143, 130); `--resume` continues "
                    "exactly where it stopped.",
    )
    pretrain.add_argument("--config", required=True, help="recipe YAML (see configs/pretrain/)")
    pretrain.add_argument("--out", required=True, help="run folder (checkpoints, metrics.csv, config.yaml)")
    add_flags(pretrain, PretrainConfig, [Flag("data.tokenizer", name="--tokenizer"),
                                         Flag("data.shards", name="--shards"), "max_steps"])
    pretrain.add_argument("--phases", nargs="+", metavar="NAME",
                          help="run only these phases (the ones they start from must be finished)")
    pretrain.add_argument("--resume", action="store_true",
                          help="continue the run in --out from its latest intact checkpoint")
    pretrain.set_defaults(handler=lambda args: _pretrain(args, pretrain))


def _pretrain(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from rexbert.train.api import pretrain
    from rexbert.train.config import PretrainConfig

    cfg = build(PretrainConfig, args, parser, config_file=args.config)
    result = pretrain(cfg, args.out, resume=args.resume, phases=args.phases, source=args.config)
    if os.environ.get("RANK", "0") == "0":  # under torchrun, one summary
        if result.finished:
            print(result.summary())
        else:
            print(f"rexbert: {result.stop_message()}", file=sys.stderr)
    return result.exit_code
