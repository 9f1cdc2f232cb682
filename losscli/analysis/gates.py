"""``--fail-above NAME=VALUE`` / ``--fail-below NAME=VALUE``: quality gates for CI.

A ``--fail-above`` gate fails when the loss's value for any model (on the
whole file; group values are not gated) exceeds the bound; a ``--fail-below``
gate when a score's value falls below it (``--fail-below r2=0.8``). Each
figure's direction in the registry decides which gate makes sense: a bound
above for losses (lower is better), below for scores (higher is better); the
other way round is a usage error that names the right option. Rules a careful
user would expect:

- a value that is not a number (NaN, e.g. no row left to average) fails: the
  gate cannot vouch for it;
- signed losses (mbe) are gated on their absolute value, since a bias of
  -0.3 is as far from 0 as +0.3;
- a bound written with % (``mape=5%``) is read in the units the table shows
  (percent); without % it is the raw value (a fraction for mape/smape).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from losscli.analysis.results import LossResult
from losscli.core.registry import get_loss
from losscli.errors import UsageError


@dataclass(frozen=True)
class Gate:
    """One --fail-above bound."""

    loss: str  # canonical loss name
    bound: float  # in the loss's raw units (fractions for percent losses)
    shown: str  # the bound as the user wrote it
    below: bool = False  # --fail-below: fails when the value is under the bound


def parse_gates(raw: Sequence[str], *, below: bool = False) -> list[Gate]:
    """``("mse=0.5", "mape=5%")`` -> gates; names resolved through the registry.

    ``below`` parses ``--fail-below`` bounds, which only scores accept.
    """
    option = "--fail-below" if below else "--fail-above"
    example = "r2=0.8" if below else "mse=0.5"
    gates = []
    for item in raw:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise UsageError(f"{option} expects NAME=VALUE, e.g. {example} (got {item!r})")
        spec = get_loss(name)
        text = value.strip()
        percent = text.endswith("%")
        try:
            bound = float(text[:-1] if percent else text)
        except ValueError:
            raise UsageError(f"{option} {item}: {text!r} is not a number") from None
        if not math.isfinite(bound):
            raise UsageError(f"{option} {item}: the bound must be a finite number")
        if percent and not spec.percent:
            raise UsageError(
                f"{option} {item}: {spec.name} is not a percentage; write the bound without %"
            )
        if spec.higher_is_better and not below:
            raise UsageError(
                f"--fail-above {item}: {spec.name} is a score (higher is better); "
                f"use --fail-below {spec.name}={text} to fail when it is too low"
            )
        # coverage (nominal is best): too low and too high are both failures.
        if below and not spec.higher_is_better and not spec.nominal:
            raise UsageError(
                f"--fail-below {item}: {spec.name} is a loss (lower is better); "
                f"use --fail-above {spec.name}={text} to fail when it is too high"
            )
        gates.append(Gate(spec.name, bound / 100.0 if percent else bound, text, below))
    return gates


def gate_failures(results: Sequence[LossResult], gates: Sequence[Gate]) -> list[str]:
    """One message per (gate, model) that fails, naming the loss, value and bound."""
    failed = []
    for gate in gates:
        for r in results:
            if r.loss != gate.loss or r.group is not None:
                continue
            value = abs(r.value) if r.signed else r.value
            if math.isnan(value):
                failed.append(f"{r.label} is not a number (model {r.model}), bound {gate.shown}")
            elif (value < gate.bound) if gate.below else (value > gate.bound):
                # The value in the units the bound was written in (% only when it was).
                shown = f"{100 * value:.6g}%" if gate.shown.endswith("%") else f"{value:.6g}"
                what = f"|{r.label}|" if r.signed else r.label
                sign = "<" if gate.below else ">"
                failed.append(f"{what} = {shown} {sign} {gate.shown} (model {r.model})")
    return failed
