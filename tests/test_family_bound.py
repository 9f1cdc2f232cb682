"""Structured families are read whole: past their memory bound, one clear Error, exit 1."""

from __future__ import annotations

import os

import pytest

import losscli.io.source as source_module

SAMPLES = os.path.join(os.path.dirname(__file__), "..", "sample_data")


@pytest.mark.parametrize(
    ("name", "task"),
    [
        ("detection_boxes.csv", "detection"),
        ("similarity_pairs.csv", "similarity"),
        ("similarity_triplets.csv", "similarity"),
        ("gan_outputs.csv", "generative"),
        ("vae_latents.csv", "vae"),
    ],
)
def test_family_over_the_bound_is_a_clear_error(name, task, run, monkeypatch):
    path = os.path.join(SAMPLES, name)
    assert run("compute", path, "--format", "json").exit_code == 0
    monkeypatch.setattr(source_module, "FAMILY_MAX_BYTES", 512)
    for command in ("compute", "compare"):
        result = run(command, path, "--format", "json")
        assert result.exit_code == 1
        assert result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
        assert f"{task} data" in lines[0] and "are read whole" in lines[0]
        assert "MiB in memory" in lines[0] and "split it into smaller files" in lines[0]
