"""Byte streams with compression by name: zstd and gzip, read and written as streams."""

from __future__ import annotations

import gzip
import io
import sys
from typing import BinaryIO

import zstandard

from corpuskit.errors import InputError
from corpuskit.io.paths import STDIO, FileSpec

READ_CHUNK = 4 << 20


class ZstdReader(io.RawIOBase):
    """Decompresses concatenated zstd frames and notices a stream cut short.

    ``zstandard``'s own stream reader returns a truncated frame's bytes as if the
    file had ended cleanly, which would lose records silently.
    """

    def __init__(self, raw: BinaryIO, path: str) -> None:
        self._raw = raw
        self._path = path
        self._dctx = zstandard.ZstdDecompressor()
        self._dobj = self._dctx.decompressobj()
        self._pending = memoryview(b"")
        self._in_frame = False
        self._eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending and not self._eof:
            self._fill()
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def _fill(self) -> None:
        chunk = self._raw.read(READ_CHUNK)
        if not chunk:
            self._eof = True
            if self._in_frame:
                raise InputError("zstd stream is truncated (file ends inside a frame)", self._path)
            return
        out = []
        while chunk:
            self._in_frame = True
            try:
                out.append(self._dobj.decompress(chunk))
            except zstandard.ZstdError as exc:
                raise InputError(f"corrupt zstd stream ({exc})", self._path) from None
            if not self._dobj.eof:
                break
            self._in_frame = False
            chunk = self._dobj.unused_data
            self._dobj = self._dctx.decompressobj()
        self._pending = memoryview(b"".join(out))

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


class GzipReader(io.RawIOBase):
    """gzip with errors that name the file."""

    def __init__(self, raw: BinaryIO, path: str) -> None:
        self._gz = gzip.GzipFile(fileobj=raw, mode="rb")
        self._raw = raw
        self._path = path

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            return self._gz.readinto(buffer)
        except EOFError:
            raise InputError("gzip stream is truncated", self._path) from None
        except (gzip.BadGzipFile, OSError) as exc:
            raise InputError(f"corrupt gzip stream ({exc})", self._path) from None

    def close(self) -> None:
        if not self.closed:
            self._gz.close()
            self._raw.close()
        super().close()


def open_raw(spec: FileSpec) -> BinaryIO:
    """The file's bytes as stored (compressed or not)."""
    if spec.is_stdio:
        return sys.stdin.buffer
    try:
        return open(spec.path, "rb")
    except FileNotFoundError:
        raise InputError("no such file", spec.path) from None
    except OSError as exc:
        raise InputError(f"cannot open ({exc.strerror})", spec.path) from None


def decompressing(raw: BinaryIO, spec: FileSpec) -> BinaryIO:
    """A reader of the file's content, decompressing by the spec."""
    if spec.compression == "zst":
        return ZstdReader(raw, spec.path)
    if spec.compression == "gz":
        return GzipReader(raw, spec.path)
    return raw


def compressing(raw: BinaryIO, compression: str | None, level: int | None = None,
                threads: int = 0) -> BinaryIO:
    """A writer that compresses into ``raw``; closing it finishes the stream and closes ``raw``.

    gzip output carries no timestamp, so the same input gives the same bytes.
    """
    if compression == "zst":
        cctx = zstandard.ZstdCompressor(level=3 if level is None else level, threads=threads)
        return cctx.stream_writer(raw, closefd=True)
    if compression == "gz":
        return _ClosingGzip(raw, 6 if level is None else level)
    return raw


class _ClosingGzip(gzip.GzipFile):
    def __init__(self, raw: BinaryIO, level: int) -> None:
        super().__init__(filename="", fileobj=raw, mode="wb", compresslevel=level, mtime=0)
        self._raw = raw

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._raw.close()


def read_full(stream: BinaryIO, view: memoryview) -> int:
    """Fill ``view`` unless the stream ends first; returns the bytes read."""
    total = 0
    while total < len(view):
        n = stream.readinto(view[total:])
        if not n:
            break
        total += n
    return total


def is_stdout(path: str) -> bool:
    return path == STDIO
