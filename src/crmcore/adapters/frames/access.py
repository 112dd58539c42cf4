"""Access policies as polars filters: the rows of a frame an actor may reach.

:func:`compile_access` turns the :class:`~crmcore.privacy.access.AccessFilter`
that a policy resolves to (for one actor, action and record type) into one
boolean polars expression over the ``owner``, ``team`` and ``id`` columns of a
frame such as the customers frame of :func:`~crmcore.adapters.frames.to_frame`.
It selects exactly the records :func:`crmcore.privacy.access.allows` allows and
the SQL filter of :mod:`crmcore.adapters.sql.access` selects: a missing owner
or team never matches (nulls count as false), the team hierarchy is already
expanded to a list of team ids.

May import: ``crmcore.privacy``, ``crmcore.domain``, ``crmcore.serialization``,
``crmcore.errors``; polars.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from crmcore.domain.activity import Activity
from crmcore.domain.customer import Customer
from crmcore.domain.order import Order
from crmcore.domain.survey import SurveyResponse
from crmcore.errors import InvalidValueError
from crmcore.privacy.access import (
    AccessFilter,
    AccessPolicy,
    Action,
    Actor,
    RecordType,
    access_filter,
    mask,
    masks_sensitive,
)
from crmcore.serialization import dumps, loads

__all__ = ["access_expression", "compile_access", "filter_allowed", "filter_visible"]

_CLASSES: dict[RecordType, type[Any]] = {
    RecordType.CUSTOMER: Customer,
    RecordType.ORDER: Order,
    RecordType.ACTIVITY: Activity,
    RecordType.SURVEY_RESPONSE: SurveyResponse,
}


def compile_access(found: AccessFilter) -> pl.Expr:
    """Compile a resolved access filter to a polars expression (never null).

    >>> from crmcore.privacy.access import DEFAULT_POLICY, Actor, access_filter
    >>> rep = Actor(user="u1", roles="rep", shared={"customer": ["c3"]})
    >>> frame = pl.DataFrame({"id": ["c1", "c2", "c3", "c4"], "owner": ["u1", "u2", "u2", None],
    ...                       "team": ["east", "east", None, None]})
    >>> expr = compile_access(access_filter(DEFAULT_POLICY, rep, "view", "customer"))
    >>> frame.filter(expr)["id"].to_list()
    ['c1', 'c3', 'c4']
    """
    if found.everything:
        return pl.lit(value=True)
    kind = found.record_type
    terms: list[pl.Expr] = []
    if kind.has_owner and found.owners:
        terms.append(pl.col("owner").is_in(sorted(found.owners)))
    if kind.has_team and found.teams:
        terms.append(pl.col("team").is_in(sorted(found.teams)))
    if kind.has_owner and found.unassigned:
        terms.append(pl.col("owner").is_null())
    if found.ids:
        terms.append(pl.col("id").is_in(sorted(found.ids)))
    if not terms:
        return pl.lit(value=False)
    return pl.any_horizontal([t.fill_null(value=False) for t in terms])


def access_expression(
    policy: AccessPolicy,
    actor: Actor,
    record_type: RecordType | str,
    *,
    action: Action | str = Action.VIEW,
) -> pl.Expr:
    """Return the polars expression of what ``actor`` may ``action`` among ``record_type``.

    Raises:
        InvalidValueError: If the action or record type is unknown, or the actor
            has a role the policy does not define.
    """
    return compile_access(access_filter(policy, actor, action, record_type))


def _needed(found: AccessFilter) -> list[str]:
    columns = ["id"]
    if found.record_type.has_owner:
        columns.append("owner")
    if found.record_type.has_team:
        columns.append("team")
    return columns


def filter_allowed(frame: pl.DataFrame | pl.LazyFrame, found: AccessFilter) -> pl.DataFrame:
    """Return the rows of ``frame`` that ``found`` matches, in their order.

    Raises:
        InvalidValueError: If ``frame`` lacks a column the filter reads
            (``id``, and ``owner`` / ``team`` for record types that carry them).
    """
    lazy = frame.lazy()
    present = set(lazy.collect_schema().names())
    missing = [c for c in _needed(found) if c not in present]
    if missing:
        raise InvalidValueError(
            "frame", sorted(present), f"an access filter on {found.record_type} needs {missing}"
        )
    return lazy.filter(compile_access(found)).collect()


def filter_visible(
    frame: pl.DataFrame | pl.LazyFrame,
    policy: AccessPolicy,
    actor: Actor,
    record_type: RecordType | str = RecordType.CUSTOMER,
    *,
    action: Action | str = Action.VIEW,
) -> pl.DataFrame:
    """Return the rows of ``frame`` (default: a customers frame) ``actor`` may ``action``.

    The typed columns of a frame are public or internal; the sensitive fields
    live in the ``document`` column, which is rewritten with masked snapshots
    for an actor who sees sensitive fields masked.

    Raises:
        InvalidValueError: As for :func:`access_expression` and :func:`filter_allowed`.
        PayloadError: If a ``document`` is not a valid record.
    """
    found = access_filter(policy, actor, action, record_type)
    allowed = filter_allowed(frame, found)
    if "document" not in allowed.columns or not masks_sensitive(policy, actor):
        return allowed
    cls = _CLASSES.get(found.record_type)
    if cls is None:
        raise InvalidValueError("record type", found.record_type.value, "no frame layout")
    documents = [
        dumps(mask(loads(text, cls), actor, policy))
        for text in allowed.get_column("document").to_list()
    ]
    return allowed.with_columns(pl.Series("document", documents, pl.String()))
