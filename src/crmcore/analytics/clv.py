"""Predictive customer lifetime value: BG/NBD, Pareto/NBD and Gamma-Gamma.

The models are fitted by maximum likelihood on numpy/scipy from the usual
per-customer summary (see :func:`crmcore.analytics.summary.clv_summary`):

- ``frequency`` — repeat purchases (purchase days after the first);
- ``recency`` — time from the first to the last purchase;
- ``T`` — time from the first purchase to the end of the observation;
- ``monetary_value`` — mean value of the repeat purchases.

Time is in whatever unit the summary used (weeks or days); every parameter
that carries a unit (``alpha``, ``beta``, ``v``) is in that unit or currency.

:func:`fit_bg_nbd`, :func:`fit_pareto_nbd` and :func:`fit_gamma_gamma` return
frozen results (:class:`BgNbdFit`, :class:`ParetoNbdFit`,
:class:`GammaGammaFit`) whose ``params`` is a mapping by parameter name, with
the log-likelihood, standard errors, whether the optimiser converged and which
parameters ended at a bound. A fit that did not converge, or whose maximum is
at a bound (the data do not identify the model), raises
:class:`~crmcore.errors.ModelFitError`; ``strict=False`` returns it flagged
instead (``usable`` is then False). Fits are deterministic: fixed starting
point, no randomness.

How the optimisation works: customers with identical ``(frequency, recency,
T)`` are merged into one weighted row; time (and money, for Gamma-Gamma) is
divided by its mean so every parameter starts at 1; L-BFGS-B minimises the
negative log-likelihood in log-parameters inside the box 1e-6..1e6 (of the
rescaled parameters) with SLSQP, then L-BFGS-B restarts until the gradient
vanishes, with analytic gradients (numeric central differences for
Pareto/NBD, whose likelihood has a hypergeometric term). A parameter within a
factor 10 of that box is *at a bound*. Standard errors come from the observed
information (the Hessian of the negative log-likelihood, by finite
differences of the gradient) and the delta method; they are NaN when that
matrix is not positive definite.

>>> fit = fit_bg_nbd([0, 1, 2, 0, 3, 1, 0, 5], [0, 5, 20, 0, 30, 2, 0, 35],
...                  [40, 38, 39, 30, 40, 20, 10, 39], strict=False)
>>> sorted(fit.params)
['a', 'alpha', 'b', 'r']

May import: ``crmcore.errors``; attrs, numpy, scipy, polars.
"""

# ruff: noqa: N803  # `T` (a customer's age) is the name Fader, Hardie and lifetimes use; hosts pass it by keyword
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, ClassVar, TypeAlias, TypeVar

import attrs
import numpy as np
import numpy.typing as npt
import polars as pl
from scipy.optimize import minimize
from scipy.special import expit

from crmcore.analytics import _clv_likelihood as lik
from crmcore.errors import InvalidValueError, ModelFitError

__all__ = [
    "ArrayLike",
    "BgNbdFit",
    "GammaGammaFit",
    "HoldoutEvaluation",
    "ModelFit",
    "ParetoNbdFit",
    "bg_nbd_log_likelihood",
    "evaluate_holdout",
    "fit_bg_nbd",
    "fit_gamma_gamma",
    "fit_pareto_nbd",
    "gamma_gamma_log_likelihood",
    "pareto_nbd_log_likelihood",
]

ArrayLike: TypeAlias = "npt.ArrayLike | pl.Series"
"""A one-dimensional column of numbers: a list, a numpy array or a polars Series."""

Array: TypeAlias = npt.NDArray[np.float64]

_LOG_BOX = math.log(1e6)
"""Log-parameters (after rescaling) are kept within ±this value."""
_NEAR_BOUND = math.log(10.0)
"""A log-parameter this close to the box is reported as at a bound."""
_GRADIENT_TOLERANCE = 1e-5
"""Largest gradient (per customer, in log-parameters) accepted as converged."""
_ATTEMPTS = 4
"""L-BFGS-B runs (the first from the starting point, then restarts) before giving up."""
_MAX_EVALUATIONS = 600
"""Objective-and-gradient evaluations one fit may spend before it stops, unconverged.

Data that do not identify a model (a handful of customers, no overdispersion) leave
a likelihood that keeps rising slowly towards a limit at infinity; without a budget
the optimiser follows it for minutes. CDNOW needs about 60 evaluations per model.
"""


class _BudgetSpentError(Exception):
    """Raised inside the objective when a fit has spent :data:`_MAX_EVALUATIONS`."""


# --- input checks ---------------------------------------------------------------------


def _as_array(name: str, values: ArrayLike) -> Array:
    """Return ``values`` as a one-dimensional float64 array, or raise naming ``name``."""
    try:
        if isinstance(values, pl.Series):
            array = values.cast(pl.Float64).to_numpy()
        else:
            array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError, pl.exceptions.PolarsError) as exc:
        raise InvalidValueError(name, _preview(values), f"not numbers ({exc})") from None
    if array.ndim != 1:
        raise InvalidValueError(name, _preview(values), "expected a one-dimensional array")
    return np.ascontiguousarray(array, dtype=np.float64)


def _preview(values: object) -> object:
    text = repr(values)
    return text if len(text) <= 60 else text[:57] + "..."


def _require(name: str, array: Array, ok: npt.NDArray[np.bool_], reason: str) -> None:
    """Raise :class:`InvalidValueError` at the first index where ``ok`` is False."""
    if bool(ok.all()):
        return
    bad = np.flatnonzero(~ok)
    more = f" ({bad.size - 1:,} more)" if bad.size > 1 else ""
    index = int(bad[0])
    raise InvalidValueError(f"{name}[{index}]", float(array[index]), reason + more)


def _same_length(first: str, first_array: Array, **others: Array) -> None:
    for name, array in others.items():
        if array.size != first_array.size:
            raise InvalidValueError(
                name,
                f"{array.size} values",
                f"{first} has {first_array.size}; the arrays must have one value per customer",
            )


def _counts(name: str, values: ArrayLike) -> Array:
    array = _as_array(name, values)
    _require(name, array, np.isfinite(array), "must be a finite number")
    _require(name, array, array >= 0, "must not be negative")
    _require(name, array, array == np.floor(array), "must be a whole number of purchases")
    return array


def _summary_arrays(
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, *, allow_empty: bool = False
) -> tuple[Array, Array, Array]:
    """Check and return the (frequency, recency, T) arrays of a transaction model."""
    x = _counts("frequency", frequency)
    tx = _as_array("recency", recency)
    age = _as_array("T", T)
    _same_length("frequency", x, recency=tx, T=age)
    if x.size == 0 and not allow_empty:
        raise InvalidValueError("frequency", "[]", "no customers to fit")
    _require("recency", tx, np.isfinite(tx), "must be a finite number")
    _require("T", age, np.isfinite(age), "must be a finite number")
    _require("recency", tx, tx >= 0, "must not be negative")
    _require("recency", tx, tx <= age, "must not exceed T (the customer's age)")
    _require("recency", tx, (x > 0) | (tx == 0), "must be 0 when frequency is 0")
    return x, tx, age


def _horizon(t: ArrayLike | float, size: int | None = None) -> Array:
    if isinstance(t, pl.Series) or np.ndim(t) > 0:
        array = _as_array("t", t)
    else:
        array = _as_array("t", np.atleast_1d(np.asarray(t, dtype=np.float64)))
    _require("t", array, np.isfinite(array), "must be a finite number")
    _require("t", array, array >= 0, "must not be negative")
    if size is not None and array.size not in (1, size):
        raise InvalidValueError("t", f"{array.size} values", f"expected 1 or {size}")
    return array


# --- results --------------------------------------------------------------------------


def _frozen_mapping(values: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType({str(k): float(v) for k, v in values.items()})


@attrs.frozen(kw_only=True)
class ModelFit:
    """What every fitted model reports (the common part of the three results).

    Attributes:
        params: The estimates by parameter name, in the summary's units.
        standard_errors: The asymptotic standard error of each estimate (from the
            observed information and the delta method); NaN when the information
            matrix is singular or not positive definite, empty for a fit built by hand.
        log_likelihood: The maximised log-likelihood (NaN for a fit built by hand).
        customers: The number of customers fitted.
        converged: Whether the optimiser reached a maximum.
        message: The optimiser's own message.
        at_bound: The parameters at or near a bound of the parameter space.
        iterations: The optimiser's iterations.
    """

    PARAMETERS: ClassVar[tuple[str, ...]] = ()
    MODEL: ClassVar[str] = ""

    params: Mapping[str, float] = attrs.field(
        converter=_frozen_mapping, hash=False, repr=lambda m: repr(dict(m))
    )
    standard_errors: Mapping[str, float] = attrs.field(
        factory=dict, converter=_frozen_mapping, hash=False, repr=lambda m: repr(dict(m))
    )
    log_likelihood: float = math.nan
    customers: int = 0
    converged: bool = False
    message: str = "not fitted: parameters given by hand"
    at_bound: tuple[str, ...] = ()
    iterations: int = 0

    def __attrs_post_init__(self) -> None:
        if tuple(sorted(self.params)) != tuple(sorted(self.PARAMETERS)):
            raise InvalidValueError(
                "params", sorted(self.params), f"{self.MODEL} needs {list(self.PARAMETERS)}"
            )
        for name, value in self.params.items():
            if not (math.isfinite(value) and value > 0):
                raise InvalidValueError(f"params[{name!r}]", value, "must be positive")

    @property
    def usable(self) -> bool:
        """Whether the fit converged to an interior maximum (not flagged)."""
        return self.converged and not self.at_bound

    def _theta(self) -> Array:
        return np.array([self.params[name] for name in self.PARAMETERS], dtype=np.float64)


class _TransactionModel(ModelFit):
    """The methods BG/NBD and Pareto/NBD share (private base)."""

    def _log_odds_dead(self, x: Array, tx: Array, T: Array) -> Array:
        raise NotImplementedError

    def _expected(
        self, x: Array, tx: Array, T: Array, t: Array, *, new_customer: bool = False
    ) -> Array:
        raise NotImplementedError

    def probability_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> Array:
        """Return each customer's probability of being alive at the end of observation.

        Raises:
            InvalidValueError: If an array is invalid (naming it and the index).
        """
        x, tx, age = _summary_arrays(frequency, recency, T, allow_empty=True)
        return np.asarray(expit(-self._log_odds_dead(x, tx, age)), dtype=np.float64)

    def expected_purchases(
        self, t: ArrayLike | float, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> Array:
        """Return each customer's expected purchases in the next ``t`` time units.

        Args:
            t: The horizon: one value, or one per customer.
            frequency: Repeat purchases in the observation.
            recency: Time from the first to the last purchase.
            T: Time from the first purchase to the end of the observation.

        Raises:
            InvalidValueError: If an array is invalid (naming it and the index).
        """
        x, tx, age = _summary_arrays(frequency, recency, T, allow_empty=True)
        horizon = _horizon(t, x.size)
        return self._expected(x, tx, age, np.broadcast_to(horizon, x.shape).copy())

    def expected_purchases_new_customer(self, t: ArrayLike | float) -> Array:
        """Return the expected purchases of a new customer in ``t`` time units (each ``t``).

        Raises:
            InvalidValueError: If a horizon is negative or not a number.
        """
        horizon = _horizon(t)
        zeros = np.zeros_like(horizon)
        return self._expected(zeros, zeros, zeros, horizon, new_customer=True)

    def predicted_clv(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        monetary_value: ArrayLike,
        *,
        spend: GammaGammaFit,
        periods: int,
        period_length: float,
        discount_rate: float,
    ) -> Array:
        """Return each customer's discounted value over the next ``periods`` periods.

        CLV = Σ_{i=1..periods} spend × (E[Y(i·L)] − E[Y((i−1)·L)]) / (1 + d)^i, where
        E[Y(t)] is :meth:`expected_purchases`, L is ``period_length`` and spend is
        ``spend.expected_spend`` (the Gamma-Gamma conditional expected value of a
        purchase). With a weekly summary, a month is ``period_length=30 / 7``.

        Args:
            frequency: Repeat purchases in the observation.
            recency: Time from the first to the last purchase.
            T: Time from the first purchase to the end of the observation.
            monetary_value: Mean value of the repeat purchases.
            spend: The fitted Gamma-Gamma model.
            periods: The number of discount periods (e.g. 12 months).
            period_length: One period, in the summary's time unit.
            discount_rate: The discount rate per period (0.01 = 1 %).

        Raises:
            InvalidValueError: If an array or argument is invalid.
        """
        if isinstance(periods, bool) or not isinstance(periods, int) or periods < 1:
            raise InvalidValueError("periods", periods, "must be a positive whole number")
        if not (math.isfinite(period_length) and period_length > 0):
            raise InvalidValueError("period_length", period_length, "must be positive")
        if not (math.isfinite(discount_rate) and discount_rate > -1):
            raise InvalidValueError("discount_rate", discount_rate, "must be above -1")
        x, tx, age = _summary_arrays(frequency, recency, T, allow_empty=True)
        value = spend.expected_spend(frequency, monetary_value)
        _same_length("frequency", x, monetary_value=value)
        cumulative = np.zeros(x.size)
        clv = np.zeros(x.size)
        for i in range(1, periods + 1):
            now = self._expected(x, tx, age, np.full(x.size, i * period_length))
            clv += (now - cumulative) / (1.0 + discount_rate) ** i
            cumulative = now
        return np.asarray(clv * value, dtype=np.float64)


@attrs.frozen(kw_only=True)
class BgNbdFit(_TransactionModel):
    """A fitted BG/NBD model (Fader, Hardie and Lee 2005): ``r, alpha, a, b``.

    Purchases follow a Poisson process with a gamma(r, alpha) rate; after each
    purchase a customer drops out with a beta(a, b) probability.

    >>> fit = BgNbdFit(params={"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    >>> fit.probability_alive([0, 2], [0, 30.43], [38.86, 38.86]).round(3).tolist()
    [1.0, 0.727]
    """

    PARAMETERS: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    MODEL: ClassVar[str] = "BG/NBD"

    def _log_odds_dead(self, x: Array, tx: Array, T: Array) -> Array:
        return lik.bg_nbd_log_odds_dead(self._theta(), x, tx, T)

    def _expected(
        self, x: Array, tx: Array, T: Array, t: Array, *, new_customer: bool = False
    ) -> Array:
        return lik.bg_nbd_expected(self._theta(), x, tx, T, t, new_customer=new_customer)


@attrs.frozen(kw_only=True)
class ParetoNbdFit(_TransactionModel):
    """A fitted Pareto/NBD model (Schmittlein, Morrison and Colombo 1987): ``r, alpha, s, beta``.

    Purchases follow a Poisson process with a gamma(r, alpha) rate; each
    customer's lifetime is exponential with a gamma(s, beta) rate.

    >>> fit = ParetoNbdFit(params={"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669})
    >>> fit.expected_purchases_new_customer([0, 39]).round(3).tolist()
    [0.0, 1.213]
    """

    PARAMETERS: ClassVar[tuple[str, ...]] = ("r", "alpha", "s", "beta")
    MODEL: ClassVar[str] = "Pareto/NBD"

    def _log_odds_dead(self, x: Array, tx: Array, T: Array) -> Array:
        return lik.pareto_nbd_log_odds_dead(self._theta(), x, tx, T)

    def _expected(
        self, x: Array, tx: Array, T: Array, t: Array, *, new_customer: bool = False
    ) -> Array:
        return lik.pareto_nbd_expected(self._theta(), x, tx, T, t, new_customer=new_customer)


def _spend_arrays(frequency: ArrayLike, monetary_value: ArrayLike) -> tuple[Array, Array]:
    x = _counts("frequency", frequency)
    z = _as_array("monetary_value", monetary_value)
    _same_length("frequency", x, monetary_value=z)
    _require("monetary_value", z, np.isfinite(z), "must be a finite number")
    _require("monetary_value", z, z >= 0, "must not be negative")
    return x, z


@attrs.frozen(kw_only=True)
class GammaGammaFit(ModelFit):
    """A fitted Gamma-Gamma model of spend per purchase (Fader and Hardie 2013): ``p, q, v``.

    Each purchase's value is gamma(p, ν) distributed; ν varies across customers
    as gamma(q, v). ``v`` is in the currency of the spend.

    >>> fit = GammaGammaFit(params={"p": 6.25, "q": 3.74, "v": 15.44})
    >>> fit.expected_spend([0, 2], [0.0, 22.35]).round(2).tolist()
    [35.22, 24.66]
    """

    PARAMETERS: ClassVar[tuple[str, ...]] = ("p", "q", "v")
    MODEL: ClassVar[str] = "Gamma-Gamma"

    def expected_spend(self, frequency: ArrayLike, monetary_value: ArrayLike) -> Array:
        """Return each customer's expected value of a purchase given their history.

        E[Z | x, z̄] = p (v + x z̄) / (p x + q − 1): a customer without repeat
        purchases gets the population mean p v / (q − 1).

        Raises:
            InvalidValueError: If an array is invalid, or if q <= 1 (the mean spend
                of the population is then infinite).
        """
        p, q, v = self._theta()
        if q <= 1:
            raise InvalidValueError("q", float(q), "the expected spend is infinite when q <= 1")
        x, z = _spend_arrays(frequency, monetary_value)
        z = np.where(x > 0, z, 0.0)
        return np.asarray(p * (v + x * z) / (p * x + q - 1.0), dtype=np.float64)


# --- fitting --------------------------------------------------------------------------

Objective: TypeAlias = Callable[[Array], tuple[float, Array]]


def _numeric_gradient(function: Callable[[Array], float], step: float = 1e-5) -> Objective:
    def with_gradient(point: Array) -> tuple[float, Array]:
        value = function(point)
        gradient = np.empty_like(point)
        for i in range(point.size):
            shift = np.zeros_like(point)
            shift[i] = step
            gradient[i] = (function(point + shift) - function(point - shift)) / (2 * step)
        return value, gradient

    return with_gradient


def _hessian(objective: Objective, point: Array, step: float = 1e-4) -> Array:
    """Return the symmetric finite-difference Hessian of ``objective`` (from its gradient)."""
    k = point.size
    hessian = np.empty((k, k))
    for i in range(k):
        shift = np.zeros(k)
        shift[i] = step
        hessian[i] = (objective(point + shift)[1] - objective(point - shift)[1]) / (2 * step)
    return np.asarray((hessian + hessian.T) / 2, dtype=np.float64)


F = TypeVar("F", bound=ModelFit)


@attrs.frozen
class _Optimum:
    log_params: Array
    converged: bool
    message: str
    iterations: int
    at_bound: tuple[str, ...]
    log_standard_errors: Array


def _minimize_once(
    mean: Callable[[Array], tuple[float, Array]],
    point: Array,
    bounds: list[tuple[float, float]],
    *,
    first: bool,
) -> Any:
    """One optimiser run: SLSQP first (few iterations, little work each), then L-BFGS-B."""
    if first:
        return minimize(
            mean,
            point,
            jac=True,
            method="SLSQP",
            bounds=bounds,
            options={"maxiter": 1000, "ftol": 1e-15},
        )
    return minimize(
        mean,
        point,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": 1000, "ftol": 1e-15, "gtol": 1e-9},
    )


def _log_standard_errors(objective: Objective, point: Array) -> Array:
    """Standard errors of the log-parameters from the Hessian (NaN where it is not definite)."""
    errors = np.full(point.size, np.nan)
    hessian = _hessian(objective, point)
    if np.all(np.isfinite(hessian)):
        try:
            lower = np.linalg.cholesky(hessian)
        except np.linalg.LinAlgError:
            return errors
        inverse = np.linalg.inv(lower)
        errors = np.sqrt(np.sum(inverse**2, axis=0))
    return errors


def _optimise(names: tuple[str, ...], objective: Objective, weight: float) -> _Optimum:
    """Minimise ``objective`` (a weighted total) from 0 in the log box; check the result."""
    spent = 0
    best: tuple[float, Array] = (math.inf, np.zeros(len(names)))

    def mean(point: Array) -> tuple[float, Array]:
        nonlocal spent, best
        spent += 1
        if spent > _MAX_EVALUATIONS:
            raise _BudgetSpentError
        value, gradient = objective(point)
        if not math.isfinite(value):
            return math.inf, np.zeros_like(point)
        if value < best[0]:
            best = (value, np.array(point, dtype=np.float64))
        return value / weight, gradient / weight

    bounds = [(-_LOG_BOX, _LOG_BOX)] * len(names)
    iterations = 0
    point = np.zeros(len(names))
    converged = False
    message = "not started"
    with np.errstate(all="ignore"):
        for attempt in range(_ATTEMPTS):
            try:
                result = _minimize_once(mean, point, bounds, first=attempt == 0)
                iterations += int(result.nit)
                message = str(result.message)
                candidate = np.asarray(result.x, dtype=np.float64)
                value, gradient = mean(candidate)
            except _BudgetSpentError:
                if math.isfinite(best[0]):
                    point = best[1]
                converged = False
                message = (
                    f"stopped after {_MAX_EVALUATIONS} likelihood evaluations without "
                    "converging: the likelihood is nearly flat (too few customers or "
                    "repeat purchases to identify the model?)"
                )
                break
            if not math.isfinite(value):
                break
            point = candidate
            interior = np.abs(point) < _LOG_BOX - 1e-9
            converged = bool(np.all(np.abs(gradient[interior]) <= _GRADIENT_TOLERANCE))
            if converged:
                break
        at_bound = tuple(
            n for n, p in zip(names, point, strict=True) if abs(p) > _LOG_BOX - _NEAR_BOUND
        )
        errors = _log_standard_errors(objective, point)
    return _Optimum(
        log_params=point,
        converged=converged,
        message=message,
        iterations=iterations,
        at_bound=at_bound,
        log_standard_errors=errors,
    )


def _finish(
    cls: type[F],
    optimum: _Optimum,
    scales: Array,
    customers: int,
    log_likelihood: Callable[[Array], float],
    *,
    strict: bool,
) -> F:
    """Build the result in the caller's units; raise when ``strict`` and it is flagged."""
    theta = np.exp(optimum.log_params) * scales
    names = cls.PARAMETERS
    fit = cls(
        params=dict(zip(names, theta.tolist(), strict=True)),
        standard_errors=dict(
            zip(names, (theta * optimum.log_standard_errors).tolist(), strict=True)
        ),
        log_likelihood=log_likelihood(theta),
        customers=customers,
        converged=optimum.converged,
        message=optimum.message,
        at_bound=optimum.at_bound,
        iterations=optimum.iterations,
    )
    if strict and not fit.converged:
        raise ModelFitError(cls.MODEL, f"the optimiser did not converge ({fit.message})", fit)
    if strict and fit.at_bound:
        raise ModelFitError(
            cls.MODEL,
            f"{', '.join(fit.at_bound)} at a bound of the parameter space: the data do not "
            "identify the model (too few customers or repeat purchases?); "
            "pass strict=False to inspect the fit",
            fit,
        )
    return fit


def _compress(*columns: Array) -> tuple[list[Array], Array]:
    """Merge identical rows: return the distinct rows' columns and their counts.

    Sorted by :func:`numpy.lexsort` (the first column slowest), which is several times
    faster than ``numpy.unique(..., axis=0)`` on a hundred thousand rows.
    """
    order = np.lexsort(columns[::-1])
    ordered = [np.ascontiguousarray(c[order]) for c in columns]
    changed = np.zeros(order.size, dtype=bool)
    changed[0] = order.size > 0
    for c in ordered:
        changed[1:] |= c[1:] != c[:-1]
    first = np.flatnonzero(changed)
    counts = np.diff(np.append(first, order.size)).astype(np.float64)
    return [c[first] for c in ordered], counts


def _time_scale(T: Array) -> float:
    mean = float(T.mean())
    return mean if mean > 0 else 1.0


def fit_bg_nbd(
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, *, strict: bool = True
) -> BgNbdFit:
    """Fit the BG/NBD model by maximum likelihood.

    Args:
        frequency: Repeat purchases of each customer (whole numbers).
        recency: Time from each customer's first to last purchase (0 without repeats).
        T: Time from each customer's first purchase to the end of the observation.
        strict: Raise when the fit is flagged (default); False returns it flagged.

    Returns:
        The fit; ``params`` has ``r, alpha, a, b`` (``alpha`` in the time unit).

    Raises:
        InvalidValueError: If an array is invalid (naming it and the index): negative,
            not a number, fractional frequency, recency above T, recency without
            repeat purchases, arrays of different lengths, or no customers.
        ModelFitError: If ``strict`` and the optimiser did not converge or a parameter
            is at a bound.

    >>> fit = fit_bg_nbd([0, 1, 2, 0, 3, 1, 0, 5], [0, 5, 20, 0, 30, 2, 0, 35],
    ...                  [40, 38, 39, 30, 40, 20, 10, 39], strict=False)
    >>> fit.customers, fit.converged
    (8, True)
    """
    x, tx, age = _summary_arrays(frequency, recency, T)
    scale = _time_scale(age)
    (cx, ctx, cage), weights = _compress(x, tx / scale, age / scale)

    def objective(point: Array) -> tuple[float, Array]:
        return lik.bg_nbd_objective(point, cx, ctx, cage, weights)

    optimum = _optimise(BgNbdFit.PARAMETERS, objective, float(x.size))
    return _finish(
        BgNbdFit,
        optimum,
        np.array([1.0, scale, 1.0, 1.0]),
        x.size,
        lambda theta: float(lik.bg_nbd_rows(theta, x, tx, age).sum()),
        strict=strict,
    )


def fit_pareto_nbd(
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, *, strict: bool = True
) -> ParetoNbdFit:
    """Fit the Pareto/NBD model by maximum likelihood.

    The likelihood's hypergeometric term is evaluated in the form of Fader and
    Hardie's note (the argument kept in [0, 1) by switching on α ≥ β), in logs.

    Args:
        frequency: Repeat purchases of each customer (whole numbers).
        recency: Time from each customer's first to last purchase (0 without repeats).
        T: Time from each customer's first purchase to the end of the observation.
        strict: Raise when the fit is flagged (default); False returns it flagged.

    Returns:
        The fit; ``params`` has ``r, alpha, s, beta`` (``alpha``, ``beta`` in the time unit).

    Raises:
        InvalidValueError: If an array is invalid (naming it and the index).
        ModelFitError: If ``strict`` and the optimiser did not converge or a parameter
            is at a bound.

    500 customers drawn from the model itself (purchase rates Gamma(0.6, 5),
    dropout rates Gamma(0.6, 12), 39 weeks observed) give the purchase shape back:

    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> T = np.full(500, 39.0)
    >>> life = np.minimum(rng.exponential(1 / rng.gamma(0.6, 1 / 12.0, 500)), T)
    >>> x = rng.poisson(rng.gamma(0.6, 1 / 5.0, 500) * life)
    >>> tx = np.where(x > 0, life * rng.beta(np.maximum(x, 1), 1), 0.0)
    >>> fit = fit_pareto_nbd(x, tx, T)
    >>> fit.converged, round(fit.params["r"], 1), sorted(fit.params)
    (True, 0.5, ['alpha', 'beta', 'r', 's'])
    """
    x, tx, age = _summary_arrays(frequency, recency, T)
    scale = _time_scale(age)
    (cx, ctx, cage), weights = _compress(x, tx / scale, age / scale)

    def value(point: Array) -> float:
        return lik.pareto_nbd_objective(point, cx, ctx, cage, weights)

    optimum = _optimise(ParetoNbdFit.PARAMETERS, _numeric_gradient(value), float(x.size))
    return _finish(
        ParetoNbdFit,
        optimum,
        np.array([1.0, scale, 1.0, scale]),
        x.size,
        lambda theta: float(lik.pareto_nbd_rows(theta, x, tx, age).sum()),
        strict=strict,
    )


def fit_gamma_gamma(
    frequency: ArrayLike, monetary_value: ArrayLike, *, strict: bool = True
) -> GammaGammaFit:
    """Fit the Gamma-Gamma model of spend per purchase by maximum likelihood.

    Only repeat customers (``frequency > 0``) carry spend information, as in
    Fader and Hardie: customers with ``frequency == 0`` are skipped, so the
    summary's columns can be passed as they are. ``monetary_value`` is the mean
    value of the repeat purchases and must be positive for repeat customers.

    Args:
        frequency: Repeat purchases of each customer (whole numbers).
        monetary_value: Mean value of each customer's repeat purchases.
        strict: Raise when the fit is flagged (default); False returns it flagged.

    Returns:
        The fit; ``params`` has ``p, q, v`` (``v`` in the currency of the spend).

    Raises:
        InvalidValueError: If an array is invalid (naming it and the index), or if
            no customer has a repeat purchase.
        ModelFitError: If ``strict`` and the optimiser did not converge or a parameter
            is at a bound.

    Five repeat customers do not identify the model's three parameters:

    >>> fit_gamma_gamma([1, 2, 3, 1, 4, 0], [10.0, 12.5, 30.0, 8.0, 15.0, 0.0])
    Traceback (most recent call last):
    ...
    crmcore.errors.ModelFitError: Gamma-Gamma fit failed: p, v at a bound ...
    >>> fit = fit_gamma_gamma([1, 2, 3, 1, 4, 0], [10.0, 12.5, 30.0, 8.0, 15.0, 0.0],
    ...                       strict=False)
    >>> fit.customers, fit.at_bound, fit.usable
    (5, ('p', 'v'), False)
    """
    x, z = _spend_arrays(frequency, monetary_value)
    repeat = x > 0
    _require(
        "monetary_value",
        z,
        ~repeat | (z > 0),
        "must be positive for a customer with repeat purchases",
    )
    x, z = x[repeat], z[repeat]
    if x.size == 0:
        raise InvalidValueError("frequency", "no value above 0", "no repeat customers to fit")
    scale = float(z.mean())
    (cx, cz), weights = _compress(x, z / scale)

    def objective(point: Array) -> tuple[float, Array]:
        return lik.gamma_gamma_objective(point, cx, cz, weights)

    optimum = _optimise(GammaGammaFit.PARAMETERS, objective, float(x.size))
    return _finish(
        GammaGammaFit,
        optimum,
        np.array([1.0, 1.0, scale]),
        x.size,
        lambda theta: float(lik.gamma_gamma_rows(theta, x, z).sum()),
        strict=strict,
    )


# --- log-likelihoods at given parameters ----------------------------------------------


def _positive(**params: float) -> Array:
    for name, value in params.items():
        if not (math.isfinite(value) and value > 0):
            raise InvalidValueError(name, value, "must be positive")
    return np.array(list(params.values()), dtype=np.float64)


def bg_nbd_log_likelihood(
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    *,
    r: float,
    alpha: float,
    a: float,
    b: float,
) -> float:
    """Return the BG/NBD log-likelihood of a summary at the given parameters.

    Raises:
        InvalidValueError: If an array or parameter is invalid.

    >>> round(bg_nbd_log_likelihood([0], [0], [1], r=1, alpha=1, a=1, b=1), 6)
    -0.693147
    """
    theta = _positive(r=r, alpha=alpha, a=a, b=b)
    x, tx, age = _summary_arrays(frequency, recency, T)
    return float(lik.bg_nbd_rows(theta, x, tx, age).sum())


def pareto_nbd_log_likelihood(
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    *,
    r: float,
    alpha: float,
    s: float,
    beta: float,
) -> float:
    """Return the Pareto/NBD log-likelihood of a summary at the given parameters.

    Raises:
        InvalidValueError: If an array or parameter is invalid.

    >>> round(pareto_nbd_log_likelihood([0], [0], [1], r=1, alpha=1, s=1, beta=1), 6)
    -0.470004
    """
    theta = _positive(r=r, alpha=alpha, s=s, beta=beta)
    x, tx, age = _summary_arrays(frequency, recency, T)
    return float(lik.pareto_nbd_rows(theta, x, tx, age).sum())


def gamma_gamma_log_likelihood(
    frequency: ArrayLike, monetary_value: ArrayLike, *, p: float, q: float, v: float
) -> float:
    """Return the Gamma-Gamma log-likelihood of the repeat customers at the given parameters.

    Customers with ``frequency == 0`` are skipped, as in :func:`fit_gamma_gamma`.

    Raises:
        InvalidValueError: If an array or parameter is invalid.

    >>> round(gamma_gamma_log_likelihood([1], [1.0], p=1, q=1, v=1), 6)
    -1.386294
    """
    theta = _positive(p=p, q=q, v=v)
    x, z = _spend_arrays(frequency, monetary_value)
    repeat = x > 0
    _require(
        "monetary_value",
        z,
        ~repeat | (z > 0),
        "must be positive for a customer with repeat purchases",
    )
    return float(lik.gamma_gamma_rows(theta, x[repeat], z[repeat]).sum())


# --- holdout --------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class HoldoutEvaluation:
    """How well a transaction model predicted the holdout period's purchases.

    Errors are per customer, in purchases: mean absolute error (MAE) and root
    mean squared error (RMSE) of the model, of the *zero* baseline (nobody buys
    again) and of the *naive-rate* baseline (each customer keeps buying at their
    calibration rate, ``frequency / T`` per time unit; 0 when ``T`` is 0).

    Attributes:
        customers: The customers evaluated.
        actual_total: Purchases in the holdout period, all customers together.
        predicted_total: The model's expected total.
        model_mae: The model's mean absolute error.
        model_rmse: The model's root mean squared error.
        zero_mae: The zero baseline's mean absolute error.
        zero_rmse: The zero baseline's root mean squared error.
        naive_mae: The naive-rate baseline's mean absolute error.
        naive_rmse: The naive-rate baseline's root mean squared error.
    """

    customers: int
    actual_total: float
    predicted_total: float
    model_mae: float
    model_rmse: float
    zero_mae: float
    zero_rmse: float
    naive_mae: float
    naive_rmse: float

    @property
    def beats_baselines(self) -> bool:
        """Whether the model's RMSE is below both baselines'."""
        return self.model_rmse < min(self.zero_rmse, self.naive_rmse)


def evaluate_holdout(
    fit: BgNbdFit | ParetoNbdFit,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    *,
    actual: ArrayLike,
    duration: ArrayLike | float,
) -> HoldoutEvaluation:
    """Compare a model's predicted holdout purchases with the actual ones and two baselines.

    The arrays are the calibration summary and the holdout purchases of the
    same customers, e.g. the ``frequency_cal, recency_cal, T_cal,
    frequency_holdout, duration_holdout`` columns of
    :func:`crmcore.analytics.summary.calibration_and_holdout`.

    Args:
        fit: A fitted BG/NBD or Pareto/NBD model (on the calibration summary).
        frequency: Calibration repeat purchases.
        recency: Calibration recency.
        T: Calibration age.
        actual: Purchases in the holdout period.
        duration: The holdout period's length (one value, or one per customer).

    Raises:
        InvalidValueError: If an array is invalid (naming it and the index).

    >>> fit = BgNbdFit(params={"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    >>> ev = evaluate_holdout(fit, [0, 2], [0, 30.43], [38.86, 38.86], actual=[0, 1],
    ...                       duration=39)
    >>> ev.customers, ev.zero_mae
    (2, 0.5)
    """
    x, tx, age = _summary_arrays(frequency, recency, T)
    observed = _counts("actual", actual)
    _same_length("frequency", x, actual=observed)
    horizon = np.broadcast_to(_horizon(duration, x.size), x.shape).copy()
    predicted = fit.expected_purchases(horizon, x, tx, age)
    with np.errstate(divide="ignore", invalid="ignore"):
        naive = np.where(age > 0, x / age, 0.0) * horizon

    def mae(guess: Array) -> float:
        return float(np.mean(np.abs(guess - observed)))

    def rmse(guess: Array) -> float:
        return float(np.sqrt(np.mean((guess - observed) ** 2)))

    zero = np.zeros_like(observed)
    return HoldoutEvaluation(
        customers=int(x.size),
        actual_total=float(observed.sum()),
        predicted_total=float(predicted.sum()),
        model_mae=mae(predicted),
        model_rmse=rmse(predicted),
        zero_mae=mae(zero),
        zero_rmse=rmse(zero),
        naive_mae=mae(naive),
        naive_rmse=rmse(naive),
    )
