"""Write record batches to one file, to stdout, or to shards in a folder, atomically."""

from __future__ import annotations

import functools
import itertools
import json
import os
import struct
import sys
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import numpy as np
import pyarrow as pa
import xxhash

from corpuskit.errors import CorpusError, OutputError
from corpuskit.io import placed
from corpuskit.io.atomic import atomic_dir, atomic_file
from corpuskit.io.encoders import Encoder, HashingFile
from corpuskit.io.paths import COMPRESSIONS, FORMATS, STDIO, detect, extension, format_from_name
from corpuskit.records import is_lines, is_terminated, line_values, terminated_bytes
from corpuskit.threads import closing
from corpuskit.units import parse_size

MANIFEST = "manifest.json"
Describe = Callable[[list[dict]], dict]


@dataclass
class Writer:
    """Where and how a pipeline's records are written; see :func:`write`."""

    path: str
    format: str | None = None
    shards: int | None = None
    shard_size: int | None = None
    compress: str | None = None
    level: int | None = None
    threads: int = 0
    force: bool = False
    field: str | None = None
    manifest: bool = True

    @property
    def sharded(self) -> bool:
        return bool(self.shards or self.shard_size or self.path.endswith(("/", os.sep))
                    or os.path.isdir(self.path))

    @property
    def manifest_path(self) -> str | None:
        """Where the run manifest goes: inside a shard folder, beside a file, nowhere for stdout."""
        if self.path == STDIO or not self.manifest:
            return None
        if self.sharded:
            return os.path.join(self.path.rstrip("/" + os.sep), MANIFEST)
        return self.path + ".manifest.json"

    def output_format(self, input_format: str | None) -> str:
        """The format written: as given, else the file name's, else the input's; text for stdout."""
        if self.format:
            return self.format
        if self.path == STDIO:
            return "text"
        if not self.sharded and format_from_name(self.path):
            return format_from_name(self.path)
        return input_format or "text"

    def consume(self, batches: Iterable[pa.RecordBatch], inputs: list[str], input_format: str | None,
                describe: Describe, total_records: Callable[[], int | None] | None = None) -> list[dict]:
        """Writes every batch; returns one entry per output file (path, records, bytes, xxh64).

        ``total_records``, asked once the first batch has arrived, may tell how many
        records will come, so ``shards=N`` can cut them without spooling to disk.
        """
        feed = functools.partial(_write_batches, batches=batches)
        if self.path == STDIO:
            return [self._stdout(feed, input_format)]
        self.refuse_inputs(inputs)
        if self.sharded:
            return self._shards(batches, input_format, describe, total_records)
        return self._file(feed, input_format, describe)

    def copy_lines(self, chunks: Iterable[tuple[memoryview, int]], inputs: list[str],
                   describe: Describe) -> list[dict]:
        """Writes (bytes of whole text lines, line count) chunks as they are, to one text file or stdout.

        The fast path of a text-to-text copy: no batches, no threads, one reused buffer.
        """
        feed = functools.partial(_write_chunks, chunks=chunks)
        if self.path == STDIO:
            return [self._stdout(feed, "text")]
        self.refuse_inputs(inputs)
        return self._file(feed, "text", describe)

    def copies_lines(self, input_formats: set[str]) -> bool:
        """Whether text inputs can be copied byte for byte (one text file or stdout, no shards)."""
        return input_formats == {"text"} and not self.sharded and self.output_format("text") == "text"

    def places(self, input_format: str) -> bool:
        """Whether lines of ``input_format`` can be written straight at their offsets in one plain file."""
        return (placed.available() and self.path != STDIO and not self.sharded
                and input_format in ("text", "jsonl") and self.output_format(input_format) == input_format
                and detect(self.path, input_format, self.compress).compression is None)

    def place(self, size: int, pieces: Iterable[placed.Piece], inputs: list[str], describe: Describe,
              workers: int, on_piece: Callable[[pa.Array], None]) -> list[dict]:
        """Writes ``size`` bytes of lines made piece by piece in ``workers`` threads (see :meth:`places`).

        A piece makes an Arrow array of lines that end with ``\\n``; ``on_piece`` sees
        each, in file order, once it is in the file.
        """
        self.refuse_inputs(inputs)
        with atomic_file(self.path, self.force) as tmp:
            digest, records, written = xxhash.xxh64(), 0, 0
            made = placed.place(tmp, self.path, size, pieces, terminated_bytes, workers)
            with closing(made):
                for values in made:
                    data = terminated_bytes(values)
                    digest.update(data)
                    records += len(values)
                    written += data.size
                    on_piece(values)
            if written != size:
                raise OutputError(f"{self.path}: {written:,} bytes were placed in a file of {size:,}")
            outputs = [{"path": self.path, "records": records, "bytes": size, "xxh64": digest.hexdigest()}]
            self._manifest(outputs, describe)
        return outputs

    def _stdout(self, feed: Callable[[Encoder], None], input_format: str | None) -> dict:
        encoder = Encoder(HashingFile(_Unclosable(sys.stdout.buffer), STDIO), self.output_format(input_format),
                          self.compress if self.compress not in ("", "none") else None,
                          self.level, self.threads, self.field)
        _drain(encoder, feed)
        return _entry(STDIO, encoder)

    def _file(self, feed: Callable[[Encoder], None], input_format: str | None,
              describe: Describe) -> list[dict]:
        spec = detect(self.path, self.output_format(input_format), self.compress)
        with atomic_file(self.path, self.force) as tmp:
            encoder = self._encoder(tmp, self.path, spec.format, spec.compression)
            _drain(encoder, feed)
            outputs = [_entry(self.path, encoder)]
            self._manifest(outputs, describe)
        return outputs

    def _manifest(self, outputs: list[dict], describe: Describe) -> None:
        if self.manifest:
            with atomic_file(self.manifest_path, force=True) as tmp:
                _dump(describe(outputs), tmp, self.manifest_path)

    def _shards(self, batches: Iterable[pa.RecordBatch], input_format: str | None, describe: Describe,
                total_records: Callable[[], int | None] | None) -> list[dict]:
        if self.shards and self.shard_size:
            raise CorpusError("give shards or shard_size, not both")
        format = self.output_format(input_format)
        compression = detect(f"x{extension(format, None)}", format, self.compress).compression
        ext = extension(format, compression)
        with atomic_dir(self.path.rstrip("/" + os.sep) or self.path, self.force) as tmp:
            spool = os.path.join(tmp, "_spool")
            if (self.shards or 1) == 1 and not self.shard_size:
                pieces = iter([batches])
            elif self.shards:
                batches, total = _with_total(batches, total_records)
                if total is None:
                    batches, total = _spool(batches, spool)
                pieces = _by_count(batches, self.shards, total)
            else:
                pieces = _by_size(batches, self.shard_size or 0, format, self.field)
            outputs = []
            for index, shard in enumerate(pieces):
                name = f"part-{index:05d}{ext}"
                encoder = self._encoder(os.path.join(tmp, name), name, format, compression)
                _drain(encoder, functools.partial(_write_batches, batches=shard))
                outputs.append(_entry(name, encoder))
            if os.path.exists(spool):
                os.remove(spool)
            if self.manifest:
                _dump(describe(outputs), os.path.join(tmp, MANIFEST), self.manifest_path)
        return outputs

    def _encoder(self, tmp: str, name: str, format: str, compression: str | None) -> Encoder:
        try:
            raw = open(tmp, "wb")
        except OSError as exc:
            raise OutputError(f"{name}: cannot create ({exc.strerror})") from None
        return Encoder(HashingFile(raw, name), format, compression, self.level, self.threads, self.field)

    def refuse_inputs(self, inputs: list[str]) -> None:
        """An output that would overwrite (or sit above) one of the inputs is an error."""
        target = os.path.realpath(self.path)
        for path in inputs:
            if path == STDIO:
                continue
            real = os.path.realpath(path)
            if real == target or real.startswith(target.rstrip(os.sep) + os.sep):
                raise OutputError(f"{self.path}: output would overwrite the input {path}")


def write(path: str | os.PathLike, format: str | None = None, shards: int | None = None,
          shard_size: int | str | None = None, compress: str | None = None, level: int | None = None,
          threads: int = 0, force: bool = False, field: str | None = None,
          manifest: bool = True) -> Writer:
    """A sink for ``pipeline | write(...)``.

    One file (format and compression by its name), ``-`` for stdout, or a folder of
    ``part-00000.<ext>`` shards: ``shards=N`` cuts the record sequence into N
    contiguous, equal-count parts; ``shard_size="1G"`` starts a new part after about
    that many uncompressed bytes. Existing outputs are refused unless ``force``.
    """
    if format is not None and format not in FORMATS:
        raise CorpusError(f"unknown output format {format!r} (choose from {', '.join(FORMATS)})")
    if compress not in (None, "", "none", *COMPRESSIONS):
        raise CorpusError(f"unknown compression {compress!r} (choose from {', '.join(COMPRESSIONS)}, none)")
    if shards is not None and shards < 1:
        raise CorpusError(f"shards must be at least 1, not {shards}")
    _check_name_agrees(os.fspath(path), format, compress, bool(shards or shard_size))
    size = parse_size(shard_size) if shard_size is not None else None
    if size is not None and size < 1:
        raise CorpusError("shard_size must be positive")
    return Writer(os.fspath(path), format, shards, size, compress, level, threads, force, field, manifest)


def _check_name_agrees(path: str, format: str | None, compress: str | None, sharded: bool) -> None:
    """A file named ``x.txt`` holds no zstd, and ``x.jsonl.zst`` holds zstd: readers trust names."""
    if path == STDIO or sharded or path.endswith(("/", os.sep)) or os.path.isdir(path) or compress is None:
        return
    named = detect(path, format).compression
    wanted = None if compress in ("", "none") else compress
    if (format or format_from_name(path)) != "parquet" and named != wanted:
        raise CorpusError(f"{path}: the name says {named or 'no compression'} but compress is "
                          f"{wanted or 'none'}; rename the output (e.g. {path}{'.' + wanted if wanted else ''}) "
                          "or drop the option")


def _drain(encoder: Encoder, feed: Callable[[Encoder], None]) -> None:
    """Runs ``feed`` into the encoder and finishes the file, or aborts it on any failure."""
    try:
        feed(encoder)
        encoder.close()
    except BaseException:
        encoder.abort()
        raise


def _write_batches(encoder: Encoder, batches: Iterable[pa.RecordBatch]) -> None:
    for batch in batches:
        encoder.write(batch)


def _write_chunks(encoder: Encoder, chunks: Iterable[tuple[memoryview, int]]) -> None:
    for data, lines in chunks:
        encoder.write_raw(data, lines)


def _entry(path: str, encoder: Encoder) -> dict:
    return {"path": path, "records": encoder.records, "bytes": encoder.file.bytes,
            "xxh64": encoder.file.checksum()}


def _dump(manifest: dict, path: str, name: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=2, ensure_ascii=False, default=str)
            f.write("\n")
    except OSError as exc:
        raise OutputError(f"{name}: cannot write ({exc.strerror or exc})") from None


def _by_count(batches: Iterable[pa.RecordBatch], shards: int,
              total: int) -> Iterator[Iterator[pa.RecordBatch]]:
    """``shards`` lazy parts; part k holds records [k*total//shards, (k+1)*total//shards)."""
    source = iter(batches)
    carry: list[pa.RecordBatch] = []

    def part(want: int) -> Iterator[pa.RecordBatch]:
        while want > 0:
            batch = carry.pop() if carry else next(source, None)
            if batch is None:
                return
            if batch.num_rows > want:
                carry.append(batch.slice(want))
                batch = batch.slice(0, want)
            want -= batch.num_rows
            yield batch

    for k in range(shards):
        yield part((k + 1) * total // shards - k * total // shards)


def _by_size(batches: Iterable[pa.RecordBatch], limit: int, format: str,
             field: str | None) -> Iterator[Iterator[pa.RecordBatch]]:
    """Parts of about ``limit`` uncompressed bytes each, cut between records."""
    source = iter(batches)
    carry: list[pa.RecordBatch] = []
    first = next(source, None)
    if first is None:
        yield iter(())
        return
    carry.append(first)

    def part() -> Iterator[pa.RecordBatch]:
        room = limit
        while room > 0:
            batch = carry.pop() if carry else next(source, None)
            if batch is None:
                return
            sizes = np.cumsum(_record_sizes(batch, format, field))
            fits = int(np.searchsorted(sizes, room, side="left")) + 1
            if fits < batch.num_rows:
                carry.append(batch.slice(fits))
                batch = batch.slice(0, fits)
            room -= int(sizes[min(fits, len(sizes)) - 1])
            yield batch

    while carry:
        yield part()
        if not carry:
            nxt = next(source, None)
            if nxt is None:
                return
            carry.append(nxt)


def _record_sizes(batch: pa.RecordBatch, format: str, field: str | None) -> np.ndarray:
    if is_terminated(batch):
        values = batch.column(0)
        return np.diff(np.frombuffer(values.buffers()[1], dtype=np.int64, count=len(values) + 1,
                                     offset=values.offset * 8))
    if format == "text" or is_lines(batch):
        values = line_values(batch, field)
        offsets = np.frombuffer(values.buffers()[1], dtype=np.int64, count=len(values) + 1,
                                offset=values.offset * 8)
        return np.diff(offsets) + 1
    return np.full(batch.num_rows, max(batch.nbytes // max(batch.num_rows, 1), 1))


def _with_total(batches: Iterable[pa.RecordBatch], total_records: Callable[[], int | None] | None
                ) -> tuple[Iterator[pa.RecordBatch], int | None]:
    """The batches (first one peeked) and the record count announced upstream, if any."""
    if total_records is None:
        return iter(batches), None
    source = iter(batches)
    first = next(source, None)
    chained = itertools.chain([] if first is None else [first], source)
    return chained, total_records() if first is not None else 0


def _spool(batches: Iterable[pa.RecordBatch], path: str) -> tuple[Iterator[pa.RecordBatch], int]:
    """Every batch saved to disk (each with its own schema), their count, and a reader of them."""
    total = 0
    with open(path, "wb") as f:
        for batch in batches:
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, batch.schema) as stream:
                stream.write_batch(batch)
            data = sink.getvalue()
            f.write(struct.pack("<Q", data.size))
            f.write(data)
            total += batch.num_rows
    return _unspool(path), total


def _unspool(path: str) -> Iterator[pa.RecordBatch]:
    with open(path, "rb") as f:
        while header := f.read(8):
            data = f.read(struct.unpack("<Q", header)[0])
            yield from pa.ipc.open_stream(data)


class _Unclosable:
    """stdout for an encoder: flushed at the end, never closed."""

    def __init__(self, raw) -> None:
        self._raw = raw
        self.closed = False

    def write(self, data) -> int:
        return self._raw.write(data)

    def flush(self) -> None:
        self._raw.flush()

    def close(self) -> None:
        self._raw.flush()
        self.closed = True
