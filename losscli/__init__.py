"""losscli: compute, compare and choose loss functions from a file of predictions.

The same results as the ``loss`` command, from Python::

    import losscli as lc

    result = lc.compute(df, y_pred=["model_a", "model_b"], losses="mse,mae")
    result.value("mse", model="model_a")
    lc.losses.huber(y_true, y_pred, delta=2.0)

Everything is imported on first use (numpy, pyarrow, pandas and rich load
only when a function needs them), so ``import losscli`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it (imported on first access)
_LAZY: dict[str, str] = {
    "compute": "losscli.api",
    "compare": "losscli.api",
    "sensitivity": "losscli.api",
    "recommend": "losscli.api",
    "explain": "losscli.api",
    "compare_losses": "losscli.api",
    "list_losses": "losscli.api",
    "loss_info": "losscli.api",
    "losses": "losscli.api",
    "Accumulator": "losscli.api",
    "report_data": "losscli.api",
    "data_charts": "losscli.api",
    "ComputeResult": "losscli.results",
    "CompareResult": "losscli.results",
    "CurvesResult": "losscli.results",
    "SensitivityResult": "losscli.results",
    "RecommendResult": "losscli.results",
    "ExplainResult": "losscli.results",
    "InputError": "losscli.errors",
    "UsageError": "losscli.errors",
    "LossWarning": "losscli.errors",
}

__all__ = sorted(_LAZY) + ["__version__"]

if TYPE_CHECKING:  # what type checkers see; at run time __getattr__ imports lazily
    from losscli.api import (
        Accumulator as Accumulator,
    )
    from losscli.api import (
        compare as compare,
    )
    from losscli.api import (
        compare_losses as compare_losses,
    )
    from losscli.api import (
        compute as compute,
    )
    from losscli.api import (
        explain as explain,
    )
    from losscli.api import (
        list_losses as list_losses,
    )
    from losscli.api import (
        loss_info as loss_info,
    )
    from losscli.api import (
        losses as losses,
    )
    from losscli.api import (
        recommend as recommend,
    )
    from losscli.api import (
        sensitivity as sensitivity,
    )
    from losscli.errors import InputError as InputError
    from losscli.errors import LossWarning as LossWarning
    from losscli.errors import UsageError as UsageError
    from losscli.results import CompareResult as CompareResult
    from losscli.results import ComputeResult as ComputeResult
    from losscli.results import CurvesResult as CurvesResult
    from losscli.results import ExplainResult as ExplainResult
    from losscli.results import RecommendResult as RecommendResult
    from losscli.results import SensitivityResult as SensitivityResult


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'losscli' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
