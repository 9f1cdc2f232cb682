"""The guide's convexity analysis (000): is a loss convex in the model's pre-activation z?

A loss composed with a link (identity, sigmoid, softmax) is convex in z exactly
where its second derivative d2L/dz2 is >= 0. For a sigmoid output p = sigmoid(z)
the guide shows MSE has d2L/dz2 < 0 for p > 2/3 when y = 0 and for p < 1/3 when
y = 1, while log loss has d2L/dz2 = p (1 - p) >= 0 everywhere.

How it is computed, for any registered loss of one prediction:

- The loss is evaluated as a function of z through its own kernel, in the
  stable form: probability losses (binary, multiclass) get the logit itself
  with ``from_logits`` (softplus / log-softmax, never ``log(sigmoid(z))`` and
  no clipping); regression losses get p = sigmoid(z) from the stable sigmoid.
  Softmax is analysed with two classes, logits (0, z), where it equals the
  sigmoid. The identity link feeds the prediction itself (a probability in
  (0, 1) for probability losses, any real number for regression losses).
- d2L/dz2 comes from central second differences with one Richardson step
  (error O(h^4)), on a grid that is uniform in the link's output.
- Sign changes on the grid are refined by bisection in z down to 1e-13, so an
  interval boundary is exact to far better than the grid spacing; a loss with
  no point where d2L/dz2 < -noise is reported convex, where noise is that
  point's own rounding error (see :func:`second_derivative`), not a share of
  the curve's largest value.
- Where a loss has a kink known analytically (huber at |y - p| = delta; mae,
  pinball, smape, median_ae, max_error at p = y; hinge and squared_hinge at
  the margin t z = 1), the finite differences straddle it and the bisection
  lands a step's width off it (0.500083 for huber delta=0.5 on a sigmoid,
  whose kink is p = 0.5): a boundary within SNAP_STEPS steps of a known kink
  is that kink, exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from losscli.core.registry import (
    EPS,
    PLAIN_REDUCTIONS,
    LossInputs,
    LossSelection,
    Reduction,
    Task,
)
from losscli.core.stable import sigmoid
from losscli.errors import UsageError

LINKS = ("identity", "sigmoid", "softmax")
DEFAULT_LINK = {Task.REGRESSION: "identity", Task.BINARY: "sigmoid", Task.MULTICLASS: "softmax"}
GRID_POINTS = 2001
PROBABILITY_MARGIN = 1e-4  # the sigmoid grid covers p in [1e-4, 1 - 1e-4] (|z| <= 9.2)
REGRESSION_SPAN = 4.0  # identity grid for regression losses: y_true +- 4
STEP = 1e-3  # finite-difference step in z (Richardson: h and h/2)
BISECTION_TOLERANCE = 1e-13


@dataclass(frozen=True)
class Interval:
    """Where d2L/dz2 < 0, as values of the link's output (e.g. the probability)."""

    y_true: float
    start: float
    end: float


@dataclass(frozen=True)
class Curve:
    """d2L/dz2 along the grid for one y_true (for the chart and JSON)."""

    y_true: float
    output: np.ndarray
    second_derivative: np.ndarray


@dataclass(frozen=True)
class ConvexityReport:
    """The result of ``loss explain``."""

    loss: str
    label: str
    params: dict[str, object]
    link: str
    output_name: str  # what ``from``/``to`` are: "p" (probability) or "prediction"
    convex: bool
    nonconvex: list[Interval]
    curves: list[Curve]
    notes: list[str]


def _loss_of_z(
    selection: LossSelection, link: str, y: float
) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]:
    """(z -> per-point loss, z -> link output) for one y_true, through the loss's kernel."""
    spec = selection.spec
    task = spec.task
    rules = spec.domain_for(selection.params)

    def evaluate(inputs: LossInputs) -> np.ndarray:
        with np.errstate(all="ignore"):
            values = selection.per_sample(inputs)
        ok = np.isfinite(values)
        for rule in rules:
            if rule.skip_with_logits and inputs.from_logits:
                continue
            target = inputs.y_true if rule.target == "y_true" else inputs.y_pred
            valid = np.asarray(rule.valid(target), dtype=bool)
            ok &= valid.all(axis=1) if valid.ndim == 2 else valid
        return np.where(ok, values, np.nan)

    def output(z: np.ndarray) -> np.ndarray:
        return z if link == "identity" else sigmoid(z)

    if task is Task.REGRESSION:

        def regression(z: np.ndarray) -> np.ndarray:
            return evaluate(LossInputs(np.full(z.shape, y), output(z)))

        return regression, output
    if task is Task.BINARY:
        logits = link != "identity"

        def binary(z: np.ndarray) -> np.ndarray:
            return evaluate(LossInputs(np.full(z.shape, y), z, from_logits=logits))

        return binary, output
    if task is Task.MULTICLASS:
        logits = link != "identity"
        label = int(y)

        def multiclass(z: np.ndarray) -> np.ndarray:
            n = z.shape[0]
            targets = np.zeros((n, 2))
            targets[:, label] = 1.0
            scores = np.column_stack([np.zeros(n), z]) if logits else np.column_stack([1 - z, z])
            inputs = LossInputs(
                targets, scores, from_logits=logits, labels=np.full(n, label, dtype=np.int64)
            )
            return evaluate(inputs)

        return multiclass, output
    article = "an" if task.value[:1] in "aeiou" else "a"  # an interval loss
    raise UsageError(
        f"explain analyses losses of one prediction (regression, binary, multiclass); "
        f"{spec.name} is {article} {task.value} loss"
    )


def second_derivative(
    f: Callable[[np.ndarray], np.ndarray],
    z: np.ndarray,
    kernel_input: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(d2f/dz2, its rounding-noise level at each point) by central differences and one
    Richardson step.

    The extrapolation is used only where both step sizes agree in sign: next to
    a kink (hinge, mae) one difference straddles it and the other does not, and
    extrapolating would invent a negative curvature there.

    The noise level is local: the rounding error of the values differenced at that
    point, amplified by 1/h^2. A value of f is rounded relative to the terms it is
    made of, which are the values themselves and the kernel's inputs: y_true (0 or
    1), the prediction x (``kernel_input(z)``; z itself by default) and, for two
    classes, 1 - x, so at most max(1, |x|) in size, each carried into f by the
    slope df/dx. mse on a sigmoid near p = 1 or multiclass_hinge near 0 compute a
    small value from terms near 1; and rounding z +- h moves f by the slope times
    |z|. Nothing global enters: a curve that is huge at one end (tweedie near
    mu = 0) keeps its genuinely negative values elsewhere.
    """
    z = np.asarray(z, dtype=np.float64)
    h = STEP * np.maximum(1.0, np.abs(z))
    x_of = kernel_input if kernel_input is not None else (lambda points: points)
    with np.errstate(all="ignore"):
        f0 = f(z)
        x0 = np.abs(np.asarray(x_of(z), dtype=np.float64))
        size = np.abs(f0)
        slope = np.zeros_like(z)
        slope_x = np.zeros_like(z)

        def central(step: np.ndarray) -> np.ndarray:
            nonlocal size, slope, slope_x
            up, down = f(z + step), f(z - step)
            size = np.maximum(size, np.maximum(np.abs(up), np.abs(down)))
            change = np.abs(up - down)
            slope = np.maximum(slope, change / (2.0 * step))
            moved = np.abs(np.asarray(x_of(z + step)) - np.asarray(x_of(z - step)))
            slope_x = np.maximum(slope_x, np.where(moved > 0, change / moved, 0.0))
            return cast(np.ndarray, (up - 2.0 * f0 + down) / (step * step))

        coarse, fine = central(h), central(h / 2.0)
        extrapolated = (4.0 * fine - coarse) / 3.0
        d2 = np.where(coarse * fine > 0, extrapolated, fine)
        terms = size + slope * np.abs(z) + slope_x * np.maximum(1.0, x0)
        # Rounding of the terms, amplified by 1/h^2 (with margin).
        noise = 64.0 * EPS * terms / np.square(h / 2.0)
    return d2, noise


def _grid(selection: LossSelection, link: str, y: float) -> np.ndarray:
    """Grid in z, uniform in the link's output."""
    if link != "identity":
        p = np.linspace(PROBABILITY_MARGIN, 1.0 - PROBABILITY_MARGIN, GRID_POINTS)
        return np.log(p) - np.log1p(-p)
    if selection.spec.task is Task.REGRESSION:
        return np.linspace(y - REGRESSION_SPAN, y + REGRESSION_SPAN, GRID_POINTS)
    return np.linspace(PROBABILITY_MARGIN, 1.0 - PROBABILITY_MARGIN, GRID_POINTS)


SNAP_STEPS = 2.0  # a boundary this many finite-difference steps from a known kink is it

# Kinks in the prediction, by loss: f(params, y) -> predictions where the loss
# (or its first derivative) is not differentiable, so d2L/dz2 jumps there.
PREDICTION_KINKS: dict[str, Callable[[dict[str, Any], float], list[float]]] = {
    "huber": lambda params, y: [y - float(params["delta"]), y + float(params["delta"])],
    "mae": lambda params, y: [y],
    "median_ae": lambda params, y: [y],
    "max_error": lambda params, y: [y],
    "pinball": lambda params, y: [y],
    "smape": lambda params, y: [y],
}
MARGIN_KINKS = ("hinge", "squared_hinge")  # at the margin t z = 1, t = 2y - 1


def known_kinks(selection: LossSelection, link: str, y: float) -> list[float]:
    """The analytically known kinks of the loss, as pre-activations z."""
    name = selection.spec.name
    if name in MARGIN_KINKS and selection.spec.task is Task.BINARY:
        return [2.0 * y - 1.0]  # the kernel reads z itself as the score
    kinks = PREDICTION_KINKS.get(name)
    if kinks is None or selection.spec.task is not Task.REGRESSION:
        return []
    out = []
    for p in kinks(dict(selection.params), y):
        if link == "identity":
            out.append(float(p))
        elif 0.0 < p < 1.0:
            out.append(float(np.log(p) - np.log1p(-p)))  # logit: p = sigmoid(z)
    return out


def snap_to_kinks(
    edges: np.ndarray, kinks: list[float], is_negative: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """Each boundary within SNAP_STEPS finite-difference steps of a known kink becomes it,
    when d2L/dz2 has opposite signs just outside that window (the differences there do
    not straddle the kink), i.e. the sign change is at the kink, not beside it."""
    out = np.array(edges, dtype=np.float64)
    for k in kinks:
        window = SNAP_STEPS * STEP * max(1.0, abs(k))
        near = np.abs(out - k) <= window
        if near.any():
            side = 1.5 * window  # the step there is at most window / 2 from that point
            left, right = is_negative(np.array([k - side, k + side]))
            if left != right:
                out[near] = k
    return out


def _bisect(
    is_negative: Callable[[np.ndarray], np.ndarray],
    lo: np.ndarray,
    hi: np.ndarray,
    negative_lo: np.ndarray,
) -> np.ndarray:
    """Boundaries where the sign of d2 flips, for many brackets at once."""
    lo, hi = lo.copy(), hi.copy()
    for _ in range(200):
        if np.all(hi - lo <= BISECTION_TOLERANCE * np.maximum(1.0, np.abs(lo))):
            break
        mid = 0.5 * (lo + hi)
        same = is_negative(mid) == negative_lo
        lo = np.where(same, mid, lo)
        hi = np.where(same, hi, mid)
    return cast(np.ndarray, 0.5 * (lo + hi))


# The per-prediction loss behind each score of a whole set (what to explain instead).
SCORE_LOSSES = {
    "r2": "mse",
    "explained_variance": "mse",
    "d2_absolute_error": "mae",
    "d2_pinball": "pinball",
    "d2_tweedie": "tweedie",
}
STEP_JUMPS = 4  # a loss that changes between at most this many grid neighbours is a step


def refuse_set_figures(selection: LossSelection) -> None:
    """Scores and calibration figures of a whole set have no value per prediction.

    Their kernels return per-row components (error and y_true, confidence and
    correctness) that only a ratio of sums or a binning over all rows turns into
    one figure, so there is no curve in z to differentiate.
    """
    spec = selection.spec
    if spec.reduction in PLAIN_REDUCTIONS:
        return
    if spec.reduction in (Reduction.ECE, Reduction.MCE):
        what = "a calibration figure over a whole set of predictions (confidences binned "
        what += "over its rows)"
        instead = "bce"
    else:
        what = "a score over a whole set of predictions (a ratio of sums over its rows)"
        instead = SCORE_LOSSES.get(spec.name, "mse")
    raise UsageError(
        f"{spec.name} is {what}, not a loss of one prediction, so it has no curve in the "
        f"pre-activation z to explain; explain a per-prediction loss instead, e.g. "
        f"loss explain {instead}"
    )


def step_jumps(selection: LossSelection, link: str) -> list[float] | None:
    """Where the loss jumps (as the link's output), if it is a step function.

    zero_one and accuracy are piecewise constant: their finite differences are 0
    except across the jump, where they are +-1/h^2 side by side, which bisection
    would turn into a non-convex "interval" one step wide. None when the loss is
    not piecewise constant on the grid (or has no jump at all).
    """
    jumps: list[float] = []
    for y in (0.0, 1.0):
        f, output = _loss_of_z(selection, link, y)
        z = _grid(selection, link, y)
        with np.errstate(all="ignore"):
            values = f(z)
        finite = np.isfinite(values)
        if not finite.any():
            continue  # y_true outside the loss's domain: analyse says so
        if not finite.all():
            # Defined on part of the grid only (a domain edge, or a kernel that
            # overflows, as tweedie with power -1e308 does): not a step function.
            return None
        changes = np.flatnonzero(np.diff(values) != 0)
        if changes.size > STEP_JUMPS:
            return None
        for i in changes:
            lo, hi, start = float(z[i]), float(z[i + 1]), values[i]
            while hi - lo > BISECTION_TOLERANCE * max(1.0, abs(lo)):
                mid = 0.5 * (lo + hi)
                if f(np.array([mid]))[0] == start:
                    lo = mid
                else:
                    hi = mid
            jumps.append(float(output(np.array([0.5 * (lo + hi)]))[0]))
    return jumps or None


def refuse_steps(selection: LossSelection, link: str) -> None:
    """A step function has no curvature to chart: say what it is instead."""
    jumps = step_jumps(selection, link)
    if jumps is None:
        return
    name = selection.spec.name
    output = "the prediction" if link == "identity" else f"p = {link}(z)"
    symbol = "prediction" if link == "identity" else "p"
    at = ", ".join(sorted({f"{symbol} = {j:.6g}" for j in jumps}))
    raise UsageError(
        f"{name} is a step function of {output}: piecewise constant, jumping at {at}; its "
        f"derivative is 0 almost everywhere (no gradient to train on) and it is not convex, "
        f"so it has no curvature to chart. Explain a smooth surrogate instead, e.g. "
        f"loss explain bce"
    )


def analyse(selection: LossSelection, link: str) -> ConvexityReport:
    """Where the loss, composed with ``link``, is not convex in the pre-activation."""
    if link not in LINKS:
        raise UsageError(f"unknown link {link!r}; choose one of {', '.join(LINKS)}")
    refuse_set_figures(selection)
    refuse_steps(selection, link)
    spec = selection.spec
    y_values = (0.0, 1.0)
    intervals: list[Interval] = []
    curves: list[Curve] = []
    notes: list[str] = []
    for y in y_values:
        f, output = _loss_of_z(selection, link, y)
        # What the kernel reads: the link's output for regression losses, z itself
        # (a logit, or the probability on an identity link) for the others.
        kernel_input = output if spec.task is Task.REGRESSION else None
        z = _grid(selection, link, y)
        d2_grid, noise = second_derivative(f, z, kernel_input)
        valid = np.isfinite(d2_grid)
        if not valid.any():
            notes.append(f"y_true = {y:g} is outside the domain of {spec.name}; skipped")
            continue
        z, d2_grid, noise = z[valid], d2_grid[valid], noise[valid]
        # Within its rounding noise a value is 0 (hinge, mbe: +-2e-9 of noise around a
        # true 0), in the JSON and on the chart alike, as it is for the verdict.
        d2_grid = np.where(np.abs(d2_grid) <= noise, 0.0, d2_grid)
        curves.append(Curve(y, output(z), d2_grid))

        def is_negative(
            points: np.ndarray, f: Callable[[np.ndarray], np.ndarray] = f
        ) -> np.ndarray:
            # Refinement uses the plain sign: the bracket already holds a real crossing,
            # and a tolerance here would shift the boundary.
            return second_derivative(f, points)[0] < 0

        # The tolerance is each point's own rounding noise, never a share of the
        # curve's largest value: that is 1e13 near mu = 0 for tweedie with power 4,
        # and hid its whole non-convex interval mu > 4/3.
        negative = d2_grid < -noise
        if not negative.any():
            continue
        flips = np.flatnonzero(negative[1:] != negative[:-1])
        edges = (
            _bisect(is_negative, z[flips], z[flips + 1], negative[flips])
            if flips.size
            else np.empty(0)
        )
        edges = snap_to_kinks(edges, known_kinks(selection, link, y), is_negative)
        boundaries = output(edges)
        lower = float(output(z[:1])[0]) if link == "identity" else 0.0
        upper = float(output(z[-1:])[0]) if link == "identity" else 1.0
        points = [lower] + [float(b) for b in boundaries] + [upper]
        inside = bool(negative[0])
        for start, end in zip(points[:-1], points[1:]):
            if inside:
                intervals.append(Interval(y, start, end))
            inside = not inside
    if spec.properties.margin_based and spec.task is not Task.REGRESSION:
        notes.append(f"{spec.name} reads a raw score: the pre-activation z is the score itself")
    return ConvexityReport(
        loss=spec.name,
        label=selection.label,
        params=dict(selection.params),
        link=link,
        output_name="prediction" if link == "identity" else "p = " + link + "(z)",
        convex=not intervals,
        nonconvex=intervals,
        curves=curves,
        notes=notes,
    )


# --------------------------------------------------------------------------- chart scale

WIDE_RANGE = 100.0  # max |d2| / 75th percentile of |d2| above this: symlog chart axis
DECADES = 6  # decades shown on a symlog axis above its linear part


@dataclass(frozen=True)
class ChartScale:
    """How the chart's y axis shows d2L/dz2: linear, or symlog when the range is wide.

    Symlog maps y to sign(y) log10(1 + |y| / c): linear near 0 (so the zero line
    and the sign stay where they are) and logarithmic beyond c, a power of ten
    near the typical size of d2L/dz2. bce with an identity link has 1/p^2,
    which reaches ~1e7 at the edges: on a linear axis every curve hugs a border.
    """

    symlog: bool
    threshold: float = 1.0
    ticks: tuple[float, ...] = ()  # in transformed units
    labels: tuple[str, ...] = ()

    def apply(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        if not self.symlog:
            return values
        return cast(np.ndarray, np.sign(values) * np.log10(1.0 + np.abs(values) / self.threshold))


def chart_scale(curves: list[Curve]) -> ChartScale:
    """A readable y scale for the curves of d2L/dz2 (see :class:`ChartScale`)."""
    finite = [c.second_derivative[np.isfinite(c.second_derivative)] for c in curves]
    values = np.abs(np.concatenate(finite)) if finite else np.empty(0)
    if values.size == 0:
        return ChartScale(False)
    largest = float(np.max(values))
    typical = float(np.percentile(values, 75))
    if not largest > WIDE_RANGE * max(typical, 1e-300):
        return ChartScale(False)
    # At most DECADES decades above the threshold: a kink (mae) has d2 ~ 0 almost
    # everywhere, and noise-level values would otherwise set the threshold.
    threshold = 10.0 ** np.floor(np.log10(max(typical, largest * 10.0**-DECADES)))
    signed = np.concatenate([c.second_derivative for c in curves])
    signed = signed[np.isfinite(signed)]
    scale = ChartScale(True, threshold)
    ticks, labels = [0.0], ["0"]
    both_signs = bool(np.any(signed < 0) and np.any(signed > 0))
    for sign in (1.0, -1.0):
        side = np.abs(signed[signed * sign > 0])
        bound = float(np.max(side)) if side.size else 0.0
        # With both signs, +-threshold would share the zero line's row: start a decade up.
        exponent = int(round(np.log10(threshold))) + (1 if both_signs else 0)
        while 10.0**exponent <= bound:
            ticks.append(float(scale.apply(np.array([sign * 10.0**exponent]))[0]))
            labels.append(f"{'-' if sign < 0 else ''}1e{exponent}")
            exponent += 1
    order = np.argsort(ticks)
    return ChartScale(
        True, threshold, tuple(ticks[i] for i in order), tuple(labels[i] for i in order)
    )
