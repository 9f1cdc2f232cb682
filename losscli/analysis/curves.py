"""Losses compared as functions: values and gradients over an error, probability or margin grid.

Every curve is evaluated through the registered kernel itself (one row per
grid point, each reduced on its own by the core's reduction), and its
gradient is derived from the same kernel by finite differences, so there is
no second, hand-kept list of formulas to drift from the catalogue. The kernel
sees the whole grid in one vectorised call, and the reduction of one row is
applied to all rows at once (the value itself, or its square root for rmse):
``--errors -3:3:100001`` costs a few array operations per loss, not 100,001
Python calls, with the numbers of the one-row reduction.

The grid variable depends on the loss:

- regression losses: the error ``e = y_true - y_pred`` (``--errors``), with
  ``y_true`` fixed at a reference value (0, or the smallest of 1, 2, 5, 10, ...
  for which every grid point lies in the loss's domain, e.g. y_pred > 0 for
  poisson; the curve records it as ``y_true``);
- probabilistic classification losses: the predicted probability of the true
  class (0.01 to 0.99), with y_true = 1 (binary) or the second of two classes
  (multiclass);
- margin-based losses (hinge-type): the margin ``t * s`` (-3 to 3).

Gradients are d loss / d (grid variable) -- for the error grid that is
d/de = -d/dy_pred. They come from central differences at four halving steps,
Richardson-extrapolated (about 12 correct digits where the loss is smooth),
and are rounded to the digits that the estimated error supports, so exact
slopes print exactly (0 for msle at e = 0, -100 for bce at p = 0.01). At a
kink (mae at 0, hinge at margin 1), where the extrapolated forward and
backward slopes differ, the slope is their mean, the midpoint subgradient.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from losscli.core.reduction import reduce_values
from losscli.core.registry import EPS, LossInputs, LossSelection, LossSpec, Reduction, Task
from losscli.errors import UsageError

ERROR = "error"
PROBABILITY = "probability"
MARGIN = "margin"

PROBABILITY_RANGE = (0.01, 0.99)
MARGIN_RANGE = (-3.0, 3.0)
DEFAULT_ERRORS = "-3:3:13"
CHART_POINTS = 161  # dense sampling used only to draw smooth charts
MAX_POINTS = 100_001

# Largest relative step of the difference tableau, and its number of halvings:
# with LEVELS steps the central tableau cancels the error terms up to
# h^(2 LEVELS - 1), so a step this large keeps the truncation error near 1e-15
# of the slope while rounding (eps |f| / step) stays near 1e-12.
STEP = 1e-3
LEVELS = 4
# How much the tableau can amplify the rounding error of one difference quotient.
ROUNDING_GAIN = 16.0
# Reference targets tried, in order, for regression losses whose value depends
# on the level of y_true or whose domain excludes y_true = 0.
REFERENCE_TARGETS = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 1e3, 1e4, 1e5, 1e6)

VARIABLE_TEXT = {
    ERROR: "error e = y_true - y_pred",
    PROBABILITY: "predicted probability p of the true class",
    MARGIN: "margin m = t*s (label t = +-1, score s)",
}


@dataclass(frozen=True)
class GridSpec:
    """START:STOP:N as given to --errors."""

    start: float
    stop: float
    n: int

    def points(self) -> np.ndarray:
        return np.linspace(self.start, self.stop, self.n)

    def with_range(self, start: float, stop: float) -> GridSpec:
        return GridSpec(start, stop, self.n)

    def text(self) -> str:
        return f"{self.start:g}:{self.stop:g}:{self.n}"


def parse_grid(text: str) -> GridSpec:
    """Parse ``START:STOP:N`` (e.g. ``-3:3:13``); UsageError when it is not that."""
    parts = text.split(":")
    example = f"e.g. {DEFAULT_ERRORS}"
    if len(parts) != 3:
        raise UsageError(f"--errors expects START:STOP:N, {example} (got {text!r})")
    try:
        start, stop = float(parts[0]), float(parts[1])
    except ValueError:
        raise UsageError(f"--errors {text}: START and STOP must be numbers, {example}") from None
    try:
        n = int(parts[2])
    except ValueError:
        raise UsageError(f"--errors {text}: N must be a whole number, {example}") from None
    if not (math.isfinite(start) and math.isfinite(stop)):
        raise UsageError(f"--errors {text}: START and STOP must be finite")
    if not start < stop:
        raise UsageError(f"--errors {text}: START must be smaller than STOP")
    if not 2 <= n <= MAX_POINTS:
        raise UsageError(f"--errors {text}: N must be between 2 and {MAX_POINTS}")
    return GridSpec(start, stop, n)


def curve_variable(spec: LossSpec) -> str:
    """The grid variable a loss is drawn against (error, probability or margin).

    Only regression and classification losses have one; the structured
    families (detection, similarity, generative, vae) are a usage error, checked
    before margin_based so that contrastive and triplet, margin-based
    similarity losses, never reach a kernel that needs their column families.
    """
    if spec.task not in (Task.REGRESSION, Task.BINARY, Task.MULTICLASS):
        raise _no_curve(spec)
    if spec.evaluation_only:
        # Scores, zero-one, calibration and interval figures are step functions of a
        # row or ratios over many rows: no curve of one row's value and gradient.
        raise UsageError(
            f"{spec.name} is a figure to report, not a loss of one row: it has no curve "
            f"over an error grid; compare it on a FILE instead (loss compare FILE -l "
            f"{spec.name})"
        )
    if spec.properties.margin_based:
        return MARGIN
    if spec.task is Task.REGRESSION:
        return ERROR
    return PROBABILITY


def _no_curve(spec: LossSpec) -> UsageError:
    return UsageError(
        f"loss {spec.name} ({spec.task.value}) has no curve over an error grid: it reads "
        f"fixed column families; compare it on a FILE instead (loss compare FILE -l {spec.name})"
    )


@dataclass(frozen=True)
class Curve:
    """One loss as a function of its grid variable."""

    loss: str
    label: str
    params: dict[str, Any]
    variable: str
    grid: np.ndarray
    values: np.ndarray
    gradients: np.ndarray
    reference: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "loss": self.loss,
            "label": self.label,
            "params": dict(self.params),
            "variable": self.variable,
            **self.reference,
            "grid": [float(v) for v in self.grid],
            "values": [float(v) for v in self.values],
            "gradients": [float(v) for v in self.gradients],
        }


def _inputs_for(spec: LossSpec, variable: str, x: np.ndarray, y0: float) -> LossInputs:
    n = x.shape[0]
    if variable == ERROR:
        return LossInputs(y_true=np.full(n, y0), y_pred=y0 - x)
    if spec.task is Task.MULTICLASS:
        # Two classes, the true one second: q = (1 - p, p), scores = (0, margin).
        target = np.tile([0.0, 1.0], (n, 1))
        labels = np.ones(n, dtype=np.int64)
        first = 1.0 - x if variable == PROBABILITY else np.zeros(n)
        return LossInputs(y_true=target, y_pred=np.column_stack([first, x]), labels=labels)
    # Binary, true class 1: y_pred is P(class 1) or the score, whose margin is t*s = s.
    return LossInputs(y_true=np.ones(n), y_pred=np.asarray(x, dtype=np.float64))


def _in_domain(selection: LossSelection, inputs: LossInputs) -> np.ndarray:
    ok = np.ones(len(inputs), dtype=bool)
    for rule in selection.spec.domain_for(selection.params):
        values = getattr(inputs, rule.target, None)
        if values is None:
            continue
        valid = np.asarray(rule.valid(values), dtype=bool)
        ok &= valid.all(axis=1) if valid.ndim == 2 else valid
    return ok


# Reductions whose value on one row is that row's value: the mean, the sum, the
# median and the max of a single number are the number.
_ONE_ROW_IS_ITSELF = (Reduction.MEAN, Reduction.SUM, Reduction.MEDIAN)


def reduce_each_row(per_row: np.ndarray, reduction: Any) -> np.ndarray:
    """Each row reduced on its own, as ``reduce_values(per_row[i:i+1])`` for every i.

    Vectorised for the plain reductions; any other reduction (none has a curve
    today) falls back to one call per row, so the numbers never differ.
    """
    values = np.asarray(per_row, dtype=np.float64)
    if values.ndim == 1:
        if reduction in _ONE_ROW_IS_ITSELF:
            return cast(np.ndarray, values.copy())
        if reduction is Reduction.SQRT_MEAN:
            with np.errstate(invalid="ignore"):
                return np.sqrt(values)
        if reduction is Reduction.MAX:
            # The max accumulator keeps -inf when its only value is NaN (NaN > -inf
            # is false): the same here.
            return np.where(np.isnan(values), -np.inf, values)
    return np.array([reduce_values(values[i : i + 1], None, reduction) for i in range(len(values))])


def _loss_function(
    selection: LossSelection, variable: str, y0: float
) -> Callable[[np.ndarray], np.ndarray]:
    """x -> the loss of one sample at each x (NaN outside the loss's domain)."""
    spec = selection.spec

    def evaluate(x: np.ndarray) -> np.ndarray:
        inputs = _inputs_for(spec, variable, x, y0)
        with np.errstate(all="ignore"):
            per_row = selection.per_sample(inputs)
        ok = _in_domain(selection, inputs)
        # Each grid point is a data set of one row, reduced on its own (sqrt for rmse).
        single = reduce_each_row(per_row, spec.reduction)
        return np.where(ok, single, np.nan)

    return evaluate


def _input_scale(variable: str, x: np.ndarray, level: float = 0.0) -> np.ndarray:
    """How large the kernel's inputs are around each point (the unit of its step)."""
    if variable == PROBABILITY:
        return cast(np.ndarray, np.minimum(x, 1.0 - x))  # the distance to the edge of (0, 1)
    # The kernel sees y_pred = level - x: the larger magnitude counts.
    return cast(np.ndarray, np.maximum(max(1.0, abs(level)), np.abs(x)))


def _steps(variable: str, x: np.ndarray, level: float = 0.0) -> np.ndarray:
    """The largest step of the difference tableau at each point (a power of two)."""
    h = STEP * _input_scale(variable, x, level)  # inside (0, 1) for probabilities
    if x.shape[0] > 1:
        # The stencil stays well inside the gap to the next grid point, so a
        # kink at a neighbouring point (mae at 0 on a fine grid) is not crossed.
        h = np.minimum(h, float(np.min(np.diff(x))) / 8.0)
    # A power of two: x +- h / 2^k and y_true - (x +- h / 2^k) are then exact for
    # the usual dyadic grid points, so a symmetric kink gives a slope of exactly 0.
    return np.exp2(np.round(np.log2(h)))


def _richardson(quotients: list[np.ndarray], order_step: int) -> tuple[np.ndarray, np.ndarray]:
    """Richardson extrapolation of difference quotients at steps h, h/2, h/4, ...

    ``order_step`` is 2 for central differences (error in h^2, h^4, ...) and 1
    for one-sided ones (h, h^2, ...). Returns the most extrapolated estimate
    and the size of its last correction, the usual estimate of its error.
    """
    row = [quotients[0]]
    for quotient in quotients[1:]:
        new_row = [quotient]
        for j, previous in enumerate(row, start=1):
            factor = 2.0 ** (order_step * j)
            new_row.append((factor * new_row[-1] - previous) / (factor - 1.0))
        row = new_row
    return row[-1], np.abs(row[-1] - row[-2])


def finite_difference(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, h: np.ndarray, scale: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The slope of ``f`` at ``x`` and a bound on its error.

    Central differences at steps h, h/2, ..., h/2^(LEVELS-1), extrapolated
    (Richardson), are accurate to about 1e-12 where ``f`` is smooth. Forward
    and backward differences, extrapolated the same way, see each side of
    ``x`` alone: where their mean and the central estimate disagree, a
    derivative jumps at ``x`` (mae at 0, hinge at margin 1, huber at delta)
    and the slope is that mean, the midpoint subgradient at a kink.
    """
    steps = [h / 2.0**k for k in range(LEVELS)]
    f_0 = f(x)
    ahead = [f(x + s) for s in steps]
    behind = [f(x - s) for s in steps]
    central, central_err = _richardson(
        [(a - b) / (2.0 * s) for a, b, s in zip(ahead, behind, steps)], 2
    )
    forward, forward_err = _richardson([(a - f_0) / s for a, s in zip(ahead, steps)], 1)
    backward, backward_err = _richardson([(f_0 - b) / s for b, s in zip(behind, steps)], 1)
    # Rounding: each quotient carries about eps |f| / step, amplified by the
    # tableau. Inside a kernel, terms as large as the curve's steepest slope
    # times the inputs' scale may cancel (poisson at e = 0: y log(y/p) - y + p), so the values
    # are good only to eps times that, even where the loss itself is near 0.
    size = np.maximum.reduce([np.abs(v) for v in [f_0, *ahead, *behind]])
    finite = np.abs(central[np.isfinite(central)])
    steepest = float(finite.max()) if finite.size else 0.0
    size = np.fmax(size, scale * steepest)
    rounding = ROUNDING_GAIN * EPS * size / steps[-1]
    one_sided = 0.5 * (forward + backward)
    one_sided_err = np.maximum(forward_err, backward_err) + 4.0 * rounding
    # Central differences assume the loss is smooth across x; where they and
    # the one-sided mean disagree, a derivative jumps at x and one-sided wins.
    kink = np.abs(central - one_sided) > 10.0 * one_sided_err
    slope = np.where(kink, one_sided, central)
    error = np.where(kink, one_sided_err, central_err + rounding)
    return slope, error


def clean_slope(slope: float, error: float) -> float:
    """The slope with only the digits its error supports (at most 12); 0 below the error.

    Rounding to one decimal place above the error turns 99.99999999998 into
    100 and 3e-12 into 0, the exact values the kernels' formulas give.
    """
    if not math.isfinite(slope):
        return slope
    if not math.isfinite(error):
        return slope
    error = max(error, abs(slope) * 1e-12, 1e-300)
    quantum = math.ceil(math.log10(error))
    if abs(slope) < 10.0**quantum / 2.0:
        return 0.0
    digits = math.floor(math.log10(abs(slope))) - quantum + 1
    if digits < 1:
        return 0.0
    return float(f"{slope:.{digits - 1}e}") + 0.0


def reference_target(selection: LossSelection, grid: np.ndarray) -> float:
    """y_true for a regression curve: 0 when any level will do, else the first that fits."""
    spec = selection.spec
    if not spec.domain_for(selection.params) and not spec.percent:
        return 0.0
    for y0 in REFERENCE_TARGETS:
        h = _steps(ERROR, grid, y0)
        stencil = np.concatenate([grid - h, grid + h, grid])
        inputs = _inputs_for(spec, ERROR, stencil, y0)
        if _in_domain(selection, inputs).all():
            return y0
    return REFERENCE_TARGETS[-1]


def loss_curve(selection: LossSelection, errors: GridSpec, *, with_gradients: bool = True) -> Curve:
    """The curve of one selected loss; regression losses use ``errors``, others their own range."""
    spec = selection.spec
    variable = curve_variable(spec)
    if variable == ERROR:
        grid = errors.points()
    elif variable == PROBABILITY:
        grid = errors.with_range(*PROBABILITY_RANGE).points()
    else:
        grid = errors.with_range(*MARGIN_RANGE).points()
    reference: dict[str, float] = {}
    y0 = 0.0
    if variable == ERROR:
        y0 = reference_target(selection, grid)
        reference = {"y_true": y0}
    f = _loss_function(selection, variable, y0)
    values = f(grid)
    gradients = np.full_like(grid, np.nan)
    if with_gradients:
        with np.errstate(all="ignore"):
            steps, scale = _steps(variable, grid, y0), _input_scale(variable, grid, y0)
            slopes, errors_ = finite_difference(f, grid, steps, scale)
        gradients = np.array([clean_slope(float(g), float(e)) for g, e in zip(slopes, errors_)])
    return Curve(
        loss=spec.name,
        label=selection.label,
        params=dict(selection.params),
        variable=variable,
        grid=grid,
        values=values,
        gradients=gradients,
        reference=reference,
    )


@dataclass(frozen=True)
class CurvesReport:
    """What ``loss compare`` without a FILE found: curves, chart curves, the losses' specs."""

    errors: GridSpec
    curves: list[Curve]
    chart_curves: list[Curve]
    specs: list[LossSpec]

    @property
    def grid(self) -> np.ndarray:
        return self.errors.points()

    def variables(self) -> list[str]:
        """The grid variables present, in a fixed order (error, probability, margin)."""
        present = {c.variable for c in self.curves}
        return [v for v in (ERROR, PROBABILITY, MARGIN) if v in present]


def compare_curves(selections: list[LossSelection], errors: GridSpec) -> CurvesReport:
    """Curves of every selected loss over its grid, plus dense versions for the charts."""
    for selection in selections:
        curve_variable(selection.spec)  # fail early for losses without a curve
    curves = [loss_curve(s, errors) for s in selections]
    dense = GridSpec(errors.start, errors.stop, max(errors.n, CHART_POINTS))
    chart_curves = [loss_curve(s, dense, with_gradients=False) for s in selections]
    specs: list[LossSpec] = []
    for selection in selections:
        if all(selection.spec.name != known.name for known in specs):
            specs.append(selection.spec)
    return CurvesReport(errors=errors, curves=curves, chart_curves=chart_curves, specs=specs)
