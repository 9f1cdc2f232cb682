"""`loss --help` stays instant: the heavy libraries are imported lazily (SPEC section 8).

Each check runs in a fresh interpreter and inspects ``sys.modules``; no timing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("numpy", "pandas", "pyarrow", "rich", "sklearn", "matplotlib", "duckdb")


def _imported_after(code: str) -> set[str]:
    script = (
        f"import sys\n{code}\n"
        f"print('IMPORTED:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True
    )
    line = result.stdout.rsplit("IMPORTED:", 1)[1].strip()
    return {m for m in line.split(",") if m}


def _run_cli(*args: str) -> str:
    return (
        "from losscli.cli import cli\n"
        "try:\n"
        f"    cli.main({list(args)!r}, prog_name='loss')\n"
        "except SystemExit:\n"
        "    pass\n"
    )


@pytest.mark.parametrize("args", [("--help",), ("compute", "--help"), ("--version",)])
def test_help_imports_no_heavy_library(args):
    assert _imported_after(_run_cli(*args)) == set()


def test_compute_does_not_import_pandas():
    imported = _imported_after(
        _run_cli("compute", str(ROOT / "sample_data" / "regression_clean.csv"), "--format", "json")
    )
    assert "numpy" in imported and "pyarrow" in imported  # it did compute
    assert "pandas" not in imported


def test_per_sample_and_group_by_do_not_import_pandas(tmp_path):
    # pandas, once imported, holds about 40 MiB for the rest of the run: --per-sample and
    # --group-by build their Arrow arrays from buffers (pa.array would import it).
    data = tmp_path / "d.csv"
    data.write_text('y_true,y_pred,seg,key\n1,1.5,a,k1\n2,2.5,"b,c",k2\n3,2,a,k3\n')
    imported = _imported_after(
        _run_cli(
            "compute",
            str(data),
            "--group-by",
            "seg",
            "--per-sample",
            str(tmp_path / "out.csv"),
            "--id-col",
            "key",
            "-l",
            "mae",
            "--format",
            "json",
        )
    )
    assert "numpy" in imported and "pyarrow" in imported
    assert "pandas" not in imported
    assert (tmp_path / "out.csv").read_text().splitlines()[2] == '2,"b,c","k2","y_pred",0.5'


def test_import_losscli_loads_no_heavy_library_and_not_the_api():
    code = "import losscli\nassert 'losscli.api' not in sys.modules"
    assert _imported_after(code) == set()


def test_api_names_load_on_first_use_only():
    code = (
        "import losscli as lc\n"
        "assert callable(lc.compute) and 'compute' in dir(lc)\n"
        "assert lc.UsageError.__module__ == 'losscli.errors'\n"
    )
    # The API module itself imports only what a call needs.
    assert _imported_after(code) == set()
    used = _imported_after("import losscli as lc\nlc.losses.mse([1.0], [2.0])\n")
    assert "numpy" in used and "pyarrow" in used
    assert not {"pandas", "rich", "matplotlib"} & used


def test_unknown_attribute_of_losscli_is_an_attribute_error():
    import losscli

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        losscli.nope  # noqa: B018


@pytest.mark.parametrize("pos_label", [[], ["--pos-label", "dog"]])
def test_text_labels_do_not_import_pandas(tmp_path, pos_label):
    data = tmp_path / "labels.csv"
    data.write_text("y_true,y_pred\ncat,0.2\ndog,0.9\ncat,0.4\n dog ,0.6\n")
    imported = _imported_after(_run_cli("compute", str(data), *pos_label, "--format", "json"))
    assert "numpy" in imported and "pyarrow" in imported
    assert "pandas" not in imported


def test_recommend_from_flags_alone_reads_no_data_and_loads_no_pyarrow():
    """No FILE, nothing to read: Arrow (and its allocator) stays unloaded."""
    imported = _imported_after(_run_cli("recommend", "--task", "regression", "--outliers"))
    assert "pyarrow" not in imported and "pandas" not in imported
