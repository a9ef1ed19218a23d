"""Subcommands of the `evaluate` stage: `evaluate mlm|similarity|glue` and `report`.

Thin callers of rexbert/evaluate/api.py: every setting flag is generated from the config models
of rexbert/evaluate/config.py (help text and default shown from the model), the input flags from
`DocumentInput` / `PairsInput`; only the plain I/O arguments (--model, --out, --config,
--glue-dir, --overwrite) are declared here. Registration stays import-light.
"""

from __future__ import annotations

import argparse
from typing import Any

from rexbert.config.flags import Flag, add_flags, build

FINE_TUNING = ["epochs", Flag("learning_rate", name="--lr"), "batch_size", "warmup_ratio",
               "weight_decay"]


def _io(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", nargs="+", action="extend", required=True, metavar="MODEL",
                        help="model folder(s) or hub id(s) in the local hub cache, compared side "
                             "by side; NAME=MODEL sets the name shown in tables")
    parser.add_argument("--out", required=True,
                        help="output folder (results.json, tables, figures), shared by evaluations")
    parser.add_argument("--config", help="YAML file with this evaluation's settings (flags win)")
    parser.add_argument("--overwrite", action="store_true",
                        help="re-evaluate models already in OUT/results.json with the same weights "
                             "and settings")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `evaluate` (mlm, similarity, glue) and `report` to the `rexbert` parser."""
    from rexbert.evaluate.config import (
        FrequencyInput,
        GlueSettings,
        MlmSettings,
        PairsInput,
        SimilaritySettings,
    )
    from rexbert.sources.documents import DocumentInput

    evaluate = subparsers.add_parser(
        "evaluate", help="evaluate model folders: masked-token recovery, query–product similarity, GLUE",
        description="Evaluate any transformers / sentence-transformers model folders side by side.")
    tasks = evaluate.add_subparsers(dest="evaluation", metavar="EVALUATION")
    evaluate.set_defaults(handler=lambda args: evaluate.print_help() or 2)

    mlm = tasks.add_parser(
        "mlm", help="top-k masked-token recovery on product text (paper Table 3)",
        description="Span-mask texts truncated to each block size and measure top-k recovery, "
                    "per text field.")
    _io(mlm)
    add_flags(mlm, DocumentInput, [
        Flag("paths", name="--input", required=True, renamed_from=("--data",), metavar="PATH"),
        Flag("text_fields", name="--text-field", metavar="FIELD"),
        Flag("id_field", metavar="FIELD")], group="input")
    add_flags(mlm, MlmSettings, ["block_sizes", Flag("top_k", renamed_from=("--topk",)),
                                 "mask_ratio", "max_examples", "batch_size", "seed", "device"])
    add_flags(mlm, FrequencyInput, [
        Flag(name, name=f"--frequency-{name.replace('_', '-')}", metavar=metavar) for name, metavar in
        (("shards", "DIR"), ("source", "NAME"), ("holdout_documents", "N"), ("text", "PATH"),
         ("text_fields", "FIELD"))], group="frequency")
    mlm.set_defaults(handler=lambda args: _mlm(args, mlm))

    sim = tasks.add_parser(
        "similarity", help="graded query–product similarity with CoSENT fine-tuning (paper §6.2, Fig. 4)",
        description="Zero-shot and CoSENT-fine-tuned Spearman/Pearson of cosine similarity against "
                    "graded query–product relevance. Pairs: --esci DIR, --pairs FILE (split by its "
                    "split column, else by query), or --train FILE --test FILE; with --products "
                    "the pair files are ESCI examples files.")
    _io(sim)
    add_flags(sim, PairsInput, [
        "esci", "pairs", "train", "test", "products", "locale", "query_field",
        Flag("text_fields", name="--text-field", metavar="FIELD"), "label_field", "label_map",
        "score_field", "split_field"], group="pairs")
    add_flags(sim, SimilaritySettings, [*FINE_TUNING, "max_length", "max_train_examples",
                                        "max_test_examples", "test_fraction", "seed", "seeds",
                                        "device"])
    sim.set_defaults(handler=lambda args: _similarity(args, sim))

    glue = tasks.add_parser(
        "glue", help="GLUE fine-tuning: SST-2, QNLI, QQP, MNLI, STS-B (paper Table 4)",
        description="Fine-tune a classification/regression head per task on train, score dev.")
    _io(glue)
    glue.add_argument("--glue-dir", help="GLUE TSV folder (SST-2/, QNLI/, …); omit to read "
                                         "nyu-mll/glue from the hub")
    add_flags(glue, GlueSettings, [
        "tasks", *FINE_TUNING, "max_length", "max_train_examples",
        Flag("max_test_examples", renamed_from=("--max-eval-examples",)), "seed", "seeds", "device"])
    glue.set_defaults(handler=lambda args: _glue(args, glue))

    report = subparsers.add_parser(
        "report", help="join evaluation results into one Markdown or HTML report",
        description="Tables 3 and 4, the Figure 4 chart, and each model's size and source.")
    report.add_argument("--runs", nargs="+", required=True, metavar="OUT",
                        help="evaluation output folders (or their results.json files)")
    report.add_argument("--out", required=True, help="FILE.md (chart as a PNG beside it) or FILE.html")
    report.set_defaults(handler=_report)


def _settings(model: Any, args: argparse.Namespace, parser: argparse.ArgumentParser) -> Any:
    return build(model, args, parser, config_file=args.config)


def _input(model: Any, args: argparse.Namespace, parser: argparse.ArgumentParser, group: str) -> Any:
    return build(model, args, parser, group=group)


def _print(result: Any) -> int:
    for path in result.tables.values():
        print(path.read_text(encoding="utf-8"))
    for path in [*result.tables.values(), *result.figures.values()]:
        print(f"wrote {path}")
    print(f"wrote {result.results_json} ({len(result.results.records)} records)")
    return 0


def _mlm(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from rexbert.config.flags import given_flags
    from rexbert.evaluate.api import FrequencyInput, MlmSettings, mlm
    from rexbert.sources.documents import DocumentInput

    data = _input(DocumentInput, args, parser, "input")
    frequency = _input(FrequencyInput, args, parser, "frequency") if given_flags(args, "frequency") else None
    return _print(mlm(args.model, data, _settings(MlmSettings, args, parser), args.out,
                      args.overwrite, frequency))


def _similarity(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from rexbert.evaluate.api import PairsInput, SimilaritySettings, similarity

    pairs = _input(PairsInput, args, parser, "pairs")
    return _print(similarity(args.model, pairs, _settings(SimilaritySettings, args, parser),
                             args.out, args.overwrite))


def _glue(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from rexbert.evaluate.api import GlueSettings, glue

    return _print(glue(args.model, args.glue_dir, _settings(GlueSettings, args, parser), args.out,
                       args.overwrite))


def _report(args: argparse.Namespace) -> int:
    from rexbert.evaluate.report import write_report

    print(f"wrote {write_report(args.runs, args.out)}")
    return 0
