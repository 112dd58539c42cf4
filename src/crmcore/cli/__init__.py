"""The ``crmcore`` command: demo, import, dedupe, segment and export.

Exit codes: 0 ok, 1 usage error, 2 input error (the message says what was
wrong); user mistakes never end in a traceback.

Built on argparse (stdlib, no extra dependency, and fully typed) with rich
for tables and progress bars when the ``cli`` extra is installed.

May import: services, adapters and everything below them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from crmcore.cli import dedupe, demo, export, load, segment
from crmcore.cli.console import Console
from crmcore.errors import CrmError

__all__ = ["main"]

USAGE_ERROR = 1
INPUT_ERROR = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crmcore", description="crmcore — the business core of a CRM, on the command line."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo.add_parser(commands)
    load.add_parser(commands)
    dedupe.add_parser(commands)
    segment.add_parser(commands)
    export.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None, *, console: Console | None = None) -> int:
    """Run the command line; return the exit code (0 ok, 1 usage error, 2 input error)."""
    out = console or Console()
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code in (0, None) else USAGE_ERROR
    command: Callable[[argparse.Namespace, Console], int] | None = getattr(args, "run", None)
    try:
        if args.command == "dedupe":
            return dedupe.run(args)
        if command is None:  # pragma: no cover - every sub-command sets one
            return USAGE_ERROR
        return command(args, out)
    except CrmError as exc:
        out.error(f"crmcore {args.command}: {exc}")
        return INPUT_ERROR
    except BrokenPipeError:  # the reader went away (`crmcore export ... | head`): not an error
        _silence_stdout()
        return 0
    except OSError as exc:
        out.error(
            f"crmcore {args.command}: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")
        )
        return INPUT_ERROR
    except KeyboardInterrupt:
        out.error(f"crmcore {args.command}: interrupted")
        return 130


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
