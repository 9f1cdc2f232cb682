"""Rendering the loss catalogue (``loss list``) and one loss in full (``loss info``)."""

from __future__ import annotations

from typing import Any

from losscli.core.registry import LossSpec, Task, all_losses
from losscli.errors import UsageError
from losscli.report.console import for_people, make_console
from losscli.report.format import fmt_number, rows_to_csv, rows_to_markdown, to_json

PROPERTY_NAMES = ("convex", "smooth", "robust", "probabilistic", "margin_based", "sparse")


def property_row(spec: LossSpec) -> dict[str, Any]:
    """The guide's property table row of one loss, from the registry."""
    props = spec.properties
    return {"loss": spec.name, **{name: bool(getattr(props, name)) for name in PROPERTY_NAMES}}


def _param_defaults(spec: LossSpec) -> dict[str, Any]:
    return {p.name: p.default for p in spec.params}


def task_text(spec: LossSpec) -> str:
    """'regression', or 'binary, multiclass' for figures that score several tasks."""
    return ", ".join(t.value for t in spec.tasks)


def direction_text(info: dict[str, Any]) -> str:
    """Which way a figure improves, from the object of ``loss info``."""
    if info["direction"] == "higher":
        return "higher is better (a score)"
    if info.get("nominal"):
        return "closer to the nominal level is better (not ranked; gate it both ways)"
    return "lower is better (a loss)"


def list_row(spec: LossSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "aliases": list(spec.aliases),
        "task": spec.task.value,
        "tasks": [t.value for t in spec.tasks],
        "direction": spec.direction.value,
        "params": _param_defaults(spec),
        "summary": spec.summary,
    }


def losses_for(task: str | None) -> list[LossSpec]:
    """Every loss, or those that score ``task`` (UsageError for an unknown task)."""
    specs = all_losses()
    if task:
        try:
            wanted = Task(task.lower())
        except ValueError:
            names = ", ".join(t.value for t in Task)
            raise UsageError(f"unknown task {task!r} for --task; choose one of {names}") from None
        specs = [s for s in specs if wanted in s.tasks]
    return specs


def render_list(rows: list[dict[str, Any]], fmt: str) -> None:
    """``loss list``: the rows of :func:`losscli.list_losses` as a table, JSON, CSV or markdown."""
    console = make_console()
    if fmt in ("table", "markdown"):  # --custom docstrings are user text
        rows = for_people(rows)
    if fmt == "json":
        console.file.write(to_json({"command": "list", "losses": rows}) + "\n")
        return
    if fmt in ("csv", "markdown"):
        flat = [
            {
                **r,
                "aliases": " ".join(r["aliases"]),
                "tasks": " ".join(r["tasks"]),
                "params": " ".join(f"{k}={_short(v)}" for k, v in r["params"].items()),
            }
            for r in rows
        ]
        console.file.write(rows_to_csv(flat) if fmt == "csv" else rows_to_markdown(flat))
        return
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, title="Loss catalogue", title_justify="left")
    # Names stay whole; aliases (dim, under the name) wrap between aliases.
    width = max(len(r["name"]) for r in rows) if rows else 4
    table.add_column("name", min_width=width, max_width=max(width, 24))
    table.add_column("task", no_wrap=True)
    table.add_column("summary", ratio=1)
    for row in rows:
        name = Text(row["name"])
        if row["aliases"]:
            # Whole aliases only (shortest first) that fit the column; `loss info` lists all.
            shown: list[str] = []
            for alias in sorted(row["aliases"], key=len):
                if len(", ".join([*shown, alias])) > 24:
                    break
                shown.append(alias)
            if shown:
                name.append("\n" + ", ".join(shown), style="dim")
        summary = Text(row["summary"])
        params = " ".join(f"{k}={_short(v)}" for k, v in row["params"].items() if k != "eps")
        if params:
            summary.append(f" ({params})", style="dim")
        table.add_row(name, "\n".join(row["tasks"]), summary)
    console.print(table)
    console.print(
        "`loss info NAME` shows formula, domain, properties and conventions.", style="dim"
    )


def _short(value: Any) -> str:
    if isinstance(value, float):
        return fmt_number(value, digits=3) if (value and abs(value) < 1e-4) else f"{value:g}"
    return str(value)


def info_dict(spec: LossSpec) -> dict[str, Any]:
    domain = [
        f"{r.target} {r.requirement}" + (" (not with --from-logits)" if r.skip_with_logits else "")
        for r in spec.domain
    ]
    return {
        "command": "info",
        "name": spec.name,
        "aliases": list(spec.aliases),
        "task": spec.task.value,
        "tasks": [t.value for t in spec.tasks],
        "direction": spec.direction.value,
        "evaluation_only": spec.evaluation_only,
        "percent": spec.percent,
        "nominal": bool(spec.nominal),
        "summary": spec.summary,
        "formula": spec.formula,
        "reduction": spec.reduction.value,
        "domain": domain,
        "params": [
            {"name": p.name, "default": p.default, "requirement": p.requirement, "help": p.help}
            for p in spec.params
        ],
        "properties": {k: v for k, v in property_row(spec).items() if k != "loss"},
        "advice": spec.advice,
        "reference": spec.reference,
        "conventions": spec.conventions,
    }


def render_info(info: dict[str, Any], fmt: str) -> None:
    """``loss info``: the object of :func:`losscli.loss_info` as a table or JSON."""
    console = make_console()
    if fmt == "json":
        console.file.write(to_json(info) + "\n")
        return
    info = for_people(info)
    from rich import box
    from rich.table import Table
    from rich.text import Text

    console.print(Text(f"{info['name']} - {info['summary']}", style="bold"))
    table = Table(box=box.SIMPLE, show_header=False, pad_edge=False)
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value", ratio=1)
    table.add_row("task", ", ".join(info["tasks"]))
    table.add_row(
        "direction",
        direction_text(info)
        + ("; a figure to report, not a training loss" if info["evaluation_only"] else ""),
    )
    if info["aliases"]:
        table.add_row("aliases", ", ".join(info["aliases"]))
    table.add_row("formula", info["formula"])
    table.add_row("reduction", REDUCTION_TEXT.get(info["reduction"], info["reduction"]))
    if info["percent"]:
        table.add_row("units", "a fraction; tables show it as %")
    table.add_row("domain", "; ".join(info["domain"]) or "any finite values")
    params = "; ".join(
        f"{p['name']}={_short(p['default'])}"
        + (f" ({p['requirement']})" if p["requirement"] else "")
        + (f": {p['help']}" if p["help"] else "")
        for p in info["params"]
    )
    table.add_row("parameters", params or "none")
    yes = [k for k, v in info["properties"].items() if v]
    no = [k for k, v in info["properties"].items() if not v]
    shown = "yes: " + (", ".join(yes) or "none")
    if no:
        shown += "; no: " + ", ".join(no)
    table.add_row("properties", shown)
    if info["advice"]:
        table.add_row("when to use", info["advice"])
    table.add_row("reference", info["reference"])
    if info["conventions"]:
        table.add_row("conventions", info["conventions"])
    console.print(table)


REDUCTION_TEXT = {
    "mean": "weighted mean of per-sample losses, sum(w*l)/sum(w)",
    "sqrt_mean": "square root of the weighted mean",
    "median": "weighted median (averaged inverted CDF)",
    "max": "maximum over rows (weights ignored)",
    "sum": "sum of per-column means: sum(w*l), w = 1/n_real on d_real, 1/n_fake on d_fake",
}


README_BEGIN = "<!-- loss-table:begin (generated by `python -m losscli.report.catalogue`) -->"
README_END = "<!-- loss-table:end -->"


def readme_table() -> str:
    """The README's loss table, generated from the registry (a test keeps it current)."""
    lines = [
        "| loss | aliases | task | parameters | summary |",
        "|---|---|---|---|---|",
    ]
    for spec in all_losses():
        params = ", ".join(f"{p.name}={_short(p.default)}" for p in spec.params)
        aliases = ", ".join(spec.aliases)
        lines.append(
            f"| `{spec.name}` | {aliases} | {task_text(spec)} | {params} | "
            f"{spec.summary.replace('|', '/')} |"
        )
    return "\n".join([README_BEGIN, *lines, README_END])


if __name__ == "__main__":
    print(readme_table())
