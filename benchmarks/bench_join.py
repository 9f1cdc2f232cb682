"""Benchmark joining two models' files (`loss compute a.csv b.csv --on id`, SPEC section 9).

Generates two CSV files of --rows rows each (one model's predictions per file,
keyed by id) into benchmarks/data/ (gitignored), in two layouts: sorted by id
(merge join: every file streamed) and shuffled (hash join: the largest file
streamed, the other held in memory). Runs each join and the same figures from
one pre-joined file, --runs times each, alternating, every run in its own
process, and prints median wall times, ratios and peak memory (the child's
maximum resident set size, from os.wait4), plus the memory the hash join holds
for the file(s) it keeps (measured in process).

    python benchmarks/bench_join.py                 # 10M rows, 3 runs
    python benchmarks/bench_join.py --rows 1000000 --runs 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"


def generate(rows: int) -> dict[str, Path]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    DATA.mkdir(exist_ok=True)
    paths = {
        name: DATA / f"join_{rows}_{name}.csv"
        for name in ("joined", "a_sorted", "b_sorted", "a_shuffled", "b_shuffled")
    }
    if all(p.exists() for p in paths.values()):
        return paths
    rng = np.random.default_rng(0)
    ids = np.arange(rows, dtype=np.int64) + 1_000_000
    y = rng.normal(100, 25, rows).round(3)
    a = (y + rng.normal(0, 1.5, rows)).round(3)
    b = (y + rng.normal(0, 2.0, rows)).round(3)
    order = rng.permutation(rows)

    def write(path: Path, columns: dict[str, object], take: object = None) -> None:
        table = pa.table(columns)
        if take is not None:
            table = table.take(pa.array(take))
        pacsv.write_csv(table, path)

    write(paths["joined"], {"id": ids, "y_true": y, "a": a, "b": b})
    write(paths["a_sorted"], {"id": ids, "y_true": y, "y_pred": a})
    write(paths["b_sorted"], {"id": ids, "y_pred": b})
    write(paths["a_shuffled"], {"id": ids, "y_true": y, "y_pred": a}, rng.permutation(rows))
    write(paths["b_shuffled"], {"id": ids, "y_pred": b}, order)
    return paths


def run_measured(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak resident MiB) of one run in its own process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{stderr}")
    return wall, usage.ru_maxrss / 1024


def held_bytes(a: Path, b: Path) -> tuple[str, int]:
    """The join method chosen and the bytes a hash join holds in memory (in process)."""
    from losscli.io.columns import InputOptions
    from losscli.io.join import open_join

    with open_join([str(a), str(b)], InputOptions(), "id") as source:
        for _ in source.batches():
            pass
        return str(source.plan.method), source.plan.held_bytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    paths = generate(args.rows)
    loss = [sys.executable, "-m", "losscli", "compute", "--format", "json"]
    commands = {
        "one pre-joined file": [*loss, str(paths["joined"]), "--pred-col", "a", "--pred-col", "b"],
        "sorted files (merge join)": [
            *loss, str(paths["a_sorted"]), str(paths["b_sorted"]), "--on", "id"
        ],
        "shuffled files (hash join)": [
            *loss, str(paths["a_shuffled"]), str(paths["b_shuffled"]), "--on", "id"
        ],
    }  # fmt: skip
    times: dict[str, list[float]] = {name: [] for name in commands}
    peaks: dict[str, list[float]] = {name: [] for name in commands}
    names = list(commands)
    for run in range(args.runs):
        for name in names if run % 2 == 0 else names[::-1]:
            wall, peak = run_measured(commands[name])
            times[name].append(wall)
            peaks[name].append(peak)
    base = statistics.median(times[names[0]])
    print(f"{args.rows:,} rows per file, {args.runs} runs each (medians)")
    print(f"{'':30} {'wall':>8} {'ratio':>6} {'peak MiB':>9}")
    for name in names:
        wall = statistics.median(times[name])
        print(f"{name:30} {wall:7.2f}s {wall / base:6.2f} {max(peaks[name]):9.0f}")
    for layout in ("sorted", "shuffled"):
        method, held = held_bytes(paths[f"a_{layout}"], paths[f"b_{layout}"])
        print(f"{layout} files: {method} join, holds {held / 2**20:.0f} MiB of the kept file")


if __name__ == "__main__":
    main()
