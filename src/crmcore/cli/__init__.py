"""The ``crmcore`` command: demo, import, dedupe, segment and export.

Exit codes: 0 ok, 1 usage error, 2 input error, 130 interrupted. Every
error is reported as ``crmcore <command>: error: <message>`` on standard
error (the style of argparse's own usage errors); user mistakes never end
in a traceback.

Built on argparse (stdlib, no extra dependency, and fully typed) with rich
for tables and progress bars when the ``cli`` extra is installed.

May import: services, adapters and everything below them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from contextlib import redirect_stderr, redirect_stdout
from importlib import metadata

from crmcore.cli.console import Console
from crmcore.cli.text import PlainHelpFormatter, plain_text
from crmcore.errors import CrmError, InvalidValueError
from crmcore.i18n import Locale, describe, parse_locale

__all__ = ["main", "version"]

USAGE_ERROR = 1
INPUT_ERROR = 2
INTERRUPTED = 130
LANG_VARIABLE = "CRMCORE_LANG"
"""The environment variable naming the CLI's language when ``--lang`` is not given."""


def version() -> str:
    """Return the installed crmcore version (the package's own when not installed).

    Returns:
        The version, e.g. ``0.1.0``.
    """
    try:
        return metadata.version("crmcore")
    except metadata.PackageNotFoundError:  # running from a source tree
        # crmcore itself is loaded (it is this package's parent); the design
        # table keeps cli from importing the top-level namespace by name.
        return str(getattr(sys.modules.get("crmcore"), "__version__", "unknown"))


def _parser() -> argparse.ArgumentParser:
    # Imported here so that a missing extra (SQLAlchemy) is a message, not a traceback.
    from crmcore.cli import (  # noqa: PLC0415
        audit,
        db,
        dedupe,
        demo,
        export,
        load,
        report,
        schema,
        segment,
        subject,
    )

    parser = argparse.ArgumentParser(
        prog="crmcore",
        description="crmcore — the business core of a CRM, on the command line.",
        formatter_class=PlainHelpFormatter,
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"crmcore {version()}",
        help="print the version of crmcore and exit",
    )
    parser.add_argument(
        "--lang",
        metavar="LOCALE",
        type=_locale,
        help=f"language of headings and messages: en or zh_CN (default: ${LANG_VARIABLE}, else en)",
    )
    commands = parser.add_subparsers(
        dest="command",
        required=True,
        metavar="COMMAND",
        help="what to do; crmcore COMMAND --help explains its options",
    )
    demo.add_parser(commands)
    load.add_parser(commands)
    dedupe.add_parser(commands)
    segment.add_parser(commands)
    export.add_parser(commands)
    audit.add_parser(commands)
    schema.add_parser(commands)
    report.add_parser(commands)
    subject.add_parser(commands)
    db.add_parser(commands)
    _plain_help(commands)
    return parser


def _locale(value: str) -> Locale:
    try:
        return parse_locale(value)
    except InvalidValueError as exc:
        raise argparse.ArgumentTypeError(exc.reason) from exc


def _plain_help(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Give every sub-command the same plain-text help, whichever module registered it.

    Descriptions lose their reST markup (a sub-command without one gets its
    one-line summary), and an option offering fixed choices without a help
    text says which values it takes and its default.
    """
    summaries = {action.dest: action.help for action in commands._choices_actions}
    for name, parser in commands.choices.items():
        parser.formatter_class = PlainHelpFormatter
        description = parser.description or summaries.get(name)
        parser.description = plain_text(description) if description else None
        for action in parser._actions:
            if action.help is None and action.choices is not None:
                values = ", ".join(str(choice) for choice in action.choices)
                default = "" if action.default is None else " (default: %(default)s)"
                action.help = f"one of {values}{default}"


def main(argv: Sequence[str] | None = None, *, console: Console | None = None) -> int:
    """Run the command line; return the exit code.

    Every error is one line (or a list) on standard error, prefixed like
    argparse's own: ``crmcore <command>: error: <message>``.

    Args:
        argv: The arguments, without the program name (default: ``sys.argv[1:]``).
        console: Where output goes (default: the process's standard streams).

    Returns:
        0 done, 1 usage error, 2 input error, 130 interrupted.
    """
    out = console or Console()
    try:
        parser = _parser()
    except CrmError as exc:  # a missing extra: the message says what to install
        out.error(f"crmcore: error: {exc}")
        return INPUT_ERROR
    try:
        with redirect_stdout(out.out), redirect_stderr(out.err):
            args = parser.parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code in (0, None) else USAGE_ERROR
    except KeyboardInterrupt:
        out.error("crmcore: interrupted")
        return INTERRUPTED
    prefix = f"crmcore {args.command}"
    try:
        out.locale = args.lang or parse_locale(os.environ.get(LANG_VARIABLE) or "en")
    except InvalidValueError as exc:
        out.error(f"crmcore: error: ${LANG_VARIABLE}: {exc.reason}")
        return USAGE_ERROR
    command: Callable[[argparse.Namespace, Console], int] | None = getattr(args, "run", None)
    try:
        if args.command == "dedupe":
            from crmcore.cli import dedupe  # noqa: PLC0415 - imported by _parser already

            return dedupe.run(args)  # writes to the process's streams itself
        if command is None:  # pragma: no cover - every sub-command sets one
            return USAGE_ERROR
        return command(args, out)
    except CrmError as exc:
        out.error(f"{prefix}: {out.label('error')}: {describe(exc, out.locale)}")
        return INPUT_ERROR
    except BrokenPipeError:  # the reader went away (`crmcore export ... | head`): not an error
        _silence_stdout()
        return 0
    except OSError as exc:
        reason = f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")
        out.error(f"{prefix}: error: {reason}")
        return INPUT_ERROR
    except KeyboardInterrupt:
        out.error(f"{prefix}: interrupted")
        return INTERRUPTED


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
