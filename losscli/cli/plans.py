"""Running a command's plan on a FILE: the input source, the engine, a progress bar."""

from __future__ import annotations

from typing import Any


def run_on_file(plan: Any, path: str, opts: Any, show_progress: bool = False) -> Any:
    """The report of ``plan`` over the input at ``path`` (stdin: ``-``), in passes.

    The bar shows the first pass of inputs read in several chunks; further
    passes (exact quantiles that needed one) are quick by comparison.
    """
    from losscli.engines.local import run_plan
    from losscli.io.source import open_source
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
        try:
            return run_plan(plan, source)
        finally:
            source.close()
