"""The persistent index hashes each rule's keys without rule_keys' lookups: the same keys."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from crmcore.adapters.sql.match_index import MatchIndexSettings, _KeyPlan, _rule_hashes
from crmcore.matching import FEATURE_COLUMNS, BlockingRule, FeatureRow, block_on
from crmcore.matching.blocking import rule_keys

SETTINGS = MatchIndexSettings()

values = st.sampled_from(["", "a", "b", "张", "x\x1fy", "zichen64@163.com", "zcihen64@163.com"])
rows = st.builds(
    lambda columns, emails, phones: (tuple(columns), tuple(emails), tuple(phones)),
    st.lists(values, min_size=len(FEATURE_COLUMNS), max_size=len(FEATURE_COLUMNS)),
    st.lists(values.filter(bool), max_size=3, unique=True),
    st.lists(values.filter(bool), max_size=3, unique=True),
)
rules = st.lists(st.sampled_from(["email", "phone", *FEATURE_COLUMNS]), min_size=1, max_size=3).map(
    lambda columns: block_on(*columns, max_block_size=7)
) | st.just(block_on("email_typo"))  # a derived key (DERIVED_COLUMNS): names no other column


def _hashes(prefix: str, keys: list[str]) -> tuple[str, ...]:
    return tuple(hashlib.blake2b((prefix + k).encode(), digest_size=16).hexdigest() for k in keys)


@given(rows, st.lists(rules, max_size=3))
def test_rule_hashes_are_the_hashes_of_rule_keys(
    row: FeatureRow, extra: list[BlockingRule]
) -> None:
    settings = MatchIndexSettings(blocking_rules=(*SETTINGS.blocking_rules, *extra))
    plan = _KeyPlan.of(settings)
    for (rule, prefix), spec in zip(plan.rules, plan.specs, strict=True):
        assert _rule_hashes(spec, row) == _hashes(prefix, rule_keys(rule, row))
