"""Every pasted `$ loss compute ...` example in the README is the command's real output.

stdout must match line for line; every stderr line (notes, warnings, errors)
must appear in the pasted block too (a terminal interleaves the two streams,
a test's pipes do not, so their relative order is not checked). The other
commands' README sections have tests of their own next to their code.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest
from conftest import ROOT

BLOCK = re.compile(r"```\n(\$ loss compute .*?)```", re.S)


def examples() -> list[tuple[str, list[str]]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = []
    for block in BLOCK.findall(text):
        lines = block.rstrip("\n").split("\n")
        command = lines.pop(0)[2:]
        while command.endswith("\\"):
            command = command[:-1] + " " + lines.pop(0).strip()
        shown = []
        for line in lines:
            if line.startswith("$ "):
                break  # a follow-up command such as `echo $?`
            shown.append(line.rstrip())
        found.append((command, shown))
    return found


EXAMPLES = examples()


def test_readme_has_compute_examples():
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize(("command", "shown"), EXAMPLES, ids=[c for c, _ in EXAMPLES])
def test_readme_compute_example_is_real(command, shown):
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1"}
    done = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120
    )
    out = [line.rstrip() for line in done.stdout.rstrip("\n").split("\n")] if done.stdout else []
    err = [line.rstrip() for line in done.stderr.rstrip("\n").split("\n")] if done.stderr else []
    assert [line for line in shown if line not in err] == out, "paste the current output"
    assert all(line in shown for line in err), "paste the current stderr lines too"
