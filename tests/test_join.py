"""Several models' files joined on a key (FILE FILE ... --on KEY): the same numbers as one file."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics

import losscli as lc
import losscli.io.source as source_module
import losscli.io.text as text_module
from losscli.errors import LossWarning

REL = 1e-12


def _frames(n=200, seed=0, task="regression"):
    """(file frames, the pre-joined frame): each file holds its rows in its own order."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1000, 1000 + n)
    if task == "regression":
        y = rng.normal(size=n) * 3
        preds = {m: y + rng.normal(size=n) * s for m, s in (("a", 1.0), ("b", 2.0), ("c", 0.5))}
    else:
        y = rng.integers(0, 2, n)
        preds = {m: rng.uniform(0.02, 0.98, n) for m in ("a", "b", "c")}
    segment = rng.choice(["north", "south"], n)
    joined = pd.DataFrame({"id": ids, "y_true": y, "segment": segment, **preds})
    files = {}
    for m in preds:
        order = rng.permutation(n)
        frame = pd.DataFrame({"id": ids, "y_true": y, "y_pred": preds[m]}).iloc[order]
        if m == "a":
            frame = frame.assign(segment=segment[order])
        files[m] = frame
    return files, joined


def _write(tmp_path, files, fmt="csv"):
    paths = {}
    for name, frame in files.items():
        path = tmp_path / f"{name}.{fmt}"
        if fmt == "parquet":
            frame.to_parquet(path, index=False)
        else:
            frame.to_csv(path, index=False)
        paths[name] = str(path)
    return paths


def _values(payload):
    return {(r["loss"], r["model"], r.get("group")): r["value"] for r in payload["results"]}


def _same(got, want):
    assert got.keys() == want.keys()
    for key in want:
        assert got[key] == pytest.approx(want[key], rel=REL, abs=1e-300), key


def _reference(run_json, tmp_path, joined, models, *args, command="compute"):
    path = tmp_path / "joined.csv"
    joined.to_csv(path, index=False)
    cols = [a for m in models for a in ("--pred-col", m)]
    return run_json(command, path, *cols, *args)


@pytest.mark.parametrize("command", ["compute", "compare", "sensitivity"])
def test_two_files_on_a_key_give_the_numbers_of_one_joined_file(run_json, tmp_path, command):
    files, joined = _frames()
    paths = _write(tmp_path, {"a": files["a"], "b": files["b"]})
    got = run_json(command, paths["a"], paths["b"], "--on", "id")
    want = _reference(run_json, tmp_path, joined, ["a", "b"], command=command)
    if command == "sensitivity":
        for key in ("value", "value_without_outliers", "outlier_share", "top1pct_share"):
            mine = {(r["loss"], r["model"]): r[key] for r in got["results"]}
            theirs = {(r["loss"], r["model"]): r[key] for r in want["results"]}
            assert mine == pytest.approx(theirs, rel=REL)
        # Row numbers are the first file's data rows: the same rows by id.
        ids_a, ids_j = files["a"]["id"].to_numpy(), joined["id"].to_numpy()
        for model in ("a", "b"):
            mine = got["outliers_by_model"][model]["rows"]
            theirs = want["outliers_by_model"][model]["rows"]
            assert sorted(ids_a[np.array(mine, dtype=int) - 1].tolist()) == sorted(
                ids_j[np.array(theirs, dtype=int) - 1].tolist()
            )
        return
    _same(_values(got), _values(want))
    assert got["source"] == f"{paths['a']} + {paths['b']}"
    if command == "compare":
        assert got["rankings"] == want["rankings"]


def test_three_files_and_recommend(run_json, tmp_path):
    files, joined = _frames()
    paths = _write(tmp_path, files)
    got = run_json("compute", paths["a"], paths["b"], paths["c"], "--on", "id")
    want = _reference(run_json, tmp_path, joined, ["a", "b", "c"])
    _same(_values(got), _values(want))
    rec = run_json("recommend", paths["a"], paths["b"], paths["c"], "--on", "id")
    rec_want = _reference(run_json, tmp_path, joined, ["a", "b", "c"], command="recommend")
    assert rec["recommendations"] == rec_want["recommendations"]


def test_models_are_named_by_stem_or_stem_and_column(run_json, tmp_path):
    files, _ = _frames(n=30)
    a = files["a"].assign(y_pred2=files["a"]["y_pred"] * 2)
    paths = _write(tmp_path, {"a": a, "b": files["b"].assign(y_pred2=1.0)})
    got = run_json(
        "compute", paths["a"], paths["b"], "--on", "id", "--pred-col", "y_pred",
        "--pred-col", "y_pred2", "-l", "mse",
    )  # fmt: skip
    assert [r["model"] for r in got["results"]] == [
        "a:y_pred", "a:y_pred2", "b:y_pred", "b:y_pred2"
    ]  # fmt: skip
    one = run_json("compute", paths["a"], paths["b"], "--on", "id", "-l", "mse")
    assert [r["model"] for r in one["results"]] == ["a", "b"]


def test_same_stems_in_different_folders_are_told_apart(run_json, tmp_path):
    files, _ = _frames(n=30)
    (tmp_path / "run1").mkdir()
    (tmp_path / "run2").mkdir()
    files["a"].to_csv(tmp_path / "run1" / "preds.csv", index=False)
    files["b"].to_csv(tmp_path / "run2" / "preds.csv", index=False)
    got = run_json(
        "compute", tmp_path / "run1" / "preds.csv", tmp_path / "run2" / "preds.csv",
        "--on", "id", "-l", "mse",
    )  # fmt: skip
    assert [r["model"] for r in got["results"]] == ["run1/preds", "run2/preds"]


def test_composite_keys_repeatable_or_comma_list(run_json, tmp_path):
    rng = np.random.default_rng(4)
    n = 60
    user = np.repeat(np.arange(20), 3)
    day = np.tile([1, 2, 3], 20)
    y = rng.normal(size=n)
    pa_, pb = y + rng.normal(size=n), y + 2 * rng.normal(size=n)
    a = pd.DataFrame({"user": user, "day": day, "y_true": y, "y_pred": pa_})
    order = rng.permutation(n)
    b = pd.DataFrame({"user": user, "day": day, "y_pred": pb}).iloc[order]
    paths = _write(tmp_path, {"a": a, "b": b})
    want = {"mse": {"a": np.mean((y - pa_) ** 2), "b": np.mean((y - pb) ** 2)}}
    for on in (["--on", "user,day"], ["--on", "user", "--on", "day"]):
        got = run_json("compute", paths["a"], paths["b"], *on, "-l", "mse")
        for r in got["results"]:
            assert r["value"] == pytest.approx(want["mse"][r["model"]], rel=REL)
    # One key column alone repeats: the error says so and how to fix it.


def test_on_row_matches_rows_by_position(run_json, run, tmp_path):
    files, joined = _frames(n=50)
    a = joined[["y_true", "a"]].rename(columns={"a": "y_pred"})
    b = joined[["b"]].rename(columns={"b": "y_pred"})
    paths = _write(tmp_path, {"a": a, "b": b})
    got = run_json("compute", paths["a"], paths["b"], "--on", "row")
    want = _reference(run_json, tmp_path, joined, ["a", "b"])
    _same(_values(got), _values(want))
    short = tmp_path / "short.csv"
    b.iloc[:48].to_csv(short, index=False)
    result = run("compute", paths["a"], short, "--on", "row")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.strip() == (
        f"Error: --on row matches rows by position, so the files need equally many data rows: "
        f"{paths['a']} has 50, {short} has 48; join them on a key column with --on KEY instead"
    )


def test_y_true_disagreement_names_the_first_key(run, tmp_path):
    files, _ = _frames(n=40)
    b = files["b"].copy()
    b.loc[b["id"] == 1007, "y_true"] = 99.0
    paths = _write(tmp_path, {"a": files["a"], "b": b})
    result = run("compute", paths["a"], paths["b"], "--on", "id")
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        f"Error: column y_true of {paths['b']} differs from {paths['a']}'s at key 1007 (99.0 vs "
    )
    assert lines[0].endswith(
        "y_true comes from the first file, so every file that has it must hold the same "
        "targets (or leave it out of the later files)"
    )


def _gappy(tmp_path):
    files, joined = _frames(n=40)
    a = files["a"][~files["a"]["id"].isin([1003, 1010])]  # two keys a lacks
    b = files["b"][~files["b"]["id"].isin([1020])]  # one key b lacks
    return _write(tmp_path, {"a": a, "b": b}), joined[~joined["id"].isin([1003, 1010, 1020])]


def test_missing_keys_are_an_error_with_counts_per_file(run, tmp_path):
    paths, _ = _gappy(tmp_path)
    result = run("compute", paths["a"], paths["b"], "--on", "id")
    assert result.exit_code == 1
    assert result.stdout == ""
    message = result.stderr.strip()
    assert message.startswith("Error: the files do not have the same keys (--on id): ")
    assert f"{paths['a']} has 1 row whose key is missing from another file (first: 1020)" in (
        message
    )
    assert f"{paths['b']} has 2 rows whose key is missing from another file (first: " in message
    assert message.endswith("pass --join inner to keep only the keys every file has")


def test_join_inner_keeps_shared_keys_and_warns(run, run_json, tmp_path):
    paths, shared = _gappy(tmp_path)
    result = run("compute", paths["a"], paths["b"], "--on", "id", "--join", "inner",
                 "--format", "json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert (
        f"Warning: --join inner kept the 37 rows whose key is in every file: "
        f"{paths['a']} lost 1 of 38 rows, {paths['b']} lost 2 of 39 rows"
    ) in result.stderr
    want = _reference(run_json, tmp_path, shared, ["a", "b"])
    _same(_values(json.loads(result.stdout)), _values(want))


@pytest.mark.parametrize("how", ["exact", "inner"])
def test_repeated_keys_are_an_error_either_way(run, tmp_path, how):
    files, _ = _frames(n=30)
    b = pd.concat([files["b"], files["b"][files["b"]["id"] == 1005]])
    a = pd.concat([files["a"], files["a"][files["a"]["id"] == 1012]])
    paths = _write(tmp_path, {"a": a, "b": b})
    result = run("compute", paths["a"], paths["b"], "--on", "id", "--join", how)
    assert result.exit_code == 1
    assert result.stdout == ""
    message = result.stderr.strip()
    assert message.startswith("Error: keys repeat within a file (--on id): ")
    assert f"{paths['a']} has 2 rows whose key repeats (first: 1012" in message
    assert f"{paths['b']} has 2 rows whose key repeats (first: 1005" in message
    assert message.endswith("each key must name one row per file (add a column to the key, "
                            "e.g. --on id,fold)")  # fmt: skip


def test_parquet_joined_with_csv(run_json, tmp_path):
    files, joined = _frames()
    a = _write(tmp_path, {"a": files["a"]}, fmt="parquet")["a"]
    b = _write(tmp_path, {"b": files["b"]})["b"]
    got = run_json("compute", a, b, "--on", "id")
    want = _reference(run_json, tmp_path, joined, ["a", "b"])
    _same(_values(got), _values(want))


def test_binary_files_joined(run_json, tmp_path):
    files, joined = _frames(task="binary")
    paths = _write(tmp_path, {"a": files["a"], "b": files["b"]})
    got = run_json("compute", paths["a"], paths["b"], "--on", "id", "-l", "bce,brier")
    assert got["task"] == "binary"
    for model in ("a", "b"):
        row = {r["loss"]: r["value"] for r in got["results"] if r["model"] == model}
        assert row["bce"] == pytest.approx(
            metrics.log_loss(joined["y_true"], joined[model]), rel=REL
        )
        assert row["brier"] == pytest.approx(
            metrics.brier_score_loss(joined["y_true"], joined[model]), rel=REL
        )


def test_multiclass_files_joined_side_by_side(run_json, tmp_path):
    rng = np.random.default_rng(9)
    n, classes = 80, ["cat", "dog", "bird"]
    labels = rng.choice(classes, n)
    probs = {m: rng.dirichlet([1, 1, 1], n) for m in ("logreg", "rf")}
    frames = {}
    for m, p in probs.items():
        frame = pd.DataFrame({"id": np.arange(n), "y_true": labels})
        for j, c in enumerate(classes):
            frame[f"y_pred_{c}"] = p[:, j]
        frames[m] = frame.iloc[rng.permutation(n)]
    paths = _write(tmp_path, frames)
    got = run_json("compare", paths["logreg"], paths["rf"], "--on", "id", "-l", "cce")
    assert got["task"] == "multiclass"
    order = np.argsort(classes)
    want = {
        m: metrics.log_loss(labels, p[:, order], labels=sorted(classes)) for m, p in probs.items()
    }
    for r in got["results"]:
        assert r["value"] == pytest.approx(want[r["model"]], rel=REL)
    assert got["rankings"]["cce"] == sorted(want, key=want.get)


def test_group_by_comes_from_the_first_file(run_json, tmp_path):
    files, joined = _frames()
    paths = _write(tmp_path, {"a": files["a"], "b": files["b"]})
    got = run_json("compute", paths["a"], paths["b"], "--on", "id", "--group-by", "segment")
    want = _reference(run_json, tmp_path, joined, ["a", "b"], "--group-by", "segment")
    _same(_values(got), _values(want))


def test_streaming_across_batch_boundaries(run_json, tmp_path, monkeypatch):
    files, joined = _frames(n=3000, seed=2)
    paths = _write(tmp_path, {"a": files["a"], "b": files["b"]})
    whole = run_json("compute", paths["a"], paths["b"], "--on", "id")
    monkeypatch.setattr(text_module, "WHOLE_BYTES", 0)
    monkeypatch.setattr(text_module, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(source_module, "TABLE_BATCH_ROWS", 500)
    streamed = run_json("compute", paths["a"], paths["b"], "--on", "id", "--ci", "0.9")
    by_row = run_json("compute", paths["a"], paths["b"], "--on", "id")
    _same(_values(by_row), _values(whole))
    assert {k: v for k, v in _values(streamed).items()} == pytest.approx(_values(whole), rel=REL)


def test_several_files_without_on_is_a_usage_error(run, tmp_path):
    files, _ = _frames(n=10)
    paths = _write(tmp_path, {"a": files["a"], "b": files["b"]})
    result = run("compute", paths["a"], paths["b"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert (
        "Error: several FILE arguments: to read one dataset split over several files, quote a "
        "glob ('data/*.csv') or pass their directory; to compare models stored in separate "
        "files, join them on a key column with --on KEY (or --on row to match rows by position)"
    ) in result.stderr


def test_on_with_one_file_is_a_usage_error(run, tmp_path):
    files, _ = _frames(n=10)
    paths = _write(tmp_path, {"a": files["a"]})
    result = run("compute", paths["a"], "--on", "id")
    assert result.exit_code == 2
    assert "--on joins several models' files on a key; give two FILE arguments or more" in (
        result.stderr
    )


def test_a_key_column_missing_from_a_file(run, tmp_path):
    files, _ = _frames(n=10)
    paths = _write(tmp_path, {"a": files["a"], "b": files["b"].rename(columns={"id": "ID"})})
    result = run("compute", paths["a"], paths["b"], "--on", "id")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {paths['b']}: column 'id' not found (--on)")


def test_api_takes_a_list_of_files_and_on(tmp_path):
    files, joined = _frames()
    paths = _write(tmp_path, {"a": files["a"], "b": files["b"]})
    result = lc.compute([paths["a"], paths["b"]], on="id", losses="mse,mae")
    for model in ("a", "b"):
        assert result.value("mse", model=model) == pytest.approx(
            np.mean((joined["y_true"] - joined[model]) ** 2), rel=REL
        )
    with pytest.warns(LossWarning, match="--join inner kept"):
        gappy = files["b"].iloc[1:]
        gappy.to_csv(tmp_path / "g.csv", index=False)
        lc.compare([paths["a"], str(tmp_path / "g.csv")], on=["id"], join="inner")


# --------------------------------------------------------------------------- --id-col


def test_per_sample_of_a_join_carries_the_key(run, tmp_path):
    files, joined = _frames(n=50)
    paths = _write(tmp_path, {"a": files["a"], "b": files["b"]})
    out = tmp_path / "rows.csv"
    result = run("compute", paths["a"], paths["b"], "--on", "id", "-l", "mse",
                 "--per-sample", out)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    rows = pd.read_csv(out)
    assert list(rows.columns) == ["row", "id", "model", "mse"]
    by_id = joined.set_index("id")
    for model in ("a", "b"):
        mine = rows[rows["model"] == model].set_index("id")["mse"].sort_index()
        want = ((by_id["y_true"] - by_id[model]) ** 2).sort_index()
        # atol: a squared residual of nearby values carries one rounding of the
        # subtraction (4e-16 seen); relative to a small square that can pass 1e-12.
        np.testing.assert_allclose(mine.to_numpy(), want.to_numpy(), rtol=REL, atol=1e-15)
    # row is the first file's data row of that id
    first = files["a"].reset_index(drop=True)
    got = rows[rows["model"] == "a"]
    assert (first["id"].to_numpy()[got["row"].to_numpy() - 1] == got["id"].to_numpy()).all()


def test_id_col_copies_input_columns_into_per_sample(run, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text('id,note,y_true,y_pred\nr1,"a, b",1.0,1.5\nr2,plain,2.0,\nr3,,3.0,2.0\n')
    out = tmp_path / "rows.csv"
    result = run("compute", path, "-l", "mae", "--id-col", "id", "--id-col", "note",
                 "--nan", "drop", "--per-sample", out)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    rows = pd.read_csv(out, keep_default_na=False)
    assert list(rows.columns) == ["row", "id", "note", "model", "mae"]
    assert rows["id"].tolist() == ["r1", "r3"]
    assert rows["note"].tolist() == ["a, b", ""]
    assert rows["mae"].tolist() == [0.5, 1.0]


def test_id_col_missing_is_an_error(run, tmp_path):
    out = tmp_path / "rows.csv"
    result = run("compute", "sample_data/regression_clean.csv", "--id-col", "nope",
                 "--per-sample", out)  # fmt: skip
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: column 'nope' not found (--id-col)")
    assert not out.exists()


# --------------------------------------------------------------------------- sorted files


def _sorted_files(tmp_path, n=3000, drop_a=(), drop_b=(), repeat_b=()):
    files, joined = _frames(n=n, seed=7)
    a = files["a"].sort_values("id")
    b = files["b"].sort_values("id")
    a = a[~a["id"].isin(drop_a)]
    b = b[~b["id"].isin(drop_b)]
    if repeat_b:
        b = pd.concat([b, b[b["id"].isin(repeat_b)]]).sort_values("id", kind="stable")
    return _write(tmp_path, {"a": a, "b": b}), joined


def _method(paths, **kwargs):
    from losscli.io.columns import InputOptions
    from losscli.io.join import open_join

    with open_join(list(paths), InputOptions(), "id", **kwargs) as source:
        for _ in source.batches():
            pass
        return source.plan.method


def test_sorted_files_join_in_one_merge_pass_across_batches(run_json, tmp_path, monkeypatch):
    paths, joined = _sorted_files(tmp_path)
    monkeypatch.setattr(text_module, "WHOLE_BYTES", 0)
    monkeypatch.setattr(text_module, "CHUNK_BYTES", 4096)
    assert _method([paths["a"], paths["b"]]) == "merge"
    got = run_json("compute", paths["a"], paths["b"], "--on", "id")
    monkeypatch.undo()
    want = _reference(run_json, tmp_path, joined, ["a", "b"])
    _same(_values(got), _values(want))


def test_sorted_files_with_missing_keys(run, run_json, tmp_path, monkeypatch):
    paths, joined = _sorted_files(tmp_path, drop_a=(1000, 2500), drop_b=(3999,))
    monkeypatch.setattr(text_module, "WHOLE_BYTES", 0)
    monkeypatch.setattr(text_module, "CHUNK_BYTES", 4096)
    result = run("compute", paths["a"], paths["b"], "--on", "id")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: the files do not have the same keys (--on id): {paths['a']} has 1 row "
        f"whose key is missing from another file (first: 3999); {paths['b']} has 2 rows "
        f"whose key is missing from another file (first: 1000, 2500); pass --join inner to "
        f"keep only the keys every file has"
    )
    inner = run("compute", paths["a"], paths["b"], "--on", "id", "--join", "inner",
                "--format", "json")  # fmt: skip
    assert inner.exit_code == 0
    assert "lost 1 of 2,998 rows" in inner.stderr and "lost 2 of 2,999 rows" in inner.stderr
    monkeypatch.undo()
    shared = joined[~joined["id"].isin([1000, 2500, 3999])]
    _same(_values(json.loads(inner.stdout)), _values(_reference(run_json, tmp_path, shared,
                                                                ["a", "b"])))  # fmt: skip


def test_sorted_files_with_repeated_keys(run, tmp_path):
    paths, _ = _sorted_files(tmp_path, repeat_b=(1500, 1501))
    result = run("compute", paths["a"], paths["b"], "--on", "id", "--join", "inner")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: keys repeat within a file (--on id): {paths['b']} has 2 rows whose key "
        f"repeats (first: 1500, 1501); each key must name one row per file (add a column to "
        f"the key, e.g. --on id,fold)"
    )


# --------------------------------------------------------------------------- bad input


def _pair(tmp_path, a_text="id,y_true,y_pred\n1,1.0,1.5\n2,2.0,2.5\n",
          b_text="id,y_pred\n2,2.0\n1,1.0\n"):  # fmt: skip
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text(a_text)
    b.write_text(b_text)
    return str(a), str(b)


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["--on", "id,,"], 2, "--on 'id,,' has an empty key name; give column names separated "
         "by commas, e.g. --on id or --on user,day"),
        (["--on", "row,id"], 2, "--on row matches rows by position; it cannot be combined "
         "with key columns"),
        (["--on", "id", "--plot", "x.png"], 2, "--plot draws the charts of one FILE; with "
         "several files joined by --on, leave --plot out (or join the files into one first)"),
        (["--on", "id", "--weight-col", "w"], 1, "{a}: column 'w' not found (--weight-col)"),
        (["--on", "id", "--join", "outer"], 2, "Invalid value for '--join'"),
    ],
)  # fmt: skip
def test_bad_join_options(run, tmp_path, extra, code, message):
    a, b = _pair(tmp_path)
    result = run("compute", a, b, *extra)
    assert result.exit_code == code
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert message.format(a=a) in result.stderr


def test_stdin_cannot_be_joined(run, tmp_path):
    a, _ = _pair(tmp_path)
    result = run("compute", a, "-", "--on", "id", input="id,y_pred\n1,1\n")
    assert result.exit_code == 2
    assert "stdin (-) cannot be one of the files joined with --on; write it to a file first" in (
        result.stderr
    )


def test_an_empty_key_cell_is_an_error(run, tmp_path):
    a, b = _pair(tmp_path, b_text="id,y_pred\n2,2.0\n,1.0\n")
    result = run("compute", a, b, "--on", "id")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: {b}: key column id (--on) has 1 empty cell (rows 2); every row needs a key"
    )


def test_join_inner_warning_of_one_row(run, tmp_path):
    """It said 'kept the 1 rows whose key is in every file'."""
    a, b = _pair(tmp_path, b_text="id,y_pred\n2,2.0\n")
    result = run("compute", a, b, "--on", "id", "--join", "inner", "-l", "mae")
    assert result.exit_code == 0, result.stderr
    assert (
        f"Warning: --join inner kept the 1 row whose key is in every file: {a} lost 1 of 2 rows"
    ) in result.stderr


def test_join_inner_warning_counts_each_files_rows_in_words():
    """'lost 1 of 1 rows' read wrong; the counts come from the join's tallies."""
    from types import SimpleNamespace

    from losscli.io.join import _finish, _Tally

    plan = SimpleNamespace(
        members=[SimpleNamespace(path="a.csv"), SimpleNamespace(path="b.csv")],
        keys=("id",),
        how="inner",
        warned=False,
    )
    tallies = [_Tally(rows=1, unmatched=1), _Tally(rows=1_500, unmatched=2)]
    with pytest.warns(LossWarning) as caught:
        _finish(plan, tallies, 1)
    assert str(caught[0].message) == (
        "--join inner kept the 1 row whose key is in every file: "
        "a.csv lost 1 of 1 row, b.csv lost 2 of 1,500 rows"
    )


def test_no_shared_key_under_inner_join(run, tmp_path):
    a, b = _pair(tmp_path, b_text="id,y_pred\n7,2.0\n8,1.0\n")
    result = run("compute", a, b, "--on", "id", "--join", "inner")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: no key is in every file (--on id): the join has no rows; check that the key "
        "columns hold the same values in every file"
    )


def test_text_keys_and_keys_typed_differently_still_match(run_json, tmp_path):
    a, b = _pair(
        tmp_path,
        a_text="id,y_true,y_pred\nu1,1.0,1.5\nu2,2.0,2.5\n",
        b_text="id,y_pred\nu2,2.0\nu1,1.0\n",
    )
    got = run_json("compute", a, b, "--on", "id", "-l", "mae")
    assert [r["value"] for r in got["results"]] == [0.5, 0.0]
    c, d = _pair(tmp_path, b_text="id,y_pred\n2.0,2.0\n1.0,1.0\n")  # 1.0 and 1 are one key
    got = run_json("compute", c, d, "--on", "id", "-l", "mae")
    assert [r["value"] for r in got["results"]] == [0.5, 0.0]


def test_on_row_across_batches_of_different_sizes(run_json, tmp_path, monkeypatch):
    # The files' rows have different widths, so their blocks end on different rows.
    files, joined = _frames(n=2000, seed=11)
    a = joined[["y_true", "a", "segment"]].rename(columns={"a": "y_pred"})
    b = joined[["b"]].rename(columns={"b": "y_pred"})
    paths = _write(tmp_path, {"a": a, "b": b})
    monkeypatch.setattr(text_module, "WHOLE_BYTES", 0)
    monkeypatch.setattr(text_module, "CHUNK_BYTES", 3000)
    got = run_json("compute", paths["a"], paths["b"], "--on", "row", "--group-by", "segment")
    monkeypatch.undo()
    want = _reference(run_json, tmp_path, joined, ["a", "b"], "--group-by", "segment")
    _same(_values(got), _values(want))


def test_a_file_sorted_only_at_first_takes_the_hash_join(run_json, tmp_path, monkeypatch):
    files, joined = _frames(n=3000, seed=8)
    a = files["a"].sort_values("id")
    b = files["b"].sort_values("id")
    b = pd.concat([b.iloc[:-2], b.iloc[-1:], b.iloc[-2:-1]])  # the last two rows swapped
    paths = _write(tmp_path, {"a": a, "b": b})
    monkeypatch.setattr(text_module, "WHOLE_BYTES", 0)
    monkeypatch.setattr(text_module, "CHUNK_BYTES", 4096)
    assert _method([paths["a"], paths["b"]]) == "hash"
    got = run_json("compute", paths["a"], paths["b"], "--on", "id")
    monkeypatch.undo()
    _same(_values(got), _values(_reference(run_json, tmp_path, joined, ["a", "b"])))


def test_rows_are_the_first_files_when_a_later_file_is_streamed(run, tmp_path):
    # b is the largest file, so the hash join streams it; rows still number a's data rows.
    files, joined = _frames(n=300, seed=12)
    b = files["b"].assign(comment="a long comment that makes this file the largest one")
    paths = _write(tmp_path, {"a": files["a"], "b": b})
    assert _method([paths["a"], paths["b"]]) == "hash"
    out = tmp_path / "rows.csv"
    result = run("compute", paths["a"], paths["b"], "--on", "id", "-l", "mae",
                 "--per-sample", out)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    rows = pd.read_csv(out)
    a = files["a"].reset_index(drop=True)
    assert (a["id"].to_numpy()[rows["row"].to_numpy() - 1] == rows["id"].to_numpy()).all()
    mine = rows[rows["model"] == "b"].set_index("id")["mae"].sort_index()
    by_id = joined.set_index("id").sort_index()
    np.testing.assert_allclose(mine.to_numpy(), (by_id["y_true"] - by_id["b"]).abs(), rtol=REL)


def test_composite_key_errors_name_every_part(run, tmp_path):
    a, b = _pair(
        tmp_path,
        a_text="user,day,y_true,y_pred\n1,1,1.0,1.5\n1,2,2.0,2.5\n2,1,3.0,3.0\n",
        b_text="user,day,y_pred\n1,2,2.0\n1,1,1.0\n2,2,3.0\n",
    )
    result = run("compute", a, b, "--on", "user,day")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: the files do not have the same keys (--on user,day): {a} has 1 row whose "
        f"key is missing from another file (first: (user=2, day=1)); {b} has 1 row whose "
        f"key is missing from another file (first: (user=2, day=2)); pass --join inner to keep "
        f"only the keys every file has"
    )


def test_later_passes_reuse_the_files_a_hash_join_keeps(tmp_path):
    from losscli.io.columns import InputOptions
    from losscli.io.join import open_join

    files, _ = _frames(n=200, seed=13)
    paths = _write(tmp_path, {"a": files["a"], "b": files["b"]})
    with open_join([paths["a"], paths["b"]], InputOptions(), "id") as source:
        opened = {m.path: 0 for m in source.plan.members}
        for member in source.plan.members:
            original = member.source._open_pass

            def counted(columns, original=original, path=member.path):
                opened[path] += 1
                return original(columns)

            member.source._open_pass = counted  # type: ignore[method-assign]
        first = [d.models for d in source.batches()]
        second = [d.models for d in source.batches()]
        assert source.plan.method == "hash"
    # a (the largest): its first block read for the order check, then streamed twice;
    # b: read once and kept.
    assert opened == {paths["a"]: 3, paths["b"]: 1}
    for one, two in zip(first, second):
        for model in one:
            np.testing.assert_array_equal(one[model], two[model])
    assert source.plan.held is None  # released on close


def test_a_hash_join_holding_much_memory_says_so(run, tmp_path, monkeypatch):
    import losscli.io.join as join_module

    files, _ = _frames(n=100)
    paths = _write(tmp_path, {"a": files["a"], "b": files["b"]})
    monkeypatch.setattr(join_module, "HELD_WARNING_BYTES", 1000)
    result = run("compute", paths["a"], paths["b"], "--on", "id", "-l", "mse")
    assert result.exit_code == 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
    assert len(lines) == 1
    assert lines[0].startswith(
        f"Warning: the files are not all sorted by id: the join keeps {paths['b']} in memory ("
    )
    assert lines[0].endswith("MiB with its key index); sort every file by it to join them in "
                             "one streamed pass")  # fmt: skip
    monkeypatch.setattr(join_module, "HELD_WARNING_BYTES", 1 << 40)
    quiet = run("compute", paths["a"], paths["b"], "--on", "id", "-l", "mse")
    assert "Warning" not in quiet.stderr


def test_report_of_joined_files(run, tmp_path):
    pytest.importorskip("jinja2")
    files, joined = _frames(n=120, seed=14)
    paths = _write(tmp_path, {"a": files["a"], "b": files["b"]})
    joined.to_csv(tmp_path / "joined.csv", index=False)
    got = lc.report_data([paths["a"], paths["b"]], on="id", losses="mse,mae", ci=None)
    want = lc.report_data(str(tmp_path / "joined.csv"), y_pred=["a", "b"], losses="mse,mae",
                          ci=None)  # fmt: skip
    mine = {(r.loss, r.model): r.value for r in got.compute.results}
    theirs = {(r.loss, r.model): r.value for r in want.compute.results}
    assert mine == pytest.approx(theirs, rel=REL)
    out = tmp_path / "r.html"
    result = run("report", paths["a"], paths["b"], "--on", "id", "-o", out)
    assert result.exit_code == 0, result.stderr
    assert f"loss report {paths['a']} {paths['b']} --on id" in out.read_text()


def test_a_directory_of_one_models_files_joins_like_one_file(run_json, tmp_path):
    files, joined = _frames(n=200, seed=15)
    folder = tmp_path / "forest"
    folder.mkdir()
    files["b"].iloc[:80].to_csv(folder / "part-0.csv", index=False)
    files["b"].iloc[80:].to_csv(folder / "part-1.csv", index=False)
    a = _write(tmp_path, {"a": files["a"]})["a"]
    got = run_json("compute", a, folder, "--on", "id", "-l", "mse,mae")
    assert [r["model"] for r in got["results"]] == ["a", "forest", "a", "forest"]
    want = _reference(run_json, tmp_path, joined.rename(columns={"b": "forest"}), ["a", "forest"],
                      "-l", "mse,mae")  # fmt: skip
    _same(_values(got), _values(want))
