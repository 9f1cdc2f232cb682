"""``loss report``: the HTML page, checked as files and in a real headless Chromium.

The browser tests open each report in Debian's system Chromium through
Playwright (never a downloaded browser) and check: no console error, no
request other than the file itself, the numbers shown equal the ``--format
json`` output of the commands they come from, no horizontal overflow of the
main column at 390 and 1280 px, and user strings (column, class and group
names) rendered as text.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path

import pytest

from losscli.report.html import format_value
from tests.browser import Browser, skip_reason

SAMPLES = Path(__file__).resolve().parent.parent / "sample_data"
EPOCH = "1767225600"  # 2026-01-01 00:00 UTC: a fixed date makes pages byte-identical

# (file, input options, --group-by, --bootstrap): one report per task family and input kind.
CASES = [
    ("regression_outliers.csv", ["--pred-col", "y_pred", "--pred-col", "model_b"], "segment", 1000),
    ("regression_clean.csv", ["--weight-col", "weight"], None, 200),
    ("binary_imbalanced.csv", ["--pred-col", "y_pred", "--pred-col", "model_b"], None, 200),
    ("binary_logits.csv", ["--from-logits"], None, 200),
    ("hinge_labels.csv", [], None, 200),
    ("multiclass_probs.csv", [], None, 200),
    ("multiclass_logits.csv", ["--from-logits"], None, 200),
    ("multiclass_soft.csv", [], None, 200),
    ("detection_boxes.csv", [], None, 200),
    ("similarity_pairs.csv", [], None, 200),
    ("similarity_triplets.csv", [], None, 200),
    ("gan_outputs.csv", [], None, 200),
    ("vae_latents.csv", [], None, 200),
]
FAMILIES = {
    "regression",
    "binary",
    "multiclass",
    "detection",
    "similarity",
    "generative",
    "vae",
}


@pytest.fixture(scope="module")
def browser():
    reason = skip_reason()
    if reason:
        pytest.skip(f"browser checks skipped: {reason}")
    instance = Browser()
    yield instance
    instance.close()


def build(run, tmp_path: Path, file: str, inputs: list[str], group: str | None, n_boot: int):
    out = tmp_path / (Path(file).stem + ".html")
    args = ["report", SAMPLES / file, *inputs, "--bootstrap", str(n_boot), "-o", out]
    if group:
        args += ["--group-by", group]
    result = run(*args)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    return out


def command_outputs(run_json, file: str, inputs: list[str], group: str | None, n_boot: int):
    """The --format json output of every command the report draws from."""
    path = SAMPLES / file
    ci = ["--ci", "0.95", "--bootstrap", str(n_boot)]
    grouped = ["--group-by", group] if group else []
    outputs = {
        "compute": run_json("compute", path, *inputs, *ci, *grouped),
        "compare": run_json("compare", path, *inputs, *ci),
        "recommend": run_json("recommend", path, *inputs),
    }
    if outputs["compute"]["task"] in ("regression", "binary", "multiclass"):
        outputs["sensitivity"] = run_json("sensitivity", path, *inputs)
    return outputs


def resolve(doc: object, path: str) -> object:
    """The value at a JSON pointer (RFC 6901)."""
    for part in path.split("/")[1:]:
        key = part.replace("~1", "/").replace("~0", "~")
        doc = doc[int(key)] if isinstance(doc, list) else doc[key]  # type: ignore[index]
    return doc


def shown_numbers(page) -> list[list[str]]:
    return page.eval_on_selector_all(
        "span.n",
        "els => els.map(e => [e.dataset.src, e.dataset.path, e.dataset.v, e.dataset.fmt,"
        " e.textContent])",
    )


def overflow(page) -> dict[str, int]:
    return page.evaluate(
        "() => { const m = document.querySelector('main');"
        " return {scroll: m.scrollWidth, client: m.clientWidth,"
        " page: document.documentElement.scrollWidth, window: window.innerWidth}; }"
    )


# --------------------------------------------------------------------------- in the browser


@pytest.mark.parametrize(("file", "inputs", "group", "n_boot"), CASES, ids=[c[0] for c in CASES])
def test_report_in_browser(browser, run, run_json, tmp_path, file, inputs, group, n_boot):
    out = build(run, tmp_path, file, inputs, group, n_boot)
    outputs = command_outputs(run_json, file, inputs, group, n_boot)
    assert out.stat().st_size < 1_000_000

    for visit in browser.visit(out, width=1280):
        page = visit.page
        assert visit.console_errors == []
        assert visit.requests == [out.resolve().as_uri()]
        numbers = shown_numbers(page)
        sources = {src for src, *_ in numbers}
        assert {"compute", "compare", "recommend"} <= sources
        assert ("sensitivity" in sources) == ("sensitivity" in outputs)
        compute_rows = len(outputs["compute"]["results"])
        assert sum(1 for n in numbers if n[0] == "compute" and n[1].endswith("/value")) == (
            compute_rows
        )
        for src, path, v, fmt, text in numbers:
            expected = resolve(outputs[src], path)
            assert json.loads(v) == expected, (src, path)
            assert text == format_value(expected, fmt), (src, path)
        # The charts are inline SVG; the page has no script at all.
        assert page.eval_on_selector_all("svg", "els => els.length") >= 1
        assert page.eval_on_selector_all("script", "els => els.length") == 0
        page.screenshot(path=str(tmp_path / "wide.png"), full_page=True)
        size = overflow(page)
        assert size["scroll"] <= size["client"], size
        assert size["page"] <= size["window"], size

    for visit in browser.visit(out, width=390):
        page = visit.page
        page.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
        size = overflow(page)
        assert size["scroll"] <= size["client"], size
        assert size["page"] <= size["window"], size
        assert visit.console_errors == []


def test_every_task_family_has_a_browser_case(run_json):
    tasks = {run_json("compute", SAMPLES / f, *i)["task"] for f, i, _, _ in CASES}
    assert tasks == FAMILIES


def test_user_strings_render_as_text(browser, run, tmp_path):
    column = "<script>alert(1)</script>"
    group = "<img src=x onerror=alert(2)>"
    data = tmp_path / "hostile.csv"
    rows = [f'y_true,"{column}",seg']
    for i in range(40):
        rows.append(f"{i},{i + (0.5 if i % 3 else -0.25)},{group if i % 2 else '<b>bold</b>'}")
    data.write_text("\n".join(rows) + "\n")
    out = tmp_path / "hostile.html"
    result = run(
        "report", data, "--pred-col", column, "--group-by", "seg", "--bootstrap", "50", "-o", out
    )
    assert result.exit_code == 0, result.stderr
    html = out.read_text()
    assert column not in html and group not in html
    for visit in browser.visit(out):
        page = visit.page
        assert visit.dialogs == []
        assert visit.requests == [out.resolve().as_uri()]
        assert visit.console_errors == []
        assert page.eval_on_selector_all("script", "els => els.length") == 0
        assert page.eval_on_selector_all("img, b", "els => els.length") == 0
        text = page.inner_text("main")
        assert column in text and group in text and "<b>bold</b>" in text


def test_class_names_render_as_text(browser, run, tmp_path):
    name = "<i onclick=x>cat</i>"
    data = tmp_path / "classes.csv"
    lines = [f'y_true,"y_pred_{name}",y_pred_dog']
    for i in range(30):
        truth = name if i % 2 else "dog"
        p = 0.8 if (i % 3) else 0.3
        lines.append(f'"{truth}",{p},{1 - p}')
    data.write_text("\n".join(lines) + "\n")
    out = tmp_path / "classes.html"
    result = run("report", data, "--bootstrap", "50", "-o", out)
    assert result.exit_code == 0, result.stderr
    for visit in browser.visit(out):
        assert visit.console_errors == [] and visit.dialogs == []
        assert visit.page.eval_on_selector_all("i", "els => els.length") == 0
        assert name in visit.page.inner_text("main")


# --------------------------------------------------------------------------- as a file


def test_default_output_is_in_the_current_directory(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in SAMPLES.iterdir())
    result = run("report", SAMPLES / "regression_clean.csv", "--bootstrap", "50")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "regression_clean.loss-report.html").is_file()
    assert result.stderr.strip().endswith("Report written to regression_clean.loss-report.html")
    assert sorted(p.name for p in SAMPLES.iterdir()) == before


def test_default_output_name_strips_compression(tmp_path, monkeypatch):
    from losscli.cli.report import default_output

    assert default_output("data/preds.csv.gz") == "preds.loss-report.html"
    assert default_output("/x/y/preds.parquet") == "preds.loss-report.html"
    assert default_output("-") == "stdin.loss-report.html"


def test_output_to_stdout(run):
    result = run("report", SAMPLES / "regression_clean.csv", "--bootstrap", "50", "-o", "-")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("<!DOCTYPE html>")
    assert result.stdout.rstrip().endswith("</html>")
    assert "Report written" not in result.stderr


def test_output_never_over_the_input(run, tmp_path):
    data = tmp_path / "preds.csv"
    data.write_bytes((SAMPLES / "regression_clean.csv").read_bytes())
    before = data.read_bytes()
    result = run("report", data, "-o", data)
    assert result.exit_code == 2
    assert "is the input file" in result.stderr
    assert data.read_bytes() == before


def test_output_folder_checked_before_work(run, tmp_path):
    result = run("report", SAMPLES / "regression_clean.csv", "-o", tmp_path / "no" / "r.html")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: cannot write")
    assert result.stdout == ""


def test_bad_input_writes_nothing(run, tmp_path):
    out = tmp_path / "r.html"
    result = run("report", SAMPLES / "regression_clean.csv", "--pred-col", "nope", "-o", out)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error:") and len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_missing_extra_is_one_error_line(run, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "jinja2", None)
    result = run("report", SAMPLES / "regression_clean.csv", "-o", tmp_path / "r.html")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: loss report needs jinja2, which is not installed; install it with: "
        "pip install 'losscli[report]'\n"
    )
    assert not (tmp_path / "r.html").exists()


def test_page_is_self_contained(run, tmp_path):
    out = build(run, tmp_path, "regression_outliers.csv", ["--pred-col", "model_b"], None, 50)
    html = out.read_text()
    for pattern in (
        r"<script",
        r"<link",
        r"<img",
        r"<iframe",
        r"@import",
        r"url\((?!#)",
        r"\ssrc=",
    ):
        assert not re.search(pattern, html, re.IGNORECASE), pattern
    assert not re.search(r"(href|xlink:href)=\"(?!#)", html)
    assert "<dc:date>" not in html  # no date inside the SVG charts
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))  # the inline SVGs' ids do not collide


def test_same_command_same_bytes(run, tmp_path, monkeypatch):
    """The page is deterministic, and the command it shows reproduces it exactly."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "preds.csv"
    data.write_bytes((SAMPLES / "regression_outliers.csv").read_bytes())
    first = run("report", "preds.csv", "--pred-col", "y_pred", "--bootstrap", "100", "-o", "a.html")
    assert first.exit_code == 0, first.stderr
    html = (tmp_path / "a.html").read_text()
    command = re.search(r'<code class="cmd" id="command">([^<]*)</code>', html)
    assert command is not None
    shown = command.group(1).replace("&#39;", "'").replace("&amp;", "&")
    assert shown == "loss report preds.csv --pred-col y_pred --output a.html --bootstrap 100"
    again = run(*shlex.split(shown.replace("a.html", "b.html"))[1:])
    assert again.exit_code == 0, again.stderr
    assert (tmp_path / "b.html").read_text() == html.replace("a.html", "b.html")
    assert "2026-01-01 00:00 UTC" in html


def test_size_does_not_grow_with_rows(run, tmp_path):
    import numpy as np

    rng = np.random.default_rng(3)
    sizes = []
    for n in (2_000, 100_000):
        y = rng.normal(100, 20, n)
        p = y + rng.normal(0, 2, n) + (rng.random(n) < 0.01) * 50
        data = tmp_path / f"big{n}.csv"
        np.savetxt(
            data, np.column_stack([y, p]), delimiter=",", header="y_true,y_pred", comments=""
        )
        out = build(run, tmp_path, str(data), [], None, 20)
        sizes.append(out.stat().st_size)
    assert sizes[1] < 1_000_000
    assert sizes[1] < 1.2 * sizes[0]


@pytest.mark.parametrize("losses", ["d2_absolute_error", "mse,r2"])
def test_figures_of_many_rows_are_reported_without_a_curve(run, losses):
    """r2 and the d2 scores have no curve of one row's loss: the report shows their
    values and draws curves only for the losses that have one (none: no section)."""
    result = run(
        "report", SAMPLES / "regression_clean.csv", "-l", losses, "--bootstrap", "50", "-o", "-"
    )
    assert result.exit_code == 0, result.stderr
    html = result.stdout
    for name in losses.split(","):
        assert name in html
    assert ('<section id="curves">' in html) == ("mse" in losses)


# --------------------------------------------------------------------------- hostile text

# What must never reach the page raw: C0 controls but the page's own newlines, DEL, C1
# controls, bidi marks, embeddings, overrides and isolates, line and paragraph separators.
RAW = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
RLO_MODEL = "m\u202eevil"
NEWLINE_MODEL = "line\nbreak"
BELL_MODEL = "\x1b[32mbell\x07"
GROUPS = ["a\rb", "\x1b]0;pwned\x07", "x\u2066y\u2069", "\x85next"]


def hostile_report(run, tmp_path: Path) -> tuple[Path, list[str]]:
    import csv

    data = tmp_path / "d\u202eata.csv"
    with data.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["y_true", "y_pred", RLO_MODEL, NEWLINE_MODEL, BELL_MODEL, "g\x1b[1m"])
        for i in range(1000):  # plain text enough that the controls are a few stray bytes
            y = i % 9
            group = GROUPS[i % 4] if i < 40 else "plain"
            writer.writerow([y, y + 0.3, y - 0.5 * (i % 3), y + (i % 4), y * 1.1, group])
    out = tmp_path / "page.html"
    args = ["report", str(data), "--pred-col", "y_pred", "--pred-col", RLO_MODEL]
    args += ["--pred-col", NEWLINE_MODEL, "--pred-col", BELL_MODEL, "--group-by", "g\x1b[1m"]
    args += ["--bootstrap", "20", "-o", str(out)]
    result = run(*args)
    assert result.exit_code == 0, result.stderr
    return out, ["loss", *args]


def test_user_strings_show_controls_and_bidi_as_escapes(run, tmp_path):
    """A model named m<U+202E>evil showed reversed text (the page held the raw override),
    a newline in a name showed as a space and ESC/BEL reached the page. Now every user
    string (title, facts, tables, chart titles and labels, notes, the command) shows them
    as the terminal does."""
    out, _ = hostile_report(run, tmp_path)
    html = out.read_text(encoding="utf-8")
    assert RAW.search(html) is None, repr(RAW.search(html))
    assert NEWLINE_MODEL not in html
    for shown in (
        "m\\u202eevil",
        "line\\nbreak",
        "\\x1b[32mbell\\x07",
        "a\\rb",
        "x\\u2066y\\u2069",
    ):
        assert shown in html, shown
    assert "<title>Loss report: " + str(tmp_path / "d\\u202eata.csv") + "</title>" in html
    # in the charts (inline SVG): the titles and the per-group axis
    svg = "".join(re.findall(r"<svg.*?</svg>", html, re.DOTALL))
    assert 'aria-label="Residuals: m\\u202eevil"' in svg
    assert "a\\rb" in svg and "g\\x1b[1m" in svg


def test_command_with_controls_is_shown_escaped_and_still_runs(run, tmp_path):
    """The reproducing command quotes such words as $'...', which the shell reads back into
    the very arguments given (the page shows no raw control, and pasting it still works)."""
    import html as html_module
    import shutil
    import subprocess

    out, argv = hostile_report(run, tmp_path)
    page = out.read_text(encoding="utf-8")
    found = re.search(r'<code class="cmd" id="command">([^<]*)</code>', page)
    assert found is not None
    command = html_module.unescape(found.group(1))
    assert RAW.search(command) is None and "\n" not in command
    assert "$'m\\u202eevil'" in command and "$'line\\nbreak'" in command
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash to read the command back")
    assert command.startswith("loss report ")
    words = subprocess.run(
        [bash, "-c", "printf '%s\\0' " + command.removeprefix("loss ")],
        capture_output=True,
        check=True,
        env={"LC_ALL": "C.UTF-8", "PATH": "/usr/bin:/bin"},
    ).stdout.decode("utf-8")
    words = words.split("\0")[:-1]
    given = argv[1:]
    assert words[:2] == given[:2]  # report FILE
    pairs = [(words[i], words[i + 1]) for i in range(2, len(words), 2)]
    wanted = [(given[i], given[i + 1]) for i in range(2, len(given), 2)]
    wanted = [("--output" if flag == "-o" else flag, value) for flag, value in wanted]
    assert sorted(pairs) == sorted(wanted)
    assert [v for f, v in pairs if f == "--pred-col"] == [v for f, v in wanted if f == "--pred-col"]


def test_evidence_shows_each_name_escaped_once(run, tmp_path):
    """The evidence table showed a dict or list value as the JSON text of the already
    escaped names: a model named m<ESC>x read m\\\\x1bx in the calibration row, a class
    bi<ESC>rd read bi\\\\x1brd in class_fractions (and m\\u202eevil as m\\\\u202eevil). Each
    name now shows escaped once, as everywhere else on the page, its numbers formatted."""
    import csv

    esc_model, esc_class = "m\x1bx", "bi\x1brd"
    binary = tmp_path / "binary.csv"
    with binary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["y_true", esc_model, RLO_MODEL])
        for i in range(200):
            y = i % 2
            writer.writerow([y, (0.7 if y else 0.3) + 0.001 * (i % 50), 0.5 + 0.002 * (i % 40)])
    classes = tmp_path / "classes.csv"
    with classes.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["y_true", "y_pred_cat", f"y_pred_{esc_class}"])
        for i in range(400):  # plain text enough that the controls are a few stray bytes
            rare = i % 7 == 0
            p = 0.6 + 0.001 * (i % 90)
            writer.writerow(
                [esc_class if rare else "cat", 1 - p if rare else p, p if rare else 1 - p]
            )

    def evidence(data: Path, *options: str) -> str:
        out = tmp_path / (data.stem + ".html")
        result = run("report", data, *options, "--bootstrap", "20", "-o", out)
        assert result.exit_code == 0, result.stderr
        html = out.read_text(encoding="utf-8")
        return re.search(r'<table id="evidence-table">.*?</table>', html, re.DOTALL).group(0)

    def row(table: str, key: str) -> str:
        cell = re.search(rf'<th scope="row">{key}</th><td>(.*?)</td>', table).group(1)
        return re.sub(r"<[^>]+>", "", cell)  # the text shown

    table = evidence(binary, "--pred-col", esc_model, "--pred-col", RLO_MODEL)
    calibration = row(table, "calibration")
    assert calibration.startswith("m\\x1bx: (log_loss: "), calibration
    assert "; m\\u202eevil: (log_loss: " in calibration
    assert "\\\\" not in table and RAW.search(table) is None

    table = evidence(classes)
    assert row(table, "minority_class") == "bi\\x1brd"
    fractions = row(table, "class_fractions")
    assert re.fullmatch(r"cat: [0-9.]+, bi\\x1brd: [0-9.]+", fractions), fractions
    assert "\\\\" not in table and RAW.search(table) is None


@pytest.mark.parametrize(
    "word", ["plain", "", "it's", "a\\nb", "tab\there", "\x85", "\x1b[2J", "\u202e", "é\u2028x"]
)
def test_shell_word_reads_back_as_the_word(word):
    import shutil
    import subprocess

    from losscli.report.console import safe, shell_word

    quoted = shell_word(word)
    assert safe(quoted) == quoted  # nothing raw in it
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash to read the word back")
    got = subprocess.run(
        [bash, "-c", "printf '%s' " + quoted],
        capture_output=True,
        check=True,
        env={"LC_ALL": "C.UTF-8", "PATH": "/usr/bin:/bin"},
    ).stdout.decode("utf-8")
    assert got == word


LONG_MODEL = "model_" + "abcdefghij" * 14 + "_end"  # 150 characters


def long_names_csv(tmp_path: Path) -> Path:
    import csv

    data = tmp_path / "long.csv"
    with data.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["y_true", "y_pred", LONG_MODEL, "g"])
        for i in range(600):  # plain text enough that a stray control is no binary file
            y = (i * 7) % 11
            group = ["a\rb", "\u4e2d\u6587", "plain", "x" * 60][i % 4]
            writer.writerow([y, y + 0.25 * (i % 5), y - 0.5 * (i % 3), group])
    return data


def test_chart_warnings_never_reach_the_terminal(run, tmp_path):
    """Before, matplotlib printed 'UserWarning: Glyph 13 (^M) missing from font(s)' (the
    raw byte included) or 'constrained_layout not applied because axes sizes collapsed to
    zero' with its source line. Now the charts are drawn without a word on stderr."""
    import warnings

    out = tmp_path / "long.html"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run(
            "report", long_names_csv(tmp_path), "--pred-col", "y_pred", "--pred-col",
            LONG_MODEL, "--group-by", "g", "--bootstrap", "20", "-o", out,
        )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert [str(w.message) for w in caught] == []
    assert result.stderr == f"Report written to {out}\n"


def test_long_names_are_shortened_in_the_charts_only(run, tmp_path):
    """A 150-character model name cut the chart's title off and its legend covered the
    plot; the charts now show it cut in the middle with an ellipsis, the tables whole."""
    from losscli.report.figures import LEGEND_CHARS, TITLE_CHARS, fit

    out = tmp_path / "long.html"
    result = run(
        "report", long_names_csv(tmp_path), "--pred-col", "y_pred", "--pred-col",
        LONG_MODEL, "--group-by", "g", "--bootstrap", "20", "-o", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    html = out.read_text(encoding="utf-8")
    charts = "".join(re.findall(r"<svg.*?</svg>", html, re.DOTALL))
    tables = re.sub(r"<svg.*?</svg>", "", html, flags=re.DOTALL)
    assert LONG_MODEL in tables
    assert not re.search(r">[^<]*" + LONG_MODEL, charts)  # no chart text holds it whole
    title = fit("Residuals: " + LONG_MODEL, TITLE_CHARS)
    assert len(title) == TITLE_CHARS and "\u2026" in title and title.endswith("_end")
    assert title in charts
    assert fit(LONG_MODEL, LEGEND_CHARS) in charts  # the legends of the per-group charts
    assert "a\\rb" in charts and "\r" not in html


@pytest.mark.parametrize("custom", [False, True], ids=["streamed", "custom-in-memory"])
def test_each_residual_histogram_is_labelled_with_its_own_model(run, run_json, tmp_path, custom):
    """The residual histogram of model_b was labelled 'Residuals y_true - y_pred' (on the
    page, in `loss sensitivity` and its JSON): every model's axis now names its own
    prediction column, and the file's target column."""
    extra = []
    if custom:
        code = tmp_path / "sq.py"
        code.write_text("def sq(y_true, y_pred):\n    return (y_true - y_pred) ** 2\n")
        extra = ["--custom", f"{code}:sq"]
    data = SAMPLES / "regression_outliers.csv"
    models = ["--pred-col", "y_pred", "--pred-col", "model_b"]
    out = tmp_path / "r.html"
    result = run("report", data, *models, *extra, "--bootstrap", "20", "-o", out)
    assert result.exit_code == 0, result.stderr
    charts = re.findall(r"<svg.*?</svg>", out.read_text(encoding="utf-8"), re.DOTALL)
    for model in ("y_pred", "model_b"):
        (chart,) = [c for c in charts if f'aria-label="Residuals: {model}"' in c]
        assert f"Residuals y_true - {model}<" in chart
        assert ("y_true - y_pred" in chart) == (model == "y_pred")

    renamed = tmp_path / "renamed.csv"
    renamed.write_text(data.read_text().replace("y_true,", "target,", 1))
    found = run_json("sensitivity", renamed, "--true-col", "target", *models, *extra)
    assert [h["quantity"] for h in found["histograms"]] == [
        "Residuals target - y_pred",
        "Residuals target - model_b",
    ]


def test_fit_escapes_then_shortens():
    from losscli.report.figures import fit

    assert fit("a\rb", 10) == "a\\rb"
    assert fit("abcdefghijklmnopqrstuvwxyz", 10) == "abcdef\u2026xyz"
    assert fit("short", 10) == "short"


@pytest.mark.parametrize("custom", [False, True], ids=["streamed", "custom-in-memory"])
def test_interval_bound_advice_names_what_report_can_do(run, tmp_path, monkeypatch, custom):
    """Over the bootstrap state's bound, report said '... or leave out --ci', which report
    cannot do (its intervals are always drawn; --ci sets their level). It now names the
    losses, the models and the group column, and following the advice works."""
    import losscli.analysis.streaming as streaming

    monkeypatch.setattr(streaming, "CI_STATE_BYTES", 1 << 19)
    extra = []
    if custom:
        code = tmp_path / "sq.py"
        code.write_text("def sq(y_true, y_pred):\n    return (y_true - y_pred) ** 2\n")
        extra = ["--custom", f"{code}:sq"]
    data = SAMPLES / "regression_clean.csv"
    out = tmp_path / "r.html"
    args = ["report", data, "--pred-col", "y_pred", "--pred-col", "model_b", *extra]
    args += ["--group-by", "segment", "--bootstrap", "20", "-o", out]
    result = run(*args)
    assert result.exit_code == 1
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1
    assert message.startswith("Error: the report's intervals with --group-by segment: ")
    assert "over the 0.5 MiB bound; choose fewer losses (-l) or models, or group by a " in message
    assert "--ci" not in message
    assert not out.exists()
    fewer = run(*args, "-l", "mse")
    assert fewer.exit_code == 0, fewer.stderr
    assert out.is_file()


@pytest.mark.parametrize("name", ["out.pdf", "out.html.pdf", "report", "out.svg", "page.txt"])
def test_output_that_is_not_html_is_a_usage_error(run, tmp_path, name):
    """`loss report x.csv -o out.pdf` wrote HTML into a .pdf file; now it is exit 2 naming
    what report writes, before any work, with nothing written."""
    out = tmp_path / name
    result = run("report", SAMPLES / "regression_clean.csv", "--bootstrap", "20", "-o", out)
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: --output {out}: loss report writes an HTML page; give a file name ending in "
        f".html or .htm, or - for stdout\n"
    )
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["r.html", "r.htm", "R.HTML", "/dev/null"])
def test_html_names_and_devices_are_written(run, tmp_path, name):
    out = name if name.startswith("/") else str(tmp_path / name)
    result = run("report", SAMPLES / "regression_clean.csv", "--bootstrap", "20", "-o", out)
    assert result.exit_code == 0, result.stderr
    assert result.stderr.endswith(f"Report written to {out}\n")


def test_many_groups_page_is_small_and_says_what_it_left_out(run, tmp_path):
    """1,000 groups made a 1.8 MB page (every group in the table and on one chart axis,
    sorted as text: 0, 1, 10, 100, ...). The page now shows the 20 groups with the most
    rows, in numeric order, says how many it left out and the command that gives them
    all, and stays under 1 MB."""
    import csv
    import io

    import numpy as np

    rng = np.random.default_rng(1)
    n = 4000
    y = rng.normal(size=n).round(3)
    groups = np.concatenate([np.arange(1000), np.repeat(np.arange(0, 1000, 37), 40)])
    groups = np.concatenate([groups, rng.integers(0, 1000, n - len(groups))])
    data = tmp_path / "many.csv"
    lines = ["y_true,y_pred,g"]
    lines += [f"{a},{a + b:.3f},{g}" for a, b, g in zip(y, rng.normal(0, 0.5, n), groups)]
    data.write_text("\n".join(lines) + "\n")
    out = tmp_path / "many.html"
    result = run("report", data, "--group-by", "g", "-l", "mae", "--bootstrap", "10", "-o", out)
    assert result.exit_code == 0, result.stderr
    assert out.stat().st_size < 1_000_000
    html = out.read_text(encoding="utf-8")

    counts = np.bincount(groups, minlength=1000)
    biggest = sorted(sorted(range(1000), key=lambda g: (-counts[g], g))[:20])
    assert min(counts[biggest]) > 40  # the groups given 40 more rows
    table = re.search(r'<table id="compute-table">.*?</table>', html, re.DOTALL).group(0)
    shown = re.findall(r"<tr[^>]*><td>([^<]+)</td>", table)
    assert shown == ["(all)"] + [str(g) for g in biggest]  # by value, not 0, 1, 10, 100
    note = re.search(r'<p class="muted" id="groups-note">(.*?)</p>', html, re.DOTALL).group(1)
    assert note.startswith("1,000 groups of g: the table and the charts show the 20 with the ")
    assert "the other 980 are in the output of" in note
    command = re.search(r"<code>(.*?)</code>", note).group(1)
    assert command == f"loss compute {data} --losses mae --bootstrap 10 --group-by g --ci 0.95 " \
        "--format csv"  # fmt: skip
    assert "20 of 1000 groups (most rows)" in html  # the per-group chart's axis
    assert f"Note: {re.sub(r'<.*?>', '', note)[:-1]}" in result.stderr.replace("\n", " ")

    # The command gives every group.
    every = run(*shlex.split(command)[1:])
    assert every.exit_code == 0, every.stderr
    groups_found = {row["group"] for row in csv.DictReader(io.StringIO(every.stdout))}
    assert len(groups_found - {""}) == 1000


def test_group_order_is_numeric_for_numbers():
    from losscli.report.format import group_order

    names = ["10", "2", "b", "1", "g10", "-1", "0.5", "g2", "100", "nan"]
    assert sorted(names, key=group_order) == [
        "-1", "0.5", "1", "2", "10", "100", "b", "g2", "g10", "nan",
    ]  # fmt: skip


def test_fewer_groups_are_shown_with_many_losses_and_models():
    from losscli.analysis.results import ComputeReport, LossResult
    from losscli.report.format import MAX_SHOWN_GROUPS, choose_groups

    def report(n_groups: int, losses: int, models: int) -> ComputeReport:
        names = [f"m{i}" for i in range(models)]
        results = [
            LossResult(f"l{k}", f"l{k}", {}, m, 1.0, group=str(g), n_rows=g + 1)
            for g in range(n_groups)
            for k in range(losses)
            for m in names
        ]
        return ComputeReport("f", "regression", "", 10, 0, names, results, group_column="g")

    few = choose_groups(report(12, 8, 2))
    assert few is not None and few.hidden == 0 and few.shown == [str(g) for g in range(12)]
    many = choose_groups(report(500, 8, 2))
    assert many is not None and len(many.shown) == MAX_SHOWN_GROUPS and many.total == 500
    assert many.shown == [str(g) for g in range(480, 500)]  # the most rows
    wide = choose_groups(report(500, 10, 12))
    assert wide is not None and 1 <= len(wide.shown) < MAX_SHOWN_GROUPS


WIDE_LOSSES = [
    "mse", "rmse", "mae", "mbe", "huber", "log_cosh", "mape", "smape", "msle", "rmsle",
    "median_ae", "max_error", "poisson", "gamma", "pinball", "huber:delta=2",
    "huber:delta=5", "pinball:alpha=0.1", "pinball:alpha=0.9", "tweedie:power=1.5",
]  # fmt: skip


def test_very_wide_page_is_small_and_says_what_it_left_out(run, tmp_path):
    """24 models x 20 losses made a page of several MB (a compare and a sensitivity row,
    and an injection and a verdict line, per loss and model, and a residual histogram of
    ~45 kB per model), against SPEC 11's 'under 1 MB for any input'. The page now shows
    the first 16 losses and the 3 models with the best average rank over them (the data
    charts too), says how many it left out in every section, and the commands that list
    them all; it stays under 1 MB."""
    import csv
    import html as html_module
    import io

    import numpy as np

    rng = np.random.default_rng(3)
    n = 300
    y = rng.gamma(3.0, 10.0, n) + 1.0
    # noise by model: the best three are columns 7, 3 and 18, not the first ones
    noise = {7: 0.5, 3: 1.0, 18: 1.5}
    names = [f"m{i:02d}" for i in range(24)]
    data = tmp_path / "wide.csv"
    with data.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["y_true", *names])
        preds = [np.abs(y + rng.normal(0, noise.get(i, 6.0 + i), n)) + 0.5 for i in range(24)]
        for row in zip(y, *preds):
            writer.writerow([f"{v:.4f}" for v in row])
    options = [word for name in names for word in ("--pred-col", name)]
    options += ["-l", ",".join(WIDE_LOSSES)]
    out = tmp_path / "wide.html"
    result = run("report", data, *options, "--bootstrap", "10", "-o", out)
    assert result.exit_code == 0, result.stderr
    assert out.stat().st_size < 1_000_000
    html = out.read_text(encoding="utf-8")

    best = ["m03", "m07", "m18"]
    compare = re.search(r'<table id="compare-table">.*?</table>', html, re.DOTALL).group(0)
    rows = re.findall(r"<tr[^>]*><td>([^<]*)</td><td>([^<]*)</td>", compare)
    assert [model for _, model in rows] == best * 16
    assert [loss for loss, _ in rows if loss] == [
        "mse", "rmse", "mae", "mbe", "huber", "log_cosh", "mape", "smape", "msle", "rmsle",
        "median_ae", "max_error", "poisson", "gamma", "pinball", "huber(delta=2)",
    ]  # fmt: skip
    header = re.search(r'<table id="compute-table">\s*<thead>(.*?)</thead>', html, re.DOTALL)
    assert re.findall(r'scope="col">([^<]*)<', header.group(1)) == ["loss", "params", *best]
    residuals = re.findall(r'aria-label="Residuals: ([^"]*)"', html)
    assert residuals == best
    assert len(re.findall(r"<li><code>[^<]*</code> \(m\d\d\):", html)) == 48  # verdicts

    def note(id: str) -> tuple[str, str]:
        found = re.search(rf'<p class="muted" id="{id}">(.*?)</p>', html, re.DOTALL)
        assert found is not None, id
        text = html_module.unescape(found.group(1).split("<code>")[0].strip())
        command = re.search(r"<code>(.*?)</code>", found.group(1))
        return text, "" if command is None else html_module.unescape(command.group(1))

    text, compute_command = note("models-note")
    assert text.startswith(
        "24 models and 20 losses: the tables show the first 16 losses and the 3 models with "
        "the best average rank over them, so that the page stays small; the other 21 models "
        "and 4 losses are in the output of"
    ), text
    assert compute_command.startswith(f"loss compute {data} --pred-col m00 ")
    assert compute_command.endswith(" --bootstrap 10 --ci 0.95 --format csv")
    assert f"Note: {text} {compute_command}" in result.stderr.replace("\n", " ")
    text, command = note("compare-note")
    assert text.startswith("This table shows 3 of 24 models and 16 of 20 losses")
    assert command.startswith(f"loss compare {data} --pred-col m00 ")
    assert command.endswith(" --ci 0.95 --format csv")
    # The rows shown are those of compare's JSON their numbers point to.
    every = run(*shlex.split(command.replace("--format csv", "--format json"))[1:])
    assert every.exit_code == 0, every.stderr
    results = json.loads(every.stdout)["results"]
    assert len(results) == 24 * 20
    points = re.findall(r'<td>([^<]*)</td><td class="r"><span class="n" data-src="compare" '
                        r'data-path="/results/(\d+)/value" data-v="([^"]*)"', compare)  # fmt: skip
    assert len(points) == 48
    for model, index, value in points:
        assert results[int(index)]["model"] == model
        assert results[int(index)]["value"] == json.loads(value)
    text, command = note("sensitivity-note")
    assert text.startswith("These tables show 3 of 24 models and 16 of 20 losses")
    assert command.startswith("loss sensitivity ") and command.endswith(" --format csv")
    text, command = note("charts-note")
    assert text.startswith("The charts of each model show 3 of 24, those with the best ")
    assert command.startswith("loss sensitivity ") and command.endswith(" --plot charts.png")
    text, command = note("curves-note")
    assert text.startswith("The chart shows the curves of the first 16 of 20 losses")
    assert command.startswith("loss compare --losses ") and command.endswith(" --format csv")
    text, command = note("recommend-note")
    assert text.startswith("This section shows the first 16 of the losses you chose")
    assert command.startswith("loss recommend ") and command.endswith(" --format json")

    # The commands give everything the page left out.
    every = run(*shlex.split(compute_command)[1:])
    assert every.exit_code == 0, every.stderr
    rows = list(csv.DictReader(io.StringIO(every.stdout)))
    assert len({(row["loss"], row["params"], row["model"]) for row in rows}) == 24 * 20
    every = run(*shlex.split(command)[1:])
    assert every.exit_code == 0, every.stderr
    assert len(json.loads(every.stdout)["planned"]) == 20


def test_models_and_losses_shown_are_bounded():
    from losscli.analysis.compare import CompareReport
    from losscli.analysis.results import ComputeReport, LossResult
    from losscli.report.format import (
        MAX_CHART_MODELS,
        MAX_SHOWN_LOSSES,
        MAX_SHOWN_MODELS,
        SHOWN_PAIRS,
        choose_models,
    )

    def reports(losses: int, models: int):
        names = [f"m{i}" for i in range(models)]
        results = [LossResult(f"l{k}", f"l{k}", {}, m, 1.0) for k in range(losses) for m in names]
        compute = ComputeReport("f", "regression", "", 10, 0, names, results)
        # the last models rank best
        ranked = [
            type("Row", (), {"label": f"l{k}", "model": m, "rank": models - i})
            for k in range(losses)
            for i, m in enumerate(names)
        ]
        compare = CompareReport.__new__(CompareReport)
        object.__setattr__(compare, "results", ranked)
        return compute, compare

    few = choose_models(*reports(4, 5))
    assert not few.hidden and few.models == [f"m{i}" for i in range(5)]
    assert few.charted == [f"m{i}" for i in range(1, 5)]  # the 4 best
    wide = choose_models(*reports(15, 12))
    assert wide.losses == [f"l{k}" for k in range(15)] and wide.models == ["m9", "m10", "m11"]
    assert wide.hidden_models == 9 and wide.hidden_losses == 0
    for losses, models in [(1, 500), (200, 1), (60, 60), (16, 8)]:
        choice = choose_models(*reports(losses, models))
        assert 1 <= len(choice.losses) <= MAX_SHOWN_LOSSES
        assert 1 <= len(choice.models) <= MAX_SHOWN_MODELS
        assert len(choice.losses) * len(choice.models) <= SHOWN_PAIRS
        assert len(choice.charted) <= MAX_CHART_MODELS
        assert choice.total_losses == losses and choice.total_models == models
