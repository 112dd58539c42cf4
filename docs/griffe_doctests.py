"""A griffe extension that makes crmcore's docstrings read well as Markdown in the API reference.

crmcore's docstrings are Google style with doctests wherever an example helps, also
outside an ``Examples:`` section, and with a few reStructuredText roles
(``:func:`read_table```). mkdocstrings renders docstrings as Markdown, where a doctest
outside ``Examples:`` would be prose (its ``['a', 'b']`` read as a link) and a role
would show its colons. This extension, loaded by ``mkdocs.yml``, rewrites each
docstring's text before it is parsed:

- every doctest block (a ``>>>`` line up to the next blank line) becomes a fenced
  ``pycon`` code block, at its own indentation;
- ``:func:`x```, ``:class:`x```, ``:data:`x``` … become the code span ``x``.

The source files are not changed, and the doctests still run under pytest as written.
"""

from __future__ import annotations

import re
from typing import Any

try:
    import griffe
except ImportError:  # pragma: no cover - the extra `docs` is not installed
    _Extension: Any = object
else:
    _Extension = griffe.Extension

_ROLE = re.compile(r":(?:func|class|meth|attr|data|mod|obj|exc|const|py:\w+):`~?([^`]+)`")
_FENCE = re.compile(r"^\s*(```|~~~)")


def fence_doctests(text: str) -> str:
    r"""Return ``text`` with every doctest block fenced as ``pycon`` and roles as code spans.

    >>> fence_doctests("Sum:\n    >>> 1 + 1\n    2\n\nSee :func:`add`.").splitlines()
    ['Sum:', '    ```pycon', '    >>> 1 + 1', '    2', '    ```', '', 'See ``add``.']
    """
    out: list[str] = []
    in_fence = False
    in_doctest = False
    indent = ""
    for line in text.split("\n"):
        stripped = line.strip()
        if in_doctest and (not stripped or not line.startswith(indent)):
            out.append(f"{indent}```")
            in_doctest = False
        if not in_doctest and _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and not in_doctest and stripped.startswith(">>>"):
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}```pycon")
            in_doctest = True
        out.append(line if in_doctest or in_fence else _ROLE.sub(r"``\1``", line))
    if in_doctest:
        out.append(f"{indent}```")
    return "\n".join(out)


class FencedDoctests(_Extension):  # type: ignore[misc]
    """Fence doctests and turn reStructuredText roles into code spans in every docstring."""

    def on_instance(self, *, obj: Any, **kwargs: Any) -> None:  # noqa: ARG002 - griffe's hook
        """Rewrite ``obj``'s docstring, if it has one, when griffe creates it."""
        if obj.docstring is not None:
            obj.docstring.value = fence_doctests(obj.docstring.value)
