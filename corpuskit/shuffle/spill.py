"""Temporary buckets: pieces of many buckets appended to a few files, indexed compactly.

Each piece holds the sort keys of some records (raw uint64), for line spills their
lengths (uint32, so gathering needs no newline scan), and their bytes (raw, or zstd
level 1). A spill writes to a fixed number of files, each holding a run of buckets,
whatever the input size or bucket count; a bucket is read back with one positioned
read per piece. The index is five integer arrays, so millions of pieces cost tens
of MB, not Python objects.

Once every bucket of a file has been read (:meth:`Spill.release`), the file is
deleted, unless it is kept for ``--resume``: the temporary space shrinks while the
output grows, and the output reuses the page-cache memory the file held rather than
fresh pages (on the benchmark VM, which hands freed memory back to its host, writing
into fresh pages cost eight times more).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import zipfile
from array import array
from typing import Iterator, NamedTuple

import numpy as np
import zstandard

from corpuskit.errors import OutputError

_FIELDS = ("bucket", "offset", "records", "stored", "size")


class Partition(NamedTuple):
    """One block's records ordered by bucket: keys, sizes and bytes, and where each bucket
    starts in them (``buckets + 1`` record counts and byte positions)."""

    keys: np.ndarray
    sizes: np.ndarray
    data: memoryview
    record_cuts: np.ndarray
    byte_cuts: np.ndarray


class Spill:
    """Append-only files of bucket pieces, and their index."""

    def __init__(self, path: str, buckets: int, compress: bool = False, sized: bool = True,
                 files: int = 1, keep: bool = False) -> None:
        self.path = path
        self.buckets = buckets
        self.compress = compress
        self.sized = sized
        self.files = max(1, min(files, buckets))
        self.keep = keep
        self.index = {name: array("q") for name in _FIELDS}
        self.written = 0
        self._open: dict[int, object] = {}
        self._ends = [0] * self.files
        self._released: set[int] = set()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._by_bucket: list[np.ndarray] | None = None

    def paths(self) -> list[str]:
        """The spill's files: ``path`` itself, or ``path.0``, ``path.1``... when there are several."""
        return [self.path] if self.files == 1 else [f"{self.path}.{i}" for i in range(self.files)]

    def file_of(self, bucket: "int | np.ndarray") -> "int | np.ndarray":
        """The file that holds ``bucket`` (or each of an array of buckets): files hold runs of
        consecutive buckets."""
        return bucket * self.files // self.buckets

    def buckets_in(self, file: int) -> range:
        return range(-(-file * self.buckets // self.files), -(-(file + 1) * self.buckets // self.files))

    def remove(self) -> None:
        """Deletes the spill's files (those that exist)."""
        for path in self.paths():
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)

    def add(self, bucket: int, keys: np.ndarray, data, sizes: np.ndarray | None = None) -> None:
        """Appends a piece: ``keys`` (uint64) of its records, their ``sizes`` if sized, their bytes."""
        self.add_many([(bucket, keys, data, sizes)])

    def add_many(self, pieces: list[tuple[int, np.ndarray, object, np.ndarray | None]]) -> None:
        """Appends pieces (bucket, keys, bytes, sizes) with as few system calls as possible.

        The pieces of one bucket in one call are stored as one (in the order given), so
        a caller that hands over several blocks at once leaves fewer, larger pieces to
        index and to read back.
        """
        by_bucket: dict[int, list] = {}
        for bucket, keys, data, sizes in pieces:
            by_bucket.setdefault(bucket, []).append((keys, data, sizes))
        buffers: list[memoryview] = []
        owners: list[int] = []
        rows = []
        for bucket, parts in by_bucket.items():
            records = sum(len(keys) for keys, _, _ in parts)
            size = sum(memoryview(data).nbytes for _, data, _ in parts)
            buffers.extend(memoryview(np.ascontiguousarray(keys, dtype=np.uint64)).cast("B") for keys, _, _ in parts)
            if self.sized:
                buffers.extend(memoryview(np.ascontiguousarray(sizes, dtype=np.uint32)).cast("B")
                               for _, _, sizes in parts)
            payload = self._compressed([data for _, data, _ in parts]) if self.compress else \
                [memoryview(data).cast("B") for _, data, _ in parts]
            buffers.extend(payload)
            rows.append((bucket, records, sum(len(b) for b in payload), size))
            owners.extend([bucket] * (len(buffers) - len(owners)))
        self._append(buffers, owners, np.array(rows, dtype=np.int64).reshape(-1, 4))

    def add_partitions(self, parts: list[Partition]) -> None:
        """Appends blocks already ordered by bucket; each bucket's share of them all becomes one piece.

        The same layout as :meth:`add_many` of every bucket's slices, built with numpy
        rather than one Python object per block and bucket: that count grows with the
        square of the input.
        """
        if self.compress or not self.sized:
            self.add_many(list(_bucket_slices(parts, self.buckets)))
            return
        records = np.stack([p.record_cuts for p in parts])
        positions = np.stack([p.byte_cuts for p in parts])
        counts = np.diff(records, axis=1).sum(axis=0)
        buckets = np.flatnonzero(counts)
        # for each bucket: its keys in every block, then its sizes, then its bytes (views, not copies)
        lo = np.stack([records[:, buckets] * 8, records[:, buckets] * 4, positions[:, buckets]]).transpose(2, 0, 1)
        hi = np.stack([records[:, buckets + 1] * 8, records[:, buckets + 1] * 4,
                       positions[:, buckets + 1]]).transpose(2, 0, 1)
        which = np.broadcast_to(np.arange(3 * len(parts)).reshape(1, 3, -1), lo.shape)
        keep = (hi > lo).ravel()
        views = [memoryview(p.keys).cast("B") for p in parts] + [memoryview(p.sizes).cast("B") for p in parts] + \
            [memoryview(p.data) for p in parts]
        buffers = [views[w][a:b] for w, a, b in zip(which.ravel()[keep].tolist(), lo.ravel()[keep].tolist(),
                                                    hi.ravel()[keep].tolist())]
        owners = np.broadcast_to(buckets.reshape(-1, 1, 1), lo.shape).ravel()[keep].tolist()
        sizes = np.diff(positions, axis=1).sum(axis=0)[buckets]
        self._append(buffers, owners, np.stack([buckets, counts[buckets], sizes, sizes], axis=1))

    def _append(self, buffers: list[memoryview], owners: list[int], rows: np.ndarray) -> None:
        """Writes ``buffers`` (each of the bucket in ``owners``) at the end of their buckets'
        files and indexes the pieces: rows of (bucket, records, stored bytes, bytes), in the
        order of ``buffers``."""
        lengths = rows[:, 1] * self._per_record() + rows[:, 2]
        files = self.file_of(rows[:, 0])
        buffer_files = self.file_of(np.asarray(owners, dtype=np.int64))
        with self._lock:
            starts = np.empty(len(rows), dtype=np.int64)
            for file in np.unique(files).tolist():
                mine = files == file
                starts[mine] = self._ends[file] + np.cumsum(lengths[mine]) - lengths[mine]
                self._write(file, [buffers[i] for i in np.flatnonzero(buffer_files == file).tolist()])
                self._ends[file] += int(lengths[mine].sum())
            for name, column in zip(_FIELDS, (rows[:, 0], starts, rows[:, 1], rows[:, 2], rows[:, 3])):
                self.index[name].frombytes(column.astype(np.int64).tobytes())
            self.written += int(lengths.sum())
            self._by_bucket = None

    def _write(self, file: int, buffers: list[memoryview]) -> None:
        if file not in self._open:
            self._open[file] = open(self.paths()[file], "ab", buffering=0)
            self._ends[file] = self._open[file].seek(0, os.SEEK_END)
        try:
            _write_all(self._open[file].fileno(), buffers)
        except OSError as exc:
            raise _cannot_write(self.paths()[file], exc) from None

    def _compressed(self, datas: list) -> list[bytes]:
        """One zstd frame of ``datas`` one after the other."""
        stream = self._compressor().compressobj()
        return [*(stream.compress(data) for data in datas), stream.flush()]

    def _per_record(self) -> int:
        return 12 if self.sized else 8

    def _compressor(self) -> zstandard.ZstdCompressor:
        if not hasattr(self._local, "cctx"):
            self._local.cctx = zstandard.ZstdCompressor(level=1)
        return self._local.cctx

    def close(self) -> None:
        while self._open:
            file, handle = self._open.popitem()
            try:
                handle.close()  # flushes the last buffered piece: the disk may fill here too
            except OSError as exc:
                raise _cannot_write(self.paths()[file], exc) from None

    def _pieces(self, bucket: int) -> np.ndarray:
        if self._by_bucket is None:
            buckets = np.frombuffer(self.index["bucket"], dtype=np.int64)
            order = np.argsort(buckets, kind="stable")
            cuts = np.searchsorted(buckets[order], np.arange(self.buckets + 1))
            self._by_bucket = [order[cuts[b]:cuts[b + 1]] for b in range(self.buckets)]
        return self._by_bucket[bucket]

    def _column(self, name: str, rows: np.ndarray) -> np.ndarray:
        return np.frombuffer(self.index[name], dtype=np.int64)[rows]

    def records(self, bucket: int) -> int:
        return int(self._column("records", self._pieces(bucket)).sum())

    def size(self, bucket: int) -> int:
        return int(self._column("size", self._pieces(bucket)).sum())

    def iter_pieces(self, bucket: int) -> Iterator[tuple[np.ndarray, np.ndarray | None, bytes]]:
        """The bucket's pieces, one (keys, sizes, bytes) at a time, in the order added."""
        rows = self._pieces(bucket)
        dctx = zstandard.ZstdDecompressor()
        head = self._per_record()
        with open(self.paths()[self.file_of(bucket)], "rb", buffering=0) as f:
            for offset, records, stored, size in zip(*(self._column(n, rows).tolist() for n in _FIELDS[1:])):
                raw = os.pread(f.fileno(), records * head + stored, offset)
                keys = np.frombuffer(raw, dtype=np.uint64, count=records)
                sizes = np.frombuffer(raw, dtype=np.uint32, count=records, offset=records * 8) if self.sized else None
                body = memoryview(raw)[records * head :]
                yield keys, sizes, (dctx.decompress(body, max_output_size=size) if self.compress else body)

    def read(self, bucket: int, scratch: "Scratch | None" = None) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """All keys, sizes and bytes of ``bucket``, read straight into three buffers.

        With ``scratch`` the buffers are reused from one call to the next (the caller
        must be done with the previous bucket's arrays): no fresh pages to fault in.
        """
        rows = self._pieces(bucket)
        n, total = self.records(bucket), self.size(bucket)
        scratch = scratch or Scratch()
        keys = scratch.take("keys", n, np.uint64)
        sizes = scratch.take("sizes", n if self.sized else 0, np.uint32)
        data = scratch.take("data", total, np.uint8)
        if self.compress:
            k = d = 0
            for piece_keys, piece_sizes, body in self.iter_pieces(bucket):
                keys[k : k + len(piece_keys)] = piece_keys
                if self.sized:
                    sizes[k : k + len(piece_keys)] = piece_sizes
                data[d : d + len(body)] = np.frombuffer(body, dtype=np.uint8)
                k += len(piece_keys)
                d += len(body)
            return keys, sizes if self.sized else None, data
        key_view, size_view, data_view = (memoryview(a).cast("B") for a in (keys, sizes, data))
        k = d = 0
        with open(self.paths()[self.file_of(bucket)], "rb", buffering=0) as f:
            for offset, records, size in zip(*(self._column(c, rows).tolist() for c in ("offset", "records", "size"))):
                parts = [key_view[k * 8 : (k + records) * 8]]
                if self.sized:
                    parts.append(size_view[k * 4 : (k + records) * 4])
                parts.append(data_view[d : d + size])
                os.preadv(f.fileno(), parts, offset)
                k += records
                d += size
        return keys, sizes if self.sized else None, data

    def release(self, bucket: int) -> None:
        """Marks ``bucket`` as read; deletes its file once every bucket in it is (unless kept)."""
        if self.keep:
            return
        file = self.file_of(bucket)
        with self._lock:
            self._released.add(bucket)
            if all(b in self._released or self.records(b) == 0 for b in self.buckets_in(file)):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(self.paths()[file])

    def save_index(self, path: str, meta: dict) -> None:
        """Writes the index beside the spill, so ``--resume`` can gather without scattering again.

        The index is binary (``.npz``): as JSON, a million pieces would cost hundreds
        of MB of Python integers on the way out.
        """
        self.close()
        state = {"meta": meta, "buckets": self.buckets, "compress": self.compress, "sized": self.sized,
                 "files": self.files}
        tmp = path + ".tmp"
        try:
            with open(tmp, "wb") as f:
                np.savez(f, state=np.array(json.dumps(state)),
                         **{name: np.frombuffer(self.index[name], dtype=np.int64) for name in _FIELDS})
        except OSError as exc:
            raise OutputError(f"{tmp}: cannot write the index of temporary buckets ({exc.strerror}); "
                              "free some space or point --tmp at a larger disk") from None
        os.replace(tmp, path)

    @classmethod
    def load(cls, spill_path: str, index_path: str, meta: dict) -> "Spill | None":
        """The spill a run with the same ``meta`` finished scattering, or None."""
        try:
            with np.load(index_path, allow_pickle=False) as saved:
                state = json.loads(str(saved["state"]))
                columns = {name: saved[name].astype(np.int64).tobytes() for name in _FIELDS}
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            return None
        if state.get("meta") != meta:
            return None
        spill = cls(spill_path, state["buckets"], state["compress"], state["sized"], state.get("files", 1),
                    keep=True)
        if not all(os.path.exists(path) for path in spill.paths()):
            return None
        for name in _FIELDS:
            spill.index[name] = array("q", columns[name])
        spill.written = sum(os.path.getsize(path) for path in spill.paths())
        return spill


class Scratch:
    """Named numpy buffers that grow as needed and are handed out again and again."""

    def __init__(self) -> None:
        self._buffers: dict[str, np.ndarray] = {}

    def take(self, name: str, count: int, dtype: type) -> np.ndarray:
        """A ``count``-long array of ``dtype`` over the buffer ``name`` (its old content is garbage)."""
        nbytes = count * np.dtype(dtype).itemsize
        buffer = self._buffers.get(name)
        if buffer is None or len(buffer) < nbytes:
            buffer = self._buffers[name] = np.empty(max(nbytes, 1), dtype=np.uint8)
        return buffer[:nbytes].view(dtype)


def _cannot_write(path: str, exc: OSError) -> OutputError:
    return OutputError(f"{path}: cannot write a temporary bucket ({exc.strerror}); "
                       "free some space or point --tmp at a larger disk")


def _bucket_slices(parts: list[Partition], buckets: int) -> Iterator[tuple[int, np.ndarray, memoryview, np.ndarray]]:
    """(bucket, keys, bytes, sizes) of every bucket of every part that has records, bucket by bucket."""
    for bucket in range(buckets):
        for part in parts:
            lo, hi = part.record_cuts[bucket], part.record_cuts[bucket + 1]
            if hi > lo:
                yield (bucket, part.keys[lo:hi], part.data[part.byte_cuts[bucket]:part.byte_cuts[bucket + 1]],
                       part.sizes[lo:hi])


def _write_all(fd: int, buffers: list[memoryview], batch: int = 1000) -> None:
    """Writes every buffer in order, a thousand at a time (the kernel's iovec limit is 1024)."""
    for start in range(0, len(buffers), batch):
        pending = [b for b in buffers[start : start + batch] if len(b)]
        while pending:
            written = os.writev(fd, pending)
            while pending and written >= len(pending[0]):
                written -= len(pending[0])
                pending.pop(0)
            if pending and written:
                pending[0] = pending[0][written:]
