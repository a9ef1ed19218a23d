"""Subcommand of the serve stage: `rexbert serve`."""

from __future__ import annotations

import argparse

from rexbert.config.flags import add_flags, build

SERVE_FLAGS = ["host", "port", "backend", "precision", "device", "threads", "max_batch_tokens",
               "max_wait_ms", "max_queue", "max_texts", "max_length", "over_length", "normalize",
               "model_name"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `rexbert serve` to the `rexbert` parser."""
    from rexbert.serve.config import ServeConfig

    serve = subparsers.add_parser(
        "serve",
        help="answer embeddings and fill-mask requests over HTTP (OpenAI-compatible embeddings)",
        description=(
            "Serve an exported model folder (or a rexbert checkpoint) over HTTP: POST /v1/embeddings "
            "(OpenAI-compatible), POST /fill-mask, GET /health, GET /metrics (Prometheus). Concurrent "
            "requests are merged into batches up to a token budget. Binds 127.0.0.1 unless --host "
            "says otherwise."
        ),
    )
    serve.add_argument("--model", required=True,
                       help="exported model folder (`rexbert export`; with onnx/ for --backend onnx) "
                            "or a rexbert checkpoint (torch backend)")
    serve.add_argument("--config", default=None, help="YAML file of serve settings (flags override it)")
    add_flags(serve, ServeConfig, SERVE_FLAGS)
    serve.set_defaults(handler=lambda args: _serve(args, serve))


def _serve(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from rexbert.serve.app import serve
    from rexbert.serve.config import ServeConfig

    serve(build(ServeConfig, args, parser, config_file=args.config), args.model)
    return 0
