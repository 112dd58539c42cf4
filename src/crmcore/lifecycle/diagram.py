"""Workflow diagrams: Mermaid ``stateDiagram-v2`` text for docs and notebooks.

May import: ``crmcore.domain``, ``crmcore.clock``, ``crmcore.errors``; attrs, pendulum.
"""

from __future__ import annotations

import re
from typing import Any

from crmcore.lifecycle.workflow import Workflow

__all__ = ["to_mermaid"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


def _node(name: str) -> str:
    safe = _UNSAFE.sub("_", name)
    return safe if safe == name else f"s_{safe}"


def to_mermaid(workflow: Workflow[Any, Any], *, labels: bool = True) -> str:
    """Return the workflow as a Mermaid state diagram.

    Regress transitions are marked ``↩``, transitions with guards list them
    in brackets, final states lead to ``[*]``.

    Args:
        workflow: The workflow to draw.
        labels: Show state labels (``"需求分析"``) instead of names where set.

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
    """
    lines = ["stateDiagram-v2"]
    for state in workflow.states:
        node = _node(str(state.name))
        text = state.label if labels and state.label else str(state.name)
        if node != text:
            lines.append(f'    state "{text}" as {node}')
    lines.append(f"    [*] --> {_node(str(workflow.initial.name))}")
    for t in workflow.transitions:
        label = t.label or t.name
        if t.guards:
            label += f" [{', '.join(t.guards)}]"
        if t.regress:
            label += " ↩"
        lines.extend(
            f"    {_node(str(source))} --> {_node(str(t.target))}: {label}" for source in t.sources
        )
    lines.extend(f"    {_node(str(s.name))} --> [*]" for s in workflow.finals)
    return "\n".join(lines)
