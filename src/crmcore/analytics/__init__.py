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

__all__: list[str] = []
