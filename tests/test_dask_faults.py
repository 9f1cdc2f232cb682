"""--engine dask when things go wrong: a missing extra, stdin, an unreachable scheduler,
a worker killed mid-run, Ctrl-C. Each ends in one clear error or the exact result, and
never hangs (every wait below has a timeout)."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from plan_support import assert_same

from losscli.analysis.compute_plan import compute_plan
from losscli.core.registry import select_losses
from losscli.engines import dask as dask_engine
from losscli.engines.local import run_plan
from losscli.io import InputOptions
from losscli.io.source import open_source

distributed = pytest.importorskip("distributed")
psutil = pytest.importorskip("psutil")

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
SAMPLES = Path(__file__).resolve().parent.parent / "sample_data"
LOSS = [sys.executable, "-m", "losscli"]


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_missing_extra_is_one_error_naming_the_install(tmp_path):
    # distributed made unimportable in the child: `import distributed` raises ImportError.
    code = (
        "import sys; sys.modules['distributed'] = None; "
        "from losscli.cli import main; sys.argv = ['loss'] + sys.argv[1:]; main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "compute", str(SAMPLES / "regression_clean.csv")]
        + ["--engine", "dask"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        "Error: --engine dask needs distributed, which is not installed; install it "
        "with: pip install 'losscli[dask]'\n"
    )


def test_the_api_names_the_extra_too(tmp_path):
    code = (
        "import sys; sys.modules['dask'] = None; sys.modules['distributed'] = None\n"
        "import losscli as lc\n"
        "try:\n"
        "    lc.compute(sys.argv[1], engine='dask')\n"
        "except ValueError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(SAMPLES / "regression_clean.csv")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout.strip() == (
        "--engine dask needs dask and distributed, which are not installed; install them "
        "with: pip install 'losscli[dask]'"
    ), done.stderr


def test_stdin_with_engine_dask_is_a_usage_error(run):
    text = (SAMPLES / "regression_clean.csv").read_text()
    result = run("compute", "-", "--engine", "dask", input=text)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("Error: --engine dask reads the input on the workers")
    assert "standard input" in result.stderr and result.stderr.count("\n") == 1


def test_scheduler_without_engine_dask_is_a_usage_error(run):
    result = run("compute", SAMPLES / "regression_clean.csv", "--scheduler", "tcp://h:8786")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: --scheduler names a Dask cluster; it applies with --engine dask\n"
    )


@pytest.mark.parametrize("command", ["compute --per-sample", "report"])
def test_commands_that_stay_on_one_machine_say_so(run, command, tmp_path):
    name, *option = command.split()
    out = str(tmp_path / ("out" if option else "out.html"))
    result = run(
        name,
        SAMPLES / "regression_clean.csv",
        *option,
        *([out] if option else ["-o", out]),
        "--engine",
        "dask",
    )
    assert result.exit_code == 2, result.stderr
    assert result.stderr.endswith("use --engine local\n") and result.stderr.count("\n") == 1
    assert not os.path.exists(out)


@pytest.mark.parametrize("command", ["compare", "compute"])
def test_joined_files_stay_on_one_machine_and_say_so(run, command, tmp_path, monkeypatch):
    """Several FILEs joined with --on: exit 2 before any cluster starts (none is reachable)."""
    for name, pred in (("m1", 1.5), ("m2", 1.2)):
        (tmp_path / f"{name}.csv").write_text(f"id,y_true,y_pred\n1,1,{pred}\n2,2,2.5\n")
    from losscli.engines import dask as dask_engine

    def no_cluster(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cluster was asked for")

    monkeypatch.setattr(dask_engine, "dask_client", no_cluster)
    files = [tmp_path / "m1.csv", tmp_path / "m2.csv"]
    result = run(command, *files, "--on", "id", "--engine", "dask")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (
        "Error: several files joined on a key (--on) are matched on this machine (the join "
        "does not run on --engine dask); use --engine local, or join them into one file (or "
        "a directory of files) first\n"
    )
    assert run(command, *files, "--on", "id").exit_code == 0


def test_a_taken_dashboard_port_prints_nothing():
    """The cluster the command starts says nothing on stderr when port 8787 is taken."""
    path = SAMPLES / "regression_clean.csv"
    args = [sys.executable, "-m", "losscli", "compute", str(path), "-l", "mae,mse"]
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            taken.bind(("0.0.0.0", 8787))
            taken.listen()
        except OSError:
            pass  # already taken by another process: the case under test all the same
        local = subprocess.run(args, capture_output=True, text=True, timeout=120)
        remote = subprocess.run(
            [*args, "--engine", "dask"], capture_output=True, text=True, timeout=120
        )
    assert local.returncode == remote.returncode == 0, remote.stderr
    assert remote.stderr == local.stderr == ""
    assert remote.stdout == local.stdout


def test_unreachable_scheduler_is_one_error_within_the_timeout():
    address = f"tcp://127.0.0.1:{_closed_port()}"
    done = subprocess.run(
        [*LOSS, "compute", str(SAMPLES / "regression_clean.csv")]
        + ["--engine", "dask", "--scheduler", address],
        capture_output=True,
        text=True,
        timeout=30 + dask_engine.CONNECT_TIMEOUT,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"Error: cannot reach the Dask scheduler at {address} within 10 s")


# --------------------------------------------------------------------------- a worker dies


def test_a_worker_killed_mid_run_is_retried_and_the_result_is_exact(tmp_path):
    from dask_support import SlowPartition

    rng = np.random.default_rng(5)
    paths = []
    frames = []
    for i in range(4):
        y = rng.normal(size=800)
        frame = pd.DataFrame({"y_true": y, "y_pred": y + rng.standard_t(3, 800)})
        frames.append(frame)
        paths.append(str(tmp_path / f"part-{i}.csv"))
        frame.to_csv(paths[-1], index=False)
    whole = str(tmp_path / "whole.csv")
    pd.concat(frames).to_csv(whole, index=False)
    marker = str(tmp_path / "started")
    opts = InputOptions()

    @dataclasses.dataclass
    class Slow:
        path: str
        opts: InputOptions

        def partitions(self) -> list[Any]:
            return [SlowPartition(p, opts, marker=marker, pause=1.0) for p in paths]

    plan = compute_plan(
        lambda head: select_losses(["mae", "mse", "median_ae"], head.task, head.features),
        median_cap=100,
    )
    with open_source(whole, opts) as source:
        want = run_plan(plan, source)
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=50
    )
    client = distributed.Client(cluster)
    try:
        workers = set(client.run(os.getpid).values())
        box: dict[str, Any] = {}

        def work() -> None:
            try:
                box["report"] = dask_engine.run_plan(plan, Slow(paths[0], opts), client=client)
            except BaseException as exc:  # pragma: no cover - reported below
                box["error"] = exc

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        deadline = time.monotonic() + 60

        def first_start() -> str:  # a whole line: the file can exist before its write lands
            text = Path(marker).read_text() if os.path.exists(marker) else ""
            return text.split("\n", 1)[0] if "\n" in text else ""

        while time.monotonic() < deadline and not first_start():
            time.sleep(0.05)
        victim = int(first_start())
        assert victim in workers
        os.kill(victim, signal.SIGKILL)
        thread.join(timeout=180)
        assert not thread.is_alive(), "the run did not finish"
        assert "error" not in box, box.get("error")
        got = box["report"]
        # The killed worker's partition was read again elsewhere.
        starts = Path(marker).read_text().split()
        assert len(starts) > 4 * 2  # two passes (exact medians), plus the retried reads
    finally:
        client.close()
        cluster.close()

    def strip(report: Any) -> dict[str, Any]:
        out = dataclasses.asdict(report)
        out.pop("source")
        return out

    assert_same(strip(got), strip(want))


# --------------------------------------------------------------------------- Ctrl-C


def _children(parent: Any) -> list[Any]:
    try:
        return list(parent.children(recursive=True))
    except psutil.NoSuchProcess:
        return []


@pytest.mark.parametrize("group", [False, True], ids=["process", "terminal-group"])
def test_ctrl_c_closes_the_cluster_it_started_and_exits_130(tmp_path, group):
    """SIGINT to the command alone, or to its whole process group as a terminal sends it."""
    rng = np.random.default_rng(0)
    n = 60_000
    y = rng.normal(size=n)
    path = tmp_path / "big.csv"
    np.savetxt(
        path,
        np.c_[y, y + rng.normal(size=n)],
        delimiter=",",
        header="y_true,y_pred",
        comments="",
        fmt="%.6f",
    )
    proc = subprocess.Popen(
        # The intervals of 100,000 resamples take the client a while after the pass.
        [*LOSS, "compute", str(path), "-l", "mse,mae", "--ci", "0.95", "--bootstrap", "100000"]
        + ["--engine", "dask"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_default_sigint,
        start_new_session=group,
    )
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 90
    family: list[Any] = []
    while time.monotonic() < deadline and proc.poll() is None:
        family = parent.children(recursive=True)
        if len(family) >= 2:  # the workers are up
            break
        time.sleep(0.1)
    assert proc.poll() is None, "the command finished before it could be interrupted"
    family = parent.children(recursive=True)
    # As a user does: Ctrl-C, and again while nothing happens (one during the cluster's
    # start is not seen). The command ends without finishing its work.
    for _ in range(30):
        if group:
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGINT)
        # Seen once the cluster closes: its worker processes end (no second Ctrl-C then).
        _, alive = psutil.wait_procs(family, timeout=3)
        if len(alive) < len(family) or proc.poll() is not None:
            break
        family = family + [p for p in _children(parent) if p not in family]
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert b"Traceback" not in err
    assert out == b""
    gone, alive = psutil.wait_procs(family, timeout=30)
    assert not alive, f"worker processes left behind: {alive}"
