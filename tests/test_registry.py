"""The loss registry: complete metadata, name lookup, --losses syntax, default panels, coverage."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from losscli.core.registry import (
    LossSpec,
    Properties,
    Reduction,
    Task,
    all_losses,
    default_panel,
    get_loss,
    parse_loss_list,
    select_losses,
)
from losscli.errors import ExitCode, UsageError

SPECS = all_losses()
IDS = [s.name for s in SPECS]


# --------------------------------------------------------------------------- metadata


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_every_loss_declares_its_metadata(spec: LossSpec):
    assert spec.name == spec.name.lower().strip() and spec.name
    assert isinstance(spec.task, Task)
    assert spec.summary.strip(), "summary (first docstring line) is missing"
    assert spec.summary[0].isupper() and spec.summary.rstrip().endswith(".")
    assert spec.formula.strip(), "formula is missing"
    assert spec.reference.strip(), "reference implementation is missing"
    assert isinstance(spec.properties, Properties)
    for flag in ("convex", "smooth", "robust", "probabilistic", "margin_based"):
        assert isinstance(getattr(spec.properties, flag), bool)
    assert isinstance(spec.reduction, Reduction)
    assert spec.advice.strip(), "the guide's advice (loss info) is missing"
    assert callable(spec.kernel)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_every_parameter_default_is_valid(spec: LossSpec):
    defaults = spec.resolve_params({})
    assert defaults == {p.name: p.default for p in spec.params}
    for param in spec.params:
        # the default passes its own validation, also when given as text
        assert spec.resolve_params({param.name: str(param.default)})[param.name] == param.default


def test_names_and_aliases_are_unique_and_lower_case():
    seen: dict[str, str] = {}
    for spec in SPECS:
        for key in (spec.name, *spec.aliases):
            assert key == key.lower()
            assert key not in seen, f"{key!r} used by {seen.get(key)} and {spec.name}"
            seen[key] = spec.name


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_lookup_by_name_and_alias_is_case_insensitive(spec: LossSpec):
    for key in (spec.name, *spec.aliases):
        assert get_loss(key) is spec
        assert get_loss(key.upper()) is spec
        assert get_loss(f"  {key.title()} ") is spec


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("L2", "mse"),
        ("mean_squared_error", "mse"),
        ("l1", "mae"),
        ("mean_absolute_error", "mae"),
        ("mean_bias_error", "mbe"),
        ("quantile", "pinball"),
        ("log_loss", "bce"),
        ("binary_crossentropy", "bce"),
        ("categorical_crossentropy", "cce"),
        ("cross_entropy", "cce"),
        ("categorical_hinge", "multiclass_hinge"),
        ("KLD", "kl_div"),
    ],
)
def test_spec_aliases(alias, name):
    assert get_loss(alias).name == name


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [("hubr", "huber"), ("mse2", "mse"), ("focall", "focal"), ("log_cosine", "log_cosh")],
)
def test_unknown_loss_suggests_close_names(typo, suggestion):
    with pytest.raises(UsageError) as info:
        get_loss(typo)
    assert info.value.exit_code == ExitCode.USAGE
    assert typo in info.value.message
    assert "did you mean" in info.value.message and suggestion in info.value.message


@pytest.mark.parametrize(
    ("typo", "first"),
    [("mea", "mae"), ("msee", "mse"), ("hbuer", "huber"), ("rmes", "rmse"), ("MAE2", "mae")],
)
def test_a_name_one_keystroke_away_is_suggested_first(typo, first):
    """Two letters swapped, one added, dropped or changed: that name leads the list
    (difflib's similarity alone put medae and mse before mae for "mea")."""
    with pytest.raises(UsageError) as info:
        get_loss(typo)
    assert info.value.message.split("did you mean ", 1)[1].startswith(first + " ")


def test_one_edit():
    from losscli.core.registry import _one_edit

    assert _one_edit("mea", "mae") and _one_edit("mse", "msle") and _one_edit("hubr", "huber")
    assert _one_edit("mse", "mae") and _one_edit("rmse", "mse")
    assert not _one_edit("mse", "mse") and not _one_edit("mea", "medae")
    assert not _one_edit("abc", "cba") and not _one_edit("", "ab")


def test_unknown_loss_without_close_name_points_to_the_catalogue():
    with pytest.raises(UsageError, match="loss list"):
        get_loss("zzzzzzzz")


# --------------------------------------------------------------------------- --losses syntax


def test_parse_loss_list_names_and_params():
    sels = parse_loss_list("mse, MAE ,huber:delta=2,focal:gamma=3:alpha=0.5")
    assert [s.name for s in sels] == ["mse", "mae", "huber", "focal"]
    assert sels[2].params == {"delta": 2.0}
    assert sels[3].params["gamma"] == 3.0 and sels[3].params["alpha"] == 0.5
    assert sels[3].params["eps"] == get_loss("focal").params[2].default
    assert sels[2].label == "huber(delta=2)"
    assert sels[0].label == "mse"


def test_parse_loss_list_param_names_are_case_insensitive_and_typed():
    (sel,) = parse_loss_list("Huber:DELTA=0.5")
    assert sel.params == {"delta": 0.5} and isinstance(sel.params["delta"], float)
    (sel,) = parse_loss_list("tweedie:power=1.5")
    assert sel.params == {"power": 1.5}


def test_select_losses_joins_repeated_options_and_drops_duplicates():
    sels = select_losses(["mse,mae", "mse", "huber:delta=2", "huber"], Task.REGRESSION)
    assert [s.label for s in sels] == ["mse", "mae", "huber(delta=2)", "huber"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("msee", "unknown loss 'msee'"),
        ("huber:delt=2", "unknown parameter 'delt' for loss huber"),
        ("huber:delta=0", "invalid value '0' for parameter delta of loss huber"),
        ("huber:delta=-1", "it must be > 0"),
        ("huber:delta=abc", "expected a finite number"),
        ("huber:delta=nan", "expected a finite number"),
        ("huber:delta=inf", "expected a finite number"),
        ("pinball:alpha=1.5", "in [0, 1]"),
        ("tweedie:power=0.5", "power"),
        ("focal:gamma=-1", ">= 0"),
        ("bce:eps=0", "eps"),
        ("huber:delta", "write NAME=VALUE"),
        ("mse:delta=2", "unknown parameter 'delta' for loss mse"),
        ("", "--losses is empty"),
        (" , ", "--losses is empty"),
    ],
)
def test_parse_loss_list_errors_are_usage_errors(text, fragment):
    with pytest.raises(UsageError) as info:
        parse_loss_list(text)
    assert info.value.exit_code == ExitCode.USAGE
    assert fragment in info.value.message


def test_unknown_parameter_suggests_the_close_one():
    with pytest.raises(UsageError, match="did you mean delta"):
        parse_loss_list("huber:delt=2")


# --------------------------------------------------------------------------- default panels


@pytest.mark.parametrize(
    ("task", "features", "expected"),
    [
        (
            Task.REGRESSION,
            set(),
            ["mse", "rmse", "mae", "mbe", "huber", "log_cosh", "median_ae", "max_error"],
        ),
        # Logits (--from-logits): probability and margin losses alike.
        (Task.BINARY, {"probabilities", "scores"}, ["bce", "brier", "hinge", "focal"]),
        # Probabilities in [0, 1]: the margin loss leaves the panel.
        (Task.BINARY, {"probabilities"}, ["bce", "brier", "focal"]),
        # Raw scores (not in [0, 1], no --from-logits): only the margin loss.
        (Task.BINARY, {"scores"}, ["hinge"]),
        (
            Task.MULTICLASS,
            {"hard_labels", "probabilities", "scores"},
            ["cce", "multiclass_brier", "multiclass_hinge", "categorical_focal"],
        ),
        (
            Task.MULTICLASS,
            {"hard_labels", "probabilities"},
            ["cce", "multiclass_brier", "categorical_focal"],
        ),
        # Soft targets add kl_div; multiclass_hinge needs hard labels, so it leaves the panel.
        (
            Task.MULTICLASS,
            {"target_columns", "probabilities"},
            ["cce", "multiclass_brier", "categorical_focal", "kl_div"],
        ),
        # One-hot y_true_* columns give both: hard labels and target columns.
        (
            Task.MULTICLASS,
            {"target_columns", "hard_labels", "probabilities", "scores"},
            ["cce", "multiclass_brier", "multiclass_hinge", "categorical_focal", "kl_div"],
        ),
    ],
)
def test_default_panels_are_spec_section_3(task, features, expected):
    assert [s.name for s in default_panel(task, features)] == expected
    assert [s.name for s in select_losses(None, task, features)] == expected


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        ("detection", ["iou", "giou"]),
        ("generative", ["gan_discriminator", "gan_generator", "gan_generator_ns"]),
        ("vae", ["vae_kl", "vae"]),
        ("similarity", ["contrastive"]),
    ],
)
def test_default_panels_of_structured_tasks(task, expected):
    if not any(s.task.value == task for s in SPECS):
        pytest.skip(f"no {task} losses registered yet")
    assert [s.name for s in default_panel(Task(task))] == expected


# --------------------------------------------------------------------------- coverage


def _covered_by(path: Path) -> set[str]:
    """COVERED_LOSSES of one tests/test_reference_*.py file, imported from its path."""
    spec = importlib.util.spec_from_file_location(f"_coverage_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return set(getattr(module, "COVERED_LOSSES", set()))


def test_every_registered_loss_has_a_reference_test():
    here = Path(__file__).resolve().parent
    covered: set[str] = set()
    for path in sorted(here.glob("test_reference_*.py")):
        covered |= _covered_by(path)
    missing = sorted(s.name for s in SPECS if s.name not in covered)
    assert not missing, f"losses without a reference test (COVERED_LOSSES): {missing}"
    unknown = sorted(covered - {s.name for s in SPECS})
    assert not unknown, f"COVERED_LOSSES names that are not registered: {unknown}"


def test_panel_omissions_say_which_losses_and_why():
    from losscli.core.registry import panel_omissions

    (line,) = panel_omissions(Task.BINARY, {"scores"})
    assert line.startswith("bce, brier, focal left out of the default panel")
    assert "--from-logits" in line
    (line,) = panel_omissions(Task.MULTICLASS, {"target_columns", "probabilities", "scores"})
    assert line.startswith("multiclass_hinge left out") and "soft" in line
    assert panel_omissions(Task.BINARY, {"probabilities", "scores"}) == []
    (line,) = panel_omissions(Task.BINARY, {"probabilities"})
    assert line.startswith("hinge left out of the default panel") and "margin" in line
