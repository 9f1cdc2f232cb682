"""``loss recommend``: flags and measured evidence reconciled, the guide's rules scored.

The steps, each a pure function:

1. :func:`resolve_task` checks the flags against each other and gives the task
   they imply (SPEC 5): ``--outliers/--no-outliers``, ``--heavy-tails`` and
   ``--interpretable`` imply regression; ``--imbalanced``, ``--max-margin``
   and ``--need-probabilities`` imply binary unless ``--task multiclass``;
   ``--smooth`` alone implies regression. Contradictory flags raise UsageError.
2. :func:`reconcile` merges the flags with the :class:`DataProfile` into
   :class:`Facts`; where the file shows strongly what a flag denies, the
   evidence wins and a :class:`Contradiction` says so (thresholds in
   :mod:`losscli.analysis.rules`).
3. :func:`recommend` evaluates the rules and scores every loss they name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from losscli.analysis import rules as R
from losscli.analysis.profile import DataProfile
from losscli.analysis.rules import Facts, Fired, PlannedLoss, Quote, Rule
from losscli.errors import UsageError

TASKS = (
    "regression",
    "binary",
    "multiclass",
    "detection",
    "similarity",
    "generative",
    "distribution",
)

#: the tasks each flag applies to (a flag outside them is a usage error).
FLAG_TASKS: dict[str, tuple[str, ...]] = {
    "--outliers": ("regression",),
    "--no-outliers": ("regression",),
    "--heavy-tails": ("regression",),
    "--interpretable": ("regression",),
    "--smooth": ("regression", "binary", "multiclass"),
    "--imbalanced": ("binary", "multiclass", "detection"),
    "--max-margin": ("binary", "multiclass"),
    "--need-probabilities": ("binary", "multiclass", "distribution"),
}

#: flags that cannot hold together, with why.
CONTRADICTORY_FLAGS: tuple[tuple[str, str, str], ...] = (
    (
        "--max-margin",
        "--need-probabilities",
        "hinge (maximum margin) is not probabilistic and cross-entropy is not margin-based "
        "(the guide's property table); choose one",
    ),
)


@dataclass(frozen=True)
class Flags:
    """What the user states on the command line."""

    task: str | None = None
    outliers: bool | None = None
    heavy_tails: bool = False
    imbalanced: bool = False
    max_margin: bool = False
    need_probabilities: bool = False
    interpretable: bool = False
    smooth: bool = False

    def given(self) -> list[str]:
        """The flags set, as typed (for messages and the task checks)."""
        out = []
        if self.outliers is True:
            out.append("--outliers")
        if self.outliers is False:
            out.append("--no-outliers")
        for name in ("heavy_tails", "imbalanced", "max_margin", "need_probabilities"):
            if getattr(self, name):
                out.append("--" + name.replace("_", "-"))
        if self.interpretable:
            out.append("--interpretable")
        if self.smooth:
            out.append("--smooth")
        return out


def check_flags(flags: Flags) -> None:
    """UsageError when flags contradict each other (before any file is read)."""
    given = flags.given()
    for a, b, why in CONTRADICTORY_FLAGS:
        if a in given and b in given:
            raise UsageError(f"{a} and {b} contradict each other: {why}")
    regression = [g for g in given if FLAG_TASKS[g] == ("regression",)]
    classification = [g for g in given if "regression" not in FLAG_TASKS[g]]
    if regression and classification:
        raise UsageError(
            f"{regression[0]} is about regression and {classification[0]} about "
            f"classification: they cannot both apply"
        )
    if flags.task is not None:
        for flag in given:
            if flags.task not in FLAG_TASKS[flag]:
                raise UsageError(
                    f"{flag} does not apply to --task {flags.task}; it applies to "
                    f"{', '.join(FLAG_TASKS[flag])}"
                )


def resolve_task(flags: Flags, data_task: str | None = None) -> str:
    """The task the flags imply (or the file's), or UsageError for contradictory flags."""
    check_flags(flags)
    given = flags.given()
    if data_task is not None:
        task = data_task
        if flags.task == "distribution" and data_task == "multiclass":
            task = "distribution"
        elif flags.task is not None and flags.task != data_task:
            raise UsageError(
                f"--task {flags.task} does not match the file, whose columns give "
                f"{data_task}; drop --task or choose another file"
            )
        source = f"the file's task is {data_task}"
    elif flags.task is not None:
        task = flags.task
        source = f"--task {task}"
    else:
        classification = [g for g in given if "regression" not in FLAG_TASKS[g]]
        if classification:
            task = "binary"
        elif given:
            task = "regression"
        else:
            raise UsageError(
                "nothing to recommend from: give a FILE to measure, or flags that say what "
                "you know (e.g. loss recommend --outliers, loss recommend --task binary "
                "--imbalanced)"
            )
        source = ""
    for flag in given:
        if task not in FLAG_TASKS[flag]:
            where = f" ({source})" if source else ""
            raise UsageError(
                f"{flag} does not apply to {task}{where}; it applies to "
                f"{', '.join(FLAG_TASKS[flag])}"
            )
    return task


@dataclass(frozen=True)
class Contradiction:
    """A flag the data disagree with: which one, what was measured, and who wins."""

    flag: str
    evidence: str
    text: str
    winner: str  # "evidence" | "flag"

    def as_dict(self) -> dict[str, Any]:
        return {
            "flag": self.flag,
            "evidence": self.evidence,
            "text": self.text,
            "winner": self.winner,
        }


def _strong(profile: DataProfile) -> bool:
    return profile.n_rows >= R.MIN_ROWS_FOR_STRONG_EVIDENCE


def _too_few(profile: DataProfile, flag: str, suggest: str, verb: str = "weigh against") -> str:
    """The note for a file that disagrees with a flag on too few rows to count.

    From MIN_ROWS_FOR_STRONG_EVIDENCE rows the disagreement is a
    :class:`Contradiction`; below, the flag stands and this note says why.
    """
    return (
        f"{flag}: the data suggest {suggest}, but too few rows to {verb} the flag "
        f"({profile.n_rows} < {R.MIN_ROWS_FOR_STRONG_EVIDENCE})"
    )


def reconcile(
    flags: Flags,
    task: str,
    profile: DataProfile | None = None,
    planned: tuple[PlannedLoss, ...] = (),
) -> tuple[Facts, list[Contradiction]]:
    """Merge flags and measured evidence into Facts; list where they disagree.

    A disagreement measured on fewer than MIN_ROWS_FOR_STRONG_EVIDENCE rows is no
    contradiction (the flag stands) but a note in ``Facts.notes``.
    """
    contradictions: list[Contradiction] = []
    notes: list[str] = []
    outliers, outliers_from = flags.outliers, ("flag" if flags.outliers is not None else "")
    heavy, heavy_from = flags.heavy_tails, ("flag" if flags.heavy_tails else "")
    imbalanced, imbalanced_from = flags.imbalanced, ("flag" if flags.imbalanced else "")
    gaussian: bool | None = None
    variant = ""

    if profile is not None and profile.outlier_fraction is not None:
        frac = profile.outlier_fraction
        measured = (
            f"{frac:.1%} of rows ({profile.outlier_count} of {profile.n_rows}) have "
            f"|robust z| > {profile.outlier_threshold:g}"
        )
        present = frac >= R.OUTLIERS_PRESENT_FRACTION
        absent = frac <= R.OUTLIERS_ABSENT_FRACTION
        if flags.outliers is False and present and not _strong(profile):
            notes.append(
                _too_few(
                    profile,
                    "--no-outliers",
                    f"outliers ({measured}; present from {R.OUTLIERS_PRESENT_FRACTION:.0%})",
                    "overrule",
                )
            )
        elif flags.outliers is False and present:
            outliers, outliers_from = True, "evidence"
            contradictions.append(
                Contradiction(
                    "--no-outliers",
                    measured,
                    f"the data show outliers: {frac:.1%} >= {R.OUTLIERS_PRESENT_FRACTION:.0%} "
                    f"(about 20x what a normal sample gives) in {profile.n_rows} >= "
                    f"{R.MIN_ROWS_FOR_STRONG_EVIDENCE} rows, so the evidence wins and the "
                    f"outlier rules apply",
                    "evidence",
                )
            )
        elif flags.outliers is True and absent and not _strong(profile):
            notes.append(
                _too_few(
                    profile,
                    "--outliers",
                    f"no outliers ({measured}; absent up to {R.OUTLIERS_ABSENT_FRACTION:.1%})",
                )
            )
        elif flags.outliers is True and absent:
            contradictions.append(
                Contradiction(
                    "--outliers",
                    measured,
                    f"this file shows no outliers ({frac:.1%} <= "
                    f"{R.OUTLIERS_ABSENT_FRACTION:.1%}), but the flag wins: the rows you know "
                    f"of may not be in this file (e.g. training data)",
                    "flag",
                )
            )
        elif flags.outliers is None:
            if present:
                outliers, outliers_from = True, "evidence"
            elif absent:
                outliers, outliers_from = False, "evidence"
        kurt, skew = profile.excess_kurtosis, profile.skew
        if kurt is not None:
            if kurt > R.HEAVY_TAILS_KURTOSIS and not heavy:
                heavy, heavy_from = True, "evidence"
            elif heavy and kurt <= R.HEAVY_TAILS_KURTOSIS and not _strong(profile):
                notes.append(
                    _too_few(
                        profile,
                        "--heavy-tails",
                        f"light tails (excess kurtosis of the residuals {kurt:.3g} <= "
                        f"{R.HEAVY_TAILS_KURTOSIS:g})",
                    )
                )
            elif heavy and kurt <= R.HEAVY_TAILS_KURTOSIS:
                contradictions.append(
                    Contradiction(
                        "--heavy-tails",
                        f"excess kurtosis of the residuals {kurt:.3g}",
                        f"this file's residuals are not heavy-tailed ({kurt:.3g} <= "
                        f"{R.HEAVY_TAILS_KURTOSIS:g}), but the flag wins: it may describe "
                        f"data not in this file",
                        "flag",
                    )
                )
            gaussian = (
                abs(kurt) <= R.HEAVY_TAILS_KURTOSIS
                and skew is not None
                and abs(skew) <= R.GAUSSIAN_MAX_SKEW
            )

    if profile is not None and profile.imbalance_ratio is not None:
        ratio = profile.imbalance_ratio
        if ratio < R.IMBALANCE_RATIO and not imbalanced:
            imbalanced, imbalanced_from = True, "evidence"
        elif imbalanced and ratio >= R.BALANCED_RATIO and not _strong(profile):
            notes.append(
                _too_few(
                    profile,
                    "--imbalanced",
                    f"balanced classes (smallest class share {profile.minority_fraction:.1%}, "
                    f"ratio to the largest {ratio:.3g} >= {R.BALANCED_RATIO:g})",
                )
            )
        elif imbalanced and ratio >= R.BALANCED_RATIO:
            contradictions.append(
                Contradiction(
                    "--imbalanced",
                    f"smallest class share {profile.minority_fraction:.1%} "
                    f"(ratio to the largest {ratio:.3g})",
                    f"the classes in this file are balanced (ratio {ratio:.3g} >= "
                    f"{R.BALANCED_RATIO:g}), but the flag wins: it may describe the data "
                    f"you train on",
                    "flag",
                )
            )

    if profile is not None and profile.form:
        variant = f"{task}/{profile.form}"

    facts = Facts(
        task=task,
        variant=variant,
        outliers=outliers,
        outliers_from=outliers_from if outliers is not None else "",
        heavy_tails=heavy,
        heavy_tails_from=heavy_from,
        gaussian=gaussian,
        imbalanced=imbalanced,
        imbalanced_from=imbalanced_from,
        max_margin=flags.max_margin,
        need_probabilities=flags.need_probabilities,
        interpretable=flags.interpretable,
        smooth=flags.smooth,
        profile=profile,
        planned=planned,
        notes=tuple(notes),
    )
    return facts, contradictions


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Reason:
    """Why a rule backs (or warns against) a loss: the rule id, the evidence, the guide."""

    rule: str
    text: str
    effect: str  # "for" | "against" | "overruled" (backing outweighed by a flag's objection)
    quotes: tuple[Quote, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "text": self.text,
            "effect": self.effect,
            "guide": [{"seed": q.seed, "text": q.text} for q in self.quotes],
        }


@dataclass(frozen=True)
class Recommendation:
    """One loss with its score (0..1), suggested parameters and the reasons."""

    loss: str
    params: dict[str, Any]
    score: float
    reasons: tuple[Reason, ...]
    params_note: str = ""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "loss": self.loss,
            "params": dict(self.params),
            "score": self.score,
            "reasons": [r.as_dict() for r in self.reasons],
        }
        if self.params_note:
            out["params_note"] = self.params_note
        return out


@dataclass(frozen=True)
class Avoid:
    loss: str
    reasons: tuple[Reason, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"loss": self.loss, "reasons": [r.as_dict() for r in self.reasons]}


@dataclass(frozen=True)
class Pitfall:
    id: str
    message: str
    quotes: tuple[Quote, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "message": self.message,
            "guide": [{"seed": q.seed, "text": q.text} for q in self.quotes],
        }


@dataclass(frozen=True)
class PlannedRating:
    """A loss the user plans to use (--losses), rated like the recommendations."""

    loss: str
    params: dict[str, Any]
    score: float
    verdict: str  # "recommended" | "acceptable" | "avoid" | "not backed"
    reasons: tuple[Reason, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "loss": self.loss,
            "params": dict(self.params),
            "score": self.score,
            "verdict": self.verdict,
            "reasons": [r.as_dict() for r in self.reasons],
        }


@dataclass(frozen=True)
class RecommendReport:
    """What ``loss recommend`` concluded, for every output format."""

    task: str
    task_reason: str
    source: str | None
    evidence: dict[str, Any]
    recommendations: tuple[Recommendation, ...]
    avoid: tuple[Avoid, ...]
    pitfalls: tuple[Pitfall, ...]
    contradictions: tuple[Contradiction, ...]
    planned: tuple[PlannedRating, ...] = ()
    fired: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    thresholds: dict[str, float] = field(default_factory=lambda: dict(R.THRESHOLDS))

    @property
    def top(self) -> Recommendation | None:
        return self.recommendations[0] if self.recommendations else None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "command": "recommend",
            "task": self.task,
            "source": self.source,
            "evidence": dict(self.evidence),
            "recommendations": [r.as_dict() for r in self.recommendations],
            "avoid": [a.as_dict() for a in self.avoid],
            "pitfalls": [p.as_dict() for p in self.pitfalls],
            "contradictions": [c.as_dict() for c in self.contradictions],
        }
        if self.planned:
            out["planned"] = [p.as_dict() for p in self.planned]
        out["task_reason"] = self.task_reason
        out["flags"] = list(self.flags)
        out["rules_fired"] = list(self.fired)
        out["notes"] = list(self.notes)
        out["thresholds"] = dict(self.thresholds)
        return out


# --------------------------------------------------------------------------- scoring


def _round_sig(x: float, digits: int = 3) -> float:
    return float(f"{x:.{digits}g}")


def suggest_params(loss: str, facts: Facts) -> tuple[dict[str, Any], str]:
    """Parameters worth setting for a recommended loss, measured from the data when given."""
    p = facts.profile
    if loss == "huber":
        if p is not None and p.residual_scale:
            delta = _round_sig(R.HUBER_DELTA_FACTOR * p.residual_scale)
            return {"delta": delta}, (
                f"delta = {R.HUBER_DELTA_FACTOR:g} x robust sigma of the residuals "
                f"(1.4826 MAD = {p.residual_scale:.4g}): Huber's constant, 95% as efficient "
                f"as mse for normal errors while large errors count linearly "
                f"(scikit-learn HuberRegressor epsilon=1.35)"
            )
        return {}, (
            f"delta is in target units: set it to about {R.HUBER_DELTA_FACTOR:g} x the "
            f"residuals' robust sigma (give a FILE to measure it); the default is 1"
        )
    if loss == "focal" and facts.task == "binary" and facts.imbalanced:
        positive = p.class_fractions.get("1") if p is not None else None
        if positive is not None and 0 < positive < 1:
            alpha = min(max(round(1.0 - positive, 2), 0.01), 0.99)
            return {"gamma": 2.0, "alpha": alpha}, (
                f"alpha weights the positive class (torchvision): 1 - {positive:.3g} "
                f"positives = {alpha:g} balances the classes by inverse frequency; Lin et al. "
                f"use 0.25 with gamma=2 when easy negatives dominate, so tune between them"
            )
        return {}, "alpha weights the positive class: set it near 1 - the share of positives"
    return {}, ""


def _combine(weights: list[float]) -> float:
    remaining = 1.0
    for w in weights:
        remaining *= 1.0 - w
    return 1.0 - remaining


def score_losses(
    fired: list[Fired], strength: float = 1.0
) -> tuple[dict[str, float], dict[str, float], dict[str, list[tuple[Fired, str]]], list[str]]:
    """(support, penalty, reasons, order) per loss from the fired rules. Pure.

    ``strength`` (:func:`.rules.evidence_strength` of the file's rows) scales the
    backing of rules fired only by the file's measurements: 20 rows back a loss
    less than 500 do. The task's and the flags' backing, and penalties, are not
    scaled.

    A flag's objection outweighs a flag's backing: for a loss that a rule fired by
    the user's flags warns against, the backing of rules fired by the user's flags
    is not counted (its reason's effect is "overruled"); see :mod:`.rules`.
    """
    objected = {loss for item in fired if item.by_flag for loss, _ in item.avoid}
    support: dict[str, list[float]] = {}
    penalty: dict[str, list[float]] = {}
    reasons: dict[str, list[tuple[Fired, str]]] = {}
    order: list[str] = []
    for item in fired:
        for loss, weight in item.supports:
            if item.by_flag and loss in objected:
                reasons.setdefault(loss, []).append((item, "overruled"))
            else:
                support.setdefault(loss, []).append(
                    weight * strength if item.by_evidence else weight
                )
                reasons.setdefault(loss, []).append((item, "for"))
            if loss not in order:
                order.append(loss)
        for loss, pen in item.avoid:
            penalty.setdefault(loss, []).append(pen)
            reasons.setdefault(loss, []).append((item, "against"))
            if loss not in order:
                order.append(loss)
    return (
        {k: _combine(v) for k, v in support.items()},
        {k: _combine(v) for k, v in penalty.items()},
        reasons,
        order,
    )


def _evaluation_only(loss: str) -> bool:
    """Whether the registry marks this figure as one to report, never to train on."""
    from losscli.core.registry import get_loss
    from losscli.errors import UsageError

    try:
        return get_loss(loss).evaluation_only
    except UsageError:  # a name the rules use that is not a registered loss
        return False


def _reason(item: Fired, effect: str) -> Reason:
    return Reason(item.id, item.text, effect, item.rule.quotes)


def recommend(
    facts: Facts,
    contradictions: list[Contradiction] | None = None,
    *,
    rules: tuple[Rule, ...] = R.RULES,
    task_reason: str = "",
    flags: Flags | None = None,
    notes: tuple[str, ...] = (),
) -> RecommendReport:
    """Evaluate the rules on the facts and rank the losses they name. Pure."""
    fired = R.evaluate(rules, facts)
    pitfalls = tuple(
        Pitfall(f.id, f.text, f.rule.quotes) for f in fired if f.rule.kind == "pitfall"
    )
    strength = R.evidence_strength(facts.profile.n_rows) if facts.profile is not None else 1.0
    support, penalty, reasons, order = score_losses(fired, strength)

    recs: list[Recommendation] = []
    avoid: list[Avoid] = []
    for loss in order:
        sup, pen = support.get(loss, 0.0), penalty.get(loss, 0.0)
        why = tuple(_reason(item, effect) for item, effect in reasons[loss])
        overruled = any(r.effect == "overruled" for r in why)
        if pen >= R.AVOID_PENALTY or (overruled and sup == 0 and pen > 0):
            # no backing left once a flag's objection overrules the others: avoid it
            avoid.append(Avoid(loss, tuple(r for r in why if r.effect == "against")))
        elif sup > 0 and not _evaluation_only(loss):
            params, note = suggest_params(loss, facts)
            recs.append(Recommendation(loss, params, round(sup * (1 - pen), 3), why, note))
    recs.sort(key=lambda r: -r.score)  # stable: ties keep rule order

    planned: list[PlannedRating] = []
    for p in facts.planned:
        sup, pen = support.get(p.name, 0.0), penalty.get(p.name, 0.0)
        score = round(sup * (1 - pen), 3)
        if pen >= R.AVOID_PENALTY or any(a.loss == p.name for a in avoid):
            verdict = "avoid"
        elif recs and p.name == recs[0].loss:
            verdict = "recommended"
        elif sup > 0:
            verdict = "acceptable"
        else:
            verdict = "not backed"
        why = tuple(_reason(item, effect) for item, effect in reasons.get(p.name, []))
        planned.append(PlannedRating(p.name, dict(p.params), score, verdict, why))

    profile = facts.profile
    return RecommendReport(
        task=facts.task,
        task_reason=task_reason,
        source=profile.source if profile is not None else None,
        evidence=(
            {**profile.evidence(), "evidence_strength": strength} if profile is not None else {}
        ),
        recommendations=tuple(recs),
        avoid=tuple(avoid),
        pitfalls=pitfalls,
        contradictions=tuple(contradictions or ()),
        planned=tuple(planned),
        fired=tuple(f.id for f in fired),
        flags=tuple(flags.given()) if flags is not None else (),
        notes=(*notes, *(n for n in facts.notes if n not in notes)),
    )
