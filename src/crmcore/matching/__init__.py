"""Duplicate detection (去重): explainable, CJK-aware, batch and online.

Normalisation keys (:mod:`~crmcore.matching.key`), blocking
(:func:`block_on`), comparisons (:class:`ExactMatch`,
:class:`JaroWinklerAtThresholds` …), Fellegi–Sunter scoring with EM
(:class:`MatchModel`), clustering that does not chain, batch
:func:`dedupe` and the online :class:`MatchIndex` with duplicate rules.

May import: ``crmcore.domain``, ``crmcore.errors``; attrs, numpy,
rapidfuzz, pypinyin.
"""

from crmcore.matching.batch import (
    DEFAULT_THRESHOLD,
    DedupeResult,
    MatchSettings,
    Progress,
    dedupe,
)
from crmcore.matching.blocking import (
    DEFAULT_BLOCKING_RULES,
    BlockingRule,
    BlockingStats,
    block_on,
    candidate_pairs,
)
from crmcore.matching.cluster import cluster_pairs, connected_components
from crmcore.matching.comparison import (
    CompanyComparison,
    Comparison,
    DateOfBirthComparison,
    EmailComparison,
    ExactMatch,
    JaroWinklerAtThresholds,
    LevenshteinAtThresholds,
    MailboxComparison,
    NameComparison,
    PhoneComparison,
    TokenSetAtThresholds,
)
from crmcore.matching.feature import (
    FEATURE_COLUMNS,
    FeatureRow,
    FeatureTable,
    build_features,
    build_features_from_rows,
    feature_row,
)
from crmcore.matching.index import (
    DuplicateAction,
    DuplicateCheck,
    DuplicatePolicy,
    MatchIndex,
    check_batch,
    rank_candidates,
)
from crmcore.matching.key import (
    KeyOptions,
    NameKey,
    city_key,
    company_key,
    company_keys,
    date_key,
    email_key,
    name_key,
    phone_key,
    postcode_key,
)
from crmcore.matching.model import (
    DEFAULT_COMPARISONS,
    DEFAULT_OVERLAPS,
    DEFAULT_RULES,
    ComparisonWeights,
    Contribution,
    DeterministicRule,
    MatchModel,
    Overlap,
    ScoredPair,
    compare_pairs,
    comparison_columns,
    contact_holders,
    distinct_names,
    estimate_model,
    estimate_u,
)
from crmcore.matching.nickname import NICKNAMES, canonical_given_name
from crmcore.matching.record import FIELD_ALIASES, MatchRecord, recognise_columns
from crmcore.matching.workers import StartMethod

__all__ = [
    "DEFAULT_BLOCKING_RULES",
    "DEFAULT_COMPARISONS",
    "DEFAULT_OVERLAPS",
    "DEFAULT_RULES",
    "DEFAULT_THRESHOLD",
    "FEATURE_COLUMNS",
    "FIELD_ALIASES",
    "NICKNAMES",
    "BlockingRule",
    "BlockingStats",
    "CompanyComparison",
    "Comparison",
    "ComparisonWeights",
    "Contribution",
    "DateOfBirthComparison",
    "DedupeResult",
    "DeterministicRule",
    "DuplicateAction",
    "DuplicateCheck",
    "DuplicatePolicy",
    "EmailComparison",
    "ExactMatch",
    "FeatureRow",
    "FeatureTable",
    "JaroWinklerAtThresholds",
    "KeyOptions",
    "LevenshteinAtThresholds",
    "MailboxComparison",
    "MatchIndex",
    "MatchModel",
    "MatchRecord",
    "MatchSettings",
    "NameComparison",
    "NameKey",
    "Overlap",
    "PhoneComparison",
    "Progress",
    "ScoredPair",
    "StartMethod",
    "TokenSetAtThresholds",
    "block_on",
    "build_features",
    "build_features_from_rows",
    "candidate_pairs",
    "canonical_given_name",
    "check_batch",
    "city_key",
    "cluster_pairs",
    "company_key",
    "company_keys",
    "compare_pairs",
    "comparison_columns",
    "connected_components",
    "contact_holders",
    "date_key",
    "dedupe",
    "distinct_names",
    "email_key",
    "estimate_model",
    "estimate_u",
    "feature_row",
    "name_key",
    "phone_key",
    "postcode_key",
    "rank_candidates",
    "recognise_columns",
]
