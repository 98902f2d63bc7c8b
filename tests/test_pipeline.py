"""Stages and pipelines: tiny inline pipelines, their counters, error policies and run manifests."""

from __future__ import annotations

import json
import os
import threading

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import xxhash

import corpuskit as ck
from corpuskit import Context, CorpusError, Counters, InputError, RunStats


@pytest.fixture
def numbers(tmp_path):
    """A text file of the lines 0..9."""
    path = tmp_path / "numbers.txt"
    path.write_bytes(b"".join(b"%d\n" % i for i in range(10)))
    return path


def texts(pipeline) -> list[bytes]:
    return [r["text"] for r in pipeline]


def as_int(record) -> int:
    return int(record["text"])


def test_iterating_yields_records(numbers):
    assert list(ck.read(numbers)) == [{"text": b"%d" % i} for i in range(10)]


def test_batches_yields_record_batches(numbers):
    batches = list(ck.read(numbers, block_size=6).batches())
    assert len(batches) > 1
    assert all(isinstance(b, pa.RecordBatch) for b in batches)
    assert pa.Table.from_batches(batches).column("text").to_pylist() == [b"%d" % i for i in range(10)]


def test_map(numbers):
    assert texts(ck.read(numbers) | ck.map(lambda r: {"text": r["text"] * 2})) == [b"%d" % i * 2 for i in range(10)]


def test_map_may_change_the_fields(numbers):
    records = list(ck.read(numbers) | ck.map(lambda r: {"n": as_int(r), "odd": as_int(r) % 2 == 1}))
    assert records == [{"n": i, "odd": i % 2 == 1} for i in range(10)]


def test_map_returning_none_drops_the_record(numbers):
    pipe = ck.read(numbers, block_size=6) | ck.map(lambda r: None if as_int(r) % 3 else r)
    assert texts(pipe) == [b"0", b"3", b"6", b"9"]
    stats = pipe.run(progress=False)
    assert stats.records == 4
    assert (stats.stages[1].records_in, stats.stages[1].records_out, stats.stages[1].dropped) == (10, 4, {"none": 6})


def test_filter_counts_what_it_drops(numbers):
    stats = (ck.read(numbers) | ck.filter(lambda r: as_int(r) < 7)).run(progress=False)
    [read, kept] = stats.stages
    assert (read.name, read.records_in, read.records_out) == ("read", 10, 10)
    assert (kept.records_in, kept.records_out, kept.dropped) == (10, 7, {"filtered": 3})


def test_map_batches(numbers):
    def add_x(batch: pa.RecordBatch) -> pa.RecordBatch:
        values = pc.binary_join_element_wise(batch.column("text"), pa.scalar(b"x", pa.large_binary()),
                                             pa.scalar(b"", pa.large_binary()))
        return pa.RecordBatch.from_arrays([values], names=["text"])

    assert texts(ck.read(numbers, block_size=4) | ck.map_batches(add_x)) == [b"%dx" % i for i in range(10)]


def _parity(batch: pa.RecordBatch) -> pa.Array:
    return pc.bit_wise_and(pc.cast(pc.cast(batch.column("text"), pa.string()), pa.int64()), 1)


def test_map_batches_may_return_a_table_or_none(numbers):
    def evens_as_table(batch: pa.RecordBatch) -> pa.Table | None:
        kept = batch.filter(pc.equal(_parity(batch), 0))
        return pa.Table.from_batches([kept]) if kept.num_rows else None

    assert texts(ck.read(numbers, block_size=2) | ck.map_batches(evens_as_table)) == [b"0", b"2", b"4", b"6", b"8"]


def test_a_plain_generator_is_a_stage(numbers):
    def pairs(batches):
        for batch in batches:
            yield batch
            yield batch

    stats = (ck.read(numbers, block_size=6) | pairs | ck.write(numbers.parent / "out.txt")).run(progress=False)
    assert stats.stages[1].name == "pairs"
    assert (stats.stages[1].records_in, stats.stages[1].records_out) == (10, 20)
    assert stats.records == 20
    assert sorted(texts(ck.read(numbers.parent / "out.txt"))) == sorted([b"%d" % i for i in range(10)] * 2)


def test_a_stage_with_ctx_counts_its_own_drops(numbers):
    def no_sevens(batches, ctx: Context):
        for batch in batches:
            keep = pc.invert(pc.equal(batch.column("text"), pa.scalar(b"7", pa.large_binary())))
            ctx.counters.drop("seven", batch.num_rows - pc.sum(keep.cast(pa.int64())).as_py())
            yield batch.filter(keep)

    stats = (ck.read(numbers) | no_sevens).run(progress=False)
    assert stats.records == 9
    assert stats.stages[1].dropped == {"seven": 1}


def test_composition_is_lazy_and_does_not_change_the_left_side(numbers):
    base = ck.read(numbers)
    small = base | ck.filter(lambda r: as_int(r) < 3)
    doubled = small | ck.map(lambda r: {"text": r["text"] * 2})
    assert texts(base) == [b"%d" % i for i in range(10)]
    assert texts(small) == [b"0", b"1", b"2"]
    assert texts(doubled) == [b"00", b"11", b"22"]
    assert texts(doubled) == [b"00", b"11", b"22"], "a pipeline can be iterated again"


def test_nothing_after_a_writer(numbers):
    with pytest.raises(TypeError):
        ck.read(numbers) | ck.write(numbers.parent / "out.txt") | ck.map(lambda r: r)


def test_a_stage_must_be_callable(numbers):
    with pytest.raises(TypeError):
        ck.read(numbers) | 42


def test_counters_chain_from_stage_to_stage(numbers):
    stats = (ck.read(numbers, block_size=4)
             | ck.filter(lambda r: as_int(r) % 2 == 0)
             | ck.map(lambda r: None if r["text"] == b"4" else r)).run(progress=False)
    assert [c.name for c in stats.stages][0] == "read"
    for before, after in zip(stats.stages, stats.stages[1:]):
        assert after.records_in == before.records_out
    for c in stats.stages:
        assert c.records_in == c.records_out + sum(c.dropped.values())
    assert stats.records == stats.stages[-1].records_out == 4


def test_counters_add_up():
    a = Counters("s", 3, 2, {"x": 1}, 1.0)
    b = Counters("s", 5, 3, {"x": 1, "y": 1}, 0.5)
    assert a + b == Counters("s", 8, 5, {"x": 2, "y": 1}, 1.5)


@pytest.mark.parametrize("stage", [
    lambda fail: ck.map(lambda r: fail(r) or r, on_error="skip"),
    lambda fail: ck.filter(lambda r: fail(r) or True, on_error="skip"),
])
def test_on_error_skip_counts_errors(numbers, stage):
    def fail(record):
        if as_int(record) in (3, 8):
            raise ValueError("bad number")

    stats = (ck.read(numbers) | stage(fail)).run(progress=False)
    assert stats.records == 8
    assert stats.stages[1].dropped == {"error": 2}


def test_on_error_raise_names_the_file_and_line(numbers):
    def fail(record):
        if as_int(record) == 6:
            raise ValueError("six")
        return record

    with pytest.raises(InputError) as caught:
        list(ck.read(numbers, block_size=4) | ck.map(fail))
    assert caught.value.path == str(numbers)
    assert caught.value.line == 7
    assert "ValueError: six" in str(caught.value)


def test_on_error_callable_sees_each_error(numbers):
    seen: list[InputError] = []

    def fail(record):
        if as_int(record) in (2, 5):
            raise KeyError("k")
        return record

    assert len(list(ck.read(numbers, block_size=4) | ck.map(fail, on_error=seen.append))) == 8
    assert [(e.path, e.line) for e in seen] == [(str(numbers), 3), (str(numbers), 6)]


def test_on_error_callable_that_raises_stops_the_run(numbers):
    class Stop(Exception):
        pass

    def stop(error):
        raise Stop(str(error))

    with pytest.raises(Stop, match="numbers.txt:1"):
        list(ck.read(numbers) | ck.map_batches(lambda b: 1 / 0, on_error=stop))


def test_a_failed_run_stops_its_threads(numbers, tmp_path):
    """Threads of a run that failed midway stop with it, not later in the garbage collector."""
    def fail_at_five(record):
        if as_int(record) == 5:
            raise ValueError("five")
        return record

    with pytest.raises(InputError, match="five"):
        (ck.read(numbers, block_size=4) | ck.map(fail_at_five) | ck.write(tmp_path / "out.txt")).run()
    assert [t.name for t in threading.enumerate() if t.name.startswith("corpuskit-")] == []
    assert os.listdir(tmp_path) == ["numbers.txt"]


def test_map_batches_skip_drops_the_whole_batch(numbers):
    def fail_on_zero(batch):
        if b"0" in batch.column("text").to_pylist():
            raise ValueError("zero")
        return batch

    stats = (ck.read(numbers, block_size=4) | ck.map_batches(fail_on_zero, on_error="skip")).run(progress=False)
    assert stats.stages[1].dropped == {"error": stats.stages[1].records_in - stats.records}
    assert stats.records == 8


def test_on_error_must_be_a_policy(numbers):
    with pytest.raises(CorpusError, match="on_error"):
        ck.map(lambda r: r, on_error="ignore")
    with pytest.raises(CorpusError, match="on_error"):
        ck.read(numbers, on_error="warn")


def test_jsonl_bad_lines_skipped_are_counted(tmp_path):
    (tmp_path / "in.jsonl").write_bytes(b'{"text": "a"}\n{"text": \n[1, 2]\n{"text": "b"}\n\xff\n')
    stats = (ck.read(tmp_path / "in.jsonl", on_error="skip") | ck.write(tmp_path / "out.jsonl")).run(progress=False)
    assert stats.records == 2
    assert (stats.stages[0].records_in, stats.stages[0].dropped) == (5, {"bad_json": 3})
    assert (tmp_path / "out.jsonl").read_text() == '{"text": "a"}\n{"text": "b"}\n'


def test_run_without_writer_counts(numbers):
    stats = (ck.read(numbers) | ck.filter(lambda r: as_int(r) > 4)).run(progress=False)
    assert isinstance(stats, RunStats)
    assert (stats.records, stats.bytes, stats.manifest) == (5, 0, None)
    assert isinstance(stats.seconds, float)


def test_run_single_file_manifest(numbers, tmp_path):
    out = tmp_path / "out.txt.zst"
    pipe = ck.read(numbers) | ck.filter(lambda r: as_int(r) != 5) | ck.write(out)
    stats = pipe.run(progress=False)
    data = out.read_bytes()
    assert (stats.records, stats.bytes) == (9, len(data))
    assert stats.manifest == str(out) + ".manifest.json"
    manifest = json.loads((tmp_path / "out.txt.zst.manifest.json").read_text())
    assert manifest["inputs"] == [{"path": str(numbers), "format": "text", "compression": None,
                                   "bytes": numbers.stat().st_size}]
    assert manifest["outputs"] == [{"path": str(out), "records": 9, "bytes": len(data),
                                    "xxh64": xxhash.xxh64(data).hexdigest()}]
    assert [c["name"] for c in manifest["counters"]] == ["read", "filter:<lambda>"]
    assert manifest["counters"][1]["dropped"] == {"filtered": 1}
    assert manifest["counters"][1]["records_in"] == 10 and manifest["counters"][1]["records_out"] == 9
    assert manifest["stages"] == [{"name": "filter:<lambda>", "on_error": "raise"}]
    assert manifest["corpuskit"] == ck.__version__


def test_run_sharded_manifest(numbers, tmp_path):
    stats = (ck.read(numbers) | ck.write(tmp_path / "out", shards=3, compress="gz")).run(progress=False)
    folder = tmp_path / "out"
    assert sorted(os.listdir(folder)) == ["manifest.json", "part-00000.txt.gz", "part-00001.txt.gz",
                                          "part-00002.txt.gz"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert stats.manifest == str(folder / "manifest.json")
    assert [o["records"] for o in manifest["outputs"]] == [3, 3, 4]
    for entry in manifest["outputs"]:
        data = (folder / entry["path"]).read_bytes()
        assert entry["bytes"] == len(data)
        assert entry["xxh64"] == xxhash.xxh64(data).hexdigest()
    assert manifest["outputs"] == stats.outputs
    assert stats.bytes == sum(o["bytes"] for o in manifest["outputs"])
    assert manifest["inputs"][0]["bytes"] == numbers.stat().st_size


def test_no_manifest_when_not_wanted(numbers, tmp_path):
    (ck.read(numbers) | ck.write(tmp_path / "out.txt", manifest=False)).run(progress=False)
    assert sorted(os.listdir(tmp_path)) == ["numbers.txt", "out.txt"]
