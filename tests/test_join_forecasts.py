"""Interval and quantile forecasts in separate files, joined on a key (FILE FILE ... --on KEY).

Each file is one model, named after the file; every figure equals the one of
that model's file read alone (the same rows, weights and groups) to 1e-12.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import losscli as lc

REL = 1e-12
STATS = ("value", "median", "p95", "max", "top1pct_share")
LEVELS = (0.1, 0.5, 0.9)


def _frames(family, models=("a", "b"), n=240, seed=3):
    """(file frames in their own row orders, each model's own frame in id order).

    The first file carries the weights and groups (they come from the first file
    of a join); each model's own frame has them too, so it is that model read alone.
    """
    rng = np.random.default_rng(seed)
    ids = rng.permutation(np.arange(5000, 5000 + n))
    base = pd.DataFrame(
        {
            "id": ids,
            "y_true": rng.normal(10, 2, n).round(5),
            "w": rng.integers(0, 4, n).astype(float),
            "seg": rng.choice(["north", "south"], n),
        }
    )
    files, alone = {}, {}
    for k, model in enumerate(models):
        mid = base["y_true"] + rng.normal(0, 1 + k, n)
        spread = 1.2 + 0.4 * k + rng.uniform(0, 0.5, n)
        if family == "interval":
            own = {"y_lower": (mid - spread).round(5), "y_upper": (mid + spread).round(5)}
        else:
            z = {0.1: -1.2816, 0.5: 0.0, 0.9: 1.2816}
            own = {f"y_pred_q{q:g}": (mid + z[q] * spread).round(5) for q in LEVELS}
        full = base.assign(**own)
        alone[model] = full.sort_values("id").reset_index(drop=True)
        columns = ["id", "y_true", *own] + (["w", "seg"] if k == 0 else [])
        files[model] = full[columns].sample(frac=1, random_state=k).reset_index(drop=True)
    return files, alone


def _write(tmp_path, frames, suffix=""):
    paths = {}
    for name, frame in frames.items():
        path = tmp_path / f"{name}{suffix}.csv"
        frame.to_csv(path, index=False)
        paths[name] = str(path)
    return paths


def _rows(payload, keys=STATS):
    return {
        (r["loss"], tuple(sorted(r["params"].items())), r["model"], r.get("group")): {
            k: r[k] for k in keys if k in r
        }
        for r in payload["results"]
    }


def _expected(run_json, tmp_path, family, alone, command, *args):
    """Each model's figures from its own file, renamed to the model."""
    paths = _write(tmp_path, alone, suffix="_alone")
    single = "interval" if family == "interval" else "quantiles"
    want = {}
    for model, path in paths.items():
        out = run_json(command, path, *args)
        for (loss, params, name, group), figures in _rows(out).items():
            assert name == single
            want[(loss, params, model, group)] = figures
    return want


def _same(got, want):
    assert got.keys() == want.keys()
    for key, figures in want.items():
        assert got[key].keys() == figures.keys(), key
        for stat, value in figures.items():
            if value is None:
                assert got[key][stat] is None, (key, stat)
            else:
                assert got[key][stat] == pytest.approx(value, rel=REL, abs=1e-300), (key, stat)


FAMILIES = {
    "interval": ("coverage", "mean_width", "interval_score"),
    "quantile": ("pinball_q", "crps_quantile"),
}


@pytest.mark.parametrize("models", [("a", "b"), ("a", "b", "c")], ids=["2 files", "3 files"])
@pytest.mark.parametrize("family", ["interval", "quantile"])
def test_joined_forecasts_equal_each_model_alone(run_json, tmp_path, family, models):
    files, alone = _frames(family, models)
    paths = _write(tmp_path, files)
    given = [paths[m] for m in models]
    opts = ["--weight-col", "w"]
    if family == "interval":
        opts += ["--interval-level", "0.8"]

    got = run_json("compute", *given, "--on", "id", *opts, "--group-by", "seg")
    assert got["task"] == family
    want = _expected(run_json, tmp_path, family, alone, "compute", *opts, "--group-by", "seg")
    _same(_rows(got), want)
    assert {r["loss"] for r in got["results"]} == set(FAMILIES[family])

    got = run_json("compare", *given, "--on", "id", *opts)
    assert got["models"] == list(models)
    assert got["source"] == " + ".join(given)
    want = _expected(run_json, tmp_path, family, alone, "compare", *opts)
    _same(_rows(got), want)

    # Ranks follow the values (lower is better); coverage, best at its nominal level,
    # is reported but ranks nothing.
    for label, order in got["rankings"].items():
        rows = [r for r in got["results"] if _label(r) == label]
        assert [r["model"] for r in sorted(rows, key=lambda r: r["value"])] == order
        best = min(r["value"] for r in rows)
        for r in rows:
            assert r["rank"] == 1 + sum(o["value"] < r["value"] for o in rows)
            assert r["diff_to_best"] == pytest.approx(r["value"] - best, rel=REL, abs=1e-15)
    coverage = [r for r in got["results"] if r["loss"] == "coverage"]
    assert all(r["rank"] is None and r["diff_to_best"] is None for r in coverage)
    assert "coverage" not in got["rankings"]
    labels = {_label(r) for r in got["results"] if r["loss"] != "coverage"}
    assert set(got["rankings"]) == labels

    # One paired test per loss and pair of models (none for coverage), Holm within a loss.
    pairs = len(models) * (len(models) - 1) // 2
    tested = [(t["loss"], t["model_a"], t["model_b"]) for t in got["tests"]]
    assert len(tested) == len(set(tested)) == pairs * len(labels)
    assert {t["loss"] for t in got["tests"]} == labels
    assert all(t["test"] == "diebold_mariano" for t in got["tests"])
    assert all(0 <= t["p_value"] <= t["p_adjusted"] <= 1 for t in got["tests"])


def _label(row):
    if row["loss"] == "pinball_q":
        return f"pinball_q{row['params']['level']:g}"
    return row["loss"]


@pytest.mark.parametrize("family", ["interval", "quantile"])
def test_paired_tests_are_those_of_the_per_row_losses(run_json, tmp_path, family):
    """The Diebold-Mariano statistic of the joined models is the one of their per-row
    losses (computed from each file alone) compared as two columns of one file."""
    files, alone = _frames(family, ("a", "b"))
    paths = _write(tmp_path, files)
    loss = "interval_score" if family == "interval" else "crps_quantile"
    got = run_json("compare", paths["a"], paths["b"], "--on", "id", "-l", loss)
    per_row = {}
    for model, frame in alone.items():
        y = frame["y_true"].to_numpy()
        if family == "interval":
            bounds = frame[["y_lower", "y_upper"]].to_numpy()
            per_row[model] = lc.losses.interval_score(y, bounds, per_sample=True)
        else:
            q = frame[[f"y_pred_q{q:g}" for q in LEVELS]].to_numpy()
            per_row[model] = lc.losses.crps_quantile(y, q, levels=list(LEVELS), per_sample=True)
    # mae of y_true = 0 against the per-row losses is their mean, row by row.
    losses = pd.DataFrame({"y_true": 0.0, **per_row})
    path = tmp_path / "per_row.csv"
    losses.to_csv(path, index=False, float_format="%.17g")
    want = run_json("compare", path, "--pred-col", "a", "--pred-col", "b", "-l", "mae")
    (mine,) = got["tests"]
    (theirs,) = want["tests"]
    for key in ("statistic", "p_value", "p_adjusted"):
        assert mine[key] == pytest.approx(theirs[key], rel=1e-9), key
    assert (mine["model_a"], mine["model_b"]) == (theirs["model_a"], theirs["model_b"])


def test_interval_cols_and_task_apply_to_every_file(run_json, tmp_path):
    files, alone = _frames("interval")
    renamed = {m: f.rename(columns={"y_lower": "lo", "y_upper": "hi"}) for m, f in files.items()}
    paths = _write(tmp_path, renamed)
    args = ["--interval-cols", "lo,hi", "--task", "interval", "--interval-level", "0.8"]
    got = run_json("compare", paths["a"], paths["b"], "--on", "id", *args)
    assert got["task_reason"] == "--interval-cols lo, hi"  # as for one file
    alone = {m: f.rename(columns={"y_lower": "lo", "y_upper": "hi"}) for m, f in alone.items()}
    _same(_rows(got), _expected(run_json, tmp_path, "interval", alone, "compare", *args))
    q_files, _ = _frames("quantile")
    q_paths = _write(tmp_path, q_files, suffix="_q")
    got = run_json("compare", q_paths["a"], q_paths["b"], "--on", "id", "--task", "quantile")
    assert (got["task"], got["models"]) == ("quantile", ["a_q", "b_q"])


@pytest.mark.parametrize("family", ["interval", "quantile"])
def test_api_gives_the_same(run_json, tmp_path, family):
    files, _ = _frames(family, ("a", "b", "c"))
    paths = _write(tmp_path, files)
    given = [paths["a"], paths["b"], paths["c"]]
    assert lc.compare(given, on="id", weights="w").to_dict() == run_json(
        "compare", *given, "--on", "id", "--weight-col", "w"
    )
    computed = lc.compute(given, on="id", group_by="seg")
    cli = run_json("compute", *given, "--on", "id", "--group-by", "seg")
    assert computed.to_dict() == cli
    loss = "interval_score" if family == "interval" else "crps_quantile"
    for r in cli["results"]:
        if r["loss"] == loss:
            assert computed.value(loss, model=r["model"], group=r["group"]) == r["value"]


@pytest.mark.parametrize(
    ("family", "other", "needs"),
    [
        (
            "interval",
            "id,y_true,y_pred\n1,1,1\n2,2,2\n",
            "prediction intervals need the columns y_lower and y_upper (name them with "
            "--interval-cols LOWER,UPPER",
        ),
        (
            "quantile",
            "id,y_true,y_pred\n1,1,1\n2,2,2\n",
            "quantile forecasts need columns y_pred_q<level> (e.g. y_pred_q0.1, y_pred_q0.9",
        ),
        (
            "quantile",
            "id,y_true,y_pred_q0.1,y_pred_q0.5\n1,1,0,1\n2,2,1,2\n",
            "quantile levels 0.1, 0.5 differ from",
        ),
        (
            "quantile",
            "id,y_true,y_pred_q0.1,y_pred_q1.5\n1,1,0,1\n2,2,1,2\n",
            "column y_pred_q1.5: quantile level 1.5 is outside (0, 1)",
        ),
    ],
)
def test_a_file_without_the_familys_columns_is_one_error_line(run, tmp_path, family, other, needs):
    first = tmp_path / "first.csv"
    if family == "interval":
        first.write_text("id,y_true,y_lower,y_upper\n1,1,0,2\n2,2,1,3\n")
    else:
        first.write_text("id,y_true,y_pred_q0.1,y_pred_q0.9\n1,1,0,2\n2,2,1,3\n")
    second = tmp_path / "second.csv"
    second.write_text(other)
    for command in ("compute", "compare"):
        result = run(command, first, second, "--on", "id")
        assert result.exit_code == 1
        assert result.stdout == ""
        lines = [line for line in result.stderr.splitlines() if line.startswith("Error")]
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith(f"Error: {second}: {needs}"), lines[0]
    with pytest.raises(lc.InputError, match=str(second)):
        lc.compare([str(first), str(second)], on="id")


def test_forced_task_needs_the_columns_in_the_first_file_too(run, tmp_path):
    first = tmp_path / "first.csv"
    first.write_text("id,y_true,y_pred\n1,1,1\n2,2,2\n")
    second = tmp_path / "second.csv"
    second.write_text("id,y_true,y_lower,y_upper\n1,1,0,2\n2,2,1,3\n")
    result = run("compare", first, second, "--on", "id", "--task", "interval")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {first}: prediction intervals need the columns")
    # Without --task the first file decides (y_pred): the second says what it holds.
    result = run("compare", first, second, "--on", "id")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: {second} holds prediction intervals (interval columns y_lower, y_upper) but "
        f"the first file, {first}, does not; the files joined with --on must hold the same "
        f"kind of predictions"
    )


@pytest.mark.parametrize("family", ["interval", "quantile"])
def test_y_true_must_agree_across_files(run, tmp_path, family):
    files, _ = _frames(family, n=40)
    b = files["b"].copy()
    b.loc[b["id"] == b["id"].iloc[5], "y_true"] += 1
    paths = _write(tmp_path, {"a": files["a"], "b": b})
    result = run("compare", paths["a"], paths["b"], "--on", "id")
    assert result.exit_code == 1
    key = b["id"].iloc[5]
    assert f"column y_true of {paths['b']} differs from {paths['a']}'s at key {key}" in (
        result.stderr
    )


def test_a_crossed_interval_names_its_file(run, tmp_path):
    files, _ = _frames("interval", n=40)
    b = files["b"].copy()
    b.loc[3, ["y_lower", "y_upper"]] = [5.0, 4.0]
    paths = _write(tmp_path, {"a": files["a"], "b": b})
    result = run("compute", paths["a"], paths["b"], "--on", "id")
    assert result.exit_code == 1
    assert "Error: column b:y_lower: 5 at row" in result.stderr
    assert "is above b:y_upper = 4" in result.stderr


def test_per_sample_of_joined_intervals_carries_the_key(run, tmp_path):
    files, alone = _frames("interval", n=60)
    paths = _write(tmp_path, files)
    out = tmp_path / "rows.csv"
    result = run("compute", paths["a"], paths["b"], "--on", "id", "-l", "interval_score",
                 "--per-sample", out)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    rows = pd.read_csv(out)
    assert list(rows.columns) == ["row", "id", "model", "interval_score"]
    for model, frame in alone.items():
        mine = rows[rows["model"] == model].set_index("id")["interval_score"].sort_index()
        bounds = frame[["y_lower", "y_upper"]].to_numpy()
        want = lc.losses.interval_score(frame["y_true"].to_numpy(), bounds, per_sample=True)
        np.testing.assert_allclose(mine.to_numpy(), want, rtol=REL, atol=1e-12)


@pytest.mark.parametrize("order", ["sorted", "unsorted"])
def test_streaming_across_batch_boundaries(run_json, tmp_path, monkeypatch, order):
    """Small batches (the merge join of sorted files, the hash join otherwise) give
    the numbers of the whole files read at once."""
    import losscli.io.source as source_module
    import losscli.io.text as text_module

    files, _ = _frames("quantile", n=1500)
    if order == "sorted":
        files = {m: f.sort_values("id") for m, f in files.items()}
    paths = _write(tmp_path, files)
    whole = run_json("compare", paths["a"], paths["b"], "--on", "id")
    monkeypatch.setattr(text_module, "WHOLE_BYTES", 0)
    monkeypatch.setattr(text_module, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(source_module, "TABLE_BATCH_ROWS", 200)
    streamed = run_json("compare", paths["a"], paths["b"], "--on", "id")
    _same(_rows(streamed), _rows(whole))
