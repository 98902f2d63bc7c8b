"""Temporary disk and nothing lost: temp files go away, space is checked, a full disk is a clear
error, verification proves the output holds the input's records, and --resume picks up after
a run that failed while gathering."""

from __future__ import annotations

import builtins
import dataclasses
import errno
import importlib
import json
import os
import re
import resource
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from click.testing import CliRunner

from corpuskit import read, write
from corpuskit.cli import main
from corpuskit.errors import CorpusError, InputError
from corpuskit.io.paths import detect
from corpuskit.shuffle import fingerprint, shuffle
from corpuskit.units import parse_size

# Modules by name: ``corpuskit.shuffle`` as an attribute is the function, not the package.
shuffle_module = importlib.import_module("corpuskit.shuffle")
plan_module = importlib.import_module("corpuskit.shuffle.plan")
shuffle_lines_module = importlib.import_module("corpuskit.shuffle.lines")
spill_module = importlib.import_module("corpuskit.shuffle.spill")
writer_module = importlib.import_module("corpuskit.io.writer")

# The plan subtracts this process's resident memory (~250M late in a full pytest run) from
# --mem, so in-process runs ask for 1G; the command-line tests in a process of their own use 256M.
MEM = "1G"
SEED = 5
N = 20_000


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "in.txt"
    path.write_bytes(b"".join(b"line %d %s\n" % (i, b"x" * (i % 37)) for i in range(N)))
    return path


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    """The folder for temporary buckets, checked empty by the tests."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    return folder


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def one_line_error(result, exit_code: int = 1) -> str:
    assert result.exit_code == exit_code, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("corpuskit: ")]
    assert len(errors) == 1 and errors[0].startswith("corpuskit: error: "), result.stderr
    assert all(line.startswith(("seed: ", "plan: ")) for line in result.stderr.splitlines() if line not in errors)
    return errors[0]


class _FullDisk:
    """A file whose writes fail as on a full disk (after ``allow`` successful writes).

    With ``at_close``, writes pass but the final flush fails, as when the last
    buffered bytes find the disk full.
    """

    def __init__(self, file, allow: int = 0, at_close: bool = False) -> None:
        self._file = file
        self._allow = allow
        self._at_close = at_close

    def write(self, data):
        if self._at_close:
            return len(memoryview(data).cast("B"))  # "buffered", never to arrive
        if self._allow <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._allow -= 1
        return self._file.write(data)

    def close(self):
        closed = self._file.closed
        self._file.close()
        if self._at_close and not closed:  # like a buffered file: the failed close still closes it
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __getattr__(self, name):
        return getattr(self._file, name)


def fill_disk(monkeypatch, module, times: int | None = None, allow: int = 0, at_close: bool = False,
              only: str = "") -> None:
    """Files that ``module`` opens for writing fail with ENOSPC (the first ``times`` opened, or all;
    only those whose name contains ``only``)."""
    remaining = [times]

    def full_open(path, mode="r", *args, **kwargs):
        f = builtins.open(path, mode, *args, **kwargs)
        if ("w" in mode or "a" in mode) and only in os.fspath(path) and (remaining[0] is None or remaining[0] > 0):
            if remaining[0] is not None:
                remaining[0] -= 1
            return _FullDisk(f, allow, at_close)
        return f

    monkeypatch.setattr(module, "open", full_open, raising=False)


def fill_placed_output(monkeypatch, at_close: bool = False) -> None:
    """The one pass's writes at an offset find the disk full: when the file's space is reserved,
    or (``at_close``) on a system that reserves nothing, after part of the first piece is written."""
    def no_space(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    if not at_close:
        monkeypatch.setattr(os, "posix_fallocate", no_space)
        return
    monkeypatch.delattr(os, "posix_fallocate", raising=False)
    pwrite, calls = os.pwrite, [0]

    def part_then_full(fd, data, offset):
        calls[0] += 1
        if calls[0] > 1:
            no_space()
        return pwrite(fd, memoryview(data)[: len(data) // 2], offset)

    monkeypatch.setattr(os, "pwrite", part_then_full)


def no_output_left(folder: Path) -> None:
    """Nothing under the output's name and no hidden temporary beside it."""
    assert os.listdir(folder) == [], os.listdir(folder)


# ---- temporary files go away ---------------------------------------------------------------------

@pytest.mark.parametrize("options", [dict(buckets=16), dict(buckets=64, compress_temp=True), dict(buckets=1),
                                     dict(buckets=16, resume=True), dict(buckets=16, shards=3)], ids=repr)
def test_temp_files_removed_on_success(corpus, tmp, out_dir, options):
    shuffle(corpus, out_dir / "out.txt", mem=MEM, seed=SEED, tmp=str(tmp), **options)
    assert os.listdir(tmp) == []


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts open files in /proc")
def test_open_files_are_bounded_whatever_the_bucket_count(corpus, tmp, out_dir, monkeypatch):
    files_module = importlib.import_module("corpuskit.shuffle.files")
    before = len(os.listdir("/proc/self/fd"))
    most = [0]
    write = spill_module.Spill._write

    def counting(self, file, buffers):
        write(self, file, buffers)
        most[0] = max(most[0], len(os.listdir("/proc/self/fd")) - before)

    monkeypatch.setattr(spill_module.Spill, "_write", counting)
    shuffle(corpus, out_dir / "out.txt", mem=MEM, seed=SEED, tmp=str(tmp), buckets=4096)
    assert 0 < most[0] <= files_module.SPILL_FILES + 4


@pytest.mark.parametrize("resume", [False, True])
def test_temp_files_go_while_the_gather_runs(corpus, tmp, out_dir, monkeypatch, resume):
    """Each temporary file is deleted once its buckets are gathered (kept whole for --resume)."""
    left = []
    release = spill_module.Spill.release

    def counting(self, bucket):
        release(self, bucket)
        left.append(sum(os.path.exists(p) for p in self.paths()))

    monkeypatch.setattr(spill_module.Spill, "release", counting)
    shuffle(corpus, out_dir / "out.txt", mem=MEM, seed=SEED, tmp=str(tmp), buckets=64, resume=resume)
    files = importlib.import_module("corpuskit.shuffle.files").SPILL_FILES
    assert len(left) == 64
    if resume:
        assert left == [files] * 64
    else:  # two workers release at once, so a count may be one file behind the other's
        assert left[0] == files and left[31] <= files // 2 + 1 and min(left) <= 1


def test_temp_files_removed_after_buckets_split(corpus, tmp, out_dir, monkeypatch):
    original = shuffle_module.make_plan
    monkeypatch.setattr(shuffle_module, "make_plan",
                        lambda *a, **k: dataclasses.replace(original(*a, **k), bucket_budget=20_000))
    said = []
    shuffle(corpus, out_dir / "out.txt", mem=MEM, seed=SEED, tmp=str(tmp), buckets=4, log=said.append)
    assert any("splitting" in s for s in said)
    assert os.listdir(tmp) == []


def test_stage_temp_files_removed(corpus, tmp, out_dir):
    (read(corpus) | shuffle(mem=MEM, seed=SEED, buckets=16, tmp=str(tmp)) | write(out_dir / "out.txt")).run(
        progress=False)
    assert os.listdir(tmp) == []


@pytest.fixture
def glob_with_corrupt_file(tmp_path: Path) -> str:
    """Three inputs, the middle one a corrupt zstd file: the error comes half-way through."""
    folder = tmp_path / "inputs"
    folder.mkdir()
    (folder / "a.txt.zst").write_bytes(zstandard.ZstdCompressor().compress(b"a\n" * 30_000))
    good = zstandard.ZstdCompressor().compress(b"b\n" * 30_000)
    (folder / "b.txt.zst").write_bytes(good[:20] + b"\xff" * 16 + good[36:])
    (folder / "c.txt.zst").write_bytes(zstandard.ZstdCompressor().compress(b"c\n" * 30_000))
    return str(folder / "*.txt.zst")


@pytest.mark.parametrize("options", [dict(buckets=16), dict(buckets=None), dict(buckets=16, resume=True),
                                     dict(buckets=16, shards=4)], ids=repr)
def test_temp_files_removed_on_error(glob_with_corrupt_file, tmp, out_dir, options):
    with pytest.raises(InputError, match=r"b\.txt\.zst: corrupt zstd"):
        shuffle(glob_with_corrupt_file, out_dir / "out.txt", mem=MEM, seed=SEED, tmp=str(tmp), **options)
    assert os.listdir(tmp) == []
    no_output_left(out_dir)


def test_truncated_input_is_an_error_and_leaves_nothing(tmp_path, tmp, out_dir):
    data = zstandard.ZstdCompressor().compress(b"".join(b"%d\n" % i for i in range(50_000)))
    (tmp_path / "cut.txt.zst").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated"):
        shuffle(tmp_path / "cut.txt.zst", out_dir / "out.txt", mem=MEM, seed=SEED, tmp=str(tmp), buckets=16)
    assert os.listdir(tmp) == []
    no_output_left(out_dir)


@pytest.mark.parametrize("buckets", [None, 16])
def test_stage_and_arrow_path_remove_temp_files_on_error(glob_with_corrupt_file, tmp, out_dir, buckets):
    with pytest.raises(InputError):
        (read(glob_with_corrupt_file) | shuffle(mem=MEM, seed=SEED, buckets=buckets, tmp=str(tmp))
         | write(out_dir / "out.txt")).run(progress=False)
    with pytest.raises(InputError):  # text in, JSONL out: the Arrow records path
        shuffle(glob_with_corrupt_file, out_dir / "out.jsonl", mem=MEM, seed=SEED, buckets=buckets, tmp=str(tmp))
    assert os.listdir(tmp) == []
    no_output_left(out_dir)


# ---- free space is checked before any work ---------------------------------------------------------

@pytest.mark.parametrize("buckets", [None, 16])
def test_not_enough_space_is_a_clear_error(corpus, tmp, out_dir, monkeypatch, buckets):
    asked = []

    def little_space(path):
        asked.append(os.fspath(path))
        return shutil_usage(total=1 << 30, used=(1 << 30) - 1000, free=1000)

    monkeypatch.setattr(plan_module.shutil, "disk_usage", little_space)
    with pytest.raises(CorpusError) as caught:
        shuffle(corpus, out_dir / "out.txt", mem=MEM, seed=SEED, tmp=str(tmp), buckets=buckets)
    message = str(caught.value)
    assert "not enough disk space" in message and "1000B is free" in message
    need = re.search(r"needs about (\d+(?:\.\d+)?[KMGT]?)", message)
    assert need, message
    # The output alone needs the input's size; with buckets, temporary space comes on top.
    assert parse_size(need.group(1)) >= corpus.stat().st_size * (1.5 if buckets else 0.99)
    assert asked
    assert os.listdir(tmp) == []
    no_output_left(out_dir)


def shutil_usage(total: int, used: int, free: int):
    import shutil

    return shutil._ntuple_diskusage(total, used, free)


def test_enough_space_passes_the_check(corpus, tmp, out_dir, monkeypatch):
    monkeypatch.setattr(plan_module.shutil, "disk_usage",
                        lambda path: shutil_usage(1 << 50, 0, 1 << 50))
    shuffle(corpus, out_dir / "out.txt", mem=MEM, seed=SEED, tmp=str(tmp), buckets=16)
    assert len((out_dir / "out.txt").read_bytes().splitlines()) == N


def test_not_enough_space_on_the_command_line(corpus, tmp, out_dir, monkeypatch):
    monkeypatch.setattr(plan_module.shutil, "disk_usage", lambda path: shutil_usage(1 << 30, 0, 10))
    line = one_line_error(cli("shuffle", corpus, out_dir / "out.txt", "--mem", MEM, "--tmp", tmp))
    assert "not enough disk space" in line
    no_output_left(out_dir)


# ---- a full disk ---------------------------------------------------------------------------------

@pytest.mark.parametrize("how", [dict(allow=0), dict(allow=5), dict(at_close=True),
                                 dict(only="index.npz")], ids=repr)
def test_full_temp_disk_is_a_clear_error(corpus, tmp, out_dir, monkeypatch, how):
    fill_disk(monkeypatch, spill_module, **how)
    with pytest.raises(CorpusError, match="space") as caught:
        shuffle(corpus, out_dir / "out.txt", mem=MEM, seed=SEED, tmp=str(tmp), buckets=16)
    assert "temporary" in str(caught.value)
    assert os.listdir(tmp) == []
    no_output_left(out_dir)


@pytest.mark.parametrize("at_close", [False, True])
@pytest.mark.parametrize("options", [dict(buckets=16), dict(buckets=None), dict(buckets=16, shards=3),
                                     dict(buckets=16, resume=True)], ids=repr)
def test_full_output_disk_is_a_clear_error(corpus, tmp, out_dir, monkeypatch, options, at_close):
    fill_disk(monkeypatch, writer_module, at_close=at_close)
    fill_placed_output(monkeypatch, at_close=at_close)
    target = out_dir / ("out" if options.get("shards") else "out.txt")
    with pytest.raises(CorpusError, match="space"):
        shuffle(corpus, target, mem=MEM, seed=SEED, tmp=str(tmp), **options)
    no_output_left(out_dir)
    if not options.get("resume"):
        assert os.listdir(tmp) == []


@pytest.mark.skipif(not hasattr(os, "posix_fallocate"), reason="reserves the output's space up front")
def test_a_real_file_size_limit_is_a_clear_error_before_anything_is_written(corpus, out_dir):
    """``prlimit --fsize`` below the output's size, not a patched write: the one pass reserves the
    output's space first, so it fails before writing and leaves nothing."""
    data = corpus.read_bytes()
    limit = len(data) // 2

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    run = subprocess.run([sys.executable, "-m", "corpuskit.cli", "shuffle", str(corpus), str(out_dir / "out.txt"),
                          "--mem", MEM, "--seed", "1", "-q"], capture_output=True, text=True, preexec_fn=limited)
    assert run.returncode == 1, run.stderr
    assert re.search(rf"out\.txt: cannot write {len(data):,} bytes \(File too large\)", run.stderr), run.stderr
    no_output_left(out_dir)
    assert corpus.read_bytes() == data


@pytest.mark.parametrize("module", [writer_module, spill_module], ids=["output", "temp"])
def test_full_disk_on_the_command_line(corpus, tmp, out_dir, monkeypatch, module):
    original = shuffle_module.make_plan  # the command has no --buckets: force the external path
    monkeypatch.setattr(shuffle_module, "make_plan", lambda specs, mem, compress, buckets=None, workers=2:
                        original(specs, mem, compress, 16, workers))
    fill_disk(monkeypatch, module, at_close=True)
    line = one_line_error(cli("shuffle", corpus, out_dir / "out.txt", "--mem", MEM, "--seed", "1",
                              "--tmp", tmp, "-q"))
    assert "space" in line
    no_output_left(out_dir)
    assert os.listdir(tmp) == []


# ---- resume after a failure while gathering ----------------------------------------------------------

def test_resume_continues_from_the_saved_scatter(corpus, tmp, out_dir, tmp_path, monkeypatch):
    shuffle(corpus, tmp_path / "clean.txt", mem=MEM, seed=SEED, buckets=16)
    fill_disk(monkeypatch, writer_module, times=1)  # the output fails once, after the scatter
    said = []
    with pytest.raises(CorpusError, match="space"):
        shuffle(corpus, out_dir / "out.txt", mem=MEM, seed=SEED, tmp=str(tmp), buckets=16, resume=True,
                log=said.append)
    assert any("--resume" in s for s in said), said
    assert len(os.listdir(tmp)) == 1  # the finished scatter is kept
    no_output_left(out_dir)

    said.clear()
    result = shuffle(corpus, out_dir / "out.txt", mem=MEM, seed=SEED, tmp=str(tmp), buckets=16, resume=True,
                     log=said.append)
    assert any(s.startswith("resume") for s in said), said
    assert (out_dir / "out.txt").read_bytes() == (tmp_path / "clean.txt").read_bytes()
    assert result.records == N
    assert os.listdir(tmp) == []


def test_resume_with_verify_scatters_again_and_matches(corpus, tmp, out_dir, tmp_path, monkeypatch):
    shuffle(corpus, tmp_path / "clean.txt", mem=MEM, seed=SEED, buckets=16)
    fill_disk(monkeypatch, writer_module, times=1)
    with pytest.raises(CorpusError):
        shuffle(corpus, out_dir / "out.txt", mem=MEM, seed=SEED, tmp=str(tmp), buckets=16, resume=True)
    result = shuffle(corpus, out_dir / "out.txt", mem=MEM, seed=SEED, tmp=str(tmp), buckets=16, resume=True,
                     verify=True)
    assert result.verified["match"] and result.verified["input"]["records"] == N
    assert (out_dir / "out.txt").read_bytes() == (tmp_path / "clean.txt").read_bytes()


def test_resume_ignores_a_scatter_of_other_inputs(corpus, tmp, out_dir, tmp_path, monkeypatch):
    fill_disk(monkeypatch, writer_module, times=1)
    with pytest.raises(CorpusError):
        shuffle(corpus, out_dir / "out.txt", mem=MEM, seed=SEED, tmp=str(tmp), buckets=16, resume=True)
    with open(corpus, "ab") as f:
        f.write(b"one more line\n")
    shuffle(corpus, tmp_path / "clean.txt", mem=MEM, seed=SEED, buckets=16)
    said = []
    shuffle(corpus, out_dir / "out.txt", mem=MEM, seed=SEED, tmp=str(tmp), buckets=16, resume=True,
            log=said.append)
    assert not any(s.startswith("resume") for s in said)
    assert (out_dir / "out.txt").read_bytes() == (tmp_path / "clean.txt").read_bytes()


def test_resume_with_a_damaged_index_scatters_again(corpus, tmp, out_dir, tmp_path, monkeypatch):
    shuffle(corpus, tmp_path / "clean.txt", mem=MEM, seed=SEED, buckets=16)
    fill_disk(monkeypatch, writer_module, times=1)
    with pytest.raises(CorpusError):
        shuffle(corpus, out_dir / "out.txt", mem=MEM, seed=SEED, tmp=str(tmp), buckets=16, resume=True)
    (area,) = tmp.iterdir()
    (area / "index.npz").write_bytes(b"PK\x03\x04 not a whole zip")
    said = []
    shuffle(corpus, out_dir / "out.txt", mem=MEM, seed=SEED, tmp=str(tmp), buckets=16, resume=True,
            log=said.append)
    assert not any(s.startswith("resume") for s in said)
    assert (out_dir / "out.txt").read_bytes() == (tmp_path / "clean.txt").read_bytes()
    assert os.listdir(tmp) == []


def test_resume_on_the_command_line(corpus, tmp, out_dir, tmp_path, monkeypatch):
    original = shuffle_module.make_plan  # the command has no --buckets: force the external path
    monkeypatch.setattr(shuffle_module, "make_plan", lambda specs, mem, compress, buckets=None, workers=2:
                        original(specs, mem, compress, 16, workers))
    fill_disk(monkeypatch, writer_module, times=1)
    args = ["shuffle", corpus, out_dir / "out.txt", "--mem", MEM, "--seed", "3", "--tmp", tmp, "--resume"]
    failed = cli(*args)
    assert failed.exit_code == 1 and "space" in failed.stderr and "--resume" in failed.stderr
    resumed = cli(*args)
    assert resumed.exit_code == 0, resumed.output
    assert "resume: scatter already done" in resumed.stderr
    assert os.listdir(tmp) == []
    shuffle(corpus, tmp_path / "clean.txt", mem=MEM, seed=3)
    assert (out_dir / "out.txt").read_bytes() == (tmp_path / "clean.txt").read_bytes()


# ---- verification --------------------------------------------------------------------------------------

@pytest.mark.parametrize("options", [dict(buckets=None), dict(buckets=16), dict(buckets=64, shards=5),
                                     dict(buckets=16, compress="zst")], ids=repr)
def test_verify_reports_a_match(corpus, out_dir, options):
    name = "out.txt.zst" if options.get("compress") else "out.txt"
    result = shuffle(corpus, out_dir / name, mem=MEM, seed=SEED, verify=True, **options)
    assert result.verified["match"] is True
    assert result.verified["input"] == result.verified["output"]
    assert result.verified["input"]["records"] == N
    assert "verify: OK" in result.summary()
    target = out_dir / name
    assert fingerprint(corpus) == fingerprint(target if target.is_file() else str(target / "part-*"))


def test_verify_reports_a_match_for_odd_bytes(tmp_path, out_dir):
    (tmp_path / "odd.txt").write_bytes(b"crlf\r\n\x00nul\n\xff\xfe\n\n\ndup\ndup\nlast")
    for buckets in (None, 4):
        result = shuffle(tmp_path / "odd.txt", out_dir / f"out{buckets}.txt", mem=MEM, seed=1, verify=True,
                         buckets=buckets)
        assert result.verified["match"] and result.verified["input"]["records"] == 8


def test_verify_reports_a_match_for_parquet(tmp_path, out_dir):
    records = [{"id": i, "text": f"r{i}", "v": [i, i + 1]} for i in range(3000)]
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "in.parquet")
    result = shuffle(tmp_path / "in.parquet", out_dir / "out.parquet", mem=MEM, seed=1, verify=True, buckets=16)
    assert result.verified["match"]


@pytest.mark.parametrize("buckets", [None, 16])
def test_verify_reports_a_match_for_parquet_and_jsonl_into_jsonl(tmp_path, out_dir, buckets):
    records = [{"text": f"r{i} é", "id": i, "v": [i, i + 1], "m": {"b": i % 3, "a": None}} for i in range(3000)]
    pq.write_table(pa.Table.from_pylist(records[:1000]), tmp_path / "a.parquet")
    (tmp_path / "b.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records[1000:]))
    inputs = [tmp_path / "a.parquet", tmp_path / "b.jsonl"]
    result = shuffle(inputs, out_dir / "out.jsonl", mem=MEM, seed=1, verify=True, buckets=buckets)
    assert result.verified["match"] and result.verified["input"]["records"] == 3000
    assert fingerprint(inputs, records=True) == fingerprint(out_dir / "out.jsonl", records=True)
    assert cli("verify", "--records", *inputs, "--", out_dir / "out.jsonl").exit_code == 0
    lines = (out_dir / "out.jsonl").read_text().splitlines()
    (out_dir / "out.jsonl").write_text("".join(line + "\n" for line in lines[1:]))
    assert cli("verify", "--records", *inputs, "--", out_dir / "out.jsonl").exit_code == 3


@pytest.fixture
def shuffled(corpus, out_dir) -> Path:
    shuffle(corpus, out_dir / "out.txt", mem=MEM, seed=SEED, buckets=16)
    return out_dir / "out.txt"


def test_verify_command_accepts_a_true_shuffle(corpus, shuffled, out_dir):
    result = cli("verify", corpus, "--", shuffled)
    assert result.exit_code == 0, result.output
    assert "OK" in result.stdout
    shuffle(corpus, out_dir / "shards", mem=MEM, seed=SEED, shards=3)
    assert cli("verify", corpus, "--", out_dir / "shards").exit_code == 0
    assert cli("verify", corpus, "--", *sorted((out_dir / "shards").glob("part-*"))).exit_code == 0


def _edit(lines: list[bytes], how: str) -> list[bytes]:
    lines = list(lines)
    if how == "removed":
        del lines[1234]
    elif how == "changed":
        lines[1234] = lines[1234] + b"!"
    elif how == "duplicated":
        lines.insert(99, lines[5000])
    elif how == "swapped":  # one record duplicated in place of another: same count
        lines[1234] = lines[4321]
    elif how == "added":
        lines.append(b"new")
    elif how == "newline lost":
        lines[10] = lines[10] + lines.pop(11)
    return lines


@pytest.mark.parametrize("how", ["removed", "changed", "duplicated", "swapped", "added", "newline lost"])
def test_verify_command_catches_a_damaged_output(corpus, shuffled, how):
    lines = shuffled.read_bytes().split(b"\n")[:-1]
    shuffled.write_bytes(b"".join(line + b"\n" for line in _edit(lines, how)))
    result = cli("verify", corpus, "--", shuffled)
    assert result.exit_code == 3, result.output
    assert "MISMATCH" in result.stdout


def test_verify_command_needs_the_separator(corpus, shuffled):
    result = cli("verify", corpus, shuffled)
    assert result.exit_code != 0 and "--" in result.output


def test_shuffle_verify_flag_on_the_command_line(corpus, out_dir):
    result = cli("shuffle", corpus, out_dir / "out.txt", "--mem", MEM, "--seed", "1", "--verify")
    assert result.exit_code == 0, result.output
    assert "verify: OK" in result.stderr
    assert Counter((out_dir / "out.txt").read_bytes().splitlines()) == Counter(corpus.read_bytes().splitlines())


# ---- the plan keeps its own bookkeeping within --mem ----------------------------------------------

@pytest.mark.parametrize("gib", [1, 10, 100, 1000])
def test_plan_keeps_scatter_and_piece_index_within_memory(corpus, monkeypatch, gib):
    """Pieces grow with groups x buckets; past a fifth of memory the plan takes fewer, larger
    buckets and says they will be split again, rather than let the index outgrow --mem."""
    monkeypatch.setattr(plan_module, "_content_size", lambda spec: gib << 30)
    plan = plan_module.make_plan([detect(str(corpus))], 1 << 30, compress=False)
    index = plan_module.PIECE_COST * plan_module.groups_of(plan.data_bytes, plan.group_bytes) * plan.buckets
    assert index <= plan.usable * plan_module.INDEX_SHARE
    in_flight = shuffle_lines_module.BLOCKS_IN_FLIGHT * plan.block_size + 2 * plan.group_bytes
    assert in_flight + index <= plan.usable
    too_big = plan_module.BYTES_FACTOR * plan.data_bytes / plan.buckets > plan.bucket_budget
    assert too_big == (gib >= 100)
    assert ("split again" in plan.describe()) == too_big


@pytest.mark.parametrize("workers", [1, 2, 4, 8])
def test_plan_gives_each_worker_its_share_of_memory(corpus, monkeypatch, workers):
    """``workers`` buckets are sorted while one more is written: all of them fit in --mem."""
    monkeypatch.setattr(plan_module, "_content_size", lambda spec: 10 << 30)
    plan = plan_module.make_plan([detect(str(corpus))], 1 << 30, compress=False, workers=workers)
    assert (workers + 1) * plan.bucket_budget <= plan.usable
    assert plan.bucket_budget >= plan.usable // (workers + 1) // 2
