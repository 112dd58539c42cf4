"""Data-quality KPIs (数据质量): completeness, validity, duplicate rate, freshness, and a gate.

Each KPI reads a ``customers`` frame (merged customers left out when the
frame has ``merged_into``). :func:`quality_gate` turns the manuals' "≥ 95 %
accurate" into a pass/fail :class:`QualityReport` a host can run after
every import, with configurable :class:`QualityThresholds`.

*Accuracy* here is validity: the share of filled contact values that parse
as crmcore value objects (:class:`~crmcore.domain.values.EmailAddress`,
:class:`~crmcore.domain.values.PhoneNumber`), the only accuracy a library
can check without a reference data set.

May import: ``crmcore.domain``, ``crmcore.matching``, ``crmcore.errors``,
``crmcore.clock``; attrs, pendulum, polars.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

import attrs
import pendulum
import polars as pl

from crmcore.analytics._frame import Kind, instant, ratio, ratio_expr, require
from crmcore.analytics.kpi import RATIO, Kpi
from crmcore.domain.normalize import normalize_emails, normalize_phones
from crmcore.errors import InvalidValueError, PayloadError, Problem
from crmcore.matching import MatchRecord, MatchSettings, dedupe

__all__ = [
    "COMPLETENESS_FIELDS",
    "QualityCheck",
    "QualityReport",
    "QualityThresholds",
    "completeness",
    "duplicate_rate",
    "freshness",
    "quality_gate",
    "validity",
]

COMPLETENESS_FIELDS: Final[tuple[str, ...]] = (
    "display_name",
    "tier",
    "lifecycle_stage",
    "source",
    "owner",
    "team",
    "country",
    "primary_email",
    "primary_phone",
    "company",
    "city",
)
"""The customer columns :func:`completeness` reports by default."""

ValueKind = Literal["email", "phone"]

_REGION = re.compile(r"[A-Za-z]{2}")


def _active(customers: object, columns: Mapping[str, Kind]) -> pl.DataFrame:
    frame = require(customers, "customers", columns)
    if "merged_into" in frame.schema:
        frame = frame.filter(pl.col("merged_into").is_null())
    return frame


def _filled(column: str, dtype: pl.DataType) -> pl.Expr:
    value = pl.col(column)
    if dtype == pl.String:
        return value.is_not_null() & (value.str.strip_chars() != "")
    if isinstance(dtype, pl.List):
        return value.is_not_null() & (value.list.len() > 0)
    return value.is_not_null()


def completeness(customers: pl.DataFrame, *, fields: Sequence[str] | None = None) -> Kpi:
    """Return the completeness (补全) of customer fields: filled values ÷ customers, per field.

    A value is filled when it is not null and, for text, not blank; for a
    list, not empty.

    Args:
        customers: The customers frame.
        fields: The columns to check (default :data:`COMPLETENESS_FIELDS`).

    Returns:
        ``table`` has ``field, filled, customers, completeness``; ``value`` is
        the share of filled cells over every field checked (``None`` with no
        customer).

    Raises:
        PayloadError: If a field is not a column of the frame.

    >>> import polars as pl
    >>> customers = pl.DataFrame({"display_name": ["王芳", "Li Na", " "],
    ...     "primary_email": ["a@example.com", None, None]})
    >>> k = completeness(customers, fields=["display_name", "primary_email"])
    >>> k.table.select("field", "completeness").rows()
    [('display_name', 0.666...), ('primary_email', 0.333...)]
    >>> str(k)
    'completeness: 0.5 (ratio 0–1; 3 / 6)'
    """
    names = list(fields) if fields is not None else list(COMPLETENESS_FIELDS)
    frame = _active(customers, dict.fromkeys(names, "any"))
    schema = frame.schema
    filled = frame.select([_filled(n, schema[n]).sum().cast(pl.Int64).alias(n) for n in names]).row(
        0
    )
    table = pl.DataFrame(
        {
            "field": names,
            "filled": list(filled),
            "customers": [frame.height] * len(names),
        },
        schema={"field": pl.String, "filled": pl.Int64, "customers": pl.Int64},
    ).with_columns(ratio_expr("filled", "customers").alias("completeness"))
    total_filled = int(sum(filled))
    cells = frame.height * len(names)
    return Kpi(
        name="completeness",
        definition=(
            "Filled values (not null, not blank, not an empty list) ÷ customers, per field; "
            "value: over every field checked."
        ),
        unit=RATIO,
        value=ratio(total_filled, cells),
        numerator=total_filled,
        denominator=cells,
        table=table,
    )


def _region(country: object) -> str | None:
    if isinstance(country, str) and _REGION.fullmatch(country.strip()):
        return country.strip().upper()
    return None


def _valid_mask(frame: pl.DataFrame, column: str, kind: ValueKind, region: str | None) -> pl.Series:
    values = frame[column]
    if kind == "email":
        unique = values.drop_nulls().unique().to_list()
        good = {
            raw
            for raw, out in zip(unique, normalize_emails(unique), strict=True)
            if isinstance(out, str)
        }
        return values.is_in(list(good))
    regions = (
        frame[region].map_elements(_region, return_dtype=pl.String)
        if region is not None and region in frame.schema
        else pl.Series([None] * frame.height, dtype=pl.String)
    )
    pairs = pl.DataFrame({"_v": values, "_r": regions}).with_row_index("_row")
    checked = pairs.filter(pl.col("_v").is_not_null())
    verdicts: list[pl.DataFrame] = []
    for (code,), group in checked.select("_v", "_r").unique().group_by("_r"):
        raws = group["_v"].to_list()
        region_code = code if isinstance(code, str) else None
        results = normalize_phones(raws, region_code)
        verdicts.append(
            pl.DataFrame(
                {
                    "_v": raws,
                    "_r": [region_code] * len(raws),
                    "_ok": [isinstance(r, tuple) for r in results],
                },
                schema={"_v": pl.String, "_r": pl.String, "_ok": pl.Boolean},
            )
        )
    if not verdicts:
        return pl.Series([False] * frame.height, dtype=pl.Boolean)
    joined = pairs.join(pl.concat(verdicts), on=["_v", "_r"], how="left", nulls_equal=True)
    return joined.sort("_row")["_ok"].fill_null(False)


def validity(
    customers: pl.DataFrame,
    *,
    fields: Mapping[str, ValueKind] | None = None,
    region_column: str | None = "country",
) -> Kpi:
    """Return the validity (accuracy) of contact values: values that parse ÷ filled values.

    A filled email is valid when :class:`~crmcore.domain.values.EmailAddress`
    accepts it, a filled phone when :class:`~crmcore.domain.values.PhoneNumber`
    does, read as national in the row's ``region_column`` (a two-letter
    country) or else as international. Each distinct value is checked once.

    Args:
        customers: The customers frame (raw string columns are fine).
        fields: Column → ``"email"`` or ``"phone"`` (default ``primary_email``
            and ``primary_phone``).
        region_column: The column giving each row's phone region, or ``None``.

    Returns:
        ``table`` has ``field, kind, filled, valid, validity``; ``value`` is
        valid ÷ filled over every field.

    Raises:
        PayloadError: If a field is missing or not a string column.
        InvalidValueError: If a kind is not ``"email"`` or ``"phone"``.

    >>> import polars as pl
    >>> customers = pl.DataFrame({"primary_email": ["li@example.com", "not-an-email", None],
    ...     "primary_phone": ["138 0013 8000", "+8613900139000", "12345"],
    ...     "country": ["CN", None, "CN"]})
    >>> k = validity(customers)
    >>> k.table.select("field", "filled", "valid").rows()
    [('primary_email', 2, 1), ('primary_phone', 3, 2)]
    >>> str(k)
    'validity: 0.6 (ratio 0–1; 3 / 5)'
    """
    kinds: dict[str, ValueKind] = (
        dict(fields) if fields is not None else {"primary_email": "email", "primary_phone": "phone"}
    )
    for column, kind in kinds.items():
        if kind not in ("email", "phone"):
            raise InvalidValueError(f"fields[{column!r}]", kind, "email or phone")
    columns: dict[str, Kind] = dict.fromkeys(kinds, "string")
    frame = _active(customers, columns)
    rows = []
    for column, kind in kinds.items():
        filled_mask = frame.select(_filled(column, pl.String()).alias("_f"))["_f"]
        checked = frame.filter(filled_mask)
        valid = (
            int(_valid_mask(checked, column, kind, region_column).sum()) if checked.height else 0
        )
        rows.append((column, kind, checked.height, valid))
    table = pl.DataFrame(
        rows,
        schema={"field": pl.String, "kind": pl.String, "filled": pl.Int64, "valid": pl.Int64},
        orient="row",
    ).with_columns(ratio_expr("valid", "filled").alias("validity"))
    filled = int(table["filled"].sum())
    valid = int(table["valid"].sum())
    return Kpi(
        name="validity",
        definition=(
            "Filled contact values that parse as crmcore value objects (EmailAddress, "
            "PhoneNumber) ÷ filled values."
        ),
        unit=RATIO,
        value=ratio(valid, filled),
        numerator=valid,
        denominator=filled,
        table=table,
    )


def _match_records(frame: pl.DataFrame) -> list[MatchRecord]:
    def text(column: str) -> pl.Expr:
        if column in frame.schema:
            return pl.col(column).cast(pl.String).fill_null("").alias(column)
        return pl.lit("", dtype=pl.String).alias(column)

    rows = frame.select(
        pl.col("id"),
        text("display_name"),
        text("primary_email"),
        text("primary_phone"),
        text("company"),
        text("city"),
        text("country"),
    ).iter_rows()
    return [
        MatchRecord(
            id=id_,
            full_name=name,
            emails=(email,) if email else (),
            phones=(phone,) if phone else (),
            company=company,
            city=city,
            country=country if _region(country) else "",
        )
        for id_, name, email, phone, company, city, country in rows
    ]


def _cluster_frame(clusters: pl.DataFrame | Mapping[str, str]) -> pl.DataFrame:
    if isinstance(clusters, pl.DataFrame):
        return require(clusters, "clusters", {"id": "string", "cluster_id": "string"}).select(
            "id", "cluster_id"
        )
    if not isinstance(clusters, Mapping):
        raise PayloadError("clusters", [Problem("$", "expected a DataFrame or a mapping")])
    return pl.DataFrame(
        {"id": [str(k) for k in clusters], "cluster_id": [str(v) for v in clusters.values()]},
        schema={"id": pl.String, "cluster_id": pl.String},
    )


def duplicate_rate(
    customers: pl.DataFrame,
    *,
    clusters: pl.DataFrame | Mapping[str, str] | None = None,
    settings: MatchSettings | None = None,
) -> Kpi:
    """Return the duplicate rate: customers in a duplicate cluster ÷ customers.

    Clusters are given (a frame ``id, cluster_id`` or a mapping id → cluster
    id, such as :meth:`crmcore.matching.DedupeResult.cluster_of`), or found by
    running :func:`crmcore.matching.dedupe` over the frame's ``display_name,
    primary_email, primary_phone, company, city, country`` (the columns that
    are present). A customer missing from given clusters is a singleton.

    Returns:
        ``table`` has ``cluster_size, clusters, customers``; ``numerator`` is
        the customers in clusters of two or more. The surplus (records to
        merge away) is customers − clusters.

    Raises:
        PayloadError: If a frame lacks a column or has the wrong dtype.
        ConfigurationError: If ``crmcore.matching`` runs and the ids are not unique.

    >>> import polars as pl
    >>> customers = pl.DataFrame({"id": ["a", "b", "c", "d"]})
    >>> str(duplicate_rate(customers, clusters={"a": "a", "b": "a", "c": "c", "d": "d"}))
    'duplicate rate: 0.5 (ratio 0–1; 2 / 4)'
    """
    frame = _active(customers, {"id": "string"})
    if clusters is None:
        result = dedupe(_match_records(frame), settings)
        assigned = _cluster_frame(result.cluster_of())
    else:
        assigned = _cluster_frame(clusters)
    members = (
        frame.select("id")
        .join(assigned, on="id", how="left")
        .with_columns(pl.coalesce("cluster_id", "id").alias("cluster_id"))
    )
    sizes = members.group_by("cluster_id").agg(pl.len().cast(pl.Int64).alias("cluster_size"))
    table = (
        sizes.group_by("cluster_size")
        .agg(pl.len().cast(pl.Int64).alias("clusters"))
        .with_columns((pl.col("cluster_size") * pl.col("clusters")).alias("customers"))
        .sort("cluster_size")
    )
    duplicated = int(table.filter(pl.col("cluster_size") >= 2)["customers"].sum())
    return Kpi(
        name="duplicate rate",
        definition="Customers in a cluster of two or more duplicates ÷ customers.",
        unit=RATIO,
        value=ratio(duplicated, frame.height),
        numerator=duplicated,
        denominator=frame.height,
        table=table,
    )


def freshness(customers: pl.DataFrame, *, at: pendulum.DateTime, within_days: int = 365) -> Kpi:
    """Return the freshness of customer records: updated within ``within_days`` of ``at``.

    A record's age is ``at - updated_at`` in days; a record without
    ``updated_at`` is not fresh.

    Returns:
        ``value`` is the share of records updated in ``[at - within_days, at]``;
        ``table`` has the age distribution in days (``min, p50, p90, max, mean``)
        and ``stale``, the records older than ``within_days``.

    Raises:
        PayloadError: If the frame lacks ``updated_at`` or it is not a UTC datetime.
        InvalidValueError: If ``within_days`` is not a positive whole number.

    >>> import polars as pl, pendulum
    >>> at = pendulum.datetime(2026, 6, 1)
    >>> customers = pl.DataFrame({"updated_at": [at.subtract(days=d) for d in (1, 10, 400)]})
    >>> k = freshness(customers, at=at)
    >>> str(k), k.table["p50"][0]
    ('freshness: 0.666... (ratio 0–1; 2 / 3)', 10.0)
    """
    if isinstance(within_days, bool) or not isinstance(within_days, int) or within_days < 1:
        raise InvalidValueError("within_days", within_days, "a whole number of at least 1")
    frame = _active(customers, {"updated_at": "datetime"})
    moment = instant(at)
    ages = frame.select(
        ((pl.lit(moment) - pl.col("updated_at")).dt.total_microseconds() / 86_400_000_000).alias(
            "age"
        )
    )
    fresh = int(ages.filter(pl.col("age").is_between(0, within_days))["age"].len())
    table = ages.select(
        pl.col("age").min().alias("min"),
        pl.col("age").median().alias("p50"),
        pl.col("age").quantile(0.9, interpolation="linear").alias("p90"),
        pl.col("age").max().alias("max"),
        pl.col("age").mean().alias("mean"),
        (pl.col("age") > within_days).sum().cast(pl.Int64).alias("stale"),
    )
    return Kpi(
        name="freshness",
        definition=(
            f"Customer records updated in the {within_days} days up to the instant ÷ records."
        ),
        unit=RATIO,
        value=ratio(fresh, frame.height),
        numerator=fresh,
        denominator=frame.height,
        at=pendulum.instance(moment),
        table=table,
    )


def _share(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, float | int) or not 0 <= value <= 1:
        raise InvalidValueError(attribute.name, value, "a share between 0 and 1")


@attrs.frozen(kw_only=True)
class QualityThresholds:
    """What :func:`quality_gate` requires (``None`` skips a check).

    Attributes:
        required_fields: Columns that must each be filled for ``min_completeness``
            of customers.
        min_completeness: Minimum completeness of each required field.
        min_validity: Minimum share of filled contact values that are valid (the
            manuals' "≥ 95 % accurate").
        max_duplicate_rate: Maximum share of customers in duplicate clusters.
        min_fresh: Minimum share of records updated within ``fresh_within_days``.
        fresh_within_days: The freshness window.

    Raises:
        InvalidValueError: If a share is not between 0 and 1.
    """

    required_fields: tuple[str, ...] = ("display_name", "owner", "source")
    min_completeness: float | None = attrs.field(default=0.95, validator=_share)
    min_validity: float | None = attrs.field(default=0.95, validator=_share)
    max_duplicate_rate: float | None = attrs.field(default=0.05, validator=_share)
    min_fresh: float | None = attrs.field(default=None, validator=_share)
    fresh_within_days: int = 365


@attrs.frozen(kw_only=True)
class QualityCheck:
    """One check of a :class:`QualityReport`: a KPI against its threshold.

    An undefined KPI (no record to measure) does not pass.
    """

    name: str
    kpi: Kpi
    threshold: float
    comparison: Literal["≥", "≤"]

    @property
    def passed(self) -> bool:
        """Whether the KPI is defined and on the right side of the threshold."""
        value = self.kpi.value
        if value is None:
            return False
        if self.comparison == "≥":
            return float(value) >= self.threshold
        return float(value) <= self.threshold

    def __str__(self) -> str:
        value = "undefined" if self.kpi.value is None else f"{float(self.kpi.value):.1%}"
        verdict = "pass" if self.passed else "FAIL"
        return f"{verdict}  {self.name}: {value} (required {self.comparison} {self.threshold:.1%})"


@attrs.frozen(kw_only=True)
class QualityReport:
    """The outcome of :func:`quality_gate`: every check, and whether all passed."""

    at: pendulum.DateTime
    checks: tuple[QualityCheck, ...]

    @property
    def passed(self) -> bool:
        """Whether every check passed."""
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> tuple[QualityCheck, ...]:
        """The checks that did not pass."""
        return tuple(c for c in self.checks if not c.passed)

    def to_frame(self) -> pl.DataFrame:
        """Return the checks as a frame: ``check, value, comparison, threshold, passed``."""
        return pl.DataFrame(
            [
                (
                    c.name,
                    None if c.kpi.value is None else float(c.kpi.value),
                    c.comparison,
                    c.threshold,
                    c.passed,
                )
                for c in self.checks
            ],
            schema={
                "check": pl.String,
                "value": pl.Float64,
                "comparison": pl.String,
                "threshold": pl.Float64,
                "passed": pl.Boolean,
            },
            orient="row",
        )

    def __str__(self) -> str:
        head = "data quality: " + ("passed" if self.passed else f"{len(self.failures)} failed")
        return "\n".join([head, *(f"  {c}" for c in self.checks)])


def quality_gate(
    customers: pl.DataFrame,
    *,
    at: pendulum.DateTime,
    thresholds: QualityThresholds | None = None,
    clusters: pl.DataFrame | Mapping[str, str] | None = None,
    settings: MatchSettings | None = None,
) -> QualityReport:
    """Check customers against data-quality thresholds: the manuals' "≥ 95 % accurate" as a gate.

    Runs :func:`completeness` of each required field, :func:`validity` (accuracy)
    of the contact values present (``primary_email``, ``primary_phone``),
    :func:`duplicate_rate` and :func:`freshness`, each against its threshold
    (see :class:`QualityThresholds`; ``None`` skips a check).

    Raises:
        PayloadError: If the frame lacks a column a check needs.

    >>> import polars as pl, pendulum
    >>> at = pendulum.datetime(2026, 6, 1)
    >>> customers = pl.DataFrame({"id": ["a", "b"], "display_name": ["王芳", "Li Na"],
    ...     "owner": ["u1", None], "source": ["wechat", "event"],
    ...     "primary_email": ["wf@example.com", "li@example"], "updated_at": [at, at]})
    >>> report = quality_gate(customers, at=at, clusters={"a": "a", "b": "b"})
    >>> print(report)
    data quality: 2 failed
      pass  completeness of display_name: 100.0% (required ≥ 95.0%)
      FAIL  completeness of owner: 50.0% (required ≥ 95.0%)
      pass  completeness of source: 100.0% (required ≥ 95.0%)
      FAIL  validity (accuracy): 50.0% (required ≥ 95.0%)
      pass  duplicate rate: 0.0% (required ≤ 5.0%)
    """
    rules = thresholds if thresholds is not None else QualityThresholds()
    checks: list[QualityCheck] = []
    if rules.min_completeness is not None and rules.required_fields:
        filled = completeness(customers, fields=rules.required_fields)
        table = filled.table if filled.table is not None else pl.DataFrame()
        for field, n, total in table.select("field", "filled", "customers").iter_rows():
            checks.append(
                QualityCheck(
                    name=f"completeness of {field}",
                    kpi=attrs.evolve(
                        filled,
                        name=f"completeness of {field}",
                        value=ratio(n, total),
                        numerator=n,
                        denominator=total,
                        table=None,
                    ),
                    threshold=float(rules.min_completeness),
                    comparison="≥",
                )
            )
    if rules.min_validity is not None:
        contact: tuple[tuple[str, ValueKind], ...] = (
            ("primary_email", "email"),
            ("primary_phone", "phone"),
        )
        present = {
            c: k
            for c, k in contact
            if isinstance(customers, pl.DataFrame) and c in customers.schema
        }
        if present:
            checks.append(
                QualityCheck(
                    name="validity (accuracy)",
                    kpi=validity(customers, fields=present),
                    threshold=float(rules.min_validity),
                    comparison="≥",
                )
            )
    if rules.max_duplicate_rate is not None:
        checks.append(
            QualityCheck(
                name="duplicate rate",
                kpi=duplicate_rate(customers, clusters=clusters, settings=settings),
                threshold=float(rules.max_duplicate_rate),
                comparison="≤",
            )
        )
    if rules.min_fresh is not None:
        checks.append(
            QualityCheck(
                name=f"freshness ({rules.fresh_within_days} days)",
                kpi=freshness(customers, at=at, within_days=rules.fresh_within_days),
                threshold=float(rules.min_fresh),
                comparison="≥",
            )
        )
    return QualityReport(at=pendulum.instance(instant(at)), checks=tuple(checks))
