"""Paired tests of equal expected loss between two models (``compare FILE``, SPEC 12).

For each loss and each pair of models (a, b):

- Diebold-Mariano on the per-row loss differences d_t = l_a(t) - l_b(t), with
  the Harvey, Leybourne & Newbold (1997) small-sample correction for one-step
  forecasts (h = 1):

      DM  = dbar / sqrt(V / n),   DM* = DM sqrt((n + 1 - 2h + h(h - 1)/n) / n)

  compared with Student's t with n - 1 degrees of freedom (two-sided). Rows
  are exchangeable: V = gamma_0, the variance of d with divisor n, so DM* is
  the paired t statistic. With ``--time-col`` the rows are a time series
  (sorted by that column): V is the Newey-West long-run variance
  gamma_0 + 2 sum_{k=1..L} (1 - k/(L+1)) gamma_k with L = floor(4 (n/100)^(2/9))
  lags (Newey & West 1994), gamma_k = (1/n) sum_t (d_t - dbar)(d_{t-k} - dbar),
  from a second pass over the rows in order.
- McNemar's exact test for zero_one (and accuracy) on the discordant rows:
  n_ab rows only a gets wrong, n_ba only b; statistic min(n_ab, n_ba),
  p = min(1, 2 P(X <= min) for X ~ Binomial(n_ab + n_ba, 1/2)) (statsmodels'
  ``mcnemar(exact=True)``).
- Holm's step-down adjustment of the p-values across the pairs of one loss.

The accumulators are mergeable sums (mean and centred second moment by Chan et
al.'s update; discordant counts; for the HAC variance, lagged cross-products of
the centred differences that carry each part's first and last L values, so
consecutive parts merge across their boundary, in time order). The rows must
be sorted by the time column: a row earlier than the one before it is an
Error that says so (sorting needs the whole file; losscli never holds it).
Rows count once each: sample weights are not used by the tests.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

import numpy as np

#: the tests a loss gets: "mcnemar" for the 0/1 error figures, "dm" for mean losses.
MCNEMAR_LOSSES = frozenset({"zero_one", "accuracy"})
#: binomial tails up to this many discordant rows are summed exactly in integers.
EXACT_BINOMIAL_MAX = 2000


# --------------------------------------------------------------------------- distributions
#
# The tails are the regularized incomplete beta function I_x(a, b): Student's t
# two-sided p = I_x(df/2, 1/2) with x = df/(df+t^2); Binomial(n, 1/2)
# P(X <= k) = I_{1/2}(n - k, k + 1). I_x(a, b) = x^a y^b / (a B(a, b)) times a
# continued fraction, y = 1 - x, with I_x(a, b) = 1 - I_y(b, a) past the mean.
# The factor x^a y^b / B(a, b) is formed in logs from accurate pieces: ln x and
# ln y from the caller (for t, from t^2/df, never from a rounded 1 - y), and the
# large arguments of B through Stirling's series, so that no difference of two
# huge log-gammas is rounded (lgamma(a) - lgamma(a + 1/2) at a = 10^6 loses nine
# digits). The continued fraction runs in 40-digit decimals (see _beta_fraction).
# The p-values are accurate to a few 1e-15 relative times (1 + |ln p|) (the
# floor of any double-precision exp(); 1e-14 for p above 1e-5); below ~1e-300
# they underflow towards 0 (absolute error < 1e-300).

_EPS = sys.float_info.epsilon
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
#: digits of the continued fraction's decimal arithmetic, and its stopping tolerance.
_DECIMAL_DIGITS = 40
_FRACTION_DIGITS = 25
#: arguments from this size on take Stirling's series (its remainder below 1e-16).
_STIRLING_MIN = 8.0
#: B_2k / (2k (2k - 1)), k = 1..8: lgamma(z) - ((z - 1/2) ln z - z + ln(2 pi)/2) =
#: sum_k c_k z^(1 - 2k).
_STIRLING = (
    1.0 / 12.0,
    -1.0 / 360.0,
    1.0 / 1260.0,
    -1.0 / 1680.0,
    1.0 / 1188.0,
    -691.0 / 360360.0,
    1.0 / 156.0,
    -3617.0 / 122400.0,
)


def _stirling_remainder(z: float) -> float:
    """lgamma(z) - ((z - 1/2) ln z - z + ln(2 pi) / 2) for z >= _STIRLING_MIN."""
    w = 1.0 / (z * z)
    total = 0.0
    for c in reversed(_STIRLING):
        total = c + w * total
    return total / z


def _log1p_minus(z: float) -> float:
    """ln(1 + z) - z, without the cancellation of the two for small |z|."""
    if abs(z) > 0.25:
        return math.log1p(z) - z
    total, power, k = 0.0, z, 2
    while True:  # -z^2/2 + z^3/3 - ...: |z| <= 1/4 converges within ~25 terms
        power *= -z
        term = power / k
        total += term
        if abs(term) <= _EPS * abs(total):
            return total
        k += 1


def _log_front(a: float, b: float, x: float, y: float, log_x: float, log_y: float) -> float:
    """ln(x^a y^b / B(a, b)), y = 1 - x, given accurate ln x and ln y."""
    small, big = min(a, b), max(a, b)
    if small >= _STIRLING_MIN:
        # x^a y^b / B = sqrt(ab / (2 pi (a + b))) (x (a+b)/a)^a (y (a+b)/b)^b e^-(D(a)+D(b)-D(a+b))
        # with x (a+b) = a - lam, y (a+b) = b + lam: the linear terms of the two
        # logarithms cancel exactly, what remains is formed without cancellation.
        lam = a - (a + b) * x if a <= b else (a + b) * y - b
        power = a * _log1p_minus(-lam / a) + b * _log1p_minus(lam / b)
        root = 0.5 * (math.log(small) - math.log1p(small / big)) - _HALF_LOG_2PI
        correction = _stirling_remainder(a) + _stirling_remainder(b) - _stirling_remainder(a + b)
        return power + root - correction
    if big >= _STIRLING_MIN:
        # ln B = lgamma(small) - (lgamma(big + small) - lgamma(big)), the difference as
        # small ln big + (big + small - 1/2) ln(1 + small/big) - small + D(big+small) - D(big)
        ratio = (
            small * math.log(big)
            + ((big + small - 0.5) * math.log1p(small / big) - small)
            + (_stirling_remainder(big + small) - _stirling_remainder(big))
        )
        return a * log_x + b * log_y + ratio - math.lgamma(small)
    return a * log_x + b * log_y + math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)


def _beta_fraction(a: float, b: float, x: Decimal) -> float:
    """The continued fraction of I_x(a, b) (modified Lentz), for x < (a + 1) / (a + b + 2).

    It runs in decimal arithmetic with ~20 digits more than a float carries:
    for x near 1 and a large (Student's t with many degrees of freedom) its
    recurrences 1 + aa d cancel, losing up to log10(a) digits, which binary
    floats cannot spare. It stops when a step changes the value by less than
    1e-25 relative (its terms approach 1 within ~sqrt(max(a, b)) steps).
    """
    with localcontext() as context:
        context.prec = _DECIMAL_DIGITS + int(math.log10(a + b + 1.0))
        one = Decimal(1)
        tiny = Decimal(10) ** -(3 * context.prec)
        tolerance = Decimal(10) ** -_FRACTION_DIGITS
        da, db = Decimal(a), Decimal(b)
        qab, qap, qam = da + db, da + one, da - one
        c, d = one, one - qab * x / qap
        d = one / (d if abs(d) > tiny else tiny)
        h = d
        limit = 1000 + int(20.0 * math.sqrt(max(a, b)))
        for m in range(1, limit):
            m2 = 2 * m
            aa = m * (db - m) * x / ((qam + m2) * (da + m2))
            d = one + aa * d
            d = one / (d if abs(d) > tiny else tiny)
            c = one + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
            aa = -(da + m) * (qab + m) * x / ((da + m2) * (qap + m2))
            d = one + aa * d
            d = one / (d if abs(d) > tiny else tiny)
            c = one + aa / c
            c = c if abs(c) > tiny else tiny
            delta = d * c
            h *= delta
            if abs(delta - one) <= tolerance:
                break
        return float(h)


def _incomplete_beta(
    a: float, b: float, x: Decimal, y: Decimal, logs: tuple[float, float]
) -> float:
    """I_x(a, b) from x and y = 1 - x (exact decimals) and ln x, ln y (accurate floats)."""
    log_x, log_y = logs
    if log_x == -math.inf:
        return 0.0
    if log_y == -math.inf:
        return 1.0
    front = math.exp(_log_front(a, b, float(x), float(y), log_x, log_y))
    if x < Decimal(a + 1.0) / Decimal(a + b + 2.0):
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, y) / b


def _logs(x: float, y: float) -> tuple[float, float]:
    """ln x and ln y for y = 1 - x, each from the smaller of the two."""
    log_x = math.log(x) if x <= 0.5 else math.log1p(-y)
    log_y = math.log(y) if y <= 0.5 else math.log1p(-x)
    return log_x, log_y


def regularized_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b), the regularized incomplete beta function (a, b > 0)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    y = 1.0 - x
    exact = Decimal(x)
    return _incomplete_beta(a, b, exact, 1 - exact, _logs(x, y))


def student_t_two_sided(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's t with ``df`` degrees of freedom."""
    if math.isnan(t) or math.isnan(df) or df <= 0:
        return math.nan
    if math.isinf(t):
        return 0.0
    if t == 0.0:
        return 1.0
    # x = df / (df + t^2) = 1 / (1 + r^2) and y = r^2 / (1 + r^2), r = |t| / sqrt(df):
    # their logs from r (or 1/r past 1) so that neither overflows nor cancels,
    # x and y themselves exact to 60 digits for the continued fraction.
    r = abs(t) / math.sqrt(df)
    # ln r from r itself (accurate to the last bit), unless r underflows (subnormal t)
    log_r = math.log(r) if r > 1e-300 else math.log(abs(t)) - 0.5 * math.log(df)
    if r <= 1.0:
        log_x = -math.log1p(r * r)
        log_y = 2.0 * log_r + log_x
    else:
        s = math.sqrt(df) / abs(t)
        log_y = -math.log1p(s * s)
        log_x = -2.0 * log_r + log_y
    with localcontext() as context:
        context.prec = _DECIMAL_DIGITS + 20
        t2, dfd = Decimal(t) ** 2, Decimal(df)
        exact_x, exact_y = dfd / (dfd + t2), t2 / (dfd + t2)
    return _incomplete_beta(df / 2.0, 0.5, exact_x, exact_y, (log_x, log_y))


def binomial_half_cdf(k: int, n: int) -> float:
    """P(X <= k) for X ~ Binomial(n, 1/2).

    Up to EXACT_BINOMIAL_MAX trials the sum of binomial coefficients is exact
    (integers, one rounding at the end). Past it, for k below the centre,
    P(X = k) (C(n, k) 2^-n = 2 x^a y^b / (a B(a, b)) with a = n - k, b = k + 1,
    x = y = 1/2, the accurate factor above) times the series of ratios
    P(X = k - j) / P(X = k), summed until its terms no longer count; above the
    centre, the complement of the mirror tail.
    """
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    if n <= EXACT_BINOMIAL_MAX:
        count = sum(math.comb(n, i) for i in range(k + 1))
        return float(Fraction(count, 1 << n))
    if 2 * k >= n:
        return 1.0 - binomial_half_cdf(n - k - 1, n)
    half = math.log(0.5)
    a, b = float(n - k), float(k + 1)
    pmf = 2.0 * math.exp(_log_front(a, b, 0.5, 0.5, half, half)) / a
    total, term = 1.0, 1.0
    for i in range(k):  # term j = prod_{i < j} (k - i) / (n - k + i + 1)
        term *= (k - i) / (n - k + i + 1)
        total += term
        if term <= 0.25 * _EPS * total:
            break
    return pmf * total


# --------------------------------------------------------------------------- the tests


def newey_west_lags(n: int) -> int:
    """L = floor(4 (n / 100)^(2/9)), Newey & West's (1994) rule of thumb."""
    return int(math.floor(4.0 * (n / 100.0) ** (2.0 / 9.0))) if n > 0 else 0


def diebold_mariano(
    n: int, mean: float, gamma0: float, autocov: tuple[float, ...] = (), horizon: int = 1
) -> tuple[float, float]:
    """(DM*, two-sided p) from the mean, variance (divisor n) and autocovariances of d.

    ``autocov`` are gamma_1..gamma_L (empty: exchangeable rows); they enter with
    Bartlett weights 1 - k/(L+1). NaN when n < 2 or the variance is not positive
    (every difference equal: identical losses give no test).
    """
    if n < 2:
        return math.nan, math.nan
    lags = len(autocov)
    variance = gamma0 + 2.0 * sum((1.0 - k / (lags + 1)) * g for k, g in enumerate(autocov, 1))
    if not variance > 0 or not math.isfinite(variance):
        return math.nan, math.nan
    dm = mean / math.sqrt(variance / n)
    h = horizon
    correction = math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    statistic = dm * correction
    return statistic, student_t_two_sided(statistic, n - 1)


def mcnemar_exact(only_a_wrong: int, only_b_wrong: int) -> tuple[float, float]:
    """(min(n_ab, n_ba), two-sided exact p) as statsmodels' mcnemar(exact=True).

    No row where exactly one model is wrong (identical models): no test, (NaN, NaN),
    as the Diebold-Mariano test of identical losses (statsmodels says 0 and p 1).
    """
    n = only_a_wrong + only_b_wrong
    low = min(only_a_wrong, only_b_wrong)
    if n == 0:
        return math.nan, math.nan
    return float(low), min(1.0, 2.0 * binomial_half_cdf(low, n))


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (NaN stays NaN and is not counted)."""
    finite = [(p, i) for i, p in enumerate(p_values) if not math.isnan(p)]
    finite.sort()
    m = len(finite)
    out = [math.nan] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(finite):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out


# --------------------------------------------------------------------------- accumulators


@dataclass
class DifferenceMoments:
    """Count, mean and centred sum of squares of d (Chan et al.'s parallel update)."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, d: np.ndarray) -> None:
        if d.size == 0:
            return
        with np.errstate(all="ignore"):
            mean = float(np.mean(d))
            m2 = float(np.sum(np.square(d - mean)))
        self.combine(DifferenceMoments(int(d.size), mean, m2))

    def combine(self, other: DifferenceMoments) -> None:
        if other.n == 0:
            return
        if self.n == 0:
            self.n, self.mean, self.m2 = other.n, other.mean, other.m2
            return
        total = self.n + other.n
        delta = other.mean - self.mean
        self.mean += delta * other.n / total
        self.m2 += other.m2 + delta * delta * self.n * other.n / total
        self.n = total

    def merged(self, other: DifferenceMoments) -> DifferenceMoments:
        out = DifferenceMoments(self.n, self.mean, self.m2)
        out.combine(other)
        return out


@dataclass
class Discordance:
    """Rows where exactly one model of the pair is wrong (mergeable counts)."""

    only_a_wrong: int = 0
    only_b_wrong: int = 0

    def add(self, wrong_a: np.ndarray, wrong_b: np.ndarray) -> None:
        a, b = wrong_a > 0.5, wrong_b > 0.5
        self.only_a_wrong += int(np.count_nonzero(a & ~b))
        self.only_b_wrong += int(np.count_nonzero(b & ~a))

    def merged(self, other: Discordance) -> Discordance:
        return Discordance(
            self.only_a_wrong + other.only_a_wrong, self.only_b_wrong + other.only_b_wrong
        )


@dataclass
class LaggedProducts:
    """sum_t c_t c_{t-k} for k = 1..L over centred differences c = d - dbar, in row order.

    A part keeps its first and last L values so that two consecutive parts
    merge exactly: the products that span their boundary are added then.
    """

    lags: int
    n: int = 0
    sums: np.ndarray = field(default_factory=lambda: np.zeros(0))
    head: np.ndarray = field(default_factory=lambda: np.zeros(0))
    tail: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        if self.sums.size != self.lags:
            self.sums = np.zeros(self.lags)

    def add(self, centred: np.ndarray) -> None:
        self.merge_in(LaggedProducts.of(centred, self.lags))

    @staticmethod
    def of(c: np.ndarray, lags: int) -> LaggedProducts:
        sums = np.array(
            [float(np.dot(c[k:], c[:-k])) if k < c.size else 0.0 for k in range(1, lags + 1)]
        )
        return LaggedProducts(
            lags, int(c.size), sums, c[:lags].copy(), c[-lags:].copy() if lags else c[:0]
        )

    def merge_in(self, later: LaggedProducts) -> None:
        """Append the rows of ``later`` (which follow this part's rows)."""
        if later.n == 0:
            return
        if self.n == 0:
            self.n, self.sums = later.n, later.sums.copy()
            self.head, self.tail = later.head.copy(), later.tail.copy()
            return
        sums = self.sums + later.sums
        for k in range(1, self.lags + 1):
            # pairs (t, t - k) with t in ``later`` (its first k rows) and t - k in self
            m = min(k, later.head.size)
            for i in range(m):
                j = self.tail.size - (k - i)
                if j >= 0:
                    sums[k - 1] += later.head[i] * self.tail[j]
        joined_head = np.concatenate([self.head, later.head])[: self.lags]
        joined_tail = (
            np.concatenate([self.tail, later.tail])[-self.lags :] if self.lags else self.tail
        )
        self.n += later.n
        self.sums, self.head, self.tail = sums, joined_head, joined_tail

    def merged(self, later: LaggedProducts) -> LaggedProducts:
        out = LaggedProducts(
            self.lags, self.n, self.sums.copy(), self.head.copy(), self.tail.copy()
        )
        out.merge_in(later)
        return out


@dataclass
class TimedProducts:
    """Lagged products of every DM test over one part of the rows, with its time range.

    ``first_row`` is the input's row number of the part's first row: parts merge
    in row order (whichever side of ``merge`` the engine hands them over), and
    the rows must be in time order in the input's order, across parts too (the
    files of a multi-file input in sorted path order): a part whose first time
    is earlier than the last time of the part before it is the same error as a
    row earlier than the row before it within a part, naming that row. So the
    verdict does not depend on how the input is cut into batches or partitions.
    """

    products: list[LaggedProducts]
    first_time: float = math.inf
    last_time: float = -math.inf
    column: str = ""
    first_row: int = 0

    def merged(self, other: TimedProducts) -> TimedProducts:
        if other.first_time == math.inf:
            return self
        if self.first_time == math.inf:
            return other
        early, late = (self, other) if self.first_row <= other.first_row else (other, self)
        if early.last_time > late.first_time:
            raise _unsorted(self.column or other.column, late.first_row)
        return TimedProducts(
            [a.merged(b) for a, b in zip(early.products, late.products)],
            early.first_time,
            late.last_time,
            self.column or other.column,
            early.first_row,
        )


def _unsorted(column: str, row: int | None = None) -> Exception:
    from losscli.errors import DataError

    where = f" (row {row} comes before an earlier time)" if row is not None else ""
    return DataError(
        f"--time-col {column}: the rows are not in time order{where}; the HAC variance "
        f"reads them as a series in one pass, so sort the file by {column} first"
    )


@dataclass
class HacStep:
    """Pass 2 of compare --time-col: lagged products of the centred differences, in order."""

    selections: list[Any]
    tests: list[PlannedTest]
    means: list[float]
    lags: int
    column: str

    def new_state(self) -> TimedProducts:
        return TimedProducts([LaggedProducts(self.lags) for _ in self.tests], column=self.column)

    def update(self, state: TimedProducts, batch: object) -> TimedProducts:
        from losscli.analysis.evaluate import per_sample_losses
        from losscli.core.dataset import Dataset

        assert isinstance(batch, Dataset)
        if batch.n_rows == 0:
            return state
        time = np.asarray(batch.extra["time"], dtype=np.float64)
        keep = None if batch.weights is None else np.asarray(batch.weights) > 0
        if keep is not None:
            time = time[keep]
        if time.size == 0:
            return state
        backwards = np.flatnonzero(np.diff(time) < 0)
        if backwards.size:
            rows = batch.row_numbers if keep is None else batch.row_numbers[keep]
            raise _unsorted(self.column, int(rows[int(backwards[0]) + 1]))
        values = [item.values for item in per_sample_losses(batch, self.selections)]
        rows = batch.row_numbers if keep is None else batch.row_numbers[keep]
        part = TimedProducts([], float(time[0]), float(time[-1]), self.column, int(rows[0]))
        for test, mean in zip(self.tests, self.means):
            a, b = values[test.item_a], values[test.item_b]
            if keep is not None:
                a, b = a[keep], b[keep]
            with np.errstate(all="ignore"):
                centred = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64) - mean
            part.products.append(LaggedProducts.of(centred, self.lags))
        return state.merged(part)

    def merge(self, a: TimedProducts, b: TimedProducts) -> TimedProducts:
        return a.merged(b)

    def finish(self, state: TimedProducts) -> list[tuple[float, ...]]:
        """gamma_1..gamma_L of every test (divisor n)."""
        out = []
        for products in state.products:
            n = products.n
            out.append(tuple(float(v) / n for v in products.sums) if n else ())
        return out


def hac_step(
    selections: list[Any], tests: list[PlannedTest], state: TestState, column: str
) -> HacStep | None:
    """The second pass for ``--time-col``, or None when no test needs it."""
    dm = [(t, acc) for t, acc in zip(tests, state.sums) if isinstance(acc, DifferenceMoments)]
    if not dm:
        return None
    n = max(acc.n for _, acc in dm)
    return HacStep(
        selections, [t for t, _ in dm], [acc.mean for _, acc in dm], newey_west_lags(n), column
    )


def full_autocov(
    tests: list[PlannedTest], found: list[tuple[float, ...]]
) -> list[tuple[float, ...]]:
    """Autocovariances per test in ``tests`` order (McNemar tests get none)."""
    it = iter(found)
    return [next(it) if t.test == "diebold_mariano" else () for t in tests]


# --------------------------------------------------------------------------- the compare step


@dataclass(frozen=True)
class PairTest:
    """One test of one loss between two models, as the JSON ``tests`` rows give it."""

    loss: str  # the loss's label: huber(delta=2)
    model_a: str
    model_b: str
    test: str  # "diebold_mariano" | "mcnemar"
    statistic: float
    p_value: float
    p_adjusted: float
    # The model the rows favour (the lower mean loss, or fewer wrong rows; None: neither):
    # the direction McNemar's statistic, min(n_ab, n_ba), does not carry. Not in the JSON.
    favours: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "loss": self.loss,
            "model_a": self.model_a,
            "model_b": self.model_b,
            "test": self.test,
            "statistic": self.statistic,
            "p_value": self.p_value,
            "p_adjusted": self.p_adjusted,
        }


@dataclass(frozen=True)
class PlannedTest:
    """Which items (indices into the compare's (loss, model) order) a test reads."""

    label: str
    model_a: str
    model_b: str
    item_a: int
    item_b: int
    test: str
    name: str = ""  # the registered loss (zero_one or accuracy read the rows differently)


def test_kind(spec: object) -> str | None:
    """The test a loss gets: "mcnemar", "diebold_mariano" or None (no paired mean test)."""
    from losscli.core.registry import LossSpec, Reduction, Task, is_custom

    assert isinstance(spec, LossSpec)
    if spec.name in MCNEMAR_LOSSES:
        return "mcnemar"
    if spec.task is Task.GENERATIVE or spec.signed or spec.nominal or spec.support is not None:
        return None
    if spec.reduction in (Reduction.MEAN, Reduction.SQRT_MEAN) and not is_custom(spec):
        return "diebold_mariano"
    return None


def planned_tests(selections: list[Any], models: list[str]) -> list[PlannedTest]:
    """Every (loss, pair of models) to test, pairs in input order (a before b)."""
    tests = []
    k = len(models)
    for s_index, selection in enumerate(selections):
        kind = test_kind(selection.spec)
        if kind is None:
            continue
        for a in range(k):
            for b in range(a + 1, k):
                tests.append(
                    PlannedTest(
                        selection.label,
                        models[a],
                        models[b],
                        s_index * k + a,
                        s_index * k + b,
                        kind,
                        selection.spec.name,
                    )
                )
    return tests


@dataclass
class TestState:
    """Pass-1 sums of every planned test (mergeable)."""

    sums: list[DifferenceMoments | Discordance] = field(default_factory=list)

    def merged(self, other: TestState) -> TestState:
        return TestState([a.merged(b) for a, b in zip(self.sums, other.sums)])  # type: ignore[arg-type]


def new_test_state(tests: list[PlannedTest]) -> TestState:
    return TestState([Discordance() if t.test == "mcnemar" else DifferenceMoments() for t in tests])


def add_rows(state: TestState, tests: list[PlannedTest], values: list[np.ndarray],
             weights: np.ndarray | None) -> None:  # fmt: skip
    """One batch in: ``values`` are the per-row losses of every (loss, model) item."""
    keep = None if weights is None else np.asarray(weights) > 0
    for test, acc in zip(tests, state.sums):
        a, b = values[test.item_a], values[test.item_b]
        if keep is not None:
            a, b = a[keep], b[keep]
        if isinstance(acc, Discordance):
            wrong_a, wrong_b = (a, b) if test.name == "zero_one" else (1 - a, 1 - b)
            acc.add(wrong_a, wrong_b)
        else:
            with np.errstate(all="ignore"):
                acc.add(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))


def results(
    tests: list[PlannedTest], state: TestState, autocov: list[tuple[float, ...]] | None = None
) -> list[PairTest]:
    """The statistics and p-values, Holm-adjusted across the pairs of each loss."""
    raw: list[tuple[float, float]] = []
    favours: list[str | None] = []
    for i, acc in enumerate(state.sums):
        test = tests[i]
        if isinstance(acc, Discordance):
            raw.append(mcnemar_exact(acc.only_a_wrong, acc.only_b_wrong))
            gap = float(acc.only_b_wrong - acc.only_a_wrong)  # > 0: a is wrong on fewer rows
        else:
            lags = () if autocov is None else autocov[i]
            raw.append(diebold_mariano(acc.n, acc.mean, acc.m2 / acc.n if acc.n else 0.0, lags))
            gap = -acc.mean if acc.n else 0.0  # d = loss_a - loss_b: < 0 favours a
        favours.append(test.model_a if gap > 0 else test.model_b if gap < 0 else None)
    adjusted = [math.nan] * len(tests)
    for label in dict.fromkeys(t.label for t in tests):
        index = [i for i, t in enumerate(tests) if t.label == label]
        for i, p in zip(index, holm([raw[i][1] for i in index])):
            adjusted[i] = p
    return [
        PairTest(t.label, t.model_a, t.model_b, t.test, stat, p, adj, side)
        for t, (stat, p), adj, side in zip(tests, raw, adjusted, favours)
    ]
