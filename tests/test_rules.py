"""The guide's rules as tables: flags and profile in, fired rule ids and ranking out.

Every rule and pitfall of ``losscli.analysis.rules.RULES`` has at least one
row here (a test fails when one is missing), plus rows where it must not fire.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

from losscli.analysis import rules as R
from losscli.analysis.profile import (
    DataProfile,
    profile_binary,
    profile_multiclass,
    profile_regression,
)
from losscli.analysis.recommend import Flags, recommend, reconcile, resolve_task
from losscli.analysis.rules import PlannedLoss
from losscli.errors import UsageError

SEEDS = ROOT.parent / "shared" / "seeds"


# --------------------------------------------------------------------------- profiles


def reg(**kw) -> DataProfile:
    """A clean regression profile (500 rows, Gaussian residuals), overridden by kw."""
    base = dict(
        source="t.csv",
        task="regression",
        task_reason="test",
        n_rows=500,
        model="y_pred",
        outlier_rule="mad",
        outlier_threshold=3.5,
        outlier_count=0,
        outlier_fraction=0.0,
        residual_median=0.0,
        residual_scale=2.0,
        residual_scale_fallback=False,
        excess_kurtosis=0.1,
        skew=0.05,
        target_mean=0.0,
        target_std=1.0,
        target_abs_max=3.0,
        n_zero_targets=0,
        n_negative_targets=0,
    )
    base.update(kw)
    if "outlier_fraction" in kw and "outlier_count" not in kw:
        base["outlier_count"] = round(kw["outlier_fraction"] * base["n_rows"])
    return DataProfile(**base)


def calibration(
    leader_ece: float, runner_ece: float = 0.01, runner_loss: float = 0.5, noise: float = 0.02
) -> dict:
    """P-CALIB's evidence for two models: "leader" has the best log loss and brier."""
    return {
        "leader": {"log_loss": 0.4, "brier": 0.13, "ece": leader_ece, "ece_noise": noise},
        "runner": {"log_loss": runner_loss, "brier": 0.16, "ece": runner_ece, "ece_noise": noise},
    }


def binary(positive: float = 0.5, **kw) -> DataProfile:
    share = {"0": 1 - positive, "1": positive}
    low, high = min(share.values()), max(share.values())
    base = dict(
        source="t.csv",
        task="binary",
        task_reason="test",
        n_rows=600,
        model="y_pred",
        class_fractions=share,
        minority_class="1" if positive <= 0.5 else "0",
        minority_fraction=low,
        imbalance_ratio=low / high,
        predictions="probabilities",
        pred_min=0.01,
        pred_max=0.99,
        n_pred_outside_01=0,
        n_pred_exact_01=0,
        n_true_class_zero=0,
    )
    base.update(kw)
    return DataProfile(**base)


def multi(**kw) -> DataProfile:
    base = dict(
        source="t.csv",
        task="multiclass",
        task_reason="test",
        n_rows=450,
        model="y_pred",
        class_fractions={"cat": 0.4, "dog": 0.35, "bird": 0.25},
        minority_class="bird",
        minority_fraction=0.25,
        imbalance_ratio=0.25 / 0.4,
        predictions="probabilities",
        pred_min=0.01,
        pred_max=0.98,
        n_pred_outside_01=0,
        n_pred_exact_01=0,
        n_true_class_zero=0,
        soft_targets=False,
        n_rows_not_summing_to_1=0,
        max_rowsum_deviation=1e-16,
    )
    base.update(kw)
    return DataProfile(**base)


def structured(task: str, **kw) -> DataProfile:
    return DataProfile(source="t.csv", task=task, task_reason="columns", n_rows=100, **kw)


def plan(*names: str) -> tuple[PlannedLoss, ...]:
    from losscli.core.registry import get_loss

    out = []
    for name in names:
        spec = get_loss(name)
        out.append(
            PlannedLoss(spec.name, spec.task.value, {}, evaluation_only=spec.evaluation_only)
        )
    return tuple(out)


def run(flags: Flags | None = None, profile: DataProfile | None = None, planned=()):
    flags = flags or Flags()
    task = resolve_task(flags, profile.task if profile is not None else None)
    facts, contradictions = reconcile(flags, task, profile, planned)
    return recommend(facts, contradictions, flags=flags)


# --------------------------------------------------------------------------- the table
# (case id, flags, profile, planned, rules that must fire, ranking prefix,
#  losses that must be avoided, pitfalls that must be reported)

CASES = [
    ("R-REG", Flags(task="regression"), None, (), {"R-REG"}, ["mse", "huber", "mae"], set(), set()),
    (
        "R-REG-CLEAN from --no-outliers",
        Flags(outliers=False),
        None,
        (),
        {"R-REG", "R-REG-CLEAN"},
        ["mse", "rmse"],
        set(),
        set(),
    ),
    (
        "R-REG-CLEAN from data",
        Flags(),
        reg(),
        (),
        {"R-REG", "R-REG-CLEAN"},
        ["mse", "rmse"],
        set(),
        set(),
    ),
    (
        "R-REG-OUTLIERS from --outliers",
        Flags(outliers=True),
        None,
        (),
        {"R-REG", "R-REG-OUTLIERS"},
        ["huber", "mae"],
        {"mse", "rmse"},
        set(),
    ),
    (
        "R-REG-OUTLIERS from data",
        Flags(),
        reg(outlier_fraction=0.03),
        (),
        {"R-REG-OUTLIERS"},
        ["huber", "mae"],
        {"mse", "rmse"},
        set(),
    ),
    (
        "R-REG-HEAVY from --heavy-tails",
        Flags(heavy_tails=True),
        None,
        (),
        {"R-REG-HEAVY"},
        ["huber", "mae"],
        {"mse", "rmse"},
        set(),
    ),
    (
        "R-REG-HEAVY from data",
        Flags(),
        reg(excess_kurtosis=4.0),
        (),
        {"R-REG-HEAVY"},
        ["huber", "mae"],
        {"mse"},
        set(),
    ),
    (
        "R-REG-ROBUST-SMOOTH",
        Flags(outliers=True, smooth=True),
        None,
        (),
        {"R-REG-OUTLIERS", "R-REG-ROBUST-SMOOTH"},
        ["huber", "mae"],
        {"mse"},
        set(),
    ),
    (
        "R-REG-INTERP",
        Flags(interpretable=True),
        None,
        (),
        {"R-REG-INTERP"},
        ["mae", "rmse"],
        set(),
        set(),
    ),
    ("R-SMOOTH", Flags(smooth=True), None, (), {"R-SMOOTH"}, ["mse", "huber", "mae"], set(), set()),
    ("R-BIN", Flags(task="binary"), None, (), {"R-BIN"}, ["bce", "focal"], set(), set()),
    ("R-BIN from data", Flags(), binary(), (), {"R-BIN"}, ["bce"], set(), set()),
    ("R-MULTI", Flags(task="multiclass"), None, (), {"R-MULTI"}, ["cce"], set(), set()),
    ("R-MARGIN", Flags(max_margin=True), None, (), {"R-MARGIN"}, ["hinge", "bce"], set(), set()),
    (
        "R-MARGIN multiclass",
        Flags(task="multiclass", max_margin=True),
        None,
        (),
        {"R-MARGIN"},
        ["multiclass_hinge", "cce"],
        set(),
        set(),
    ),
    (
        "R-MARGIN-SMOOTH",
        Flags(max_margin=True, smooth=True),
        None,
        (),
        {"R-MARGIN", "R-MARGIN-SMOOTH"},
        ["squared_hinge"],
        set(),
        set(),
    ),
    (
        "R-PROB",
        Flags(need_probabilities=True),
        None,
        (),
        {"R-PROB"},
        ["bce"],
        {"hinge", "squared_hinge"},
        set(),
    ),
    (
        "R-PROB multiclass",
        Flags(task="multiclass", need_probabilities=True),
        None,
        (),
        {"R-PROB"},
        ["cce"],
        {"multiclass_hinge"},
        set(),
    ),
    (
        "R-IMB from --imbalanced",
        Flags(imbalanced=True),
        None,
        (),
        {"R-IMB", "P-IMB"},
        ["focal", "bce"],
        set(),
        {"P-IMB"},
    ),
    (
        "R-IMB from data",
        Flags(),
        binary(positive=0.05),
        (),
        {"R-IMB", "P-IMB"},
        ["focal", "bce"],
        set(),
        {"P-IMB"},
    ),
    (
        "R-IMB multiclass from data",
        Flags(),
        multi(
            class_fractions={"a": 0.9, "b": 0.08, "c": 0.02},
            minority_class="c",
            minority_fraction=0.02,
            imbalance_ratio=0.02 / 0.9,
        ),
        (),
        {"R-IMB", "P-IMB"},
        ["categorical_focal", "cce"],
        set(),
        {"P-IMB"},
    ),
    (
        "R-DET",
        Flags(task="detection"),
        None,
        (),
        {"R-DET"},
        ["giou", "iou", "focal"],
        set(),
        set(),
    ),
    (
        "R-DET + R-IMB",
        Flags(task="detection", imbalanced=True),
        None,
        (),
        {"R-DET", "R-IMB"},
        ["focal", "giou", "iou"],
        set(),
        set(),
    ),
    (
        "R-SIM",
        Flags(task="similarity"),
        None,
        (),
        {"R-SIM"},
        ["contrastive", "triplet"],
        set(),
        set(),
    ),
    (
        "R-SIM triplets from data",
        Flags(),
        structured("similarity", form="triplets"),
        (),
        {"R-SIM"},
        ["triplet", "contrastive"],
        set(),
        set(),
    ),
    (
        "R-GEN",
        Flags(task="generative"),
        None,
        (),
        {"R-GEN"},
        ["gan_discriminator", "gan_generator_ns", "gan_generator"],
        set(),
        set(),
    ),
    ("R-DIST", Flags(task="distribution"), None, (), {"R-DIST"}, ["kl_div", "cce"], set(), set()),
    (
        "R-DIST soft targets",
        Flags(),
        multi(soft_targets=True),
        (),
        {"R-MULTI", "R-DIST"},
        ["cce", "kl_div"],
        set(),
        set(),
    ),
    (
        "R-DIST vae data",
        Flags(),
        structured("vae"),
        (),
        {"R-DIST"},
        ["vae", "vae_kl"],
        set(),
        set(),
    ),
    (
        "R-TASK",
        Flags(task="regression"),
        None,
        plan("bce", "mae"),
        {"R-TASK"},
        ["mse"],
        {"bce"},
        set(),
    ),
    (
        "P-LOG0",
        Flags(),
        binary(n_pred_exact_01=3, n_true_class_zero=3),
        (),
        {"P-LOG0"},
        ["bce"],
        set(),
        {"P-LOG0"},
    ),
    ("P-IMB", Flags(task="multiclass", imbalanced=True), None, (), {"P-IMB"}, [], set(), {"P-IMB"}),
    ("P-SCALE", Flags(), reg(target_std=103.0), (), {"P-SCALE"}, ["mse"], set(), {"P-SCALE"}),
    ("P-ACT", Flags(task="binary"), None, plan("mse"), {"P-ACT"}, ["bce"], {"mse"}, {"P-ACT"}),
    (
        "P-ACT brier on multiclass",
        Flags(task="multiclass"),
        None,
        plan("multiclass_brier"),
        {"P-ACT"},
        ["cce"],
        {"multiclass_brier"},
        {"P-ACT"},
    ),
    (
        "P-NOTPROB",
        Flags(),
        binary(n_pred_outside_01=300, pred_min=-4.8, pred_max=5.1, predictions="logits"),
        (),
        {"P-NOTPROB"},
        ["bce"],
        set(),
        {"P-NOTPROB"},
    ),
    (
        "P-HINGE-PROB",
        Flags(max_margin=True),
        binary(),
        (),
        {"P-HINGE-PROB"},
        ["hinge"],
        set(),
        {"P-HINGE-PROB"},
    ),
    (
        "P-ROWSUM",
        Flags(),
        multi(n_rows_not_summing_to_1=5, max_rowsum_deviation=0.2),
        (),
        {"P-ROWSUM"},
        ["cce"],
        set(),
        {"P-ROWSUM"},
    ),
    (
        "P-MAPE0",
        Flags(),
        reg(n_zero_targets=3),
        plan("mape"),
        {"P-MAPE0"},
        ["mse"],
        {"mape"},
        {"P-MAPE0"},
    ),
    ("P-MBE", Flags(outliers=True), None, plan("mbe"), {"P-MBE"}, ["huber"], {"mbe"}, {"P-MBE"}),
    (
        "P-CALIB",
        Flags(),
        binary(calibration=calibration(leader_ece=0.12)),
        (),
        {"P-CALIB"},
        ["bce"],
        set(),
        {"P-CALIB"},
    ),
    (
        "P-CALIB near-best",
        Flags(),
        binary(calibration=calibration(leader_ece=0.01, runner_ece=0.2, runner_loss=0.405)),
        (),
        {"P-CALIB"},
        ["bce"],
        set(),
        {"P-CALIB"},
    ),
    (
        "P-SCORE",
        Flags(),
        binary(),
        plan("accuracy", "bce"),
        {"P-SCORE"},
        ["bce"],
        {"accuracy"},
        {"P-SCORE"},
    ),
]


@pytest.mark.parametrize(
    "flags, profile, planned, fired, ranking, avoid, pitfalls",
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_rule_table(flags, profile, planned, fired, ranking, avoid, pitfalls):
    report = run(flags, profile, planned)
    assert fired <= set(report.fired), report.fired
    got = [r.loss for r in report.recommendations]
    assert got[: len(ranking)] == ranking, got
    assert avoid <= {a.loss for a in report.avoid}
    assert pitfalls == {p.id for p in report.pitfalls}
    scores = [r.score for r in report.recommendations]
    assert scores == sorted(scores, reverse=True)
    assert all(0 <= s <= 1 for s in scores)


def test_every_rule_has_a_row():
    covered = set().union(*(case[4] for case in CASES))
    assert set(R.RULE_IDS) <= covered, set(R.RULE_IDS) - covered


def test_spec_rules_exist():
    required = {
        "R-REG-CLEAN", "R-REG-OUTLIERS", "R-REG-ROBUST-SMOOTH", "R-REG-HEAVY", "R-REG-INTERP",
        "R-BIN", "R-MULTI", "R-MARGIN", "R-PROB", "R-IMB", "R-DET", "R-SIM", "R-GEN", "R-DIST",
        "P-LOG0", "P-IMB", "P-SCALE", "P-ACT", "P-NOTPROB", "P-ROWSUM", "P-MAPE0", "P-MBE",
    }  # fmt: skip
    assert required <= set(R.RULE_IDS)
    assert len(set(R.RULE_IDS)) == len(R.RULE_IDS)


# --------------------------------------------------------------------------- must not fire

MARGIN = Flags(max_margin=True)

NOT_FIRING = [
    ("P-NOTPROB with --from-logits", binary(from_logits=True, n_pred_outside_01=300), "P-NOTPROB"),
    ("P-LOG0 without exact 0/1", binary(), "P-LOG0"),
    ("P-ROWSUM when rows look like logits", multi(n_pred_outside_01=10, n_rows_not_summing_to_1=9), "P-ROWSUM"),
    ("P-SCALE small target", reg(target_std=9.0), "P-SCALE"),
    ("R-REG-CLEAN skewed residuals", reg(skew=2.5), "R-REG-CLEAN"),
    ("R-REG-CLEAN heavy tails", reg(excess_kurtosis=3.0), "R-REG-CLEAN"),
    ("R-REG-CLEAN inconclusive outliers", reg(outlier_fraction=0.005), "R-REG-CLEAN"),
    ("R-REG-OUTLIERS inconclusive", reg(outlier_fraction=0.005), "R-REG-OUTLIERS"),
    ("R-IMB balanced", binary(positive=0.3), "R-IMB"),
    ("R-DIST hard labels", multi(), "R-DIST"),
    ("P-HINGE-PROB without a margin loss", binary(), "P-HINGE-PROB"),
    ("P-NOTPROB with --max-margin", binary(n_pred_outside_01=300), "P-NOTPROB", MARGIN),
    ("P-CALIB only a trailing model", binary(calibration=calibration(0.01, runner_ece=0.3)), "P-CALIB"),
    ("P-CALIB 3% behind the best", binary(calibration=calibration(0.01, 0.3, runner_loss=0.412)), "P-CALIB"),
    ("P-CALIB at the threshold", binary(calibration=calibration(R.CALIBRATION_ECE)), "P-CALIB"),
    ("P-CALIB within sampling noise", binary(calibration=calibration(0.07, noise=0.04)), "P-CALIB"),
    ("P-CALIB without figures", binary(), "P-CALIB"),
    ("P-CALIB on regression", reg(calibration=calibration(0.3)), "P-CALIB"),
]  # fmt: skip


@pytest.mark.parametrize("case", NOT_FIRING, ids=[c[0] for c in NOT_FIRING])
def test_rule_does_not_fire(case):
    _, profile, rule, *flags = case
    assert rule not in run(flags[0] if flags else Flags(), profile).fired


def test_p_mape0_needs_zero_targets_and_planned_mape():
    assert "P-MAPE0" not in run(Flags(), reg(), plan("mape")).fired
    assert "P-MAPE0" not in run(Flags(), reg(n_zero_targets=2)).fired


def test_p_imb_names_the_planned_standard_losses():
    report = run(Flags(imbalanced=True), None, plan("bce", "focal"))
    (pitfall,) = report.pitfalls
    assert "you plan bce" in pitfall.message and "focal" not in pitfall.message.split(":")[0]


def test_p_mbe_and_p_act_fire_only_from_planned_losses():
    assert "P-MBE" not in run(Flags(outliers=True)).fired
    assert "P-ACT" not in run(Flags(task="binary"), None, plan("bce")).fired


# --------------------------------------------------------------------------- scores


def test_score_is_noisy_or_of_weights_times_penalties():
    report = run(Flags(outliers=True))
    by = {r.loss: r.score for r in report.recommendations}
    # huber: R-REG 0.45 and R-REG-OUTLIERS 0.7 -> 1 - 0.55 * 0.3
    assert by["huber"] == pytest.approx(1 - 0.55 * 0.3, abs=1e-3)
    assert by["mae"] == pytest.approx(1 - 0.6 * 0.4, abs=1e-3)


def test_soft_penalty_lowers_score_but_keeps_the_loss():
    report = run(Flags(interpretable=True))
    mse = next(r for r in report.recommendations if r.loss == "mse")
    assert mse.score == pytest.approx(0.5 * 0.7, abs=1e-3)
    assert any(r.effect == "against" and r.rule == "R-REG-INTERP" for r in mse.reasons)


def test_reasons_carry_evidence_and_threshold():
    report = run(Flags(), reg(outlier_fraction=0.03))
    top = report.recommendations[0]
    text = next(r.text for r in top.reasons if r.rule == "R-REG-OUTLIERS")
    assert "3.0% of rows (15 of 500)" in text and "3.5" in text and "1%" in text


def test_huber_delta_from_residual_scale():
    report = run(Flags(), reg(outlier_fraction=0.03, residual_scale=13.0))
    top = report.recommendations[0]
    assert top.loss == "huber"
    assert top.params == {"delta": pytest.approx(1.345 * 13.0, rel=1e-2)}
    assert "1.345" in top.params_note


def test_focal_alpha_from_class_balance():
    report = run(Flags(), binary(positive=0.057))
    top = report.recommendations[0]
    assert top.loss == "focal" and top.params == {"gamma": 2.0, "alpha": 0.94}


# --------------------------------------------------------------------------- flag combinations
# A flag's objection outweighs a flag's backing (rules.py docstring): the backing a
# loss gets from the user's flags is overruled when a rule fired by a flag is
# against it; task and evidence backing still count.
# (case id, flags, profile, ranking prefix, losses overruled, losses avoided)

FLAG_CASES = [
    ("smooth+interpretable", Flags(smooth=True, interpretable=True), None,
     ["rmse", "huber", "mse", "mae"], {"mae", "mse"}, set()),
    ("no-outliers+interpretable+smooth",
     Flags(outliers=False, interpretable=True, smooth=True), None,
     ["rmse", "huber", "mse", "mae"], {"mae", "mse"}, set()),
    ("no-outliers+interpretable", Flags(outliers=False, interpretable=True), None,
     ["mae", "rmse", "huber", "mse"], {"mse"}, set()),
    ("outliers+smooth", Flags(outliers=True, smooth=True), None,
     ["huber", "mae"], {"mae"}, {"mse", "rmse"}),
    ("heavy+interpretable+smooth", Flags(heavy_tails=True, interpretable=True, smooth=True), None,
     ["huber", "mae"], {"mae"}, {"mse", "rmse"}),
    ("outliers+interpretable", Flags(outliers=True, interpretable=True), None,
     ["mae", "huber"], set(), {"mse", "rmse"}),
    ("max-margin+smooth: hinge has no backing left", Flags(max_margin=True, smooth=True), None,
     ["squared_hinge", "bce"], set(), {"hinge"}),
    ("need-probabilities+smooth", Flags(need_probabilities=True, smooth=True), None,
     ["bce", "focal"], set(), {"hinge", "squared_hinge"}),
    ("multiclass+smooth", Flags(task="multiclass", smooth=True), None, ["cce"], set(), set()),
    # evidence is not a flag: the data's backing of mae still counts under --smooth
    ("smooth on a file with outliers", Flags(smooth=True), reg(outlier_fraction=0.03),
     ["huber", "mae"], set(), {"mse", "rmse"}),
    # --outliers kept on clean data is still the user's flag
    ("outliers flag on clean data + smooth", Flags(outliers=True, smooth=True), reg(),
     ["huber", "mae"], {"mae"}, {"mse", "rmse"}),
]  # fmt: skip


@pytest.mark.parametrize(
    "flags, profile, ranking, overruled, avoided",
    [c[1:] for c in FLAG_CASES],
    ids=[c[0] for c in FLAG_CASES],
)
def test_flag_objection_outweighs_flag_backing(flags, profile, ranking, overruled, avoided):
    report = run(flags, profile)
    got = [r.loss for r in report.recommendations]
    assert got[: len(ranking)] == ranking, got
    items = [*report.recommendations, *report.avoid]
    got_overruled = {i.loss for i in items if any(r.effect == "overruled" for r in i.reasons)}
    assert got_overruled == overruled
    assert avoided <= {a.loss for a in report.avoid}


def test_overruled_backing_does_not_count():
    report = run(Flags(smooth=True, interpretable=True))
    mae = next(r for r in report.recommendations if r.loss == "mae")
    effects = {r.rule: r.effect for r in mae.reasons}
    assert effects == {"R-REG": "for", "R-REG-INTERP": "overruled", "R-SMOOTH": "against"}
    assert mae.score == pytest.approx(0.4 * (1 - 0.25), abs=1e-3)  # R-REG only, x R-SMOOTH
    assert report.recommendations[0].loss == "rmse"


def _all_flag_combinations():
    import itertools

    names = (
        "heavy_tails",
        "imbalanced",
        "max_margin",
        "need_probabilities",
        "interpretable",
        "smooth",
    )
    for task in (None, *R.CLASSIFICATION, "regression", "detection", "distribution"):
        for outliers in (None, True, False):
            for values in itertools.product((False, True), repeat=len(names)):
                flags = Flags(task=task, outliers=outliers, **dict(zip(names, values)))
                try:
                    resolve_task(flags)
                except UsageError:
                    continue
                yield flags


def test_no_flag_combination_tops_a_loss_a_flag_rules_against():
    checked = 0
    for flags in _all_flag_combinations():
        report = run(flags)
        flag_rules = {
            f.id for f in R.evaluate(R.RULES, reconcile(flags, report.task)[0]) if f.by_flag
        }

        def objected(rec, flag_rules=flag_rules):
            return any(r.effect == "against" and r.rule in flag_rules for r in rec.reasons)

        clean = [r for r in report.recommendations if not objected(r)]
        if clean:
            assert not objected(report.recommendations[0]), (flags.given(), report.recommendations)
            assert report.recommendations[0].score == clean[0].score
        checked += 1
    assert checked > 50


def test_planned_losses_are_rated():
    report = run(Flags(outliers=True), None, plan("huber", "mse", "mbe", "log_cosh"))
    verdict = {p.loss: p.verdict for p in report.planned}
    assert verdict == {
        "huber": "recommended",
        "mse": "avoid",
        "mbe": "avoid",
        "log_cosh": "not backed",
    }


# --------------------------------------------------------------------------- flags and evidence


def test_no_outliers_flag_loses_to_strong_evidence():
    report = run(Flags(outliers=False), reg(outlier_fraction=0.03))
    assert "R-REG-OUTLIERS" in report.fired and "R-REG-CLEAN" not in report.fired
    (c,) = report.contradictions
    assert c.flag == "--no-outliers" and c.winner == "evidence"
    assert "3.0%" in c.evidence and "1%" in c.text
    assert report.recommendations[0].loss == "huber"


def test_weak_evidence_does_not_override_a_flag():
    report = run(Flags(outliers=False), reg(n_rows=30, outlier_count=1, outlier_fraction=1 / 30))
    assert report.contradictions == ()
    assert "R-REG-CLEAN" in report.fired


@pytest.mark.parametrize(
    "flags, profile, start",
    [
        (
            Flags(outliers=False),
            reg(n_rows=30, outlier_count=3, outlier_fraction=0.1),
            "--no-outliers: the data suggest outliers",
        ),
        (Flags(outliers=True), reg(n_rows=30), "--outliers: the data suggest no outliers"),
        (Flags(heavy_tails=True), reg(n_rows=30), "--heavy-tails: the data suggest light tails"),
        (
            Flags(imbalanced=True),
            binary(positive=0.5, n_rows=30),
            "--imbalanced: the data suggest balanced classes",
        ),
    ],
)
def test_weak_evidence_against_a_flag_is_a_note(flags, profile, start):
    # Under 50 rows the flag stands, as before, but the disagreement is said.
    report = run(flags, profile)
    assert report.contradictions == ()
    (note,) = report.notes
    assert note.startswith(start) and "too few rows to" in note and note.endswith("(30 < 50)")
    # From 50 rows the same disagreement is a contradiction, not a note.
    strong = run(flags, dataclasses.replace(profile, n_rows=50))
    assert [c.flag for c in strong.contradictions] == [start.split(":")[0]]
    assert strong.notes == ()


@pytest.mark.parametrize(
    "flags, profile",
    [
        (Flags(outliers=False), reg(n_rows=30)),
        (Flags(outliers=True), reg(n_rows=30, outlier_count=3, outlier_fraction=0.1)),
        (Flags(heavy_tails=True), reg(n_rows=30, excess_kurtosis=5.0)),
        (Flags(imbalanced=True), binary(positive=0.1, n_rows=30)),
    ],
)
def test_weak_evidence_agreeing_with_a_flag_is_not_noted(flags, profile):
    report = run(flags, profile)
    assert report.contradictions == () and report.notes == ()


def test_outliers_flag_is_kept_on_clean_data_and_noted():
    report = run(Flags(outliers=True), reg())
    (c,) = report.contradictions
    assert c.flag == "--outliers" and c.winner == "flag"
    assert "R-REG-OUTLIERS" in report.fired


def test_imbalanced_flag_on_balanced_data_is_noted():
    report = run(Flags(imbalanced=True), binary(positive=0.5))
    (c,) = report.contradictions
    assert c.flag == "--imbalanced" and c.winner == "flag"
    assert "R-IMB" in report.fired


def test_heavy_tails_flag_on_light_tails_is_noted():
    report = run(Flags(heavy_tails=True), reg())
    assert [c.flag for c in report.contradictions] == ["--heavy-tails"]


TASKS = [
    (Flags(outliers=True), "regression"),
    (Flags(outliers=False), "regression"),
    (Flags(heavy_tails=True), "regression"),
    (Flags(interpretable=True), "regression"),
    (Flags(smooth=True), "regression"),
    (Flags(imbalanced=True), "binary"),
    (Flags(max_margin=True), "binary"),
    (Flags(need_probabilities=True), "binary"),
    (Flags(task="multiclass", imbalanced=True), "multiclass"),
    (Flags(smooth=True, imbalanced=True), "binary"),
    (Flags(task="distribution", need_probabilities=True), "distribution"),
    (Flags(task="detection", imbalanced=True), "detection"),
]


@pytest.mark.parametrize("flags, task", TASKS)
def test_flags_alone_imply_a_task(flags, task):
    assert resolve_task(flags) == task


CONTRADICTORY = [
    (Flags(), None, "nothing to recommend"),
    (Flags(max_margin=True, need_probabilities=True), None, "contradict"),
    (Flags(outliers=True, imbalanced=True), None, "cannot both apply"),
    (Flags(heavy_tails=True, max_margin=True), None, "cannot both apply"),
    (Flags(task="regression", imbalanced=True), None, "does not apply"),
    (Flags(task="binary", outliers=False), None, "does not apply"),
    (Flags(task="similarity", max_margin=True), None, "does not apply"),
    (Flags(imbalanced=True), "regression", "does not apply"),
    (Flags(task="detection"), "binary", "does not match"),
]


@pytest.mark.parametrize("flags, data_task, message", CONTRADICTORY)
def test_contradictory_flags_are_usage_errors(flags, data_task, message):
    with pytest.raises(UsageError, match=message):
        resolve_task(flags, data_task)


def test_distribution_task_accepts_multiclass_data():
    assert resolve_task(Flags(task="distribution"), "multiclass") == "distribution"


# --------------------------------------------------------------------------- quotes


def test_every_rule_quotes_the_guide_verbatim():
    if not SEEDS.is_dir():
        pytest.skip(f"seeds not found at {SEEDS}")
    for rule in R.RULES:
        assert rule.quotes, rule.id
        assert rule.rationale, rule.id
        for quote in rule.quotes:
            text = (SEEDS / quote.seed).read_text(encoding="utf-8")
            assert quote.text in text, (rule.id, quote.text)


def test_rules_module_is_light():
    # `loss recommend --help` prints the thresholds: rules.py must not need NumPy.
    source = Path(R.__file__).read_text(encoding="utf-8")
    assert "import numpy" not in source and "from losscli.core" not in source


def test_thresholds_are_documented_in_help_text():
    for value in ("3.5", "1%", "0.2%", "50", "0.25", "10", "1.345"):
        assert value in R.THRESHOLDS_HELP, value


# --------------------------------------------------------------------------- the profile


def test_profile_regression_matches_the_shared_rule_and_scipy():
    from scipy import stats

    from losscli.analysis.outliers import flag_outliers

    rng = np.random.default_rng(3)
    y_pred = rng.normal(100, 20, 1000)
    y = y_pred + rng.normal(0, 5, 1000)
    y[:20] += 200
    fig = profile_regression(y, y_pred)
    flags = flag_outliers(y - y_pred)
    assert fig["outlier_count"] == flags.count >= 20
    assert fig["outlier_fraction"] == pytest.approx(flags.count / 1000)
    assert fig["residual_scale"] == pytest.approx(flags.scale)
    assert fig["excess_kurtosis"] == pytest.approx(stats.kurtosis(y - y_pred), rel=1e-9)
    assert fig["skew"] == pytest.approx(stats.skew(y - y_pred), rel=1e-9)
    assert fig["target_std"] == pytest.approx(np.std(y))


def test_profile_constant_residuals_have_no_moments():
    y = np.arange(10.0)
    fig = profile_regression(y, y - 1.0)
    assert fig["excess_kurtosis"] is None and fig["skew"] is None
    assert fig["outlier_count"] == 0


@pytest.mark.parametrize("scale", [1e-150, 1.0, 1e150])
def test_profile_moments_are_scale_free(scale):
    rng = np.random.default_rng(5)
    r = rng.standard_t(3, 400)
    fig = profile_regression(r * scale, np.zeros(400))
    base = profile_regression(r, np.zeros(400))
    assert np.isfinite(fig["excess_kurtosis"]) and np.isfinite(fig["skew"])
    assert fig["excess_kurtosis"] == pytest.approx(base["excess_kurtosis"], rel=1e-9)
    assert fig["skew"] == pytest.approx(base["skew"], rel=1e-9)


def test_profile_binary_balance_and_predictions():
    y = np.array([0, 0, 0, 1.0])
    fig = profile_binary(y, np.array([0.0, 0.2, 0.3, 1.0]), from_logits=False)
    assert fig["class_fractions"] == {"0": 0.75, "1": 0.25}
    assert fig["minority_class"] == "1" and fig["imbalance_ratio"] == pytest.approx(1 / 3)
    assert fig["n_pred_exact_01"] == 2 and fig["predictions"] == "probabilities"
    fig = profile_binary(y, np.array([-2.0, 0.2, 0.3, 3.0]), from_logits=False)
    assert fig["predictions"] == "logits" and fig["n_pred_outside_01"] == 2


def test_profile_multiclass_row_sums():
    t = np.eye(3)[[0, 1, 2, 0]]
    q = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.2], [0.5, 0.5, 0.0]])
    fig = profile_multiclass(t, q, ("a", "b", "c"), False, R.ROWSUM_TOLERANCE)
    assert fig["n_rows_not_summing_to_1"] == 1
    assert fig["max_rowsum_deviation"] == pytest.approx(0.4)
    assert fig["class_fractions"]["a"] == 0.5 and fig["minority_fraction"] == 0.25


def test_evidence_is_json_ready():
    import json

    evidence = reg(outlier_fraction=0.03, outlier_rows=(1, 2)).evidence()
    json.dumps(evidence)
    assert evidence["outlier_rows"] == [1, 2] and "task" not in evidence


def test_facts_are_frozen():
    facts, _ = reconcile(Flags(outliers=True), "regression")
    with pytest.raises(dataclasses.FrozenInstanceError):
        facts.task = "binary"  # type: ignore[misc]


# --------------------------------------------------------------------------- edge cases


def test_single_class_file_gets_no_focal_alpha():
    report = run(Flags(), binary(positive=1.0))
    focal = next(r for r in report.recommendations if r.loss == "focal")
    assert focal.params == {} and "1 - the share of positives" in focal.params_note


def test_extreme_balance_keeps_alpha_inside_0_1():
    report = run(Flags(), binary(positive=0.001))
    assert report.recommendations[0].params["alpha"] == 0.99


def test_few_rows_are_called_weak_evidence():
    report = run(Flags(), reg(n_rows=3))
    text = next(r.text for r in report.recommendations[0].reasons if r.rule == "R-REG-CLEAN")
    assert "only 3 rows, weak evidence" in text


def test_constant_residuals_are_not_called_measured_gaussian():
    report = run(Flags(), reg(excess_kurtosis=None, skew=None))
    text = next(r.text for r in report.recommendations[0].reasons if r.rule == "R-REG-CLEAN")
    assert "no spread" in text
