"""Rendering the ``loss recommend`` report: the top choice and why first, then the details."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from losscli.analysis.recommend import Reason, RecommendReport
from losscli.analysis.rules import EVIDENCE_HALF_ROWS
from losscli.report.format import (
    fmt_number,
    fmt_params,
    plural,
    write_report,
)

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.text import Text

#: the rules that only name the task; the top panel leaves them out when others fired.
TASK_RULES = ("R-REG", "R-BIN", "R-MULTI")

#: how a reason's rule id reads in the table's rules column, by its effect.
RULE_MARKS = {"for": "{}", "against": "-{}", "overruled": "({})"}

COLUMNS = ("kind", "rank", "loss", "params", "score", "verdict", "rules", "text")

#: Below this console width the two-column layouts (rule | reason, loss | why)
#: would leave the text a column narrower than its words, folding them mid-word:
#: each row is stacked instead, its name on one line and its text below,
#: indented, wrapped at spaces (only a word longer than the line is folded).
NARROW = 60

EVIDENCE_LABELS = {
    "model": "model profiled",
    "n_rows": "rows",
    "outlier_fraction": "outliers",
    "residual_scale": "robust sigma of residuals",
    "excess_kurtosis": "excess kurtosis",
    "skew": "skew",
    "target_std": "std of y_true",
    "n_zero_targets": "zeros in y_true",
    "n_negative_targets": "negatives in y_true",
    "minority_fraction": "smallest class",
    "imbalance_ratio": "smallest / largest class",
    "predictions": "predictions",
    "n_pred_outside_01": "values outside [0, 1]",
    "n_pred_exact_01": "values exactly 0 or 1",
    "evidence_strength": "evidence strength",
    "n_true_class_zero": "true class given 0",
    "n_rows_not_summing_to_1": "rows not summing to 1",
    "form": "given as",
    "calibration": "ece (log loss, brier)",
}


def rows(report: RecommendReport) -> list[dict[str, Any]]:
    """The long/tidy rows of csv and markdown: one per recommendation, avoid, pitfall..."""
    out: list[dict[str, Any]] = []
    for rank, rec in enumerate(report.recommendations, start=1):
        out.append(
            {
                "kind": "recommend",
                "rank": rank,
                "loss": rec.loss,
                "params": rec.params,
                "score": rec.score,
                "rules": " ".join(dict.fromkeys(r.rule for r in rec.reasons)),
                "text": "; ".join(r.text for r in rec.reasons if r.effect == "for"),
            }
        )
    for item in report.avoid:
        out.append(
            {
                "kind": "avoid",
                "loss": item.loss,
                "rules": " ".join(dict.fromkeys(r.rule for r in item.reasons)),
                "text": "; ".join(r.text for r in item.reasons),
            }
        )
    for planned in report.planned:
        out.append(
            {
                "kind": "planned",
                "loss": planned.loss,
                "params": planned.params,
                "score": planned.score,
                "verdict": planned.verdict,
                "rules": " ".join(dict.fromkeys(r.rule for r in planned.reasons)),
            }
        )
    for pitfall in report.pitfalls:
        out.append({"kind": "pitfall", "rules": pitfall.id, "text": pitfall.message})
    for c in report.contradictions:
        out.append({"kind": "contradiction", "loss": c.flag, "verdict": c.winner, "text": c.text})
    return out


def _evidence_value(key: str, value: Any, evidence: dict[str, Any]) -> str:
    if key == "outlier_fraction":
        return (
            f"{100 * value:.1f}% ({plural(int(evidence.get('outlier_count', 0)), 'row')} with "
            f"|robust z| > "
            f"{evidence.get('outlier_threshold', 3.5):g})"
        )
    if key == "evidence_strength":
        return f"{value:.2f} of full (n / (n + {EVIDENCE_HALF_ROWS}))"
    if key == "calibration":
        return "; ".join(
            f"{model} {fmt_number(f.get('ece'))} ({fmt_number(f.get('log_loss'))}, "
            f"{fmt_number(f.get('brier'))})"
            for model, f in value.items()
        )
    if key == "minority_fraction":
        return f"{evidence.get('minority_class')}: {100 * value:.1f}%"
    if isinstance(value, float):
        return fmt_number(value)
    return str(value)


def fmt_score(score: float) -> str:
    """A score as every view of the table prints it (panel, ranking, your losses)."""
    return f"{score:.3f}"


def _quote_line(reason: Reason) -> str:
    if not reason.quotes:
        return ""
    q = reason.quotes[0]
    return f'"{q.text}" (guide, {q.seed[:3]})'


def _name_and_text(
    console: Console, rows: list[tuple[Text, Text]], name_style: str = ""
) -> RenderableType:
    """Rows of (name, text): two columns, or stacked on a narrow console (see NARROW)."""
    from rich.console import Group
    from rich.padding import Padding
    from rich.table import Table

    if console.width >= NARROW:
        grid = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1))
        grid.add_column(no_wrap=True, style=name_style)
        grid.add_column(overflow="fold")
        for name, text in rows:
            grid.add_row(name, text)
        return grid
    stacked: list[RenderableType] = []
    for name, text in rows:
        name.stylize(name_style)
        stacked += [name, Padding(text, (0, 0, 0, 2))]
    return Group(*stacked)


def render_table(report: RecommendReport, console: Console) -> None:
    from rich import box
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    narrow = console.width < NARROW
    where = report.source or (f"flags {' '.join(report.flags)}" if report.flags else "")
    heading = f"Recommendation for {report.task}" + (f" ({where})" if where else "")
    console.print(Text(heading, style="bold"))
    top = report.top
    if top is None:
        console.print("No loss is backed by the rules for these inputs.")
    else:
        reasons: list[tuple[Text, Text]] = []
        shown = [r for r in top.reasons if r.effect == "for"]
        specific = [r for r in shown if r.rule not in TASK_RULES]
        for reason in specific or shown:
            cell = Text(reason.text)
            quote = _quote_line(reason)
            if quote:
                cell.append("\n" + quote, style="dim italic")
            reasons.append((Text(reason.rule), cell))
        if top.params_note:
            reasons.append((Text("params"), Text(top.params_note)))
        params = fmt_params(top.params)
        title = (
            f"use {top.loss}"
            + (f" ({params})" if params else "")
            + f" · score {fmt_score(top.score)}"
        )
        body = _name_and_text(console, reasons, name_style="bold")
        if narrow:  # a panel's borders and title would take what little width there is
            console.print(Text(title, style="bold"))
            console.print(body)
        else:
            console.print(Panel(body, title=Text(title), title_align="left"))

    if report.recommendations:
        ranked = [
            (
                rank,
                rec.loss,
                fmt_params(rec.params),
                fmt_score(rec.score),
                " ".join(RULE_MARKS[r.effect].format(r.rule) for r in rec.reasons),
            )
            for rank, rec in enumerate(report.recommendations, start=1)
        ]
        if narrow:
            console.print(Text("Ranking", style="bold"))
            console.print(
                _name_and_text(
                    console,
                    [
                        (
                            Text(f"{rank} {loss}" + (f" ({params})" if params else "")),
                            Text(f"score {score}, rules {rules}"),
                        )
                        for rank, loss, params, score, rules in ranked
                    ],
                )
            )
        else:
            table = Table(box=box.SIMPLE_HEAD, pad_edge=False, title_justify="left")
            table.add_column("#", justify="right")
            table.add_column("loss", no_wrap=True)
            table.add_column("params", overflow="fold")
            table.add_column("score", justify="right")
            table.add_column("rules", overflow="fold")
            for rank, loss, params, score, rules in ranked:
                table.add_row(str(rank), loss, params, score, rules)
            console.print(table)

    def section(title: str, items: list[tuple[str, str, str]]) -> None:
        if not items:
            return
        console.print(Text(title, style="bold"))
        rows = []
        for name, text, quote in items:
            cell = Text(text)
            if quote:
                cell.append("\n" + quote, style="dim italic")
            rows.append((Text(name), cell))
        console.print(_name_and_text(console, rows))

    # Losses avoided for the same reasons share one entry (mse, rmse).
    grouped: dict[tuple[str, ...], list[str]] = {}
    texts: dict[tuple[str, ...], tuple[str, str]] = {}
    for a in report.avoid:
        key = tuple(f"{r.rule}: {r.text}" for r in a.reasons)
        grouped.setdefault(key, []).append(a.loss)
        texts[key] = ("; ".join(key), _quote_line(a.reasons[0]) if a.reasons else "")
    section("Avoid", [(", ".join(names), *texts[key]) for key, names in grouped.items()])
    section(
        "Your losses",
        [
            (
                p.loss,
                f"{p.verdict}, score {fmt_score(p.score)}"
                + (
                    " (" + ", ".join(dict.fromkeys(r.rule for r in p.reasons)) + ")"
                    if p.reasons
                    else ""
                ),
                "",
            )
            for p in report.planned
        ],
    )
    section(
        "Pitfalls",
        [
            (
                p.id,
                p.message,
                f'"{p.quotes[0].text}" (guide, {p.quotes[0].seed[:3]})' if p.quotes else "",
            )
            for p in report.pitfalls
        ],
    )
    # Each contradiction's text says who wins (the evidence or the flag), once.
    section(
        "Contradictions", [(c.flag, f"{c.evidence}: {c.text}", "") for c in report.contradictions]
    )
    if report.evidence:
        figures = [
            (EVIDENCE_LABELS[k], _evidence_value(k, v, report.evidence))
            for k, v in report.evidence.items()
            if k in EVIDENCE_LABELS
        ]
        section("Evidence", [(label, value, "") for label, value in figures])
    caption = [f"task {report.task} ({report.task_reason})"] if report.task_reason else []
    if "n_rows" in report.evidence:  # a file was read: its rows, as compute's footer says
        caption.append(
            f"{plural(report.evidence['n_rows'], 'row')} used, "
            f"{report.evidence.get('n_dropped', 0):,} dropped"
        )
    if caption:
        console.print(Text(" · ".join(caption), style="dim"))
    footer = "scores 0-1, higher is better"
    if report.evidence:
        footer += "; the file's measurements back a loss times the evidence strength"
    console.print(Text(footer + "; thresholds: loss recommend --help", style="dim"))
    if any(r.effect == "overruled" for rec in report.recommendations for r in rec.reasons):
        console.print(
            Text(
                "(RULE): backing overruled, as a rule fired by your flags is against that loss",
                style="dim",
            )
        )


def csv_table(report: RecommendReport) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows and columns of csv/markdown output (and of ``to_pandas()``)."""
    return rows(report), list(COLUMNS)


def render(report: RecommendReport, fmt: str, console: Console) -> None:
    """Print the report in the chosen format (table for people; json/csv/markdown for scripts)."""
    write_report(
        report,
        fmt,
        console,
        payload=lambda r: r.as_dict(),
        csv_table=csv_table,
        table=lambda people: render_table(people, console),
    )
