"""Column families of the structured losses: detection, default panels, validation errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLES

from losscli.io.families import detect_family


def write(tmp_path, text: str, name: str = "data.csv") -> str:
    path = tmp_path / name
    path.write_text(text.strip() + "\n", encoding="utf-8")
    return str(path)


def assert_error(result, *fragments: str) -> None:
    """Exit 1, nothing on stdout, exactly one 'Error:' line naming the fragments."""
    assert result.exit_code == 1, result.stderr
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


# --------------------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("sample", "task", "losses"),
    [
        ("detection_boxes.csv", "detection", ["iou", "giou"]),
        ("similarity_pairs.csv", "similarity", ["contrastive"]),
        ("similarity_triplets.csv", "similarity", ["triplet"]),
        (
            "gan_outputs.csv",
            "generative",
            ["gan_discriminator", "gan_generator", "gan_generator_ns"],
        ),
        ("vae_latents.csv", "vae", ["vae_kl", "vae"]),
    ],
)
def test_sample_files_detect_their_family_and_default_panel(run_json, sample, task, losses):
    out = run_json("compute", SAMPLES / sample)
    assert out["task"] == task
    assert [r["loss"] for r in out["results"]] == losses
    assert all(math.isfinite(r["value"]) for r in out["results"])


def test_families_take_precedence_over_y_true_y_pred():
    names = ["y_true", "y_pred", "mu_0", "logvar_0"]
    assert detect_family(names, "auto")[0].value == "vae"
    assert detect_family(["y_true", "y_pred"], "auto") is None
    # an explicit y_true/y_pred task switches family detection off
    assert detect_family(names, "regression") is None


def test_task_option_names_a_family_that_is_absent(run):
    result = run("compute", SAMPLES / "regression_clean.csv", "--task", "detection")
    assert_error(result, "--task detection needs the columns", "true_x1")


def test_gan_file_value_uses_each_columns_own_mean(run_json):
    frame = pd.read_csv(SAMPLES / "gan_outputs.csv")
    real, fake = frame["d_real"].dropna().to_numpy(), frame["d_fake"].dropna().to_numpy()
    assert real.size != fake.size
    out = run_json("compute", SAMPLES / "gan_outputs.csv", "-l", "gan_discriminator")
    want = -(np.mean(np.log(real)) + np.mean(np.log1p(-fake)))
    assert out["results"][0]["value"] == pytest.approx(want, rel=1e-12)
    # n_rows counts the file's data rows (SPEC 2), not the values of both columns.
    assert out["n_rows"] == max(real.size, fake.size)


def test_gan_trailing_empty_cells_are_not_missing(run_json, tmp_path):
    path = write(tmp_path, "d_real,d_fake\n0.9,0.2\n0.8,\n0.7,\n")
    out = run_json("compute", path, "-l", "gan_generator_ns")
    assert out["results"][0]["value"] == pytest.approx(-math.log(0.2), rel=1e-12)


def test_gan_empty_cell_in_the_middle_is_missing(run, run_json, tmp_path):
    path = write(tmp_path, "d_real,d_fake\n0.9,0.2\n0.8,\n0.7,0.4\n")
    assert_error(run("compute", path), "column d_fake", "rows 2")
    out = run_json("compute", path, "--nan", "drop", "-l", "gan_generator_ns")
    assert out["n_dropped"] == 1
    want = -(math.log(0.2) + math.log(0.4)) / 2
    assert out["results"][0]["value"] == pytest.approx(want, rel=1e-12)


def test_gan_without_d_real_computes_the_generator_losses(run_json, tmp_path):
    path = write(tmp_path, "d_fake\n0.2\n0.4\n")
    out = run_json("compute", path)
    assert [r["loss"] for r in out["results"]] == ["gan_generator", "gan_generator_ns"]


def test_vae_without_reconstruction_columns_computes_vae_kl(run_json, tmp_path):
    path = write(tmp_path, "mu_0,mu_1,logvar_0,logvar_1\n0,0,0,0\n1,0,0,0\n")
    out = run_json("compute", path)
    assert [r["loss"] for r in out["results"]] == ["vae_kl"]
    assert out["results"][0]["value"] == pytest.approx(0.125, rel=1e-12)  # 0.5 * 1 / 4


def test_contrastive_from_a_distance_column(run_json, tmp_path):
    path = write(tmp_path, "label,distance\n0,0.5\n1,0.25\n1,2\n")
    out = run_json("compute", path)
    assert out["task"] == "similarity"
    want = (0.25 + 0.75**2 + 0.0) / 3
    assert out["results"][0]["value"] == pytest.approx(want, rel=1e-12)


def test_weights_apply_to_row_aligned_families(run_json, tmp_path):
    path = write(tmp_path, "label,distance,w\n0,0.5,1\n1,0.25,3\n")
    out = run_json("compute", path, "--weight-col", "w")
    want = (0.25 * 1 + 0.75**2 * 3) / 4
    assert out["results"][0]["value"] == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize(
    "weights, fragments",
    [
        (("1", "-2"), ("column w", "sample weights must be >= 0", "-2 at row 2")),
        (("0", "0"), ("column w", "all sample weights are zero", "a positive weight")),
        (("1e308", "1e308"), ("column w", "sum to more than float64 can hold", "rescale")),
    ],
)
def test_family_weights_are_checked_as_any_file_s(run, tmp_path, weights, fragments):
    """The same checks, and messages, as the weights of y_true/y_pred files."""
    rows = "".join(f"{label},{d},{w}\n" for label, d, w in zip((0, 1), (0.5, 0.25), weights))
    path = write(tmp_path, "label,distance,w\n" + rows)
    assert_error(run("compute", path, "--weight-col", "w"), *fragments)


# --------------------------------------------------------------------------- validation


def test_box_with_x2_below_x1(run, tmp_path):
    path = write(
        tmp_path,
        "true_x1,true_y1,true_x2,true_y2,pred_x1,pred_y1,pred_x2,pred_y2\n"
        "0,0,2,2,0,0,2,2\n"
        "0,0,2,2,5,0,3,2\n",
    )
    assert_error(run("compute", path), "column pred_x2", "3 at row 2", "pred_x1 = 5")


def test_box_with_y2_below_y1(run, tmp_path):
    path = write(
        tmp_path,
        "true_x1,true_y1,true_x2,true_y2,pred_x1,pred_y1,pred_x2,pred_y2\n0,4,2,1,0,0,2,2\n",
    )
    assert_error(run("compute", path), "column true_y2", "row 1")


def test_missing_box_column(run, tmp_path):
    path = write(tmp_path, "true_x1,true_y1,true_x2,true_y2,pred_x1,pred_y1\n0,0,1,1,0,0\n")
    assert_error(run("compute", path), "pred_x2", "pred_y2")


def test_zero_area_boxes_are_accepted_with_a_note(run, tmp_path):
    path = write(
        tmp_path,
        "true_x1,true_y1,true_x2,true_y2,pred_x1,pred_y1,pred_x2,pred_y2\n1,1,1,1,1,1,1,1\n",
    )
    result = run("compute", path, "--format", "json", "-l", "iou")
    assert result.exit_code == 0, result.stderr
    assert "zero area" in result.stderr
    assert '"value": 1.0' in result.stdout


def test_embedding_dimension_mismatch(run, tmp_path):
    path = write(tmp_path, "label,a_0,a_1,a_2,b_0,b_1\n0,1,2,3,1,2\n")
    assert_error(run("compute", path), "embedding dimension mismatch", "3 a_*", "2 b_*")


def test_triplet_dimension_mismatch(run, tmp_path):
    path = write(tmp_path, "anchor_0,anchor_1,positive_0,positive_1,negative_0\n1,2,1,2,0\n")
    assert_error(run("compute", path), "embedding dimension mismatch", "1 negative_*")


def test_pair_label_must_be_0_or_1(run, tmp_path):
    path = write(tmp_path, "label,a_0,b_0\n0,1,1\n2,0,1\n")
    assert_error(run("compute", path), "column label", "2 at row 2", "0 for a similar pair")


def test_negative_distance(run, tmp_path):
    path = write(tmp_path, "label,distance\n0,0.5\n1,-0.25\n")
    assert_error(run("compute", path), "column distance", "-0.25 at row 2")


def test_gan_probability_outside_0_1(run, run_json, tmp_path):
    path = write(tmp_path, "d_real,d_fake\n0.9,0.2\n1.7,-2.0\n")
    assert_error(run("compute", path), "column d_real", "1.7 at row 2", "--from-logits")
    out = run_json("compute", path, "--from-logits", "-l", "gan_discriminator")
    want = np.mean(np.logaddexp(0, -np.array([0.9, 1.7]))) + np.mean(
        np.logaddexp(0, np.array([0.2, -2.0]))
    )
    assert out["results"][0]["value"] == pytest.approx(want, rel=1e-12)


def test_gan_rejects_weights(run, tmp_path):
    path = write(tmp_path, "d_real,d_fake,w\n0.9,0.2,1\n")
    result = run("compute", path, "--weight-col", "w")
    assert result.exit_code == 2
    assert "GAN" in result.stderr


def test_non_numeric_family_cell(run, tmp_path):
    path = write(tmp_path, "mu_0,logvar_0\n0.1,0\nabc,0\n")
    assert_error(run("compute", path), "column mu_0", "rows 2", "'abc'")


def test_structured_loss_on_regression_data_is_refused(run):
    result = run("compute", SAMPLES / "regression_clean.csv", "-l", "iou")
    assert_error(result, "iou is a detection loss")


# --------------------------------------------------------------------------- GAN statistics


def _gan_columns() -> tuple[np.ndarray, np.ndarray]:
    frame = pd.read_csv(SAMPLES / "gan_outputs.csv")
    return frame["d_real"].dropna().to_numpy(), frame["d_fake"].dropna().to_numpy()


def test_gan_bootstrap_resamples_d_real_and_d_fake_separately(run_json):
    """--ci on GAN data: each column is resampled within itself (its own ratio)."""
    real, fake = _gan_columns()
    n_boot, seed = 200, 7
    out = run_json(
        "compute",
        SAMPLES / "gan_outputs.csv",
        "-l",
        "gan_generator",
        "--ci",
        "0.9",
        "--bootstrap",
        n_boot,
        "--seed",
        seed,
    )
    # Direct NumPy Poisson bootstrap (README, "Confidence intervals"): rows stacked d_real
    # then d_fake, each its own block below 4096 rows; replicate b's Poisson(1) weights
    # from Philox(seed) advanced by b * 2**64. Each stratum is a ratio of its own.
    terms = np.log1p(-fake)
    reps = []
    for b in range(n_boot):
        bit = np.random.Philox(key=seed)
        bit.advance(b << 64)
        draws = np.random.Generator(bit).poisson(1.0, 4096)
        fake_draws = draws[real.size : real.size + fake.size]
        reps.append(np.sum(fake_draws * terms) / np.sum(fake_draws))
    low, high = np.percentile(reps, [5.0, 95.0])
    row = out["results"][0]
    assert row["ci_low"] == pytest.approx(low, rel=1e-9)
    assert row["ci_high"] == pytest.approx(high, rel=1e-9)


def test_stratified_bootstrap_keeps_each_stratum_size():
    from losscli.analysis.bootstrap import bootstrap_replicates
    from losscli.core.registry import Reduction

    strata = np.array([1, 1, 0, 0, 0, 1, 0])
    # values count each stratum's rows: the replicate SUM of the indicator of stratum 0
    # is its size in every replicate when resampling stays within strata.
    indicator = (strata == 0).astype(float)
    reps = bootstrap_replicates([(indicator, Reduction.SUM)], None, 50, 3, strata)
    # (a replicate that draws no row of a stratum has no value: NaN, left out of intervals)
    finite = reps[np.isfinite(reps[:, 0]), 0]
    assert finite.size > 40 and np.all(finite == 4.0)
    joint = bootstrap_replicates([(indicator, Reduction.SUM)], None, 50, 3)
    assert np.unique(joint[:, 0]).size > 1


def test_gan_compare_statistics_use_only_the_rows_a_loss_is_defined_on(run_json):
    real, fake = _gan_columns()
    out = run_json("compare", SAMPLES / "gan_outputs.csv")
    rows = {r["loss"]: r for r in out["results"]}
    generator = np.log1p(-fake)
    ns = -np.log(fake)
    assert rows["gan_generator"]["median"] == pytest.approx(np.median(generator), rel=1e-12)
    assert rows["gan_generator"]["max"] == pytest.approx(np.max(generator), rel=1e-12)
    assert rows["gan_generator_ns"]["median"] == pytest.approx(np.median(ns), rel=1e-12)
    assert rows["gan_generator_ns"]["max"] == pytest.approx(np.max(ns), rel=1e-12)
    k = int(np.ceil(0.01 * fake.size))
    share = np.sum(np.sort(ns)[-k:]) / np.sum(ns)
    assert rows["gan_generator_ns"]["top1pct_share"] == pytest.approx(share, rel=1e-12)
    # the values (the sums of each column's mean) are unchanged
    assert rows["gan_generator"]["value"] == pytest.approx(np.mean(generator), rel=1e-12)
    # gan_discriminator is defined on every row: its maximum is over both columns
    both = np.concatenate([-np.log(real), -np.log1p(-fake)])
    assert rows["gan_discriminator"]["max"] == pytest.approx(np.max(both), rel=1e-12)


def test_gan_per_sample_names_the_column_and_leaves_undefined_cells_empty(run, tmp_path):
    path = write(tmp_path, "d_real,d_fake\n0.9,0.2\n0.8,0.4\n0.7,\n")
    result = run("compute", path, "--per-sample", "-", "--format", "json")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "row,column,model,gan_discriminator,gan_generator,gan_generator_ns"
    cells = [line.split(",") for line in lines[1:]]
    assert [(c[0], c[1]) for c in cells] == [
        ("1", "d_real"),
        ("2", "d_real"),
        ("3", "d_real"),
        ("1", "d_fake"),
        ("2", "d_fake"),
    ]
    assert all(c[4] == "" and c[5] == "" for c in cells[:3])
    assert float(cells[3][4]) == pytest.approx(math.log(0.8), rel=1e-12)
    assert float(cells[4][5]) == pytest.approx(-math.log(0.4), rel=1e-12)
    assert float(cells[0][3]) == pytest.approx(-math.log(0.9), rel=1e-12)
