"""Subcommands of the `data` stage: `tokenizer train`, `shards build`, `spans mine`.

Thin callers of `rexbert.data.api`: the settings' flags are generated from `TokenizerConfig`,
`ShardsConfig` and `SpansConfig`, the document flags from `DocumentInput`; only plain I/O
arguments are declared here.
"""

from __future__ import annotations

import argparse

from rexbert.config.flags import add_flags, build

INPUT_GROUP = "input"
CONFIG_HELP = "YAML file with this command's settings (flags win over it)"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this stage's subcommands to the `rexbert` parser."""
    _register_tokenizer(subparsers)
    _register_shards(subparsers)
    _register_spans(subparsers)


def _add_inputs(parser: argparse.ArgumentParser) -> None:
    from rexbert.sources.documents import DocumentInput, document_flags

    add_flags(parser, DocumentInput, document_flags(), group=INPUT_GROUP)


def _register_tokenizer(subparsers: argparse._SubParsersAction) -> None:
    from rexbert.data.api import TokenizerConfig

    tokenizer = subparsers.add_parser("tokenizer", help="train a byte-level BPE tokenizer")
    actions = tokenizer.add_subparsers(dest="tokenizer_command", metavar="ACTION", required=True)
    train = actions.add_parser(
        "train", help="train a ModernBERT-style byte-level BPE on document files",
        description="Train a byte-level BPE with [CLS] [SEP] [MASK] [PAD] [UNK]; the folder loads "
                    "with transformers' AutoTokenizer. Records that cannot be read are rejected "
                    "with a reason into OUT/rejects.jsonl.",
    )
    _add_inputs(train)
    train.add_argument("--out", required=True, help="output tokenizer folder (new, empty, or an earlier "
                                                     "tokenizer folder)")
    train.add_argument("--config", help=CONFIG_HELP)
    add_flags(train, TokenizerConfig, ["vocab_size", "min_frequency", "max_documents"])
    train.set_defaults(handler=lambda args: _tokenizer_train(args, train))


def _register_shards(subparsers: argparse._SubParsersAction) -> None:
    from rexbert.data.api import ShardsConfig

    shards = subparsers.add_parser("shards", help="tokenise corpora into memory-mapped token shards")
    actions = shards.add_subparsers(dest="shards_command", metavar="ACTION", required=True)
    build_parser = actions.add_parser(
        "build", help="tokenise document files into shards with an index (resumable)",
        description="One shard per input file and source, in parallel; rerunning skips finished "
                    "files. A document's source is its domain (--domain, NAME=PATH, --domain-field or "
                    "the <domain>/<domain>_NNNNNN.jsonl layout), else its input folder's name. "
                    "Records that cannot be read are rejected with a reason into OUT/rejects.jsonl.",
    )
    _add_inputs(build_parser)
    build_parser.add_argument("--tokenizer", required=True, help="tokenizer folder")
    build_parser.add_argument("--out", required=True, help="output shard folder (new, empty, or earlier "
                                                           "shards to resume)")
    build_parser.add_argument("--config", help=CONFIG_HELP)
    add_flags(build_parser, ShardsConfig, ["workers"])
    build_parser.set_defaults(handler=lambda args: _shards_build(args, build_parser))


def _register_spans(subparsers: argparse._SubParsersAction) -> None:
    from rexbert.data.api import SpansConfig

    spans = subparsers.add_parser("spans", help="Guided MLM span mining")
    actions = spans.add_subparsers(dest="spans_command", metavar="ACTION", required=True)
    mine = actions.add_parser(
        "mine", help="mine domain-salient spans and store them per document next to the shards",
        description="Attribute–value pairs, units, model numbers (patterns), frequent PMI phrases "
                    "and brand-like names, and an optional dictionary.",
    )
    mine.add_argument("--shards", required=True, help="shard folder from `rexbert shards build`")
    mine.add_argument("--source", nargs="+", required=True, metavar="NAME",
                      help="domain source name(s) to mine")
    mine.add_argument("--reference-source", nargs="*", metavar="NAME",
                      help="general source(s): keep only phrases salient against them (default: none)")
    mine.add_argument("--config", help=CONFIG_HELP)
    add_flags(mine, SpansConfig, ["dictionary", "patterns", "phrases", "min_count", "max_phrases", "min_pmi",
                                  "min_salience"])
    mine.set_defaults(handler=lambda args: _spans_mine(args, mine))


def _inputs(args: argparse.Namespace, parser: argparse.ArgumentParser):
    from rexbert.sources.documents import DocumentInput

    return [build(DocumentInput, args, parser, group=INPUT_GROUP)]


def _tokenizer_train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from rexbert.data.api import TokenizerConfig, train_tokenizer

    result = train_tokenizer(_inputs(args, parser), build(TokenizerConfig, args, parser, config_file=args.config),
                             args.out)
    rejected = sum(result.rejected.values())
    print(f"tokenizer: {result.vocab_size} tokens from {result.documents:,} documents → {result.out}"
          + (f"; {rejected:,} record(s) rejected, listed in {result.rejects}" if rejected else ""))
    return 0


def _shards_build(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from rexbert.data.api import ShardsConfig, build_shards
    from rexbert.data.shards import summarize

    result = build_shards(_inputs(args, parser), args.tokenizer,
                          build(ShardsConfig, args, parser, config_file=args.config), args.out)
    print(summarize(result.index))
    return 0


def _spans_mine(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from rexbert.data.api import SpansConfig, mine_spans

    result = mine_spans(args.shards, args.source, args.reference_source,
                        build(SpansConfig, args, parser, config_file=args.config))
    print(f"spans: {result.phrases} phrases; {result.documents_with_spans}/{result.documents} "
          f"documents have spans ({result.share_with_spans:.1%})")
    return 0
