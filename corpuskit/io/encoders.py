"""One output file in one format: text lines, JSON Lines or Parquet, compressed by name."""

from __future__ import annotations

from typing import BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

from corpuskit.errors import InputError, OutputError
from corpuskit.io import jsonl
from corpuskit.io.lines import join_lines
from corpuskit.io.streams import compressing
from corpuskit.records import is_terminated, line_values, terminated_bytes, untagged
from corpuskit.threads import WriteBehind


_PARQUET_CODEC = {"zst": "zstd", "gz": "gzip"}


class HashingFile:
    """A binary file that counts and hashes (xxh64) every byte written to it."""

    def __init__(self, raw: BinaryIO, path: str) -> None:
        self.raw = raw
        self.path = path
        self.bytes = 0
        self._hash = xxhash.xxh64()

    def write(self, data) -> int:
        try:
            n = self.raw.write(data)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot write ({exc.strerror or exc})") from None
        self._hash.update(data)
        self.bytes += memoryview(data).nbytes
        return n

    def flush(self) -> None:
        self.raw.flush()

    def close(self) -> None:
        try:
            self.raw.close()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot write ({exc.strerror or exc})") from None

    @property
    def closed(self) -> bool:
        return self.raw.closed

    def tell(self) -> int:
        return self.bytes

    def writable(self) -> bool:
        return True

    def checksum(self) -> str:
        return self._hash.hexdigest()


class Encoder:
    """Writes batches to one file; ``close()`` finishes it. ``records`` and ``payload`` count what went in."""

    def __init__(self, file: HashingFile, format: str, compression: str | None, level: int | None,
                 threads: int, field: str | None) -> None:
        self.file = file
        self.format = format
        self.field = field
        self.records = 0
        self.payload = 0
        self._parquet: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None
        self._compression = compression
        self._level = level
        self._sink = None if format == "parquet" else compressing(file, compression, level, threads)
        self._stream = None if self._sink is None else WriteBehind(self._sink)

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            self._schema = self._schema or untagged(batch).schema
            return
        if is_terminated(batch) and self.format in ("text", "jsonl"):
            self._write_terminated(batch)
        elif self.format == "text":
            body = join_lines(line_values(batch, self.field))
            self._stream.write(body)
            self._stream.write(b"\n")
            self.payload += body.size + 1
        elif self.format == "jsonl":
            data = jsonl.encode(batch)
            self._stream.write(data)
            self.payload += len(data)
        else:
            self._write_parquet(untagged(batch))
        self.records += batch.num_rows

    def write_raw(self, data, records: int) -> None:
        """Bytes of whole records in the file's own format, written now (the caller may reuse ``data``)."""
        self._sink.write(data)
        self.payload += memoryview(data).nbytes
        self.records += records

    def _write_terminated(self, batch: pa.RecordBatch) -> None:
        data = terminated_bytes(batch.column(0))
        self._stream.write(data)
        self.payload += data.size

    def _write_parquet(self, batch: pa.RecordBatch) -> None:
        if self._parquet is None:
            self._open_parquet(batch.schema)
        elif not batch.schema.equals(self._parquet.schema):
            batch = conform(batch, self._parquet.schema)
        self._parquet.write_batch(batch)
        self.payload += batch.nbytes

    def _open_parquet(self, schema: pa.Schema) -> None:
        self._parquet = pq.ParquetWriter(self.file, schema,
                                         compression=_PARQUET_CODEC.get(self._compression, "zstd"),
                                         compression_level=self._level)

    def close(self) -> None:
        """Finishes the file: flushes the write thread, ends compression, closes.

        A Parquet file without records still gets a footer (and the schema, when known).
        """
        if self.format == "parquet" and self._parquet is None:
            self._open_parquet(self._schema or pa.schema([]))
        if self._parquet is not None:
            self._parquet.close()
        if self._stream is not None:
            self._stream.close()
            self._sink.close()
        if not self.file.closed:
            self.file.close()

    def abort(self) -> None:
        """Stops writing after a failure; the caller removes the file."""
        try:
            if self._stream is not None:
                self._stream.close()
        except BaseException:
            pass
        if self._parquet is not None:
            self._parquet.is_open = False
        self.file.raw.close()


def conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """``batch`` cast to ``schema``: missing fields become nulls, new fields are an error."""
    extra = [name for name in batch.schema.names if name not in schema.names]
    if extra:
        raise InputError(f"a record has fields {extra} that earlier records did not; a Parquet file "
                         "holds one schema (write JSONL, or give every record the same fields)")
    columns = []
    for f in schema:
        if f.name in batch.schema.names:
            column = batch.column(f.name)
            try:
                columns.append(column if column.type == f.type else column.cast(f.type))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise InputError(f"field {f.name!r} holds {column.type} here but {f.type} earlier; "
                                 "a Parquet file holds one type per field") from None
        else:
            columns.append(pa.nulls(batch.num_rows, f.type))
    return pa.RecordBatch.from_arrays(columns, schema=schema)
