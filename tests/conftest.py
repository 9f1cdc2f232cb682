from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from losscli.cli import cli

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_data"

# A LocalCluster started in the test process (the session's dask_cluster, and the
# fixtures of a few modules) runs its scheduler's profiling thread (for the dashboard)
# alongside every later test. At the dependency floors (Python 3.11, distributed
# 2024.8) that thread once started a garbage collection that freed one of
# hypothesis' thread-local caches, which waits for a lock with the interpreter lock
# held: the suite hung in tests/test_invariance.py. Nothing here needs the profiler.
# Dask reads its configuration from the environment when first imported.
os.environ.setdefault("DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED", "False")


# At the dependency floors (pyarrow 14.0.2) the test process once hung after its last
# test, in interpreter shutdown: Arrow's CPU thread pool was shutting down while one of
# its workers, releasing a CSV reader whose read had ended early (an error in a later
# block), waited in the reader's task group for a task the pool no longer ran (gdb:
# ThreadPool::Shutdown on the main thread, ThreadedTaskGroup::Finish in
# ~AsyncThreadedTableReader on a worker). Every test had passed and the summary was
# printed. Once pytest has finished its report, the process ends without that
# teardown (os._exit with pytest's exit status), so the run cannot hang there.
_EXIT_STATUS: list[int] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _EXIT_STATUS.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    import sys

    if _EXIT_STATUS and os.environ.get("LOSSCLI_TEST_PLAIN_EXIT") != "1":
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_EXIT_STATUS[-1])


@pytest.fixture(autouse=True)
def _no_custom_losses_left_over():
    """A test that ran --custom in-process leaves no user loss behind for the next test.

    Every command and API call replaces the custom losses of the one before it, but
    tests that call internal functions (choose_losses, plans) directly would
    otherwise see a previous test's losses in their default panel.
    """
    yield
    import sys

    if "losscli.core.registry" in sys.modules:
        from losscli.core.registry import set_custom_losses

        set_custom_losses([])


@pytest.fixture(scope="session")
def dask_cluster():
    """A client of one LocalCluster (two single-threaded worker processes) shared by the
    Dask tests that compare engines (the fault tests start their own, to kill a worker)."""
    distributed = pytest.importorskip("distributed", reason="dask is in the test extra")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=50
    )
    client = distributed.Client(cluster, set_as_default=False)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.fixture
def run():
    """Invoke `loss ARGS...` in-process; stdout and stderr are kept apart (Click >= 8.2)."""

    def invoke(*args: str, input: str | bytes | None = None):
        runner = CliRunner()
        return runner.invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def run_json(run):
    def invoke(*args: str, input: str | None = None):
        result = run(*args, "--format", "json", input=input)
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)

    return invoke


# README examples are compared with numbers to 1e-9 relative, so that they stay
# true across numpy/pandas/pyarrow versions whose float sums differ in the last bits.
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
README_REL = 1e-9


def same_line(shown: str, got: str, rel: float = README_REL) -> bool:
    """The same text, every number equal to `rel` relative (the text between numbers exactly)."""
    if NUMBER.split(shown) != NUMBER.split(got):
        return False
    for a_text, b_text in zip(NUMBER.findall(shown), NUMBER.findall(got)):
        if a_text == b_text:
            continue
        a, b = float(a_text), float(b_text)
        if abs(a - b) > rel * max(abs(a), abs(b)):
            return False
    return True


def same_lines(shown: list[str], got: list[str], rel: float = README_REL) -> bool:
    return len(shown) == len(got) and all(same_line(a, b, rel) for a, b in zip(shown, got))
