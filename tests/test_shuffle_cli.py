"""``corpuskit shuffle`` and ``corpuskit verify`` on the command line: plan, seed, help, errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import zstandard
from click.testing import CliRunner

from corpuskit.cli import main
from corpuskit.errors import CorpusError
from corpuskit.shuffle import shuffle


def cli(*args, input: bytes | None = None):
    """The command in this process. Its plan subtracts this process's resident memory (~250M late
    in a full pytest run) from --mem, so these runs ask for 1G; processes of their own use 256M."""
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


def corpuskit(*args) -> subprocess.CompletedProcess:
    """The installed command, in a process of its own."""
    return subprocess.run(["corpuskit", *map(str, args)], capture_output=True, timeout=120)


def one_line_error(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("corpuskit: error: "), stderr
    return lines[0]


@pytest.fixture
def src(tmp_path: Path) -> Path:
    path = tmp_path / "in.txt"
    path.write_bytes(b"".join(b"line %d\n" % i for i in range(5000)))
    return path


def test_shuffle_prints_the_plan_and_seed(src, tmp_path):
    result = corpuskit("shuffle", src, tmp_path / "out.txt", "--mem", "256M", "--seed", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b""
    err = result.stderr.decode().splitlines()
    assert err[0] == "seed: 1"
    plan = [line for line in err if line.startswith("plan: ")]
    assert plan and "--mem 256.0M" in plan[0] and "fits in memory" in plan[-1]
    assert re.match(r"shuffled 5,000 records, [\d,]+ bytes in .*, seed 1$", err[-1])
    out = (tmp_path / "out.txt").read_bytes()
    assert Counter(out.splitlines()) == Counter(src.read_bytes().splitlines()) and out != src.read_bytes()
    shuffle(src, tmp_path / "lib.txt", mem="1G", seed=1)
    assert (tmp_path / "lib.txt").read_bytes() == out
    manifest = json.loads((tmp_path / "out.txt.manifest.json").read_text())
    assert manifest["seed"] == 1 and manifest["command"].startswith("corpuskit shuffle ")
    assert manifest["plan"]["buckets"] == 1


def test_drawn_seed_is_printed_and_repeats_the_run(src, tmp_path):
    first = cli("shuffle", src, tmp_path / "a.txt", "--mem", "1G")
    assert first.exit_code == 0, first.output
    seed = int(re.search(r"^seed: (\d+)$", first.stderr, re.M).group(1))
    again = cli("shuffle", src, tmp_path / "b.txt", "--mem", "1G", "--seed", seed)
    assert again.exit_code == 0
    assert (tmp_path / "a.txt").read_bytes() == (tmp_path / "b.txt").read_bytes()
    quiet = cli("shuffle", src, tmp_path / "c.txt", "--mem", "1G", "-q")
    assert (quiet.exit_code, quiet.stdout, quiet.stderr) == (0, "", "")
    seed = json.loads((tmp_path / "c.txt.manifest.json").read_text())["seed"]  # quiet: the manifest has it
    cli("shuffle", src, tmp_path / "d.txt", "--mem", "1G", "--seed", seed, "-q")
    assert (tmp_path / "c.txt").read_bytes() == (tmp_path / "d.txt").read_bytes()


@pytest.mark.parametrize("command, options", [
    ([], ["shuffle", "verify"]),
    (["shuffle"], ["--mem", "--seed", "--tmp", "--compress-temp", "--verify", "--resume", "--workers", "--shards",
                   "--shard-size", "--compress", "--format", "--force", "--quiet"]),
    (["verify"], ["--records", "--in-format", "--field"]),
])
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help(command, options, flag):
    result = cli(*command, flag)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Usage: ")
    for option in options:
        assert option in result.stdout


def test_help_in_a_process_of_its_own():
    result = corpuskit("shuffle", "--help")
    assert result.returncode == 0 and b"--mem" in result.stdout and result.stderr == b""


def test_shuffle_options(src, tmp_path):
    result = cli("shuffle", src, str(tmp_path / "in.txt"), tmp_path / "out", "--mem", "1G", "--seed", "2",
                 "--shards", "3", "--compress", "zst", "--tmp", tmp_path, "--verify", "-q")
    assert result.exit_code == 0, result.output
    parts = sorted((tmp_path / "out").glob("part-*"))
    assert [p.name for p in parts] == [f"part-{i:05d}.txt.zst" for i in range(3)]
    data = b"".join(zstandard.ZstdDecompressor().decompressobj().decompress(p.read_bytes()) for p in parts)
    assert Counter(data.splitlines()) == Counter(src.read_bytes().splitlines() * 2)


@pytest.mark.parametrize("workers", ["1", "3"])
def test_workers_do_not_change_the_output(src, tmp_path, workers):
    shuffle(src, tmp_path / "api.txt", mem="1G", seed=6, buckets=16)
    result = cli("shuffle", src, tmp_path / "out.txt", "--mem", "1G", "--seed", "6", "--workers", workers, "-q")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out.txt").read_bytes() == (tmp_path / "api.txt").read_bytes()


def test_workers_must_be_positive(src, tmp_path):
    result = cli("shuffle", src, tmp_path / "out.txt", "--workers", "0")
    assert result.exit_code == 2 and "--workers" in result.output
    with pytest.raises(CorpusError, match="workers"):
        shuffle(src, tmp_path / "out.txt", workers=0)


def test_shuffle_stdin_to_stdout(src, tmp_path):
    result = cli("shuffle", "-", "-", "--mem", "1G", "--seed", "4", "-q", input=src.read_bytes())
    assert result.exit_code == 0, result.output
    shuffle(src, tmp_path / "file.txt", mem="1G", seed=4)
    assert result.stdout_bytes == (tmp_path / "file.txt").read_bytes()


def test_jsonl_through_the_command(tmp_path):
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({"id": i, "t": "é" * (i % 5)}) + "\n"
                                               for i in range(2000)))
    result = cli("shuffle", tmp_path / "in.jsonl", tmp_path / "out.jsonl.zst", "--mem", "1G", "--seed", "9",
                 "--verify")
    assert result.exit_code == 0, result.output
    assert "verify: OK" in result.stderr
    out = zstandard.ZstdDecompressor().decompressobj().decompress((tmp_path / "out.jsonl.zst").read_bytes())
    assert Counter(out.splitlines()) == Counter((tmp_path / "in.jsonl").read_bytes().splitlines())


# ---- errors: one line, exit 1 ---------------------------------------------------------------------------

def corrupt_zst(path: Path) -> None:
    good = zstandard.ZstdCompressor().compress(b"x\n" * 10_000)
    path.write_bytes(good[:20] + b"\xff" * 16 + good[36:])


@pytest.mark.parametrize("case", ["missing input", "empty glob", "output exists", "output is the input",
                                  "mem too small", "bad mem", "no tmp folder", "corrupt input",
                                  "no output folder", "shards and shard size"])
def test_errors_are_one_line(src, tmp_path, case):
    out = tmp_path / "out.txt"
    args = {
        "missing input": [tmp_path / "nope.txt", out],
        "empty glob": [str(tmp_path / "*.nope"), out],
        "output exists": [src, src.parent / "in.txt.manifest.json"],
        "output is the input": [src, src, "--force"],
        "mem too small": [src, out, "--mem", "10M"],
        "bad mem": [src, out, "--mem", "lots"],
        "no tmp folder": [src, out, "--tmp", tmp_path / "nope"],
        "corrupt input": [tmp_path / "bad.txt.zst", out],
        "no output folder": [src, tmp_path / "nope" / "out.txt"],
        "shards and shard size": [src, tmp_path / "out", "--shards", "2", "--shard-size", "1K"],
    }[case]
    if case == "output exists":
        (src.parent / "in.txt.manifest.json").write_text("{}")
    if case == "corrupt input":
        corrupt_zst(tmp_path / "bad.txt.zst")
    before = sorted(os.listdir(tmp_path))
    memory = [] if "--mem" in args else ["--mem", "1G"]
    result = cli("shuffle", *args, *memory, "--seed", "1", "-q")
    assert result.exit_code == 1, result.output
    line = one_line_error(result.stderr)
    expected = {"missing input": "no such file", "empty glob": "no file matches", "output exists": "exists",
                "output is the input": "input", "mem too small": "too small", "bad mem": "size",
                "no tmp folder": "no such folder", "corrupt input": "corrupt zstd",
                "no output folder": "does not exist", "shards and shard size": "not both"}[case]
    assert expected in line
    assert sorted(os.listdir(tmp_path)) == before


def test_error_in_a_process_of_its_own(tmp_path):
    corrupt_zst(tmp_path / "bad.txt.zst")
    result = corpuskit("shuffle", tmp_path / "bad.txt.zst", tmp_path / "out.txt", "--mem", "256M", "--seed", "1")
    assert result.returncode == 1
    err = result.stderr.decode().splitlines()
    errors = [line for line in err if line.startswith("corpuskit:")]
    assert len(errors) == 1 and "bad.txt.zst" in errors[0] and "corrupt zstd" in errors[0]
    assert all(line.startswith(("seed: ", "plan: ")) for line in err if line not in errors)
    assert sorted(os.listdir(tmp_path)) == ["bad.txt.zst"]


@pytest.mark.parametrize("args", [["shuffle", "in.txt"], ["verify", "in.txt", "in.txt"]])
def test_usage_errors_are_not_internal_errors(src, args, monkeypatch):
    """A usage mistake reaches click (exit 2, a usage hint), not the internal-error handler."""
    monkeypatch.chdir(src.parent)
    result = cli(*args)
    assert result.exit_code == 2 and "internal error" not in result.output
    assert "Usage: " in result.output


# ---- verify -------------------------------------------------------------------------------------------

def test_verify_exit_codes(src, tmp_path):
    shuffle(src, tmp_path / "out.txt", mem="1G", seed=1)
    ok = corpuskit("verify", src, "--", tmp_path / "out.txt")
    assert ok.returncode == 0 and b"OK" in ok.stdout and ok.stderr == b""
    lines = (tmp_path / "out.txt").read_bytes().splitlines(keepends=True)
    (tmp_path / "short.txt").write_bytes(b"".join(lines[:-1]))
    (tmp_path / "changed.txt").write_bytes(b"".join(lines[:-1] + [b"line 99999\n"]))
    (tmp_path / "doubled.txt").write_bytes(b"".join(lines + lines[:1]))
    bad = corpuskit("verify", src, "--", tmp_path / "short.txt")
    assert bad.returncode == 3 and b"MISMATCH" in bad.stdout
    for name in ("changed.txt", "doubled.txt"):
        bad = cli("verify", src, "--", tmp_path / name)
        assert bad.exit_code == 3 and "MISMATCH" in bad.stdout, name
    missing = cli("verify", src, "--", tmp_path / "nope.txt")
    assert missing.exit_code == 1
    assert "nope.txt" in one_line_error(missing.stderr)
