"""Write one file of known size from pieces made in threads, each written at its own offset.

A piece (a slice of permuted lines, say) is made and written by the same thread
with ``pwrite``, so making the next pieces overlaps writing this one, with no
hand-off to a single writer thread and no copy into a stream's buffer. The whole
size is reserved first where the system can (``posix_fallocate``), so a full disk
is an error before anything is written.
"""

from __future__ import annotations

import os
from typing import Callable, Iterable, Iterator, TypeVar

from corpuskit.errors import OutputError
from corpuskit.threads import ordered_map

T = TypeVar("T")
Piece = tuple[int, Callable[[], T]]
"""Where a piece's bytes start in the file, and how to make it."""


def available() -> bool:
    """Whether this system writes at an offset (every Unix)."""
    return hasattr(os, "pwrite")


def place(path: str, name: str, size: int, pieces: Iterable[Piece], data_of: Callable[[T], object],
          workers: int) -> Iterator[T]:
    """Creates ``path`` of ``size`` bytes and writes each piece's bytes at its start; yields pieces in order.

    ``workers`` pieces are made and written at once; a yielded piece is in the file.
    ``data_of`` gives a piece's bytes (a buffer). ``name`` is the file errors speak of.
    """
    fd = _create(path, name, size)
    try:
        yield from ordered_map(lambda piece: _make_and_write(fd, name, piece, data_of), pieces, workers)
    finally:
        os.close(fd)


def _create(path: str, name: str, size: int) -> int:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    except OSError as exc:
        raise OutputError(f"{name}: cannot create ({exc.strerror})") from None
    try:
        if size and hasattr(os, "posix_fallocate"):
            os.posix_fallocate(fd, 0, size)
    except OSError as exc:
        os.close(fd)
        raise OutputError(f"{name}: cannot write {size:,} bytes ({exc.strerror})") from None
    return fd


def _make_and_write(fd: int, name: str, piece: Piece, data_of: Callable[[T], object]) -> T:
    start, make = piece
    made = make()
    data = memoryview(data_of(made)).cast("B")
    try:
        while data:
            written = os.pwrite(fd, data, start)
            data, start = data[written:], start + written
    except OSError as exc:
        raise OutputError(f"{name}: cannot write ({exc.strerror})") from None
    return made
