"""Subcommands of the `evaluate` stage."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this stage's subcommands to the `rexbert` parser."""
