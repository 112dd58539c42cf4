"""polars DataFrames for crmcore (extra ``frames``): records ↔ frames, rules → expressions.

- :func:`to_frame` / :func:`from_frame` — every aggregate (customers, leads,
  opportunities, activities, cases, orders, survey answers, consents) as
  DataFrames with flat, typed columns and back (exactly, through the
  ``document`` column); custom fields as typed columns by a schema.
- :func:`events_frame` / :func:`stage_changes_frame` — domain events (the
  event history) as frames.
- :func:`compile_to_polars` / :func:`select_ids` — a segment rule as a polars
  expression over a customers frame, with aggregates from the related frames;
  the same answers as in memory and in SQL.

pandas users convert with polars' interop (``frame.to_pandas()``, which the
``frames`` extra's pandas and pyarrow support, and ``polars.from_pandas(df)``);
crmcore does not import pandas. Frames straight from SQL, without building
records: :func:`crmcore.adapters.sql.frames.read_frame`.

May import: ``crmcore.segments``, ``crmcore.serialization``, ``crmcore.domain``,
``crmcore.errors``, ``crmcore.clock``; polars.
"""

from crmcore.errors import MissingExtraError

try:
    import polars
except ModuleNotFoundError as exc:  # the extra is missing: say which one installs it
    if (exc.name or "").partition(".")[0] != "polars":
        raise
    raise MissingExtraError("frames", "crmcore.adapters.frames", "polars") from exc
else:
    del polars

from crmcore.adapters.frames.records import (
    ACTIVITY_SCHEMA,
    CASE_SCHEMA,
    CONSENT_SCHEMA,
    CUSTOMER_SCHEMA,
    EVENT_SCHEMA,
    LEAD_SCHEMA,
    OPPORTUNITY_SCHEMA,
    ORDER_SCHEMA,
    STAGE_CHANGE_SCHEMA,
    SURVEY_SCHEMA,
    custom_columns,
    custom_json,
    custom_schema_columns,
    events_frame,
    from_frame,
    schema_of,
    stage_changes_frame,
    to_frame,
)
from crmcore.adapters.frames.segments import (
    CONSENT_SPAN_SCHEMA,
    FrameRule,
    compile_to_polars,
    consents_frame,
    select_ids,
)

__all__ = [
    "ACTIVITY_SCHEMA",
    "CASE_SCHEMA",
    "CONSENT_SCHEMA",
    "CONSENT_SPAN_SCHEMA",
    "CUSTOMER_SCHEMA",
    "EVENT_SCHEMA",
    "LEAD_SCHEMA",
    "OPPORTUNITY_SCHEMA",
    "ORDER_SCHEMA",
    "STAGE_CHANGE_SCHEMA",
    "SURVEY_SCHEMA",
    "FrameRule",
    "compile_to_polars",
    "consents_frame",
    "custom_columns",
    "custom_json",
    "custom_schema_columns",
    "events_frame",
    "from_frame",
    "schema_of",
    "select_ids",
    "stage_changes_frame",
    "to_frame",
]
