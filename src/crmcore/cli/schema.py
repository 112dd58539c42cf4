"""``crmcore schema``: the JSON Schema of a payload type, or the list of types.

``crmcore schema`` lists every payload type with a schema (its name, its
label in ``--lang`` and what it is); ``crmcore schema TYPE`` prints the JSON
Schema (draft 2020-12) of one, titles in ``--lang``, for a frontend to build
an editor from (segment rules, workflows, time rules, access policies ...).

May import: services, adapters and everything below them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from crmcore.cli.console import Console
from crmcore.cli.io import InputError
from crmcore.errors import InvalidValueError
from crmcore.i18n import text
from crmcore.serialization import SCHEMA_TYPES, json_schema

__all__ = ["add_parser", "run", "schema_type"]


def add_parser(commands: Any) -> None:
    """Register ``schema`` on the command's sub-parsers."""
    parser = commands.add_parser(
        "schema",
        help="print the JSON Schema of a payload type (without TYPE: list the types)",
        description=(__doc__ or "").splitlines()[0],
    )
    parser.add_argument(
        "type",
        nargs="?",
        metavar="TYPE",
        help="a payload type (Customer, Rule, Workflow, AccessPolicy ...); case does not matter",
    )
    parser.add_argument("--out", type=Path, help="write the schema to this file")
    parser.set_defaults(run=run)


def schema_type(name: str) -> str:
    """Return the payload type called ``name`` (ignoring case) as :data:`SCHEMA_TYPES` spells it.

    Raises:
        InvalidValueError: If there is no such type; the message lists them all.

    >>> schema_type("accesspolicy")
    'AccessPolicy'
    """
    for known in SCHEMA_TYPES:
        if known.casefold() == name.casefold():
            return known
    raise InvalidValueError(
        "schema type", name, f"expected one of {', '.join(sorted(SCHEMA_TYPES))}"
    )


def run(args: argparse.Namespace, console: Console) -> int:
    """List the payload types, or print (or write) the schema of one; return the exit code.

    Raises:
        InvalidValueError: If ``TYPE`` names no payload type.
        InputError: If ``--out`` cannot be written.
    """
    if args.type is None:
        console.table(
            "payload types",
            ["type", "title", "description"],
            [
                [name, text(f"type.{name}", name, console.locale), _summary(name)]
                for name in sorted(SCHEMA_TYPES)
            ],
        )
        return 0
    name = schema_type(args.type)
    document = json.dumps(
        json_schema(SCHEMA_TYPES[name], console.locale), ensure_ascii=False, indent=2
    )
    if args.out is None:
        console.out.write(document + "\n")
        return 0
    try:
        args.out.write_text(document + "\n", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {args.out}: {exc.strerror or exc}") from exc
    console.print(f"{name}: {args.out}")
    return 0


def _summary(name: str) -> str:
    description = json_schema(SCHEMA_TYPES[name]).get("description", "")
    first = str(description).split(". ")[0].rstrip(".")
    return first if len(first) <= 70 else first[:69] + "…"
