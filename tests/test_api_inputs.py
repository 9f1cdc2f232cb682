"""The input arguments every data function of the API shares, declared once.

``losscli.api._InputArguments`` captures them from each function's own
arguments (``locals()``): the functions must keep spelling them the same way,
with the same defaults, and the CLI's copies of the task tables must equal the
API's.
"""

from __future__ import annotations

import dataclasses
import inspect

import pytest

import losscli.api as api
from losscli.analysis import recommend as recommend_rules
from losscli.cli import options
from losscli.cli import recommend as recommend_cli

DATA_FUNCTIONS = [
    api.compute,
    api.compare,
    api.sensitivity,
    api.recommend,
    api.data_charts,
    api.report_data,
]
SHARED = [f.name for f in dataclasses.fields(api._InputArguments) if f.name != "group_by"]


@pytest.mark.parametrize("function", DATA_FUNCTIONS, ids=lambda f: f.__name__)
def test_every_data_function_takes_the_shared_input_arguments(function):
    parameters = inspect.signature(function).parameters
    reference = inspect.signature(api.compute).parameters
    for name in SHARED:
        assert name in parameters, f"{function.__name__} lacks {name}"
        assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY
        if name != "task":  # recommend's task defaults to None: the flags may imply it
            assert parameters[name].default == reference[name].default, name
            assert parameters[name].annotation == reference[name].annotation, name


def test_the_captured_arguments_are_the_ones_given():
    seen = api._InputArguments.of(
        {"y_true": "t", "y_pred": ["a", "b"], "weights": "w", "task": "Regression",
         "from_logits": 0, "nan": "DROP", "pred_prefix": ["p_", "q_"], "true_prefix": "s_",
         "pos_label": 1.0, "delimiter": ";", "encoding": "latin-1",
         "interval_cols": "lo,hi", "interval_level": 0.8, "other": 3}
    )  # fmt: skip
    assert seen.group_by is None
    opts = seen.options()
    assert (opts.true_col, opts.pred_cols, opts.weight_col) == ("t", ("a", "b"), "w")
    assert (opts.task, opts.nan, opts.from_logits) == ("regression", "drop", False)
    assert (opts.pred_prefix, opts.pred_prefixes) == ("p_", ("p_", "q_"))
    assert (opts.pos_label, opts.delimiter, opts.encoding) == ("1", ";", "latin-1")
    assert (opts.interval_cols, opts.interval_level) == (("lo", "hi"), 0.8)
    assert seen.options(task="binary").task == "binary"
    with pytest.raises(TypeError):  # a function that lost one of them fails loudly
        api._InputArguments.of({"y_true": "t"})


def test_cli_task_tables_equal_the_api_ones():
    assert options.TASKS == api.TASKS
    assert recommend_cli.RECOMMEND_TASKS == api.RECOMMEND_TASKS == recommend_rules.TASKS
