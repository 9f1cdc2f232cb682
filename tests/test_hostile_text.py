"""Terminal injection (issue 12, item 6): user strings printed for people show controls as escapes.

Column, model, group, class and file names come from the input. In tables,
markdown, notes, warnings and ``Error:`` lines every C0/C1 control, DEL, ESC and
bidi override/isolate is shown as a visible escape (``\\x1b``, ``\\u202e``); JSON
escapes them itself and CSV keeps the data exact.
"""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from losscli.report.console import for_people, safe

ESC_CLEAR = "\x1b[2J"
OSC52 = "\x1b]52;c;SGVsbG8=\x07"  # writes the clipboard
OSC8 = "\x1b]8;;http://evil.example/\x1b\\link\x1b]8;;\x1b\\"  # a hyperlink
RLO = "\u202e"
HOSTILE = [ESC_CLEAR, OSC52, OSC8, RLO, "\u2066", "\u200f", "\u061c", "\x9b31m", "\x7f", "\x01"]

# What must never reach a person's terminal raw.
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def no_raw_controls(text: str) -> bool:
    return RAW.search(text) is None


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("a\x1b[2Jb", "a\\x1b[2Jb"),
        ("x\u202ey", "x\\u202ey"),
        ("line\nbreak\ttab\rcr", "line\\nbreak\\ttab\\rcr"),
        ("\x7f\x80\x9f", "\\x7f\\x80\\x9f"),
        (
            "\u2066\u2067\u2068\u2069\u200e\u200f\u061c",
            "\\u2066\\u2067\\u2068\\u2069\\u200e\\u200f\\u061c",
        ),
        ("\u202a\u202b\u202c\u202d", "\\u202a\\u202b\\u202c\\u202d"),
        ("plain é 中文 \\x1b", "plain é 中文 \\x1b"),
    ],
)
def test_safe_shows_controls_and_bidi_as_escapes(text, shown):
    assert safe(text) == shown
    assert safe(safe(text)) == shown  # idempotent: applying it twice changes nothing


def test_for_people_copies_reports_and_leaves_numbers_alone():
    from losscli.analysis.results import LossResult

    r = LossResult(
        loss="mse", label="mse", params={"delta": 1.0}, model="m\x1b[31m", value=1.5, group="g\n"
    )
    shown = for_people([r])[0]
    assert shown.model == "m\\x1b[31m" and shown.group == "g\\n" and shown.value == 1.5
    assert r.model == "m\x1b[31m"  # the original is untouched (JSON/CSV use it)
    clean = LossResult(loss="mse", label="mse", params={}, model="m", value=1.0)
    assert for_people(clean) is clean  # nothing to escape: the same object


def hostile_csv(tmp_path, group_values=HOSTILE):
    path = tmp_path / "hostile.csv"
    pred = "pred" + OSC52
    with path.open("w", newline="", encoding="utf-8") as handle:
        w = csv.writer(handle)
        w.writerow(["y_true", pred, "grp" + ESC_CLEAR])
        for i, g in enumerate(group_values):
            for k in range(3):
                w.writerow([i + k, i + k + 0.5 * (k - 1), g])
        # Enough plain text that the controls stay a few stray bytes, not a binary file.
        for i in range(1000):
            w.writerow([i % 7, i % 5, "plain"])
    return path, pred


@pytest.mark.parametrize("fmt", ["table", "markdown"])
def test_compute_table_and_markdown_escape_names_and_groups(run, tmp_path, fmt):
    path, pred = hostile_csv(tmp_path)
    result = run(
        "compute",
        path,
        "--pred-col",
        pred,
        "--group-by",
        "grp" + ESC_CLEAR,
        "-l",
        "mse",
        "--format",
        fmt,
    )
    assert result.exit_code == 0, result.stderr
    assert no_raw_controls(result.stdout), result.stdout
    assert no_raw_controls(result.stderr)
    assert "\\x1b]52;c;SGVsbG8=\\x07" in result.stdout
    assert "\\u202e" in result.stdout
    if fmt == "markdown":  # one row per result: the header, the rule, total + 10 groups
        lines = result.stdout.splitlines()
        assert len(lines) == 2 + 2 + len(HOSTILE)
        del lines[1]  # |---|---|
        assert all(line.startswith("| ") and line.endswith(" |") for line in lines)


def test_json_and_csv_keep_the_data_exact(run, tmp_path):
    path, pred = hostile_csv(tmp_path)
    args = ("compute", path, "--pred-col", pred, "--group-by", "grp" + ESC_CLEAR, "-l", "mse")
    out = run(*args, "--format", "json")
    assert out.exit_code == 0
    assert "\x1b" not in out.stdout  # JSON escapes controls itself (\u001b)
    data = json.loads(out.stdout)
    assert {r["group"] for r in data["results"]} == {None, "plain", *HOSTILE}
    assert {r["model"] for r in data["results"]} == {pred}
    out = run(*args, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert {r["group"] for r in rows} == {"", "plain", *HOSTILE}


def test_newline_in_a_group_value_keeps_the_markdown_table_whole(run, tmp_path):
    path = tmp_path / "nl.csv"
    path.write_text('y_true,y_pred,g\n1,2,"a\nb"\n2,2,"c|d"\n', encoding="utf-8")
    out = run("compute", path, "-l", "mae", "--group-by", "g", "--format", "markdown")
    assert out.exit_code == 0, out.stderr
    lines = out.stdout.splitlines()
    # the table's layout (group, rows, loss, params, models across) and precision
    assert lines[-2:] == [
        "| a\\nb | 1 | mae |  | 1 |",
        "| c\\|d | 1 | mae |  | 0 |",
    ]


@pytest.mark.parametrize("command", ["compare", "sensitivity", "recommend"])
def test_other_commands_escape_names_in_tables(run, tmp_path, command):
    path, pred = hostile_csv(tmp_path)
    out = run(command, path, "--pred-col", pred, "--pred-col", "y_true")
    assert out.exit_code in (0,), out.stderr
    assert no_raw_controls(out.stdout) and no_raw_controls(out.stderr)
    assert "\\x1b]52" in out.stdout or command == "recommend"


def test_error_lines_escape_file_names_and_stay_one_line(run, tmp_path):
    name = tmp_path / f"x\ny{ESC_CLEAR}{RLO}.csv"
    out = run("compute", name)
    assert out.exit_code == 1
    assert out.stdout == ""
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("Error: ")
    assert no_raw_controls(out.stderr)
    assert "x\\ny\\x1b[2J\\u202e.csv" in out.stderr


def test_missing_column_error_escapes_the_names(run, tmp_path):
    path, pred = hostile_csv(tmp_path)
    out = run("compute", path, "--pred-col", "nope" + ESC_CLEAR)
    assert out.exit_code == 1 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and no_raw_controls(out.stderr)


def test_usage_errors_escape_what_was_typed(run):
    out = run("compute", "f.csv", "-l", "ms" + ESC_CLEAR + "e")
    assert out.exit_code == 2
    assert no_raw_controls(out.stderr) and "\\x1b" in out.stderr
    out = run("compute", "f.csv", "--format", "t" + OSC52)
    assert out.exit_code == 2
    assert no_raw_controls(out.stderr)


def test_warnings_and_notes_escape_names(run, tmp_path):
    # Two y_pred_* columns make a multiclass file whose class names are user strings.
    path = tmp_path / "mc.csv"
    cls_a, cls_b = "a" + ESC_CLEAR, "b" + RLO
    with path.open("w", newline="", encoding="utf-8") as handle:
        w = csv.writer(handle)
        w.writerow(["y_true", f"y_pred_{cls_a}", f"y_pred_{cls_b}"])
        for t, p in [(cls_a, 0.7), (cls_a, 0.0)] + [(cls_b, 0.6)] * 300:
            w.writerow([t, p, 1 - p])
    out = run("compute", path)
    assert out.exit_code == 0, out.stderr
    assert no_raw_controls(out.stdout) and no_raw_controls(out.stderr)
    out = run("sensitivity", path)
    assert no_raw_controls(out.stdout) and no_raw_controls(out.stderr)


def test_custom_loss_docstring_is_escaped_in_list_and_info(tmp_path, capsys):
    import losscli as lc
    from losscli.custom import load_custom_losses
    from losscli.report.catalogue import render_info, render_list

    code = tmp_path / "mine.py"
    code.write_text(
        f'def sneaky(y_true, y_pred):\n    """Looks fine{ESC_CLEAR}{OSC52}."""\n'
        "    return abs(y_true - y_pred)\n",
        encoding="utf-8",
    )
    try:
        (spec,) = load_custom_losses([f"{code}:sneaky"])
        render_info(lc.loss_info(spec.name), "table")
        render_list(lc.list_losses(), "table")
        render_list(lc.list_losses(), "markdown")
    finally:
        load_custom_losses([])
    out = capsys.readouterr().out
    assert "sneaky" in out and "Looks fine\\x1b[2J" in out
    assert no_raw_controls(out)
