"""Many inputs make one global shuffle; every format and output kind keeps every record whole."""

from __future__ import annotations

import gzip
import io
import json
import random
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from corpuskit.errors import CorpusError
from corpuskit.shuffle import shuffle

# The plan subtracts this process's resident memory (~250M late in a full pytest run) from
# --mem, so in-process runs ask for 1G; the command-line tests in a process of their own use 256M.
MEM = "1G"
SEED = 77


def lines_of(path: Path) -> list[bytes]:
    data = path.read_bytes()
    if path.suffix == ".zst":
        data = unzstd(data)
    elif path.suffix == ".gz":
        data = gzip.decompress(data)
    assert data == b"" or data.endswith(b"\n")
    return data.split(b"\n")[:-1]


def unzstd(data: bytes) -> bytes:
    """All frames of a zstd stream."""
    return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True).read()


def part_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name != "manifest.json")


def canonical(records) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True, ensure_ascii=False) for r in records)


@pytest.fixture
def three_files(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "in"
    folder.mkdir()
    paths = []
    for name, n in (("a", 6000), ("b", 6000), ("c", 6000)):
        path = folder / f"{name}.txt"
        path.write_bytes(b"".join(b"%s %d\n" % (name.encode(), i) for i in range(n)))
        paths.append(path)
    return paths


@pytest.mark.parametrize("buckets", [None, 16])
def test_several_files_and_a_glob_are_one_global_shuffle(tmp_path, three_files, buckets):
    a, b, c = three_files
    shuffle([a, str(a.parent / "[bc].txt")], tmp_path / "out.txt", mem=MEM, seed=SEED, buckets=buckets)
    out = lines_of(tmp_path / "out.txt")
    assert Counter(out) == Counter(lines_of(a) + lines_of(b) + lines_of(c))
    labels = [line[:1] for line in out]
    assert set(labels[:100]) == {b"a", b"b", b"c"}
    assert set(labels[-100:]) == {b"a", b"b", b"c"}
    changes = sum(x != y for x, y in zip(labels, labels[1:]))
    assert changes > 0.6 * len(labels)  # 2/3 for a uniform interleaving of three equal parts
    # One shuffle of the concatenation, not three shuffles glued: same bytes as the joined file.
    joined = tmp_path / "joined.txt"
    joined.write_bytes(a.read_bytes() + b.read_bytes() + c.read_bytes())
    shuffle(joined, tmp_path / "joined.out.txt", mem=MEM, seed=SEED)
    assert (tmp_path / "joined.out.txt").read_bytes() == (tmp_path / "out.txt").read_bytes()


def test_glob_folder_and_list_are_the_same_inputs(tmp_path, three_files):
    folder = three_files[0].parent
    for name, inputs in (("list", three_files), ("glob", str(folder / "*.txt")), ("folder", folder)):
        shuffle(inputs, tmp_path / f"{name}.txt", mem=MEM, seed=SEED, buckets=4)
    assert (tmp_path / "list.txt").read_bytes() == (tmp_path / "glob.txt").read_bytes() \
        == (tmp_path / "folder.txt").read_bytes()


def test_a_file_without_final_newline_does_not_glue_to_the_next(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"a1\na2")
    (tmp_path / "b.txt").write_bytes(b"b1\nb2\n")
    for buckets in (None, 4):
        shuffle([tmp_path / "a.txt", tmp_path / "b.txt"], tmp_path / f"out{buckets}.txt", mem=MEM, seed=1,
                buckets=buckets)
        assert sorted(lines_of(tmp_path / f"out{buckets}.txt")) == [b"a1", b"a2", b"b1", b"b2"]


def test_shuffled_shards_can_be_shuffled_again(tmp_path, three_files):
    shuffle(three_files, tmp_path / "once", mem=MEM, seed=1, shards=4, buckets=16)
    shuffle(tmp_path / "once", tmp_path / "twice.txt", mem=MEM, seed=2, buckets=16)  # skips manifest.json
    assert Counter(lines_of(tmp_path / "twice.txt")) == Counter(sum((lines_of(p) for p in three_files), []))


@pytest.mark.parametrize("buckets", [None, 16])
@pytest.mark.parametrize("compression", ["zst", "gz"])
def test_compressed_inputs_shuffle_like_plain_ones(tmp_path, three_files, compression, buckets):
    plain = three_files[0]
    packed = tmp_path / f"a.txt.{compression}"
    data = plain.read_bytes()
    if compression == "zst":
        # Two frames, the first without a declared size, as streaming writers leave them.
        half = data.index(b"\n", len(data) // 2) + 1
        cctx = zstandard.ZstdCompressor()
        packed.write_bytes(cctx.compress(data[:half]) + _unsized_frame(data[half:]))
    else:
        packed.write_bytes(gzip.compress(data))
    shuffle(plain, tmp_path / "plain.txt", mem=MEM, seed=SEED, buckets=16)
    shuffle(packed, tmp_path / "packed.txt", mem=MEM, seed=SEED, buckets=buckets)
    assert (tmp_path / "plain.txt").read_bytes() == (tmp_path / "packed.txt").read_bytes()
    shuffle([packed, three_files[1]], tmp_path / "mixed.txt", mem=MEM, seed=SEED, buckets=buckets)
    shuffle(three_files[:2], tmp_path / "mixed-plain.txt", mem=MEM, seed=SEED, buckets=16)
    assert (tmp_path / "mixed.txt").read_bytes() == (tmp_path / "mixed-plain.txt").read_bytes()


def _unsized_frame(data: bytes) -> bytes:
    obj = zstandard.ZstdCompressor().compressobj()
    return obj.compress(data) + obj.flush()


def jsonl_text(n: int, seed: int = 0) -> str:
    """JSON lines as people write them: key orders, spacing and escapes vary; shuffling must not re-encode."""
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        if i % 3 == 0:
            lines.append(json.dumps({"text": f"doc {i} \u00e9\u8bcd", "id": i, "nested": {"a": [1, 2.5, None]}}))
        elif i % 3 == 1:
            lines.append(json.dumps({"id": i, "text": f"doc {i} \u00e9\u8bcd", "tags": ["x"] * (i % 4)},
                                    ensure_ascii=False, separators=(",", ":")))
        else:
            lines.append('{ "id" : %d , "text" : "doc %d \\u00e9 \\"q\\" %s" }' % (i, i, "z" * rng.randrange(50)))
    return "".join(line + "\n" for line in lines)


@pytest.mark.parametrize("buckets", [None, 16])
@pytest.mark.parametrize("output", ["out.jsonl", "out.jsonl.zst"])
def test_jsonl_records_are_moved_whole(tmp_path, buckets, output):
    src = tmp_path / "in.jsonl"
    src.write_text(jsonl_text(6000), encoding="utf-8")
    result = shuffle(src, tmp_path / output, mem=MEM, seed=SEED, buckets=buckets)
    out = lines_of(tmp_path / output)
    assert result.records == 6000
    assert out != lines_of(src)
    assert Counter(out) == Counter(lines_of(src))  # the exact input lines, bytes and all
    assert all(isinstance(json.loads(line), dict) for line in out)


def parquet_records(n: int, start: int = 0) -> list[dict]:
    return [{"id": i, "text": f"record {i} é" * (i % 4), "score": i / 3, "ok": i % 2 == 0,
             "tags": [f"t{i % 7}"] * (i % 3), "meta": {"k": i % 5, "s": None if i % 4 else "s"}}
            for i in range(start, start + n)]


@pytest.mark.parametrize("buckets", [None, 16])
def test_parquet_input_keeps_every_field(tmp_path, buckets):
    records = parquet_records(5000)
    pq.write_table(pa.Table.from_pylist(records[:2000]), tmp_path / "a.parquet", row_group_size=500)
    pq.write_table(pa.Table.from_pylist(records[2000:]), tmp_path / "b.parquet")
    inputs = str(tmp_path / "*.parquet")
    shuffle(inputs, tmp_path / "out.jsonl", mem=MEM, seed=SEED, buckets=buckets)
    out = [json.loads(line) for line in lines_of(tmp_path / "out.jsonl")]
    assert out != records and canonical(out) == canonical(records)
    shuffle(inputs, tmp_path / "out.parquet", mem=MEM, seed=SEED, buckets=buckets)
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.schema.names == ["id", "text", "score", "ok", "tags", "meta"]
    assert table.to_pylist() == out


@pytest.mark.parametrize("buckets", [None, 16])
def test_parquet_and_jsonl_mixed_into_jsonl(tmp_path, buckets):
    records = parquet_records(4000)
    pq.write_table(pa.Table.from_pylist(records[:1500]), tmp_path / "a.parquet")
    (tmp_path / "b.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records[1500:]))
    result = shuffle([tmp_path / "a.parquet", tmp_path / "b.jsonl"], tmp_path / "out.jsonl", mem=MEM,
                     seed=SEED, buckets=buckets)
    out = [json.loads(line) for line in lines_of(tmp_path / "out.jsonl")]
    assert result.records == 4000
    assert canonical(out) == canonical(records)
    ids = [r["id"] for r in out]
    assert sum(i < 1500 for i in ids[:400]) not in (0, 400)  # the two files interleave


@pytest.mark.parametrize("buckets", [None, 16])
@pytest.mark.parametrize("shards", [1, 3, 7])
def test_sharded_output(tmp_path, three_files, buckets, shards):
    result = shuffle(three_files, tmp_path / "out", mem=MEM, seed=SEED, buckets=buckets, shards=shards)
    parts = part_files(tmp_path / "out")
    assert [p.name for p in parts] == [f"part-{i:05d}.txt" for i in range(shards)]
    counts = [len(lines_of(p)) for p in parts]
    assert sum(counts) == 18_000 and max(counts) - min(counts) <= 1
    assert [o["records"] for o in result.outputs] == counts
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["seed"] == SEED and manifest["records"] == 18_000
    assert Counter(sum((lines_of(p) for p in parts), [])) == Counter(sum((lines_of(p) for p in three_files), []))


def test_sharded_by_size(tmp_path, three_files):
    shuffle(three_files, tmp_path / "out", mem=MEM, seed=SEED, buckets=16, shard_size="40K")
    parts = part_files(tmp_path / "out")
    sizes = [p.stat().st_size for p in parts]
    total = sum(p.stat().st_size for p in three_files)
    assert sum(sizes) == total
    assert len(parts) == pytest.approx(total / (40 << 10), abs=1.01)
    assert all(size <= (40 << 10) + 20 for size in sizes)


@pytest.mark.parametrize("name, options", [
    ("out.txt.zst", {}), ("out.txt.gz", {}), ("out.txt.zst", {"compress": "zst"}),
    ("out", {"compress": "gz", "shards": 3}), ("out", {"compress": "zst", "shards": 2}),
])
def test_compressed_output(tmp_path, three_files, name, options):
    shuffle(three_files, tmp_path / "plain.txt", mem=MEM, seed=SEED, buckets=16)
    shuffle(three_files, tmp_path / name, mem=MEM, seed=SEED, buckets=16, **options)
    target = tmp_path / name
    files = part_files(target) if target.is_dir() else [target]
    magic = b"\x28\xb5\x2f\xfd" if (options.get("compress") or name.rsplit(".", 1)[-1]) == "zst" else b"\x1f\x8b"
    assert all(f.read_bytes().startswith(magic) for f in files)
    joined = b"".join(b"".join(line + b"\n" for line in lines_of(f)) for f in files)
    assert joined == (tmp_path / "plain.txt").read_bytes()


def test_compression_the_name_denies_is_refused(tmp_path, three_files):
    with pytest.raises(CorpusError, match="name says no compression"):
        shuffle(three_files, tmp_path / "out.txt", mem=MEM, seed=SEED, compress="zst")
    assert not (tmp_path / "out.txt").exists()


def test_text_to_jsonl_conversion_keeps_the_order(tmp_path, three_files):
    shuffle(three_files, tmp_path / "out.txt", mem=MEM, seed=SEED)
    shuffle(three_files, tmp_path / "out.jsonl", mem=MEM, seed=SEED, buckets=16)
    texts = [json.loads(line)["text"] for line in lines_of(tmp_path / "out.jsonl")]
    assert texts == [line.decode() for line in lines_of(tmp_path / "out.txt")]
