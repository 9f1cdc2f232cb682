"""``lc.compute(df, ...)`` equals ``loss compute`` on the same data as CSV for every task
family in the registry, with weights, groups and ``ci`` where the family takes them
(issue 14). GAN files take ``ci`` only: their d_real and d_fake columns are separate
samples, and weights or groups are the same usage error through both doors.
"""

from __future__ import annotations

import json
import warnings

import pandas as pd
import pytest
from click.testing import CliRunner

import losscli as lc
from losscli.cli import cli
from losscli.core.registry import Task, all_losses
from tests.test_api import CASES, SAMPLES, with_weights_and_groups, without_source
from tests.test_intervals import _interval_frame, _quantile_frame


def _sample(name: str):
    return lambda: pd.read_csv(SAMPLES / name)


def _interval():
    return _interval_frame().drop(columns=["w", "seg"])


def _quantile():
    return _quantile_frame().drop(columns=["w"])


# family -> (a frame of it, its task); every family of the registry has one (tested).
STRUCTURED = {
    "detection": (_sample("detection_boxes.csv"), Task.DETECTION),
    "similarity_pairs": (_sample("similarity_pairs.csv"), Task.SIMILARITY),
    "similarity_triplets": (_sample("similarity_triplets.csv"), Task.SIMILARITY),
    "generative": (_sample("gan_outputs.csv"), Task.GENERATIVE),
    "vae": (_sample("vae_latents.csv"), Task.VAE),
    "interval": (_interval, Task("interval")),
    "quantile": (_quantile, Task("quantile")),
}
OPTIONS = {"weights": "w", "group_by": "seg", "ci": 0.9, "n_boot": 50, "seed": 3}
FLAGS = ["--weight-col", "w", "--group-by", "seg", "--ci", "0.9", "--bootstrap", "50",
         "--seed", "3"]  # fmt: skip
CI_ONLY = {"ci": 0.9, "n_boot": 50, "seed": 3}
CI_FLAGS = ["--ci", "0.9", "--bootstrap", "50", "--seed", "3"]


def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _api(df: pd.DataFrame, **kwargs: object) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lc.LossWarning)
        return lc.compute(df, **kwargs).to_dict()  # type: ignore[arg-type]


def test_every_family_of_the_registry_has_a_case():
    families = {s.task for s in all_losses()}
    covered = {
        Task(name.split("_")[0]) for name in CASES if name.split("_")[0] in Task._value2member_map_
    }
    covered |= {task for _, task in STRUCTURED.values()}
    assert families <= covered | {Task.REGRESSION, Task.BINARY, Task.MULTICLASS}
    assert {Task.REGRESSION, Task.BINARY, Task.MULTICLASS} <= covered


@pytest.mark.parametrize("case", [c for c in STRUCTURED if c != "generative"])
def test_structured_family_with_weights_groups_and_ci_equals_the_cli(case, tmp_path):
    make, task = STRUCTURED[case]
    df = with_weights_and_groups(make())
    path = tmp_path / f"{case}.csv"
    df.to_csv(path, index=False)
    got = _api(df, **OPTIONS)
    code, out, err = _cli("compute", str(path), *FLAGS, "--format", "json")
    assert code == 0, err
    want = json.loads(out)
    assert got["task"] == want["task"] == task.value
    assert without_source(got) == without_source(want)
    assert {r["group"] for r in got["results"]} == {None, "north", "south"}
    assert all(
        r["ci_low"] <= r["value"] <= r["ci_high"] for r in got["results"] if r["ci_low"] is not None
    )


@pytest.mark.parametrize("case", list(STRUCTURED))
def test_structured_family_with_ci_equals_the_cli(case, tmp_path):
    make, _ = STRUCTURED[case]
    df = make()
    path = tmp_path / f"{case}.csv"
    df.to_csv(path, index=False)
    got = _api(df, **CI_ONLY)
    code, out, err = _cli("compute", str(path), *CI_FLAGS, "--format", "json")
    assert code == 0, err
    assert without_source(got) == without_source(json.loads(out))


@pytest.mark.parametrize(
    ("option", "flag"), [("weights", "--weight-col"), ("group_by", "--group-by")]
)
def test_gan_weights_or_groups_are_the_same_usage_error(option, flag, tmp_path):
    df = with_weights_and_groups(STRUCTURED["generative"][0]())
    path = tmp_path / "gan.csv"
    df.to_csv(path, index=False)
    column = "w" if option == "weights" else "seg"
    with pytest.raises(lc.UsageError) as info:
        lc.compute(df, **{option: column})
    code, out, err = _cli("compute", str(path), flag, column)
    assert code == 2 and out == ""
    assert err.strip().splitlines()[-1] == f"Error: {info.value}"


@pytest.mark.parametrize("case", list(STRUCTURED))
def test_structured_family_from_a_path_equals_the_cli(case, tmp_path):
    path = str(tmp_path / f"{case}.csv")
    STRUCTURED[case][0]().to_csv(path, index=False)
    got = _api(path)  # type: ignore[arg-type]
    code, out, err = _cli("compute", path, "--format", "json")
    assert code == 0, err
    assert got == json.loads(out)  # the source too: the same path
