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


def direction_text(spec: LossSpec) -> str:
    if spec.higher_is_better:
        return "higher is better (a score)"
    if spec.nominal:
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


def render_list(task: str | None, fmt: str) -> None:
    specs = all_losses()
    if task:
        try:
            wanted = Task(task.lower())
        except ValueError:
            names = ", ".join(t.value for t in Task)
            raise UsageError(f"unknown task {task!r} for --task; choose one of {names}") from None
        specs = [s for s in specs if wanted in s.tasks]
    console = make_console()
    rows = [list_row(s) for s in specs]
    if fmt in ("table", "markdown"):  # --custom docstrings are user text
        specs, rows = for_people((specs, rows))
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
    width = max(len(s.name) for s in specs) if specs else 4
    table.add_column("name", min_width=width, max_width=max(width, 24))
    table.add_column("task", no_wrap=True)
    table.add_column("summary", ratio=1)
    for spec in specs:
        name = Text(spec.name)
        if spec.aliases:
            # Whole aliases only (shortest first) that fit the column; `loss info` lists all.
            shown: list[str] = []
            for alias in sorted(spec.aliases, key=len):
                if len(", ".join([*shown, alias])) > 24:
                    break
                shown.append(alias)
            if shown:
                name.append("\n" + ", ".join(shown), style="dim")
        summary = Text(spec.summary)
        params = " ".join(f"{p.name}={_short(p.default)}" for p in spec.params if p.name != "eps")
        if params:
            summary.append(f" ({params})", style="dim")
        table.add_row(name, task_text(spec).replace(", ", "\n"), summary)
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


def render_info(spec: LossSpec, fmt: str) -> None:
    console = make_console()
    info = info_dict(spec)
    if fmt == "json":
        console.file.write(to_json(info) + "\n")
        return
    spec, info = for_people((spec, info))
    from rich import box
    from rich.table import Table
    from rich.text import Text

    console.print(Text(f"{spec.name} - {spec.summary}", style="bold"))
    table = Table(box=box.SIMPLE, show_header=False, pad_edge=False)
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value", ratio=1)
    table.add_row("task", task_text(spec))
    table.add_row(
        "direction",
        direction_text(spec)
        + ("; a figure to report, not a training loss" if spec.evaluation_only else ""),
    )
    if spec.aliases:
        table.add_row("aliases", ", ".join(spec.aliases))
    table.add_row("formula", spec.formula)
    table.add_row("reduction", _reduction_text(spec))
    if spec.percent:
        table.add_row("units", "a fraction; tables show it as %")
    table.add_row("domain", "; ".join(info["domain"]) or "any finite values")
    params = "; ".join(
        f"{p.name}={_short(p.default)}"
        + (f" ({p.requirement})" if p.requirement else "")
        + (f": {p.help}" if p.help else "")
        for p in spec.params
    )
    table.add_row("parameters", params or "none")
    yes = [k for k, v in info["properties"].items() if v]
    no = [k for k, v in info["properties"].items() if not v]
    shown = "yes: " + (", ".join(yes) or "none")
    if no:
        shown += "; no: " + ", ".join(no)
    table.add_row("properties", shown)
    if spec.advice:
        table.add_row("when to use", spec.advice)
    table.add_row("reference", spec.reference)
    if spec.conventions:
        table.add_row("conventions", spec.conventions)
    console.print(table)


def _reduction_text(spec: LossSpec) -> str:
    return {
        "mean": "weighted mean of per-sample losses, sum(w*l)/sum(w)",
        "sqrt_mean": "square root of the weighted mean",
        "median": "weighted median (averaged inverted CDF)",
        "max": "maximum over rows (weights ignored)",
        "sum": "sum of per-column means: sum(w*l), w = 1/n_real on d_real, 1/n_fake on d_fake",
    }.get(spec.reduction.value, spec.reduction.value)


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
