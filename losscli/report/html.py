"""``loss report``: the analyses of one file as a single self-contained HTML page.

Jinja2 renders the page with autoescape on (column, class and group names are
user data), and every user-supplied string on it (titles, tables, chart labels,
notes, the reproducing command) shows control characters and bidi overrides as
the terminal does: visible escapes (:func:`losscli.report.console.safe`, applied
to the whole report before the page is built). The charts are inline SVG from :mod:`losscli.report.figures`; the
stylesheet is inlined. Nothing on the page loads anything: no script, no
external style, font or image.

Every number shown carries where it comes from: ``data-src`` (the command
whose ``--format json`` holds it), ``data-path`` (a JSON pointer into that
output; a name's controls escaped as the JSON text writes them), ``data-v`` (the value at full precision, as in the JSON) and
``data-fmt`` (how it is shown), so a test can check the page against the
commands' JSON.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from losscli.errors import require_modules
from losscli.report.format import (
    GroupChoice,
    ModelChoice,
    choose_groups,
    choose_models,
    fmt_number,
    fmt_params,
    group_label,
    plural,
)

REPORT_EXTRA_HINT = "pip install 'losscli[report]'"


def require_report_extra() -> None:
    """One clear error naming the extra when jinja2 or matplotlib is missing."""
    require_modules(("jinja2", "matplotlib"), "loss report", REPORT_EXTRA_HINT)


# --------------------------------------------------------------------------- view model


def pointer(*parts: Any) -> str:
    """A JSON pointer (RFC 6901) to a value of a command's JSON output."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def format_value(value: Any, fmt: str) -> str:
    """How a number is shown: 'g' 5 significant digits, 'percent' a fraction as %,
    'pct' a number already in %, 'score' three decimals, 'int' with thousands separators."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-" if value is None or math.isnan(value) else fmt_number(value)
    if fmt == "percent":
        return fmt_number(float(value), percent=True)
    if fmt == "pct":
        return fmt_number(float(value)) + "%"
    if fmt == "score":
        return f"{float(value):.3f}"
    if fmt == "int":
        return f"{int(value):,}"
    return fmt_number(float(value))


@dataclass(frozen=True)
class Num:
    """A number on the page and where it comes from."""

    value: Any
    src: str
    path: str
    fmt: str = "g"

    @property
    def text(self) -> str:
        return format_value(self.value, self.fmt)

    @property
    def v(self) -> str:
        # As the JSON has it: floats in repr (shortest round-trip), NaN/inf as null.
        if self.value is None:
            return "null"
        if isinstance(self.value, float) and not math.isfinite(self.value):
            return "null"
        return json.dumps(self.value)


Item = Any  # a str, a Num, or a Markup-free list of them


@dataclass
class Table:
    headers: list[str]
    rows: list[list[list[Item]]] = field(default_factory=list)
    numeric: set[int] = field(default_factory=set)  # right-aligned columns
    breaks: set[int] = field(default_factory=set)  # rows that start a new section
    caption: str = ""


@dataclass(frozen=True)
class Figure:
    svg: str
    title: str


def _figures(panels: list[Any], start: int) -> list[Figure]:
    from markupsafe import Markup

    from losscli.report.figures import svg_text

    return [
        Figure(Markup(svg_text(p, f"losscli-{start + i}")), p.title)  # noqa: S704 - our own SVG
        for i, p in enumerate(panels)
    ]


def _params(params: dict[str, Any]) -> str:
    return fmt_params({k: v for k, v in params.items() if k != "eps"})


def compute_table(report: Any, shown: ModelChoice | None = None) -> Table:
    """Losses down, models across; value and interval per cell; a section per group.

    ``shown``: the losses and models the page shows (:func:`~losscli.report.format.
    choose_models`; default all). With --group-by: the whole data first, then the groups
    :func:`~losscli.report.format.choose_groups` picks (all of them up to 20; beyond,
    those with the most rows), in :func:`~losscli.report.format.group_order`.
    """
    grouped = report.group_column is not None
    models = list(report.models) if shown is None else shown.models
    headers = ([report.group_column] if grouped else []) + ["loss", "params"] + models
    table = Table(headers)
    first_model = len(headers) - len(models)
    table.numeric = set(range(first_model, len(headers)))
    cells: dict[tuple[Any, str], dict[str, tuple[int, Any]]] = {}
    for i, r in enumerate(report.results):
        if shown is None or shown.shows(r.label, r.model):
            cells.setdefault((r.group, r.label), {})[r.model] = (i, r)
    choice = choose_groups(report, shown)
    if choice is not None:
        rank = {group: n for n, group in enumerate([None, *choice.shown])}
        kept = [key for key in cells if key[0] in rank]
        kept.sort(key=lambda key: rank[key[0]])  # stable: the losses keep their order
        cells = {key: cells[key] for key in kept}
    previous: Any = "\0"
    for (group, _label), by_model in cells.items():
        first = next(iter(by_model.values()))[1]
        row: list[list[Item]] = []
        if grouped:
            if group != previous and previous != "\0":
                table.breaks.add(len(table.rows))
            row.append([group_label(group)] if group != previous else [])
            previous = group
        row.append([first.loss + (" %" if first.percent else "")])
        row.append([_params(first.params)])
        fmt = "percent" if first.percent else "g"
        for model in models:
            if model not in by_model:
                row.append([])
                continue
            i, r = by_model[model]
            cell: list[Item] = [Num(r.value, "compute", pointer("results", i, "value"), fmt)]
            if report.ci_level is not None and r.ci_low is not None:
                cell += [
                    " [",
                    Num(r.ci_low, "compute", pointer("results", i, "ci_low"), fmt),
                    ", ",
                    Num(r.ci_high, "compute", pointer("results", i, "ci_high"), fmt),
                    "]",
                ]
            row.append(cell)
        table.rows.append(row)
    return table


def ranking_lines(report: Any, shown: ModelChoice | None = None) -> dict[str, str]:
    """Each loss's models from best to worst as the page says it: "a < b = c", models
    with equal values joined by "=", those without a value last (of ``shown``: the
    losses and models the page shows, default all)."""
    out: dict[str, str] = {}
    ranks: dict[str, dict[str, Any]] = {}
    for r in report.results:
        ranks.setdefault(r.label, {})[r.model] = r.rank
    for label, order in report.rankings.items():
        if shown is not None:
            if label not in shown.losses:
                continue
            order = [m for m in order if m in shown.models]
        rank = ranks.get(label, {})
        tiers: dict[int, list[str]] = {}
        for model in order:
            if rank.get(model) is not None:
                tiers.setdefault(rank[model], []).append(model)
        text = " < ".join(" = ".join(models) for _, models in sorted(tiers.items()))
        missing = [m for m in order if rank.get(m) is None]
        if missing:
            text = (text + "; " if text else "") + "no value: " + ", ".join(missing)
        out[label] = text
    return out


def compare_table(report: Any, shown: ModelChoice | None = None) -> Table:
    """One row per (loss, model): value, distribution, rank and the difference to the best
    (of ``shown``: the losses and models the page shows, default all)."""
    with_ci = report.ci_level is not None
    headers = ["loss", "model", "value", "median", "p95", "max", "worst 1% share", "rank"]
    headers += ["behind best"] + (["interval"] if with_ci else [])
    table = Table(headers, numeric=set(range(2, len(headers))))
    previous = None
    for i, r in enumerate(report.results):
        if shown is not None and not shown.shows(r.label, r.model):
            continue
        if previous is not None and r.label != previous:
            table.breaks.add(len(table.rows))
        fmt = "percent" if r.percent else "g"
        row: list[list[Item]] = [
            [r.label if r.label != previous else ""],
            [r.model],
            [Num(r.value, "compare", pointer("results", i, "value"), fmt)],
        ]
        for key in ("median", "p95", "max"):
            row.append([Num(getattr(r, key), "compare", pointer("results", i, key), fmt)])
        row.append(
            [Num(r.top1pct_share, "compare", pointer("results", i, "top1pct_share"), "percent")]
        )
        row.append([Num(r.rank, "compare", pointer("results", i, "rank"), "int")])
        row.append([Num(r.diff_to_best, "compare", pointer("results", i, "diff_to_best"), fmt)])
        if with_ci:
            if r.diff_ci_low is None:
                row.append(["-"])
            else:
                row.append(
                    [
                        "[",
                        Num(r.diff_ci_low, "compare", pointer("results", i, "diff_ci_low"), fmt),
                        ", ",
                        Num(r.diff_ci_high, "compare", pointer("results", i, "diff_ci_high"), fmt),
                        "]",
                    ]
                )
        table.rows.append(row)
        previous = r.label
    return table


def property_table(specs: list[Any]) -> Table:
    from losscli.report.catalogue import PROPERTY_NAMES

    headers = ["loss"] + [n.replace("_", " ") for n in PROPERTY_NAMES]
    table = Table(headers)
    for spec in specs:
        row: list[list[Item]] = [[spec.name]]
        for name in PROPERTY_NAMES:
            row.append(["yes" if getattr(spec.properties, name) else "no"])
        table.rows.append(row)
    return table


def sensitivity_table(report: Any, shown: ModelChoice | None = None) -> Table:
    headers = ["loss", "model", "value", "without flagged", "change", "flagged share"]
    headers += ["worst 1% share", "growth", "verdict"]
    table = Table(headers, numeric={2, 3, 4, 5, 6})
    previous = None
    for i, r in enumerate(report.results):
        if shown is not None and not shown.shows(r.label, r.model):
            continue
        if previous is not None and r.label != previous:
            table.breaks.add(len(table.rows))
        fmt = "percent" if r.percent else "g"
        src = "sensitivity"
        table.rows.append(
            [
                [r.label if r.label != previous else ""],
                [r.model],
                [Num(r.value, src, pointer("results", i, "value"), fmt)],
                [
                    Num(
                        r.value_without_outliers,
                        src,
                        pointer("results", i, "value_without_outliers"),
                        fmt,
                    )
                ],
                [Num(r.change_pct, src, pointer("results", i, "change_pct"), "pct")],
                [Num(r.outlier_share, src, pointer("results", i, "outlier_share"), "percent")],
                [Num(r.top1pct_share, src, pointer("results", i, "top1pct_share"), "percent")],
                [r.growth],
                [r.verdict],
            ]
        )
        previous = r.label
    return table


def injection_table(report: Any, shown: ModelChoice | None = None) -> Table:
    ks: list[float] = list(dict.fromkeys(i.k for i in report.injection))
    headers = ["loss", "model"] + [f"k = {k:g}" for k in ks]
    table = Table(headers, numeric=set(range(2, len(headers))))
    rows: dict[tuple[str, str], dict[float, tuple[int, Any]]] = {}
    for n, item in enumerate(report.injection):
        if shown is not None and not shown.shows(item.label, item.model):
            continue
        rows.setdefault((item.label, item.model), {})[item.k] = (n, item)
    for (label, model), by_k in rows.items():
        row: list[list[Item]] = [[label], [model]]
        for k in ks:
            if k not in by_k:
                row.append([])
                continue
            n, item = by_k[k]
            row.append(
                [Num(item.change_pct, "sensitivity", pointer("injection", n, "change_pct"), "pct")]
            )
        table.rows.append(row)
    return table


def outlier_rows(report: Any, shown: ModelChoice | None = None) -> list[dict[str, Any]]:
    out = []
    for o in report.outliers:
        if shown is not None and o.model not in shown.models:
            continue
        path = ("outliers_by_model", o.model)
        out.append(
            {
                "model": o.model,
                "rule": o.rule,
                "count": Num(o.count, "sensitivity", pointer(*path, "count"), "int"),
                "fraction": Num(o.fraction, "sensitivity", pointer(*path, "fraction"), "percent"),
                "threshold": Num(o.threshold, "sensitivity", pointer(*path, "threshold")),
                "rows": ", ".join(str(r) for r in o.rows[:20]) + (" ..." if o.count > 20 else ""),
            }
        )
    return out


def _evidence_items(value: Any, path: tuple[Any, ...]) -> list[Item]:
    """One evidence value as the page shows it: numbers as :class:`Num` (with their place
    in recommend's JSON), lists joined by commas (row numbers as plain text), dicts as
    ``key: value`` (a dict of dicts, such as the calibration figures per model, as
    ``key: (k: v, ...); ...``).

    Strings are shown as they are: the report was made safe for people once already
    (:func:`~losscli.report.console.for_people`), so a name holding ESC shows ``\\x1b``,
    not a JSON text of it (``\\\\x1b``).
    """
    if isinstance(value, bool):
        return ["yes" if value else "no"]
    if isinstance(value, (int, float)):
        fmt = "int" if isinstance(value, int) else "g"
        return [Num(value, "recommend", pointer(*path), fmt)]
    if value is None:
        return ["-"]
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            # row numbers: as the outlier table lists them (1234, not 1,234)
            return [", ".join(str(v) for v in value) or "-"]
        items: list[Item] = []
        for i, v in enumerate(value):
            items += ([", "] if i else []) + _evidence_items(v, (*path, i))
        return items or ["-"]
    if isinstance(value, dict):
        nested = any(isinstance(v, dict) for v in value.values())
        items = []
        for i, (k, v) in enumerate(value.items()):
            inner = _evidence_items(v, (*path, k))
            if isinstance(v, dict):
                inner = ["(", *inner, ")"]
            items += ([("; " if nested else ", ")] if i else []) + [f"{k}: ", *inner]
        return items or ["-"]
    return [str(value)]


def _evidence(evidence: dict[str, Any]) -> list[tuple[str, list[Item]]]:
    return [(key, _evidence_items(value, ("evidence", key))) for key, value in evidence.items()]


def recommend_view(report: Any, shown: ModelChoice | None = None) -> dict[str, Any]:
    """The recommendation as the page shows it; with ``shown`` (the losses and models the
    page shows), the first of the losses you chose and the shown models' calibration."""
    recs = []
    for i, rec in enumerate(report.recommendations):
        recs.append(
            {
                "loss": rec.loss,
                "params": fmt_params(rec.params),
                "score": Num(
                    rec.score, "recommend", pointer("recommendations", i, "score"), "score"
                ),
                "reasons": rec.reasons,
                "params_note": rec.params_note,
            }
        )
    planned = [
        {
            "loss": p.loss,
            "params": fmt_params(p.params),
            "score": Num(p.score, "recommend", pointer("planned", i, "score"), "score"),
            "verdict": p.verdict,
            "reasons": p.reasons,
        }
        for i, p in enumerate(report.planned)
    ]
    evidence = report.evidence
    if shown is not None:
        if shown.hidden_losses:
            planned = planned[: len(shown.losses)]
        if shown.hidden_models and isinstance(evidence.get("calibration"), dict):
            calibration = {m: f for m, f in evidence["calibration"].items() if m in shown.models}
            evidence = {**evidence, "calibration": calibration}
    return {
        "recommendations": recs,
        "avoid": report.avoid,
        "pitfalls": report.pitfalls,
        "contradictions": report.contradictions,
        "planned": planned,
        "evidence": _evidence(evidence),
        "thresholds": [(k, fmt_number(v)) for k, v in report.thresholds.items()],
        "fired": report.fired,
    }


# --------------------------------------------------------------------------- page


def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("losscli.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.tests["num"] = lambda x: isinstance(x, Num)
    return env


def groups_left_out(choice: GroupChoice | None) -> str:
    """What the page says when it shows some of the groups ('' when it shows all), before
    the command that gives them all."""
    if choice is None or not choice.hidden:
        return ""
    return (
        f"{choice.total:,} groups of {choice.column}: the table and the charts show the "
        f"{len(choice.shown)} with the most rows ({choice.rows_shown:,} of "
        f"{choice.rows_total:,} rows), so that the page stays small; the other "
        f"{choice.hidden:,} are in the output of"
    )


def all_groups_command(report: Any) -> str:
    """The command whose CSV holds every group's values (FILE: the report's input)."""
    from losscli.report.console import shell_word

    ci = f" --ci {report.ci_level:g}" if report.ci_level is not None else ""
    return f"loss compute FILE --group-by {shell_word(report.group_column or '')}{ci} --format csv"


#: The warnings the page lists (a warning per loss and model can be many); the others
#: are counted, and ``loss report`` prints them all on stderr.
MAX_SHOWN_WARNINGS = 20
#: The model names the page's header lists.
MAX_LISTED_MODELS = 50


def _models_part(shown: ModelChoice) -> str:
    n = len(shown.models)
    models = ("the model" if n == 1 else f"the {n} models") + " with the best average rank"
    if shown.hidden_models and shown.hidden_losses:
        return f"the first {len(shown.losses)} losses and {models} over them"
    if shown.hidden_models:
        return models
    return f"the first {len(shown.losses)} losses"


def _hidden_part(shown: ModelChoice) -> str:
    parts = []
    if shown.hidden_models:
        parts.append(plural(shown.hidden_models, "model"))
    if shown.hidden_losses:
        parts.append(plural(shown.hidden_losses, "loss"))
    return " and ".join(parts)


def models_left_out(shown: ModelChoice) -> str:
    """What the page says when its tables show some of the models or losses ('' when they
    show all), before the command that gives them all."""
    if not shown.hidden:
        return ""
    charts = ""
    if len(shown.charted) < len(shown.models):
        charts = f" (the data charts: the {len(shown.charted)} best of them)"
    return (
        f"{plural(shown.total_models, 'model')} and {plural(shown.total_losses, 'loss')}: "
        f"the tables show {_models_part(shown)}{charts}, so that the page stays small; the "
        f"other {_hidden_part(shown)} are in the output of"
    )


def shown_counts(shown: ModelChoice) -> str:
    """'3 of 12 models and 16 of 30 losses', or the one of them that is cut."""
    parts = []
    if shown.hidden_models:
        parts.append(f"{len(shown.models)} of {shown.total_models:,} models")
    if shown.hidden_losses:
        parts.append(f"{len(shown.losses)} of {shown.total_losses:,} losses")
    return " and ".join(parts)


def section_notes(
    data: Any, shown: ModelChoice, commands: dict[str, str]
) -> dict[str, tuple[str, str]]:
    """Per section that leaves out some models or losses (compare, sensitivity, charts,
    curves, recommend): what it shows, then the command that gives them all (its key in
    ``commands``; '' when there is none, as for --plot of several joined files)."""
    notes: dict[str, str] = {}
    if shown.hidden:
        counts = shown_counts(shown)
        notes["compare"] = f"This table shows {counts} (see Losses); every row is in the output of"
        notes["sensitivity"] = (
            f"These tables show {counts} (see Losses); every row is in the output of"
        )
    if len(shown.charted) < shown.total_models:
        per_model = [*data.charts.residuals, *data.charts.reliability, *data.charts.p_true]
        if per_model or data.charts.values:
            n = len(shown.charted)
            notes["charts"] = (
                f"The charts of each model show {n} of {shown.total_models:,}, those with the "
                f"best average rank"
            )
            if commands.get("charts"):
                notes["charts"] += "; every model's charts are drawn by"
    if shown.hidden_losses and data.curves is not None:
        curved = {c.label for c in data.curves.chart_curves}
        if curved - set(shown.losses):
            notes["curves"] = (
                f"The chart shows the curves of the first {len(shown.losses)} of "
                f"{shown.total_losses:,} losses; every curve is in the output of"
            )
    planned = shown.hidden_losses and len(data.recommend.planned) > len(shown.losses)
    calibration = shown.hidden_models and "calibration" in data.recommend.evidence
    if planned or calibration:
        parts = []
        if planned:
            parts.append(f"the first {len(shown.losses)} of the losses you chose")
        if calibration:
            parts.append(f"the calibration of {len(shown.models)} of {shown.total_models:,} models")
        notes["recommend"] = (
            f"This section shows {' and '.join(parts)}; all of them are in the output of"
        )
    return {key: (text, commands.get(key, "")) for key, text in notes.items()}


def _loss_text(curve: Any) -> str:
    """A curve's loss as --losses reads it: ``huber:delta=2``."""
    params = "".join(
        f":{k}={v!r}" if isinstance(v, float) else f":{k}={v}"
        for k, v in curve.params.items()
        if k != "eps"
    )
    return curve.loss + params


def default_commands(data: Any) -> dict[str, str]:
    """The commands that give what the page leaves out, with FILE for the report's input
    (``loss report`` passes the ones with its own input options)."""
    compute = data.compute
    ci = f" --ci {compute.ci_level:g}" if compute.ci_level is not None else ""
    plotted = "sensitivity" if data.sensitivity is not None else "compute"
    commands = {
        "compute": f"loss compute FILE{ci} --format csv",
        "compare": f"loss compare FILE{ci} --format csv",
        "sensitivity": "loss sensitivity FILE --format csv",
        "charts": f"loss {plotted} FILE --plot charts.png",
        "recommend": "loss recommend FILE --format json",
    }
    if compute.group_column is not None:
        commands["compute"] = all_groups_command(compute)
    commands["curves"] = curves_command(data)
    return commands


def curves_command(data: Any) -> str:
    """``loss compare --losses ... --format csv``: every curve of the page's losses."""
    from losscli.report.console import shell_word

    if data.curves is None:
        return ""
    texts = list(dict.fromkeys(_loss_text(c) for c in data.curves.chart_curves))
    return f"loss compare --losses {shell_word(','.join(texts))} --format csv"


def render_html(
    data: Any,
    *,
    command: str,
    created: str,
    version: str,
    groups_command: str | None = None,
    commands: dict[str, str] | None = None,
) -> str:
    """The report page of a :class:`losscli.analysis.report.ReportData`.

    ``groups_command``: how to get every group's values when the page shows some of
    them (default: ``loss compute FILE --group-by COL --ci LEVEL --format csv``). Beyond
    20 groups (fewer with many losses x models) the table and the per-group charts show
    those with the most rows, so the page's size does not grow with the groups.

    Likewise with many models or losses (:func:`~losscli.report.format.choose_models`):
    the tables show the first 16 losses and, of the models, at most 8 and 48 (loss,
    model) rows, those with the best average rank; the data charts the 4 best of them.
    Each section that leaves some out says so, with the command that gives them all
    (``commands``: compute, compare, sensitivity, charts, curves and recommend; default
    :func:`default_commands`).
    """
    from importlib.resources import files

    from losscli.report.compare import agreement_text
    from losscli.report.console import for_people, safe
    from losscli.report.figures import curve_panels, data_panels

    if groups_command is None and data.compute.group_column is not None:
        groups_command = all_groups_command(data.compute)
    commands = {**default_commands(data), **(commands or {})}
    if groups_command is not None:
        commands["compute"] = groups_command
    commands = {key: safe(value) for key, value in commands.items()}
    # User strings (source, columns, models, classes, groups, notes) as the terminal shows them.
    data = for_people(data)
    command = safe(command)
    compute = data.compute
    shown = choose_models(compute, data.compare)
    n = 0
    data_figures = _figures(data_panels(data.charts, shown), n)
    n += len(data_figures)
    curve_figures = (
        _figures(curve_panels(data.curves, shown.losses), n) if data.curves is not None else []
    )
    css = files("losscli.report").joinpath("templates/report.css").read_text(encoding="utf-8")
    warnings = list(dict.fromkeys(compute.warnings + data.compare.warnings))
    if data.sensitivity is not None:
        warnings += [w for w in data.sensitivity.warnings if w not in warnings]
    more_warnings = max(0, len(warnings) - MAX_SHOWN_WARNINGS)
    notes = list(dict.fromkeys(list(compute.notes) + list(data.notes)))
    top = data.recommend.top
    specs = None
    if data.curves is not None:
        names = {r.loss for r in compute.results if r.label in shown.losses}
        specs = [spec for spec in data.curves.specs if spec.name in names]
    models = compute.models[:MAX_LISTED_MODELS]
    if len(compute.models) > MAX_LISTED_MODELS:
        models = [*models, f"and {len(compute.models) - MAX_LISTED_MODELS:,} more"]
    sensitivity = data.sensitivity
    context = {
        "css": css,
        "source": compute.source,
        "task": compute.task,
        "task_reason": compute.task_reason,
        "n_rows": Num(compute.n_rows, "compute", pointer("n_rows"), "int"),
        "n_dropped": Num(compute.n_dropped, "compute", pointer("n_dropped"), "int"),
        "models": models,
        "classes": compute.classes,
        "created": created,
        "version": version,
        "command": command,
        "ci_level": compute.ci_level,
        "n_boot": compute.n_boot,
        "seed": data.compare.seed,
        "from_logits": compute.from_logits,
        "group_column": compute.group_column,
        "compute_table": compute_table(compute, shown),
        "groups_note": groups_left_out(choose_groups(compute, shown)),
        "groups_command": safe(groups_command or ""),
        "models_note": models_left_out(shown),
        "section_notes": section_notes(data, shown, commands),
        "commands": commands,
        "compare_table": compare_table(data.compare, shown),
        "rankings": ranking_lines(data.compare, shown),
        "agreement": agreement_text(data.compare) if len(compute.models) > 1 else "",
        "data_figures": data_figures,
        "curve_figures": curve_figures,
        "property_table": property_table(specs) if specs is not None else None,
        "sensitivity": sensitivity,
        "sensitivity_table": sensitivity_table(sensitivity, shown) if sensitivity else None,
        "injection_table": injection_table(sensitivity, shown) if sensitivity else None,
        "verdicts": (
            [r for r in sensitivity.results if shown.shows(r.label, r.model)] if sensitivity else []
        ),
        "outliers": outlier_rows(sensitivity, shown) if sensitivity else [],
        "recommend": recommend_view(data.recommend, shown),
        "top": top,
        "top_params": fmt_params(top.params) if top is not None else "",
        "warnings": warnings[:MAX_SHOWN_WARNINGS],
        "more_warnings": more_warnings,
        "notes": notes,
        "has_signed": any(r.signed for r in compute.results),
    }
    return str(_environment().get_template("report.html.j2").render(**context))
