"""Subcommands of the `data` stage: `tokenizer train`, `shards build`, `spans mine`."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this stage's subcommands to the `rexbert` parser."""
    tokenizer = subparsers.add_parser("tokenizer", help="train a byte-level BPE tokenizer")
    tokenizer_sub = tokenizer.add_subparsers(dest="tokenizer_command", metavar="ACTION", required=True)
    train = tokenizer_sub.add_parser(
        "train", help="train a ModernBERT-style byte-level BPE on document files",
        description="Train a byte-level BPE with [CLS] [SEP] [MASK] [PAD] [UNK]; the folder loads "
                    "with transformers' AutoTokenizer.",
    )
    train.add_argument("--input", nargs="+", required=True, metavar="PATH",
                       help="document files or folders (.jsonl, .jsonl.gz, .jsonl.zst, .parquet)")
    train.add_argument("--vocab-size", type=int, default=50_368,
                       help="vocabulary size incl. specials, a multiple of 64 (default: 50368)")
    train.add_argument("--out", required=True, help="output tokenizer folder")
    train.add_argument("--text-field", default="text", help="field holding the text (default: text)")
    train.add_argument("--min-frequency", type=int, default=2, help="minimum pair count for a merge")
    train.add_argument("--max-documents", type=int, default=None,
                       help="train on at most this many documents (default: all)")
    train.set_defaults(handler=_tokenizer_train)

    shards = subparsers.add_parser("shards", help="tokenise corpora into memory-mapped token shards")
    shards_sub = shards.add_subparsers(dest="shards_command", metavar="ACTION", required=True)
    build = shards_sub.add_parser(
        "build", help="tokenise document files into shards with an index (resumable)",
        description="One shard per input file, in parallel; rerunning skips finished shards.",
    )
    build.add_argument("--input", nargs="+", required=True, metavar="[NAME=]PATH",
                       help="files or folders; NAME=PATH names the source, a folder of sub-folders "
                            "(FineFineWeb layout) gives one source per sub-folder")
    build.add_argument("--tokenizer", required=True, help="tokenizer folder")
    build.add_argument("--out", required=True, help="output shard folder")
    build.add_argument("--workers", type=int, default=1, help="parallel processes (default: 1)")
    build.add_argument("--text-field", default="text", help="field holding the text (default: text)")
    build.set_defaults(handler=_shards_build)

    spans = subparsers.add_parser("spans", help="Guided MLM span mining")
    spans_sub = spans.add_subparsers(dest="spans_command", metavar="ACTION", required=True)
    mine = spans_sub.add_parser(
        "mine", help="mine domain-salient spans and store them per document next to the shards",
        description="Attribute–value pairs, units, model numbers (patterns), frequent PMI phrases "
                    "and brand-like names, and an optional dictionary.",
    )
    mine.add_argument("--shards", required=True, help="shard folder from `rexbert shards build`")
    mine.add_argument("--source", nargs="+", required=True, help="domain source name(s) to mine")
    mine.add_argument("--reference-source", nargs="*", default=None,
                      help="general source(s): keep only phrases salient against them")
    mine.add_argument("--dictionary", default=None, help="file of extra phrases, one per line")
    mine.add_argument("--no-patterns", action="store_true", help="skip the regular-expression miner")
    mine.add_argument("--no-phrases", action="store_true", help="skip frequency/PMI phrase mining")
    mine.add_argument("--min-count", type=int, default=5, help="minimum phrase count (default: 5)")
    mine.add_argument("--max-phrases", type=int, default=5000, help="lexicon size cap (default: 5000)")
    mine.set_defaults(handler=_spans_mine)


def _tokenizer_train(args: argparse.Namespace) -> int:
    from itertools import islice

    from rexbert.data.readers import discover_sources, iter_texts
    from rexbert.data.tokenizer import train_tokenizer

    files = [path for paths in discover_sources(args.input).values() for path in paths]

    def texts():
        for path in files:
            yield from iter_texts(path, args.text_field)

    stream = texts() if args.max_documents is None else islice(texts(), args.max_documents)
    info = train_tokenizer(stream, args.vocab_size, args.out, min_frequency=args.min_frequency)
    print(f"tokenizer: {info.vocab_size} tokens → {args.out}")
    return 0


def _shards_build(args: argparse.Namespace) -> int:
    from rexbert.data.shards import build_shards, summarize
    from rexbert.errors import UserError

    if args.workers < 1:
        raise UserError("--workers must be at least 1")
    index = build_shards(args.input, args.tokenizer, args.out, workers=args.workers,
                         text_field=args.text_field)
    print(summarize(index))
    return 0


def _spans_mine(args: argparse.Namespace) -> int:
    from rexbert.data.spans import mine_spans

    summary = mine_spans(
        args.shards, args.source, reference_sources=args.reference_source, dictionary=args.dictionary,
        use_patterns=not args.no_patterns, use_phrases=not args.no_phrases,
        min_count=args.min_count, max_phrases=args.max_phrases,
    )
    print(f"spans: {summary['phrases']} phrases; {summary['documents_with_spans']}/{summary['documents']} "
          f"documents have spans ({summary['share_with_spans']:.1%})")
    return 0
