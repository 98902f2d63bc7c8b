"""Round trips: any lines, written and read back through every format, compression and sharding."""

from __future__ import annotations

import gzip
import os

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import corpuskit as ck
from corpuskit.io.count import count
from corpuskit.io.paths import extension

FORMATS = ["text", "jsonl", "parquet"]
COMPRESSIONS = [None, "zst", "gz"]
SHARDINGS = [{}, *({"shards": n} for n in range(1, 6)), {"shard_size": 1}, {"shard_size": 7}]

quick = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

tricky_bytes = st.sampled_from([b"", b"\r", b"\r\r", b"\x00", b"\x00\r\x00", b"\xff\xfe", b"\xc3", b"\xed\xa0\x80",
                                b" ", b"\t", b"a\rb", b"\xef\xbb\xbf"])
any_line = st.one_of(tricky_bytes, st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")))
tricky_text = st.sampled_from(["", "\r", "\x00", " ", '"', "\\", "\u2028", "\u0085", "\x0b\x0c", "中文", "😀",
                               '{"text": 1}', "\ufeff"])
utf8_line = st.one_of(tricky_text, st.text(st.characters(exclude_characters="\n", exclude_categories=("Cs",)),
                                           max_size=30)).map(lambda s: s.encode("utf-8"))
block_sizes = st.sampled_from([1, 2, 3, 5, 8, 16, 64, 1 << 20])
shardings = st.sampled_from(SHARDINGS)


def file_bytes(lines: list[bytes], final_newline: bool = True) -> bytes:
    """The lines as a file; without a final newline when asked and when the last line shows it."""
    data = b"\n".join(lines)
    if lines and (final_newline or lines[-1] == b""):
        data += b"\n"
    return data


def compressed(data: bytes, compression: str | None) -> bytes:
    if compression == "zst":
        return zstandard.ZstdCompressor().compress(data)
    if compression == "gz":
        return gzip.compress(data)
    return data


def text_of(records) -> list[bytes]:
    """The ``text`` field of every record as bytes (JSONL gives str)."""
    out = []
    for record in records:
        assert list(record) == ["text"]
        value = record["text"]
        out.append(value if isinstance(value, bytes) else value.encode("utf-8"))
    return out


def part_files(folder) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n.startswith("part-"))


def write_and_read_back(folder, lines: list[bytes], fmt: str, compression: str | None, sharding: dict,
                        block_size: int, final_newline: bool) -> list[bytes]:
    source = folder / "in.txt"
    source.write_bytes(file_bytes(lines, final_newline))
    if sharding:
        out = folder / "out"
        writer = ck.write(out, format=fmt, compress=compression or "none", **sharding)
    else:
        out = folder / f"out{extension(fmt, compression)}"
        writer = ck.write(out)
    stats = (ck.read(source, block_size=block_size) | writer).run(progress=False)
    assert stats.records == len(lines)
    if "shards" in sharding:
        parts = part_files(out)
        assert len(parts) == sharding["shards"]
        sizes = [r["records"] for r in count([str(out / p) for p in parts])]
        assert max(sizes) - min(sizes) <= 1
        assert sum(sizes) == len(lines)
    return text_of(ck.read(out, block_size=block_size))


@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("fmt", FORMATS)
@quick
@given(data=st.data(), sharding=shardings, block_size=block_sizes, final_newline=st.booleans())
def test_lines_come_back_exactly(fresh, fmt, compression, data, sharding, block_size, final_newline):
    lines = data.draw(st.lists(utf8_line if fmt == "jsonl" else any_line, max_size=25), label="lines")
    back = write_and_read_back(fresh(), lines, fmt, compression, sharding, block_size, final_newline)
    assert back == lines


@pytest.mark.parametrize("sharding", SHARDINGS, ids=str)
@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_compression_and_sharding(tmp_path, fmt, compression, sharding):
    lines = [b"first", b"", b"\r", "中文 \u2028".encode(), b"\x00nul", b"x" * 100, b"last"]
    if fmt != "jsonl":
        lines.append(b"\xff\xfe not utf-8")
    assert write_and_read_back(tmp_path, lines, fmt, compression, sharding, 4, False) == lines


@quick
@given(lines=st.lists(any_line, max_size=30), block_size=block_sizes, final_newline=st.booleans())
def test_text_to_text_keeps_every_byte_and_ends_lines(fresh, lines, block_size, final_newline):
    folder = fresh()
    data = file_bytes(lines, final_newline)
    (folder / "in.txt").write_bytes(data)
    (ck.read(folder / "in.txt", block_size=block_size) | ck.write(folder / "out.txt")).run(progress=False)
    expected = data + b"\n" if data and not data.endswith(b"\n") else data
    assert (folder / "out.txt").read_bytes() == expected


@quick
@given(chunks=st.lists(st.lists(any_line, max_size=8), min_size=1, max_size=5),
       compressions=st.lists(st.sampled_from(COMPRESSIONS), min_size=5, max_size=5), block_size=block_sizes)
def test_many_files_read_as_one_stream(fresh, chunks, compressions, block_size):
    folder = fresh()
    paths = []
    for i, (chunk, compression) in enumerate(zip(chunks, compressions)):
        path = folder / f"{len(chunks) - i}.txt{'.' + compression if compression else ''}"
        path.write_bytes(compressed(file_bytes(chunk, final_newline=i % 2 == 0), compression))
        paths.append(path)
    expected = [line for chunk in chunks for line in chunk]
    assert text_of(ck.read(paths, block_size=block_size)) == expected
    assert sum(r["records"] for r in count(paths)) == len(expected)


BOUNDARIES = [
    (b"abc\ndef\n", 8),
    (b"abc\ndefg", 8),
    (b"abc\ndef\n", 4),
    (b"abc\ndef\nabc\ndef\n", 8),
    (b"abc\ndef\nabc\ndefg", 8),
    (b"abcdefgh\n", 8),
    (b"abcdefgh", 8),
    (b"x" * 100 + b"\ny\n", 7),
    (b"y\n" + b"x" * 100, 7),
    (b"\n\n\n", 1),
    (b"\r\n\r\n", 2),
    (b"a", 1),
    (b"", 1),
]


@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("data, block_size", BOUNDARIES)
def test_block_boundaries(tmp_path, data, block_size, compression):
    expected = data.split(b"\n")
    if data.endswith(b"\n") or not data:
        expected.pop()
    name = "in.txt" + (f".{compression}" if compression else "")
    (tmp_path / name).write_bytes(compressed(data, compression))
    assert text_of(ck.read(tmp_path / name, block_size=block_size)) == expected
    assert count(tmp_path / name)[0]["records"] == len(expected)
    (ck.read(tmp_path / name, block_size=block_size) | ck.write(tmp_path / "out.txt")).run(progress=False)
    assert (tmp_path / "out.txt").read_bytes() == b"".join(line + b"\n" for line in expected)


@quick
@given(lines=st.lists(any_line, min_size=1, max_size=30), limit=st.integers(1, 60), block_size=block_sizes)
def test_shard_size_cuts_between_records_near_the_limit(fresh, lines, limit, block_size):
    folder = fresh()
    (folder / "in.txt").write_bytes(file_bytes(lines))
    (ck.read(folder / "in.txt", block_size=block_size) | ck.write(folder / "out", shard_size=limit)).run(progress=False)
    parts = [(folder / "out" / name).read_bytes() for name in part_files(folder / "out")]
    assert b"".join(parts) == file_bytes(lines)
    for part in parts:
        body = [line + b"\n" for line in part.split(b"\n")[:-1]]
        assert body, "no part is empty"
        assert sum(map(len, body[:-1])) < limit, "a part goes past the limit only by its last record"
    assert len(parts) == 1 or all(len(part) >= limit for part in parts[:-1])
