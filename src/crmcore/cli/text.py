"""Plain text for the terminal: reStructuredText markup in help texts rendered as words.

Module docstrings double as ``--help`` descriptions; their reST markup
(````crmcore demo````, ``:func:`crmcore.matching.dedupe```) reads as noise on
a terminal. :func:`plain_text` drops it and :class:`PlainHelpFormatter` applies
it to every description, epilog and option help.

May import: the standard library only.
"""

from __future__ import annotations

import argparse
import re
import textwrap

__all__ = ["PlainHelpFormatter", "plain_text"]

_ROLE = re.compile(r":[A-Za-z][\w.+-]*:`(?P<body>[^`]+)`")
_LITERAL = re.compile(r"``(?P<body>[^`]+?)``")
_INTERPRETED = re.compile(r"(?<![\w`])`(?P<body>[^`]+)`(?:_{1,2})?(?![\w`])")
_STRONG = re.compile(r"\*\*(?P<body>[^*]+)\*\*")
_TITLED = re.compile(r"^(?P<title>.*?)\s*<[^<>]+>$", re.DOTALL)


def _role(match: re.Match[str]) -> str:
    body = match.group("body")
    titled = _TITLED.match(body)
    if titled is not None and titled.group("title"):
        return titled.group("title")
    if body.startswith("~"):
        return body[1:].rsplit(".", 1)[-1]
    return body.lstrip("!")


def plain_text(text: str) -> str:
    """Return ``text`` with reST roles, literals and strong emphasis shown as plain words.

    ````x```` becomes ``x``, ``:func:`a.b.c``` becomes ``a.b.c``,
    ``:func:`~a.b.c``` becomes ``c``, ``:mod:`x``` and ```x``` become ``x``,
    ``**x**`` becomes ``x``. Everything else, line breaks included, is kept.

    >>> plain_text("``crmcore demo``: see :func:`~crmcore.matching.dedupe` and :mod:`crmcore.cli`")
    'crmcore demo: see dedupe and crmcore.cli'

    Args:
        text: A help text or docstring.

    Returns:
        The same text without markup.
    """
    text = _ROLE.sub(_role, text)
    text = _LITERAL.sub(lambda m: m.group("body"), text)
    text = _INTERPRETED.sub(lambda m: m.group("body"), text)
    return _STRONG.sub(lambda m: m.group("body"), text)


class PlainHelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Help with descriptions kept as written (paragraphs, lists) but without reST markup.

    A line wider than the terminal is wrapped, keeping its indentation.
    """

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        lines = []
        for line in plain_text(text).splitlines():
            if len(indent) + len(line) <= width:
                lines.append(indent + line)
                continue
            lead = indent + line[: len(line) - len(line.lstrip())]
            lines.append(
                textwrap.fill(line.strip(), width, initial_indent=lead, subsequent_indent=lead)
            )
        return "\n".join(lines)

    def _expand_help(self, action: argparse.Action) -> str:
        return plain_text(super()._expand_help(action))
