"""XXH64 of many byte ranges of one buffer at once, vectorised with numpy.

``xxh64_ranges(data, starts, ends)`` equals
``[xxhash.xxh64_intdigest(data[s:e], seed) for s, e in zip(starts, ends)]`` bit for bit,
without creating one Python object per record.  It exists for corpus fingerprints
(record count and the sum mod 2**64 of every record's xxh64), which must cost little
next to reading the corpus.

How (the algorithm is the one of the XXH64 specification, Cyan4973/xxHash
``doc/xxhash_spec.md``; only the order of the work changes):

* The buffer is seen through unaligned, overlapping strided views (``strides=(1,)``),
  so that reading 32 bytes (one stripe) at any offset, for many records, is one
  fancy-index operation.
* The 32-byte stripe loop runs "across records": records are ordered by stripe count,
  longest first, so the records still active at stripe ``j`` are a prefix, and one
  iteration updates the four lanes of all of them with a few whole-array operations.
* The tail (0-31 bytes after the last stripe) is read as one 32-byte window per record
  (the window may run past the record, never past the buffer).  Records are ordered by
  tail length, so those having an 8-byte word i are a prefix; then by len % 8, so those
  having the 4-byte word, or a byte b, form one or two runs.
* Records longer than ``LONG_RECORD_BYTES`` are hashed one by one with ``xxhash``: a
  call costs ~0.3 us, about what numpy spends on 500 bytes.  This also bounds the number
  of stripe iterations per chunk.
* Records are processed in chunks of ``CHUNK_RECORDS`` so that temporaries stay small
  and in cache; each chunk's bytes are first read once in order (``_prefetch``) so that
  the shuffled gathers that follow hit the cache.

Unsigned 64-bit numpy arithmetic wraps modulo 2**64 without warnings (only numpy
*scalar* arithmetic warns, and it is not used on data here).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import xxhash

__all__ = ["xxh64_ranges", "xxh64_lines", "fingerprint_sum"]

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]

# XXH64 primes, from the xxHash specification (doc/xxhash_spec.md, "XXH64 Algorithm Description").
PRIME64_1 = 0x9E3779B185EBCA87
PRIME64_2 = 0xC2B2AE3D27D4EB4F
PRIME64_3 = 0x165667B19E3779F9
PRIME64_4 = 0x85EBCA77C2B2AE63
PRIME64_5 = 0x27D4EB2F165667C5
MASK64 = (1 << 64) - 1

_P1, _P2, _P3, _P4, _P5 = (np.uint64(p)
                            for p in (PRIME64_1, PRIME64_2, PRIME64_3, PRIME64_4, PRIME64_5))

STRIPE = 32                 # bytes consumed per accumulator round (4 lanes of 8 bytes)
LONG_RECORD_BYTES = 512     # longer ranges are hashed one by one by xxhash (faster there)
CHUNK_RECORDS = 1 << 13     # records per vectorised chunk


class _Views(NamedTuple):
    """The buffer as bytes and as 32-byte items starting at every byte offset."""

    u8: npt.NDArray[np.uint8]
    v32: np.ndarray        # dtype V32, shape (max(n - 31, 0),), strides (1,)
    pad32: np.ndarray      # dtype V32 over a zero-padded copy of the last 32 bytes
    pad_base: int          # offset in the buffer of pad32's first item


# ---------------------------------------------------------------------------------------
# public API


def xxh64_ranges(data, starts: np.ndarray, ends: np.ndarray, seed: int = 0) -> U64:
    """xxh64 of data[starts[i]:ends[i]] for every i, as uint64; data is any buffer (bytes, bytearray, memoryview, pyarrow.Buffer, uint8 ndarray).

    ``data=None`` is an empty buffer (what pyarrow gives for an array of empty values).
    ``seed`` is taken modulo 2**64, as ``xxhash`` does.  Raises ValueError if a range is
    not within the buffer or ends before it starts.  Besides the result, memory use is
    bounded by a small multiple of CHUNK_RECORDS records.
    """
    u8 = _as_bytes(data)
    starts, ends = np.asarray(starts).reshape(-1), np.asarray(ends).reshape(-1)
    if starts.shape != ends.shape:
        raise ValueError(f"starts and ends differ in length: {len(starts)} != {len(ends)}")
    views = _views(u8)
    seed &= MASK64
    out = np.empty(len(starts), dtype=np.uint64)
    for lo in range(0, len(starts), CHUNK_RECORDS):
        hi = lo + CHUNK_RECORDS
        chunk_starts, lens = _checked_ranges(starts[lo:hi], ends[lo:hi], len(u8))
        out[lo:hi] = _xxh64_chunk(views, chunk_starts, lens, seed)
    return out


def xxh64_lines(values: pa.Array | pa.ChunkedArray, seed: int = 0) -> U64:
    """xxh64 of every value of a pyarrow binary / large_binary / string / large_string array.

    Slices (``array.offset``) are honoured; a null value hashes as b"" (whatever bytes its
    offsets span).  A ChunkedArray gives the concatenation of its chunks' hashes.
    """
    if isinstance(values, pa.ChunkedArray):
        parts = [xxh64_lines(chunk, seed) for chunk in values.chunks]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.uint64)
    offsets_dtype = _offsets_dtype(values.type)
    n = len(values)
    if n == 0:
        return np.empty(0, dtype=np.uint64)
    _, offsets_buf, data_buf = values.buffers()[:3]
    offsets = np.frombuffer(offsets_buf, dtype=offsets_dtype)[values.offset: values.offset + n + 1]
    starts, ends = offsets[:-1], offsets[1:]
    if values.null_count:
        ends = np.where(values.is_valid().to_numpy(zero_copy_only=False), ends, starts)
    return xxh64_ranges(data_buf, starts, ends, seed)


def fingerprint_sum(hashes: np.ndarray) -> int:
    """Sum of the hashes modulo 2**64, as a Python int (uint64 addition wraps)."""
    return int(np.add.reduce(np.asarray(hashes, dtype=np.uint64), dtype=np.uint64))


# ---------------------------------------------------------------------------------------
# input handling


def _as_bytes(data) -> npt.NDArray[np.uint8]:
    """The bytes of ``data`` as a 1-D uint8 array, without copying when possible."""
    if data is None:
        return np.empty(0, dtype=np.uint8)
    if isinstance(data, np.ndarray):
        return np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    return np.frombuffer(data, dtype=np.uint8)


def _checked_ranges(starts: np.ndarray, ends: np.ndarray, n: int) -> tuple[I64, I64]:
    """Starts and lengths as int64, validated against a buffer of n bytes."""
    if len(starts) and not (np.issubdtype(starts.dtype, np.integer)
                            and np.issubdtype(ends.dtype, np.integer)):
        raise TypeError(f"starts and ends must be integers, not {starts.dtype} / {ends.dtype}")
    starts = starts.astype(np.int64, copy=False)
    lens = ends.astype(np.int64, copy=False) - starts
    if len(starts) and (starts.min() < 0 or lens.min() < 0 or (starts + lens).max() > n):
        raise ValueError(f"ranges must satisfy 0 <= start <= end <= {n} (the buffer size)")
    return starts, lens


def _offsets_dtype(type_: pa.DataType) -> type:
    """int32 or int64, the offsets type of a (large_)binary / (large_)string type."""
    if pa.types.is_binary(type_) or pa.types.is_string(type_):
        return np.int32
    if pa.types.is_large_binary(type_) or pa.types.is_large_string(type_):
        return np.int64
    raise TypeError(f"xxh64_lines wants a binary or string array, not {type_}")


def _views(u8: npt.NDArray[np.uint8]) -> _Views:
    """Unaligned 32-byte views of the buffer and of a zero-padded copy of its end."""
    n = len(u8)
    v32 = np.ndarray(shape=(max(n - 31, 0),), dtype="V32", buffer=u8, strides=(1,))
    m = min(n, STRIPE)
    pad = np.zeros(2 * STRIPE, dtype=np.uint8)
    pad[:m] = u8[n - m:]
    pad32 = np.ndarray(shape=(STRIPE + 1,), dtype="V32", buffer=pad, strides=(1,))
    return _Views(u8, v32, pad32, n - m)


def _xxh64_each(u8: npt.NDArray[np.uint8], starts: I64, ends: I64, seed: int) -> U64:
    """xxh64 of each range with xxhash, one call per range (for the rare long records)."""
    mv = memoryview(u8)
    f = xxhash.xxh64_intdigest
    return np.array([f(mv[s:e], seed) for s, e in zip(starts.tolist(), ends.tolist())],
                    dtype=np.uint64)


# ---------------------------------------------------------------------------------------
# the vectorised hash of short records


def _xxh64_chunk(views: _Views, starts: I64, lens: I64, seed: int) -> U64:
    """xxh64 of one chunk of ranges: long ones one by one, the others vectorised."""
    long = lens > LONG_RECORD_BYTES
    if not long.any():
        return _xxh64_short(views, starts, lens, seed)
    out = np.empty(len(starts), dtype=np.uint64)
    idx = np.flatnonzero(long)
    out[idx] = _xxh64_each(views.u8, starts[idx], starts[idx] + lens[idx], seed)
    idx = np.flatnonzero(~long)
    out[idx] = _xxh64_short(views, starts[idx], lens[idx], seed)
    return out


def _xxh64_short(views: _Views, starts: I64, lens: I64, seed: int) -> U64:
    """xxh64 of ranges no longer than LONG_RECORD_BYTES, vectorised."""
    _prefetch(views.u8, starts, lens)
    nstripes = lens >> 5
    h = _stripe_phase(views, starts, nstripes, seed)
    h += lens.view(np.uint64)                           # spec step 4
    tail_starts = starts + (nstripes << 5)
    return _tail_phase(views, h, tail_starts, lens & (STRIPE - 1))


def _prefetch(u8: npt.NDArray[np.uint8], starts: I64, lens: I64) -> None:
    """Read the chunk's bytes once in order, so the shuffled gathers that follow hit cache."""
    if len(starts) == 0:
        return
    lo, hi = int(starts[0]), int(starts[-1] + lens[-1])
    if 0 <= hi - lo <= 2 * int(lens.sum()) + 4096:     # typical: records in buffer order
        u8[lo:hi].max(initial=0)


def _stripe_phase(views: _Views, starts: I64, nstripes: I64, seed: int) -> U64:
    """The state after the stripe loop and convergence, or seed + PRIME64_5 if no stripe."""
    h = np.full(len(starts), (seed + PRIME64_5) & MASK64, dtype=np.uint64)
    counts = np.bincount(nstripes, minlength=1)
    active = len(starts) - np.cumsum(counts)[:-1]      # active[j] = #records with > j stripes
    if len(active) == 0:
        return h
    key_type = np.min_scalar_type(len(active))         # uint8 in practice: radix sort
    order = np.argsort((len(active) - nstripes).astype(key_type), kind="stable")
    order = order[: active[0]]                          # records with stripes, most first
    acc = _accumulate(views.v32, starts[order], active.tolist(), seed)
    h[order] = _converge(acc)
    return h


def _initial_lanes(k: int, seed: int) -> U64:
    """k copies of the four initial accumulators (spec step 1)."""
    lanes = [seed + PRIME64_1 + PRIME64_2, seed + PRIME64_2, seed, seed - PRIME64_1]
    return np.tile(np.array([v & MASK64 for v in lanes], dtype=np.uint64), (k, 1))


def _accumulate(v32: np.ndarray, pos: I64, active: list[int], seed: int) -> U64:
    """Run the stripe loop (spec step 2) for records sorted by stripe count, descending.

    ``pos`` holds the records' start offsets and is advanced in place; ``active[j]`` is
    the number of records having a stripe j.  Returns the (k, 4) accumulators.
    """
    acc = _initial_lanes(len(pos), seed)
    for k in active:
        stripe = v32[pos[:k]].view(np.uint64).reshape(k, 4)
        _round(acc[:k], stripe)
        pos[:k] += STRIPE
    return acc


_SHIFT = [np.uint64(r) for r in range(65)]              # shift counts as uint64 scalars


def _rotl(x: U64, r: int, tmp: U64) -> None:
    """x = rotate-left(x, r), in place; tmp is scratch of x's shape."""
    np.left_shift(x, _SHIFT[r], out=tmp)
    np.right_shift(x, _SHIFT[64 - r], out=x)
    np.bitwise_or(x, tmp, out=x)


def _round(acc: U64, data: U64) -> None:
    """acc = round(acc, data) = rotl(acc + data * PRIME64_2, 31) * PRIME64_1; clobbers data."""
    np.multiply(data, _P2, out=data)
    np.add(acc, data, out=acc)
    _rotl(acc, 31, data)
    np.multiply(acc, _P1, out=acc)


def _round0(out: U64, data: U64, scratch: U64) -> None:
    """out = round(0, data) = rotl(data * PRIME64_2, 31) * PRIME64_1; out may be data."""
    np.multiply(data, _P2, out=out)
    _rotl(out, 31, scratch)
    np.multiply(out, _P1, out=out)


_CONVERGE_ROTL = np.array([[1], [7], [12], [18]], dtype=np.uint64)  # per lane, (4, 1)


def _converge(acc: U64) -> U64:
    """Accumulator convergence (spec step 3): the (k, 4) lanes to one 64-bit state each."""
    lanes = np.ascontiguousarray(acc.T)                 # (4, k): whole-row operations
    rotated = np.left_shift(lanes, _CONVERGE_ROTL)
    tmp = np.right_shift(lanes, _SHIFT[64] - _CONVERGE_ROTL)
    rotated |= tmp
    h = rotated[0] + rotated[1]
    h += rotated[2]
    h += rotated[3]
    _round0(tmp, lanes, rotated)                        # round(0, lane) for every lane
    for lane in tmp:
        h ^= lane
        h *= _P1
        h += _P4
    return h


def _tail_phase(views: _Views, h: U64, tail_starts: I64, tails: I64) -> U64:
    """Consume the last len % 32 bytes (spec step 5) and avalanche (step 6); chunk order.

    The 8-byte words are consumed with records ordered by tail length (descending), so
    that records having a word i are a prefix; the last len % 8 bytes are then consumed
    as one 64-bit value per record, with records ordered by len % 8.
    """
    order = np.argsort((STRIPE - 1 - tails).astype(np.uint8), kind="stable")
    ge = _at_least(tails, STRIPE)
    window = _tail_windows(views, tail_starts[order]).view(np.uint64)  # (k, 4)
    hs = h[order]
    tmp = np.empty((2, len(hs)), dtype=np.uint64)
    _tail_words(hs, window, ge, tmp)
    rest = _last_word(window, ge)                       # the bytes after the words
    rest_len = tails[order] & 7
    order2 = np.argsort((7 - rest_len).astype(np.uint8), kind="stable")
    hs, rest = hs[order2], rest[order2]
    ge = _at_least(rest_len, 8)
    _tail_word32(hs, rest, ge[4], tmp[0])
    _tail_bytes(hs, rest, ge, tmp[0])
    _avalanche(hs, tmp[0])
    out = np.empty_like(hs)
    out[order[order2]] = hs
    return out


def _at_least(values: I64, size: int) -> list[int]:
    """c[t] = #values >= t for t in 0..size (values in 0..size-1)."""
    counts = np.bincount(values, minlength=size)
    return np.concatenate([np.cumsum(counts[::-1])[::-1], [0]]).tolist()


def _tail_windows(views: _Views, pos: I64) -> npt.NDArray[np.uint8]:
    """The 32 bytes at each offset in pos, as a (k, 32) array; zeros past the buffer end."""
    last = len(views.v32) - 1                           # last offset with 32 bytes left
    near = pos > last
    if not near.any():
        gathered = views.v32[pos]
    else:
        gathered = np.empty(len(pos), dtype="V32")
        far = ~near
        gathered[far] = views.v32[pos[far]]
        gathered[near] = views.pad32[pos[near] - views.pad_base]
    return gathered.view(np.uint8).reshape(len(pos), STRIPE)


def _tail_words(h: U64, words: U64, ge: list[int], tmp: U64) -> None:
    """The 8-byte steps: h = rotl(h ^ round(0, word), 27) * PRIME64_1 + PRIME64_4.

    Rows are ordered by tail length, descending; tmp is (2, k) scratch.
    """
    for i in range(3):
        k = ge[8 * (i + 1)]                             # records with >= 8(i+1) tail bytes
        if k == 0:
            break
        hk, t, t2 = h[:k], tmp[0, :k], tmp[1, :k]
        _round0(t, words[:k, i], t2)
        hk ^= t
        _rotl(hk, 27, t2)
        hk *= _P1
        hk += _P4


def _last_word(words: U64, ge: list[int]) -> U64:
    """Word number tail // 8 of every window (rows ordered by tail length, descending)."""
    rest = np.empty(len(words), dtype=np.uint64)
    for i in range(4):                                  # tails 8i .. 8i+7
        lo, hi = ge[8 * i + 8], ge[8 * i]
        rest[lo:hi] = words[lo:hi, i]
    return rest


def _tail_word32(h: U64, rest: U64, k: int, tmp: U64) -> None:
    """The 4-byte step, for the first k records: consumes the low 4 bytes of rest.

    h = rotl(h ^ (w32 * PRIME64_1), 23) * PRIME64_2 + PRIME64_3
    """
    if k == 0:
        return
    hk, t, rk = h[:k], tmp[:k], rest[:k]
    np.bitwise_and(rk, np.uint64(0xFFFFFFFF), out=t)
    rk >>= _SHIFT[32]
    t *= _P1
    hk ^= t
    _rotl(hk, 23, t)
    hk *= _P2
    hk += _P3


def _tail_bytes(h: U64, rest: U64, ge: list[int], tmp: U64) -> None:
    """The 1-byte steps: h = rotl(h ^ (byte * PRIME64_5), 11) * PRIME64_1.

    Rows are ordered by len % 8 descending; ge[t] = #rows with len % 8 >= t.
    """
    for b in range(3):
        # rows with len % 8 in 5+b..7, then in 1+b..3, have a byte b
        for lo, hi in ((0, ge[5 + b]), (ge[4], ge[1 + b])):
            if lo == hi:
                continue
            hk, t = h[lo:hi], tmp[lo:hi]
            np.right_shift(rest[lo:hi], _SHIFT[8 * b], out=t)
            t &= np.uint64(0xFF)
            t *= _P5
            hk ^= t
            _rotl(hk, 11, t)
            hk *= _P1


def _avalanche(h: U64, tmp: U64) -> None:
    """Final mix (spec step 6), in place."""
    for shift, prime in ((33, _P2), (29, _P3)):
        np.right_shift(h, _SHIFT[shift], out=tmp)
        h ^= tmp
        h *= prime
    np.right_shift(h, _SHIFT[32], out=tmp)
    h ^= tmp


def file_digest(path: str) -> str:
    """XXH64 of a whole file, in hex: how manifests and tries name the files they depend on."""
    hasher = xxhash.xxh64()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            hasher.update(chunk)
    return hasher.hexdigest()
