"""The guide's choosing rules, as data: one :class:`Rule` per sentence, one pure evaluator.

Each rule carries its id, the sentence(s) of the guide it encodes (quoted
verbatim, with the seed file in ``../shared/seeds/``), a test on the
:class:`Facts` (the user's flags reconciled with the measured profile), the
losses it supports (with a weight in [0, 1]) or warns against (with a
penalty in [0, 1]), and a function that states the evidence it saw with the
threshold it used. :func:`evaluate` runs every rule on the facts and returns
the ones that fired; :mod:`losscli.analysis.recommend` turns them into scores.

Scoring (see :mod:`losscli.analysis.recommend`): a loss's support is the
noisy-or of the weights of the rules that back it, ``1 - prod(1 - w)``, and
its score is ``support * prod(1 - penalty)`` over the rules that warn against
it; a loss with a combined penalty >= ``AVOID_PENALTY`` is listed under
``avoid`` instead of ``recommendations``.

One precedence on top: *a flag's objection outweighs a flag's backing*. When a
rule that fired because of one of the user's own flags (``Rule.flags``, e.g.
R-SMOOTH from ``--smooth``) warns against a loss, the backing that loss gets
from rules fired by the user's flags does not count (it is reported as
"overruled"); only the backing from the task and from measured evidence
remains. So ``--smooth --interpretable`` cannot put mae (interpretable, not
smooth) ahead of rmse (both): a loss that one of your flags rules out never
wins on the strength of another. A loss left with no backing at all is listed
under ``avoid``.

This module imports nothing heavy, so ``loss recommend --help`` can print the
thresholds without loading NumPy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from losscli.words import article, plural, verb

if TYPE_CHECKING:
    from losscli.analysis.profile import DataProfile

# --------------------------------------------------------------------------- thresholds
# Every number the rules and the reconciliation of flags with evidence use.

#: robust z-score above which a residual is an outlier (the rule of `loss sensitivity`).
OUTLIER_Z = 3.5
#: outliers are *present* when at least this fraction of rows is flagged. A normal
#: sample flags about 0.05% of rows at |z| > 3.5, so 1% is ~20 times that rate;
#: this is also the "strong evidence" that overrides --no-outliers.
OUTLIERS_PRESENT_FRACTION = 0.01
#: outliers are *absent* when at most this fraction is flagged (1 row in 500).
OUTLIERS_ABSENT_FRACTION = 0.002
#: fewer rows than this and the evidence is too weak to override a flag.
MIN_ROWS_FOR_STRONG_EVIDENCE = 50
#: the backing a rule fired by the file's measurements gives a loss is scaled by the
#: strength of that evidence, n / (n + EVIDENCE_HALF_ROWS): 0.29 at 20 rows, 0.5 at 50,
#: 0.73 at 133, 0.91 at 500; the task's and the flags' backing is not scaled.
EVIDENCE_HALF_ROWS = 50


def evidence_strength(n_rows: int) -> float:
    """How much a measurement on ``n_rows`` rows counts (0..1; 1/2 at EVIDENCE_HALF_ROWS)."""
    return n_rows / (n_rows + EVIDENCE_HALF_ROWS) if n_rows > 0 else 0.0


#: residuals are heavy-tailed when their excess kurtosis exceeds this (normal: 0;
#: its sampling s.d. is sqrt(24/n), 0.22 at n = 500).
HEAVY_TAILS_KURTOSIS = 1.0
#: residuals are Gaussian-like when |excess kurtosis| <= HEAVY_TAILS_KURTOSIS and
#: |skew| <= this.
GAUSSIAN_MAX_SKEW = 1.0
#: the residuals' excess kurtosis and skew are measured from this many rows on (the
#: profile leaves them out below it: too few rows to say anything about the tails).
MIN_ROWS_FOR_MOMENTS = 4
#: classes are imbalanced when smallest share / largest share < this
#: (binary: fewer than 20% positives or negatives).
IMBALANCE_RATIO = 0.25
#: classes are balanced (evidence against --imbalanced) when the ratio is >= this.
BALANCED_RATIO = 0.5
#: the target's scale is large (P-SCALE) when its standard deviation exceeds this.
TARGET_STD_LARGE = 10.0
#: multiclass probability rows whose sum differs from 1 by more than this (P-ROWSUM).
ROWSUM_TOLERANCE = 1e-3
#: huber delta = this x the residuals' robust sigma (1.4826 MAD): Huber's constant,
#: 95% efficiency for normal errors (scikit-learn HuberRegressor's epsilon=1.35).
HUBER_DELTA_FACTOR = 1.345
#: P-CALIB: a model is miscalibrated when its ece (15 bins, top-label) exceeds this...
CALIBRATION_ECE = 0.05
#: ...and this many times the ece a calibrated model with the same bins shows by chance.
CALIBRATION_NOISE_FACTOR = 2.0
#: P-CALIB: a model "ranks well" when a proper score (log loss, brier) is within this
#: fraction of the best model's.
NEAR_BEST_RELATIVE = 0.02
#: a combined penalty at or above this moves a loss from recommendations to avoid.
AVOID_PENALTY = 0.5

THRESHOLDS: dict[str, float] = {
    "outlier_z": OUTLIER_Z,
    "outliers_present_fraction": OUTLIERS_PRESENT_FRACTION,
    "outliers_absent_fraction": OUTLIERS_ABSENT_FRACTION,
    "min_rows_for_strong_evidence": MIN_ROWS_FOR_STRONG_EVIDENCE,
    "heavy_tails_kurtosis": HEAVY_TAILS_KURTOSIS,
    "gaussian_max_skew": GAUSSIAN_MAX_SKEW,
    "imbalance_ratio": IMBALANCE_RATIO,
    "balanced_ratio": BALANCED_RATIO,
    "target_std_large": TARGET_STD_LARGE,
    "rowsum_tolerance": ROWSUM_TOLERANCE,
    "huber_delta_factor": HUBER_DELTA_FACTOR,
    "calibration_ece": CALIBRATION_ECE,
    "calibration_noise_factor": CALIBRATION_NOISE_FACTOR,
    "near_best_relative": NEAR_BEST_RELATIVE,
    "avoid_penalty": AVOID_PENALTY,
}

THRESHOLDS_HELP = f"""\
\b
Thresholds (all in losscli/analysis/rules.py):
  outlier        |0.6745 (r - median) / MAD| > {OUTLIER_Z:g}, r = y_true - y_pred
                 (the rule of loss sensitivity)
  outliers       present if >= {OUTLIERS_PRESENT_FRACTION:.0%} of rows are outliers, absent if
                 <= {OUTLIERS_ABSENT_FRACTION:.1%} (a normal sample: ~0.05%); present beats
                 --no-outliers when the file has >= {MIN_ROWS_FOR_STRONG_EVIDENCE} rows (fewer:
                 the flag stands and a note says the data disagree)
  heavy tails    excess kurtosis of the residuals > {HEAVY_TAILS_KURTOSIS:g}
  Gaussian-like  |excess kurtosis| <= {HEAVY_TAILS_KURTOSIS:g} and |skew| <= {GAUSSIAN_MAX_SKEW:g}
  imbalanced     smallest class share / largest < {IMBALANCE_RATIO:g}
                 (binary: < 20% of one class); balanced if >= {BALANCED_RATIO:g}
  target scale   P-SCALE when std(y_true) > {TARGET_STD_LARGE:g}
  row sums       P-ROWSUM when |sum of class probabilities - 1| > {ROWSUM_TOLERANCE:g}
  huber delta    {HUBER_DELTA_FACTOR:g} x robust sigma of the residuals (1.4826 MAD)
  calibration    P-CALIB when a model within {NEAR_BEST_RELATIVE:.0%} of the best log loss
                 or brier has ece > {CALIBRATION_ECE:g} and > {CALIBRATION_NOISE_FACTOR:g} x the ece a
                 calibrated model shows by chance with the same bins
  focal alpha    1 - share of positives (inverse-frequency class weight)
  score          (1 - prod(1 - weight)) over the rules for a loss,
                 x prod(1 - penalty) over the rules against it;
                 a combined penalty >= {AVOID_PENALTY:g} -> listed under avoid
  your flags     a flag's objection outweighs a flag's backing: when a rule
                 fired by one of your flags is against a loss, the backing
                 it gets from your flags is overruled (shown in parentheses);
                 task and evidence still count; no backing left -> avoid
"""

SEED_000 = "000_e4f54a72a6445f3f.txt"
SEED_001 = "001_ac2074f0a5945128.txt"
SEED_002 = "002_5d9a6f289d50fb00.txt"

CLASSIFICATION = ("binary", "multiclass")
#: unweighted classification losses ("Standard losses fail" under class imbalance).
STANDARD_LOSSES = ("bce", "cce", "brier", "multiclass_brier", "hinge", "multiclass_hinge")


# --------------------------------------------------------------------------- facts


@dataclass(frozen=True)
class PlannedLoss:
    """A loss the user plans to use (--losses), as the rules see it."""

    name: str
    task: str
    params: dict[str, Any] = field(default_factory=dict)
    # A figure to report, not to train on (a score such as r2, zero_one, ece, coverage).
    evaluation_only: bool = False


@dataclass(frozen=True)
class Facts:
    """What the rules test: the task and what is known, each with where it came from.

    ``*_from`` is "flag" (the user said so), "evidence" (measured in the file)
    or "" (unknown / not stated). ``outliers`` is None when unknown or
    inconclusive; ``gaussian`` is None without a file.
    """

    task: str
    variant: str = ""  # e.g. "similarity/triplets"; "" = the task itself
    outliers: bool | None = None
    outliers_from: str = ""
    heavy_tails: bool = False
    heavy_tails_from: str = ""
    gaussian: bool | None = None
    imbalanced: bool = False
    imbalanced_from: str = ""
    max_margin: bool = False
    need_probabilities: bool = False
    interpretable: bool = False
    smooth: bool = False
    profile: DataProfile | None = None
    planned: tuple[PlannedLoss, ...] = ()
    # where the file disagrees with a flag on too few rows to count (the flag stands)
    notes: tuple[str, ...] = ()

    @property
    def robustness_needed(self) -> bool:
        return bool(self.outliers) or self.heavy_tails

    def stated(self, fact: str) -> bool:
        """Whether the user's own flag set this fact (rather than the file's evidence)."""
        origin = getattr(self, f"{fact}_from", None)
        if origin is not None:
            return bool(origin == "flag")
        # max_margin, need_probabilities, interpretable, smooth: only flags set them
        return bool(getattr(self, fact))

    def planned_names(self) -> list[str]:
        return [p.name for p in self.planned]


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class Quote:
    """A sentence of the guide, verbatim, and the seed file it comes from."""

    seed: str
    text: str


Weights = Mapping[str, tuple[tuple[str, float], ...]]


@dataclass(frozen=True)
class Rule:
    """One of the guide's choosing rules or pitfalls.

    ``supports``/``avoid`` map a task (or a variant such as
    "similarity/triplets", looked up first, or "*") to the losses concerned.
    A rule with ``about_planned`` fires only when a planned loss matches it,
    and then warns against exactly those planned losses. ``flags`` names the
    :class:`Facts` a user's flag can set that the rule tests: when one of them
    came from a flag, the rule speaks for the user (see the module docstring).
    """

    id: str
    kind: str  # "rule" | "pitfall"
    quotes: tuple[Quote, ...]
    when: Callable[[Facts], bool]
    because: Callable[[Facts], str]  # the evidence seen, with the threshold used
    rationale: str
    supports: Weights = field(default_factory=dict)
    avoid: Weights = field(default_factory=dict)
    about_planned: Callable[[Facts, PlannedLoss], bool] | None = None
    planned_penalty: float = 0.0
    flags: tuple[str, ...] = ()

    def lookup(self, table: Weights, facts: Facts) -> tuple[tuple[str, float], ...]:
        for key in (facts.variant, facts.task, "*"):
            if key and key in table:
                return table[key]
        return ()


@dataclass(frozen=True)
class Fired:
    """A rule that fired: what it backs and warns against, and the text that says why."""

    rule: Rule
    text: str
    supports: tuple[tuple[str, float], ...]
    avoid: tuple[tuple[str, float], ...]
    by_flag: bool = False  # fired because of a fact the user's own flag set
    by_evidence: bool = False  # fired only because of what the file's rows measured

    @property
    def id(self) -> str:
        return self.rule.id


def evaluate(rules: tuple[Rule, ...], facts: Facts) -> list[Fired]:
    """Run every rule on the facts; the fired ones, in rule order. Pure."""
    fired: list[Fired] = []
    unmeasured = _without_evidence(facts)
    for rule in rules:
        if not rule.when(facts):
            continue
        avoid = rule.lookup(rule.avoid, facts)
        if rule.about_planned is not None:
            matched = [p for p in facts.planned if rule.about_planned(facts, p)]
            if not matched:
                continue
            names = list(dict.fromkeys(p.name for p in matched))
            avoid = avoid + tuple((n, rule.planned_penalty) for n in names)
        text = rule.because(facts)
        text = f"{text}: {rule.rationale}" if rule.rationale else text
        by_flag = any(facts.stated(name) for name in rule.flags)
        by_evidence = not by_flag and facts.profile is not None and not _fires(rule, unmeasured)
        fired.append(
            Fired(rule, text, rule.lookup(rule.supports, facts), avoid, by_flag, by_evidence)
        )
    return fired


def _without_evidence(facts: Facts) -> Facts:
    """The facts as they would be without the file: only the task and the flags."""

    def kept(value: Any, origin: str, unknown: Any) -> Any:
        return unknown if origin == "evidence" else value

    return replace(
        facts,
        outliers=kept(facts.outliers, facts.outliers_from, None),
        outliers_from=kept(facts.outliers_from, facts.outliers_from, ""),
        heavy_tails=kept(facts.heavy_tails, facts.heavy_tails_from, False),
        heavy_tails_from=kept(facts.heavy_tails_from, facts.heavy_tails_from, ""),
        imbalanced=kept(facts.imbalanced, facts.imbalanced_from, False),
        imbalanced_from=kept(facts.imbalanced_from, facts.imbalanced_from, ""),
        gaussian=None,
        profile=None,
    )


def _fires(rule: Rule, facts: Facts) -> bool:
    try:
        return bool(rule.when(facts))
    except (AttributeError, TypeError):  # a test that reads the (absent) profile
        return False


# --------------------------------------------------------------------------- evidence texts


def _counted(n: int | None, noun: str, one: str = "", many: str = "") -> str:
    """A count the rule's condition found, in words: '1 row', '3 zeros'; with the forms
    of a verb after it, '1 row gives', '3 rows give'."""
    count = n or 0
    text = plural(count, noun)
    return f"{text} {verb(count, one, many)}" if one else text


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _g(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3g}"


def outlier_text(f: Facts) -> str:
    p = f.profile
    if f.outliers_from == "evidence" and p is not None and p.outlier_fraction is not None:
        frac = p.outlier_fraction
        base = (
            f"{_pct(frac)} of rows ({p.outlier_count} of {p.n_rows}) have |robust z| > "
            f"{p.outlier_threshold:g}"
        )
        weak = (
            f"; only {p.n_rows} row{'' if p.n_rows == 1 else 's'}, weak evidence"
            if p.n_rows < MIN_ROWS_FOR_STRONG_EVIDENCE
            else ""
        )
        if f.outliers:
            return f"{base} (present from {OUTLIERS_PRESENT_FRACTION:.0%}{weak})"
        return f"{base} (none counted up to {OUTLIERS_ABSENT_FRACTION:.1%}{weak})"
    if f.outliers_from == "flag":
        return "you said --outliers" if f.outliers else "you said --no-outliers"
    return "outliers unknown"


def heavy_text(f: Facts) -> str:
    p = f.profile
    if f.heavy_tails_from == "evidence" and p is not None and p.excess_kurtosis is not None:
        return (
            f"the residuals' excess kurtosis is {p.excess_kurtosis:.3g} > "
            f"{HEAVY_TAILS_KURTOSIS:g} (a normal distribution has 0)"
        )
    return "you said --heavy-tails"


def gaussian_text(f: Facts) -> str:
    p = f.profile
    if f.gaussian and p is not None:
        return (
            f"the residuals look Gaussian (excess kurtosis {_g(p.excess_kurtosis)}, "
            f"skew {_g(p.skew)}; within {HEAVY_TAILS_KURTOSIS:g} and {GAUSSIAN_MAX_SKEW:g})"
        )
    if p is not None and p.n_rows < MIN_ROWS_FOR_MOMENTS:
        return (
            f"too few rows ({p.n_rows} < {MIN_ROWS_FOR_MOMENTS}) to measure the residuals' "
            f"tails (Gaussian noise assumed)"
        )
    if p is not None:
        return "the residuals have no spread to measure (Gaussian noise assumed)"
    return "Gaussian noise assumed (no file measured)"


def imbalance_text(f: Facts) -> str:
    p = f.profile
    if f.imbalanced_from == "evidence" and p is not None and p.minority_fraction is not None:
        return (
            f"class {p.minority_class!r} has {_pct(p.minority_fraction)} of rows "
            f"(smallest/largest share {p.imbalance_ratio:.3g} < {IMBALANCE_RATIO:g})"
        )
    return "you said --imbalanced"


def task_text(f: Facts) -> str:
    if f.profile is not None and f.profile.task == f.task:
        return f"the task is {f.task} ({f.profile.task_reason})"
    return f"the task is {f.task}"


def _planned_in(names: tuple[str, ...], tasks: tuple[str, ...] = ()) -> Callable[..., bool]:
    def match(f: Facts, p: PlannedLoss) -> bool:
        return p.name in names and (not tasks or f.task in tasks)

    return match


def calibration_threshold(figures: Mapping[str, float]) -> float:
    """The ece above which P-CALIB calls a model miscalibrated (see CALIBRATION_ECE)."""
    noise = figures.get("ece_noise", math.nan)
    floor = CALIBRATION_NOISE_FACTOR * noise if math.isfinite(noise) else 0.0
    return max(CALIBRATION_ECE, floor)


def miscalibrated_leaders(f: Facts) -> list[tuple[str, list[str], float, float]]:
    """Models that rank well on a proper score but are miscalibrated (P-CALIB).

    Each: (model, the proper scores it is best or near-best on, its ece, the
    threshold). A model ranks well on a score when its value is at most
    best x (1 + NEAR_BEST_RELATIVE); the only model of a file is the best.
    """
    calibration = f.profile.calibration if f.profile is not None else None
    if not calibration:
        return []
    names = [
        k
        for k in dict.fromkeys(k for v in calibration.values() for k in v)
        if k not in ("ece", "ece_noise")
    ]
    best = {
        n: min((v[n] for v in calibration.values() if math.isfinite(v.get(n, math.nan))),
               default=math.nan)
        for n in names
    }  # fmt: skip
    found = []
    for model, figures in calibration.items():
        ece = figures.get("ece", math.nan)
        threshold = calibration_threshold(figures)
        if not (math.isfinite(ece) and ece > threshold):
            continue
        leads = [
            n
            for n in names
            if math.isfinite(best[n])
            and figures.get(n, math.inf) <= best[n] * (1 + NEAR_BEST_RELATIVE)
        ]
        if leads:
            found.append((model, leads, ece, threshold))
    return found


def calibration_text(f: Facts) -> str:
    several = f.profile is not None and len(f.profile.calibration or {}) > 1
    parts = []
    for model, leads, ece, threshold in miscalibrated_leaders(f):
        where = (
            f"ranks best or within {NEAR_BEST_RELATIVE:.0%} of the best on "
            + " and ".join(n.replace("_", " ") for n in leads)
            if several
            else "is the only model"
        )
        parts.append(f"{model} {where} but its ece is {ece:.3g} > {threshold:.3g}")
    return "; ".join(parts) + (
        f" (threshold: the larger of {CALIBRATION_ECE:g} and {CALIBRATION_NOISE_FACTOR:g} x the "
        "ece a calibrated model shows by chance with the same 15 bins)"
    )


def _planned_list(f: Facts, names: tuple[str, ...]) -> str:
    return ", ".join(dict.fromkeys(p.name for p in f.planned if p.name in names))


def _off_task(f: Facts, p: PlannedLoss) -> bool:
    # Regression losses also score binary data (see analysis.evaluate.applies_to);
    # mse there is P-ACT's business, not a task mismatch.
    if p.task == f.task or (p.task == "regression" and f.task == "binary"):
        return False
    if f.task == "distribution" and p.task == "multiclass":
        return False
    if f.task == "vae" and p.task == "regression":
        return False
    return True


# --------------------------------------------------------------------------- the rules

RULES: tuple[Rule, ...] = (
    Rule(
        id="R-REG",
        kind="rule",
        quotes=(
            Quote(
                SEED_002,
                "Problem Type: Regression (MSE, MAE, Huber) vs Classification "
                "(Cross-Entropy, Hinge)",
            ),
            Quote(
                SEED_001,
                "Mean Squared Error (also called L2 loss) is almost every data scientist "
                "preference when it comes to loss functions for regression.",
            ),
        ),
        when=lambda f: f.task == "regression",
        because=task_text,
        rationale="the regression losses are mse, mae and huber, mse the usual default",
        supports={"regression": (("mse", 0.5), ("huber", 0.45), ("mae", 0.4))},
    ),
    Rule(
        id="R-REG-CLEAN",
        kind="rule",
        flags=("outliers",),
        quotes=(
            Quote(SEED_002, "Clean data → MSE"),
            Quote(SEED_002, "Outliers: Present → MAE or Huber, Absent → MSE"),
            Quote(SEED_002, "Data Distribution: Gaussian noise → MSE, Heavy-tailed → MAE or Huber"),
        ),
        when=lambda f: (
            f.task == "regression"
            and f.outliers is False
            and not f.heavy_tails
            and f.gaussian is not False
        ),
        because=lambda f: f"{outlier_text(f)}; {gaussian_text(f)}",
        rationale=(
            "with clean, Gaussian-like errors mse is the maximum-likelihood loss, convex "
            "and smooth (rmse is the same optimum in target units)"
        ),
        supports={"regression": (("mse", 0.8), ("rmse", 0.5))},
    ),
    Rule(
        id="R-REG-OUTLIERS",
        kind="rule",
        flags=("outliers",),
        quotes=(
            Quote(SEED_002, "Outliers present → MAE or Huber"),
            Quote(
                SEED_000,
                "MAE is used in cases when the training data has a large number of "
                "outliers to mitigate this.",
            ),
            Quote(
                SEED_001,
                "Since L2 succumbs to outliers, L1 loss function is the more robust loss function.",
            ),
        ),
        when=lambda f: f.task == "regression" and f.outliers is True,
        because=outlier_text,
        rationale=(
            "mse squares those errors so a few rows dominate the loss; mae and huber "
            "grow linearly in large errors"
        ),
        supports={"regression": (("huber", 0.7), ("mae", 0.6))},
        avoid={"regression": (("mse", 0.8), ("rmse", 0.8))},
    ),
    Rule(
        id="R-REG-HEAVY",
        kind="rule",
        flags=("heavy_tails",),
        quotes=(
            Quote(SEED_002, "Data Distribution: Gaussian noise → MSE, Heavy-tailed → MAE or Huber"),
        ),
        when=lambda f: f.task == "regression" and f.heavy_tails,
        because=heavy_text,
        rationale="heavy tails make large errors common, so a linear-tailed loss is safer",
        supports={"regression": (("huber", 0.6), ("mae", 0.6))},
        avoid={"regression": (("mse", 0.6), ("rmse", 0.6))},
    ),
    Rule(
        id="R-REG-ROBUST-SMOOTH",
        kind="rule",
        flags=("outliers", "heavy_tails", "smooth"),
        quotes=(
            Quote(SEED_002, "Need robustness + smoothness → Huber"),
            Quote(
                SEED_001,
                "Huber Loss combines the robustness of L1 with the stability of L2, "
                "essentially the best of L1 and L2 losses.",
            ),
        ),
        when=lambda f: f.task == "regression" and f.robustness_needed and f.smooth,
        because=lambda f: (
            f"robustness is needed ({outlier_text(f) if f.outliers else heavy_text(f)}) "
            "and you asked for --smooth"
        ),
        rationale=(
            "huber is quadratic (differentiable) near 0 and linear beyond delta; mae has "
            "no derivative at 0"
        ),
        supports={"regression": (("huber", 0.7),)},
        avoid={"regression": (("mae", 0.25),)},
    ),
    Rule(
        id="R-REG-INTERP",
        kind="rule",
        flags=("interpretable",),
        quotes=(
            Quote(
                SEED_002,
                "Interpretability: MAE is in same units as target, MSE is squared units",
            ),
        ),
        when=lambda f: f.task == "regression" and f.interpretable,
        because=lambda f: "you said --interpretable",
        rationale="mae (or rmse) reads in the target's units; mse is in squared units",
        supports={"regression": (("mae", 0.7), ("rmse", 0.6))},
        avoid={"regression": (("mse", 0.3),)},
    ),
    Rule(
        id="R-SMOOTH",
        kind="rule",
        flags=("smooth",),
        quotes=(
            Quote(SEED_002, "Optimization: Smooth functions (MSE, Cross-Entropy) converge faster"),
        ),
        when=lambda f: (
            f.smooth
            and not (f.task == "regression" and f.robustness_needed)
            and not (f.task in CLASSIFICATION and f.max_margin)
        ),
        because=lambda f: "you said --smooth",
        rationale="smooth losses give gradients that shrink near the optimum",
        supports={
            "regression": (("mse", 0.3),),
            "binary": (("bce", 0.2),),
            "multiclass": (("cce", 0.2),),
        },
        avoid={
            "regression": (("mae", 0.25),),
            "binary": (("hinge", 0.25),),
            "multiclass": (("multiclass_hinge", 0.25),),
        },
    ),
    Rule(
        id="R-BIN",
        kind="rule",
        quotes=(
            Quote(SEED_002, "Binary classification → Binary Cross-Entropy"),
            Quote(SEED_000, "This is the loss function used in binary classification models"),
        ),
        when=lambda f: f.task == "binary",
        because=task_text,
        rationale="bce is the convex, probabilistic loss for two classes",
        supports={"binary": (("bce", 0.7), ("focal", 0.2))},
    ),
    Rule(
        id="R-MULTI",
        kind="rule",
        quotes=(
            Quote(SEED_002, "Multi-class → Categorical Cross-Entropy"),
            Quote(
                SEED_000,
                "In cases where the number of classes is greater than two, we utilize "
                "categorical cross-entropy",
            ),
        ),
        when=lambda f: f.task == "multiclass",
        because=task_text,
        rationale="cce is the convex, probabilistic loss for K classes with softmax",
        supports={"multiclass": (("cce", 0.7), ("categorical_focal", 0.2))},
    ),
    Rule(
        id="R-MARGIN",
        kind="rule",
        flags=("max_margin",),
        quotes=(
            Quote(SEED_002, "Maximum margin → Hinge Loss (SVM)"),
            Quote(
                SEED_001,
                "Hinge loss is primarily developed for support vector machines for "
                "calculating the maximum margin from the hyperplane to the classes.",
            ),
        ),
        when=lambda f: f.task in CLASSIFICATION and f.max_margin,
        because=lambda f: "you said --max-margin",
        rationale="hinge is margin-based with sparse solutions (support vectors) on raw scores",
        supports={
            "binary": (("hinge", 0.9), ("squared_hinge", 0.5)),
            "multiclass": (("multiclass_hinge", 0.9),),
        },
    ),
    Rule(
        id="R-MARGIN-SMOOTH",
        kind="rule",
        flags=("max_margin", "smooth"),
        quotes=(
            Quote(SEED_002, "Maximum margin → Hinge Loss (SVM)"),
            Quote(SEED_002, "Optimization: Smooth functions (MSE, Cross-Entropy) converge faster"),
        ),
        when=lambda f: f.task == "binary" and f.max_margin and f.smooth,
        because=lambda f: "you said --max-margin and --smooth",
        rationale=(
            "squared_hinge keeps the margin and is differentiable at the hinge; hinge has a "
            "kink at margin 1"
        ),
        supports={"binary": (("squared_hinge", 0.8),)},
        avoid={"binary": (("hinge", 0.25),)},
    ),
    Rule(
        id="R-PROB",
        kind="rule",
        flags=("need_probabilities",),
        quotes=(
            Quote(SEED_002, "Probabilistic | ✓ | ✗ |"),
            Quote(
                SEED_002,
                "Measures the difference between two probability distributions for binary "
                "classification.",
            ),
        ),
        when=lambda f: f.task in (*CLASSIFICATION, "distribution") and f.need_probabilities,
        because=lambda f: "you said --need-probabilities",
        rationale=(
            "cross-entropy is probabilistic (calibrated probabilities); hinge is not and only "
            "ranks by a margin"
        ),
        supports={
            "binary": (("bce", 0.6), ("focal", 0.2)),
            "multiclass": (("cce", 0.6),),
            "distribution": (("kl_div", 0.5), ("cce", 0.4)),
        },
        avoid={
            "binary": (("hinge", 0.8), ("squared_hinge", 0.8)),
            "multiclass": (("multiclass_hinge", 0.8),),
        },
    ),
    Rule(
        id="R-IMB",
        kind="rule",
        flags=("imbalanced",),
        quotes=(
            Quote(SEED_002, "Imbalanced classes → Focal Loss"),
            Quote(
                SEED_002,
                "Addresses class imbalance by down-weighting easy examples and focusing on "
                "hard examples.",
            ),
        ),
        when=lambda f: f.task in (*CLASSIFICATION, "detection") and f.imbalanced,
        because=imbalance_text,
        rationale=(
            "focal loss down-weights the many easy examples (or weight the rows: weighted "
            "cross-entropy, --weight-col)"
        ),
        supports={
            "binary": (("focal", 0.9),),
            "detection": (("focal", 0.9),),
            "multiclass": (("categorical_focal", 0.9),),
        },
    ),
    Rule(
        id="R-DET",
        kind="rule",
        quotes=(
            Quote(
                SEED_001,
                "A Focal Loss function addresses class imbalance during training in tasks "
                "like object detection.",
            ),
            Quote(
                SEED_001,
                "Intuitively, IoU loss maximizes the coincidence between the predicted box "
                "and the ground truth box.",
            ),
        ),
        when=lambda f: f.task == "detection",
        because=task_text,
        rationale=(
            "giou/iou train the boxes (giou still has a gradient when boxes do not overlap); "
            "focal trains the class scores"
        ),
        supports={"detection": (("giou", 0.85), ("iou", 0.8), ("focal", 0.7))},
    ),
    Rule(
        id="R-SIM",
        kind="rule",
        quotes=(
            Quote(
                SEED_001,
                "The goal of contrastive loss is to discriminate the features of the input "
                "vectors.",
            ),
            Quote(
                SEED_001,
                "The goal of Triplet loss, in the context of Siamese Networks, is to maximize "
                "the joint probability among all score-pairs i.e. the product of all "
                "probabilities.",
            ),
        ),
        when=lambda f: f.task == "similarity",
        because=lambda f: (
            task_text(f)
            + (f", given as {f.profile.form}" if f.profile is not None and f.profile.form else "")
        ),
        rationale="contrastive loss for labelled pairs, triplet loss for anchor/positive/negative",
        supports={
            "similarity/triplets": (("triplet", 0.85), ("contrastive", 0.3)),
            "similarity/pairs": (("contrastive", 0.85), ("triplet", 0.3)),
            "similarity": (("contrastive", 0.8), ("triplet", 0.75)),
        },
    ),
    Rule(
        id="R-GEN",
        kind="rule",
        quotes=(
            Quote(
                SEED_001,
                "The standard GAN loss function, also known as the min-max loss, was first "
                "described in a 2014 paper by Ian Goodfellow in paper titled Generative "
                "Adversarial Networks.",
            ),
            Quote(
                SEED_001,
                "In practice, it saturates for the generator, meaning that the generator quite "
                "frequently stops training if it does not catch up with the discriminator.",
            ),
        ),
        when=lambda f: f.task == "generative",
        because=task_text,
        rationale=(
            "gan_discriminator for D; for G the non-saturating gan_generator_ns, since the "
            "minimax gan_generator saturates"
        ),
        supports={
            "generative": (
                ("gan_discriminator", 0.8),
                ("gan_generator_ns", 0.75),
                ("gan_generator", 0.4),
            )
        },
    ),
    Rule(
        id="R-DIST",
        kind="rule",
        quotes=(
            Quote(
                SEED_002,
                "Measures how one probability distribution diverges from another. Used in "
                "variational inference and GANs.",
            ),
        ),
        when=lambda f: (
            f.task in ("distribution", "vae")
            or (f.task == "multiclass" and f.profile is not None and bool(f.profile.soft_targets))
        ),
        because=lambda f: (
            task_text(f)
            + (
                ", with soft targets (y_true_* columns): the targets are distributions"
                if f.task == "multiclass"
                else ""
            )
        ),
        rationale="kl_div compares a predicted distribution with a target distribution",
        supports={
            "distribution": (("kl_div", 0.85), ("cce", 0.4)),
            "multiclass": (("kl_div", 0.6),),
            "vae": (("vae", 0.8), ("vae_kl", 0.7)),
        },
    ),
    Rule(
        id="R-TASK",
        kind="rule",
        quotes=(
            Quote(
                SEED_002,
                "Problem Type: Regression (MSE, MAE, Huber) vs Classification "
                "(Cross-Entropy, Hinge)",
            ),
        ),
        when=lambda f: bool(f.planned),
        because=lambda f: (
            ", ".join(
                f"{p.name} is {article(p.task)} {p.task} loss" for p in f.planned if _off_task(f, p)
            )
            + f" but the task is {f.task}"
        ),
        rationale="a loss must match the problem type",
        about_planned=_off_task,
        planned_penalty=1.0,
    ),
    # ----------------------------------------------------------------------- pitfalls
    Rule(
        id="P-LOG0",
        kind="pitfall",
        quotes=(
            Quote(SEED_002, "Numerical Instability: Log(0) in cross-entropy → Add small epsilon"),
        ),
        when=lambda f: (
            f.task in CLASSIFICATION
            and f.profile is not None
            and bool(f.profile.n_true_class_zero)
            and f.profile.predictions == "probabilities"
        ),
        because=lambda f: (
            f"{_counted(f.profile.n_true_class_zero, 'row', 'gives', 'give')} "  # type: ignore[union-attr]
            f"the true class probability exactly 0"
        ),
        rationale=(
            "log(0) is -inf, so cross-entropy clips them to eps and the clipping eps, not "
            "the model, decides their loss (about 36 per row at eps=2.2e-16; `loss compute` "
            "warns of the same rows); calibrate the model (e.g. sklearn "
            "CalibratedClassifierCV) or clip its probabilities away from 0 and 1 before "
            "scoring, or set eps= to the library you compare with"
        ),
    ),
    Rule(
        id="P-IMB",
        kind="pitfall",
        quotes=(
            Quote(SEED_002, "Class Imbalance: Standard losses fail → Use weighted or focal loss"),
        ),
        when=lambda f: f.task in CLASSIFICATION and f.imbalanced,
        because=lambda f: (
            imbalance_text(f)
            + (
                f"; you plan {_planned_list(f, STANDARD_LOSSES)}"
                if _planned_list(f, STANDARD_LOSSES)
                else ""
            )
        ),
        rationale=(
            "an unweighted loss is dominated by the majority class (a constant prediction "
            "already scores well); use focal loss or class weights (--weight-col)"
        ),
    ),
    Rule(
        id="P-SCALE",
        kind="pitfall",
        quotes=(
            Quote(SEED_002, "Scale Sensitivity: MSE affected by target scale → Normalize targets"),
        ),
        when=lambda f: (
            f.task == "regression"
            and f.profile is not None
            and f.profile.target_std is not None
            and f.profile.target_std > TARGET_STD_LARGE
        ),
        because=lambda f: (
            f"y_true has standard deviation {f.profile.target_std:.4g} > {TARGET_STD_LARGE:g}"  # type: ignore[union-attr]
        ),
        rationale=(
            "mse is in squared target units, so its value and gradients scale with the "
            "square of that; standardise the targets for training (and a huber delta is "
            "in target units)"
        ),
    ),
    Rule(
        id="P-ACT",
        kind="pitfall",
        quotes=(
            Quote(
                SEED_002, "Wrong Loss-Activation Pair: Softmax with MSE → Use with Cross-Entropy"
            ),
            Quote(
                SEED_000,
                "Hence, based on the convexity definition we have mathematically shown the MSE "
                "loss function for logistic regression is non-convex and not recommended.",
            ),
        ),
        when=lambda f: f.task in CLASSIFICATION,
        because=lambda f: (
            f"you plan {_planned_list(f, ('mse', 'rmse', 'brier', 'multiclass_brier'))} "
            f"on {f.task} probabilities"
        ),
        rationale=(
            "squared error on a sigmoid/softmax output is non-convex and barely penalises "
            "confident mistakes (see `loss explain mse --link sigmoid`); train with "
            "cross-entropy (brier stays a fine evaluation score)"
        ),
        about_planned=_planned_in(("mse", "rmse", "brier", "multiclass_brier")),
        planned_penalty=0.7,
    ),
    Rule(
        id="P-NOTPROB",
        kind="pitfall",
        quotes=(
            Quote(
                SEED_000,
                "Classification neural networks work by outputting a vector of probabilities",
            ),
        ),
        when=lambda f: (
            f.task in CLASSIFICATION
            and f.profile is not None
            and not f.profile.from_logits
            and bool(f.profile.n_pred_outside_01)
            and not f.max_margin  # raw scores are what hinge wants
        ),
        because=lambda f: (
            f"{_counted(f.profile.n_pred_outside_01, 'prediction value', 'lies', 'lie')} "  # type: ignore[union-attr]
            f"outside [0, 1] "
            f"(from {f.profile.pred_min:.4g} to {f.profile.pred_max:.4g})"  # type: ignore[union-attr]
        ),
        rationale=(
            "they look like logits (raw scores): probability losses (bce, cce, focal, brier) "
            "reject them; rerun with --from-logits (hinge takes raw scores as they are)"
        ),
    ),
    Rule(
        id="P-HINGE-PROB",
        kind="pitfall",
        quotes=(
            Quote(SEED_002, "Margin-based | ✗ | ✓ |"),
            Quote(
                SEED_001,
                "Hinge loss is primarily developed for support vector machines for "
                "calculating the maximum margin from the hyperplane to the classes.",
            ),
        ),
        when=lambda f: (
            f.task in CLASSIFICATION
            and f.profile is not None
            and f.profile.predictions == "probabilities"
            and (
                f.max_margin
                or any(p.name in ("hinge", "squared_hinge", "multiclass_hinge") for p in f.planned)
            )
        ),
        because=lambda f: (
            "a margin loss is wanted but the predictions are probabilities in [0, 1] "
            f"(from {f.profile.pred_min:.4g} to {f.profile.pred_max:.4g})"  # type: ignore[union-attr]
        ),
        rationale=(
            "hinge reads y_pred as a raw score, so on probabilities no margin exceeds 1 and "
            "the loss never reaches 0 for positives; score the decision function (raw scores) "
            "instead"
        ),
    ),
    Rule(
        id="P-ROWSUM",
        kind="pitfall",
        quotes=(
            Quote(
                SEED_000,
                "given an input, the neural network produces a vector of probabilities of the "
                "input belonging to various pre-set categories",
            ),
            Quote(
                SEED_002,
                "Extension of binary cross-entropy for multi-class classification. Used with "
                "softmax activation.",
            ),
        ),
        when=lambda f: (
            f.task in ("multiclass", "distribution")
            and f.profile is not None
            and not f.profile.n_pred_outside_01
            and bool(f.profile.n_rows_not_summing_to_1)
        ),
        because=lambda f: (
            f"{_counted(f.profile.n_rows_not_summing_to_1, 'row')} of class probabilities "  # type: ignore[union-attr]
            f"{verb(f.profile.n_rows_not_summing_to_1 or 0, 'does', 'do')} not sum "  # type: ignore[union-attr]
            f"to 1 (largest deviation {f.profile.max_rowsum_deviation:.3g} > "  # type: ignore[union-attr]
            f"{ROWSUM_TOLERANCE:g})"
        ),
        rationale=(
            "cce does not renormalise rows, so its value is not a log-likelihood; apply "
            "softmax (or pass logits with --from-logits)"
        ),
    ),
    Rule(
        id="P-MAPE0",
        kind="pitfall",
        quotes=(Quote(SEED_000, "as it is impossible to divide by 0"),),
        when=lambda f: (
            f.task == "regression" and f.profile is not None and bool(f.profile.n_zero_targets)
        ),
        because=lambda f: (
            f"you plan mape and y_true has {_counted(f.profile.n_zero_targets, 'zero')}"  # type: ignore[union-attr]
        ),
        rationale=(
            "mape divides by abs(y_true) (floored at eps), so each zero target adds about "
            "abs(error)/2.2e-16 and the mean explodes; use mae, or smape"
        ),
        about_planned=_planned_in(("mape",)),
        planned_penalty=0.9,
    ),
    Rule(
        id="P-MBE",
        kind="pitfall",
        quotes=(
            Quote(
                SEED_001,
                "One has to be cautious as the positive and the negative errors could cancel "
                "each other out, which is why it is one of the lesser-used loss functions.",
            ),
            Quote(
                SEED_001,
                "Corrective measures can be taken to reduce the bias post-evaluating the model "
                "using MBE.",
            ),
        ),
        when=lambda f: True,
        because=lambda f: "you plan mbe",
        rationale=(
            "positive and negative errors cancel, so a useless model can score 0 and "
            "minimising it has no lower bound; use it as a bias check next to mae or mse, "
            "not as a training loss"
        ),
        about_planned=_planned_in(("mbe",)),
        planned_penalty=0.9,
    ),
    Rule(
        id="P-CALIB",
        kind="pitfall",
        quotes=(
            Quote(
                SEED_001,
                "A machine learning model such as a neural network attempts to learn the "
                "probability distribution underlying the given data observations.",
            ),
        ),
        when=lambda f: f.task in CLASSIFICATION and bool(miscalibrated_leaders(f)),
        because=calibration_text,
        rationale=(
            "log loss and brier reward ranking and calibration together, so a model can lead "
            "on them and still state the wrong probabilities; if its probabilities are used as "
            "probabilities (risks, thresholds, expected costs), recalibrate it on held-out data "
            "(Platt scaling, isotonic regression, temperature scaling) and check ece, mce and "
            "the reliability diagram (`loss compute -l ece,mce --plot out.png`)"
        ),
    ),
    Rule(
        id="P-SCORE",
        kind="pitfall",
        quotes=(
            Quote(
                SEED_001,
                "From the loss function, we can derive the gradients which are used to update "
                "the weights.",
            ),
        ),
        when=lambda f: True,
        because=lambda f: (
            "you plan "
            + ", ".join(dict.fromkeys(p.name for p in f.planned if p.evaluation_only))
            + " as a loss"
        ),
        rationale=(
            "these are figures to report (scores such as r2 or accuracy, where higher is "
            "better, zero-one error, calibration and interval coverage): they are flat or "
            "step-shaped in the prediction, so they give no useful gradient; train on a loss "
            "and report them beside it"
        ),
        about_planned=lambda f, p: p.evaluation_only,
        planned_penalty=1.0,
    ),
)

RULE_IDS: tuple[str, ...] = tuple(r.id for r in RULES)


def rule_by_id(rule_id: str) -> Rule:
    for rule in RULES:
        if rule.id == rule_id:
            return rule
    raise KeyError(rule_id)
