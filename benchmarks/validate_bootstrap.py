"""Validate the streaming bootstrap of `--ci` (a check of statistics, not of speed).

1. Coverage: draw many samples from populations whose true loss is known,
   compute the 95% interval of each exactly as `loss compute --ci` does
   (PoissonBootstrap for mse, mae and bce; the order-statistic interval for
   median_ae) and count how often it covers the true value. Target: 93-97%.
   Done at n = 500 (one Poisson weight per row) and n = 20,000 (rows dealt
   into 4,096 blocks).
2. Agreement with the exact row bootstrap (n rows drawn with replacement, the
   method losscli used before) on one 10,000-row sample: the difference of the
   interval ends, against the Monte Carlo spread of the exact bootstrap's own
   ends over several seeds.
3. Paired intervals of `loss compare --ci` (the streamed plan: Poisson block
   draws shared by both models, replicate medians from the banded histograms):
   coverage of the true difference between two correlated models for mse,
   mae and median_ae, at n = 500 and 20,000 (``--paired-only`` runs only this).

    python benchmarks/validate_bootstrap.py              # ~5 minutes on 2 cores
    python benchmarks/validate_bootstrap.py --sims 200   # quicker, coarser
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys

import numpy as np

from losscli.analysis.bootstrap import MedianInterval, PoissonBootstrap, percentile_interval
from losscli.core.reduction import weighted_percentile
from losscli.core.registry import Reduction

LEVEL = 0.95
MEDIAN_ABS_NORMAL = 0.6744897501960817  # the 75th percentile of N(0, 1): median |e|


def true_bce() -> float:
    """E[-p log p - (1-p) log(1-p)] for p ~ U(0.05, 0.95), y ~ Bernoulli(p) (midpoint rule)."""
    p = 0.05 + 0.9 * (np.arange(2_000_000) + 0.5) / 2_000_000
    return float(np.mean(-p * np.log(p) - (1 - p) * np.log1p(-p)))


TRUTH = {
    "mse": 1.0,
    "mae": math.sqrt(2 / math.pi),
    "median_ae": MEDIAN_ABS_NORMAL,
    "bce": true_bce(),
}


def sample(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Per-row terms of each loss for one sample: errors N(0, 1); calibrated probabilities."""
    e = rng.normal(size=n)
    p = rng.uniform(0.05, 0.95, n)
    y = rng.random(n) < p
    return {
        "mse": e * e,
        "mae": np.abs(e),
        "median_ae": np.abs(e),
        "bce": np.where(y, -np.log(p), -np.log1p(-p)),
    }


def intervals(
    terms: dict[str, np.ndarray], n_boot: int, seed: int
) -> dict[str, tuple[float, float]]:
    names = ["mse", "mae", "bce"]
    state = PoissonBootstrap([Reduction.MEAN] * 3, n_boot, seed)
    state.update([terms[k] for k in names])
    reps = state.replicates()
    out = {k: percentile_interval(reps[:, j], LEVEL) for j, k in enumerate(names)}
    median = MedianInterval(level=LEVEL)
    median.add(terms["median_ae"])
    out["median_ae"] = median.interval()
    return out


def coverage(n: int, sims: int, n_boot: int) -> dict[str, float]:
    rng = np.random.default_rng(20261202 + n)
    hits = dict.fromkeys(TRUTH, 0)
    for s in range(sims):
        found = intervals(sample(rng, n), n_boot, seed=s)
        for loss, (low, high) in found.items():
            hits[loss] += low <= TRUTH[loss] <= high
    return {loss: hits[loss] / sims for loss in TRUTH}


def row_bootstrap(terms: np.ndarray, kind: str, n_boot: int, seed: int) -> tuple[float, float]:
    """The exact row bootstrap: n rows drawn with replacement, percentile interval."""
    rng = np.random.default_rng(seed)
    n = terms.size
    reps = np.empty(n_boot)
    for b in range(n_boot):
        drawn = terms[rng.integers(0, n, n)]
        reps[b] = weighted_percentile(drawn, None, 50.0) if kind == "median" else drawn.mean()
    return percentile_interval(reps, LEVEL)


def agreement(n: int, n_boot: int, seeds: int) -> list[tuple[str, float, float, float, float]]:
    terms = sample(np.random.default_rng(7), n)
    mine = intervals(terms, n_boot, seed=0)
    rows = []
    for loss in TRUTH:
        kind = "median" if loss == "median_ae" else "mean"
        exact = [row_bootstrap(terms[loss], kind, n_boot, seed) for seed in range(seeds)]
        lows, highs = [e[0] for e in exact], [e[1] for e in exact]
        # Monte Carlo error of one exact run's ends: their spread over seeds.
        mc = max(statistics.stdev(lows), statistics.stdev(highs))
        gap = max(
            abs(mine[loss][0] - statistics.mean(lows)), abs(mine[loss][1] - statistics.mean(highs))
        )
        width = statistics.mean(highs) - statistics.mean(lows)
        rows.append((loss, gap / width, mc / width, gap / mc if mc > 0 else math.inf, width))
    return rows


# Model a: errors N(0, 1); model b: 1.2 x (0.6 a + 0.8 z), correlated with a (rho 0.6).
PAIRED_SCALE = 1.2
PAIRED_TRUTH = {
    "mse": PAIRED_SCALE**2 - 1.0,
    "mae": math.sqrt(2 / math.pi) * (PAIRED_SCALE - 1.0),
    "median_ae": MEDIAN_ABS_NORMAL * (PAIRED_SCALE - 1.0),
}


def paired_coverage(n: int, sims: int, n_boot: int) -> dict[str, float]:
    """How often compare --ci's interval of (b - a) covers the true difference."""
    from losscli.analysis.compare import compare_models
    from losscli.core.dataset import Dataset
    from losscli.core.registry import Task, select_losses

    rng = np.random.default_rng(20261203 + n)
    hits = dict.fromkeys(PAIRED_TRUTH, 0)
    selections = select_losses(list(PAIRED_TRUTH), Task.REGRESSION)
    for s in range(sims):
        e_a = rng.normal(size=n)
        e_b = PAIRED_SCALE * (0.6 * e_a + 0.8 * rng.normal(size=n))
        y = rng.normal(size=n)
        data = Dataset(
            source="simulated",
            task=Task.REGRESSION,
            task_reason="simulated",
            y_true=y,
            models={"a": y - e_a, "b": y - e_b},
            row_numbers=np.arange(1, n + 1),
        )
        report = compare_models(data, selections, ci_level=LEVEL, n_boot=n_boot, seed=s)
        for loss in PAIRED_TRUTH:
            rows = {r.model: r for r in report.results if r.loss == loss}
            if rows["b"].rank == 2:
                low, high = rows["b"].diff_ci_low, rows["b"].diff_ci_high
            else:  # b came out best in this sample: the interval is of a - b
                low, high = -rows["a"].diff_ci_high, -rows["a"].diff_ci_low
            hits[loss] += low <= PAIRED_TRUTH[loss] <= high
    return {loss: hits[loss] / sims for loss in PAIRED_TRUTH}


# Skill scores: y ~ N(0, 1), residual e ~ N(0.2, 0.4^2) independent of y, so the
# population r2 = 1 - E[e^2] / Var(y) = 1 - (0.04 + 0.16) = 0.8 and the
# explained variance = 1 - Var(e) / Var(y) = 0.84.
SKILL_TRUTH = {"r2": 0.8, "explained_variance": 0.84}


def _count_covering(hits: dict[str, int], replicates: np.ndarray, truth: dict[str, float]) -> None:
    """Count each figure whose percentile interval (its column of ``replicates``) covers truth."""
    for j, name in enumerate(truth):
        low, high = percentile_interval(replicates[:, j], LEVEL)
        hits[name] += low <= truth[name] <= high


def skill_coverage(n: int, sims: int, n_boot: int) -> dict[str, float]:
    """How often compute --ci's interval of r2 / explained_variance covers the truth."""
    from losscli.core.registry import Reduction

    rng = np.random.default_rng(20261204 + n)
    kinds = [Reduction.R2, Reduction.EXPLAINED_VARIANCE]
    hits = dict.fromkeys(SKILL_TRUTH, 0)
    for s in range(sims):
        y = rng.normal(size=n)
        e = rng.normal(0.2, 0.4, size=n)
        state = PoissonBootstrap(kinds, n_boot, seed=s)
        comp = np.column_stack([e, y])
        state.update([comp, comp])
        _count_covering(hits, state.replicates(), SKILL_TRUTH)
    return {k: hits[k] / sims for k in SKILL_TRUTH}


# Calibration: p ~ U(0, 1), y ~ Bernoulli(0.5 + 0.8 (p - 0.5)) (an over-confident model).
# The top-label confidence c = max(p, 1 - p) is U(0.5, 1) and the chance it is right
# 0.5 + 0.8 (c - 0.5), so every bin's gap is 0.2 (conf_b - 0.5) >= 0: the population
# ece (15 bins) is 0.2 (E[c] - 0.5) = 0.05 and the mce the top bin's [14/15, 1),
# 0.2 (29/30 - 0.5).
CALIBRATION_TRUTH = {"ece": 0.05, "mce": 0.2 * (29 / 30 - 0.5)}


def calibration_coverage(n: int, sims: int, n_boot: int) -> dict[str, float]:
    """How often compute --ci's interval of ece / mce covers the population's figure."""
    from losscli.core.calibration import top_label
    from losscli.core.registry import Task, select_losses

    rng = np.random.default_rng(20261205 + n)
    kinds = [s.reducer for s in select_losses(list(CALIBRATION_TRUTH), Task.BINARY)]
    hits = dict.fromkeys(CALIBRATION_TRUTH, 0)
    for s in range(sims):
        p = rng.uniform(0, 1, n)
        y = (rng.random(n) < 0.5 + 0.8 * (p - 0.5)).astype(np.float64)
        comp = np.column_stack(top_label(y, p))
        state = PoissonBootstrap(kinds, n_boot, seed=s)
        state.update([comp, comp])
        _count_covering(hits, state.replicates(), CALIBRATION_TRUTH)
    return {k: hits[k] / sims for k in CALIBRATION_TRUTH}


# d2_tweedie (power 2, gamma deviance): mu = exp(x), x ~ N(0, 0.5^2); y ~ Gamma(shape
# k = 2, mean mu); the model predicts mu. E dev(y, mu) = 2 (log k - digamma(k)) and the
# null model's (the mean m = exp(sigma^2 / 2)) 2 (sigma^2 / 2 + log k - digamma(k)).
GAMMA_SHAPE, LOG_SD = 2.0, 0.5


def _tweedie_truth() -> float:
    from scipy.special import digamma

    model = math.log(GAMMA_SHAPE) - float(digamma(GAMMA_SHAPE))
    return 1.0 - model / (LOG_SD**2 / 2 + model)


TWEEDIE_TRUTH = {"d2_tweedie": _tweedie_truth()}


def tweedie_coverage(n: int, sims: int, n_boot: int) -> dict[str, float]:
    """How often compute --ci's interval of d2_tweedie (power 2) covers the population's."""
    from losscli.core.registry import LossInputs, Task, select_losses

    rng = np.random.default_rng(20261206 + n)
    selection = select_losses(["d2_tweedie:power=2"], Task.REGRESSION)[0]
    hits = 0
    for s in range(sims):
        mu = np.exp(rng.normal(0, LOG_SD, n))
        y = rng.gamma(GAMMA_SHAPE, mu / GAMMA_SHAPE)
        comp = selection.per_sample(LossInputs(y_true=y, y_pred=mu))
        state = PoissonBootstrap([selection.reducer], n_boot, seed=s)
        state.update([comp])
        low, high = percentile_interval(state.replicates()[:, 0], LEVEL)
        hits += low <= TWEEDIE_TRUTH["d2_tweedie"] <= high
    return {"d2_tweedie": hits / sims}


# d2_absolute_error and d2_pinball (alpha 0.9): x ~ N(0, 1), y = x + e, e ~ N(0, 0.5^2);
# the model predicts x + 0.5 z_alpha, the conditional alpha-quantile. A normal of sd s
# has E pinball_alpha(Y - q_alpha) = s phi(z_alpha), the model's s = 0.5 and the null's
# (the constant q_alpha of y ~ N(0, 1.25)) sqrt(1.25): both figures are 1 - 0.5 / sqrt(1.25).
QUANTILE_TRUTH = {
    "d2_absolute_error": 1 - 0.5 / math.sqrt(1.25),
    "d2_pinball": 1 - 0.5 / math.sqrt(1.25),
}


def quantile_coverage(n: int, sims: int, n_boot: int) -> dict[str, float]:
    """How often compute --ci's interval of d2_absolute_error / d2_pinball covers the truth.

    As compute --ci: pass 1's block sums of the model's pinball loss, then the
    null deviance of every block about the sample's own quantile q (held fixed
    in every replicate).
    """
    from scipy.stats import norm

    from losscli.analysis.bootstrap import fill_null_in_memory
    from losscli.core.registry import LossInputs, Task, select_losses

    rng = np.random.default_rng(20261207 + n)
    selections = select_losses(["d2_absolute_error", "d2_pinball:alpha=0.9"], Task.REGRESSION)
    shifts = [0.0, 0.5 * float(norm.ppf(0.9))]
    hits = dict.fromkeys(QUANTILE_TRUTH, 0)
    for s in range(sims):
        x = rng.normal(size=n)
        y = x + rng.normal(0, 0.5, n)
        comps = [
            sel.per_sample(LossInputs(y_true=y, y_pred=x + shift))
            for sel, shift in zip(selections, shifts)
        ]
        state = PoissonBootstrap([sel.reducer for sel in selections], n_boot, seed=s)
        state.update(comps)
        fill_null_in_memory(state, comps, None)
        _count_covering(hits, state.replicates(), QUANTILE_TRUTH)
    return {k: hits[k] / sims for k in QUANTILE_TRUTH}


FIGURE_CELLS = {
    "calibration": (calibration_coverage, CALIBRATION_TRUTH),
    "tweedie": (tweedie_coverage, TWEEDIE_TRUTH),
    "quantile": (quantile_coverage, QUANTILE_TRUTH),
}


def figure_table(sims: int, n_boot: int, which: str = "all") -> None:
    """Coverage of the figures resampled from per-block sums (ece, mce, d2_*)."""
    se = 100 * math.sqrt(0.95 * 0.05 / sims)
    names = list(FIGURE_CELLS) if which == "all" else which.split(",")
    for title in names:
        measure, truth = FIGURE_CELLS[title]
        print(f"compute --ci: 95% interval coverage ({title}) over {sims} samples each:")
        print(f"{'n':>7s} " + " ".join(f"{k:>18s}" for k in truth))
        for n in (500, 20_000):
            cov = measure(n, sims, n_boot)
            print(f"{n:7d} " + " ".join(f"{100 * cov[k]:17.1f}%" for k in truth), flush=True)
    print(f"(binomial standard error of each figure: {se:.1f} points)\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=1000, help="samples per coverage cell")
    parser.add_argument("--bootstrap", type=int, default=1000, help="replicates (as --bootstrap)")
    parser.add_argument("--seeds", type=int, default=5, help="exact-bootstrap runs to compare")
    parser.add_argument("--paired-only", action="store_true", help="only compare --ci coverage")
    parser.add_argument(
        "--figures-only",
        nargs="?",
        const="all",
        metavar="CELLS",
        help=f"only ece, mce and d2_* coverage (or some of: {','.join(FIGURE_CELLS)})",
    )
    args = parser.parse_args()
    if args.figures_only:
        figure_table(args.sims, args.bootstrap, args.figures_only)
        return
    se = 100 * math.sqrt(0.95 * 0.05 / args.sims)
    print(f"compare --ci: 95% paired interval coverage of b - a over {args.sims} samples each:")
    print(f"{'n':>7s} " + " ".join(f"{k:>10s}" for k in PAIRED_TRUTH))
    for n in (500, 20_000):
        cov = paired_coverage(n, args.sims, args.bootstrap)
        print(f"{n:7d} " + " ".join(f"{100 * cov[k]:9.1f}%" for k in PAIRED_TRUTH), flush=True)
    print(f"(binomial standard error of each figure: {se:.1f} points)\n")
    if args.paired_only:
        return
    figure_table(args.sims, args.bootstrap)
    print(f"compute --ci: 95% interval coverage of skill scores over {args.sims} samples each:")
    print(f"{'n':>7s} " + " ".join(f"{k:>19s}" for k in SKILL_TRUTH))
    for n in (500, 20_000):
        cov = skill_coverage(n, args.sims, args.bootstrap)
        print(f"{n:7d} " + " ".join(f"{100 * cov[k]:18.1f}%" for k in SKILL_TRUTH), flush=True)
    print(f"(binomial standard error of each figure: {se:.1f} points)\n")
    print(f"95% interval coverage over {args.sims} samples each (target 93-97%):")
    print(f"{'n':>7s} " + " ".join(f"{k:>10s}" for k in TRUTH))
    for n in (500, 20_000):
        cov = coverage(n, args.sims, args.bootstrap)
        print(f"{n:7d} " + " ".join(f"{100 * cov[k]:9.1f}%" for k in TRUTH), flush=True)
    print(f"(binomial standard error of each figure: {se:.1f} points)")
    print(f"\nAgreement with the exact row bootstrap, one 10,000-row sample, {args.seeds} seeds:")
    print(f"{'loss':10s} {'|diff|/width':>13s} {'MC sd/width':>12s} {'diff/MC sd':>11s}")
    for loss, gap, mc, ratio, _ in agreement(10_000, args.bootstrap, args.seeds):
        print(f"{loss:10s} {gap:13.3f} {mc:12.3f} {ratio:11.2f}")
    print(
        "median_ae: the order-statistic interval is not a bootstrap; its ends are "
        "compared with the exact bootstrap's percentile interval of the median.",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
