"""polars DataFrames for crmcore (extra ``frames``): records ↔ frames, rules → expressions.

- :func:`to_frame` / :func:`from_frame` — customers, orders, activities and
  survey answers as DataFrames and back (exactly, through the ``document``
  column).
- :func:`compile_to_polars` / :func:`select_ids` — a segment rule as a polars
  expression over a customers frame, with aggregates from the related frames;
  the same answers as in memory and in SQL.

pandas users convert with polars' interop (``frame.to_pandas()``,
``polars.from_pandas(df)``); crmcore does not import pandas.

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
    CUSTOMER_SCHEMA,
    ORDER_SCHEMA,
    SURVEY_SCHEMA,
    custom_json,
    from_frame,
    schema_of,
    to_frame,
)
from crmcore.adapters.frames.segments import FrameRule, compile_to_polars, select_ids

__all__ = [
    "ACTIVITY_SCHEMA",
    "CUSTOMER_SCHEMA",
    "ORDER_SCHEMA",
    "SURVEY_SCHEMA",
    "FrameRule",
    "compile_to_polars",
    "custom_json",
    "from_frame",
    "schema_of",
    "select_ids",
    "to_frame",
]
