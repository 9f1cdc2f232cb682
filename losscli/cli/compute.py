"""``loss compute FILE``: the selected losses for every model."""

from __future__ import annotations

from typing import Any

import click

from losscli.cli.options import (
    bootstrap_options,
    format_option,
    input_from_kwargs,
    input_options,
    loss_options,
)
from losscli.report.per_sample import write_per_sample  # noqa: F401 - tests patch it here


def compute_streaming(
    path: str, opts: Any, selections_for: Any, show_progress: bool = False
) -> Any:
    """The compute report of a file read in chunks (large files) or whole (small ones).

    Both go through the same streaming engine; a whole file is one chunk.
    """
    from losscli.analysis.streaming import compute_chunks
    from losscli.io.source import open_source
    from losscli.io.stream import ValueSpool
    from losscli.report.console import progress_bar

    with progress_bar(show_progress) as bar:
        started = False

        def on_progress(done: int) -> None:
            nonlocal started
            assert bar is not None
            if not started:  # only inputs read in several chunks show a bar
                bar.start(source.total_bytes)
                started = True
            bar.update(done)

        source = open_source(path, opts, progress=on_progress if bar else None)
        spool = ValueSpool()
        try:
            return compute_chunks(source.batches(), selections_for, spool, reread=source.batches)
        finally:
            spool.close()
            source.close()


@click.command("compute")
@click.argument("file", metavar="FILE")
@input_options
@loss_options
@format_option
@bootstrap_options(
    ci_help="Add bootstrap percentile confidence intervals at this level, e.g. 0.95."
)
@click.option("--group-by", metavar="COL", help="Also compute every loss per value of this column.")
@click.option(
    "--per-sample",
    metavar="PATH",
    help="Write per-row losses as CSV to PATH (- for stdout; the table then goes to stderr).",
)
@click.option(
    "--fail-above",
    multiple=True,
    metavar="NAME=VALUE",
    help=(
        "Quality gate: exit 3 when loss NAME exceeds VALUE for any model (repeatable). "
        "A NaN value fails; mbe is gated on |mbe|; mape=5% reads the bound in %. "
        "For losses (lower is better); scores take --fail-below."
    ),
)
@click.option(
    "--fail-below",
    multiple=True,
    metavar="NAME=VALUE",
    help=(
        "Quality gate for scores (higher is better): exit 3 when NAME is below VALUE "
        "for any model (repeatable), e.g. --fail-below r2=0.8. A NaN value fails."
    ),
)
def compute(
    file: str,
    losses: tuple[str, ...],
    fmt: str,
    ci: float | None,
    n_boot: int,
    seed: int,
    group_by: str | None,
    per_sample: str | None,
    fail_above: tuple[str, ...],
    fail_below: tuple[str, ...],
    **kwargs: Any,
) -> None:
    """Compute the selected losses for every model in FILE.

    \b
    Examples:
      loss compute preds.csv
      loss compute preds.csv -l mse,mae,huber:delta=2 --pred-col a --pred-col b
      loss compute preds.csv --ci 0.95 --group-by segment --format json
      loss compute preds.csv --fail-above mae=0.5     # exit 3 when MAE > 0.5
      loss compute preds.csv --fail-below r2=0.8      # exit 3 when R^2 < 0.8

    Per-sample values (--per-sample) are the terms the reduction averages:
    squared errors for rmse/rmsle, |e| for median_ae and max_error.

    Large files are read in chunks with bounded memory and the same results
    (median_ae stays exact); --ci and --per-sample read the whole file.
    """
    from losscli.analysis.compute import compute as run_compute
    from losscli.analysis.gates import gate_failures, parse_gates
    from losscli.cli.common import (
        choose_losses,
        ignored_without_ci,
        note,
        same_file,
        warn,
        write_atomically,
    )
    from losscli.core.registry import LossSelection, get_loss, select_losses
    from losscli.errors import GateFailed, UsageError
    from losscli.io import load_dataset
    from losscli.report.compute import render
    from losscli.report.console import make_console

    gates = parse_gates(fail_above) + parse_gates(fail_below, below=True)
    warn(ignored_without_ci(ci))
    if per_sample and per_sample != "-" and file != "-" and same_file(per_sample, file):
        raise UsageError("--per-sample would overwrite the input file; choose another path")
    opts = input_from_kwargs(kwargs, group_by)
    # Parse --losses before reading the file so typos fail fast (exit 2).
    from losscli.core.registry import Task

    if losses:
        select_losses(list(losses), Task.REGRESSION)

    def selections_for(data: Any) -> list[Any]:
        chosen = choose_losses(losses, data)
        for gate in gates:
            if all(s.name != gate.loss for s in chosen):
                spec = get_loss(gate.loss)
                chosen.append(LossSelection(spec, spec.resolve_params({})))
        return chosen

    if ci is not None or per_sample:
        # Bootstrap resampling and per-row output need every row in memory.
        dataset = load_dataset(file, opts)
        selections = selections_for(dataset)
        report, items = run_compute(dataset, selections, ci_level=ci, n_boot=n_boot, seed=seed)
    else:
        report = compute_streaming(file, opts, selections_for, show_progress=fmt == "table")
    if per_sample:
        write_atomically(per_sample, lambda h: write_per_sample(h, dataset, items))
    console = make_console(stderr=per_sample == "-")
    for line in report.notes:
        note(f"Note: {line}")
    render(report, fmt.lower(), console)
    warn(report.warnings)

    failed = gate_failures(report.results, gates)
    if failed:
        raise GateFailed("quality gate failed: " + "; ".join(failed))
