"""`rexbert run`: the whole recipe end to end, the embedded default when no config is given."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `rexbert run` to the `rexbert` parser."""
    run = subparsers.add_parser(
        "run",
        help="the whole recipe end to end (default: the embedded demo, ~15 min on 2 CPU cores)",
        description="demo data → curate → tokenizer → token shards → phase 1 → phase 2 → phase 3 "
                    "(domain annealing) and a control → export → evaluation → report. Rerunning "
                    "skips finished stages; a killed run resumes.",
    )
    run.add_argument("--config", default=None,
                     help="run YAML (default: the embedded demo; see configs/run/)")
    run.add_argument("--out", required=True, help="run folder (report.md and report.html at the end)")
    run.add_argument("--from", dest="start_from", default=None, metavar="STAGE",
                     help="rerun from this stage onwards (data, curate, tokenizer, shards, phase1, "
                          "phase2, phase3, control, export, evaluate, report)")
    run.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rexbert.config import load_config, parse_config
    from rexbert.fileio import atomic_write_text
    from rexbert.recipe.config import RunConfig
    from rexbert.recipe.runner import run_stages
    from rexbert.recipe.stages import Recipe

    cfg = load_config(RunConfig, args.config) if args.config else parse_config(RunConfig, {}, "<default>")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "run_config.yaml", cfg.to_yaml())
    recipe = Recipe(cfg, out)
    timings = run_stages(out, recipe.stages(), start_from=args.start_from)
    if timings is None:
        return 0
    print(f"finished in {sum(timings.values()):.0f} s of stage time: "
          + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))
    print(f"report: {out / 'report.md'} and {out / 'report.html'}")
    verdict_path = out / "report.md"
    if verdict_path.is_file():
        for line in verdict_path.read_text(encoding="utf-8").split("## Did domain annealing help?")[-1].strip().splitlines():
            if line.strip():
                print(line)
    return 0
