"""Fuzzing: mutated sample files never crash losscli (issue 7).

Valid CSV files from sample_data/ are mutated (byte flips, deletions,
duplications, delimiter swaps, truncation, odd cells, encodings, compression)
with a fixed seed, and every command must answer with exit code 0, 1 or 2 and
never a traceback nor the last-resort "internal error" line: every failure is
an ``Error:`` line written for a user. Runs in-process (CliRunner) so that
several hundred inputs take well under a minute.
"""

from __future__ import annotations

import bz2
import gzip
import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from losscli.cli import cli

SAMPLES = Path(__file__).resolve().parent.parent / "sample_data"
N_INPUTS = 600
TIME_BUDGET = 45.0  # seconds; the count is the target, the budget a safety net
SEED = 20261123

CELLS = [b"", b"NA", b"nan", b"inf", b"-inf", b"1e400", b"abc", b'"1,5"', b"-1", b"0", b"2",
         b"1e-320", b"-0", b"  ", b'"', b"\xff", b"1,0", b"1e308", b"TRUE", b"0x10"]  # fmt: skip


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def flip_bytes(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if out:
            i = rng.randrange(len(out))
            out[i] = rng.randrange(256)
    return bytes(out)


def delete_range(rng: random.Random, data: bytes) -> bytes:
    i = rng.randrange(len(data) + 1)
    return data[:i] + data[i + rng.randint(1, 40) :]


def duplicate_range(rng: random.Random, data: bytes) -> bytes:
    i = rng.randrange(len(data) + 1)
    j = min(len(data), i + rng.randint(1, 60))
    return data[:j] + data[i:j] + data[j:]


def insert_junk(rng: random.Random, data: bytes) -> bytes:
    i = rng.randrange(len(data) + 1)
    junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 12)))
    return data[:i] + junk + data[i:]


def swap_delimiter(rng: random.Random, data: bytes) -> bytes:
    new = rng.choice([b";", b"\t", b"|", b" ", b",,"])
    if rng.random() < 0.5:
        return data.replace(b",", new)
    lines = _lines(data)
    k = rng.randrange(len(lines))
    lines[k] = lines[k].replace(b",", new)
    return b"\n".join(lines)


def truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def mutate_cell(rng: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    for _ in range(rng.randint(1, 3)):
        k = rng.randrange(len(lines))
        fields = lines[k].split(b",")
        fields[rng.randrange(len(fields))] = rng.choice(CELLS)
        lines[k] = b",".join(fields)
    return b"\n".join(lines)


def shuffle_lines(rng: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    op = rng.choice(["swap", "drop", "dup", "blank", "comment"])
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    if op == "swap":
        lines[i], lines[j] = lines[j], lines[i]
    elif op == "drop":
        del lines[i]
    elif op == "dup":
        lines.insert(j, lines[i])
    elif op == "blank":
        lines.insert(i, rng.choice([b"", b"   ", b"\r"]))
    else:
        lines.insert(i, b"# a comment, with commas")
    return b"\n".join(lines)


def edit_header(rng: random.Random, data: bytes) -> bytes:
    header, _, rest = data.partition(b"\n")
    fields = header.split(b",")
    op = rng.choice(["rename", "dup", "drop", "add", "space", "empty"])
    k = rng.randrange(len(fields))
    if op == "rename":
        fields[k] = fields[k][:-1] or b"x"
    elif op == "dup":
        fields.append(fields[k])
    elif op == "drop":
        del fields[k]
    elif op == "add":
        fields.insert(k, b"extra")
    elif op == "space":
        fields[k] = b" " + fields[k] + b" "
    else:
        fields[k] = b""
    return b",".join(fields) + b"\n" + rest


def change_encoding(rng: random.Random, data: bytes) -> bytes:
    text = data.decode("utf-8", errors="replace")
    choice = rng.choice(["bom", "utf-16", "latin-1", "crlf", "cr"])
    if choice == "bom":
        return b"\xef\xbb\xbf" + data
    if choice == "utf-16":
        return text.encode("utf-16")
    if choice == "latin-1":
        return (text + "\u00e9,\u00e8\n").encode("latin-1", errors="replace")
    if choice == "crlf":
        return data.replace(b"\n", b"\r\n")
    return data.replace(b"\n", b"\r")


def add_quotes(rng: random.Random, data: bytes) -> bytes:
    i = rng.randrange(len(data) + 1)
    return data[:i] + rng.choice([b'"', b'""', b"'", b'"x,y"']) + data[i:]


MUTATIONS: list[Callable[[random.Random, bytes], bytes]] = [
    flip_bytes,
    delete_range,
    duplicate_range,
    insert_junk,
    swap_delimiter,
    truncate,
    mutate_cell,
    shuffle_lines,
    edit_header,
    change_encoding,
    add_quotes,
]

# (command, extra arguments): every data command sees mutated files; compute most often.
COMMANDS: list[list[str]] = [
    ["compute"],
    ["compute"],
    ["compute", "--nan", "drop"],
    ["compute", "--format", "json", "--per-sample", "-"],
    ["compute", "--from-logits"],
    ["compute", "--task", "binary", "-l", "bce,hinge"],
    ["compute", "-l", "msle,poisson,gamma,mape"],
    ["compute", "--weight-col", "weight", "--group-by", "segment"],
    ["compute", "--encoding", "utf-16"],
    ["compute", "--encoding", "latin-1", "--delimiter", ";"],
    ["compare"],
    ["sensitivity"],
    ["recommend"],
]


def _seed_files() -> list[tuple[str, bytes]]:
    files = []
    for path in sorted(SAMPLES.glob("*.csv")):
        lines = path.read_bytes().split(b"\n")
        files.append((path.name, b"\n".join(lines[:25]) + b"\n"))  # small files: fast runs
    return files


def _inputs(rng: random.Random, seeds: list[tuple[str, bytes]]):
    for _ in range(N_INPUTS):
        name, data = rng.choice(seeds)
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            data = rng.choice(MUTATIONS)(rng, data)
        suffix = rng.choices([".csv", ".tsv", ".csv.gz", ".csv.bz2", ".gz"], [20, 2, 3, 1, 1])[0]
        if suffix in (".csv.gz", ".gz"):
            data = gzip.compress(data)
            if rng.random() < 0.3:
                data = truncate(rng, data)
        elif suffix == ".csv.bz2":
            data = bz2.compress(data)
        yield name, suffix, data, rng.choice(COMMANDS)


@pytest.mark.filterwarnings("ignore")
def test_mutated_sample_files_never_crash(tmp_path):
    seeds = _seed_files()
    assert len(seeds) >= 8
    rng = random.Random(SEED)
    runner = CliRunner()
    start = time.monotonic()
    seen = 0
    codes: dict[int, int] = {}
    for name, suffix, data, command in _inputs(rng, seeds):
        path = tmp_path / f"input{suffix}"
        path.write_bytes(data)
        args = [command[0], str(path), *command[1:]]
        result = runner.invoke(cli, args, catch_exceptions=True)
        context = (name, args, data[:300])
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"uncaught {result.exception!r} for {context}")
        assert result.exit_code in (0, 1, 2), (result.exit_code, result.stderr, context)
        assert "Traceback" not in result.stderr, (result.stderr, context)
        assert "internal error" not in result.stderr, (result.stderr, context)
        if result.exit_code:
            assert "Error:" in result.stderr, (result.stderr, context)
            assert result.stdout == "", (result.stdout[:200], context)
        codes[result.exit_code] = codes.get(result.exit_code, 0) + 1
        seen += 1
        if time.monotonic() - start > TIME_BUDGET:
            break
    assert seen >= 500, f"only {seen} inputs within {TIME_BUDGET}s ({codes})"
    # The mutations are mild enough that some inputs still work, and harsh enough to fail.
    assert codes.get(0, 0) > 20 and codes.get(1, 0) > 20, codes
