"""Benchmark `loss compute` against DuckDB and pandas + scikit-learn (SPEC section 8).

Generates its own regression CSV into benchmarks/data/ (gitignored), then runs
the three commands alternately, --runs times each, every one in its own
process, and prints median wall times, ratios and each command's peak memory
(the child's maximum resident set size, from os.wait4).

    python benchmarks/bench.py                  # 10M rows, 3 runs each, every command
    python benchmarks/bench.py --peers-only     # only loss compute, DuckDB, pandas
    python benchmarks/bench.py --startup        # also `loss --help` and a 1,000-row compute
    python benchmarks/bench.py --flatness       # also the 100M-row peak-memory check (~25 GB disk)
    python benchmarks/bench.py --rows 200000 --runs 1 --flatness --flat-rows 2000000  # dry run
    python benchmarks/bench.py --dask --rows 100000000   # local vs --engine dask, 20 Parquet files

Needs the bench extra: pip install '.[bench]' (duckdb, scikit-learn).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"

# Every data command of issue 13 with its target wall-time ratio to `loss compute`.
COMMAND_TARGETS = {
    "compare (2 models)": 2.0,
    "sensitivity": 2.0,
    "recommend": 2.0,
    "compute --group-by (20)": 2.0,
    "compute --ci 0.95": 3.0,
    "compare --ci 0.95": 4.0,
    "compute --per-sample": 3.0,
    "report": 3.0,
}

TARGETS = {
    "loss/duckdb": 1.0,  # SPEC 8 (issue 8 accepted 1.5)
    "pandas/loss": 2.5,
    "peak_mib": 256,
    "flatness": 1.1,
    "help_ms": 150,
    "small_over_pandas_import_ms": 150,
}

DUCKDB_SCRIPT = r"""
import json, sys, duckdb
path = sys.argv[1]
row = duckdb.sql(f'''
    SELECT avg(e * e), sqrt(avg(e * e)), avg(abs(e)), avg(e),
           avg(CASE WHEN abs(e) <= 1 THEN 0.5 * e * e ELSE abs(e) - 0.5 END),
           avg(abs(e) + ln(1 + exp(-2 * abs(e))) - ln(2)),
           median(abs(e)), max(abs(e))
    FROM (SELECT y_true - y_pred AS e FROM read_csv('{path}'))
''').fetchall()[0]
names = ["mse", "rmse", "mae", "mbe", "huber", "log_cosh", "median_ae", "max_error"]
print(json.dumps(dict(zip(names, row))))
"""

PANDAS_SCRIPT = r"""
import json, sys
import numpy as np, pandas as pd
from sklearn import metrics
df = pd.read_csv(sys.argv[1])
y, p = df["y_true"].to_numpy(), df["y_pred"].to_numpy()
e = y - p
a = np.abs(e)
out = {
    "mse": metrics.mean_squared_error(y, p),
    "rmse": metrics.root_mean_squared_error(y, p),
    "mae": metrics.mean_absolute_error(y, p),
    "mbe": float(np.mean(e)),
    "huber": float(np.mean(np.where(a <= 1.0, 0.5 * e * e, a - 0.5))),
    "log_cosh": float(np.mean(a + np.log1p(np.exp(-2 * a)) - np.log(2))),
    "median_ae": metrics.median_absolute_error(y, p),
    "max_error": metrics.max_error(y, p),
}
print(json.dumps({k: float(v) for k, v in out.items()}))
"""


READER_SCRIPT = r"""
import sys
import numpy as np, pyarrow as pa, pyarrow.csv as pacsv
path, mode = sys.argv[1], sys.argv[2]
n = 0
if mode == "pyarrow.read_csv(whole, threads)":
    t = pacsv.read_csv(path)
    n = len(t.column(0).to_numpy())
elif mode.startswith("pyarrow.open_csv"):
    block = int(mode.split("block=")[1].split("MiB")[0]) << 20
    reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=block))
    for batch in reader:
        n += len(batch.column(0).to_numpy())
elif mode.startswith("blocks+read_csv"):
    # losscli's reader: whole records cut from fixed-size byte blocks, parsed multithreaded
    import os
    import losscli.io.text as text
    text.CHUNK_BYTES = int(mode.split("block=")[1].split("MiB")[0]) << 20
    fmt = text.text_format(path, None, "utf-8", stream=False)
    reading = text.TextPass(lambda: open(path, "rb"), fmt, size_hint=os.path.getsize(path))
    for t, _ in reading.tables():
        n += t.num_rows
elif mode == "pandas.read_csv(whole)":
    import pandas as pd
    n = len(pd.read_csv(path)["y_true"].to_numpy())
elif mode == "pandas.read_csv(chunksize=1M)":
    import pandas as pd
    for chunk in pd.read_csv(path, chunksize=1_000_000):
        n += len(chunk["y_true"].to_numpy())
elif mode == "pandas.read_csv(engine=pyarrow)":
    import pandas as pd
    n = len(pd.read_csv(path, engine="pyarrow")["y_true"].to_numpy())
print(n)
"""

BREAKDOWN_SCRIPT = r"""
import json, os, sys, time
t0 = time.perf_counter()
import numpy, pyarrow, pyarrow.csv
import rich.table
from losscli.analysis.streaming import StreamingCompute
from losscli.core.registry import select_losses
from losscli.io import stream, text
from losscli.io.columns import InputOptions
from losscli.io.source import open_source
import losscli.report.compute
t1 = time.perf_counter()
path, opts = sys.argv[1], InputOptions()
fmt = text.text_format(path, None, "utf-8", stream=False)
reading = text.TextPass(lambda: open(path, "rb"), fmt, size_hint=os.path.getsize(path))
for table, _ in reading.tables():
    pass
t2 = time.perf_counter()
for chunk in open_source(path, opts).batches():
    pass
t3 = time.perf_counter()
engine = None
spool = stream.ValueSpool()
source = open_source(path, opts)
for chunk in source.batches():
    if engine is None:
        engine = StreamingCompute(
            select_losses([], chunk.task, chunk.features), spool, reread=source.batches
        )
    engine.add(chunk)
t4 = time.perf_counter()
report = engine.finish()
t5 = time.perf_counter()
print(json.dumps({
    "import": t1 - t0, "parse": t2 - t1, "parse+validate": t3 - t2,
    "pass 1 (parse+validate+losses)": t4 - t3, "median passes": t5 - t4,
}))
"""

READERS = [
    "blocks+read_csv block=4MiB",
    "blocks+read_csv block=8MiB",
    "blocks+read_csv block=16MiB",
    "pyarrow.open_csv block=1MiB",
    "pyarrow.open_csv block=4MiB",
    "pyarrow.read_csv(whole, threads)",
    "pandas.read_csv(chunksize=1M)",
    "pandas.read_csv(whole)",
    "pandas.read_csv(engine=pyarrow)",
]


def compare_readers(path: Path, runs: int) -> dict[str, dict[str, float]]:
    """Each candidate reader alone (parse to float arrays, no losses), alternating."""
    walls: dict[str, list[float]] = {m: [] for m in READERS}
    peaks: dict[str, list[float]] = {m: [] for m in READERS}
    for i in range(runs):
        for mode in READERS if i % 2 == 0 else list(reversed(READERS)):
            wall, peak, _ = run_measured([sys.executable, "-c", READER_SCRIPT, str(path), mode])
            walls[mode].append(wall)
            peaks[mode].append(peak)
            print(f"  run {i + 1} {mode:34s} {wall:6.2f} s {peak:6.0f} MiB", file=sys.stderr)
    return {
        m: {"median_s": statistics.median(walls[m]), "peak_mib": max(peaks[m])} for m in READERS
    }


def generate(path: Path, rows: int, seed: int = 0, narrow: bool = False) -> None:
    """A regression CSV: y_true ~ N(100, 25), errors N(0, 1.5) with 1% gross outliers (x20).

    ``narrow``: only y_true and y_pred (the same values), the ~190 MB file of SPEC 8's
    DuckDB and pandas comparison; otherwise also y_pred_b and a 20-value segment.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    tmp = path.with_suffix(".tmp")
    segments = np.array([f"s{i:02d}" for i in range(20)])
    with open(tmp, "wb") as handle:
        handle.write(b"y_true,y_pred\n" if narrow else b"y_true,y_pred,y_pred_b,segment\n")
        options = pacsv.WriteOptions(include_header=False)
        step = 1_000_000
        for start in range(0, rows, step):
            n = min(step, rows - start)
            y = np.round(rng.normal(100, 25, n), 5)
            noise = rng.normal(0, 1.5, n)
            noise[rng.random(n) < 0.01] *= 20
            other = np.round(y + rng.normal(0.3, 2.0, n), 5)
            table = pa.table(
                {
                    "y_true": y,
                    "y_pred": np.round(y + noise, 5),
                    "y_pred_b": other,
                    "segment": segments[rng.integers(0, 20, n)],
                }
            )
            if narrow:
                table = table.select(["y_true", "y_pred"])
            pacsv.write_csv(table, handle, options)
    tmp.replace(path)


def dataset(rows: int, narrow: bool = False) -> Path:
    """The benchmark file: y_true, y_pred, y_pred_b, segment (``narrow``: y_true, y_pred)."""
    path = DATA / (f"regression_{rows}.csv" if narrow else f"regression4_{rows}.csv")
    if not path.exists():
        print(f"generating {path} ({rows:,} rows) ...", file=sys.stderr)
        # In a process of its own: on Linux a child's peak RSS (os.wait4) starts at the
        # size of the process that started it, so a generator run here (~220 MB for
        # 100M rows) was charged to every command measured after it.
        import multiprocessing

        child = multiprocessing.get_context("spawn").Process(
            target=generate, args=(path, rows), kwargs={"narrow": narrow}
        )
        child.start()
        child.join()
        if child.exitcode != 0 or not path.exists():
            raise SystemExit(f"generating {path} failed (exit {child.exitcode})")
    return path


def loss_command() -> list[str]:
    exe = shutil.which("loss")
    return [exe] if exe else [sys.executable, "-m", "losscli"]


def run_measured(cmd: list[str]) -> tuple[float, float, str]:
    """Like :func:`run`, with the child's own peak RSS from os.wait4."""
    import threading

    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    stderr = proc.stderr
    out_chunks: list[bytes] = []
    err_chunks: list[bytes] = []
    t_err = threading.Thread(target=lambda: err_chunks.append(stderr.read()))
    t_err.start()
    out_chunks.append(proc.stdout.read())
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    t_err.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 3):
        raise RuntimeError(
            f"{cmd} failed ({proc.returncode}): {b''.join(err_chunks).decode()[-2000:]}"
        )
    return wall, usage.ru_maxrss / 1024, b"".join(out_chunks).decode()


def commands(path: Path, every: bool = True) -> dict[str, list[str]]:
    loss = loss_command()
    two = ["--pred-col", "y_pred", "--pred-col", "y_pred_b"]
    json_out = ["--format", "json"]
    out = {
        "loss": loss + ["compute", str(path)] + json_out,
        "duckdb": [sys.executable, "-c", DUCKDB_SCRIPT, str(path)],
        "pandas+sklearn": [sys.executable, "-c", PANDAS_SCRIPT, str(path)],
    }
    if every:
        per_sample = DATA / "per_sample_out.csv"
        report = DATA / "report_out.html"
        out.update(
            {
                "compare (2 models)": loss + ["compare", str(path)] + two + json_out,
                "sensitivity": loss + ["sensitivity", str(path)] + json_out,
                "recommend": loss + ["recommend", str(path)] + json_out,
                "compute --group-by (20)": loss
                + ["compute", str(path), "--group-by", "segment"]
                + json_out,
                "compute --ci 0.95": loss + ["compute", str(path), "--ci", "0.95"] + json_out,
                "compare --ci 0.95": loss + ["compare", str(path), "--ci", "0.95"] + two + json_out,
                "compute --per-sample": loss
                + ["compute", str(path), "--per-sample", str(per_sample)]
                + json_out,
                "report": loss + ["report", str(path), "-o", str(report)] + two,
            }
        )
    return out


def _report_size() -> int:
    """Bytes of the report just written (0 if none), deleting it."""
    out = DATA / "report_out.html"
    size = out.stat().st_size if out.exists() else 0
    out.unlink(missing_ok=True)
    return size


def values_of(name: str, stdout: str) -> dict[str, float]:
    data, _ = json.JSONDecoder().raw_decode(stdout[stdout.index("{") :])
    if name == "loss":
        return {r["loss"]: r["value"] for r in data["results"]}
    return data


def compare_runs(path: Path, runs: int, every: bool = True) -> dict[str, dict[str, float]]:
    cmds = commands(path, every)
    walls: dict[str, list[float]] = {k: [] for k in cmds}
    peaks: dict[str, list[float]] = {k: [] for k in cmds}
    outputs: dict[str, dict[str, float]] = {}
    report_bytes = 0
    for i in range(runs):
        order = list(cmds) if i % 2 == 0 else list(reversed(cmds))
        for name in order:
            wall, peak, out = run_measured(cmds[name])
            walls[name].append(wall)
            peaks[name].append(peak)
            if name in ("loss", "duckdb", "pandas+sklearn"):
                outputs[name] = values_of(name, out)
            (DATA / "per_sample_out.csv").unlink(missing_ok=True)
            size = _report_size()
            if size:
                report_bytes = size
            print(f"  run {i + 1} {name:24s} {wall:7.2f} s {peak:7.0f} MiB", file=sys.stderr)
    summary = {
        name: {
            "median_s": statistics.median(walls[name]),
            "min_s": min(walls[name]),
            "peak_mib": max(peaks[name]),
        }
        for name in cmds
    }
    worst = 0.0
    for loss, ref in outputs["duckdb"].items():
        mine = outputs["loss"][loss]
        worst = max(worst, abs(mine - ref) / max(abs(ref), 1e-300))
    summary["agreement"] = {"max_rel_diff_vs_duckdb": worst}
    if report_bytes:
        summary["report_file"] = {"bytes": report_bytes}
    return summary


def startup(runs: int) -> dict[str, float]:
    small = DATA / "regression_1000.csv"
    if not small.exists():
        generate(small, 1000)
    times: dict[str, list[float]] = {"help": [], "import_pandas": [], "compute_1000": []}
    cmds = {
        "help": loss_command() + ["--help"],
        "import_pandas": [sys.executable, "-c", "import pandas"],
        "compute_1000": loss_command() + ["compute", str(small)],
    }
    for _ in range(max(runs, 7)):
        for name, cmd in cmds.items():
            times[name].append(run_measured(cmd)[0])
    return {name: 1000 * statistics.median(v) for name, v in times.items()}


def flatness(
    small_peaks: dict[str, float], runs: int, every: bool, rows: int = 100_000_000
) -> dict[str, dict[str, float]]:
    """Each command's peak on a ``rows``-row file against its peak on the smaller one.

    Needs room for the file (~34 bytes a row) and --per-sample's output (~170 bytes
    a row, deleted after its run); the file is deleted at the end unless it was there.
    """
    free = shutil.disk_usage(DATA if DATA.exists() else HERE).free
    need = int(rows * (34 + 170) * 1.2) + (1 << 30)
    if free < need:
        raise SystemExit(
            f"--flatness needs ~{need / 1e9:.0f} GB free for the {rows:,}-row file and the "
            f"per-sample output; only {free / 1e9:.1f} GB free (try a smaller --flat-rows)"
        )
    big = DATA / f"regression4_{rows}.csv"
    made = not big.exists()
    try:
        path = dataset(rows)
        out: dict[str, dict[str, float]] = {}
        for name, cmd in commands(path, every).items():
            if name in ("duckdb", "pandas+sklearn"):
                continue
            wall, peak, _ = run_measured(cmd)
            (DATA / "per_sample_out.csv").unlink(missing_ok=True)
            _report_size()
            print(f"  {rows:,} rows {name:24s} {wall:7.2f} s {peak:7.0f} MiB", file=sys.stderr)
            out[name] = {
                "rows": rows,
                "peak_100m_mib": peak,  # the names of the default size
                "wall_100m_s": wall,
                "ratio": peak / small_peaks[name],
            }
        return out
    finally:
        if made:
            big.unlink(missing_ok=True)


# --------------------------------------------------------------------------- --dask


def parquet_files(rows: int, files: int, seed: int = 0) -> Path:
    """``rows`` regression rows as ``files`` Parquet files in one folder (generated once).

    Written a row group (1M rows) at a time, so generating 100M rows holds
    about 50 MB whatever the size of a file.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = DATA / f"parquet_{rows}_{files}"
    names = [folder / f"part-{i:03d}.parquet" for i in range(files)]
    if all(p.exists() for p in names):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    print(f"generating {folder} ({rows:,} rows in {files} files) ...", file=sys.stderr)
    rng = np.random.default_rng(seed)
    schema = pa.schema([("y_true", pa.float64()), ("y_pred", pa.float64())])
    group = 1 << 20
    for i, name in enumerate(names):
        n = rows // files + (1 if i < rows % files else 0)
        tmp = name.with_suffix(".tmp")
        with pq.ParquetWriter(tmp, schema) as writer:
            for start in range(0, n, group):
                m = min(group, n - start)
                y = rng.normal(100, 25, m)
                noise = rng.normal(0, 1.5, m)
                noise[rng.random(m) < 0.01] *= 20
                writer.write_table(pa.table({"y_true": y, "y_pred": y + noise}, schema=schema))
        tmp.replace(name)
    return folder


def _process_tree(root: int) -> list[int]:
    """``root`` and its descendants (from /proc; Linux)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(parents.get(pid, []))
    return out


def _high_water_mib(pid: int) -> tuple[float, str] | None:
    """(VmHWM in MiB, command line) of a live process, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as handle:
            hwm = next((line for line in handle if line.startswith("VmHWM:")), None)
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None
    return (int(hwm.split()[1]) / 1024, cmdline) if hwm else None


def run_tree_measured(cmd: list[str]) -> tuple[float, float, dict[str, list[float]], str]:
    """:func:`run_measured` plus the peak RSS of each process of the command.

    Returns (wall s, peak MiB over every process (os.wait4), per-process peaks, stdout);
    the per-process peaks are {"client": [MiB], "workers": [MiB, ...]}: each process's
    own high-water mark (VmHWM), sampled from /proc every 50 ms while it runs (the
    Dask worker processes are the command's children; Python's multiprocessing
    resource tracker is left out).
    """
    import threading

    seen: dict[int, tuple[float, str]] = {}
    stop = threading.Event()

    def sample(root: int) -> None:
        while not stop.is_set():
            for pid in _process_tree(root):
                found = _high_water_mib(pid)
                if found is not None and found[0] >= seen.get(pid, (0.0, ""))[0]:
                    seen[pid] = found
            stop.wait(0.05)

    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    stderr = proc.stderr
    err_chunks: list[bytes] = []
    t_err = threading.Thread(target=lambda: err_chunks.append(stderr.read()))
    t_err.start()
    t_sample = threading.Thread(target=sample, args=(proc.pid,))
    t_sample.start()
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    stop.set()
    t_sample.join()
    t_err.join()
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 3):
        raise RuntimeError(f"{cmd} failed ({code}): {b''.join(err_chunks).decode()[-2000:]}")
    total = usage.ru_maxrss / 1024
    workers = sorted(
        (
            mib
            for pid, (mib, line) in seen.items()
            if pid != proc.pid and "resource_tracker" not in line
        ),
        reverse=True,
    )
    # The command's own peak: os.wait4's figure when it ran alone (exact), else its samples.
    client = total if not workers else seen.get(proc.pid, (total, ""))[0]
    return wall, total, {"client": [client], "workers": workers}, out.decode()


def dask_vs_local(rows: int, files: int, runs: int) -> dict[str, dict[str, Any]]:
    """`loss compute FOLDER` on the local engine and on a local Dask cluster, alternately.

    The Dask command starts its own LocalCluster (one single-threaded worker
    process per core) and closes it, so its wall time includes that start.
    Peak memory: per process (the command, which is the Dask client, and each
    worker, see :func:`run_tree_measured`) and the largest of them (``peak_mib``).
    """
    folder = parquet_files(rows, files)
    base = loss_command() + ["compute", str(folder), "--format", "json"]
    cmds = {"local engine": base, f"dask, {os.cpu_count()} workers": base + ["--engine", "dask"]}
    walls: dict[str, list[float]] = {k: [] for k in cmds}
    peaks: dict[str, list[float]] = {k: [] for k in cmds}
    clients: dict[str, list[float]] = {k: [] for k in cmds}
    workers: dict[str, list[float]] = {k: [] for k in cmds}
    values: dict[str, dict[str, float]] = {}
    for i in range(runs):
        for name in list(cmds) if i % 2 == 0 else list(reversed(cmds)):
            wall, peak, each, out = run_tree_measured(cmds[name])
            walls[name].append(wall)
            peaks[name].append(peak)
            clients[name] += each["client"]
            if len(each["workers"]) > len(workers[name]) or (
                each["workers"] and max(each["workers"]) > max(workers[name], default=0.0)
            ):
                workers[name] = each["workers"]
            values[name] = values_of("loss", out)
            shown = ", ".join(f"{m:.0f}" for m in each["workers"])
            print(
                f"  run {i + 1} {name:24s} {wall:7.2f} s  client {each['client'][0]:5.0f} MiB"
                + (f"  workers {shown} MiB" if shown else ""),
                file=sys.stderr,
            )
    first, second = (values[name] for name in cmds)
    worst = max(abs(first[k] - second[k]) / max(abs(first[k]), 1e-300) for k in first)
    table: dict[str, dict[str, Any]] = {
        name: {
            "median_s": statistics.median(walls[name]),
            "min_s": min(walls[name]),
            "peak_mib": max(peaks[name]),
            "client_peak_mib": max(clients[name]),
            "worker_peaks_mib": workers[name],
        }
        for name in cmds
    }
    table["agreement"] = {"max_rel_diff": worst}
    return table


def compile_bytecode() -> None:
    """Write losscli's bytecode before timing it, as pip does when it installs a package.

    An editable install (or PYTHONDONTWRITEBYTECODE=1, set on some machines)
    would otherwise compile every module from source on every run: measured
    0.4 s of a 0.7 s 1,000-row compute. DuckDB and the site-packages modules
    are measured with theirs.
    """
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("losscli")
    if spec is not None and spec.origin is not None:
        compileall.compile_dir(str(Path(spec.origin).parent), quiet=1)


def main() -> None:
    compile_bytecode()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--flatness", action="store_true", help="100M-row peak-memory check")
    parser.add_argument(
        "--flat-rows",
        type=int,
        default=100_000_000,
        help="rows of the --flatness file (default 100M; smaller for a dry run)",
    )
    parser.add_argument(
        "--peers-only",
        action="store_true",
        help="only loss compute, DuckDB and pandas+sklearn, on the two-column file (SPEC 8)",
    )
    parser.add_argument("--startup", action="store_true", help="time loss --help and 1,000 rows")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--breakdown", action="store_true", help="only time the phases of loss compute"
    )
    parser.add_argument(
        "--readers", action="store_true", help="only compare the candidate CSV readers"
    )
    parser.add_argument(
        "--dask",
        action="store_true",
        help="only local engine vs --engine dask on --rows rows as 20 Parquet files",
    )
    args = parser.parse_args()
    if args.dask:
        table = dask_vs_local(args.rows, 20, args.runs)
        if args.json:
            print(json.dumps(table, indent=2))
            return
        print(f"\n{args.rows:,} rows in 20 Parquet files")
        print(f"{'engine':22s} {'median s':>8s} {'min s':>7s}  peak MiB per process")
        for name, row in table.items():
            if name != "agreement":
                each = f"client {row['client_peak_mib']:.0f}"
                if row["worker_peaks_mib"]:
                    shown = ", ".join(f"{m:.0f}" for m in row["worker_peaks_mib"])
                    each += f", workers {shown}"
                print(f"{name:22s} {row['median_s']:8.2f} {row['min_s']:7.2f}  {each}")
        print(f"max rel. diff dask vs local {table['agreement']['max_rel_diff']:.1e}")
        return
    if args.breakdown:
        path = dataset(args.rows)
        phases: dict[str, list[float]] = {}
        for _ in range(args.runs):
            out = run_measured([sys.executable, "-c", BREAKDOWN_SCRIPT, str(path)])[2]
            for key, value in json.loads(out).items():
                phases.setdefault(key, []).append(value)
        print(f"\n{'phase (in one process, sequential)':36s} {'median s':>9s}")
        for key, values in phases.items():
            print(f"{key:36s} {statistics.median(values):9.2f}")
        return
    if args.readers:
        table = compare_readers(dataset(args.rows), args.runs)
        print(f"\n{'reader (parse to float64 arrays)':36s} {'median s':>9s} {'peak MiB':>9s}")
        for mode, row in table.items():
            print(f"{mode:36s} {row['median_s']:9.2f} {row['peak_mib']:9.0f}")
        return

    # SPEC 8: the peers on the ~190 MB two-column file; every command on the wider file
    # (a second model and a segment column), with DuckDB and pandas on it too.
    path = dataset(args.rows, narrow=args.peers_only)
    size = path.stat().st_size
    print(
        f"{path.name}: {args.rows:,} rows, {size / 1e6:.0f} MB; {os.cpu_count()} CPUs",
        file=sys.stderr,
    )
    result: dict[str, object] = {"rows": args.rows, "file_mb": size / 1e6}
    every = not args.peers_only
    summary = compare_runs(path, args.runs, every)
    result.update(summary)
    loss, duck, pandas = summary["loss"], summary["duckdb"], summary["pandas+sklearn"]
    ratios = {
        "loss/duckdb": loss["median_s"] / duck["median_s"],
        "pandas/loss": pandas["median_s"] / loss["median_s"],
    }
    result["ratios"] = ratios
    if args.startup:
        result["startup_ms"] = startup(args.runs)
    if args.flatness:
        peaks = {k: v["peak_mib"] for k, v in summary.items() if "peak_mib" in v}
        result["flatness"] = flatness(peaks, args.runs, every, args.flat_rows)
    if args.json:
        print(json.dumps(result, indent=2))
        return

    print(f"\n{'command':24s} {'median s':>9s} {'min s':>7s} {'peak MiB':>9s} {'/ compute':>10s}")
    for name in commands(path, every):
        row = summary[name]
        ratio = row["median_s"] / loss["median_s"]
        target = COMMAND_TARGETS.get(name)
        verdict = ""
        if target is not None:
            met = ratio <= target and row["peak_mib"] <= TARGETS["peak_mib"]
            verdict = f"  (<= {target:g}x, <= 256 MiB: {'met' if met else 'NOT met'})"
        print(
            f"{name:24s} {row['median_s']:9.2f} {row['min_s']:7.2f} {row['peak_mib']:9.0f} "
            f"{ratio:9.2f}x{verdict}"
        )
    print(
        f"\nloss / duckdb          {ratios['loss/duckdb']:.2f}  (target <= {TARGETS['loss/duckdb']})"
    )
    print(
        f"pandas+sklearn / loss  {ratios['pandas/loss']:.2f}  (target >= {TARGETS['pandas/loss']})"
    )
    print(f"loss peak memory       {loss['peak_mib']:.0f} MiB  (target <= {TARGETS['peak_mib']})")
    print(f"max rel. diff vs duckdb {summary['agreement']['max_rel_diff_vs_duckdb']:.1e}")
    if "report_file" in summary:
        size = summary["report_file"]["bytes"]
        print(f"report file size       {size / 1e6:.2f} MB  (target < 1 MB)")
    if args.startup:
        s = result["startup_ms"]
        assert isinstance(s, dict)
        print(f"loss --help            {s['help']:.0f} ms  (target < {TARGETS['help_ms']})")
        print(
            f"1,000-row compute      {s['compute_1000']:.0f} ms  vs import pandas "
            f"{s['import_pandas']:.0f} ms + 150 = {s['import_pandas'] + 150:.0f} ms"
        )
    if args.flatness:
        f = result["flatness"]
        assert isinstance(f, dict)
        for name, row in f.items():
            print(
                f"{args.flat_rows:,}-row peak {name:24s} {row['peak_100m_mib']:.0f} MiB = "
                f"{row['ratio']:.2f}x the {args.rows:,}-row peak  (target <= {TARGETS['flatness']})"
            )


if __name__ == "__main__":
    main()
