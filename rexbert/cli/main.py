"""Entry point of the `rexbert` console script.

Each stage owns a `commands` module with `register(subparsers)`, which adds its subcommands and
sets `handler(args) -> int | None` on each. Registration must stay import-light (no torch,
no transformers at import time) so that `rexbert --help` answers at once; handlers import what
they need.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import traceback
from collections.abc import Sequence

from rexbert import __version__
from rexbert.errors import UserError

# Order = the order of the stages in `rexbert --help`.
COMMAND_MODULES = (
    "rexbert.sources.commands",
    "rexbert.curate.commands",
    "rexbert.data.commands",
    "rexbert.train.commands",
    "rexbert.release.commands",
    "rexbert.evaluate.commands",
    "rexbert.serve.commands",
    "rexbert.run.commands",
)

log = logging.getLogger("rexbert")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every stage's subcommands registered."""
    parser = argparse.ArgumentParser(
        prog="rexbert",
        description=(
            "Build domain-specialized ModernBERT-style encoders from open data: "
            "curate → tokenize/pack → pretrain → evaluate → release."
        ),
    )
    parser.add_argument("--version", action="version", version=f"rexbert {__version__}")
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="verbosity of log messages (default: INFO)",
    )
    parser.add_argument(
        "--debug", action="store_true", help="show full tracebacks for errors (for bug reports)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run the chosen subcommand, and map errors to exit codes.

    A `UserError` prints one line and exits 2; `--debug` adds the traceback. Ctrl-C exits 130.
    """
    parser = build_parser()
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(argv)
        _configure_logging(args.log_level)
        handler = getattr(args, "handler", None)
        if handler is None:
            parser.print_help()
            return 2 if args.command is None else 0
        status = handler(args)
    except UserError as err:
        if debug:
            traceback.print_exc()
        print(f"rexbert: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rexbert: interrupted", file=sys.stderr)
        return 130
    return int(status or 0)


if __name__ == "__main__":
    sys.exit(main())
