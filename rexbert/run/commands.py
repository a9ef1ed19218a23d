"""`rexbert run`: the whole recipe end to end, the embedded default when no config is given."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `rexbert run` to the `rexbert` parser."""
    run = subparsers.add_parser(
        "run",
        help="the whole recipe end to end (default: the embedded demo, ~15 min on 2 CPU cores)",
        description="demo data (for the inputs not given) → curate → tokenizer → token shards → "
                    "phase 1 → phase 2 → phase 3 (domain annealing) and a control → export → "
                    "evaluation → report. Rerunning skips finished stages; a killed or preempted run "
                    "resumes; a changed config is refused unless --from names where to start over.",
    )
    run.add_argument("--config", default=None,
                     help="run YAML (default: the embedded demo, configs/run/demo.yaml)")
    run.add_argument("--out", required=True, help="run folder (report.md and report.html at the end)")
    run.add_argument("--from", dest="start_from", default=None, metavar="STAGE",
                     help="start over from this stage (data, curate, tokenizer, shards, phase1, "
                          "phase2, phase3, control, export, evaluate, report)")
    run.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from rexbert.run.api import run
    from rexbert.run.config import read_run_config
    from rexbert.run.runner import StageStopped

    cfg = read_run_config(args.config)
    try:
        result = run(cfg, args.out, start_from=args.start_from)
    except StageStopped as stopped:
        return stopped.exit_code
    total = sum(result.timings.values())
    print(f"finished in {total:.0f} s of stage time: "
          + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in result.timings.items()))
    print(f"report: {result.report_md} and {result.report_html}")
    for sentence in result.verdict.sentences():
        print(sentence)
    return 0
