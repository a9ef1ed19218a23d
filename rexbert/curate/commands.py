"""The `rexbert curate` command: a thin caller of rexbert/curate/api.py.

    rexbert curate --input PATH... [--text-field F,G] [--id-field F] [--domain NAME] --out DIR
    rexbert curate STAGE --out DIR [--force]        (clean, label, audit, distill, filter, stats)
    rexbert curate evaluate --out DIR --truth FILE

The input flags are generated from `DocumentInput`, the setting flags from `CurateConfig`
(help text and default shown from the models); only plain I/O arguments (--out, --config,
--truth, --no-relevance, --force) are declared here. Registration stays import-light.
"""

from __future__ import annotations

import argparse

from rexbert.config.flags import Flag, add_flags, build, flag_names, given_flags

STAGE_HELP = {
    "clean": "read, domain focus, boilerplate lines, language ID, profanity, quality rules, MinHash dedup, sample candidates",
    "label": "stratified seeded sample of each filter-required domain, labelled by the primary labeller",
    "audit": "QA audit loop: the auditor relabels a subset, agreement is measured, the labeller refined",
    "distill": "per-domain fastText classifiers, cross-validation, held-out metrics, thresholds",
    "filter": "score every cleaned document with its domain's classifier and write kept/",
    "stats": "stats.json, the figures, report.md and report.html",
    "evaluate": "precision/recall per domain (95% intervals) and drop reasons against --truth (your labelled "
                "sample `id, relevant[, keep]`, or a demo truth.jsonl with its quality bars); adds a report section",
}
INPUT_FLAGS = [Flag("paths", name="--input", metavar="PATH"), Flag("text_fields", name="--text-field", metavar="FIELD"),
               "id_field", "domain", "domain_field"]
SETTING_FLAGS = [Flag("executor.workers"), Flag("executor.kind", name="--executor"),
                 Flag("labelling.seed_labels_path", name="--seed-labels", metavar="FILE")]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `rexbert curate` to the `rexbert` parser."""
    from rexbert.curate.config import CurateConfig
    from rexbert.sources.documents import DocumentInput

    stages = "\n".join(f"  {name:<9} {text}" for name, text in STAGE_HELP.items())
    parser = subparsers.add_parser(
        "curate", help="curate a commerce-focused corpus from web text or your own documents",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="The Ecom-niverse recipe: domain focus, sampling, relevance labelling with a QA audit loop, "
                    "per-domain fastText distillation and validation, scoring at scale, language ID, quality rules, "
                    "MinHash dedup, profanity filtering and statistics. Any mix of domains: relevance-filtered, "
                    "directly selected, or both. Reruns skip finished stages and tasks.\n\n"
                    f"STAGE (optional; without it every stage runs):\n{stages}")
    parser.add_argument("stage", nargs="?", choices=list(STAGE_HELP), metavar="STAGE",
                        help="run only this stage (see above)")
    parser.add_argument("--out", required=True, help="output folder (kept/, rejected/, stats.json, report.md, "
                                                     "report.html, config.yaml, work/)")
    add_flags(parser, DocumentInput, INPUT_FLAGS, group="input")
    _describe_input_default(parser)
    parser.add_argument("--config", help="curation YAML (see configs/curate/; flags win); a rerun without it uses "
                                         "the config.yaml saved in --out, else the paper's recipe")
    add_flags(parser, CurateConfig, SETTING_FLAGS)
    parser.add_argument("--no-relevance", action="store_true",
                        help="keep cleaning and dedup only: no labelling, audit, distillation or relevance filter")
    parser.add_argument("--truth", help="a labelled sample (JSONL `id, relevant[, keep]`) or a demo truth.jsonl: "
                                        "evaluate the result against it at the end (the stages never read it)")
    parser.add_argument("--force", action="store_true", help="with STAGE: rerun it (and forget the stages after it)")
    parser.set_defaults(handler=lambda args: _curate(args, parser))


def _describe_input_default(parser: argparse.ArgumentParser) -> None:
    # --input has no default in DocumentInput; what stands in for it is the input an earlier run
    # in --out saved, which is what the help says.
    for action in parser._actions:
        if action.dest == "input:paths":
            action.help += " (default: the input of the earlier curation in --out; required for a new --out)"


def _inputs(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list:
    from rexbert.errors import UserError
    from rexbert.sources.documents import DocumentInput

    given = given_flags(args, "input")
    if not given:
        return []
    if "paths" not in given:
        names = flag_names(parser, "input")
        flags = ", ".join(sorted(names[key] for key in given))
        raise UserError(f"{flags} describe the documents of --input; pass --input too")
    return [build(DocumentInput, args, parser, group="input")]


def _curate(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from rexbert.curate import api
    from rexbert.curate.config import CurateConfig
    from rexbert.errors import UserError

    if args.stage == "evaluate":
        if not args.truth:
            raise UserError("curate evaluate needs --truth FILE (a JSONL of {\"id\": ..., \"relevant\": true|false}, "
                            "or the truth.jsonl of a demo corpus)")
        result = api.evaluate(args.out, args.truth)
        from rexbert.curate.report import render_evaluation
        from rexbert.fileio import read_json

        print(render_evaluation(read_json(result.evaluation)))
        return 0
    if args.force and args.stage is None:
        raise UserError("--force reruns one stage; name it, e.g. `rexbert curate distill --force --out DIR`")
    base = None if args.config else api.saved_config(args.out)
    cfg = build(CurateConfig, args, parser, config_file=args.config, base=base)
    result = api.curate(cfg, _inputs(args, parser), args.out, truth=args.truth, relevance=not args.no_relevance,
                        stage=args.stage, force=args.force)
    if result.pending:
        print(f"cluster jobs queued; run the same command again when they have finished ({result.out})")
    elif args.stage and not result.ran:
        print(f"stage {args.stage} already finished in {result.out} (--force reruns it)")
    elif result.counts:
        print(f"curated {result.documents_read:,} documents: kept {result.documents_kept:,} "
              f"({result.tokens_kept:,} tokens), dropped {result.documents_dropped:,}; see {result.report}")
        for warning in result.warnings:
            print(f"warning: {warning}")
    return 0
