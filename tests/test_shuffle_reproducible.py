"""Same seed, same bytes: the output depends on the inputs and the seed alone.

Not on --mem, the bucket count (1 = in memory), buckets split again, workers,
shards, temporary compression or the temporary folder; the pipeline stage orders
records like the file path; a run without a seed reports the one it drew.
"""

from __future__ import annotations

import dataclasses
import gzip
import importlib
import json
import os
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xxhash
from hypothesis import given
from hypothesis import strategies as st

from corpuskit import read, write
from corpuskit.io.lines import line_offsets
from corpuskit.shuffle import shuffle

shuffle_module = importlib.import_module("corpuskit.shuffle")  # the attribute corpuskit.shuffle is the function
order_module = importlib.import_module("corpuskit.shuffle.order")
files_module = importlib.import_module("corpuskit.shuffle.files")
spill_module = importlib.import_module("corpuskit.shuffle.spill")

# The plan subtracts this process's resident memory (~250M late in a full pytest run) from
# --mem, so in-process runs ask for 1G; the command-line tests in a process of their own use 256M.
MEM = "1G"
SEED = 20240611


def make_lines(n: int, seed: int = 0, prefix: str = "") -> bytes:
    """``n`` numbered lines of random length (0 to ~200 bytes), some non-ASCII."""
    rng = random.Random(seed)
    words = ["corpus", "shuffle", "données", "词语", "x", "", "a b c", "\t"]
    return b"".join(f"{prefix}{i} {' '.join(rng.choices(words, k=rng.randrange(0, 30)))}\n".encode()
                    for i in range(n))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "in.txt"
    path.write_bytes(make_lines(20_000))
    return path


@pytest.fixture(scope="module")
def reference(corpus, tmp_path_factory) -> bytes:
    """The in-memory shuffle of ``corpus`` with SEED."""
    out = tmp_path_factory.mktemp("ref") / "ref.txt"
    result = shuffle(corpus, out, mem=MEM, seed=SEED, buckets=1)
    assert result.plan.in_memory
    data = out.read_bytes()
    assert data != corpus.read_bytes() and sorted(data.splitlines()) == sorted(corpus.read_bytes().splitlines())
    return data


def small_plan(monkeypatch, **changes) -> None:
    """Make every plan use ``changes`` (e.g. a tiny bucket budget or read block)."""
    original = shuffle_module.make_plan

    def patched(*args, **kwargs):
        return dataclasses.replace(original(*args, **kwargs), **changes)

    monkeypatch.setattr(shuffle_module, "make_plan", patched)


@pytest.mark.parametrize("options", [
    dict(),
    dict(mem="4G"),
    dict(buckets=1, workers=1),
    dict(buckets=2),
    dict(buckets=3),
    dict(buckets=4, workers=1),
    dict(buckets=16, workers=2),
    dict(buckets=64, workers=1),
    dict(buckets=64, workers=2, mem="2G"),
    dict(buckets=16, compress_temp=False),
    dict(buckets=16, compress_temp=True),
    dict(buckets=64, compress_temp=True, workers=1),
    dict(buckets=256, workers=3),
], ids=repr)
def test_same_bytes_whatever_the_settings(corpus, reference, tmp_path, options):
    out = tmp_path / "out.txt"
    options = {"mem": MEM, **options}
    result = shuffle(corpus, out, seed=SEED, tmp=str(tmp_path), **options)
    assert out.read_bytes() == reference
    assert result.records == 20_000 and result.seed == SEED
    assert result.plan.buckets == 1 << (options.get("buckets", 1) - 1).bit_length()


def test_same_bytes_with_another_tmp_folder(corpus, reference, tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        shuffle(corpus, tmp_path / f"out-{name}.txt", mem=MEM, seed=SEED, buckets=16, tmp=str(tmp_path / name))
        assert (tmp_path / f"out-{name}.txt").read_bytes() == reference
        assert os.listdir(tmp_path / name) == []


@pytest.mark.parametrize("buckets, workers", [(4, 1), (4, 2), (16, 2)])
def test_same_bytes_when_buckets_are_split_again(corpus, reference, tmp_path, monkeypatch, buckets, workers):
    """Buckets larger than the budget (skewed lines) are scattered again: the order does not change."""
    small_plan(monkeypatch, bucket_budget=20_000)
    said = []
    shuffle(corpus, tmp_path / "out.txt", mem=MEM, seed=SEED, buckets=buckets, workers=workers,
            tmp=str(tmp_path), log=said.append)
    assert any("splitting it into" in s for s in said), said
    assert (tmp_path / "out.txt").read_bytes() == reference
    assert sorted(os.listdir(tmp_path)) == ["out.txt", "out.txt.manifest.json"]


@pytest.fixture(scope="module")
def many_lines(tmp_path_factory) -> Path:
    """Enough lines (300,000) for the in-memory path to sort its keys in parallel."""
    path = tmp_path_factory.mktemp("many") / "in.txt"
    path.write_bytes(b"".join(b"%d\n" % i for i in range(300_000)))
    return path


@pytest.mark.parametrize("workers", [1, 2, 3, 8])
def test_parallel_in_memory_sort_gives_the_same_bytes(many_lines, tmp_path, workers):
    assert 300_000 >= order_module.PARALLEL_FROM
    shuffle(many_lines, tmp_path / "external.txt", mem=MEM, seed=SEED, buckets=16, workers=1)
    result = shuffle(many_lines, tmp_path / "memory.txt", mem=MEM, seed=SEED, workers=workers)
    assert result.plan.in_memory
    assert (tmp_path / "memory.txt").read_bytes() == (tmp_path / "external.txt").read_bytes()


@pytest.mark.parametrize("final_newline", [True, False])
def test_one_pass_in_small_output_slices_gives_the_same_bytes(many_lines, tmp_path, monkeypatch, final_newline):
    """A file ending with a newline is mapped, one without it is read; both are cut into many output slices."""
    src = tmp_path / "in.txt"
    data = many_lines.read_bytes() if final_newline else many_lines.read_bytes()[:-1]
    src.write_bytes(data)
    shuffle(src, tmp_path / "external.txt", mem=MEM, seed=SEED, buckets=16)
    monkeypatch.setattr(files_module, "OUTPUT_SLICE", 1000)
    result = shuffle(src, tmp_path / "memory.txt", mem=MEM, seed=SEED, workers=2)
    assert result.plan.in_memory
    assert (tmp_path / "memory.txt").read_bytes() == (tmp_path / "external.txt").read_bytes()
    assert src.read_bytes() == data


def test_one_pass_written_in_short_writes_gives_the_same_bytes_and_a_true_manifest(many_lines, tmp_path,
                                                                                   monkeypatch):
    """Pieces written at their offsets by three threads, each write cut short: the file, and the
    manifest's size, record count and xxh64 of it, are those of the external shuffle."""
    shuffle(many_lines, tmp_path / "external.txt", mem=MEM, seed=SEED, buckets=16)
    pwrite = os.pwrite
    monkeypatch.setattr(os, "pwrite", lambda fd, data, offset: pwrite(fd, memoryview(data)[:777], offset))
    monkeypatch.setattr(files_module, "OUTPUT_SLICE", 5000)
    out = tmp_path / "memory.txt"
    result = shuffle(many_lines, out, mem=MEM, seed=SEED, workers=3)
    assert result.plan.in_memory
    data = out.read_bytes()
    assert data == (tmp_path / "external.txt").read_bytes()
    entry = json.loads((tmp_path / "memory.txt.manifest.json").read_text())["outputs"]
    assert entry == [{"path": str(out), "records": data.count(b"\n"), "bytes": len(data),
                      "xxh64": xxhash.xxh64(data).hexdigest()}]


@given(st.lists(st.integers(1, 5000), max_size=300), st.integers(1, 20_000))
def test_output_slices_cover_every_line_once_and_hold_about_the_target(sizes, target):
    sizes = np.array(sizes, dtype=np.int64)
    ranges = list(files_module.slices_of(sizes, target))
    assert [i for lo, hi in ranges for i in range(lo, hi)] == list(range(len(sizes)))
    assert all(hi > lo for lo, hi in ranges)
    assert all(sizes[lo:hi].sum() <= target + sizes[lo:hi].max() for lo, hi in ranges)


@pytest.mark.parametrize("n, workers", [(0, 2), (1, 2), (3_000_001, 2), (9_999_999, 3)])
def test_newline_scan_in_threads_finds_the_same_lines(n, workers):
    data = np.random.default_rng(n).integers(0, 24, n).astype(np.uint8)
    if n:
        data[-1] = 10
    assert np.array_equal(line_offsets(data, workers), line_offsets(data))


@pytest.mark.parametrize("workers", [2, 3, 8])
@pytest.mark.parametrize("keys", ["uniform", "ties", "one top", "skewed"])
def test_parallel_sort_is_one_stable_sort(workers, keys):
    rng = np.random.default_rng(1)
    n = order_module.PARALLEL_FROM + 12_345
    values = {
        "uniform": lambda: rng.integers(0, 2**64, n, dtype=np.uint64),
        "ties": lambda: rng.choice(np.array([0, 1, 2**48, 2**63, 2**64 - 1], dtype=np.uint64), n),
        "one top": lambda: rng.integers(0, 2**40, n, dtype=np.uint64),
        "skewed": lambda: (rng.integers(0, 2**16, n, dtype=np.uint64) ** np.uint64(4)),
    }[keys]()
    assert np.array_equal(order_module.sorted_order(values, workers), np.argsort(values, kind="stable"))


@pytest.mark.parametrize("compress", [False, True])
def test_pieces_of_a_bucket_given_together_are_stored_as_one(tmp_path, compress):
    spill = spill_module.Spill(str(tmp_path / "spill.bin"), buckets=4, compress=compress)
    lines = [b"a\n", b"bb\n", b"ccc\n", b"dddd\n", b"e\n"]
    piece = lambda bucket, i, j: (bucket, np.arange(i, j, dtype=np.uint64), b"".join(lines[i:j]),
                                  np.array([len(x) for x in lines[i:j]], dtype=np.uint32))
    spill.add_many([piece(1, 0, 2), piece(3, 2, 3), piece(1, 3, 5)])
    spill.add_many([piece(1, 0, 1)])
    spill.close()
    assert list(spill.index["bucket"]) == [1, 3, 1]
    keys, sizes, data = spill.read(1)
    assert keys.tolist() == [0, 1, 3, 4, 0] and sizes.tolist() == [2, 3, 5, 2, 2]
    assert bytes(data) == b"a\nbb\ndddd\ne\na\n"
    assert [bytes(body) for _, _, body in spill.iter_pieces(1)] == [b"a\nbb\ndddd\ne\n", b"a\n"]


@pytest.mark.parametrize("compress", [False, True])
def test_blocks_ordered_by_bucket_are_stored_like_their_pieces(tmp_path, compress):
    """``add_partitions`` writes the same file and index as ``add_many`` of every bucket's slices."""
    parts = random_parts(3, buckets=8)
    one = spill_module.Spill(str(tmp_path / "one.bin"), buckets=8, compress=compress)
    many = spill_module.Spill(str(tmp_path / "many.bin"), buckets=8, compress=compress)
    one.add_partitions(parts[:2])
    one.add_partitions(parts[2:])
    many.add_many(list(spill_module._bucket_slices(parts[:2], 8)))
    many.add_many(list(spill_module._bucket_slices(parts[2:], 8)))
    one.close()
    many.close()
    assert (tmp_path / "one.bin").read_bytes() == (tmp_path / "many.bin").read_bytes()
    assert {name: list(column) for name, column in one.index.items()} == \
        {name: list(column) for name, column in many.index.items()}


def random_parts(seed: int, buckets: int, sizes_of_blocks=(0, 1, 40, 300)) -> list:
    """Blocks of random lines already ordered by bucket, as the scatter hands them to a spill."""
    rng = np.random.default_rng(seed)
    parts = []
    for n in sizes_of_blocks:
        sizes = rng.integers(1, 50, n).astype(np.uint32)
        cuts = np.searchsorted(np.sort(rng.integers(0, buckets, n)), np.arange(buckets + 1))
        offsets = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
        data = rng.integers(0, 256, int(offsets[-1])).astype(np.uint8).tobytes()
        parts.append(spill_module.Partition(rng.integers(0, 2**64, n, dtype=np.uint64), sizes, memoryview(data),
                                            cuts, offsets[cuts]))
    return parts


@pytest.mark.parametrize("files", [2, 5, 16, 64])
@pytest.mark.parametrize("compress", [False, True])
def test_buckets_spread_over_files_read_back_the_same(tmp_path, files, compress):
    parts = random_parts(4, buckets=16)
    one = spill_module.Spill(str(tmp_path / "one.bin"), buckets=16, compress=compress)
    spread = spill_module.Spill(str(tmp_path / "spread.bin"), buckets=16, compress=compress, files=files)
    for spill in (one, spread):
        spill.add_partitions(parts[:2])
        spill.add_partitions(parts[2:])
        spill.close()
    assert len(spread.paths()) == min(files, 16) and all(os.path.exists(p) for p in spread.paths())
    assert sum(os.path.getsize(p) for p in spread.paths()) == os.path.getsize(one.path)
    for bucket in range(16):
        for got, want in zip(spread.read(bucket), one.read(bucket)):
            assert np.array_equal(got, want), bucket


@given(st.integers(1, 5000), st.integers(1, 64))
def test_files_hold_runs_of_consecutive_buckets(buckets, files):
    spill = spill_module.Spill("unused", buckets, files=files)
    runs = [spill.buckets_in(f) for f in range(spill.files)]
    assert [b for run in runs for b in run] == list(range(buckets))
    assert all(spill.file_of(b) == f for f, run in enumerate(runs) for b in run)


@pytest.mark.parametrize("keep", [False, True])
def test_a_file_goes_once_all_its_buckets_are_read(tmp_path, keep):
    """Temporary space shrinks during the gather; a spill kept for --resume stays whole."""
    spill = spill_module.Spill(str(tmp_path / "spill.bin"), buckets=8, files=4, keep=keep)
    spill.add_partitions(random_parts(5, buckets=8, sizes_of_blocks=(500,)))
    spill.close()
    assert spill.file_of(0) == spill.file_of(1) == 0 and spill.file_of(7) == 3
    spill.release(0)
    assert os.path.exists(spill.paths()[0])
    spill.release(1)
    assert os.path.exists(spill.paths()[0]) == keep
    assert all(os.path.exists(p) for p in spill.paths()[1:])


def test_a_resumed_spill_needs_every_file(tmp_path):
    spill = spill_module.Spill(str(tmp_path / "spill.bin"), buckets=8, files=4)
    spill.add_partitions(random_parts(6, buckets=8, sizes_of_blocks=(200,)))
    spill.save_index(str(tmp_path / "index.npz"), {"seed": 1})
    again = spill_module.Spill.load(spill.path, str(tmp_path / "index.npz"), {"seed": 1})
    assert again is not None and again.keep and again.paths() == spill.paths()
    assert all(np.array_equal(a, b) for a, b in zip(again.read(5), spill.read(5)))
    os.remove(spill.paths()[2])
    assert spill_module.Spill.load(spill.path, str(tmp_path / "index.npz"), {"seed": 1}) is None


def test_a_file_whose_other_buckets_are_empty_goes_with_its_last_bucket(tmp_path):
    spill = spill_module.Spill(str(tmp_path / "spill.bin"), buckets=8, files=2)
    lines = np.array([3], dtype=np.uint32)
    spill.add_many([(1, np.array([7], dtype=np.uint64), b"ab\n", lines)])
    spill.close()
    spill.release(1)
    assert not os.path.exists(spill.paths()[0])


@pytest.mark.parametrize("group", [1, 30_000, 1 << 30])
def test_same_bytes_whatever_the_scatter_group(corpus, reference, tmp_path, monkeypatch, group):
    """Blocks' pieces written to the buckets one block at a time, a few blocks at a time, or all at once."""
    original = shuffle_module.make_plan
    monkeypatch.setattr(shuffle_module, "make_plan", lambda *a, **k: dataclasses.replace(
        original(*a, **k), block_size=4096, group_bytes=group))
    shuffle(corpus, tmp_path / "out.txt", mem=MEM, seed=SEED, buckets=16)
    assert (tmp_path / "out.txt").read_bytes() == reference


@pytest.mark.parametrize("block_size", [4096, 65_536])
def test_same_bytes_whatever_the_read_block(corpus, reference, tmp_path, monkeypatch, block_size):
    small_plan(monkeypatch, block_size=block_size)
    for buckets in (1, 16):
        out = tmp_path / f"out-{buckets}.txt"
        shuffle(corpus, out, mem=MEM, seed=SEED, buckets=buckets)
        assert out.read_bytes() == reference


@pytest.mark.parametrize("buckets", [None, 16])
@pytest.mark.parametrize("shards", [1, 2, 3, 4, 5])
def test_shards_concatenate_to_the_single_file(corpus, reference, tmp_path, shards, buckets):
    result = shuffle(corpus, tmp_path / "out", mem=MEM, seed=SEED, shards=shards, buckets=buckets)
    names = sorted(n for n in os.listdir(tmp_path / "out") if n != "manifest.json")
    assert names == [f"part-{i:05d}.txt" for i in range(shards)]
    assert b"".join((tmp_path / "out" / n).read_bytes() for n in names) == reference
    counts = [o["records"] for o in result.outputs]
    assert sum(counts) == 20_000 and max(counts) - min(counts) <= 1


@pytest.mark.parametrize("shard_size", ["50K", "100K", "1M"])
def test_shard_size_concatenates_to_the_single_file(corpus, reference, tmp_path, shard_size):
    shuffle(corpus, tmp_path / "out", mem=MEM, seed=SEED, shard_size=shard_size, buckets=16)
    names = sorted(n for n in os.listdir(tmp_path / "out") if n != "manifest.json")
    assert b"".join((tmp_path / "out" / n).read_bytes() for n in names) == reference


@pytest.mark.parametrize("buckets", [None, 1, 16])
def test_stage_orders_like_the_file_shuffle(corpus, reference, tmp_path, buckets):
    out = tmp_path / "stage.txt"
    stats = (read(corpus) | shuffle(mem=MEM, seed=SEED, buckets=buckets, tmp=str(tmp_path)) | write(out)).run(
        progress=False)
    assert out.read_bytes() == reference
    assert stats.records == 20_000
    assert sorted(os.listdir(tmp_path)) == ["stage.txt", "stage.txt.manifest.json"]


def test_stage_orders_like_the_file_shuffle_when_its_buckets_split(corpus, reference, tmp_path, monkeypatch):
    """A stage whose budget is tiny spills (without buckets forced) and splits buckets again."""
    monkeypatch.setattr(shuffle_module.ShuffleStage, "_budget", lambda self: 60_000)
    out = tmp_path / "stage.txt"
    (read(corpus) | shuffle(mem=MEM, seed=SEED, tmp=str(tmp_path)) | write(out)).run(progress=False)
    assert out.read_bytes() == reference
    assert sorted(os.listdir(tmp_path)) == ["stage.txt", "stage.txt.manifest.json"]


def test_stage_records_its_seed_in_the_manifest(corpus, tmp_path):
    stage = shuffle(mem=MEM)
    assert isinstance(stage.seed, int)
    (read(corpus) | stage | write(tmp_path / "a.txt")).run(progress=False)
    manifest = json.loads((tmp_path / "a.txt.manifest.json").read_text())
    assert manifest["stages"][0]["seed"] == stage.seed
    (read(corpus) | shuffle(mem=MEM, seed=stage.seed) | write(tmp_path / "b.txt")).run(progress=False)
    assert (tmp_path / "a.txt").read_bytes() == (tmp_path / "b.txt").read_bytes()


def jsonl_records(n: int) -> list[dict]:
    rng = random.Random(3)
    return [{"id": i, "text": "t" * rng.randrange(0, 50) + f" {i} é", "score": i / 7,
             "tags": [str(i % 5)] * (i % 3), "meta": {"k": i % 3, "s": None if i % 4 else "x"}}
            for i in range(n)]


def test_arrow_path_orders_like_the_byte_path(tmp_path):
    """JSONL→JSONL (bytes), JSONL→Parquet and Parquet→JSONL (Arrow records) give one order."""
    records = jsonl_records(5000)
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "in.parquet")
    shuffle(tmp_path / "in.jsonl", tmp_path / "bytes.jsonl", mem=MEM, seed=SEED, buckets=16)
    by_bytes = [json.loads(line) for line in (tmp_path / "bytes.jsonl").read_text().splitlines()]
    for buckets in (None, 16):
        shuffle(tmp_path / "in.jsonl", tmp_path / f"to-{buckets}.parquet", mem=MEM, seed=SEED, buckets=buckets)
        assert pq.read_table(tmp_path / f"to-{buckets}.parquet").to_pylist() == by_bytes
        shuffle(tmp_path / "in.parquet", tmp_path / f"from-{buckets}.jsonl", mem=MEM, seed=SEED, buckets=buckets)
        assert [json.loads(line) for line in (tmp_path / f"from-{buckets}.jsonl").read_text().splitlines()] \
            == by_bytes


def test_parquet_shuffle_same_bytes_in_memory_and_on_disk(tmp_path):
    pq.write_table(pa.Table.from_pylist(jsonl_records(5000)), tmp_path / "in.parquet", row_group_size=700)
    outputs = set()
    for i, options in enumerate([dict(), dict(buckets=1), dict(buckets=16), dict(buckets=64, compress_temp=False)]):
        shuffle(tmp_path / "in.parquet", tmp_path / f"out{i}.jsonl", mem=MEM, seed=SEED, **options)
        outputs.add((tmp_path / f"out{i}.jsonl").read_bytes())
    assert len(outputs) == 1


def test_without_a_seed_one_is_drawn_reported_and_repeatable(corpus, tmp_path):
    said = []
    first = shuffle(corpus, tmp_path / "a.txt", mem=MEM, buckets=16, log=said.append)
    assert isinstance(first.seed, int) and 0 <= first.seed < 1 << 64
    assert f"seed: {first.seed}" in said
    manifest = json.loads((tmp_path / "a.txt.manifest.json").read_text())
    assert manifest["seed"] == first.seed
    again = shuffle(corpus, tmp_path / "b.txt", mem=MEM, seed=first.seed)
    assert again.seed == first.seed
    assert (tmp_path / "a.txt").read_bytes() == (tmp_path / "b.txt").read_bytes()
    other = shuffle(corpus, tmp_path / "c.txt", mem=MEM)
    assert other.seed != first.seed
    assert (tmp_path / "c.txt").read_bytes() != (tmp_path / "a.txt").read_bytes()


def test_aligned_files_stay_aligned(tmp_path):
    """Source and target of a parallel corpus (different line lengths, one gzipped), same seed."""
    n = 12_000
    rng = random.Random(11)
    src = "".join(f"src {i} " + "s" * rng.randrange(0, 40) + "\n" for i in range(n))
    tgt = "".join(f"tgt {i} " + "词" * rng.randrange(0, 90) + "\n" for i in range(n))
    (tmp_path / "src.txt").write_text(src)
    with gzip.open(tmp_path / "tgt.txt.gz", "wt") as f:
        f.write(tgt)
    shuffle(tmp_path / "src.txt", tmp_path / "src.out.txt", mem=MEM, seed=SEED, buckets=64)
    shuffle(tmp_path / "tgt.txt.gz", tmp_path / "tgt.out.txt", mem=MEM, seed=SEED, buckets=4, workers=1)
    shuffle(tmp_path / "tgt.txt.gz", tmp_path / "tgt.out", mem=MEM, seed=SEED, shards=3)
    out_src = (tmp_path / "src.out.txt").read_text().splitlines()
    out_tgt = (tmp_path / "tgt.out.txt").read_text().splitlines()
    assert len(out_src) == len(out_tgt) == n
    assert out_src != src.splitlines()
    assert [s.split()[1] for s in out_src] == [t.split()[1] for t in out_tgt]
    parts = sorted((tmp_path / "tgt.out").glob("part-*"))
    assert "".join(p.read_text() for p in parts).splitlines() == out_tgt
