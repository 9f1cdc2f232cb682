"""Every pasted `$ loss ...` example in the README is the command's real output.

stdout must match line for line; every stderr line (notes, warnings, errors)
must appear in the pasted block too (a terminal interleaves the two streams,
a test's pipes do not, so their relative order is not checked). Numbers are
compared to 1e-9 relative (`conftest.same_line`), so the examples stay true on
any numpy/pandas/pyarrow whose float sums differ in the last bits. An example
that shows only part of its output (a `#` comment after the command, e.g.
"first keys") is checked by the tests of its command instead.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest
from conftest import ROOT, same_line, same_lines

BLOCK = re.compile(r"```\n(\$ loss .*?)```", re.S)


def examples() -> list[tuple[str, list[str]]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = []
    for block in BLOCK.findall(text):
        lines = block.rstrip("\n").split("\n")
        command = lines.pop(0)[2:]
        while command.endswith("\\"):
            command = command[:-1] + " " + lines.pop(0).strip()
        if "#" in command:
            continue  # part of the output only
        shown = []
        for line in lines:
            if line.startswith("$ "):
                break  # a follow-up command such as `echo $?`
            shown.append(line.rstrip())
        found.append((command, shown))
    return found


EXAMPLES = examples()


def test_readme_has_examples_of_every_command():
    commands = {command.split()[1] for command, _ in EXAMPLES}
    assert {"compute", "compare", "sensitivity", "recommend", "explain", "info"} <= commands


@pytest.mark.parametrize(("command", "shown"), EXAMPLES, ids=[c for c, _ in EXAMPLES])
def test_readme_example_is_real(command, shown):
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1"}
    done = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120
    )
    # Lines of spaces at the end (a table's padding) are not pasted.
    out = (
        [line.rstrip() for line in done.stdout.rstrip().split("\n")] if done.stdout.strip() else []
    )
    err = [line.rstrip() for line in done.stderr.rstrip("\n").split("\n")] if done.stderr else []
    stdout_shown = [line for line in shown if not any(same_line(line, e) for e in err)]
    assert same_lines(stdout_shown, out), "paste the current output"
    assert all(any(same_line(line, s) for s in shown) for line in err), (
        "paste the current stderr lines too"
    )


def test_readme_numbers_need_not_match_to_the_last_bit():
    # A fresh install printed 2852.63972416 where the README showed
    # 2852.6397241599993 (another numpy's summation order): both are true.
    assert same_line('"ci_high": 2852.6397241599993', '"ci_high": 2852.63972416')
    assert not same_line('"ci_high": 2852.6397241599993', '"ci_high": 2852.63972')
    assert not same_line('"ci_high": 1.0', '"ci_low": 1.0')
    assert same_lines(["a 1.5", "b"], ["a 1.5000000000001", "b"])
    assert not same_lines(["a 1.5"], ["a 1.5", "b"])
    # and so on the pasted JSON example itself
    command, shown = next(e for e in EXAMPLES if "--format json" in e[0])
    line = next(s for s in shown if '"value": ' in s)
    value = float(line.split(": ")[1].rstrip(","))
    assert same_line(line, line.replace(repr(value), repr(value * (1 + 1e-12))))
    assert not same_line(line, line.replace(repr(value), repr(value * (1 + 1e-6))))
