"""Workflow diagrams: Mermaid ``stateDiagram-v2`` text for docs and notebooks.

May import: ``crmcore.domain``, ``crmcore.clock``, ``crmcore.errors``, ``crmcore.i18n``;
attrs, pendulum.
"""

from __future__ import annotations

import re
from typing import Any

from crmcore.i18n import Locale, parse_locale, text
from crmcore.lifecycle.workflow import Workflow

__all__ = ["to_mermaid"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


def _node(name: str) -> str:
    safe = _UNSAFE.sub("_", name)
    return safe if safe == name else f"s_{safe}"


def to_mermaid(
    workflow: Workflow[Any, Any], *, labels: bool = True, locale: Locale | str | None = None
) -> str:
    """Return the workflow as a Mermaid state diagram.

    Regress transitions are marked ``↩``, transitions with guards list them
    in brackets, final states lead to ``[*]``.

    Args:
        workflow: The workflow to draw.
        labels: Show state labels (``"需求分析"``) instead of names where set.
        locale: Label states and transitions in this locale (``"en"``, ``"zh_CN"``)
            from the catalogue of :mod:`crmcore.i18n`; a stage or transition it
            does not know (a host's own pipeline) keeps its own label or name.
            ``None`` (default) shows the labels set on the workflow itself.

    Raises:
        InvalidValueError: If the locale is unsupported.

    Returns:
        Mermaid source, one statement per line.

    >>> from crmcore.lifecycle.lead import LEAD_WORKFLOW
    >>> print(to_mermaid(LEAD_WORKFLOW, labels=False))
    stateDiagram-v2
        [*] --> new
        new --> contacted: contact
        new --> qualified: qualify [reachable]
        contacted --> qualified: qualify [reachable]
        qualified --> converted: convert
        new --> disqualified: disqualify
        contacted --> disqualified: disqualify
        qualified --> disqualified: disqualify
        contacted --> new: recycle ↩
        qualified --> new: recycle ↩
        disqualified --> new: recycle ↩
        converted --> [*]

    In Chinese, transitions are named too:

    >>> zh = to_mermaid(LEAD_WORKFLOW, locale="zh_CN").splitlines()
    >>> for line in zh[1:8]:
    ...     print(line)
    state "新线索" as new
        state "已联系" as contacted
        state "已确认" as qualified
        state "已转化" as converted
        state "无效" as disqualified
        [*] --> new
        new --> contacted: 联系
    """
    chosen = None if locale is None else parse_locale(locale)
    prefix = f"workflow.{workflow.name}"
    lines = ["stateDiagram-v2"]
    for state in workflow.states:
        node = _node(str(state.name))
        shown = state.label if labels and state.label else str(state.name)
        if chosen is not None and labels:
            shown = text(f"{prefix}.state.{state.name}", shown, chosen)
        if node != shown:
            lines.append(f'    state "{shown}" as {node}')
    lines.append(f"    [*] --> {_node(str(workflow.initial.name))}")
    for t in workflow.transitions:
        label = t.label or t.name
        if chosen is not None and labels:
            label = text(f"{prefix}.transition.{t.name}", label, chosen)
        if t.guards:
            label += f" [{', '.join(t.guards)}]"
        if t.regress:
            label += " ↩"
        lines.extend(
            f"    {_node(str(source))} --> {_node(str(t.target))}: {label}" for source in t.sources
        )
    lines.extend(f"    {_node(str(s.name))} --> [*]" for s in workflow.finals)
    return "\n".join(lines)
