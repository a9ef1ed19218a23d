"""Subcommands of the `evaluate` stage: `evaluate mlm|similarity|glue` and `report`.

Registration stays import-light; handlers import torch/transformers through the task modules.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def _list_of(kind):
    """argparse type for comma-separated lists (`128,256,512`)."""

    def parse(text: str):
        try:
            return [kind(part.strip()) for part in text.split(",") if part.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated list of {kind.__name__}, got {text!r}"
            ) from None

    return parse


def _flatten(values):
    """Repeated and comma-separated forms together: `--text-field a --text-field b,c`."""
    return [item for group in values or [] for item in group] or None


def _common(parser: argparse.ArgumentParser, models: bool = True) -> None:
    if models:
        parser.add_argument(
            "--model",
            nargs="+",
            action="extend",
            required=True,
            metavar="DIR",
            help="model folder(s) to compare side by side; NAME=DIR sets the name shown in tables",
        )
    parser.add_argument(
        "--out", required=True, type=Path, help="output folder (results.json, tables, chart)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed for masks, sampling and training (default 0)"
    )
    parser.add_argument(
        "--device",
        default="auto",
        help="auto (cuda if present), cpu, cuda, cuda:1 … (default auto)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="re-evaluate models already in OUT/results.json with the same weights and settings",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `evaluate` (mlm, similarity, glue) and `report` to the `rexbert` parser."""
    evaluate = subparsers.add_parser(
        "evaluate",
        help="evaluate model folders: masked-token recovery, query–product similarity, GLUE",
        description="Evaluate any transformers / sentence-transformers model folders side by side.",
    )
    tasks = evaluate.add_subparsers(dest="evaluation", metavar="EVALUATION")
    evaluate.set_defaults(handler=lambda args: evaluate.print_help() or 2)

    mlm = tasks.add_parser(
        "mlm",
        help="top-k masked-token recovery on product text (paper Table 3)",
        description="Span-mask product texts truncated to each block size and measure top-k recovery.",
    )
    _common(mlm)
    mlm.add_argument(
        "--data",
        required=True,
        type=Path,
        help="parquet / JSONL / CSV / TSV with the text field(s)",
    )
    mlm.add_argument(
        "--text-field",
        action="append",
        type=_list_of(str),
        required=True,
        metavar="FIELD",
        help="column(s) to evaluate, repeatable or comma-separated (e.g. product_title,product_description)",
    )
    mlm.add_argument(
        "--block-sizes", type=_list_of(int), default=[128, 256, 512], help="default 128,256,512"
    )
    mlm.add_argument("--topk", type=_list_of(int), default=[1, 3, 5], help="default 1,3,5")
    mlm.add_argument(
        "--mask-ratio", type=float, default=0.15, help="share of tokens masked (default 0.15)"
    )
    mlm.add_argument(
        "--max-examples",
        type=int,
        default=None,
        help="evaluate the first N non-empty texts per field",
    )
    mlm.add_argument(
        "--batch-size", type=int, default=16, help="texts per forward pass (default 16)"
    )
    mlm.set_defaults(handler=run_mlm)

    sim = tasks.add_parser(
        "similarity",
        help="graded query–product similarity with CoSENT fine-tuning (paper §6.2, Fig. 4)",
        description=(
            "Zero-shot and CoSENT-fine-tuned Spearman/Pearson of cosine similarity against graded "
            "query–product relevance. Data: --esci DIR, or --products FILE with ESCI examples files "
            "as --train/--test, or generic --train/--test tables."
        ),
    )
    _common(sim)
    sim.add_argument(
        "--esci", type=Path, help="folder with the two ESCI parquet files (train/test from 'split')"
    )
    sim.add_argument(
        "--products",
        type=Path,
        help="ESCI products parquet; --train/--test are then examples files",
    )
    sim.add_argument(
        "--train", type=Path, help="train pairs (generic table, or ESCI examples with --products)"
    )
    sim.add_argument("--test", type=Path, help="test pairs (same format as --train)")
    sim.add_argument("--locale", default="us", help="ESCI locale to keep (default us)")
    sim.add_argument("--query-field", default="query", help="query column (default query)")
    sim.add_argument(
        "--text-field",
        action="append",
        type=_list_of(str),
        metavar="FIELD",
        help="product text column(s), joined in order (default product_title,product_description)",
    )
    sim.add_argument(
        "--label-field", default="esci_label", help="label column mapped by --label-map"
    )
    sim.add_argument("--score-field", help="numeric target column, used instead of --label-field")
    sim.add_argument(
        "--label-map",
        default="E=1.0,S=0.66,C=0.33,I=0.0",
        help="label to target (default E=1.0,S=0.66,C=0.33,I=0.0)",
    )
    sim.add_argument("--epochs", type=float, default=1.0, help="fine-tuning epochs (default 1)")
    sim.add_argument("--lr", type=float, default=2e-5, help="learning rate (default 2e-5)")
    sim.add_argument(
        "--batch-size", type=int, default=16, help="pairs per CoSENT batch (default 16)"
    )
    sim.add_argument(
        "--max-length", type=int, default=None, help="token window cap (default: the model's)"
    )
    sim.add_argument(
        "--max-train-examples", type=int, default=None, help="seeded sample of N train pairs"
    )
    sim.add_argument(
        "--max-test-examples", type=int, default=None, help="seeded sample of N test pairs"
    )
    sim.set_defaults(handler=run_similarity)

    glue = tasks.add_parser(
        "glue",
        help="GLUE fine-tuning: SST-2, QNLI, QQP, MNLI, STS-B (paper Table 4)",
        description="Fine-tune a classification/regression head per task on train, score dev.",
    )
    _common(glue)
    glue.add_argument(
        "--tasks", default="sst2,qnli,qqp,mnli,stsb", help="default sst2,qnli,qqp,mnli,stsb"
    )
    glue.add_argument(
        "--glue-dir", type=Path, help="GLUE TSV folder (SST-2/, QNLI/, …); omit to use the hub"
    )
    glue.add_argument("--epochs", type=float, default=3.0, help="default 3")
    glue.add_argument("--lr", type=float, default=2e-5, help="default 2e-5")
    glue.add_argument("--batch-size", type=int, default=16, help="default 16")
    glue.add_argument(
        "--max-length", type=int, default=128, help="tokens per example (default 128)"
    )
    glue.add_argument(
        "--max-train-examples", type=int, default=None, help="seeded sample of N train examples"
    )
    glue.add_argument(
        "--max-eval-examples", type=int, default=None, help="seeded sample of N dev examples"
    )
    glue.set_defaults(handler=run_glue)

    report = subparsers.add_parser(
        "report",
        help="join evaluation results into one Markdown or HTML report",
        description="Tables 3 and 4, the Figure 4 chart, and each model's size and source.",
    )
    report.add_argument(
        "--runs",
        nargs="+",
        required=True,
        type=Path,
        metavar="OUT",
        help="evaluation output folders",
    )
    report.add_argument(
        "--out", required=True, type=Path, help="FILE.md (PNG chart beside it) or FILE.html"
    )
    report.set_defaults(handler=run_report)


def _write_table(path: Path, table) -> None:
    """Write and print a result table; say so plainly when nothing could be measured."""
    from rexbert.evaluate.report import markdown_table
    from rexbert.fileio import atomic_write_text

    if table is None:
        log.warning("no results to tabulate (see the warnings above); %s not written", path.name)
        return
    text = markdown_table(table)
    atomic_write_text(path, text)
    print(text)


def _finish(out: Path, results, written: list[Path]) -> int:
    for path in written:
        if path.exists():
            print(f"wrote {path}")
    print(f"wrote {out / 'results.json'} ({len(results.records)} records)")
    return 0


def run_mlm(args: argparse.Namespace) -> int:
    """Handler of `rexbert evaluate mlm`."""
    from rexbert.config import parse_config
    from rexbert.evaluate.mlm import MaskedTokenRecovery, MlmSettings
    from rexbert.evaluate.models import parse_model_specs
    from rexbert.evaluate.report import table3
    from rexbert.evaluate.task import run_tasks

    specs = parse_model_specs(args.model)
    settings = parse_config(
        MlmSettings,
        {
            "data": args.data,
            "text_fields": _flatten(args.text_field),
            "block_sizes": args.block_sizes,
            "topk": args.topk,
            "mask_ratio": args.mask_ratio,
            "seed": args.seed,
            "max_examples": args.max_examples,
            "batch_size": args.batch_size,
            "device": args.device,
        },
        source="evaluate mlm options",
    )
    results = run_tasks([MaskedTokenRecovery(settings)], specs, args.out, args.overwrite)
    table_path = args.out / "table3.md"
    _write_table(table_path, table3(results))
    return _finish(args.out, results, [table_path])


def run_similarity(args: argparse.Namespace) -> int:
    """Handler of `rexbert evaluate similarity`."""
    from rexbert.config import parse_config
    from rexbert.errors import UserError
    from rexbert.evaluate.models import parse_model_specs
    from rexbert.evaluate.report import figure4_png, markdown_table, similarity_table
    from rexbert.evaluate.similarity import (
        QueryProductSimilarity,
        SimilaritySettings,
        parse_label_map,
    )
    from rexbert.evaluate.task import run_tasks
    from rexbert.fileio import atomic_write_bytes, atomic_write_text
    from rexbert.sources.esci import esci_paths

    products, train, test = args.products, args.train, args.test
    if args.esci is not None:
        if products or train or test:
            raise UserError("--esci DIR replaces --products/--train/--test; give one or the other")
        products, train = esci_paths(args.esci)
        test = train
        for path in (products, train):
            if not path.is_file():
                raise UserError(
                    f"--esci {args.esci}: missing {path.name}; expected the ESCI parquet layout"
                )
    elif products is not None and train is not None and test is None:
        test = train  # one examples file with a split column serves both splits
    specs = parse_model_specs(args.model)
    settings = parse_config(
        SimilaritySettings,
        {
            "train": train,
            "test": test,
            "products": products,
            "locale": args.locale,
            "query_field": args.query_field,
            "text_fields": _flatten(args.text_field) or ["product_title", "product_description"],
            "label_field": args.label_field,
            "score_field": args.score_field,
            "label_map": parse_label_map(args.label_map),
            "epochs": args.epochs,
            "learning_rate": args.lr,
            "batch_size": args.batch_size,
            "max_length": args.max_length,
            "max_train_examples": args.max_train_examples,
            "max_test_examples": args.max_test_examples,
            "seed": args.seed,
            "device": args.device,
        },
        source="evaluate similarity options",
    )
    results = run_tasks([QueryProductSimilarity(settings)], specs, args.out, args.overwrite)
    table = markdown_table(similarity_table(results))
    written = [args.out / "similarity.md", args.out / "figure4.png"]
    atomic_write_text(written[0], table + "\n![Figure 4](figure4.png)\n")
    atomic_write_bytes(written[1], figure4_png(results))
    print(table)
    return _finish(args.out, results, written)


def run_glue(args: argparse.Namespace) -> int:
    """Handler of `rexbert evaluate glue`."""
    from rexbert.config import parse_config
    from rexbert.evaluate.glue import GlueFineTune, GlueSettings, parse_tasks
    from rexbert.evaluate.models import parse_model_specs
    from rexbert.evaluate.report import table4
    from rexbert.evaluate.task import run_tasks

    glue_tasks = parse_tasks(args.tasks)
    specs = parse_model_specs(args.model)
    settings = parse_config(
        GlueSettings,
        {
            "glue_dir": args.glue_dir,
            "epochs": args.epochs,
            "learning_rate": args.lr,
            "batch_size": args.batch_size,
            "max_length": args.max_length,
            "max_train_examples": args.max_train_examples,
            "max_eval_examples": args.max_eval_examples,
            "seed": args.seed,
            "device": args.device,
        },
        source="evaluate glue options",
    )
    results = run_tasks(
        [GlueFineTune(task, settings) for task in glue_tasks], specs, args.out, args.overwrite
    )
    table_path = args.out / "table4.md"
    _write_table(table_path, table4(results))
    return _finish(args.out, results, [table_path])


def run_report(args: argparse.Namespace) -> int:
    """Handler of `rexbert report`."""
    from rexbert.evaluate.report import write_report

    path = write_report(args.runs, args.out)
    print(f"wrote {path}")
    return 0
