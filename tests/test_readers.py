"""Readers: which files an argument names, in what order, in what format, and what records come out."""

from __future__ import annotations

import gzip
import io
import json
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

import corpuskit as ck
from corpuskit import CorpusError, InputError
from corpuskit.io.count import count


def texts(pipeline) -> list[bytes]:
    return [r["text"] for r in pipeline]


@pytest.fixture
def stdin(monkeypatch):
    """Feeds bytes to ``sys.stdin.buffer`` as a pipe would."""

    def feed(data: bytes) -> None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))

    return feed


def test_glob_matches_are_read_sorted(tmp_path):
    for name in ["b.txt", "c.txt", "a.txt", "skip.md"]:
        (tmp_path / name).write_bytes(name.encode() + b"\n")
    assert texts(ck.read(str(tmp_path / "*.txt"))) == [b"a.txt", b"b.txt", b"c.txt"]


def test_recursive_glob(tmp_path):
    (tmp_path / "x" / "y").mkdir(parents=True)
    (tmp_path / "x" / "y" / "deep.txt").write_bytes(b"deep\n")
    (tmp_path / "top.txt").write_bytes(b"top\n")
    assert texts(ck.read(str(tmp_path / "**" / "*.txt"))) == [b"top", b"deep"]


def test_arguments_keep_the_order_given(tmp_path):
    for name in "abc":
        (tmp_path / f"{name}.txt").write_bytes(f"{name}1\n{name}2\n".encode())
    paths = [tmp_path / "c.txt", str(tmp_path / "a.txt"), tmp_path / "b.txt"]
    assert texts(ck.read(paths)) == [b"c1", b"c2", b"a1", b"a2", b"b1", b"b2"]


def test_the_same_file_twice_is_read_twice(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"a\n")
    assert texts(ck.read([tmp_path / "a.txt", tmp_path / "a.txt"])) == [b"a", b"a"]


def test_folder_is_read_recursively_sorted_skipping_hidden_and_manifests(tmp_path):
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "_tmp").mkdir()
    (data / "b.txt").write_bytes(b"b\n")
    (data / "a.txt.zst").write_bytes(zstandard.ZstdCompressor().compress(b"a\n"))
    (data / "sub" / "c.txt.gz").write_bytes(gzip.compress(b"c\n"))
    (data / ".hidden.txt").write_bytes(b"hidden\n")
    (data / "_SUCCESS").write_bytes(b"")
    (data / "_tmp" / "x.txt").write_bytes(b"underscore folder\n")
    (data / "manifest.json").write_text("{}")
    assert texts(ck.read(data)) == [b"a", b"b", b"c"]


def test_sharded_output_folder_reads_back_in_order(tmp_path):
    lines = [f"line {i}".encode() for i in range(25)]
    (tmp_path / "in.txt").write_bytes(b"".join(line + b"\n" for line in lines))
    (ck.read(tmp_path / "in.txt") | ck.write(tmp_path / "out", shards=12, compress="zst")).run(progress=False)
    assert texts(ck.read(tmp_path / "out")) == lines


def test_stdin(tmp_path, stdin):
    stdin(b"one\n\xff\x00\r\nlast")
    assert texts(ck.read("-")) == [b"one", b"\xff\x00\r", b"last"]


def test_stdin_between_files(tmp_path, stdin):
    (tmp_path / "a.txt").write_bytes(b"a\n")
    stdin(b"s\n")
    assert texts(ck.read([tmp_path / "a.txt", "-", tmp_path / "a.txt"])) == [b"a", b"s", b"a"]


def test_stdin_as_jsonl_and_compressed(stdin):
    stdin(gzip.compress(b'{"text": "x", "n": 1}\n'))
    assert list(ck.read("-", format="jsonl", compression="gz")) == [{"text": "x", "n": 1}]


def test_stdin_only_once(stdin):
    stdin(b"x\n")
    with pytest.raises(CorpusError, match="only once"):
        ck.read(["-", "-"])


def test_parquet_from_stdin_is_refused(stdin):
    stdin(b"")
    with pytest.raises(InputError, match="Parquet cannot be read from stdin"):
        list(ck.read("-", format="parquet"))


@pytest.mark.parametrize("name, fmt", [
    ("a.txt", "text"), ("a.TXT", "text"), ("a.md", "text"), ("a", "text"), ("a.csv.zst", "text"),
    ("a.jsonl", "jsonl"), ("a.json", "jsonl"), ("a.ndjson", "jsonl"), ("a.JSONL.GZ", "jsonl"),
    ("a.jsonl.zstd", "jsonl"), ("a.parquet", "parquet"),
])
def test_format_and_compression_from_the_name(tmp_path, name, fmt):
    compression = {"zst": "zst", "zstd": "zst", "gz": "gz"}.get(name.lower().rsplit(".", 1)[-1])
    if fmt == "parquet":
        pq.write_table(pa.table({"text": ["hi"]}), tmp_path / name)
    else:
        data = b'{"text": "hi"}\n' if fmt == "jsonl" else b"hi\n"
        if compression == "zst":
            data = zstandard.ZstdCompressor().compress(data)
        elif compression == "gz":
            data = gzip.compress(data)
        (tmp_path / name).write_bytes(data)
    assert list(ck.read(tmp_path / name)) == [{"text": b"hi" if fmt == "text" else "hi"}]
    assert count(tmp_path / name)[0] == {
        "path": str(tmp_path / name), "format": fmt, "compression": compression, "records": 1,
        "bytes": (tmp_path / name).stat().st_size, "dropped": {}}


def test_format_given_overrides_the_name(tmp_path):
    (tmp_path / "a.txt").write_bytes(b'{"x": 1}\n')
    (tmp_path / "b.jsonl").write_bytes(b'{"x": 1}\n')
    assert list(ck.read(tmp_path / "a.txt", format="jsonl")) == [{"x": 1}]
    assert list(ck.read(tmp_path / "b.jsonl", format="text")) == [{"text": b'{"x": 1}'}]


def test_mixed_formats_in_one_stream(tmp_path):
    (tmp_path / "1.txt").write_bytes(b"plain\n")
    (tmp_path / "2.jsonl.gz").write_bytes(gzip.compress(b'{"text": "json", "id": 7}\n'))
    pq.write_table(pa.table({"text": ["parquet"], "score": [0.5]}), tmp_path / "3.parquet")
    assert list(ck.read(tmp_path)) == [
        {"text": b"plain"}, {"text": "json", "id": 7}, {"text": "parquet", "score": 0.5}]
    (ck.read(tmp_path) | ck.write(tmp_path / "out.txt")).run(progress=False)
    assert (tmp_path / "out.txt").read_bytes() == b"plain\njson\nparquet\n"


RECORDS = [
    {"text": "héllo 中文", "id": 1, "score": 0.25, "ok": True, "tags": ["a", "b"],
     "meta": {"url": "http://x", "lang": "zh", "depth": 2}, "note": None},
    {"text": "", "id": 2, "score": -1.5, "ok": False, "tags": [],
     "meta": {"url": "", "lang": "en", "depth": 0}, "note": "n"},
]


@pytest.mark.parametrize("out_name", ["out.jsonl", "out.jsonl.zst", "out.parquet"])
def test_jsonl_keeps_every_field(tmp_path, out_name):
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in RECORDS))
    assert list(ck.read(tmp_path / "in.jsonl")) == RECORDS
    (ck.read(tmp_path / "in.jsonl") | ck.write(tmp_path / out_name)).run(progress=False)
    assert list(ck.read(tmp_path / out_name)) == RECORDS


def test_jsonl_output_lines_are_the_records(tmp_path):
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    (ck.read(tmp_path / "in.jsonl") | ck.write(tmp_path / "out.jsonl")).run(progress=False)
    assert [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()] == RECORDS


def test_jsonl_text_field_crossing_small_blocks(tmp_path):
    records = [{"text": "x" * n, "n": n} for n in range(40)]
    (tmp_path / "in.jsonl").write_text("\n\n".join(json.dumps(r) for r in records))
    assert list(ck.read(tmp_path / "in.jsonl", block_size=16)) == records


def test_parquet_keeps_every_field_and_type(tmp_path):
    table = pa.table({
        "text": pa.array(["a", "b", None]),
        "raw": pa.array([b"\xff", b"", b"\x00"], pa.binary()),
        "n": pa.array([1, 2, 3], pa.int16()),
        "tags": pa.array([["x"], [], None], pa.list_(pa.string())),
        "meta": pa.array([{"k": 1}, {"k": None}, None], pa.struct([("k", pa.int64())])),
    })
    pq.write_table(table, tmp_path / "in.parquet", row_group_size=1)
    assert list(ck.read(tmp_path / "in.parquet")) == table.to_pylist()
    (ck.read(tmp_path / "in.parquet") | ck.write(tmp_path / "out.parquet")).run(progress=False)
    assert pq.read_table(tmp_path / "out.parquet").equals(table)


def test_parquet_to_jsonl_keeps_every_field(tmp_path):
    table = pa.table({"text": ["a", "b"], "n": [1, 2], "tags": [["x"], []]})
    pq.write_table(table, tmp_path / "in.parquet")
    (ck.read(tmp_path / "in.parquet") | ck.write(tmp_path / "out.jsonl")).run(progress=False)
    assert (tmp_path / "out.jsonl").read_text() == (
        '{"text": "a", "n": 1, "tags": ["x"]}\n{"text": "b", "n": 2, "tags": []}\n')


DATES = ["2024-01-02", "2024-01-02T03:04:05", "2024-01-02T03:04:05Z", "2024-01-02 03:04:05.123+08:00"]


@pytest.mark.parametrize("date", DATES)
def test_iso_date_strings_stay_strings(tmp_path, date):
    record = {"text": "t", "date": date, "meta": {"seen": date}, "history": [date, date]}
    (tmp_path / "in.jsonl").write_text(json.dumps(record) + "\n")
    assert list(ck.read(tmp_path / "in.jsonl")) == [record]
    (ck.read(tmp_path / "in.jsonl") | ck.write(tmp_path / "out.jsonl")).run(progress=False)
    assert json.loads((tmp_path / "out.jsonl").read_text()) == record
    (ck.read(tmp_path / "in.jsonl") | ck.write(tmp_path / "out.parquet")).run(progress=False)
    assert pq.read_schema(tmp_path / "out.parquet").field("date").type == pa.string()


def test_text_field_names_the_column(tmp_path):
    (tmp_path / "in.txt").write_bytes(b"a\nb\n")
    assert list(ck.read(tmp_path / "in.txt", field="line")) == [{"line": b"a"}, {"line": b"b"}]


def test_jsonl_field_picks_the_text_for_text_output(tmp_path):
    (tmp_path / "in.jsonl").write_text('{"id": 1, "body": "one"}\n{"id": 2, "body": "two"}\n')
    (ck.read(tmp_path / "in.jsonl", field="body") | ck.write(tmp_path / "out.txt")).run(progress=False)
    assert (tmp_path / "out.txt").read_bytes() == b"one\ntwo\n"


def test_count(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"1\n2\n3")
    (tmp_path / "b.txt.zst").write_bytes(zstandard.ZstdCompressor().compress(b"1\n\n\n"))
    (tmp_path / "c.jsonl").write_bytes(b'{"a": 1}\n\n{"a": 2}\n')
    (tmp_path / "d.txt").write_bytes(b"")
    pq.write_table(pa.table({"a": list(range(5))}), tmp_path / "e.parquet")
    assert [(r["path"], r["records"], r["bytes"]) for r in count(tmp_path)] == [
        (str(tmp_path / name), n, (tmp_path / name).stat().st_size)
        for name, n in [("a.txt", 3), ("b.txt.zst", 3), ("c.jsonl", 2), ("d.txt", 0), ("e.parquet", 5)]]


def test_count_skipping_bad_json(tmp_path):
    (tmp_path / "a.jsonl").write_bytes(b'{"a": 1}\nnope\n{"a": 2}\n')
    with pytest.raises(InputError, match="a.jsonl:2"):
        count(tmp_path / "a.jsonl")
    [result] = count(tmp_path / "a.jsonl", on_error="skip")
    assert (result["records"], result["dropped"]) == (2, {"bad_json": 1})
