"""The ``crmcore`` command.

``crmcore demo`` runs the library over a small bilingual sample and prints
what it did. (Storage-backed import, dedupe, segment and export commands
arrive with the storage and CLI work.)

May import: services, adapters and everything below them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from crmcore.cli.demo import run_demo

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0 ok, 1 usage error, 2 input error)."""
    parser = argparse.ArgumentParser(prog="crmcore", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="run the library over a bilingual sample CRM")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else 1
    if args.command == "demo":
        return run_demo(sys.stdout)
    return 1  # pragma: no cover - argparse rejects unknown commands
