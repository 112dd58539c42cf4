"""The names of the survivorship rules and of the survivor choice rules.

They live apart from the policy so that :mod:`crmcore.merge.record` can name
the rule behind each decision without importing the survivorship engine.

May import: nothing from crmcore; stdlib only.
"""

from __future__ import annotations

import enum

__all__ = ["SurvivorRule", "SurvivorshipRule"]


class SurvivorshipRule(enum.StrEnum):
    """How the merged value of one field is chosen (取值规则).

    Picking rules take the whole value of one customer (the *source*); empty
    values never win while some customer has one:

    - ``MOST_RECENT``: from the most recently updated customer;
    - ``OLDEST``: from the earliest created customer (first touch);
    - ``MOST_COMPLETE``: the value with the most filled-in parts, then the longest;
    - ``SOURCE_PRIORITY``: from the customer whose source channel ranks highest
      in the policy's ``source_priority``;
    - ``FURTHEST_STAGE``: the lifecycle stage furthest along the policy's ``stage_order``;
    - ``HIGHEST``: the highest tier, priority or credit rating;
    - ``SURVIVOR``: the survivor's own value, even when empty;
    - ``MANUAL``: a source chosen by a person on the plan (never in a policy).

    Combining rules keep the values of every customer:

    - ``UNION``: every contact point, tag, external id, contact or multi-choice
      value; for contact points the primary is the most recent customer's primary;
    - ``KEEP_BOTH_AS_SECONDARY``: like ``UNION`` for contact points, but the
      survivor's primary stays primary and the others are added as secondary;
    - ``SUM``: integer counters in custom fields are added up.
    """

    MOST_RECENT = "most_recent"
    OLDEST = "oldest"
    MOST_COMPLETE = "most_complete"
    SOURCE_PRIORITY = "source_priority"
    FURTHEST_STAGE = "furthest_stage"
    HIGHEST = "highest"
    SURVIVOR = "survivor"
    MANUAL = "manual"
    UNION = "union"
    KEEP_BOTH_AS_SECONDARY = "keep_both_as_secondary"
    SUM = "sum"


class SurvivorRule(enum.StrEnum):
    """Which of the duplicates keeps its id and becomes the survivor (主记录).

    Ties are broken by the smallest customer id, so the choice does not
    depend on the order the customers are given in.
    """

    OLDEST = "oldest"
    MOST_RECENT = "most_recent"
    MOST_COMPLETE = "most_complete"
    SOURCE_PRIORITY = "source_priority"
