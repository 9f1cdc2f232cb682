"""Every `$ loss ...` example of the README, run both ways: the command and the Python API.

The command's `--format json` object must equal the API result's `to_dict()`
(an example that ends in an error must raise the same message from the API).
The API call is built from the command line's parsed options, mapped by the
names the README's "From Python" section documents.
"""

from __future__ import annotations

import json
import re
import shlex
import warnings

import pytest
from click.testing import CliRunner
from conftest import ROOT

import losscli as lc
from losscli.cli import cli
from losscli.errors import LossCliError

COMMAND = re.compile(r"^\$ (loss .*?)$", re.M)


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = []
    for block in re.findall(r"```\n(.*?)```", text, re.S):
        lines = block.split("\n")
        for i, line in enumerate(lines):
            if not line.startswith("$ loss "):
                continue
            command = line[2:]
            j = i
            while command.endswith("\\"):
                j += 1
                command = command[:-1] + " " + lines[j].strip()
            command = command.split("|")[0].split("#")[0].strip()
            found.append(command)
    return found


COMMANDS = readme_commands()
INPUTS = {
    "true_col": "y_true",
    "pred_col": "y_pred",
    "weight_col": "weights",
    "pred_prefix": "pred_prefix",
    "true_prefix": "true_prefix",
    "task": "task",
    "from_logits": "from_logits",
    "nan": "nan",
    "delimiter": "delimiter",
    "encoding": "encoding",
    "custom": "custom",
    "pos_label": "pos_label",
}


def _without_format(args: list[str]) -> list[str]:
    out = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg == "--format":
            skip = True
            continue
        out.append(arg)
    return out


def api_call(args: list[str], monkeypatch: pytest.MonkeyPatch):
    """The API function and keyword arguments equivalent to ``loss <args>``."""
    import losscli.custom

    name, rest = args[0], args[1:]
    command = cli.get_command(None, name)  # type: ignore[arg-type]
    with monkeypatch.context() as patch:  # parse only: --custom's callback would load user code
        patch.setattr(losscli.custom, "load_custom_losses", lambda values: [])
        params = command.make_context(name, list(rest)).params
    inputs = {INPUTS[k]: v for k, v in params.items() if k in INPUTS}
    if "custom" in inputs:
        inputs["custom"] = tuple(inputs["custom"] or ())
    if "y_pred" in inputs:
        inputs["y_pred"] = list(inputs["y_pred"]) or None
    if params.get("more_files"):  # several models' files: a list of paths, on= and join=
        params["file"] = [params["file"], *params["more_files"]]
    if params.get("on"):
        inputs["on"] = list(params["on"])
        inputs["join"] = params["join_kind"]
    if params.get("id_cols"):
        inputs["id_cols"] = list(params["id_cols"])
    if name == "compute":
        keys = ("losses", "ci", "n_boot", "seed", "group_by", "fail_above", "fail_below")
        return lc.compute, (params["file"],), {**inputs, **{k: params[k] for k in keys}}
    if name == "compare" and params["file"] is None:
        return lc.compare_losses, (params["losses"] or None,), {"errors": params["errors"]}
    if name == "compare":
        keys = ("losses", "ci", "n_boot", "seed")
        return lc.compare, (params["file"],), {**inputs, **{k: params[k] for k in keys}}
    if name == "sensitivity":
        keys = ("losses", "rule", "threshold")
        return lc.sensitivity, (params["file"],), {**inputs, **{k: params[k] for k in keys}}
    if name == "recommend":
        inputs.pop("custom", None)
        flags = ("heavy_tails", "imbalanced", "max_margin", "need_probabilities")
        flags += ("interpretable", "smooth")
        outliers = True if params["outliers"] else (False if params["no_outliers"] else None)
        kwargs = {**inputs, **{k: params[k] for k in flags}, "losses": params["losses"]}
        return (
            lc.recommend,
            (params["file"],),
            {**kwargs, "task": params["rec_task"], "outliers": outliers},
        )
    if name == "explain":
        return lc.explain, (params["name"],), {"link": params["link"]}
    if name == "info":
        return lc.loss_info, (params["name"],), {}
    raise AssertionError(f"no API mapping for `loss {name}`")


def test_the_readme_has_examples_of_every_data_command():
    names = {shlex.split(c)[1] for c in COMMANDS}
    assert {"compute", "compare", "sensitivity", "recommend", "explain"} <= names


@pytest.mark.parametrize("command", COMMANDS, ids=COMMANDS)
def test_readme_example_gives_the_same_json_both_ways(command, monkeypatch):
    monkeypatch.chdir(ROOT)
    args = _without_format(shlex.split(command)[1:])
    done = CliRunner().invoke(cli, [*args, "--format", "json"])
    function, positional, kwargs = api_call(args, monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lc.LossWarning)
        if done.exit_code != 0:
            message = done.stderr.splitlines()[0].removeprefix("Error: ")
            with pytest.raises(LossCliError) as raised:
                function(*positional, **kwargs)
            assert raised.value.message.splitlines()[0] == message
            return
        result = function(*positional, **kwargs)
    got = result if isinstance(result, dict) else result.to_dict()
    assert got == json.loads(done.stdout)
