"""Analytics for notebooks and managers (extra ``analytics``): KPIs, predictive CLV, charts.

Every KPI is a typed function over polars frames (see :mod:`crmcore.adapters.frames`)
and the event history; every result says its definition, period and scale. The CLV
models (BG/NBD, Pareto/NBD, Gamma-Gamma) are fitted by maximum likelihood on
numpy/scipy.

May import: ``crmcore.domain``, ``crmcore.lifecycle``, ``crmcore.segments``,
``crmcore.matching``, ``crmcore.errors``, ``crmcore.clock``; polars, numpy, scipy
(altair and vl-convert only to render a chart, extra ``charts``).
"""

from crmcore.errors import MissingExtraError

try:
    import polars
    import scipy
except ModuleNotFoundError as exc:  # the extra is missing: say which one installs it
    if (exc.name or "").partition(".")[0] not in {"polars", "scipy"}:
        raise
    raise MissingExtraError("analytics", "crmcore.analytics", exc.name or "") from exc
else:
    del polars, scipy


# --- exports (generated from each module's __all__) ---
from crmcore.analytics.clv import (
    ArrayLike,
    BgNbdFit,
    GammaGammaFit,
    HoldoutEvaluation,
    ModelFit,
    ParetoNbdFit,
    bg_nbd_log_likelihood,
    evaluate_holdout,
    fit_bg_nbd,
    fit_gamma_gamma,
    fit_pareto_nbd,
    gamma_gamma_log_likelihood,
    pareto_nbd_log_likelihood,
)
from crmcore.analytics.customers import (
    EnteredStage,
    NoPurchaseWithin,
    churn_rate,
    cohort_retention,
    customer_acquisition_cost,
    historical_clv,
    repeat_purchase_rate,
    retention_rate,
    stage_counts,
)
from crmcore.analytics.kpi import (
    BUCKETS,
    COUNT,
    DAYS,
    HOURS,
    MONEY,
    MONEY_PER_DAY,
    NPS_POINTS,
    RATIO,
    Kpi,
    Period,
    per_period,
)
from crmcore.analytics.quality import (
    COMPLETENESS_FIELDS,
    QualityCheck,
    QualityReport,
    QualityThresholds,
    completeness,
    duplicate_rate,
    freshness,
    quality_gate,
    validity,
)
from crmcore.analytics.sales import (
    FORECAST_CATEGORIES,
    FUNNEL_STAGES,
    STAGE_PROBABILITIES,
    sales_forecast,
    sales_velocity,
    stage_durations,
    stage_funnel,
    weighted_pipeline,
    win_rate,
)
from crmcore.analytics.service import (
    backlog,
    customer_effort_score,
    customer_satisfaction,
    first_response_time,
    net_promoter_score,
    reopen_rate,
    resolution_time,
    sla_attainment,
)
from crmcore.analytics.summary import (
    SUMMARY_SCHEMA,
    TimeUnit,
    calibration_and_holdout,
    clv_summary,
)

__all__ = [
    "BUCKETS",
    "COMPLETENESS_FIELDS",
    "COUNT",
    "DAYS",
    "FORECAST_CATEGORIES",
    "FUNNEL_STAGES",
    "HOURS",
    "MONEY",
    "MONEY_PER_DAY",
    "NPS_POINTS",
    "RATIO",
    "STAGE_PROBABILITIES",
    "SUMMARY_SCHEMA",
    "ArrayLike",
    "BgNbdFit",
    "EnteredStage",
    "GammaGammaFit",
    "HoldoutEvaluation",
    "Kpi",
    "ModelFit",
    "NoPurchaseWithin",
    "ParetoNbdFit",
    "Period",
    "QualityCheck",
    "QualityReport",
    "QualityThresholds",
    "TimeUnit",
    "backlog",
    "bg_nbd_log_likelihood",
    "calibration_and_holdout",
    "churn_rate",
    "clv_summary",
    "cohort_retention",
    "completeness",
    "customer_acquisition_cost",
    "customer_effort_score",
    "customer_satisfaction",
    "duplicate_rate",
    "evaluate_holdout",
    "first_response_time",
    "fit_bg_nbd",
    "fit_gamma_gamma",
    "fit_pareto_nbd",
    "freshness",
    "gamma_gamma_log_likelihood",
    "historical_clv",
    "net_promoter_score",
    "pareto_nbd_log_likelihood",
    "per_period",
    "quality_gate",
    "reopen_rate",
    "repeat_purchase_rate",
    "resolution_time",
    "retention_rate",
    "sales_forecast",
    "sales_velocity",
    "sla_attainment",
    "stage_counts",
    "stage_durations",
    "stage_funnel",
    "validity",
    "weighted_pipeline",
    "win_rate",
]
