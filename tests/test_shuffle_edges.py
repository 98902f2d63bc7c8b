"""Edges: empty inputs, odd bytes, sizes on read-block and bucket boundaries, refused outputs,
and a line too long for --mem."""

from __future__ import annotations

import collections
import dataclasses
import importlib
import io
import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpuskit import read, write
from corpuskit.errors import CorpusError, InputError, OutputError
from corpuskit.io.lines import iter_blocks
from corpuskit.shuffle import shuffle

shuffle_module = importlib.import_module("corpuskit.shuffle")  # the attribute corpuskit.shuffle is the function
files_module = importlib.import_module("corpuskit.shuffle.files")
shuffle_lines_module = importlib.import_module("corpuskit.shuffle.lines")

# The plan subtracts this process's resident memory (~250M late in a full pytest run) from
# --mem, so in-process runs ask for 1G; the command-line tests in a process of their own use 256M.
MEM = "1G"
SEED = 3


def lines_in(data: bytes) -> list[bytes]:
    """The lines of a file as records: a last line without ``\\n`` is still a line."""
    if not data:
        return []
    return (data if data.endswith(b"\n") else data + b"\n").split(b"\n")[:-1]


def check_permutation(src: bytes, out: bytes) -> None:
    """The output holds exactly the input's lines, each ending with ``\\n``."""
    assert out == b"" or out.endswith(b"\n")
    assert Counter(lines_in(out)) == Counter(lines_in(src))
    assert len(out) == len(src) + (0 if src == b"" or src.endswith(b"\n") else 1)


def plan_with(monkeypatch, **changes) -> None:
    original = shuffle_module.make_plan
    monkeypatch.setattr(shuffle_module, "make_plan",
                        lambda *a, **k: dataclasses.replace(original(*a, **k), **changes))


# ---- empty inputs -----------------------------------------------------------------------------------

@pytest.mark.parametrize("buckets", [None, 16])
@pytest.mark.parametrize("name", ["empty.txt", "empty.jsonl", "empty.txt.zst", "empty.txt.gz"])
def test_empty_input_gives_empty_output(tmp_path, name, buckets):
    src = tmp_path / name
    if name.endswith(".zst"):
        src.write_bytes(zstandard.ZstdCompressor().compress(b""))
    elif name.endswith(".gz"):
        import gzip

        src.write_bytes(gzip.compress(b""))
    else:
        src.write_bytes(b"")
    out = tmp_path / ("out.jsonl" if "jsonl" in name else "out.txt")
    result = shuffle(src, out, mem=MEM, seed=SEED, buckets=buckets, verify=True, tmp=str(tmp_path))
    assert out.read_bytes() == b""
    assert result.records == 0 and result.verified["match"]
    assert sorted(os.listdir(tmp_path)) == sorted([name, out.name, out.name + ".manifest.json"])


@pytest.mark.parametrize("buckets", [None, 16])
def test_empty_files_among_others(tmp_path, buckets):
    (tmp_path / "a.txt").write_bytes(b"")
    (tmp_path / "b.txt").write_bytes(b"b1\nb2\n")
    (tmp_path / "c.txt").write_bytes(b"")
    shuffle(str(tmp_path / "*.txt"), tmp_path / "out.dat", mem=MEM, seed=SEED, buckets=buckets)
    assert sorted(lines_in((tmp_path / "out.dat").read_bytes())) == [b"b1", b"b2"]


@pytest.mark.parametrize("buckets", [None, 16])
def test_empty_input_through_the_stage(tmp_path, buckets):
    (tmp_path / "e.txt").write_bytes(b"")
    stats = (read(tmp_path / "e.txt") | shuffle(mem=MEM, seed=SEED, buckets=buckets, tmp=str(tmp_path))
             | write(tmp_path / "out.txt")).run(progress=False)
    assert stats.records == 0 and (tmp_path / "out.txt").read_bytes() == b""


def test_empty_input_into_shards(tmp_path):
    (tmp_path / "e.txt").write_bytes(b"")
    shuffle(tmp_path / "e.txt", tmp_path / "out", mem=MEM, seed=SEED, buckets=16, shards=3)
    assert [(p.name, p.stat().st_size) for p in sorted((tmp_path / "out").glob("part-*"))] == [
        ("part-00000.txt", 0), ("part-00001.txt", 0), ("part-00002.txt", 0)]


# ---- odd bytes survive byte for byte -------------------------------------------------------------------

ODD = [b"crlf\r", b"\r", b"", b"\x00", b"nul\x00in\x00the middle", b"\xff\xfe invalid utf-8 \xc3\x28",
       b"\xe8\xaf\x8d utf-8", b"  spaces  ", b"\t", b"dup", b"dup", b"{\"json\": 1}", b"\x1a\x1b\x7f"]


@pytest.mark.parametrize("final_newline", [True, False])
@pytest.mark.parametrize("buckets", [None, 1, 4, 64])
def test_odd_bytes_survive(tmp_path, buckets, final_newline):
    src = b"\n".join(ODD * 50) + (b"\n" if final_newline else b"")
    (tmp_path / "in.txt").write_bytes(src)
    shuffle(tmp_path / "in.txt", tmp_path / "out.txt", mem=MEM, seed=SEED, buckets=buckets)
    out = (tmp_path / "out.txt").read_bytes()
    check_permutation(src, out)
    assert out.count(b"\r\n") == src.count(b"\r\n")


@pytest.mark.parametrize("buckets", [None, 16])
def test_odd_bytes_survive_the_stage(tmp_path, buckets):
    src = b"\n".join(ODD * 20)  # no final newline
    (tmp_path / "in.txt").write_bytes(src)
    (read(tmp_path / "in.txt") | shuffle(mem=MEM, seed=SEED, buckets=buckets) | write(tmp_path / "out.txt")).run(
        progress=False)
    shuffle(tmp_path / "in.txt", tmp_path / "file.txt", mem=MEM, seed=SEED)
    check_permutation(src, (tmp_path / "out.txt").read_bytes())
    assert (tmp_path / "out.txt").read_bytes() == (tmp_path / "file.txt").read_bytes()


quick = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@quick
@given(lines=st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=60),
       final_newline=st.booleans(), buckets=st.sampled_from([1, 2, 4, 64]),
       block_size=st.sampled_from([1, 7, 64, 1 << 20]))
def test_any_bytes_any_layout(fresh, lines, final_newline, buckets, block_size):
    folder = fresh()
    src = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    (folder / "in.txt").write_bytes(src)
    shuffle(folder / "in.txt", folder / "ref.txt", mem=MEM, seed=SEED, buckets=1)
    with pytest.MonkeyPatch.context() as monkeypatch:
        plan_with(monkeypatch, block_size=block_size)
        shuffle(folder / "in.txt", folder / "out.txt", mem=MEM, seed=SEED, buckets=buckets, tmp=str(folder))
    check_permutation(src, (folder / "out.txt").read_bytes())
    assert (folder / "out.txt").read_bytes() == (folder / "ref.txt").read_bytes()


# Found by test_any_bytes_any_layout: a line longer than the read block took a fresh buffer of
# iter_blocks' reuse ring on every read that grew it, so the ring turned faster than blocks were
# yielded and a block still queued for the scatter was overwritten (bytes moved between lines).
LONG_LINE_AFTER_SHORT_ONES = [
    [b"\x01\x12", b"\x00\x00\x00\x00", b"\x00\x00", b"\x00\x00\x00\x00\x00"],
    [b"\x00\x00", b"\x00\x00", b"\x00\x00\x00\x00", b"\x00\x00\x00"],
    [b"", b"\x00\x00\x00\x00", b"\x01", b"\x00\x00", b"\x00\x00\x00\x00\x00"],
    [b"ab", b"cdef", b"gh", b"ijklm"],
]


def furthest_prefetch(items, depth: int = 2):
    """``prefetch`` without its thread, always as far ahead as the thread can get: ``depth``
    items queued, one waiting to be queued and one being read (so a race is a certainty)."""
    window: collections.deque = collections.deque()
    for item in items:
        window.append(item)
        if len(window) > depth + 2:
            yield window.popleft()
    yield from window


@pytest.mark.parametrize("final_newline", [False, True])
@pytest.mark.parametrize("lines", LONG_LINE_AFTER_SHORT_ONES)
def test_lines_longer_than_the_read_block_keep_queued_blocks(tmp_path, monkeypatch, lines, final_newline):
    src = b"\n".join(lines) + (b"\n" if final_newline else b"")
    (tmp_path / "in.txt").write_bytes(src)
    shuffle(tmp_path / "in.txt", tmp_path / "ref.txt", mem=MEM, seed=SEED, buckets=1)
    plan_with(monkeypatch, block_size=1)
    monkeypatch.setattr(shuffle_lines_module, "prefetch", furthest_prefetch)
    shuffle(tmp_path / "in.txt", tmp_path / "out.txt", mem=MEM, seed=SEED, buckets=2, tmp=str(tmp_path))
    check_permutation(src, (tmp_path / "out.txt").read_bytes())
    assert (tmp_path / "out.txt").read_bytes() == (tmp_path / "ref.txt").read_bytes()


@pytest.mark.parametrize("reuse", [1, 2, 6])
@pytest.mark.parametrize("block_size", [1, 2, 3])
def test_iter_blocks_reuse_keeps_the_last_blocks(reuse, block_size):
    """With reuse=N a block's memory is used again only N yielded blocks later, however many
    reads it took to grow a long line."""
    data = b"\n".join([b"\x01\x12", b"\x00" * 4, b"\x00" * 2, b"\x00" * 5, b"x" * 40, b"y", b"z" * 9])
    held: list[tuple] = []
    for block in iter_blocks(io.BytesIO(data), block_size, terminate=True, reuse=reuse):
        held = held[-(reuse - 1):] if reuse > 1 else []
        assert all(bytes(b) == copy for b, copy in held)
        held.append((block, bytes(block)))
    assert all(bytes(b) == copy for b, copy in held)
    blocks = [bytes(b) for b in iter_blocks(io.BytesIO(data), block_size, terminate=True, reuse=reuse)]
    assert b"".join(blocks) == data + b"\n"


# ---- sizes on read-block and bucket boundaries ------------------------------------------------------

BLOCK = 64


def boundary_inputs() -> dict[str, bytes]:
    """Files whose size or lines fall on, just before or just after a read block of BLOCK bytes.

    ``size{S}-line{L}``: lines of L bytes (with their newline) cut at S bytes; a ``-nofinal``
    variant drops the final newline, a ``-final`` one adds it where the cut fell mid-line.
    """
    cases = {}
    for size in (BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK, 2 * BLOCK + 1, 5 * BLOCK):
        for line in (1, 7, BLOCK - 1, BLOCK, BLOCK + 1):
            body = b"".join((b"%d." % i * line)[: line - 1] + b"\n" for i in range(size // line + 1))[:size]
            cases[f"size{size}-line{line}"] = body
            if body.endswith(b"\n"):
                cases[f"size{size}-line{line}-nofinal"] = body[:-1]
            else:
                cases[f"size{size}-line{line}-final"] = body + b"\n"
    cases["one-long-line"] = b"x" * (3 * BLOCK + 5)
    cases["long-line-on-boundary"] = b"a" * (BLOCK - 1) + b"\n" + b"b" * (2 * BLOCK - 1) + b"\n"
    cases["only-newlines"] = b"\n" * (2 * BLOCK)
    return cases


BOUNDARY = boundary_inputs()


@pytest.mark.parametrize("name", sorted(BOUNDARY))
def test_read_block_boundaries_lose_and_duplicate_nothing(tmp_path, monkeypatch, name):
    src = BOUNDARY[name]
    (tmp_path / "in.txt").write_bytes(src)
    shuffle(tmp_path / "in.txt", tmp_path / "ref.txt", mem=MEM, seed=SEED)  # default (large) blocks
    plan_with(monkeypatch, block_size=BLOCK)
    for buckets in (1, 4):
        out = tmp_path / f"out{buckets}.txt"
        result = shuffle(tmp_path / "in.txt", out, mem=MEM, seed=SEED, buckets=buckets, verify=True)
        check_permutation(src, out.read_bytes())
        assert out.read_bytes() == (tmp_path / "ref.txt").read_bytes()
        assert result.records == len(lines_in(src)) and result.verified["match"]


@pytest.mark.parametrize("name", ["size64-line7-final", "size128-line64-nofinal", "size320-line64", "one-long-line"])
def test_many_files_on_block_boundaries(tmp_path, monkeypatch, name):
    """Several files each ending on a block boundary, some without a final newline: no lines glued."""
    src = BOUNDARY[name]
    for i in range(3):
        (tmp_path / f"in{i}.txt").write_bytes(src)
    plan_with(monkeypatch, block_size=BLOCK)
    shuffle(str(tmp_path / "in*.txt"), tmp_path / "out.txt", mem=MEM, seed=SEED, buckets=4)
    assert Counter(lines_in((tmp_path / "out.txt").read_bytes())) == Counter(lines_in(src) * 3)


def test_iter_blocks_on_boundaries():
    """The reader's blocks join back to the input, and each ends with a newline but perhaps the last."""
    for name, data in BOUNDARY.items():
        for block_size in (1, 2, BLOCK - 1, BLOCK, BLOCK + 1):
            blocks = [bytes(b) for b in iter_blocks(io.BytesIO(data), block_size)]
            assert b"".join(blocks) == data, (name, block_size)
            assert all(b.endswith(b"\n") for b in blocks[:-1]) and all(blocks), (name, block_size)


@pytest.mark.parametrize("n", [1, 2, 3, 15, 16, 17, 63, 64, 65, 1000])
@pytest.mark.parametrize("buckets", [16, 64])
def test_few_lines_many_buckets(tmp_path, n, buckets):
    """Most buckets empty, some holding one line: nothing lost, same order as in memory."""
    src = b"".join(b"%d\n" % i for i in range(n))
    (tmp_path / "in.txt").write_bytes(src)
    shuffle(tmp_path / "in.txt", tmp_path / "ref.txt", mem=MEM, seed=SEED, buckets=1)
    shuffle(tmp_path / "in.txt", tmp_path / "out.txt", mem=MEM, seed=SEED, buckets=buckets)
    assert (tmp_path / "out.txt").read_bytes() == (tmp_path / "ref.txt").read_bytes()
    check_permutation(src, (tmp_path / "out.txt").read_bytes())


@pytest.mark.parametrize("budget", [100, 5000])
def test_buckets_over_budget_holding_huge_lines(tmp_path, monkeypatch, budget):
    """A bucket over budget is split again; one holding a single line larger than the budget is not."""
    src = b"".join(b"%d %s\n" % (i, b"y" * (20_000 if i % 97 == 0 else i % 13)) for i in range(2000))
    (tmp_path / "in.txt").write_bytes(src)
    shuffle(tmp_path / "in.txt", tmp_path / "ref.txt", mem=MEM, seed=SEED, buckets=1)
    plan_with(monkeypatch, bucket_budget=budget)
    shuffle(tmp_path / "in.txt", tmp_path / "out.txt", mem=MEM, seed=SEED, buckets=4, tmp=str(tmp_path))
    assert (tmp_path / "out.txt").read_bytes() == (tmp_path / "ref.txt").read_bytes()
    assert sorted(os.listdir(tmp_path)) == ["in.txt", "out.txt", "out.txt.manifest.json", "ref.txt",
                                            "ref.txt.manifest.json"]


# ---- refused outputs -----------------------------------------------------------------------------------

@pytest.fixture
def src(tmp_path: Path) -> Path:
    path = tmp_path / "in.txt"
    path.write_bytes(b"".join(b"%d\n" % i for i in range(1000)))
    return path


@pytest.mark.parametrize("force", [False, True])
def test_output_equal_to_an_input_is_refused(src, tmp_path, force):
    before = src.read_bytes()
    with pytest.raises(OutputError, match="input|exists"):
        shuffle(src, src, mem=MEM, seed=SEED, force=force)
    with pytest.raises(OutputError, match="input"):
        shuffle([tmp_path / "in.txt"], str(tmp_path / "." / "in.txt"), mem=MEM, seed=SEED, force=True)
    os.symlink(src, tmp_path / "link.txt")
    with pytest.raises(OutputError, match="input"):
        shuffle(tmp_path / "link.txt", src, mem=MEM, seed=SEED, force=True)
    with pytest.raises(OutputError, match="input"):
        shuffle(src, tmp_path / "link.txt", mem=MEM, seed=SEED, force=True, buckets=16)
    assert src.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["in.txt", "link.txt"]


def test_output_folder_holding_an_input_is_refused(src, tmp_path):
    with pytest.raises(OutputError, match="input"):
        shuffle(src, tmp_path, mem=MEM, seed=SEED, shards=2, force=True)
    assert sorted(os.listdir(tmp_path)) == ["in.txt"]


def test_existing_output_is_refused_without_force(src, tmp_path):
    (tmp_path / "out.txt").write_bytes(b"keep me\n")
    with pytest.raises(OutputError, match="exists.*force"):
        shuffle(src, tmp_path / "out.txt", mem=MEM, seed=SEED, buckets=16)
    assert (tmp_path / "out.txt").read_bytes() == b"keep me\n"
    shuffle(src, tmp_path / "out.txt", mem=MEM, seed=SEED, buckets=16, force=True)
    check_permutation(src.read_bytes(), (tmp_path / "out.txt").read_bytes())


def test_existing_output_folder_is_refused_without_force(src, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.txt").write_bytes(b"old\n")
    with pytest.raises(OutputError, match="exists"):
        shuffle(src, tmp_path / "out", mem=MEM, seed=SEED, shards=2)
    assert os.listdir(tmp_path / "out") == ["old.txt"]
    shuffle(src, tmp_path / "out", mem=MEM, seed=SEED, shards=2, force=True)
    assert sorted(os.listdir(tmp_path / "out")) == ["manifest.json", "part-00000.txt", "part-00001.txt"]


def test_missing_tmp_folder_is_an_error(src, tmp_path):
    with pytest.raises(CorpusError, match="no such folder"):
        shuffle(src, tmp_path / "out.txt", mem=MEM, seed=SEED, tmp=str(tmp_path / "nope"))
    assert not (tmp_path / "out.txt").exists()


@pytest.mark.parametrize("mem", ["10M", "63M", "banana"])
def test_too_little_mem_is_an_error(src, tmp_path, mem):
    with pytest.raises(CorpusError):
        shuffle(src, tmp_path / "out.txt", mem=mem, seed=SEED)
    assert not (tmp_path / "out.txt").exists()


# ---- a line too long for --mem ------------------------------------------------------------------------------

def too_long_input(path: Path, length: int, before: int = 50, after: int = 50) -> None:
    with open(path, "wb") as f:
        f.write(b"short\n" * before)
        f.write(b"L" * length + b"\n")
        f.write(b"short\n" * after)


@pytest.mark.parametrize("buckets", [None, 16])
@pytest.mark.parametrize("block_size", [1000, 1 << 20])
def test_line_of_a_quarter_of_mem_is_accepted(tmp_path, monkeypatch, buckets, block_size):
    plan_with(monkeypatch, mem=16_000, block_size=block_size)
    too_long_input(tmp_path / "in.txt", 4000)
    shuffle(tmp_path / "in.txt", tmp_path / "out.txt", mem=MEM, seed=SEED, buckets=buckets)
    check_permutation((tmp_path / "in.txt").read_bytes(), (tmp_path / "out.txt").read_bytes())


@pytest.mark.parametrize("buckets", [None, 16, 64])
@pytest.mark.parametrize("block_size", [1000, 1 << 20])
@pytest.mark.parametrize("length", [4001, 6000, 7999, 50_000])
def test_line_longer_than_a_quarter_of_mem(tmp_path, monkeypatch, buckets, block_size, length):
    """With --mem 16000 bytes (patched into the plan), a line may hold 4000 bytes; a longer one is an
    error naming the file and line, raised before any output or temporary file is written."""
    plan_with(monkeypatch, mem=16_000, block_size=block_size)
    too_long_input(tmp_path / "in.txt", length)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with pytest.raises(InputError, match=r"in\.txt:51: a line longer than 4,000 bytes.*quarter of --mem"):
        shuffle(tmp_path / "in.txt", tmp_path / "out.txt", mem=MEM, seed=SEED, buckets=buckets, tmp=str(scratch))
    assert sorted(os.listdir(tmp_path)) == ["in.txt", "scratch"]
    assert os.listdir(scratch) == []


def test_line_longer_than_a_quarter_of_the_real_mem(tmp_path):
    """--mem 256M: a line of 64M + 1 bytes is refused, in a process of its own, and nothing is written."""
    too_long_input(tmp_path / "in.txt", (64 << 20) + 1)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    result = subprocess.run(["corpuskit", "shuffle", str(tmp_path / "in.txt"), str(tmp_path / "out.txt"),
                             "--mem", "256M", "--seed", "1", "--tmp", str(scratch), "-q"],
                            capture_output=True, timeout=120)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("corpuskit: error: ")
    assert "in.txt:51: a line longer than 67,108,864 bytes" in lines[0]
    assert sorted(os.listdir(tmp_path)) == ["in.txt", "scratch"]
    assert os.listdir(scratch) == []
