"""The loss registry: every loss is declared once, with its metadata, by ``@register``.

Everything user-facing is derived from these declarations: ``loss list`` and
``loss info``, option parsing and close-name suggestions, the default panels,
the property table of ``compare``, the README's table and the property tests
that run over the whole registry.

A kernel takes a :class:`LossInputs` plus its parameters as keyword arguments
and returns one loss per row (float64). Reduction to a single number happens
in exactly one place, :mod:`losscli.core.reduction`, according to the loss's
``reduction`` kind.
"""

from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from typing import Any

import numpy as np

from losscli.errors import UsageError

EPS = float(np.finfo(np.float64).eps)


class Task(str, Enum):
    """The kind of prediction problem a loss belongs to."""

    REGRESSION = "regression"
    BINARY = "binary"
    MULTICLASS = "multiclass"
    DETECTION = "detection"
    SIMILARITY = "similarity"
    GENERATIVE = "generative"
    VAE = "vae"
    INTERVAL = "interval"  # SPEC 12: y_lower/y_upper prediction intervals
    QUANTILE = "quantile"  # SPEC 12: y_pred_q<level> quantile forecasts


class Reduction(str, Enum):
    """How per-sample losses become one value (see :mod:`losscli.core.reduction`)."""

    MEAN = "mean"  # sum(w*l) / sum(w)
    SQRT_MEAN = "sqrt_mean"  # sqrt(sum(w*l) / sum(w))  (rmse, rmsle)
    MEDIAN = "median"  # weighted median, averaged inverted CDF (median_ae)
    MAX = "max"  # max over rows, weights ignored (max_error)
    # issue 6 (GAN losses): sum(w*l) with weights already normalised per term
    # (1/n_real, 1/n_fake), so -(mean log d_real + mean log(1 - d_fake)) is one sum.
    SUM = "sum"
    # SPEC 12 figures: the kernel returns per-row components, reduced by ratios of sums.
    R2 = "r2"  # components (e, y): 1 - sum w e^2 / sum w (y - ybar)^2
    EXPLAINED_VARIANCE = "explained_variance"  # (e, y): 1 - var_w(e) / var_w(y)
    D2_QUANTILE = "d2_quantile"  # (pinball(e), y): 1 - sum / sum pinball(y - q_alpha(y))
    D2_TWEEDIE = "d2_tweedie"  # (dev(y, p), y): 1 - sum / sum dev(y, ybar)
    ECE = "ece"  # (confidence, correct): binned L1 calibration gap
    MCE = "mce"  # (confidence, correct): largest binned calibration gap


class Direction(str, Enum):
    """Which way a figure improves: losses fall (lower), scores rise (higher).

    Rankings, the agreement of ``compare``, ``--fail-above``/``--fail-below`` and
    ``recommend`` read it from the registry; nothing else decides it.
    """

    LOWER = "lower"  # a loss: 0 (or the smallest value) is best
    HIGHER = "higher"  # a score: r2, accuracy (1 is best)
    # closer to a nominal value is better: an interval's coverage should equal its
    # nominal level (more is as wrong as less; wide intervals buy coverage). Such a
    # figure is reported, gated both ways, and never ranks models on its own: rank
    # intervals by interval_score, which prices width and misses together.
    NOMINAL = "nominal"


#: reductions of one per-row term; the others read several per-row components.
PLAIN_REDUCTIONS = frozenset(
    {Reduction.MEAN, Reduction.SQRT_MEAN, Reduction.MEDIAN, Reduction.MAX, Reduction.SUM}
)


@dataclass(frozen=True)
class ParamReduction:
    """A reduction kind with the loss parameters it reads (d2_pinball's alpha, ...)."""

    kind: Reduction
    params: tuple[tuple[str, Any], ...] = ()

    def param(self, name: str) -> Any:
        return dict(self.params)[name]


Reducer = Reduction | ParamReduction


def _shaped(values: Any, kind: Reduction) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if kind in PLAIN_REDUCTIONS:
        return array.reshape(-1)
    if array.ndim == 0 or array.shape[0] == 0:  # no rows (an empty chunk): keep the components
        width = int(np.prod(array.shape[1:])) if array.ndim > 1 else 0
        return array.reshape(0, width)
    return array.reshape(array.shape[0], -1)


@dataclass(frozen=True)
class LossInputs:
    """What a kernel sees: float64 arrays, already validated by io.

    regression/binary: ``y_true`` and ``y_pred`` have shape (n,); binary labels
    are 0/1. multiclass: ``y_true`` is the (n, K) target matrix (one-hot or
    soft), ``y_pred`` the (n, K) class probabilities or logits, ``labels`` the
    hard class index per row (or None for soft targets). Structured families
    put their named columns in ``extra``.
    """

    y_true: np.ndarray
    y_pred: np.ndarray
    from_logits: bool = False
    labels: np.ndarray | None = None
    extra: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.y_pred.shape[0])

    @cached_property
    def residual(self) -> np.ndarray:
        """e = y_true - y_pred in float64, computed once and shared by every loss.

        Kernels must not modify it in place.
        """
        residual = np.asarray(self.y_true, dtype=np.float64) - np.asarray(
            self.y_pred, dtype=np.float64
        )
        residual.flags.writeable = False
        return residual

    @cached_property
    def abs_residual(self) -> np.ndarray:
        """|e|, computed once and shared (mae, huber, log_cosh, median_ae, ...); read-only."""
        value: np.ndarray = np.abs(self.residual)
        value.flags.writeable = False
        return value

    @cached_property
    def squared_residual(self) -> np.ndarray:
        """e^2 (inf where it overflows), computed once and shared (mse, rmse); read-only."""
        with np.errstate(over="ignore"):
            value: np.ndarray = np.square(self.residual)
        value.flags.writeable = False
        return value

    def take(self, index: np.ndarray) -> LossInputs:
        """The same inputs restricted to some rows (index or boolean mask)."""
        return LossInputs(
            y_true=self.y_true[index],
            y_pred=self.y_pred[index],
            from_logits=self.from_logits,
            labels=None if self.labels is None else self.labels[index],
            extra={k: v[index] for k, v in self.extra.items()},
        )


@dataclass(frozen=True)
class Param:
    """One parameter of a loss: name, default, type and the values it accepts."""

    name: str
    default: Any
    kind: type = float
    check: Callable[[Any], bool] | None = None
    requirement: str = ""  # human text of ``check``, e.g. "> 0"
    help: str = ""
    choices: tuple[str, ...] = ()

    def convert(self, raw: Any, loss: str) -> Any:
        """Convert a command-line string (or a Python value) and validate it."""
        try:
            if self.choices:
                value: Any = str(raw).lower()
                if value not in self.choices:
                    raise ValueError
            elif self.kind is bool and isinstance(raw, str):
                low = raw.lower()
                if low not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError
                value = low in ("true", "1", "yes")
            else:
                value = self.kind(raw)
                if self.kind is float and not np.isfinite(value):
                    raise ValueError
        except (TypeError, ValueError):
            allowed = (
                f"one of {', '.join(self.choices)}"
                if self.choices
                else "a finite number"
                if self.kind is float
                else f"a {self.kind.__name__}"
            )
            raise UsageError(
                f"invalid value {raw!r} for parameter {self.name} of loss {loss}: expected {allowed}"
            ) from None
        if self.check is not None and not self.check(value):
            raise UsageError(
                f"invalid value {raw!r} for parameter {self.name} of loss {loss}: "
                f"it must be {self.requirement}"
            )
        return value


@dataclass(frozen=True)
class DomainRule:
    """A condition on one input array, e.g. y_pred in [0, 1] for probability losses.

    ``valid`` maps the array to a boolean mask of acceptable entries (for 2-D
    inputs, per entry). ``skip_with_logits`` rules do not apply under
    --from-logits (logits may be any real number).
    """

    target: str  # "y_true" or "y_pred" or a key of LossInputs.extra
    valid: Callable[[np.ndarray], np.ndarray]
    requirement: str  # e.g. "in [0, 1]", "> -1"
    skip_with_logits: bool = False
    hint: str = ""


@dataclass(frozen=True)
class Properties:
    """The guide's property table, plus the facts the property tests rely on."""

    convex: bool
    smooth: bool
    robust: bool  # bounded gradient: large errors do not dominate
    probabilistic: bool
    margin_based: bool
    sparse: bool = False  # sparse solutions (hinge-type)
    nonnegative: bool = True
    zero_at_perfect: bool = True  # loss is 0 when y_pred equals y_true (p = y for probabilities)


@dataclass(frozen=True)
class LossSpec:
    """Everything losscli knows about one loss."""

    name: str
    kernel: Callable[..., np.ndarray]
    task: Task
    summary: str
    formula: str
    properties: Properties
    reference: str
    aliases: tuple[str, ...] = ()
    params: tuple[Param, ...] = ()
    domain: tuple[DomainRule, ...] = ()
    domain_fn: Callable[[Mapping[str, Any]], tuple[DomainRule, ...]] | None = None
    reduction: Reduction = Reduction.MEAN
    default: bool = False  # member of the task's default panel
    # The default panel includes this loss only when the data provide all these
    # features (Dataset.features), e.g. "hard_labels" for multiclass_hinge.
    panel_requires: tuple[str, ...] = ()
    percent: bool = False  # a fraction shown as % in tables (mape, smape)
    signed: bool = False  # may be negative; rank by absolute value (mbe)
    unit: str = ""  # "target", "target^2", "" (unitless)
    advice: str = ""  # when to use it, per the guide
    conventions: str = ""  # where other libraries differ
    # The rows where the loss is defined, as a boolean mask of the inputs (None: all
    # rows). The kernel returns 0 elsewhere so the reduction is unchanged; per-row
    # statistics and --per-sample use only the supported rows (GAN generator losses:
    # the d_fake rows).
    support: Callable[[LossInputs], np.ndarray] | None = None
    direction: Direction = Direction.LOWER
    # Other tasks this figure also scores (accuracy: binary and multiclass); the
    # kernel tells them apart by the shape of y_pred.
    also_tasks: tuple[Task, ...] = ()
    # A figure to report, not to train on (scores, zero-one, calibration, coverage):
    # recommend never recommends it and warns when it is planned as a training loss.
    evaluation_only: bool = False
    # A parameter shown in the figure's name (pinball_q0.9 = pinball_q with level=0.9);
    # `pinball_q0.9` is accepted in --losses, and the default panel takes one selection
    # per value the data provide (Dataset.features "level=0.9").
    label_param: str = ""

    @property
    def higher_is_better(self) -> bool:
        return self.direction is Direction.HIGHER

    @property
    def nominal(self) -> bool:
        """Closer to a nominal value is better (coverage): no ranking, gates both ways."""
        return self.direction is Direction.NOMINAL

    @property
    def tasks(self) -> tuple[Task, ...]:
        """Every task this figure scores: its own, then ``also_tasks``."""
        return (self.task, *self.also_tasks)

    def resolve_params(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults filled in, every given value converted and validated."""
        known = {p.name: p for p in self.params}
        values = {p.name: p.default for p in self.params}
        for key, raw in given.items():
            param = known.get(key.lower())
            if param is None:
                accepted = ", ".join(known) if known else "none"
                guess = _close(key.lower(), list(known))
                raise UsageError(
                    f"unknown parameter {key!r} for loss {self.name} "
                    f"(parameters: {accepted}){guess}"
                )
            values[param.name] = param.convert(raw, self.name)
        return values

    def domain_for(self, params: Mapping[str, Any]) -> tuple[DomainRule, ...]:
        """The domain rules that apply with these parameter values."""
        if self.domain_fn is not None:
            return self.domain + self.domain_fn(params)
        return self.domain

    def per_sample(self, inputs: LossInputs, params: Mapping[str, Any] | None = None) -> np.ndarray:
        """Per-row losses for these inputs (float64, shape (n,)).

        Figures that are not reductions of one per-row term (r2, ece: see
        ``PLAIN_REDUCTIONS``) return their per-row components, shape (n, k).
        """
        values = self.kernel(inputs, **self.resolve_params(params or {}))
        return _shaped(values, self.reduction)


@dataclass(frozen=True)
class LossSelection:
    """A loss chosen on the command line, with its resolved parameters."""

    spec: LossSpec
    params: dict[str, Any]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def label(self) -> str:
        """``huber`` for defaults, ``huber(delta=2)`` when parameters were changed."""
        named = self.spec.label_param
        base = self.spec.name + (_fmt_param(self.params[named]) if named else "")
        changed = {
            p.name: self.params[p.name]
            for p in self.spec.params
            if self.params[p.name] != p.default and p.name != named
        }
        if not changed:
            return base
        inner = ",".join(f"{k}={_fmt_param(v)}" for k, v in changed.items())
        return f"{base}({inner})"

    @property
    def reducer(self) -> Reducer:
        """What :func:`losscli.core.reduction.reduce_values` needs: the kind, with parameters.

        Plain kinds (mean, median, ...) need none and are the enum itself; the
        SPEC 12 figures' reductions carry the loss parameters they read
        (d2_pinball's alpha, d2_tweedie's power, ece's n_bins).
        """
        kind = self.spec.reduction
        if kind in PLAIN_REDUCTIONS:
            return kind
        return ParamReduction(kind, tuple(sorted(self.params.items())))

    def per_sample(self, inputs: LossInputs) -> np.ndarray:
        values = self.spec.kernel(inputs, **self.params)
        return _shaped(values, self.spec.reduction)


def _fmt_param(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


_REGISTRY: dict[str, LossSpec] = {}
_ALIASES: dict[str, str] = {}


def register(
    name: str,
    *,
    task: Task,
    formula: str,
    properties: Properties,
    reference: str,
    aliases: tuple[str, ...] = (),
    params: tuple[Param, ...] = (),
    domain: tuple[DomainRule, ...] = (),
    domain_fn: Callable[[Mapping[str, Any]], tuple[DomainRule, ...]] | None = None,
    reduction: Reduction = Reduction.MEAN,
    default: bool = False,
    panel_requires: tuple[str, ...] = (),
    percent: bool = False,
    signed: bool = False,
    unit: str = "",
    advice: str = "",
    conventions: str = "",
    support: Callable[[LossInputs], np.ndarray] | None = None,
    direction: Direction = Direction.LOWER,
    evaluation_only: bool = False,
    also_tasks: tuple[Task, ...] = (),
    label_param: str = "",
) -> Callable[[Callable[..., np.ndarray]], Callable[..., np.ndarray]]:
    """Declare a loss. The kernel's docstring's first line becomes its summary."""

    def decorate(kernel: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
        doc = inspect.getdoc(kernel) or ""
        summary = doc.strip().splitlines()[0] if doc.strip() else ""
        key = name.lower()
        if key in _REGISTRY or key in _ALIASES:
            raise ValueError(f"loss {name!r} registered twice")
        spec = LossSpec(
            name=key,
            kernel=kernel,
            task=task,
            summary=summary,
            formula=formula,
            properties=properties,
            reference=reference,
            aliases=tuple(a.lower() for a in aliases),
            params=params,
            domain=domain,
            domain_fn=domain_fn,
            reduction=reduction,
            default=default,
            panel_requires=panel_requires,
            percent=percent,
            signed=signed,
            unit=unit,
            advice=advice,
            conventions=conventions,
            support=support,
            direction=direction,
            evaluation_only=evaluation_only or direction is not Direction.LOWER,
            also_tasks=also_tasks,
            label_param=label_param,
        )
        _REGISTRY[key] = spec
        for alias in spec.aliases:
            if alias in _REGISTRY or alias in _ALIASES:
                raise ValueError(f"alias {alias!r} of {name!r} already taken")
            _ALIASES[alias] = key
        return kernel

    return decorate


def unregister(name: str) -> None:
    """Remove a loss (used for user-defined --custom losses and in tests)."""
    spec = _REGISTRY.pop(name.lower(), None)
    if spec is not None:
        for alias in spec.aliases:
            _ALIASES.pop(alias, None)


def _ensure_loaded() -> None:
    # The kernels register themselves on import; importing here keeps
    # `from losscli.core.registry import get_loss` self-sufficient.
    from losscli.core import losses  # noqa: F401


def all_losses() -> list[LossSpec]:
    """Every registered loss, in catalogue order."""
    _ensure_loaded()
    return list(_REGISTRY.values())


def losses_for_task(task: Task) -> list[LossSpec]:
    return [s for s in all_losses() if task in s.tasks]


# What a typical file of each task provides; default_panel() assumes it when
# the caller does not say (e.g. `loss list`, tests, flags-only commands).
TYPICAL_FEATURES: dict[Task, frozenset[str]] = {
    Task.BINARY: frozenset({"probabilities", "scores"}),
    Task.MULTICLASS: frozenset({"hard_labels", "probabilities", "scores"}),
    Task.SIMILARITY: frozenset({"pairs"}),
    Task.GENERATIVE: frozenset({"d_real"}),
    Task.VAE: frozenset({"reconstruction"}),
}

# Why a loss of the task's usual panel was left out, for the features a user
# would otherwise wonder about (the families print their own notes).
MISSING_FEATURE_REASON: dict[str, str] = {
    "probabilities": (
        "y_pred is not in [0, 1] (these need probabilities; add --from-logits if "
        "the predictions are logits)"
    ),
    "hard_labels": "the targets are soft (y_true_* columns), not class labels",
    "scores": (
        "the predictions are probabilities (all in [0, 1]), and margin losses read raw "
        "scores: on probabilities every row sits inside the margin of 1, so they measure "
        "the probability scale, not a margin (give decision scores, logits with "
        "--from-logits, or name them in --losses)"
    ),
}


def default_panel(task: Task, features: Collection[str] | None = None) -> list[LossSpec]:
    """The losses computed when --losses is not given (SPEC section 3).

    ``features`` are what the data provide (``Dataset.features``): a loss with
    ``panel_requires`` joins the panel only when all of them are present.
    """
    have = TYPICAL_FEATURES.get(task, frozenset()) if features is None else frozenset(features)
    return [s for s in losses_for_task(task) if s.default and set(s.panel_requires) <= have]


def panel_omissions(task: Task, features: Collection[str]) -> list[str]:
    """Notes naming default-panel losses these data leave out, and why."""
    typical = default_panel(task)
    have = set(default_panel(task, features))
    missing: dict[str, list[str]] = {}
    for spec in typical:
        if spec in have:
            continue
        for feature in spec.panel_requires:
            if feature not in features and feature in MISSING_FEATURE_REASON:
                missing.setdefault(feature, []).append(spec.name)
                break
    return [
        f"{', '.join(names)} left out of the default panel: {MISSING_FEATURE_REASON[f]}"
        for f, names in missing.items()
    ]


def _close(word: str, candidates: list[str]) -> str:
    # A name one keystroke away (mea for mae: two letters swapped) first, then what
    # difflib finds similar: its ratio ranks medae above mae for "mea".
    typos = sorted(
        (c for c in candidates if _one_edit(word.lower(), c.lower())),
        key=lambda c: -difflib.SequenceMatcher(None, word, c).ratio(),
    )
    similar = difflib.get_close_matches(word, candidates, n=3, cutoff=0.6)
    matches = list(dict.fromkeys(typos + similar))[:3]
    if not matches:
        return ""
    return "; did you mean " + " or ".join(matches) + "?"


def _one_edit(a: str, b: str) -> bool:
    """Whether b is a with one letter changed, added or dropped, or two neighbours swapped."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        i = diff[0]
        return len(diff) == 2 and diff[1] == i + 1 and a[i] == b[i + 1] and a[i + 1] == b[i]
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = next((k for k in range(len(short)) if short[k] != long_[k]), len(short))
    return short[i:] == long_[i + 1 :]


# --- user-defined losses (--custom, issue 6) ---------------------------------------------
# The CLI loads the user's file (losscli.custom) and hands the resulting specs here; they
# live apart from the catalogue (all_losses() never lists them) and are replaced as a whole
# on every command invocation. A custom loss adopts the task of the data it scores.
_CUSTOM: dict[str, LossSpec] = {}


def set_custom_losses(specs: list[LossSpec]) -> None:
    """Make these user-defined losses selectable (replacing any earlier set)."""
    _ensure_loaded()
    _CUSTOM.clear()
    for spec in specs:
        key = spec.name.lower()
        if key in _REGISTRY or key in _ALIASES:
            raise UsageError(
                f"custom loss {spec.name!r} has the name of a built-in loss; "
                f"rename the function (or factory) in your file"
            )
        _CUSTOM[key] = spec


def custom_losses() -> list[LossSpec]:
    """The user-defined losses of this invocation, in --custom order."""
    return list(_CUSTOM.values())


def is_custom(spec: LossSpec) -> bool:
    """Whether a loss is user code given with --custom (its results are checked as such)."""
    known = _CUSTOM.get(spec.name.lower())
    return known is not None and known.kernel is spec.kernel


def _for_task(spec: LossSpec, task: Task) -> LossSpec:
    if _CUSTOM.get(spec.name.lower()) is spec and spec.task is not task:
        from dataclasses import replace

        return replace(spec, task=task)
    return spec


# --- end user-defined losses ----------------------------------------------------------------


def get_loss(name: str) -> LossSpec:
    """Look a loss up by name or alias (case-insensitive); UsageError with suggestions."""
    _ensure_loaded()
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    spec = _REGISTRY.get(key) or _CUSTOM.get(key)
    if spec is None:
        names = list(_REGISTRY) + list(_ALIASES) + list(_CUSTOM)
        guess = _close(key, names)
        if not guess:
            guess = "; see `loss list` for the catalogue"
        raise UsageError(f"unknown loss {name.strip()!r}{guess}")
    return spec


def _labelled(name: str) -> tuple[LossSpec, str | None]:
    """``pinball_q0.9`` -> (pinball_q, "0.9"): a figure named with its label parameter."""
    _ensure_loaded()
    match = re.fullmatch(r"(.*?)(\d*\.?\d+)", name.strip().lower())
    if match:
        spec = _REGISTRY.get(match.group(1))
        if spec is not None and spec.label_param:
            return spec, match.group(2)
    return get_loss(name), None


def parse_loss_list(text: str) -> list[LossSelection]:
    """Parse ``mse,mae,huber:delta=2,focal:gamma=3:alpha=0.5`` (SPEC section 3)."""
    selections: list[LossSelection] = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        name, *raw_params = item.split(":")
        given: dict[str, str] = {}
        spec, implied = _labelled(name)
        if implied is not None:
            given[spec.label_param] = implied
        for raw in raw_params:
            key, sep, value = raw.partition("=")
            if not sep or not key.strip():
                raise UsageError(
                    f"bad parameter {raw!r} for loss {spec.name}: write NAME=VALUE, "
                    f"e.g. {spec.name}:{spec.params[0].name}={spec.params[0].default}"
                    if spec.params
                    else f"loss {spec.name} takes no parameters (got {raw!r})"
                )
            given[key.strip()] = value.strip()
        selections.append(LossSelection(spec, spec.resolve_params(given)))
    if not selections:
        raise UsageError("--losses is empty: name at least one loss, e.g. --losses mse,mae")
    return selections


def _feature_values(param: str, features: Collection[str] | None) -> list[str]:
    """The values the data provide for a label parameter: features "level=0.1", ..."""
    prefix = f"{param}="
    found = [f[len(prefix) :] for f in features or () if f.startswith(prefix)]
    return sorted(found, key=float)


def select_losses(
    specs: list[str] | None, task: Task, features: Collection[str] | None = None
) -> list[LossSelection]:
    """The user's --losses values (several options are joined), else the default panel."""
    if specs:
        chosen: list[LossSelection] = []
        for text in specs:
            chosen.extend(parse_loss_list(text))
        unique: list[LossSelection] = []
        for sel in chosen:
            if all(sel.spec is not u.spec or sel.params != u.params for u in unique):
                unique.append(sel)
    else:
        unique = []
        for s in default_panel(task, features):
            values: list[str | None] = []
            if s.label_param:
                values += _feature_values(s.label_param, features)
            for value in values or [None]:
                given = {} if value is None else {s.label_param: value}
                unique.append(LossSelection(s, s.resolve_params(given)))
    # --custom losses join the selection (or the default panel), with the data's task.
    named = {sel.spec.name for sel in unique}
    unique += [
        LossSelection(s, s.resolve_params({})) for s in _CUSTOM.values() if s.name not in named
    ]
    return [LossSelection(_for_task(sel.spec, task), sel.params) for sel in unique]
