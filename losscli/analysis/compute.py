"""``loss compute``: every selected loss for every model, optionally per group and with CIs.

Data in memory go through the same engine as a streamed file
(:class:`~losscli.analysis.streaming.StreamingCompute`), fed as one chunk, so
both print the same numbers and the same bootstrap draws.
"""

from __future__ import annotations

from losscli.analysis.evaluate import PerSample
from losscli.analysis.results import ComputeReport
from losscli.core.dataset import Dataset
from losscli.core.registry import LossSelection


def compute(
    dataset: Dataset,
    selections: list[LossSelection],
    *,
    ci_level: float | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    command: str = "compute",
) -> tuple[ComputeReport, list[PerSample]]:
    """The compute report and the per-sample losses behind it (``command``: whose
    options an error's advice names)."""
    from losscli.analysis.streaming import StreamingCompute

    kept: list[list[PerSample]] = []
    engine = StreamingCompute(
        selections,
        ci_level=ci_level,
        n_boot=n_boot,
        seed=seed,
        on_items=lambda _chunk, items: kept.append(items),
        command=command,
    )
    engine.add(dataset)
    return engine.finish(), kept[0]
