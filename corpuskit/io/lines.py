"""Text lines as bytes: cut a stream into blocks at newlines, split blocks into Arrow arrays.

Lines are never decoded: invalid UTF-8, NUL bytes and ``\\r`` pass through. A line
is the bytes before its ``\\n``; a last line without ``\\n`` is still a line.
"""

from __future__ import annotations

from typing import BinaryIO, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpuskit.errors import InputError
from corpuskit.io.streams import read_full

BLOCK_SIZE = 8 << 20
NEWLINE = b"\n"


def iter_blocks(stream: BinaryIO, block_size: int = BLOCK_SIZE, max_line: int | None = None,
                path: str | None = None) -> Iterator[bytearray]:
    """Blocks of whole lines, each ending with ``\\n`` except perhaps the last.

    A line longer than the block grows the block until the line fits, so memory
    is bounded by the block size or the longest line, whichever is larger; a line
    longer than ``max_line`` is an error naming ``path`` and the line.
    """
    rest = b""
    size = block_size
    lines_before = 1
    while True:
        if max_line is not None and len(rest) > max_line:
            raise InputError(f"a line longer than {max_line:,} bytes, the most this run can hold "
                             "(a quarter of --mem: give more)", path, lines_before)
        buf = bytearray(len(rest) + size)
        buf[: len(rest)] = rest
        got = read_full(stream, memoryview(buf)[len(rest):])
        end = len(rest) + got
        if got == 0:
            if end:
                del buf[end:]
                yield buf
            return
        cut = buf.rfind(NEWLINE, len(rest), end)
        if cut < 0:
            rest = memoryview(buf)[:end]
            size *= 2
            continue
        rest = bytes(memoryview(buf)[cut + 1 : end])
        del buf[cut + 1 :]
        size = block_size
        if max_line is not None:
            lines_before += buf.count(NEWLINE)
        yield buf


def split_block(block: bytes | bytearray | memoryview) -> pa.LargeBinaryArray:
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
