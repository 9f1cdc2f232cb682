"""Regenerate the sample files: python sample_data/generate.py (deterministic, seed 7)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent
rng = np.random.default_rng(7)


def save(name: str, frame: pd.DataFrame) -> None:
    frame.to_csv(HERE / name, index=False, float_format="%.6g")


def regression(n: int, outlier_fraction: float) -> pd.DataFrame:
    # House prices in thousands: a good model (y_pred) and a biased, noisier one (model_b).
    size = rng.uniform(50, 250, n)
    y = 40 + 1.6 * size + rng.normal(0, 12, n)
    y_pred = 40 + 1.6 * size + rng.normal(0, 4, n)
    model_b = 30 + 1.55 * size + rng.normal(0, 8, n)
    k = int(round(outlier_fraction * n))
    if k:
        idx = rng.choice(n, k, replace=False)
        y[idx] += rng.choice([-1, 1], k) * rng.uniform(120, 300, k)  # data-entry errors
    segment = rng.choice(["north", "south", "east"], n, p=[0.5, 0.3, 0.2])
    weight = rng.choice([1.0, 1.0, 2.0, 0.5], n)
    return pd.DataFrame(
        {"y_true": y.round(2), "y_pred": y_pred.round(2), "model_b": model_b.round(2),
         "weight": weight, "segment": segment}
    )


def binary(n: int, positive_rate: float, logits: bool = False) -> pd.DataFrame:
    y = (rng.uniform(size=n) < positive_rate).astype(int)
    signal = np.where(y == 1, 1.4, -1.4) + np.log(positive_rate / (1 - positive_rate))
    z = signal + rng.normal(0, 1.3, n)
    z_b = 0.6 * signal + rng.normal(0, 1.6, n)
    if logits:
        return pd.DataFrame({"y_true": y, "y_pred": z.round(4), "model_b": z_b.round(4)})
    p = 1 / (1 + np.exp(-z))
    p_b = 1 / (1 + np.exp(-z_b))
    return pd.DataFrame({"y_true": y, "y_pred": p.round(5), "model_b": p_b.round(5)})


def hinge(n: int) -> pd.DataFrame:
    y = rng.choice([-1, 1], n)
    score = 1.2 * y + rng.normal(0, 1.0, n)
    return pd.DataFrame({"y_true": y, "y_pred": score.round(4)})


def multiclass(n: int, logits: bool = False, soft: bool = False) -> pd.DataFrame:
    classes = ["cat", "dog", "bird"]
    labels = rng.choice(3, n, p=[0.45, 0.35, 0.2])
    z = rng.normal(0, 1, (n, 3))
    z[np.arange(n), labels] += 2.0
    frame: dict[str, object] = {}
    if soft:
        t = np.full((n, 3), 0.05)
        t[np.arange(n), labels] = 0.9
        for i, c in enumerate(classes):
            frame[f"y_true_{c}"] = t[:, i]
    else:
        frame["y_true"] = [classes[i] for i in labels]
    if logits:
        for i, c in enumerate(classes):
            frame[f"y_pred_{c}"] = z[:, i].round(4)
    else:
        q = np.exp(z - z.max(axis=1, keepdims=True))
        q /= q.sum(axis=1, keepdims=True)
        q = q.round(5)
        q[:, 2] = (1 - q[:, 0] - q[:, 1]).round(5)  # rows sum to 1 as written
        for i, c in enumerate(classes):
            frame[f"y_pred_{c}"] = q[:, i]
    return pd.DataFrame(frame)


# Structured families (issue 6). A separate generator so the files above stay byte-identical.
family_rng = np.random.default_rng(11)


def boxes(n: int) -> pd.DataFrame:
    # Ground-truth boxes in a 640x480 image; predictions are jittered, a few far off.
    x1 = family_rng.uniform(0, 500, n)
    y1 = family_rng.uniform(0, 360, n)
    w = family_rng.uniform(20, 140, n)
    h = family_rng.uniform(20, 120, n)
    jitter = family_rng.normal(0, 8, (n, 4))
    miss = family_rng.uniform(size=n) < 0.08
    jitter[miss, :2] += family_rng.uniform(80, 200, (int(miss.sum()), 1))
    px1, py1 = x1 + jitter[:, 0], y1 + jitter[:, 1]
    pw = np.maximum(w + jitter[:, 2], 1.0)
    ph = np.maximum(h + jitter[:, 3], 1.0)
    return pd.DataFrame(
        {"true_x1": x1.round(1), "true_y1": y1.round(1),
         "true_x2": (x1 + w).round(1), "true_y2": (y1 + h).round(1),
         "pred_x1": px1.round(1), "pred_y1": py1.round(1),
         "pred_x2": (px1 + pw).round(1), "pred_y2": (py1 + ph).round(1)}
    )


def embedding_pairs(n: int, k: int) -> pd.DataFrame:
    # label 0 = similar pair (the guide's convention), 1 = dissimilar.
    label = (family_rng.uniform(size=n) < 0.5).astype(int)
    a = family_rng.normal(0, 0.5, (n, k))
    b = np.where(label[:, None] == 0, a + family_rng.normal(0, 0.15, (n, k)),
                 family_rng.normal(0, 0.5, (n, k)))
    frame: dict[str, object] = {"label": label}
    frame.update({f"a_{j}": a[:, j].round(4) for j in range(k)})
    frame.update({f"b_{j}": b[:, j].round(4) for j in range(k)})
    return pd.DataFrame(frame)


def triplets(n: int, k: int) -> pd.DataFrame:
    anchor = family_rng.normal(0, 0.5, (n, k))
    positive = anchor + family_rng.normal(0, 0.2, (n, k))
    negative = anchor + family_rng.normal(0, 0.45, (n, k))
    frame: dict[str, object] = {}
    for name, values in (("anchor", anchor), ("positive", positive), ("negative", negative)):
        frame.update({f"{name}_{j}": values[:, j].round(4) for j in range(k)})
    return pd.DataFrame(frame)


def gan(n_real: int, n_fake: int) -> pd.DataFrame:
    # D(x) on real images and D(G(z)) on generated ones; d_fake is shorter (trailing empties).
    d_real = 1 / (1 + np.exp(-family_rng.normal(1.2, 0.8, n_real)))
    d_fake = 1 / (1 + np.exp(-family_rng.normal(-0.9, 0.9, n_fake)))
    fake = pd.Series(d_fake.round(5))
    return pd.DataFrame({"d_real": d_real.round(5), "d_fake": fake.reindex(range(n_real))})


def vae_latents(n: int, k: int, d: int) -> pd.DataFrame:
    mu = family_rng.normal(0, 0.6, (n, k))
    logvar = family_rng.normal(-0.4, 0.3, (n, k))
    x = family_rng.uniform(0, 1, (n, d))
    x_hat = np.clip(x + family_rng.normal(0, 0.08, (n, d)), 0, 1)
    frame: dict[str, object] = {}
    frame.update({f"mu_{j}": mu[:, j].round(4) for j in range(k)})
    frame.update({f"logvar_{j}": logvar[:, j].round(4) for j in range(k)})
    frame.update({f"y_true_{j}": x[:, j].round(4) for j in range(d)})
    frame.update({f"y_pred_{j}": x_hat[:, j].round(4) for j in range(d)})
    return pd.DataFrame(frame)


def model_runs(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two models' predictions of the same rows in two files, keyed by id (forest's shuffled)."""
    ids = np.arange(1, len(frame) + 1)
    ridge = pd.DataFrame({"id": ids, "y_true": frame["y_true"], "y_pred": frame["y_pred"]})
    order = np.random.default_rng(15).permutation(len(frame))
    forest = pd.DataFrame({"id": ids, "y_pred": frame["model_b"]}).iloc[order]
    return ridge, forest


if __name__ == "__main__":
    save("regression_clean.csv", regression(500, 0.0))
    save("regression_outliers.csv", regression(500, 0.03))
    save("binary_balanced.csv", binary(600, 0.5))
    save("binary_imbalanced.csv", binary(1000, 0.05))
    save("binary_logits.csv", binary(600, 0.5, logits=True))
    save("hinge_labels.csv", hinge(400))
    save("multiclass_probs.csv", multiclass(450))
    save("multiclass_logits.csv", multiclass(450, logits=True))
    save("multiclass_soft.csv", multiclass(300, soft=True))
    save("detection_boxes.csv", boxes(300))
    save("similarity_pairs.csv", embedding_pairs(400, 8))
    save("similarity_triplets.csv", triplets(300, 8))
    save("gan_outputs.csv", gan(256, 200))
    save("vae_latents.csv", vae_latents(200, 4, 6))
    (HERE / "runs").mkdir(exist_ok=True)
    ridge, forest = model_runs(pd.read_csv(HERE / "regression_outliers.csv"))
    save("runs/ridge.csv", ridge)
    save("runs/forest.csv", forest)
