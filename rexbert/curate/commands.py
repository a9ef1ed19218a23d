"""Subcommands of the `curate` stage.

    rexbert curate --input DIR --out DIR [--config FILE] [--workers N] [--executor local|slurm|ray] [--truth FILE]
    rexbert curate clean|label|audit|distill|filter|stats --out DIR [...]
    rexbert curate evaluate --out DIR --truth FILE
"""

from __future__ import annotations

import argparse

STAGE_HELP = {
    "clean": "read, domain focus, language ID, boilerplate/quality rules, profanity, MinHash dedup, sample candidates",
    "label": "stratified seeded sample of each filter-required domain, labelled by the primary labeller",
    "audit": "QA audit loop: the auditor relabels a subset, agreement is measured, the labeller refined",
    "distill": "per-domain fastText classifiers, cross-validation, held-out metrics, thresholds",
    "filter": "score every cleaned document with its domain's classifier and write kept/",
    "stats": "stats.json, domain_distribution.png, calibration.png and report.md",
}


def _common(parser: argparse.ArgumentParser, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument("--input", default=default, help="FineFineWeb-layout folder: <domain>/<domain>_000000.jsonl[.gz|.zst]|.parquet")
    parser.add_argument("--out", default=default, help="output folder (kept/, rejected/, stats.json, report.md, ...)")
    parser.add_argument("--config", default=default, help="curation YAML (default: the paper's recipe; see configs/curate/)")
    parser.add_argument("--workers", type=int, default=default, help="parallel local tasks (default: executor.workers, 1)")
    parser.add_argument("--executor", choices=["local", "slurm", "ray"], default=default,
                        help="where the clean/filter stages run (default: executor.kind, local)")
    parser.add_argument("--truth", default=default,
                        help="demo truth.jsonl: evaluate the result against it at the end (the stages never read it)")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this stage's subcommands to the `rexbert` parser."""
    parser = subparsers.add_parser(
        "curate", help="curate a commerce-focused corpus from a FineFineWeb-layout web corpus",
        description="The Ecom-niverse recipe: domain focus, sampling, relevance labelling with a QA audit loop, "
                    "per-domain fastText distillation and validation, scoring at scale, language ID, quality rules, "
                    "MinHash dedup, profanity filtering and statistics. Reruns skip finished stages and tasks.",
    )
    _common(parser, suppress=False)
    parser.set_defaults(handler=_run_all, curate_stage=None)
    stages = parser.add_subparsers(dest="curate_stage", metavar="STAGE")
    for stage, help_text in STAGE_HELP.items():
        sub = stages.add_parser(stage, help=help_text, description=help_text)
        _common(sub, suppress=True)
        sub.add_argument("--force", action="store_true", help="rerun this stage (and invalidate later ones)")
        sub.set_defaults(handler=_run_one, curate_stage=stage)
    ev = stages.add_parser("evaluate", help="quality bars against a demo truth.jsonl (adds a section to report.md)")
    _common(ev, suppress=True)
    ev.set_defaults(handler=_evaluate, curate_stage="evaluate")


def _resolve(args: argparse.Namespace):
    from pathlib import Path

    from rexbert.curate.config import read_config
    from rexbert.curate.pipeline import prepare
    from rexbert.errors import UserError

    out = getattr(args, "out", None)
    if not out:
        raise UserError("--out DIR is required (the curation output folder)")
    cfg = read_config(args.config) if getattr(args, "config", None) else None
    input_arg = getattr(args, "input", None)
    if input_arg is not None:
        from rexbert.sources.hub import download_hub_folder, looks_like_hub_id

        if looks_like_hub_id(input_arg):
            # A hub id (e.g. m-a-p/FineFineWeb): fetch only the declared domains' folders.
            from rexbert.curate.config import CurateConfig

            domains = (cfg or CurateConfig()).domains
            patterns = [f"{d}/*" for d in (*domains.filter_required, *domains.directly_selected)]
            input_arg = str(download_hub_folder(input_arg, Path(out) / "hub_input", patterns))
    ws, cfg, input_dir = prepare(out, cfg, input_arg)
    updates = {}
    if getattr(args, "workers", None) is not None:
        if args.workers < 1:
            raise UserError(f"--workers must be at least 1 (got {args.workers})")
        updates["workers"] = args.workers
    if getattr(args, "executor", None) is not None:
        updates["kind"] = args.executor
    if updates:
        from rexbert.curate.config import ExecutorConfig

        merged = {**cfg.executor.model_dump(), **updates}
        if merged["kind"] == "slurm" and merged.get("slurm") is None:
            raise UserError("--executor slurm needs an 'executor.slurm' block (partition, time, ...) in --config; "
                            "see configs/curate/slurm.yaml")
        cfg = cfg.model_copy(update={"executor": ExecutorConfig.model_validate(merged)})
    return ws, cfg, input_dir


def _finish(ws, cfg, truth: str | None) -> None:
    import logging

    from rexbert.curate import report

    if truth:
        report.evaluate_against_truth(ws, cfg, truth)
        report.write_stats_and_report(ws, cfg)
    logging.getLogger("rexbert").info("curate: done; see %s/report.md", ws.out)


def _run_all(args: argparse.Namespace) -> int:
    import logging

    from rexbert.curate.pipeline import JobsSubmitted, run_all

    ws, cfg, input_dir = _resolve(args)
    if input_dir is None:
        from rexbert.errors import UserError

        raise UserError("--input DIR is required for a new output folder")
    try:
        run_all(ws, cfg, input_dir)
    except JobsSubmitted:
        logging.getLogger("rexbert").info("curate: cluster jobs queued; rerun the same command when they finish")
        return 0
    _finish(ws, cfg, getattr(args, "truth", None))
    return 0


def _run_one(args: argparse.Namespace) -> int:
    import logging

    from rexbert.curate.pipeline import JobsSubmitted, run_stage

    ws, cfg, input_dir = _resolve(args)
    try:
        ran = run_stage(ws, cfg, args.curate_stage, input_dir, force=args.force)
    except JobsSubmitted:
        logging.getLogger("rexbert").info("curate: cluster jobs queued; rerun the same command when they finish")
        return 0
    if not ran:
        print(f"stage {args.curate_stage} already finished in {ws.out} (use --force to rerun it)")
    if args.curate_stage == "stats" and getattr(args, "truth", None):
        _finish(ws, cfg, args.truth)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from rexbert.curate import report
    from rexbert.errors import UserError

    ws, cfg, _ = _resolve(args)
    if not getattr(args, "truth", None):
        raise UserError("curate evaluate needs --truth FILE (the truth.jsonl of a demo corpus)")
    ws.require("stats", "evaluate")
    result = report.evaluate_against_truth(ws, cfg, args.truth)
    report.write_stats_and_report(ws, cfg)
    print(report.render_evaluation(result))
    return 0
