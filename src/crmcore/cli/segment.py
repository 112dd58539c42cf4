"""``crmcore segment``: select the customers a segment rule (JSON) matches."""

from __future__ import annotations

import argparse
from typing import Any

from crmcore.cli.console import Console

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> None:
    """Register ``segment`` on the command's sub-parsers."""
    parser = commands.add_parser("segment", help="list the customers a segment rule selects")
    parser.add_argument("--db", required=True, help="SQLAlchemy URL or an SQLite file path")
    parser.add_argument("--rule", required=True, help="the rule, as a JSON file")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, console: Console) -> int:
    """Run ``crmcore segment``; return the exit code."""
    del args
    console.error("crmcore segment: not wired yet")
    return 1
