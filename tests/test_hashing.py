"""corpuskit.hashing: the vectorised xxh64 must equal xxhash.xxh64_intdigest bit for bit."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st

from corpuskit import hashing
from corpuskit.hashing import fingerprint_sum, xxh64_lines, xxh64_ranges

SEEDS = st.one_of(st.just(0), st.integers(0, 2**64 - 1))
# mostly short values (every tail shape), sometimes longer than LONG_RECORD_BYTES
VALUE = st.one_of(st.binary(max_size=300), st.binary(max_size=70),
                  st.binary(min_size=1000, max_size=5000))
LINES = st.lists(st.one_of(VALUE, VALUE, VALUE, VALUE, st.binary(min_size=1000, max_size=5000)),
                 max_size=60)


def expected(values: list[bytes], seed: int = 0) -> list[int]:
    """The reference: one xxhash call per value."""
    return [xxhash.xxh64_intdigest(v, seed) for v in values]


def concat(values: list[bytes]) -> tuple[bytes, np.ndarray, np.ndarray]:
    """The values back to back, with their start and end offsets."""
    offsets = np.cumsum([0] + [len(v) for v in values])
    return b"".join(values), offsets[:-1], offsets[1:]


@settings(max_examples=100, deadline=None)
@given(LINES, SEEDS)
def test_ranges_equal_xxhash(values, seed):
    buf, starts, ends = concat(values)
    got = xxh64_ranges(buf, starts, ends, seed)
    assert got.dtype == np.uint64
    assert got.tolist() == expected(values, seed)


@settings(max_examples=50, deadline=None)
@given(LINES, SEEDS)
def test_small_chunks(values, seed):
    """Many tiny chunks, so chunk boundaries are exercised by small inputs."""
    buf, starts, ends = concat(values)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(hashing, "CHUNK_RECORDS", 7)
        assert xxh64_ranges(buf, starts, ends, seed).tolist() == expected(values, seed)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=400), st.lists(st.tuples(st.integers(0, 400), st.integers(0, 400)),
                                         max_size=40), SEEDS)
def test_arbitrary_ranges(buf, pairs, seed):
    """Ranges in any order, overlapping, empty, or ending at the very end of the buffer."""
    pairs = [(min(a, b, len(buf)), min(max(a, b), len(buf))) for a, b in pairs]
    pairs += [(max(len(buf) - t, 0), len(buf)) for t in (0, 1, 5, 31, 32, 33)]
    starts = np.array([a for a, _ in pairs], dtype=np.int64)
    ends = np.array([b for _, b in pairs], dtype=np.int64)
    got = xxh64_ranges(buf, starts, ends, seed)
    assert got.tolist() == expected([buf[a:b] for a, b in pairs], seed)


@pytest.mark.parametrize("length", [0, 1, 3, 4, 7, 8, 15, 31, 32, 33, 63, 64, 65, 127,
                                    hashing.LONG_RECORD_BYTES - 1, hashing.LONG_RECORD_BYTES,
                                    hashing.LONG_RECORD_BYTES + 1, 4096, 100_000])
def test_every_length_class(length):
    rng = np.random.default_rng(length)
    data = rng.integers(0, 256, length + 50, dtype=np.uint8).tobytes()
    values = [data[i: i + length] for i in range(0, 50, 7)]
    buf, starts, ends = concat(values)
    assert xxh64_ranges(buf, starts, ends, 12345).tolist() == expected(values, 12345)


def test_all_tail_shapes_in_one_chunk():
    rng = np.random.default_rng(0)
    values = [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in range(0, 200)] * 3
    buf, starts, ends = concat(values)
    assert xxh64_ranges(buf, starts, ends).tolist() == expected(values)


def test_buffer_types():
    values = [b"hello", b"", b"x" * 40, bytes(range(256))]
    buf, starts, ends = concat(values)
    want = expected(values)
    for data in (buf, bytearray(buf), memoryview(buf), pa.py_buffer(buf),
                 np.frombuffer(buf, dtype=np.uint8)):
        assert xxh64_ranges(data, starts, ends).tolist() == want


def test_seed_is_taken_modulo_2_64_like_xxhash():
    for seed in (-1, 2**64, 2**64 + 5, -(2**63)):
        assert xxh64_ranges(b"abc", [0], [3], seed)[0] == xxhash.xxh64_intdigest(b"abc", seed)


def test_empty_inputs():
    assert xxh64_ranges(b"", np.array([], dtype=np.int64), np.array([], dtype=np.int64)).size == 0
    assert xxh64_ranges(b"", [0, 0], [0, 0]).tolist() == expected([b"", b""])
    assert xxh64_ranges(None, [0], [0]).tolist() == expected([b""])
    assert xxh64_lines(pa.array([], pa.large_binary())).size == 0
    assert xxh64_lines(pa.array([b"", b""], pa.binary())).tolist() == expected([b"", b""])
    assert fingerprint_sum(np.array([], dtype=np.uint64)) == 0


@pytest.mark.parametrize("starts, ends", [([0], [4]), ([-1], [1]), ([2], [1]), ([0, 1], [1])])
def test_bad_ranges(starts, ends):
    with pytest.raises(ValueError):
        xxh64_ranges(b"abc", starts, ends)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), VALUE), max_size=40),
       st.sampled_from([pa.binary(), pa.large_binary()]), st.data())
def test_lines_binary_slices_and_nulls(values, type_, data):
    arr = pa.array(values, type=type_)
    offset = data.draw(st.integers(0, len(values)))
    length = data.draw(st.integers(0, len(values) - offset))
    sliced = arr.slice(offset, length)
    want = expected([v or b"" for v in values[offset: offset + length]])
    assert xxh64_lines(sliced).tolist() == want


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(max_size=120), max_size=40),
       st.sampled_from([pa.string(), pa.large_string()]), st.integers(0, 5), SEEDS)
def test_lines_strings(texts, type_, offset, seed):
    arr = pa.array(texts, type=type_).slice(min(offset, len(texts)))
    want = expected([t.encode() for t in texts[offset:]], seed)
    assert xxh64_lines(arr, seed).tolist() == want


def test_null_spanning_bytes_hashes_as_empty():
    data = pa.py_buffer(b"abcdefgh")
    offsets = pa.py_buffer(np.array([0, 3, 8], dtype=np.int32).tobytes())
    validity = pa.py_buffer(bytes([0b01]))                # second value null, spans 5 bytes
    arr = pa.BinaryArray.from_buffers(pa.binary(), 2, [validity, offsets, data], null_count=1)
    assert xxh64_lines(arr).tolist() == expected([b"abc", b""])


def test_lines_chunked_array():
    chunked = pa.chunked_array([pa.array([b"a", b"bc"]), pa.array([b"d" * 50])])
    assert xxh64_lines(chunked).tolist() == expected([b"a", b"bc", b"d" * 50])


def test_lines_rejects_other_types():
    with pytest.raises(TypeError):
        xxh64_lines(pa.array([1, 2, 3]))


@settings(max_examples=50, deadline=None)
@given(LINES)
def test_fingerprint_sum(values):
    buf, starts, ends = concat(values)
    assert fingerprint_sum(xxh64_ranges(buf, starts, ends)) == sum(expected(values)) % 2**64
