"""The shipped examples run as the README says: from the repository root, on the shipped data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("command", [
    ["bash", "examples/shuffle.sh"],
    ["bash", "examples/tokenize.sh"],
    ["bash", "examples/trie.sh"],
    ["bash", "examples/split.sh"],
    ["bash", "examples/cat_and_count.sh"],
    [sys.executable, "examples/pipeline.py"],
])
def test_example_runs(command):
    result = subprocess.run(command, cwd=ROOT, capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]


def test_quick_start_shuffle_is_verified():
    out = ROOT / "examples" / "out" / "fortunes-shuffled.jsonl"
    result = subprocess.run(["corpuskit", "shuffle", "examples/data/fortunes.jsonl", str(out), "--mem", "256M",
                             "--seed", "1", "--verify", "--force"], cwd=ROOT, capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert b"verify: OK" in result.stderr
    assert sorted(out.read_bytes().splitlines()) == sorted((ROOT / "examples/data/fortunes.jsonl").read_bytes().splitlines())
