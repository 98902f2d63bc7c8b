"""Text lines as bytes: cut a stream into blocks at newlines, split blocks into Arrow arrays.

Lines are never decoded: invalid UTF-8, NUL bytes and ``\\r`` pass through. A line
is the bytes before its ``\\n``; a last line without ``\\n`` is still a line.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpuskit.errors import InputError
from corpuskit.io.streams import read_full

BLOCK_SIZE = 2 << 20
NEWLINE_SCAN = 256 << 10
NEWLINE = b"\n"


def iter_blocks(stream: BinaryIO, block_size: int = BLOCK_SIZE, max_line: int | None = None,
                path: str | None = None, terminate: bool = False, reuse: int = 0) -> Iterator[np.ndarray]:
    """Blocks of whole lines (uint8 arrays), each ending with ``\\n`` except perhaps the last.

    With ``terminate`` the last one gets its ``\\n`` too. A line longer than the block
    grows the block until the line fits, so memory is bounded by the block size or the
    longest line, whichever is larger; a line longer than ``max_line`` is an error
    naming ``path`` and the line. With ``reuse=N`` the memory of a block is used again
    N blocks later, which saves faulting in fresh pages; the caller must be done with a
    block by then. (A block that grows stays in its ring slot: only a yielded block
    moves the ring on, however many reads a long line takes.)
    """
    rest = np.empty(0, dtype=np.uint8)
    size = block_size
    lines_before = 1
    ring: list[np.ndarray] = [np.empty(0, dtype=np.uint8)] * reuse
    growing = False
    while True:
        if max_line is not None and len(rest) > max_line:
            raise line_too_long(max_line, path, lines_before)
        if reuse:
            buf = _buffer(len(rest) + size + 1, ring, again=growing)
        else:
            buf = np.empty(len(rest) + size + 1, dtype=np.uint8)
        buf[: len(rest)] = rest
        got = read_full(stream, memoryview(buf)[len(rest) : len(rest) + size])
        end = len(rest) + got
        if got == 0:
            if end:
                if terminate and buf[end - 1] != 10:
                    buf[end] = 10
                    end += 1
                yield buf[:end]
            return
        cut = _last_newline(buf, len(rest), end)
        if cut < 0:
            rest = buf[:end]
            size *= 2
            growing = True
            continue
        rest = buf[cut + 1 : end].copy()
        size = block_size
        growing = False
        if max_line is not None:
            lines_before += count_lines(buf[: cut + 1])
        yield buf[: cut + 1]


def line_too_long(limit: int, path: str | None, line: int | None) -> InputError:
    """The error for a line over a run's limit (the shuffle's is a quarter of --mem)."""
    return InputError(f"a line longer than {limit:,} bytes, the most this run can hold "
                      "(a quarter of --mem: give more)", path, line)


def first_too_long(offsets: np.ndarray, limit: int) -> int | None:
    """Index of the first line (offsets as from :func:`line_offsets`) longer than ``limit`` bytes."""
    sizes = np.diff(offsets) - 1
    over = np.flatnonzero(sizes > limit)
    return int(over[0]) if len(over) else None


def _buffer(nbytes: int, ring: list[np.ndarray], again: bool = False) -> np.ndarray:
    """The oldest buffer of ``ring`` (grown if too small), moved to the back.

    With ``again`` the newest one instead, for a block still growing: it holds no
    yielded block yet, and taking the oldest would overwrite one the caller may hold.
    """
    buf = ring.pop(-1 if again else 0)
    if len(buf) < nbytes:
        buf = np.empty(nbytes, dtype=np.uint8)
    ring.append(buf)
    return buf[:nbytes]


def _last_newline(buf: np.ndarray, start: int, end: int) -> int:
    """Index of the last ``\\n`` in ``buf[start:end]``, or -1."""
    window = 4096
    while end > start:
        lo = max(start, end - window)
        hits = np.flatnonzero(buf[lo:end] == 10)
        if len(hits):
            return lo + int(hits[-1])
        end = lo
        window = min(window * 4, NEWLINE_SCAN)
    return -1


def split_block(block: np.ndarray | bytes | bytearray) -> pa.LargeBinaryArray:
    """The lines of a block as one Arrow array, newlines removed."""
    if len(block) == 0:
        return pa.array([], pa.large_binary())
    end = len(block) - 1 if block[-1] == 10 else len(block)
    whole = pa.Array.from_buffers(
        pa.large_binary(), 1,
        [None, pa.py_buffer(np.array([0, end], dtype=np.int64)), pa.py_buffer(block)],
    )
    return pc.split_pattern(whole, NEWLINE).flatten()


def join_lines(values: pa.Array) -> pa.Buffer:
    """The values joined by ``\\n``, without the final one (the writer adds it)."""
    if not pa.types.is_large_binary(values.type):
        values = values.cast(pa.large_binary())
    lists = pa.LargeListArray.from_arrays(pa.array([0, len(values)], pa.int64()), values)
    joined = pc.binary_join(lists, pa.scalar(NEWLINE, pa.large_binary()))
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int64, count=2, offset=joined.offset * 8)
    return joined.buffers()[2].slice(int(offsets[0]), int(offsets[1] - offsets[0]))


def count_lines(block) -> int:
    """Lines in a block: its newlines, plus one for a last line without ``\\n``.

    Counted a few hundred KB at a time: a comparison of a whole block of several MB
    would allocate, fault in and zero a fresh buffer (huge pages) for every block.
    """
    arr = np.frombuffer(block, dtype=np.uint8)
    if len(arr) == 0:
        return 0
    newlines = sum(int(np.count_nonzero(arr[at : at + NEWLINE_SCAN] == 10)) for at in range(0, len(arr), NEWLINE_SCAN))
    return newlines + int(arr[-1] != 10)


def line_offsets(data, workers: int = 1) -> np.ndarray:
    """Start of every line and the end of the last, for bytes that end with ``\\n``.

    With ``workers`` above 1, parts of ``data`` are scanned in threads (numpy
    releases the GIL): worth it for one large buffer, not for a block in a pipeline.
    """
    arr = np.frombuffer(data, dtype=np.uint8)
    if workers <= 1 or len(arr) < 4 * NEWLINE_SCAN * workers:
        return np.concatenate([np.zeros(1, dtype=np.int64), *_newlines_after(arr, 0, len(arr))])
    step = -(-len(arr) // (8 * workers) // NEWLINE_SCAN) * NEWLINE_SCAN
    with ThreadPoolExecutor(workers, thread_name_prefix="corpuskit-scan") as pool:
        parts = pool.map(lambda start: _newlines_after(arr, start, min(start + step, len(arr))),
                         range(0, len(arr), step))
        return np.concatenate([np.zeros(1, dtype=np.int64), *(p for part in parts for p in part)])


def _newlines_after(arr: np.ndarray, start: int, end: int) -> list[np.ndarray]:
    """The position after each ``\\n`` in ``arr[start:end]``, a few hundred KB at a time."""
    return [np.flatnonzero(arr[at : min(at + NEWLINE_SCAN, end)] == 10).astype(np.int64) + (at + 1)
            for at in range(start, end, NEWLINE_SCAN)]


def lines_array(data, offsets: np.ndarray) -> pa.LargeBinaryArray:
    """The lines (each with its ``\\n``) as an Arrow array over ``data``, without copying."""
    return pa.Array.from_buffers(pa.large_binary(), len(offsets) - 1,
                                 [None, pa.py_buffer(offsets), pa.py_buffer(data)])
