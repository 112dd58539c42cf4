"""Log-likelihoods of the CLV models and the special functions they need (private).

Everything here works on float64 numpy arrays that :mod:`crmcore.analytics.clv`
has already checked: ``x`` repeat purchases, ``tx`` recency, ``age`` age, ``w`` row
weights (the number of customers sharing a row once identical rows are merged).
Parameters are natural (positive) values; the objective functions take their
logarithms, which is the space the optimiser works in.

Sources: Fader, Hardie and Lee, "Counting Your Customers the Easy Way: An
Alternative to the Pareto/NBD Model" (2005) for BG/NBD; Fader and Hardie, "A
Note on Deriving the Pareto/NBD Model and Related Expressions" (2005) for
Pareto/NBD; Fader and Hardie, "The Gamma-Gamma Model of Monetary Value" (2013).

May import: numpy, scipy.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from scipy.special import digamma, expit, gammaln, hyp2f1, roots_jacobi

Array = npt.NDArray[np.float64]


_SERIES_TERMS = 1 << 15
"""Most terms :func:`log_hyp2f1_series` adds before it gives up (NaN)."""

_FIRST_CHUNK = 64
_LAST_CHUNK = 1 << 14


def log_hyp2f1_series(a: Array, b: Array, c: Array, z: Array) -> Array:
    """Return log 2F1(a, b; c; z) for a, b, c > 0 and 0 <= z < 1 by summing its series in logs.

    Every term is positive, so the sum is accurate. The terms are added in chunks
    (64 first, doubling up to 16,384), each chunk one numpy cumulative sum over all
    unfinished rows, so the tens of thousands of terms that z close to 1 needs cost
    milliseconds; this is the fallback where scipy's ``hyp2f1`` returns NaN or
    infinity (large c with z close to 1).

    >>> import numpy as np
    >>> from scipy.special import hyp2f1
    >>> z = np.array([0.0, 0.5, 0.999])
    >>> got = np.exp(log_hyp2f1_series(np.ones(3), np.full(3, 2.5), np.full(3, 4.0), z))
    >>> bool(np.allclose(got, hyp2f1(1.0, 2.5, 4.0, z), rtol=1e-12))
    True
    """
    a, b, c, z = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, c, z)))
    shape = a.shape
    a, b, c, z = (np.ravel(v) for v in (a, b, c, z))
    result = np.full(a.shape, np.nan)
    result[z == 0] = 0.0
    active = np.flatnonzero(z > 0)
    log_sum = np.zeros(active.size)
    log_term = np.zeros(active.size)
    start, chunk = 0, _FIRST_CHUNK
    with np.errstate(divide="ignore", invalid="ignore"):
        while active.size and start < _SERIES_TERMS:
            n = np.arange(start, start + chunk, dtype=np.float64)[None, :]
            ratios = (
                np.log(a[active, None] + n)
                + np.log(b[active, None] + n)
                - np.log(c[active, None] + n)
                - np.log(n + 1.0)
                + np.log(z[active, None])
            )
            terms = log_term[:, None] + np.cumsum(ratios, axis=1)
            peak = terms.max(axis=1)
            chunk_sum = peak + np.log(np.exp(terms - peak[:, None]).sum(axis=1))
            log_sum = np.logaddexp(log_sum, chunk_sum)
            log_term = terms[:, -1]
            start += chunk
            chunk = min(2 * chunk, _LAST_CHUNK)
            # past the largest term the next ratios stay below `bound` < 1: the tail is
            # a geometric series at most term * bound / (1 - bound)
            after = float(start)
            bound = z[active] * np.maximum(
                1.0, (a[active] + after) * (b[active] + after) / ((c[active] + after) * (after + 1))
            )
            tail = log_term + np.log(bound) - np.log1p(-bound)
            done = (bound < 1) & (tail < log_sum - 36.0)
            result[active[done]] = log_sum[done]
            keep = ~done
            active, log_sum, log_term = active[keep], log_sum[keep], log_term[keep]
    return result.reshape(shape)


def log_hyp2f1(a: Array | float, b: Array | float, c: Array | float, z: Array) -> Array:
    """Return log 2F1(a, b; c; z) for a, b, c > 0 and 0 <= z < 1.

    scipy's ``hyp2f1`` where it returns a finite positive value, the series
    (:func:`log_hyp2f1_series`) where it does not.
    """
    with np.errstate(all="ignore"):
        value = np.asarray(hyp2f1(a, b, c, z), dtype=np.float64)
        result = np.log(value)
    bad = ~(np.isfinite(value) & (value > 0))
    if bad.any():
        shape = result.shape
        a_, b_, c_, z_ = (
            np.broadcast_to(np.asarray(v, dtype=np.float64), shape) for v in (a, b, c, z)
        )
        result = result.copy()
        result[bad] = log_hyp2f1_series(a_[bad], b_[bad], c_[bad], z_[bad])
    return result


def log_hyp2f1_a_a1(a: Array, b: Array | float, z: Array) -> Array:
    """Return log 2F1(a, b; a + 1; z) for a, b > 0 and 0 <= z < 1 without overflow.

    Euler's transformation gives 2F1(a, b; a+1; z) = (1-z)^(1-b) 2F1(1, a+1-b; a+1; z);
    the second function is a series of positive terms whose value stays moderate
    (at least 1, growing at most like (1-z)^(b-1) for b < 1), so neither factor
    overflows when b = r + x is large and z is close to 1.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(
            (1.0 - b) * np.log1p(-z) + log_hyp2f1(1.0, a + 1.0 - b, a + 1.0, z),
            dtype=np.float64,
        )


def _log_diff(l1: Array, l2: Array) -> Array:
    """Return log(exp(l1) - exp(l2)) for l2 <= l1 (``-inf`` where they are equal)."""
    with np.errstate(divide="ignore"):
        return np.asarray(l1 + np.log(-np.expm1(np.minimum(l2 - l1, 0.0))), dtype=np.float64)


def _dot(w: Array, v: Array) -> float:
    """Return the weighted sum ``w · v`` without BLAS.

    A BLAS dot product may start threads; on a busy machine they spin for their
    time slices and a 30k-row objective went from 5 ms to 35 ms. A plain multiply
    and sum runs on the calling thread.
    """
    return float(np.sum(w * v))


# --- BG/NBD ---------------------------------------------------------------------------


def bg_nbd_rows(params: Array, x: Array, tx: Array, age: Array) -> Array:
    """Return each row's BG/NBD log-likelihood at ``params = (r, alpha, a, b)``."""
    r, alpha, a, b = (float(v) for v in params)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + age)
    repeat = x > 0
    with np.errstate(divide="ignore"):
        a4 = np.where(
            repeat,
            np.log(a) - np.log(b + np.where(repeat, x - 1.0, 0.0)) - (r + x) * np.log(alpha + tx),
            -np.inf,
        )
    return np.asarray(a1 + a2 + np.logaddexp(a3, a4), dtype=np.float64)


def bg_nbd_objective(
    log_params: Array, x: Array, tx: Array, age: Array, w: Array
) -> tuple[float, Array]:
    """Return the weighted negative log-likelihood and its gradient in log-parameters.

    The gamma and digamma terms depend on a row only through its frequency, which
    takes few distinct values: they are computed once per value and gathered.
    """
    r, alpha, a, b = np.exp(log_params)
    values, index = np.unique(x, return_inverse=True)

    def per_x(f: Callable[[Array], Array], shift: float) -> Array:
        return np.asarray(f(values + shift), dtype=np.float64)[index]

    a1 = per_x(gammaln, r) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + per_x(gammaln, b) - gammaln(b) - per_x(gammaln, a + b)
    log_alpha_t = np.log(alpha + age)
    log_alpha_tx = np.log(alpha + tx)
    a3 = -(r + x) * log_alpha_t
    repeat = x > 0
    b_x1 = b + np.where(repeat, x - 1.0, 0.0)
    with np.errstate(divide="ignore"):
        a4 = np.where(repeat, np.log(a) - np.log(b_x1) - (r + x) * log_alpha_tx, -np.inf)
    both = np.logaddexp(a3, a4)
    ll = a1 + a2 + both
    w3 = np.exp(a3 - both)
    w4 = np.exp(a4 - both)
    psi_ab = digamma(a + b)
    psi_abx = per_x(digamma, a + b)
    d_r = per_x(digamma, r) - digamma(r) + np.log(alpha) - w3 * log_alpha_t - w4 * log_alpha_tx
    d_alpha = r / alpha - (r + x) * (w3 / (alpha + age) + w4 / (alpha + tx))
    d_a = psi_ab - psi_abx + w4 / a
    d_b = psi_ab + per_x(digamma, b) - digamma(b) - psi_abx - w4 / b_x1
    grad = np.array(
        [_dot(w, d_r) * r, _dot(w, d_alpha) * alpha, _dot(w, d_a) * a, _dot(w, d_b) * b]
    )
    return -_dot(w, ll), -grad


def bg_nbd_log_odds_dead(params: Array, x: Array, tx: Array, age: Array) -> Array:
    """Return log(P(dead) / P(alive)) of each customer (``-inf`` without repeat purchases)."""
    r, alpha, a, b = (float(v) for v in params)
    repeat = x > 0
    with np.errstate(divide="ignore"):
        return np.asarray(
            np.where(
                repeat,
                np.log(a)
                - np.log(b + np.where(repeat, x - 1.0, 0.0))
                + (r + x) * (np.log(alpha + age) - np.log(alpha + tx)),
                -np.inf,
            ),
            dtype=np.float64,
        )


def _bg_nbd_bracket(
    r: float, alpha: float, a: float, b: float, *, x: Array, age: Array, t: Array
) -> Array:
    """Return (a+b+x-1)/(a-1) [1 - ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; t/(α+T+t))]."""
    z = t / (alpha + age + t)
    big_a, big_b, big_c = r + x, b + x, a + b + x - 1.0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # (1-z)^(r+x) 2F1(A, B; C; z); where C - A - B = a - 1 - r - x < 0 the 2F1 grows
        # like (1-z)^(C-A-B) and overflows, so Euler's transformation is used there:
        # (1-z)^(a-1) 2F1(C-A, C-B; C; z), whose value stays moderate.
        euler = big_c - big_a - big_b < 0
        with_plain = (r + x) * np.log1p(-z) + log_hyp2f1(
            np.where(euler, 1.0, big_a), np.where(euler, 1.0, big_b), big_c, z
        )
        with_euler = (a - 1.0) * np.log1p(-z) + np.log(
            hyp2f1(big_c - big_a, big_c - big_b, big_c, np.where(euler, z, 0.0))
        )
        log_term = np.where(euler, with_euler, with_plain)
        return np.asarray((a + b + x - 1.0) / (a - 1.0) * -np.expm1(log_term), dtype=np.float64)


_A_NEAR_ONE = 1e-4
"""Half-width of the removable singularity of the BG/NBD expectation at a = 1."""


def bg_nbd_expected(
    params: Array, x: Array, tx: Array, age: Array, t: Array, *, new_customer: bool = False
) -> Array:
    """Return E[purchases in (T, T+t]] given (x, tx, T); or E[X(t)] of a new customer.

    The closed form divides by a - 1; the limit there is finite, so within
    ``_A_NEAR_ONE`` of 1 the value is the mean of the two sides.
    """
    r, alpha, a, b = (float(v) for v in params)
    if new_customer:
        x = np.zeros_like(t)
        age = np.zeros_like(t)
        alive = np.ones_like(t)
    else:
        alive = expit(-bg_nbd_log_odds_dead(params, x, tx, age))
    if abs(a - 1.0) < _A_NEAR_ONE:
        bracket = 0.5 * (
            _bg_nbd_bracket(r, alpha, 1.0 - _A_NEAR_ONE, b, x=x, age=age, t=t)
            + _bg_nbd_bracket(r, alpha, 1.0 + _A_NEAR_ONE, b, x=x, age=age, t=t)
        )
    else:
        bracket = _bg_nbd_bracket(r, alpha, a, b, x=x, age=age, t=t)
    bad = (t > 0) & ~(np.isfinite(bracket) & (bracket >= 0))
    if bad.any():
        bracket = np.array(bracket, dtype=np.float64)
        bracket[bad] = _bg_nbd_bracket_quadrature(r, alpha, a, b, x=x[bad], age=age[bad], t=t[bad])
    return np.asarray(alive * np.where(t > 0, bracket, 0.0), dtype=np.float64)


_NODES = 200
"""Gauss-Jacobi nodes of :func:`_bg_nbd_bracket_quadrature`."""


def _bg_nbd_bracket_quadrature(
    r: float, alpha: float, a: float, b: float, *, x: Array, age: Array, t: Array
) -> Array:
    """Return the same bracket as E[(1 - ((α+T)/(α+T+p t))^(r+x)) / p] over p ~ beta(a, b+x).

    A customer alive at T buys at a gamma(r+x, α+T) rate and drops out with a
    beta(a, b+x) probability, and expects (1 - exp(-λ p t)) / p purchases in t. The
    integrand is smooth on [0, 1], so Gauss-Jacobi quadrature with the beta
    density as its weight is accurate where the hypergeometric form is not (its
    c = a+b+x-1 is not positive for a new customer with a + b < 1).
    """
    out = np.empty_like(t)
    for shape in np.unique(b + x):
        rows = (b + x) == shape
        nodes, weights = roots_jacobi(_NODES, shape - 1.0, a - 1.0)
        p = (1.0 + nodes) / 2.0
        weights = weights / weights.sum()
        base = alpha + age[rows, None]
        power = (r + x[rows, None]) * np.log(base / (base + p[None, :] * t[rows, None]))
        out[rows] = np.sum(-np.expm1(power) / p[None, :] * weights[None, :], axis=1)
    return out


# --- Pareto/NBD -----------------------------------------------------------------------


def pareto_nbd_log_a0(params: Array, x: Array, tx: Array, age: Array) -> Array:
    """Return log A0 of Fader and Hardie's note (eq. 11 and its α < β form).

    A0 = [2F1(r+s+x, B; r+s+x+1; |α-β|/(M+tx)) / (M+tx)^(r+s+x)]
       - [2F1(r+s+x, B; r+s+x+1; |α-β|/(M+T)) / (M+T)^(r+s+x)]
    with M = max(α, β) and B = s+1 when α >= β, B = r+x when α < β, which keeps
    the argument of 2F1 in [0, 1). Both terms are taken in logs (see
    :func:`log_hyp2f1_a_a1`) and subtracted with ``log(-expm1(.))``.
    """
    r, alpha, s, beta = (float(v) for v in params)
    big = max(alpha, beta)
    upper: Array | float = s + 1.0 if alpha >= beta else r + x
    gap = abs(alpha - beta)
    rsx = r + s + x
    l1 = log_hyp2f1_a_a1(rsx, upper, gap / (big + tx)) - rsx * np.log(big + tx)
    l2 = log_hyp2f1_a_a1(rsx, upper, gap / (big + age)) - rsx * np.log(big + age)
    return np.where(tx >= age, -np.inf, _log_diff(l1, l2))  # no time to die in: A0 = 0


def pareto_nbd_rows(params: Array, x: Array, tx: Array, age: Array) -> Array:
    """Return each row's Pareto/NBD log-likelihood at ``params = (r, alpha, s, beta)``."""
    r, alpha, s, beta = (float(v) for v in params)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    stay = -(r + x) * np.log(alpha + age) - s * np.log(beta + age)
    leave = np.log(s) - np.log(r + s + x) + pareto_nbd_log_a0(params, x, tx, age)
    return np.asarray(a1 + np.logaddexp(stay, leave), dtype=np.float64)


def pareto_nbd_objective(log_params: Array, x: Array, tx: Array, age: Array, w: Array) -> float:
    """Return the weighted negative log-likelihood at ``exp(log_params)``."""
    value = -_dot(w, pareto_nbd_rows(np.exp(log_params), x, tx, age))
    return value if np.isfinite(value) else np.inf


def pareto_nbd_log_odds_dead(params: Array, x: Array, tx: Array, age: Array) -> Array:
    """Return log(P(dead) / P(alive)) of each customer."""
    r, alpha, s, beta = (float(v) for v in params)
    return np.asarray(
        np.log(s)
        - np.log(r + s + x)
        + (r + x) * np.log(alpha + age)
        + s * np.log(beta + age)
        + pareto_nbd_log_a0(params, x, tx, age),
        dtype=np.float64,
    )


def _one_minus_power_over(k: float, log_ratio: Array) -> Array:
    """Return (1 - exp(-k L)) / k, which is L at k = 0."""
    if abs(k) < 1e-12:
        return log_ratio
    return np.asarray(-np.expm1(-k * log_ratio) / k, dtype=np.float64)


def pareto_nbd_expected(
    params: Array, x: Array, tx: Array, age: Array, t: Array, *, new_customer: bool = False
) -> Array:
    """Return E[purchases in (T, T+t]] given (x, tx, T); or E[X(t)] of a new customer."""
    r, alpha, s, beta = (float(v) for v in params)
    if new_customer:
        return np.asarray(
            r * beta / alpha * _one_minus_power_over(s - 1.0, np.log1p(t / beta)),
            dtype=np.float64,
        )
    alive = expit(-pareto_nbd_log_odds_dead(params, x, tx, age))
    scale = (r + x) * (beta + age) / (alpha + age)
    return np.asarray(
        alive * scale * _one_minus_power_over(s - 1.0, np.log1p(t / (beta + age))),
        dtype=np.float64,
    )


# --- Gamma-Gamma ----------------------------------------------------------------------


def gamma_gamma_rows(params: Array, x: Array, z: Array) -> Array:
    """Return each repeat customer's Gamma-Gamma log-likelihood at ``(p, q, v)``."""
    p, q, v = (float(val) for val in params)
    px = p * x
    return np.asarray(
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1.0) * np.log(z)
        + px * np.log(x)
        - (px + q) * np.log(v + x * z),
        dtype=np.float64,
    )


def gamma_gamma_objective(log_params: Array, x: Array, z: Array, w: Array) -> tuple[float, Array]:
    """Return the weighted negative log-likelihood and its gradient in log-parameters."""
    p, q, v = np.exp(log_params)
    px = p * x
    log_vxz = np.log(v + x * z)
    psi_pxq = digamma(px + q)
    ll = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1.0) * np.log(z)
        + px * np.log(x)
        - (px + q) * log_vxz
    )
    d_p = x * (psi_pxq - digamma(px) + np.log(z) + np.log(x) - log_vxz)
    d_q = psi_pxq - digamma(q) + np.log(v) - log_vxz
    d_v = q / v - (px + q) / (v + x * z)
    grad = np.array([_dot(w, d_p) * p, _dot(w, d_q) * q, _dot(w, d_v) * v])
    return -_dot(w, ll), -grad
