"""Read many files of text lines, JSON Lines or Parquet as one stream of record batches."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Callable, Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from corpuskit.errors import CorpusError, InputError, OnError, check_policy, handle
from corpuskit.io import jsonl
from corpuskit.io.lines import BLOCK_SIZE, count_lines, iter_blocks, line_offsets, lines_array, split_block
from corpuskit.io.paths import FileSpec, detect, expand, size_of
from corpuskit.io.streams import decompressing, open_raw, read_full
from corpuskit.records import TEXT, lines_batch, tag, terminated_batch
from corpuskit.stats import Counters

if TYPE_CHECKING:
    from corpuskit.pipeline import Pipeline

PARQUET_BATCH_ROWS = 65536
COPY_CHUNK = 1 << 20


@dataclass
class Source:
    """The files a pipeline reads, in order, and how to read them."""

    specs: list[FileSpec]
    field: str | None = None
    on_error: OnError = "raise"
    block_size: int = BLOCK_SIZE
    terminated: bool = False
    """Text lines keep their ``\\n`` (zero copy), for a writer that stores them as they are."""

    @property
    def paths(self) -> list[str]:
        return [s.path for s in self.specs]

    def total_bytes(self) -> int | None:
        """Bytes on disk of all inputs, or None when one is a stream."""
        sizes = [size_of(s.path) for s in self.specs]
        return None if any(s is None for s in sizes) else sum(sizes)

    def describe(self) -> list[dict]:
        """Each input with its format and size, for manifests."""
        return [{"path": s.path, "format": s.format, "compression": s.compression,
                 "bytes": size_of(s.path)} for s in self.specs]

    def batches(self, counters: Counters | None = None,
                on_bytes: Callable[[int], None] | None = None) -> Iterator[pa.RecordBatch]:
        """Every record of every file, file after file.

        ``counters`` count records and drops; ``on_bytes`` hears of bytes read from disk.
        """
        counters = counters if counters is not None else Counters("read")
        report = on_bytes or (lambda n: None)
        for spec in self.specs:
            if spec.format == "parquet":
                batches = _parquet_batches(spec, self.field, report)
            else:
                batches = self._line_batches(spec, report, counters)
            while True:
                started = time.perf_counter()
                batch = next(batches, None)
                counters.seconds += time.perf_counter() - started
                if batch is None:
                    break
                counters.records_out += batch.num_rows
                counters.records_in = counters.records_out + sum(counters.dropped.values())
                yield batch
        counters.records_in = counters.records_out + sum(counters.dropped.values())

    def text_chunks(self, counters: Counters, on_bytes: Callable[[int], None],
                    size: int = COPY_CHUNK) -> Iterator[tuple[memoryview, int]]:
        """(bytes, lines) of every text input as stored, each file ending with ``\\n``.

        For a byte-for-byte copy: one buffer is reused, so each chunk must be written
        before the next is asked for.
        """
        buffer = np.empty(size, dtype=np.uint8)
        view = memoryview(buffer)
        for spec in self.specs:
            raw = open_raw(spec)
            stream = decompressing(raw, spec)
            last, position = 10, 0
            try:
                while got := read_full(stream, view):
                    lines = int(np.count_nonzero(buffer[:got] == 10))
                    last = int(buffer[got - 1])
                    counters.records_out += lines
                    if not spec.is_stdio:
                        now = raw.tell()
                        on_bytes(now - position)
                        position = now
                    yield view[:got], lines
                if last != 10:
                    counters.records_out += 1
                    yield memoryview(b"\n"), 1
            finally:
                if not spec.is_stdio:
                    stream.close()
            counters.records_in = counters.records_out

    def _line_batches(self, spec: FileSpec, report: Callable[[int], None],
                      counters: Counters) -> Iterator[pa.RecordBatch]:
        raw = open_raw(spec)
        stream = decompressing(raw, spec)
        try:
            yield from self._blocks_to_batches(spec, raw, stream, report, counters)
        finally:
            if not spec.is_stdio:
                stream.close()

    def _blocks_to_batches(self, spec: FileSpec, raw: BinaryIO, stream: BinaryIO,
                           report: Callable[[int], None], counters: Counters) -> Iterator[pa.RecordBatch]:
        line = 1
        position = 0
        for block in iter_blocks(stream, self.block_size, terminate=self.terminated and spec.format == "text"):
            if spec.format == "jsonl":
                n_lines = count_lines(block)
                batch = self._jsonl_batch(block, spec.path, line, counters)
            elif self.terminated:
                lines = lines_array(block, line_offsets(block))
                n_lines = len(lines)
                batch = tag(terminated_batch(lines, self.field or TEXT), source=spec.path, line=line)
            else:
                lines = split_block(block)
                n_lines = len(lines)
                batch = lines_batch(lines, self.field or TEXT, spec.path, line)
            if not spec.is_stdio:
                now = raw.tell()
                report(now - position)
                position = now
            line += n_lines
            if batch is not None and batch.num_rows:
                yield batch

    def _jsonl_batch(self, block: bytearray, path: str, line: int,
                     counters: Counters) -> pa.RecordBatch | None:
        bad_lines: set[int] = set()

        def on_bad(error: InputError) -> None:
            handle(self.on_error, error)
            counters.drop("bad_json")
            bad_lines.add(error.line)

        table = jsonl.parse_block(block, path, line, on_bad)
        if table is None:
            return None
        batch = table.combine_chunks().to_batches()[0] if table.num_rows else None
        if batch is None:
            return None
        if self.field is not None:
            record_lines = [line + i for i, text in enumerate(bytes(block).split(b"\n"))
                            if text.strip() and line + i not in bad_lines]
            batch = self._require_field(batch, record_lines, path, counters)
        return tag(batch, field=self.field, source=path, line=line)

    def _require_field(self, batch: pa.RecordBatch, record_lines: list[int], path: str,
                       counters: Counters) -> pa.RecordBatch:
        """``batch`` without the records that lack the field; each one goes through the policy."""
        message = f"record has no field {self.field!r}"
        if self.field in batch.schema.names:
            keep = batch.column(self.field).is_valid()
        else:
            keep = pa.array([False] * batch.num_rows)
            message += f" (fields: {', '.join(batch.schema.names)})"
        if keep.false_count == 0:
            return batch
        for i in (~keep.to_numpy(zero_copy_only=False)).nonzero()[0].tolist():
            handle(self.on_error, InputError(message, path, record_lines[i]))
            counters.drop("missing_field")
        return batch.filter(keep)


def _parquet_batches(spec: FileSpec, field: str | None,
                     report: Callable[[int], None]) -> Iterator[pa.RecordBatch]:
    if spec.is_stdio:
        raise InputError("Parquet cannot be read from stdin; give a file", spec.path)
    try:
        parquet = pq.ParquetFile(spec.path)
    except FileNotFoundError:
        raise InputError("no such file", spec.path) from None
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"not a readable Parquet file ({exc})", spec.path) from None
    if field is not None and field not in parquet.schema_arrow.names:
        raise InputError(f"no field {field!r} (fields: {', '.join(parquet.schema_arrow.names)})", spec.path)
    size = size_of(spec.path) or 0
    rows = max(parquet.metadata.num_rows, 1)
    done = 0
    record = 1
    try:
        for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
            report(size * (done + batch.num_rows) // rows - size * done // rows)
            done += batch.num_rows
            yield tag(batch, field=field, source=spec.path, line=record)
            record += batch.num_rows
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"corrupt Parquet data near record {record} ({exc})", spec.path) from None


def read(paths: str | os.PathLike | Iterable[str | os.PathLike], format: str | None = None,
         field: str | None = None, compression: str | None = None, on_error: OnError = "raise",
         block_size: int = BLOCK_SIZE) -> "Pipeline":
    """A pipeline that reads ``paths`` (files, globs, folders or ``-``) as one stream.

    Formats and compressions come from the file names unless given. ``field``
    names the column that holds the text; for text lines it names the column.
    """
    from corpuskit.pipeline import Pipeline

    specs = [detect(p, format, compression) for p in expand(paths)]
    if sum(s.is_stdio for s in specs) > 1:
        raise CorpusError("stdin ('-') can be read only once")
    return Pipeline(Source(specs, field=field, on_error=check_policy(on_error), block_size=block_size))
